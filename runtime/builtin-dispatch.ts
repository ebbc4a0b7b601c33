/**
 * The gateway process's side of builtins. Worker processes hold only isolates; every builtin call
 * except `ctx.redis` with `REDIS_URL` is forwarded here (`ForwardedCall` + builtin + op + args) and
 * served by the hosts of this process: the embedded Redis store, `ctx.sql`, `ctx.auth`,
 * `ctx.fetch`, `ctx.rpc` (`call` through the pool, `grpc` to declared services) and `ctx.config`.
 *
 * Each forwarded call is matched to a live invocation by its request id (`InvocationRegistry`):
 * the app must be the invocation's own (a worker can never name another app), the signal aborts
 * when the invocation ends (open SQL transactions roll back, fetches stop), and `ctx.rpc.call`
 * inherits the caller's deadline, user and trace.
 */
import { isPlatformError, runtimeError } from './errors.ts';
import { builtinError } from '../builtins/errors.ts';
import { CONFIG_NAME_PATTERN, isValidName } from '../control-plane/core/names.ts';
import type { ChangeEvent, FunctionConfig, RuntimeControlPlane } from '../control-plane/core/types.ts';
import type { BuiltinCall } from './sandbox/interface.ts';
import type { ForwardedCall } from './worker/protocol.ts';

/** A player identity as the gateway verified it (`ctx.user`). */
export interface InvocationUser {
  id: string;
  claims: Record<string, unknown>;
}

/** What the gateway knows of a running invocation, keyed by its request id. */
export interface InvocationContext {
  app: string;
  function: string;
  versionId: string;
  requestId: string;
  /** Epoch ms by which it must end. */
  deadline: number;
  user: InvocationUser | null;
  /** Function names from the outermost caller to this one, itself included (`ctx.rpc.call` chain; `[function]` for an HTTP request). */
  chain: readonly string[];
  /** W3C traceparent of its span ('' when not traced). */
  traceparent: string;
  /** Aborted when the invocation ends. */
  signal: AbortSignal;
}

/** Abort reason of an ended invocation's signal (preallocated: see `InvocationRegistry.begin`). */
const INVOCATION_ENDED = Object.freeze(Object.assign(new Error('the invocation ended'), { code: 'E_CTX_REVOKED' }));

/**
 * A registered invocation's context (frozen; `signal` made on first read). A class rather than a
 * frozen object literal with a getter: that literal (spread fields + accessor, then freeze) was
 * ~3 % of a worker's busy time per invocation in the benchmark's profiles.
 */
class LiveInvocation implements InvocationContext {
  readonly app: string;
  readonly function: string;
  readonly versionId: string;
  readonly requestId: string;
  readonly deadline: number;
  readonly user: InvocationUser | null;
  readonly chain: readonly string[];
  readonly traceparent: string;
  #abort: AbortController | null = null;
  #ended = false;

  constructor(context: Omit<InvocationContext, 'signal'>, requestId: string) {
    this.app = context.app;
    this.function = context.function;
    this.versionId = context.versionId;
    this.requestId = requestId;
    this.deadline = context.deadline;
    this.user = context.user;
    this.chain = context.chain;
    this.traceparent = context.traceparent;
    Object.freeze(this);
  }

  get signal(): AbortSignal {
    if (this.#abort === null) {
      this.#abort = new AbortController();
      if (this.#ended) this.#abort.abort(INVOCATION_ENDED);
    }
    return this.#abort.signal;
  }

  /** Abort the signal (if it was made) with the preallocated reason. */
  end(): void {
    this.#ended = true;
    this.#abort?.abort(INVOCATION_ENDED);
  }
}

/** Live invocations of this gateway process. */
export class InvocationRegistry {
  readonly #live = new Map<string, { context: InvocationContext; token: object }>();

