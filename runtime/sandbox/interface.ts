/**
 * The sandbox interface: create (cold start), invoke, dispose. `isolate-sandbox.ts` implements it
 * with isolated-vm; the pool (`runtime/pool/`) and the worker only see this interface.
 */
import type { FunctionLimits } from '../../control-plane/core/types.ts';

/** What a sandbox is created from: one immutable version of one function of one app. */
export interface VersionSpec {
  /** `${app}/${function}@${versionId}`: the pool key; never shared between apps. */
  key: string;
  app: string;
  function: string;
  versionId: string;
  code: string;
  limits: FunctionLimits;
}

/**
 * The request as it travels to the isolate (size-checked by the gateway). The function sees it as
 * `req` with `body` parsed: JSON when `bodyIsJson`, else the text. The body stays text on the way
 * so the host never re-serialises a client's JSON (a deeply nested body cannot overflow a host
 * stack), and parsing is CPU the function is charged for.
 */
export interface FunctionRequest {
  method: string;
  /** Path after `/fn/{app}/{function}`, always starting with `/`. */
  path: string;
  query: Record<string, string | string[]>;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** The body as UTF-8 text; null when empty. */
  body: string | null;
  /** True for `application/json` and `+json` bodies: the isolate parses them (400 E_BAD_REQUEST when they do not parse). */
  bodyIsJson: boolean;
}

/** Per-invocation values the function sees on `ctx`. */
export interface InvocationMeta {
  app: string;
  function: string;
  version: string;
  alias: string;
  requestId: string;
  /** Epoch ms by which the invocation should end (gateway arrival + wall limit). The watchdog times
   * the wall limit from dispatch into the isolate, so after a cold start the real stop comes later. */
  deadline: number;
  /** The player the gateway verified (`ctx.user`), or null/absent. */
  user?: { id: string; claims: Record<string, unknown> } | null;
}

/** A captured `ctx.log` line before it is stamped with app/function/version. */
export interface CapturedLog {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  /** Epoch ms. */
  time: number;
}

/** One builtin call of an invocation: which, how long (ms), and the error code when it failed. */
export interface BuiltinCallSample {
  builtin: string;
  op: string;
  /** Epoch ms (fractional) when the host received the call. */
  startedAt: number;
  ms: number;
  code?: string;
}

/** One `ctx.metrics` sample, validated by the host (see runtime/sandbox/marshal.ts for the rules). */
export interface UserMetricSample {
  kind: 'counter' | 'gauge' | 'histogram';
  /** `[a-z][a-z0-9_]{0,62}`; exported as `faas_app_<name>` with the app as a label. */
  name: string;
  value: number;
  labels: Record<string, string>;
}

/** A successful invocation result: what the gateway sends. */
export interface InvocationOk {
  ok: true;
  status: number;
  headers: Record<string, string>;
  /** Body text, or base64 when `encoding` is `base64`; null for no body. */
  body: string | null;
  encoding: 'json' | 'text' | 'base64' | 'none';
  /** CPU time the isolate spent during this invocation, in ms (approximate when invocations overlap). */
  cpuTimeMs: number;
  logs: CapturedLog[];
  /** Builtin calls made (at most 256 are kept). */
  builtins: BuiltinCallSample[];
  /** `ctx.metrics` samples of the invocation. */
  metrics: UserMetricSample[];
}

/** A failed invocation: a catalog error body plus the captured logs. */
export interface InvocationFailed {
  ok: false;
  status: number;
  error: { code: string; message: string; [detail: string]: unknown };
  cpuTimeMs: number;
  logs: CapturedLog[];
  builtins: BuiltinCallSample[];
  metrics: UserMetricSample[];
}

export type InvocationResult = InvocationOk | InvocationFailed;

