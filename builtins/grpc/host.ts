/**
 * Host side of `ctx.rpc.grpc`. The isolate turns `await ctx.rpc.grpc('inventory', 'GetItem', { id: 1 })`
 * into one host call `(builtin 'grpc', op 'call', args [service, method, message, opts?])`; this
 * module finds the service in the calling app's settings, checks and encodes the message with the
 * service's proto, and makes a unary call with @grpc/grpc-js: deadline capped by the invocation,
 * cancelled when the invocation ends, retried with backoff for idempotent methods, behind a
 * circuit breaker (opossum) per app and target. The reply is the response message as plain JSON.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import type { GrpcServiceConfig } from '../../control-plane/core/types.ts';
import { isPlatformError, runtimeError, type PlatformError } from '../../runtime/errors.ts';
import type { BuiltinCall } from '../../runtime/sandbox/interface.ts';
import { builtinError } from '../errors.ts';
import { parseAllowlist, pinTarget, type Cidr, type PinnedTarget } from './address.ts';
import { createTargetBreaker, type TargetBreaker } from './breaker.ts';
import { badArgs, describeValue, parseCallOptions, type CallOptions } from './call-options.ts';
import { GrpcConfigError, resolveService, type ResolvedService } from './config.ts';
import { convertMessage } from './message.ts';
import type { MethodShape } from './proto.ts';
import { isServiceError, isLocalSizeLimit, RETRYABLE, toCallError } from './status.ts';

/** Settings of `createGrpcHost`; every field has a default. Validated once, frozen. */
export interface GrpcHostOptions {
  /** Failed calls, in percent of the calls in the rolling window, above which a breaker opens. @default 50 */
  breakerErrorThresholdPercentage?: number;
  /** Calls in the rolling window before a breaker may open at all. @default 5 */
  breakerVolumeThreshold?: number;
  /** How long an open breaker fails calls at once before letting one trial call through (half-open), ms. @default 10000 */
  breakerResetTimeoutMs?: number;
  /** Window of a breaker's failure statistics, ms. @default 10000 */
  breakerRollingWindowMs?: number;
  /** Delay before the first retry, ms; doubles per retry, then jittered to 50–100 %. @default 50 */
  retryBaseDelayMs?: number;
  /** Longest delay between two attempts, ms. @default 1000 */
  retryMaxDelayMs?: number;
  /** Largest encoded request and response, bytes (gRPC's own default receive limit). @default 4194304 (4 MiB) */
  maxMessageBytes?: number;
  /** Longest wait between a channel's reconnection attempts after a target went down, ms. @default 5000 */
  maxReconnectBackoffMs?: number;
  /** Re-resolve a target's host name (and re-check its addresses) after this long, ms. @default 60000 */
  dnsRefreshMs?: number;
  /** Non-public networks (CIDRs) targets may resolve to; all other non-public addresses are refused. @default [] */
  privateNetworkAllowlist?: readonly string[];
}

/** `GrpcHostOptions` after defaults, with the allowlist parsed; frozen. */
export type ResolvedGrpcHostOptions = Readonly<Required<Omit<GrpcHostOptions, 'privateNetworkAllowlist'>>> & {
  readonly privateNetworkAllowlist: readonly string[];
};

/** What `createGrpcHost` needs. */
export interface GrpcHostDeps {
  /** The app's declared services (its `AppSettings.grpcServices`); cached until `invalidate(app)`. */
  servicesFor: (app: string) => Promise<GrpcServiceConfig[]>;
  options?: GrpcHostOptions;
}