  /**
   * Register an invocation until `end()` is called (which aborts its signal). A request id that
   * is already live gets `#2`, `#3`… appended so two clients sending the same `x-request-id`
   * never share builtin state. The signal's AbortController is made when a builtin first reads
   * `signal` (most invocations never do), and is aborted with a preallocated reason: an
   * AbortController per invocation, and the DOMException `abort()` builds without a reason, were
   * ~8 % of the gateway's busy time in the benchmark's profiles.
   * @returns the registered context (with its final request id) and `end`
   */
  begin(context: Omit<InvocationContext, 'signal'>): { context: InvocationContext; end: () => void } {
    let requestId = context.requestId;
    for (let n = 2; this.#live.has(requestId); n++) requestId = `${context.requestId}#${n}`;
    const full = new LiveInvocation(context, requestId);
    const token = {};
    this.#live.set(requestId, { context: full, token });
    return {
      context: full,
      end: () => {
        if (this.#live.get(requestId)?.token === token) this.#live.delete(requestId);
        full.end();
      },
    };
  }

  /** The live invocation with that request id, or undefined. */
  get(requestId: string): InvocationContext | undefined {
    return this.#live.get(requestId)?.context;
  }

  /** Invocations live now. */
  get size(): number {
    return this.#live.size;
  }
}

/** A builtin host as the helpers build them: `execute(call, op, args)`. */
export interface BuiltinExecutor {
  execute(call: BuiltinCall, op: string, args: unknown[]): Promise<unknown>;
}

/** Calls a function of the same app for `ctx.rpc.call`, inside the caller's deadline; `chain` is the callee's (caller's chain + `fn`, already checked). */
export type RpcInvoke = (caller: InvocationContext, fn: string, alias: string, payload: unknown, chain: readonly string[]) => Promise<unknown>;

/** What the dispatcher serves; absent hosts answer E_INTERNAL naming the missing builtin. */
export interface BuiltinServices {
  /** Embedded Redis (`(app, command, args)`), or null when workers talk to Redis directly. */
  redis: ((app: string, command: string, args: readonly unknown[]) => Promise<unknown>) | null;
  sql?: BuiltinExecutor;
  auth?: BuiltinExecutor;
  fetch?: BuiltinExecutor;
  grpc?: BuiltinExecutor;
  rpc?: RpcInvoke;
  /** Config and secrets of a function (cached by `ConfigCache`). */
  config?: ConfigCache;
}

/** `ctx.rpc.call` chains deeper than this are refused. */
export const MAX_RPC_DEPTH = 8;
/** Largest `ctx.rpc.call` payload, as JSON, in bytes. */
export const MAX_RPC_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Function config and secrets, cached per function and dropped on `config` change events.
 * Also redacts a function's secret values from text it produced (log lines, error messages).
 */
export class ConfigCache {
  readonly #source: Pick<RuntimeControlPlane, 'getFunctionConfig'>;
  readonly #cache = new Map<string, Promise<FunctionConfig>>();
  /** Secret values (4 characters or longer) of the functions whose config has loaded, for `redact`. */
  readonly #secrets = new Map<string, string[]>();

  /** @param source where config comes from (the control plane or its gRPC client) */
  constructor(source: Pick<RuntimeControlPlane, 'getFunctionConfig'>) {
    this.#source = source;
  }

  /** Load (once) the config of `app/fn`. @throws PlatformError E_CONFIG_UNAVAILABLE when the control plane fails */
  get(app: string, fn: string): Promise<FunctionConfig> {
    const key = `${app}/${fn}`;
    let entry = this.#cache.get(key);
    if (entry === undefined) {
      const loading = this.#source.getFunctionConfig(app, fn).then((config) => {
        if (this.#cache.get(key) === loading) this.#secrets.set(key, Object.values(config.secrets).filter((v) => v.length >= 4));
        return config;
      }, (error: unknown) => {
        this.#cache.delete(key);
        throw isPlatformError(error) && error.code === 'E_CONTROL_PLANE_UNAVAILABLE'
          ? builtinError('E_CONFIG_UNAVAILABLE', `the config of ${key} could not be loaded: ${error.message}`)
          : builtinError('E_CONFIG_UNAVAILABLE', `the config of ${key} could not be loaded; retry later`);
      });
      entry = loading;
      this.#cache.set(key, entry);
    }
    return entry;
  }

  /** Apply a change event (drop the function's cached config). */
  onChange(event: ChangeEvent): void {
    if (event.kind !== 'config') return;
    this.#cache.delete(`${event.app}/${event.function}`);
    this.#secrets.delete(`${event.app}/${event.function}`);
  }

  /**
   * `text` with every secret value of `app/fn` (4 characters or longer) replaced by `[secret]`.
   * Synchronous (it runs for every log line): only secrets already loaded are known, and a
   * function that never read a secret cannot print one.
   */
  redact(app: string, fn: string, text: string): string {
    const secrets = this.#secrets.get(`${app}/${fn}`);
    if (secrets === undefined) return text;
    let out = text;
    for (const value of secrets) if (out.includes(value)) out = out.split(value).join('[secret]');
    return out;
  }
}

/**
 * Build the dispatcher the supervisor calls for forwarded builtin calls.
 * @returns `(call, builtin, op, args) => Promise<value>`; rejects with coded errors:
 *   E_CTX_REVOKED (the invocation already ended or the app does not match it), the builtins'
 *   own codes, E_INTERNAL for a builtin this process does not serve
 */
export function createBuiltinDispatcher(services: BuiltinServices, registry: InvocationRegistry): (call: ForwardedCall, builtin: string, op: string, args: unknown[]) => Promise<unknown> {
  return async (forwarded, builtin, op, args) => {
    const invocation = registry.get(forwarded.requestId);
    if (invocation === undefined || invocation.app !== forwarded.app || invocation.function !== forwarded.function) {
      throw runtimeError('E_CTX_REVOKED', `ctx.${builtin}.${op} was called after its invocation ended; the call did nothing.`);
    }
    const call: BuiltinCall = {
      app: invocation.app, function: invocation.function, versionId: invocation.versionId,
      requestId: invocation.requestId, deadline: invocation.deadline, signal: invocation.signal,
    };
    switch (builtin) {
      case 'redis':
        if (services.redis === null) break;
        return services.redis(invocation.app, op, args);
      case 'sql':
        return need(services.sql, 'sql').execute(call, op, args);
      case 'auth':
        return need(services.auth, 'auth').execute(call, op, args);
      case 'grpc':
        return need(services.grpc, 'grpc').execute(call, op, args);
      case 'fetch':
        return need(services.fetch, 'fetch').execute(call, op, withTraceparent(args, invocation.traceparent));
      case 'rpc':
        return rpcCall(need(services.rpc, 'rpc'), invocation, op, args);
      case 'config':
        return serveConfig(need(services.config, 'config'), invocation, op, args);
    }
    throw runtimeError('E_INTERNAL', `builtin ${builtin} is not served by this process`);
  };
}

function need<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw runtimeError('E_INTERNAL', `ctx.${name} is not configured in this process`);
  return value;
}

/** Add the invocation's traceparent to a fetch's headers unless the function set one. */
function withTraceparent(args: unknown[], traceparent: string): unknown[] {
  if (traceparent === '') return args;
  const [url, given0] = args;
  // An omitted init crosses the isolate boundary as JSON null.
  const init = given0 === null ? undefined : given0;
  if (init !== undefined && typeof init !== 'object') return args;
  const given = (init as { headers?: unknown } | undefined)?.headers;
  if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) return args;
  const headers = { ...(given as Record<string, unknown> | undefined) };
  if (Object.keys(headers).some((h) => h.toLowerCase() === 'traceparent')) return args;
  headers.traceparent = traceparent;
  return [url, { ...(init as object | undefined), headers }, ...args.slice(2)];
}