/** Context handed to a builtin's host side for one call. */
export interface BuiltinCall {
  app: string;
  function: string;
  versionId: string;
  requestId: string;
  /** Epoch ms by which the invocation must end: builtins cap their own timeouts by it. */
  deadline: number;
  /** Aborted when the invocation ends or is killed; builtins should stop waiting. */
  signal: AbortSignal;
}

/**
 * The host side of builtins, as the sandbox sees it: one async entry point. Implementations must
 * resolve with plain JSON data, and reject with errors carrying a `code` (their message reaches the
 * function; their stack never does).
 */
export interface BuiltinHost {
  /** Names of the `ctx.redis` methods to expose (lower-case command names). */
  readonly redisCommands: readonly string[];
  call(call: BuiltinCall, builtin: string, op: string, args: unknown[]): Promise<unknown>;
}

/** One warm isolate holding one version. */
export interface Sandbox {
  readonly spec: VersionSpec;
  /** Invocations running now (interleaved at awaits). */
  readonly inFlight: number;
  /** True once the sandbox hit a limit or was disposed: never hand it out again. */
  readonly poisoned: boolean;
  /** Invocations served so far. */
  readonly invocations: number;
  /**
   * Times the sandbox entered the isolate to start handlers: invocations queued in the same
   * event-loop turn start together, so under load this grows slower than `invocations`.
   */
  readonly entries: number;
  /** Run one invocation. Never rejects: failures come back as `InvocationFailed`. */
  invoke(request: FunctionRequest, meta: InvocationMeta): Promise<InvocationResult>;
  /** Heap in use, in bytes, as last sampled; `refresh` (default true) starts a new sample in the background (V8 heap statistics are read asynchronously, so a value may be one sample old). */
  heapUsedBytes(refresh?: boolean): number;
  /** Dispose the isolate; in-flight invocations fail with `bystanders` (default E_INTERNAL). Idempotent. */
  dispose(reason?: string, bystanders?: import('../errors.ts').PlatformError): void;
}

/**
 * An isolate made ready ahead of need — context created and hardened, `faas` module loaded — that
 * a cold start can take instead of building its own (see `prepared-isolate.ts`). It has never run
 * user code, and the cold start it is handed to consumes it whether it succeeds or fails.
 */
export interface SpareIsolate {
  /** The isolate's V8 heap limit in MiB, fixed when it was created: it only serves versions with this `memoryLimitMiB`. */
  readonly memoryLimitMiB: number;
  /** True while it is ready and unclaimed. */
  readonly available: boolean;
  /** Dispose the isolate (a spare nobody took). Idempotent. */
  dispose(): void;
}

/** How a pool makes sandboxes: a cold start, and optionally spares for cold starts to take. */
export interface SandboxProvider {
  /**
   * Cold-start a sandbox for `spec`. With `spare` (whose `memoryLimitMiB` must equal
   * `spec.limits.memoryLimitMiB`) only the version's own part of the cold start runs; the spare is
   * consumed (used, or disposed when the cold start fails).
   * @throws PlatformError when the version cannot load (E_FUNCTION_ERROR, E_TIMEOUT, E_MEMORY);
   *   TypeError when `spare` does not fit or is not one of this provider's.
   */
  create(spec: VersionSpec, spare?: SpareIsolate | null): Promise<Sandbox>;
  /**
   * Prepare a spare with a `memoryLimitMiB` heap limit, off the request path. Absent: the pool keeps no spare.
   * @throws on a platform fault (the pool logs it and retries with backoff).
   */
  prepareSpare?(memoryLimitMiB: number, pace?: SparePace): Promise<SpareIsolate>;
}

/**
 * How a spare's preparation paces itself; the pool may change it while the preparation runs.
 * Unhurried (the default), it yields to the event loop between steps and warms the dispatch path
 * up; hurried (a cold start is waiting for it), it runs its remaining steps at once and skips the
 * warm-up (compiling that path now would cost the waiting request what its first invocation saves).
 */
export interface SparePace {
  hurried: boolean;
}
