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
import type { AppInfo, FunctionInfo, FunctionLimits, VersionInfo, VersionWithCode } from '../core/types.ts';

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
  /** Alias to move to the version. */
  alias: string;
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
  /** Create an app; returns the existing one when it already exists (idempotent). */
  ensureApp(name: string): Promise<AppInfo>;

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
  /**
   * Move an alias to an existing version and record the move (one transaction).
   * Returns the previous version id. Throws CP `E_VERSION_NOT_FOUND` when the version does not exist.
   */
  setAlias(app: string, fn: string, alias: string, versionId: string, actor: string): Promise<string | null>;
  /** Every move of an alias, oldest first. */
  aliasHistory(app: string, fn: string, alias: string): Promise<AliasMove[]>;

  createApiKey(key: StoredApiKey): Promise<void>;
  findApiKeyByHash(hash: string): Promise<StoredApiKey | null>;
  countApiKeys(): Promise<number>;
}