/** The gRPC builtin for one process; the app comes with every call. */
export interface GrpcHost {
  /**
   * Run one `ctx.rpc.grpc` host call.
   * @param call the invocation's context (app, deadline in epoch ms, abort signal)
   * @param op `call` (the only op)
   * @param args `[service, method, message?, opts?]`: the declared service name, the method name as
   *   in the proto, the request as JSON (default `{}`), and `{ deadlineMs?, metadata? }`
   * @returns the response message as plain JSON (see README "Conversions")
   * @throws PlatformError E_GRPC_UNKNOWN_SERVICE, E_GRPC_UNKNOWN_METHOD, E_GRPC_BAD_ARGUMENTS,
   *   E_GRPC_TARGET_REFUSED, E_GRPC_UNAVAILABLE (target down, or its circuit open), E_GRPC_DEADLINE,
   *   E_GRPC_STATUS (a non-OK status from the server), E_CTX_REVOKED (the invocation ended first),
   *   E_INTERNAL (unknown op, settings unreadable)
   */
  execute(call: BuiltinCall, op: string, args: readonly unknown[]): Promise<unknown>;
  /**
   * Forget the app's services and clients (call when its settings change); the next call reads
   * them again. Calls in flight finish on their old clients. Breakers are kept for targets the new
   * settings still declare and shut down for the others.
   */
  invalidate(app: string): void;
  /** Refuse new calls, close every client once its calls finish; resolves then. Idempotent. */
  close(): Promise<void>;
  readonly options: ResolvedGrpcHostOptions;
}

const DEFAULTS = Object.freeze({
  breakerErrorThresholdPercentage: 50,
  breakerVolumeThreshold: 5,
  breakerResetTimeoutMs: 10_000,
  breakerRollingWindowMs: 10_000,
  retryBaseDelayMs: 50,
  retryMaxDelayMs: 1000,
  maxMessageBytes: 4 * 1024 * 1024,
  maxReconnectBackoffMs: 5000,
  dnsRefreshMs: 60_000,
});

