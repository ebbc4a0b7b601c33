/**
 * The control plane's storage, behind one interface with two implementations:
 * `sqlite.ts` (node:sqlite, the embedded default under `$FAAS_DATA_DIR`) and `mysql.ts`
 * (mysql2, `MYSQL_URL`). Both run the same migrations from `migrations/` and the same
 * contract tests (`store.test.ts`).
 *
 * Every method that writes more than one row runs in one transaction: on any error nothing is
 * written. Methods throw `PlatformError`s from `control-plane/errors.ts` for expected failures
 * (not found, conflict) and let unexpected driver errors through.
 */
import type { AppInfo, AuthMode, CanarySplit, FunctionInfo, FunctionLimits, LogLine, VersionInfo, VersionWithCode } from '../core/types.ts';

/** Input of `Store.deploy`. Names are validated by the core before they reach the store. */
export interface DeployInput {
  app: string;
  function: string;
  /** Content hash computed by the core (see `core/versions.ts`). */
  versionId: string;
  code: string;
  message: string;
  author: string;
  limits: FunctionLimits;
  /** Alias to move to the version (its canary, if any, is cleared). */
  alias: string;
  auth: AuthMode;
  /** Recorded in the same transaction; `before`/`after` are filled by the store. */
  audit: AuditInput;
}

/**
 * One audit record to append, in the same transaction as the change it describes. Never holds a
 * secret value (the core passes names only).
 */
export interface AuditInput {
  /** Name of the API key (or `system`). */
  actor: string;
  /** e.g. `function.deploy`, `alias.set`, `secret.set`, `key.revoke`. */
  action: string;
  app: string | null;
  function: string | null;
  /** What was acted on within the app/function: an alias, a config name, a key id… */
  target: string | null;
  before?: unknown;
  after?: unknown;
}

/** A stored audit record, as read back (newest first). */
export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  app: string | null;
  function: string | null;
  target: string | null;
  before: unknown;
  after: unknown;
}

/** Where an alias points: its version and an optional canary split. */
export interface AliasRoute {
  versionId: string;
  canary: CanarySplit | null;
}

/** A config value or a secret (value encrypted by the core) of a function. */
export interface ConfigEntry {
  kind: 'value' | 'secret';
  name: string;
  value: string;
  updatedAt: string;
}

/** A stored token-signing key; `secret` is encrypted by the core. */
export interface StoredSigningKey {
  kid: string;
  secret: string;
  createdAt: string;
  retiredAt: string | null;
}

/** Result of `Store.deploy`. */
export interface StoreDeployResult {
  version: VersionInfo;
  previousVersionId: string | null;
  created: boolean;
}

/** A stored API key (only the SHA-256 hash of the secret is kept). */
export interface StoredApiKey {
  id: string;
  name: string;
  role: 'admin' | 'developer' | 'viewer';
  /** Apps a developer/viewer key may act on, or `'*'` for all (admin keys: always `'*'`). */
  apps: string[] | '*';
  hash: string;
  createdAt: string;
  revokedAt: string | null;
}

/** One move of an alias, oldest first in `aliasHistory`. */
export interface AliasMove {
  versionId: string;
  movedAt: string;
  actor: string;
}

/** A captured log line as stored: `id` increases in append order (the `after` cursor of reads). */
export type StoredLogLine = LogLine & { id: number };

/**
 * Bounds `Store.appendLogs` enforces in the same transaction as the insert (the rule of the
 * in-memory ring they replace): each app/function keeps its newest `ringSize` lines; an app over
 * `appMaxBytes` (lines counted by `logLineBytes` in `log-lines.ts`) loses the oldest lines of its
 * function holding the most lines, until it is within budget. Other apps are never touched.
 */
export interface LogBounds {
  /** Lines kept per app/function (1..1_000_000). */
  ringSize: number;
  /** Bytes kept per app across its functions (1..2^40). */
  appMaxBytes: number;
}

/** Filters of `Store.readLogs`; all optional but `limit`. */
export interface LogReadQuery {
  /** Most lines returned (a positive integer). */
  limit: number;
  /** Only lines with `time >= sinceMs` (epoch milliseconds). */
  sinceMs?: number;
  /**
   * Only lines with `id > afterId`, and then the *oldest* `limit` of them in append (id) order,
   * so a follower paging with the last id it saw neither skips nor repeats a line.
   */
  afterId?: number;
  /** Only lines of this invocation. */
  requestId?: string;
  /** Only lines of this level and above (`warn` keeps warn and error). */
  minLevel?: LogLine['level'];
}

/** Stored log volume of one app, as counted for its budget. */
export interface LogUsage {
  lines: number;
  /** Sum of `logLineBytes` over its lines. */
  bytes: number;
}

export interface Store {
  /** Which backend this is, for logs and `/readyz`. */
  readonly kind: 'sqlite' | 'mysql';
  /** Apply pending migrations (idempotent; safe to call on every start). */
  migrate(): Promise<void>;
  /** Close connections; idempotent. */
  close(): Promise<void>;
  /** Cheap liveness query for `/readyz`. */
  ping(): Promise<void>;

