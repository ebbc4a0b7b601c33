/**
 * The control plane's domain shapes and the one interface every transport calls (REST routes,
 * the IPC bridge used by runtime workers, later gRPC). All values are plain JSON data so they can
 * cross process boundaries unchanged; times are ISO-8601 strings (UTC).
 */

/** Per-function limits; every field is defaulted by `defaultLimits()` in `control-plane/core/limits.ts`. */
export interface FunctionLimits {
  /** Isolate heap limit in MiB (isolated-vm `memoryLimit`, minimum 8). @default 128 */
  memoryLimitMiB: number;
  /** CPU time per invocation in ms, measured by the isolate's `cpuTime`. @default 200 */
  cpuTimeMs: number;
  /** Wall-clock time per invocation in ms, including awaited builtin calls. @default 5000 */
  wallTimeMs: number;
  /** Largest request body accepted, in bytes. @default 1_048_576 (1 MiB) */
  maxBodyBytes: number;
  /** Largest response body the function may return, in bytes. @default 6_291_456 (6 MiB) */
  maxResponseBytes: number;
}

/** An app (tenant): the unit of isolation for code and data. */
export interface AppInfo {
  name: string;
  createdAt: string;
}

/** A function of an app, with its aliases (alias name → version id). */
export interface FunctionInfo {
  app: string;
  name: string;
  createdAt: string;
  limits: FunctionLimits;
  aliases: Record<string, string>;
  /** Canary splits by alias (only aliases that have one). */
  canaries: Record<string, CanarySplit>;
}

/** An immutable version: `id` is a content hash of the code and limits, so the same upload twice is the same version. */
export interface VersionInfo {
  app: string;
  function: string;
  id: string;
  /** Code size in bytes (UTF-8). */
  size: number;
  message: string;
  /** Name of the API key that deployed it. */
  author: string;
  createdAt: string;
  limits: FunctionLimits;
  auth: AuthMode;
}

/** A version with its source, as the runtime fetches it. */
export interface VersionWithCode extends VersionInfo {
  code: string;
}

/**
 * Whether a function needs a signed-in player (`ctx.user`), declared in the manifest beside the
 * code (`function.json` → `"auth": "required"`) and stored with the version:
 * - `none` (default): tokens are verified when sent (a bad one is refused), `ctx.user` may be null;
 * - `required`: the gateway answers 401 E_AUTH_REQUIRED before any isolate runs unless a valid token is sent.
 */
export type AuthMode = 'none' | 'required';

/** One version an alias routes to, with what the gateway needs before the isolate runs. */
export interface RouteTarget {
  versionId: string;
  limits: FunctionLimits;
  auth: AuthMode;
}

/**
 * What the runtime needs to invoke `app/function@alias`. With a canary, `canary.weight` percent
 * (0–100, integer) of invocations go to `canary.versionId` and the rest to `versionId`.
 */
export interface ResolvedTarget extends RouteTarget {
  app: string;
  function: string;
  alias: string;
  canary: (RouteTarget & { weight: number }) | null;
}

/** A canary split on an alias: `weight` percent (integer 1–99) of traffic goes to `versionId`. */
export interface CanarySplit {
  versionId: string;
  weight: number;
}

/** Per-function configuration as the runtime sees it (secrets decrypted; never sent to API readers). */
export interface FunctionConfig {
  values: Record<string, string>;
  secrets: Record<string, string>;
}

/**
 * An external gRPC service an app may call with `ctx.rpc.grpc(name, method, message)`.
 * Set through the control plane's app settings; validated when set.
 */
export interface GrpcServiceConfig {
  /** Name the function uses, `^[a-z][a-z0-9-]{0,62}$`. */
  name: string;
  /** `host:port` of the server. */
  target: string;
  /** The `.proto` source text declaring the service. */
  proto: string;
  /** Fully-qualified service name in the proto, e.g. `game.Inventory`. */
  service: string;
  /** Methods that are safe to retry (with exponential backoff); others are tried once. */
  idempotentMethods: string[];
  /** Per-call deadline cap in ms (the invocation's remaining wall time caps it too). @default 2000 */
  deadlineMs?: number;
  /** Retries of idempotent methods on UNAVAILABLE / DEADLINE_EXCEEDED. @default 2 */
  maxRetries?: number;
  /** Use TLS with the system roots. @default false */
  tls?: boolean;
}