function resolveOptions(opts: GrpcHostOptions): { options: ResolvedGrpcHostOptions; allow: readonly Cidr[] } {
  const resolved: Record<string, unknown> = { ...DEFAULTS };
  for (const name of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const value = opts[name];
    if (value === undefined) continue;
    const max = name === 'breakerErrorThresholdPercentage' ? 100 : Number.MAX_SAFE_INTEGER;
    const min = name === 'breakerVolumeThreshold' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < min || value > max) throw new TypeError(`createGrpcHost: ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
    resolved[name] = value;
  }
  const list = opts.privateNetworkAllowlist ?? [];
  if (!Array.isArray(list)) throw new TypeError('createGrpcHost: privateNetworkAllowlist must be an array of CIDRs');
  const allow = parseAllowlist(list);
  resolved.privateNetworkAllowlist = Object.freeze([...list]);
  return { options: Object.freeze(resolved) as ResolvedGrpcHostOptions, allow };
}

/** One grpc-js client (channel) of one (app, service), on checked addresses. */
interface Channel {
  client: Client;
  pinned: PinnedTarget;
  resolvedAt: number;
  /** Calls using this channel now; a retired channel closes when it reaches 0. */
  inFlight: number;
  retired: boolean;
}

interface ServiceEntry {
  spec: ResolvedService;
  channel: Channel;
  refreshing: Promise<void> | null;
}

interface AppState {
  services: ReadonlyMap<string, GrpcServiceConfig>;
  entries: Map<string, Promise<ServiceEntry>>;
  retired: boolean;
}

/** Equal jitter: the doubled delay, capped, then a random point in its upper half. */
function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const full = Math.min(maxMs, baseMs * 2 ** attempt);
  return full / 2 + Math.random() * (full / 2);
}

/** The error a call ends with when its invocation ended first. */
function revoked(service: string, method: string): PlatformError {
  return runtimeError('E_CTX_REVOKED', `ctx.rpc.grpc: the invocation ended while ${service}.${method} was in flight; the call was cancelled`);
}

/** One unary call on a channel; rejects with the grpc-js ServiceError. Cancelled when `signal` aborts. */
function unary(channel: Channel, method: MethodShape, request: Buffer, metadata: Metadata, deadline: number, signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => { pending.cancel(); };
    const pending = channel.client.makeUnaryRequest<Buffer, unknown>(method.path, (b) => b, method.deserialize, request, metadata, { deadline }, (err, value) => {
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(value);
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Create the gRPC builtin's host side.
 * @param deps `servicesFor(app)` (the app's declared services; the runtime passes the control
 *   plane's `getAppSettings(app).grpcServices`) and options (see `GrpcHostOptions`)
 * @throws TypeError for an invalid option (not an integer in range, a malformed CIDR)
 * @example
 *   const grpc = createGrpcHost({ servicesFor: async (app) => (await cp.getAppSettings(app)).grpcServices });
 *   cp.onChange((e) => { if (e.kind === 'settings') grpc.invalidate(e.app); });
 *   await grpc.execute(call, 'call', ['inventory', 'GetItem', { id: '7' }]);
 */
export function createGrpcHost(deps: GrpcHostDeps): GrpcHost {
  const { options, allow } = resolveOptions(deps.options ?? {});
  const apps = new Map<string, Promise<AppState>>();
  const channels = new Set<Channel>();
  /** app → declared target (`host:port`) → its breaker. Kept across settings reloads while the target stays declared. */
  const breakers = new Map<string, Map<string, TargetBreaker>>();
  let closed = false;
  let drained: (() => void) | null = null;
  let drainedPromise: Promise<void> | null = null;

  const channelOptions = (spec: ResolvedService): Record<string, string | number> => {
    const { host, port, family } = spec.target;
    const authority = family === 6 ? `[${host}]:${port}` : `${host}:${port}`;
    return {
      'grpc.default_authority': authority,
      ...(spec.tls && family === 0 ? { 'grpc.ssl_target_name_override': host } : {}),
      'grpc.max_send_message_length': options.maxMessageBytes,
      'grpc.max_receive_message_length': options.maxMessageBytes,
      'grpc.initial_reconnect_backoff_ms': Math.min(1000, options.maxReconnectBackoffMs),
      'grpc.max_reconnect_backoff_ms': options.maxReconnectBackoffMs,
      // The addresses were checked: no proxy from the environment, no service config from DNS.
      'grpc.enable_http_proxy': 0,
      'grpc.service_config_disable_resolution': 1,
      // Connections are not shared with other apps' clients.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.primary_user_agent': 'faas-grpc-builtin',
    };
  };

  const openChannel = (spec: ResolvedService, pinned: PinnedTarget): Channel => {
    const creds = spec.tls ? credentials.createSsl() : credentials.createInsecure();
    const channel: Channel = { client: new Client(pinned.channelTarget, creds, channelOptions(spec)), pinned, resolvedAt: Date.now(), inFlight: 0, retired: false };
    channels.add(channel);
    return channel;
  };

  const closeIfIdle = (channel: Channel): void => {
    if (!channel.retired || channel.inFlight > 0 || !channels.has(channel)) return;
    channels.delete(channel);
    channel.client.close();
    if (drained !== null && channels.size === 0) drained();
  };

  const retire = (channel: Channel): void => {
    channel.retired = true;
    closeIfIdle(channel);
  };

  const retireApp = (state: AppState): void => {
    state.retired = true;
    for (const entry of state.entries.values()) entry.then((e) => retire(e.channel), () => {});
  };

  /** Shut down the app's breakers of targets it no longer declares (all of them for `null`). */
  const pruneBreakers = (app: string, keep: ReadonlySet<string> | null): void => {
    const byTarget = breakers.get(app);
    if (byTarget === undefined) return;
    for (const [target, breaker] of byTarget) {
      if (keep?.has(target) === true) continue;
      breaker.shutdown();
      byTarget.delete(target);
    }
    if (byTarget.size === 0) breakers.delete(app);
  };

  const describe = (spec: ResolvedService): string => `gRPC service "${spec.name}" (${spec.targetText})`;

  const loadApp = (app: string): Promise<AppState> => {
    let pending = apps.get(app);
    if (pending === undefined) {
      pending = (async () => {
        let list: GrpcServiceConfig[];
        try {
          list = await deps.servicesFor(app);
        } catch (err) {
          if (isPlatformError(err)) throw err;
          throw runtimeError('E_INTERNAL', `ctx.rpc.grpc: the gRPC settings of app "${app}" could not be read: ${(err as Error)?.message ?? String(err)}`);
        }
        const services = new Map<string, GrpcServiceConfig>();
        for (const config of Array.isArray(list) ? list : []) if (typeof config?.name === 'string') services.set(config.name, config);
        pruneBreakers(app, new Set([...services.values()].map((c) => c.target)));
        return { services, entries: new Map(), retired: false };
      })();
      apps.set(app, pending);
      pending.catch(() => { if (apps.get(app) === pending) apps.delete(app); });
    }
    return pending;
  };

  const loadEntry = (state: AppState, config: GrpcServiceConfig): Promise<ServiceEntry> => {
    let pending = state.entries.get(config.name);
    if (pending === undefined) {
      pending = (async () => {
        let spec: ResolvedService;
        try {
          spec = resolveService(config);
        } catch (err) {
          if (!(err instanceof GrpcConfigError)) throw err;
          throw builtinError('E_GRPC_UNKNOWN_SERVICE', `gRPC service "${config.name}" is declared but its declaration is invalid (${err.message}); fix it in the app's grpcServices settings`, { service: config.name });
        }
        const pinned = await pinTarget(spec.target, allow, describe(spec));
        // On an app retired meanwhile, the channel serves this call and closes when it ends.
        const channel = openChannel(spec, pinned);
        channel.retired = state.retired;
        return { spec, channel, refreshing: null };
      })();
      state.entries.set(config.name, pending);
      pending.catch(() => { if (state.entries.get(config.name) === pending) state.entries.delete(config.name); });
    }
    return pending;
  };

  /** Re-resolve a host name past `dnsRefreshMs`; a changed address set gets a new channel. */
  const refreshAddresses = (entry: ServiceEntry, state: AppState): Promise<void> => {
    entry.refreshing ??= (async () => {
      try {
        const pinned = await pinTarget(entry.spec.target, allow, describe(entry.spec));
        if (pinned.addresses.join() === entry.channel.pinned.addresses.join()) {
          entry.channel.resolvedAt = Date.now();
          return;
        }
        const old = entry.channel;
        entry.channel = openChannel(entry.spec, pinned);
        entry.channel.retired = state.retired;
        retire(old);
      } catch (err) {
        // A name that now points somewhere refused must not keep its old channel; a DNS outage may.
        if (isPlatformError(err) && err.code === 'E_GRPC_TARGET_REFUSED') {
          state.entries.delete(entry.spec.name);
          retire(entry.channel);
          throw err;
        }
        entry.channel.resolvedAt = Date.now();
      } finally {
        entry.refreshing = null;
      }
    })();
    return entry.refreshing;
  };

  const breakerFor = (app: string, target: string): TargetBreaker => {
    let byTarget = breakers.get(app);
    if (byTarget === undefined) breakers.set(app, byTarget = new Map());
    let breaker = byTarget.get(target);
    if (breaker === undefined) {
      breaker = createTargetBreaker(`${app} ${target}`, target, {
        errorThresholdPercentage: options.breakerErrorThresholdPercentage,
        volumeThreshold: options.breakerVolumeThreshold,
        resetTimeoutMs: options.breakerResetTimeoutMs,
        rollingWindowMs: options.breakerRollingWindowMs,
      });
      byTarget.set(target, breaker);
    }
    return breaker;
  };

  /** The call itself (retries, breaker, deadline) on a channel the caller holds. */
  const run = async (call: BuiltinCall, spec: ResolvedService, channel: Channel, method: MethodShape, request: Buffer, opts: CallOptions): Promise<unknown> => {
    const started = Date.now();
    const budgetMs = Math.min(spec.deadlineMs, opts.deadlineMs ?? spec.deadlineMs, call.deadline - started);
    const deadlineAt = started + budgetMs;
    const idempotent = spec.idempotent.has(method.name);
    const metadata = new Metadata();
    metadata.set('x-faas-app', call.app);
    metadata.set('x-faas-function', call.function);
    metadata.set('x-faas-request-id', call.requestId);
    for (const [key, value] of opts.metadata) metadata.add(key, value);
    const site = (attempts: number) => ({ service: spec.name, method: method.name, target: spec.targetText, attempts, budgetMs: Math.max(0, budgetMs), deadlineMs: spec.deadlineMs });
    const breaker = breakerFor(call.app, spec.targetText);
    for (let attempt = 0; ; attempt++) {
      if (call.signal.aborted) throw revoked(spec.name, method.name);
      if (Date.now() >= deadlineAt) {
        throw builtinError('E_GRPC_DEADLINE', `${spec.name}.${method.name} was not sent: the invocation has ${Math.max(0, call.deadline - Date.now())} ms left (the deadline is the service's deadlineMs ${spec.deadlineMs} ms or the invocation's remaining time, whichever is shorter)`, { service: spec.name, method: method.name, target: spec.targetText, attempts: attempt });
      }
      try {
        return await breaker.fire(() => unary(channel, method, request, metadata.clone(), deadlineAt, call.signal));
      } catch (err) {
        if (call.signal.aborted) throw revoked(spec.name, method.name);
        if ((err as { code?: unknown }).code === 'EOPENBREAKER') throw breaker.openError(spec.name, method.name);
        if ((err as { code?: unknown }).code === 'ESHUTDOWN') {
          throw builtinError('E_GRPC_UNAVAILABLE', `${spec.name}.${method.name} was stopped before attempt ${attempt + 1}: the app no longer declares ${spec.targetText}, or the runtime is shutting down; retry`, { service: spec.name, method: method.name, target: spec.targetText });
        }
        if (!isServiceError(err)) throw err;
        if (idempotent && attempt < spec.maxRetries && RETRYABLE.has(err.code) && !isLocalSizeLimit(err)) {
          const delay = backoffMs(attempt, options.retryBaseDelayMs, options.retryMaxDelayMs);
          if (Date.now() + delay < deadlineAt) {
            try {
              await sleep(delay, undefined, { signal: call.signal });
            } catch {
              throw revoked(spec.name, method.name);
            }
            continue;
          }
        }
        throw toCallError(err as ServiceError, site(attempt + 1));
      }
    }
  };

  /** Find the method, check and encode the message and options, then `run`. */
  const prepareAndRun = async (call: BuiltinCall, spec: ResolvedService, channel: Channel, methodName: string, message: unknown, rawOpts: unknown): Promise<unknown> => {
    const method = spec.service.methods.get(methodName);
    if (method === undefined) {
      const names = [...spec.service.methods.keys()];
      const near = names.find((n) => n.toLowerCase() === methodName.toLowerCase());
      throw builtinError('E_GRPC_UNKNOWN_METHOD', `ctx.rpc.grpc: ${spec.service.fullName} (service "${spec.name}") has no method "${methodName.slice(0, 80)}"${near === undefined ? '' : ` (did you mean "${near}"? method names are case-sensitive)`}; its methods are ${names.join(', ') || '(none)'}`, { service: spec.name, method: methodName.slice(0, 80) });
    }
    if (method.requestStream || method.responseStream) {
      const kind = method.requestStream && method.responseStream ? 'bidirectional-streaming' : method.requestStream ? 'client-streaming' : 'server-streaming';
      throw builtinError('E_GRPC_UNKNOWN_METHOD', `ctx.rpc.grpc: ${spec.name}.${method.name} is a ${kind} method; only unary methods can be called`, { service: spec.name, method: method.name });
    }
    const body = message === undefined || message === null ? {} : message;
    if (typeof body !== 'object' || Array.isArray(body)) {
      throw badArgs(`ctx.rpc.grpc: message must be an object (a ${method.requestType.fullName.slice(1)} for ${spec.name}.${method.name}), got ${describeValue(body)}`, { field: 'message' });
    }
    let converted: Record<string, unknown>;
    try {
      converted = convertMessage(method.requestType, body as Record<string, unknown>);
    } catch (err) {
      if (!isPlatformError(err)) throw err;
      throw badArgs(`ctx.rpc.grpc ${spec.name}.${method.name}: ${err.message}`, { ...err.details });
    }
    const request = method.serialize(converted);
    if (request.length > options.maxMessageBytes) throw badArgs(`ctx.rpc.grpc: the ${spec.name}.${method.name} request is ${request.length} bytes encoded; the limit is ${options.maxMessageBytes} bytes`, { field: 'message' });
    const opts = parseCallOptions(rawOpts);
    return run(call, spec, channel, method, Buffer.from(request.buffer, request.byteOffset, request.length), opts);
  };

  return {
    options,

    async execute(call: BuiltinCall, op: string, args: readonly unknown[]): Promise<unknown> {
      if (op !== 'call') throw runtimeError('E_INTERNAL', `ctx.rpc.grpc: unknown op "${op}"`);
      if (closed) throw builtinError('E_GRPC_UNAVAILABLE', 'ctx.rpc.grpc is unavailable: this runtime is shutting down; retry the invocation');
      if (!Array.isArray(args)) throw badArgs('ctx.rpc.grpc: arguments must be (service, method, message, options?)');
      const [serviceName, methodName, message, rawOpts] = args;
      if (typeof serviceName !== 'string') throw badArgs(`ctx.rpc.grpc(service, method, message, options?): service must be the name of a declared gRPC service (a string), got ${describeValue(serviceName)}`);
      if (typeof methodName !== 'string') throw badArgs(`ctx.rpc.grpc(service, method, message, options?): method must be a method name (a string), got ${describeValue(methodName)}`);
      if (call.signal.aborted) throw revoked(serviceName, methodName);
      const state = await loadApp(call.app);
      const config = state.services.get(serviceName);
      if (config === undefined) {
        const declared = [...state.services.keys()];
        throw builtinError('E_GRPC_UNKNOWN_SERVICE', `ctx.rpc.grpc: no gRPC service "${serviceName.slice(0, 80)}" is declared for app "${call.app}" (declared: ${declared.length === 0 ? 'none' : declared.join(', ')}). Declare it in the app's settings under grpcServices: { name, target: "host:port", proto, service, idempotentMethods } (see builtins/grpc/README.md).`, { service: serviceName.slice(0, 80) });
      }
      const entry = await loadEntry(state, config);
      if (entry.spec.target.family === 0 && Date.now() - entry.channel.resolvedAt > options.dnsRefreshMs) await refreshAddresses(entry, state);
      const { spec, channel } = entry;
      channel.inFlight++;
      try {
        return await prepareAndRun(call, spec, channel, methodName, message, rawOpts);
      } finally {
        channel.inFlight--;
        closeIfIdle(channel);
      }
    },

    invalidate(app: string): void {
      const pending = apps.get(app);
      if (pending === undefined) return;
      apps.delete(app);
      pending.then(retireApp, () => {});
    },

    async close(): Promise<void> {
      if (!closed) {
        closed = true;
        for (const [app, pending] of apps) {
          apps.delete(app);
          await pending.then(retireApp, () => {});
        }
        for (const app of [...breakers.keys()]) pruneBreakers(app, null);
      }
      drainedPromise ??= new Promise<void>((resolve) => { drained = resolve; });
      for (const channel of [...channels]) retire(channel);
      if (channels.size === 0) drained?.();
      await drainedPromise;
    },
  };
}