  listApps(): Promise<AppInfo[]>;
  getApp(name: string): Promise<AppInfo | null>;
  /** Create an app; returns the existing one when it already exists (idempotent). The audit record is written only when the app is new. */
  ensureApp(name: string, audit?: AuditInput): Promise<AppInfo>;

  listFunctions(app: string): Promise<FunctionInfo[]>;
  getFunction(app: string, name: string): Promise<FunctionInfo | null>;

  /**
   * In one transaction: create the app and function if missing, insert the version unless a
   * version with the same id exists for that function, move `alias` to it and append the move to
   * the alias history. Concurrent deploys to the same function serialize.
   */
  deploy(input: DeployInput): Promise<StoreDeployResult>;

  /** Versions of a function, newest first, without code. */
  listVersions(app: string, fn: string): Promise<VersionInfo[]>;
  getVersion(app: string, fn: string, versionId: string): Promise<VersionWithCode | null>;

  /** Current version id of an alias, or null. */
  getAlias(app: string, fn: string, alias: string): Promise<string | null>;
  /** Current route of an alias (version and canary), or null. */
  getAliasRoute(app: string, fn: string, alias: string): Promise<AliasRoute | null>;
  /**
   * Move an alias to an existing version with an optional canary (null clears it), record the
   * move and the audit entry (one transaction). Returns the previous route.
   * Throws CP `E_VERSION_NOT_FOUND` when the version or the canary version does not exist.
   */
  setAlias(app: string, fn: string, alias: string, route: AliasRoute, audit: AuditInput): Promise<AliasRoute | null>;
  /** Every move of an alias, oldest first. */
  aliasHistory(app: string, fn: string, alias: string): Promise<AliasMove[]>;

  createApiKey(key: StoredApiKey, audit?: AuditInput): Promise<void>;
  findApiKeyByHash(hash: string): Promise<StoredApiKey | null>;
  countApiKeys(): Promise<number>;
  /** Every key (revoked ones too), oldest first, without hashes' use in mind (hash kept for shape). */
  listApiKeys(): Promise<StoredApiKey[]>;
  /** Mark a key revoked (idempotent: a revoked key keeps its first revocation time); null when no such key. */
  revokeApiKey(id: string, audit: AuditInput): Promise<StoredApiKey | null>;

  /** Config values and secrets of a function, by kind then name. */
  listConfig(app: string, fn: string): Promise<ConfigEntry[]>;
  /** Insert or replace one entry and audit it (one transaction). */
  putConfig(app: string, fn: string, entry: Omit<ConfigEntry, 'updatedAt'>, audit: AuditInput): Promise<void>;
  /** Delete one entry and audit it; false (and no audit) when it did not exist. */
  deleteConfig(app: string, fn: string, kind: ConfigEntry['kind'], name: string, audit: AuditInput): Promise<boolean>;

  /** The app's builtin settings as stored JSON text, or null. */
  getAppSettings(app: string): Promise<string | null>;
  /** Replace the app's settings JSON and audit it (one transaction). */
  putAppSettings(app: string, settingsJson: string, audit: AuditInput): Promise<void>;

  /** Signing keys of an app, newest first. */
  listSigningKeys(app: string): Promise<StoredSigningKey[]>;
  /**
   * Add a signing key and set `retiredAt` on the listed kids (one transaction, audited when
   * `audit` is given). When `onlyIfNone` is true and the app already has a key, nothing is written
   * (concurrent first uses create one key).
   */
  addSigningKey(app: string, key: StoredSigningKey, opts: { retire?: { kid: string; at: string }[]; onlyIfNone?: boolean; audit?: AuditInput }): Promise<void>;

  /** Append an audit record on its own (for changes that are not store writes). */
  appendAudit(entry: AuditInput): Promise<void>;
  /** Audit records, newest first; `apps` null for every app (and platform-level records), else only those apps. */
  listAudit(query: { apps: string[] | null; limit: number; beforeId?: number }): Promise<AuditEntry[]>;

  /**
   * Append captured log lines in one transaction (multi-row inserts), then trim to `bounds` in the
   * same transaction. Appends to one app are serialised (SQLite: the write lock; MySQL: the app's
   * `log_app_usage` row), so within an app ids are committed in increasing order and an `afterId`
   * reader never misses a line that commits later with a smaller id.
   * @throws PlatformError E_VALIDATION naming `lines[i].field` for a malformed line (nothing is
   *   written); TypeError ERR_INVALID_ARG_VALUE for bad bounds; E_STORE_UNAVAILABLE when closed
   */
  appendLogs(lines: readonly LogLine[], bounds: LogBounds): Promise<void>;
  /**
   * Log lines of one function, through an index on (app, function, …). Without `afterId`: the
   * newest `limit` matches by (time, id), returned oldest first. With `afterId`: the oldest `limit`
   * matches after it, in id order. Equal times keep their append (id) order.
   * @throws PlatformError E_VALIDATION for a bad query (limit, sinceMs, afterId, minLevel)
   */
  readLogs(app: string, fn: string, query: LogReadQuery): Promise<StoredLogLine[]>;
  /** Lines and bytes an app holds, as counted for its budget (zeros when none). */
  logUsage(app: string): Promise<LogUsage>;
}