/** App-wide settings of the builtins. */
export interface AppSettings {
  /** Hosts `ctx.fetch` may reach: exact host names or `*.example.com` wildcards (one label or more). */
  fetchAllowlist: string[];
  grpcServices: GrpcServiceConfig[];
}

/**
 * An app's token-signing key (HS256, 32 random bytes). The newest non-retired key signs; every
 * non-retired key verifies, so rotation does not sign anyone out (the previous key stays valid
 * until retired, by default after the longest token lifetime).
 */
export interface SigningKey {
  kid: string;
  /** base64url of the 32-byte secret. */
  secret: string;
  createdAt: string;
  retiredAt: string | null;
}

/** A change the runtimes must see at once (pushed by `onChange`, streamed by gRPC `WatchDeploys`). */
export type ChangeEvent =
  | { kind: 'alias'; app: string; function: string; alias: string; versionId: string }
  | { kind: 'config'; app: string; function: string }
  | { kind: 'settings'; app: string }
  | { kind: 'keys'; app: string };

/** The result of a deploy: the version (new or existing) and the alias that now points at it. */
export interface DeployResult {
  version: VersionInfo;
  alias: { name: string; versionId: string; previousVersionId: string | null };
  /** False when the identical code was already stored (the alias still moves). */
  created: boolean;
}

/**
 * Roles of an API key: `admin` does everything (apps, keys, every app's functions); `developer`
 * reads and writes the functions, aliases, config, secrets and settings of its apps; `viewer`
 * reads its apps (never secret values, which nobody reads back).
 */
export type Role = 'admin' | 'developer' | 'viewer';

/** Who is calling: derived from the API key, never from the request body. */
export interface Actor {
  keyId: string;
  name: string;
  role: Role;
  /** Apps the key may act on (`'*'`: all). Always `'*'` for admins. */
  apps: string[] | '*';
}

/** An API key as the API shows it (never the secret or its hash). */
export interface ApiKeyInfo {
  id: string;
  name: string;
  role: Role;
  apps: string[] | '*';
  createdAt: string;
  revokedAt: string | null;
}

/** An alias after a move. */
export interface AliasState {
  name: string;
  versionId: string;
  previousVersionId: string | null;
  canary: CanarySplit | null;
}

/** A function's configuration as the API shows it: values, and secret names only. */
export interface ConfigView {
  values: Record<string, string>;
  secrets: { name: string; updatedAt: string }[];
}

/** One audit record (who, what, before, after, when). */
export type AuditRecord = import('../store/store.ts').AuditEntry;

/** One captured `ctx.log` line. */
export interface LogLine {
  app: string;
  function: string;
  versionId: string;
  requestId: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  /** Epoch milliseconds. */
  time: number;
  /** Trace id of the invocation when it was traced (joins logs to traces). */
  traceId?: string;
  /** Set on lines read back from the store: increases in append order; pass it as `after` to read only later lines. */
  id?: number;
}

/** Event published when an alias moves, so runtimes drop their cached resolution at once. */
export type AliasMovedEvent = Extract<ChangeEvent, { kind: 'alias' }>;

/** Result of a dry-run check of code (the same checks as deploy). */
export interface CheckReport {
  ok: boolean;
  diagnostics: import('../../runtime/check/types.ts').Diagnostic[];
}

/** Input of `ControlPlane.deploy`. Unset `limits` and `auth` keep the function's current ones. */
export interface DeployRequest {
  app: string;
  function: string;
  code: string;
  message?: string;
  alias?: string;
  limits?: Partial<FunctionLimits>;
  auth?: AuthMode;
}

/**
 * What a runtime (gateway + workers) needs from the control plane. Trusted callers: no actor.
 * In `faas all` the `ControlPlane` itself is passed; in `faas runtime` a gRPC client implements it
 * (`runtime/remote/`) with caches that keep serving while the control plane is down.
 */
export interface RuntimeControlPlane {
  /** Resolve `app/function@alias`; null when the app, function or alias does not exist. */
  resolve(app: string, fn: string, alias: string): Promise<ResolvedTarget | null>;
  /** Fetch a version's code; null when it does not exist. Versions are immutable (cache by id). */
  getVersion(app: string, fn: string, versionId: string): Promise<VersionWithCode | null>;
  /** Append captured log lines (kept in the store, bounded per function and per app). */
  appendLogs(lines: LogLine[]): Promise<void>;
  /** Config values and decrypted secrets of a function (empty when none are set). */
  getFunctionConfig(app: string, fn: string): Promise<FunctionConfig>;
  /** Builtin settings of an app (defaults when none are set). */
  getAppSettings(app: string): Promise<AppSettings>;
  /** The app's token-signing keys, newest first, creating the first one when the app has none. */
  getSigningKeys(app: string): Promise<SigningKey[]>;
  /** Subscribe to changes (alias moves, config, settings, keys); returns an unsubscribe function. */
  onChange(listener: (event: ChangeEvent) => void): () => void;
}

