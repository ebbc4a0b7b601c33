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
}

/** A version with its source, as the runtime fetches it. */
export interface VersionWithCode extends VersionInfo {
  code: string;
}

/** What the runtime needs to invoke `app/function@alias`. */
export interface ResolvedTarget {
  app: string;
  function: string;
  alias: string;
  versionId: string;
  limits: FunctionLimits;
}

/** The result of a deploy: the version (new or existing) and the alias that now points at it. */
export interface DeployResult {
  version: VersionInfo;
  alias: { name: string; versionId: string; previousVersionId: string | null };
  /** False when the identical code was already stored (the alias still moves). */
  created: boolean;
}

/** Roles of an API key. Only `admin` exists in the walking skeleton. */
export type Role = 'admin' | 'developer' | 'viewer';

/** Who is calling: derived from the API key, never from the request body. */
export interface Actor {
  keyId: string;
  name: string;
  role: Role;
}

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
}

/** Event published when an alias moves, so runtimes drop their cached resolution at once. */
export interface AliasMovedEvent {
  app: string;
  function: string;
  alias: string;
  versionId: string;
}

/** Result of a dry-run check of code (the same checks as deploy). */
export interface CheckReport {
  ok: boolean;
  diagnostics: import('../../runtime/check/types.ts').Diagnostic[];
}

/**
 * The control plane's operations. REST routes, the IPC bridge for runtime workers and (later)
 * gRPC all call this one interface; `createControlPlane()` in `control-plane/core/control-plane.ts`
 * implements it over a `Store`. Every method rejects with a `PlatformError` (codes from
 * `control-plane/errors.ts` or `runtime/errors.ts`) on expected failures.
 */
export interface ControlPlane {
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
  deploy(actor: Actor, input: { app: string; function: string; code: string; message?: string; alias?: string; limits?: Partial<FunctionLimits> }): Promise<DeployResult>;
  listVersions(actor: Actor, app: string, fn: string): Promise<VersionInfo[]>;
  /** Move an alias to an existing version. */
  setAlias(actor: Actor, app: string, fn: string, alias: string, versionId: string): Promise<{ name: string; versionId: string; previousVersionId: string | null }>;
  /** Move an alias back to the version it pointed at before its current one, or to `to`. */
  rollback(actor: Actor, app: string, fn: string, opts: { alias?: string; to?: string }): Promise<{ name: string; versionId: string; previousVersionId: string | null }>;
  /** Captured `ctx.log` lines of a function, oldest first. */
  readLogs(actor: Actor, app: string, fn: string, opts: { limit?: number; sinceMs?: number; requestId?: string }): Promise<LogLine[]>;

  // --- used by runtimes (trusted callers; no actor) ---
  /** Resolve `app/function@alias`; null when the app, function or alias does not exist. */
  resolve(app: string, fn: string, alias: string): Promise<ResolvedTarget | null>;
  /** Fetch a version's code; null when it does not exist. */
  getVersion(app: string, fn: string, versionId: string): Promise<VersionWithCode | null>;
  /** Append captured log lines (bounded ring per function). */
  appendLogs(lines: LogLine[]): Promise<void>;
  /** Subscribe to alias moves; returns an unsubscribe function. */
  onAliasMoved(listener: (event: AliasMovedEvent) => void): () => void;

  close(): Promise<void>;
}