async function rpcCall(invoke: RpcInvoke, caller: InvocationContext, op: string, args: unknown[]): Promise<unknown> {
  if (op !== 'call') throw builtinError('E_RPC_BAD_ARGUMENTS', `ctx.rpc has no operation ${op}; use ctx.rpc.call(name, payload) or ctx.rpc.grpc(service, method, message)`);
  const [target, payload] = args;
  if (typeof target !== 'string') throw builtinError('E_RPC_BAD_ARGUMENTS', 'ctx.rpc.call: the first argument must be a function name of this app, e.g. "live-stream" or "live-stream@staging"');
  const [fn, alias = 'prod', extra] = target.split('@');
  if (extra !== undefined || !isValidName(fn) || !isValidName(alias)) {
    throw builtinError('E_RPC_BAD_ARGUMENTS', `ctx.rpc.call: ${JSON.stringify(target.slice(0, 80))} is not a function name (lower-case letters, digits and '-', optionally @alias)`);
  }
  const size = Buffer.byteLength(JSON.stringify(payload ?? null), 'utf8');
  if (size > MAX_RPC_PAYLOAD_BYTES) throw builtinError('E_RPC_BAD_ARGUMENTS', `ctx.rpc.call: the payload is ${size} bytes as JSON; the limit is ${MAX_RPC_PAYLOAD_BYTES}`);
  const chain = [...caller.chain, fn as string];
  // The chain holds the caller itself, so A → A is a cycle too.
  if (caller.chain.includes(fn as string)) throw builtinError('E_RPC_CYCLE', `ctx.rpc.call would make a cycle: ${chain.join(' → ')}`, { chain });
  if (chain.length > MAX_RPC_DEPTH) throw builtinError('E_RPC_DEPTH', `ctx.rpc.call chains are limited to ${MAX_RPC_DEPTH} functions: ${chain.join(' → ')}`, { chain });
  return invoke(caller, fn as string, alias, payload ?? null, chain);
}

/**
 * Serve one `ctx.config` call of an invocation of `invocation.app/function` from `cache`.
 * @throws E_CONFIG_BAD_ARGUMENTS for an unknown operation or a malformed name, E_CONFIG_UNAVAILABLE
 */
export async function serveConfig(cache: ConfigCache, invocation: Pick<InvocationContext, 'app' | 'function'>, op: string, args: unknown[]): Promise<unknown> {
  if (op !== 'get' && op !== 'secret' && op !== 'all') throw builtinError('E_CONFIG_BAD_ARGUMENTS', `ctx.config has no operation ${op}; use get(name), secret(name) or all()`);
  const config = await cache.get(invocation.app, invocation.function);
  if (op === 'all') return { ...config.values };
  const [name] = args;
  if (typeof name !== 'string' || !CONFIG_NAME_PATTERN.test(name)) {
    throw builtinError('E_CONFIG_BAD_ARGUMENTS', `ctx.config.${op}: ${JSON.stringify(typeof name === 'string' ? name.slice(0, 80) : name)} is not a config name (letters, digits and _, a letter or _ first, up to 63 characters)`);
  }
  const value = op === 'get' ? config.values[name] : config.secrets[name];
  return value ?? null;
}