/**
 * The control plane's operations. REST routes, the IPC bridge for runtime workers and (later)
 * gRPC all call this one interface; `createControlPlane()` in `control-plane/core/control-plane.ts`
 * implements it over a `Store`. Every method rejects with a `PlatformError` (codes from
 * `control-plane/errors.ts` or `runtime/errors.ts`) on expected failures.
 */
export interface ControlPlane extends RuntimeControlPlane {
  /** Resolve a raw API key to its actor, or null when unknown or revoked. */
  authenticate(apiKey: string): Promise<Actor | null>;

  listApps(actor: Actor): Promise<AppInfo[]>;
  createApp(actor: Actor, name: string): Promise<AppInfo>;
  listFunctions(actor: Actor, app: string): Promise<FunctionInfo[]>;
  getFunction(actor: Actor, app: string, fn: string): Promise<FunctionInfo>;

  /** Run parse + check without storing anything. */
  check(code: string): Promise<CheckReport>;
  /**
   * Check, store a version (content hash) and move the alias (default `prod`), in one transaction.
   * Rejects with E_SYNTAX / E_CHECK / E_CODE_TOO_LARGE before anything is stored.
   */
  deploy(actor: Actor, input: DeployRequest): Promise<DeployResult>;
  listVersions(actor: Actor, app: string, fn: string): Promise<VersionInfo[]>;
  /** One version with its code (for diffs). @throws E_VERSION_NOT_FOUND */
  readVersion(actor: Actor, app: string, fn: string, versionId: string): Promise<VersionWithCode>;
  /** Move an alias to an existing version; `canary` sets (or with null clears) a weighted split. */
  setAlias(actor: Actor, app: string, fn: string, alias: string, versionId: string, opts?: { canary?: CanarySplit | null }): Promise<AliasState>;
  /** Move an alias back to the version it pointed at before its current one, or to `to`; clears its canary. */
  rollback(actor: Actor, app: string, fn: string, opts: { alias?: string; to?: string }): Promise<AliasState>;
  /**
   * Captured `ctx.log` lines of a function (each with its store `id`). Without `afterId`: the newest
   * `limit` matches, oldest first by (time, id). With `afterId`: the oldest `limit` matches with a
   * larger id, in append order (the cursor of `faas logs --follow`).
   */
  readLogs(actor: Actor, app: string, fn: string, opts: { limit?: number; sinceMs?: number; afterId?: number; requestId?: string; level?: LogLine['level'] }): Promise<LogLine[]>;

  readConfig(actor: Actor, app: string, fn: string): Promise<ConfigView>;
  setConfig(actor: Actor, app: string, fn: string, kind: 'value' | 'secret', name: string, value: string): Promise<void>;
  /** @throws E_CONFIG_NOT_FOUND when the name is not set */
  unsetConfig(actor: Actor, app: string, fn: string, kind: 'value' | 'secret', name: string): Promise<void>;
  readAppSettings(actor: Actor, app: string): Promise<AppSettings>;
  updateAppSettings(actor: Actor, app: string, patch: Partial<AppSettings>): Promise<AppSettings>;
  /** New signing key for the app's player tokens; the previous newest key keeps verifying, older ones are retired. */
  rotateSigningKey(actor: Actor, app: string): Promise<{ kid: string }>;

  listKeys(actor: Actor): Promise<ApiKeyInfo[]>;
  /** Create a key; the raw secret is returned once. */
  createKey(actor: Actor, input: { name: string; role: Role; apps?: string[] | '*' }): Promise<{ key: ApiKeyInfo; secret: string }>;
  revokeKey(actor: Actor, id: string): Promise<ApiKeyInfo>;
  /** Audit records newest first; non-admins see only their apps' records. */
  listAudit(actor: Actor, query: { app?: string; limit?: number; beforeId?: number }): Promise<AuditRecord[]>;

  close(): Promise<void>;
}
