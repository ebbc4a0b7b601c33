/**
 * Builds every builtin host the gateway process serves (see `builtin-dispatch.ts`) from a
 * `RuntimeControlPlane` — the control plane itself in `faas all`, its gRPC client in `faas
 * runtime` — and keeps their caches in step with the control plane's change events.
 *
 * Operator settings (from `PlatformConfig`, i.e. FAAS_FETCH_ALLOW_ADDRESSES and
 * FAAS_GRPC_PRIVATE_NETWORKS; documented in README): `fetchAllowAddresses` and `grpcPrivateNetworks`.
 */
import { createAuthHost, type AuthHost } from '../builtins/auth/host.ts';
import { createFetchHost, type FetchHost } from '../builtins/fetch/host.ts';
import { createGrpcHost, type GrpcHost } from '../builtins/grpc/host.ts';
import type { AppSettings, AuthMode, RuntimeControlPlane } from '../control-plane/core/types.ts';
import { ConfigCache, createBuiltinDispatcher, InvocationRegistry, type BuiltinExecutor, type InvocationUser, type RpcInvoke } from './builtin-dispatch.ts';
import type { ForwardedCall } from './worker/protocol.ts';

/** Options of `createGatewayBuiltins`. */
export interface GatewayBuiltinsOptions {
  controlPlane: RuntimeControlPlane;
  /** The embedded Redis store's `execute`, or null when workers use REDIS_URL directly. */
  redis: ((app: string, command: string, args: readonly unknown[]) => Promise<unknown>) | null;
  /** ctx.sql host, when configured. */
  sql?: BuiltinExecutor & { close?: () => Promise<void> };
  /** `ip:port` pairs ctx.fetch may reach although private (tests only). @default [] */
  fetchAllowAddresses?: readonly string[];
  /** CIDRs gRPC targets may resolve to although not public (e.g. a cluster network `10.0.0.0/8`). @default [] */
  grpcPrivateNetworks?: readonly string[];
}

/** The builtins of one gateway process. */
export interface GatewayBuiltins {
  registry: InvocationRegistry;
  /**
   * For `WorkerSupervisor`'s `builtin` option. A call that carries `invocation` comes from an
   * invocation a worker serves over its own HTTP (shape (b)): its first call registers it here
   * (keyed by worker and request id) until `ended` says it is over.
   */
  dispatch: (call: ForwardedCall, builtin: string, op: string, args: unknown[], worker?: number) => Promise<unknown>;
  /** Invocations of worker `worker` that made forwarded calls ended (`null`: all of them, the worker exited). */
  ended(worker: number, requestIds: string[] | null): void;
  /** For the gateway's `verifyUser`. */
  verifyUser: (app: string, authorization: string | undefined, mode: AuthMode) => Promise<{ user: InvocationUser | null }>;
  /** For the gateway's `redact`. */
  redact: (app: string, fn: string, text: string) => string;
  /** Set once the gateway exists (ctx.rpc.call runs through it). */
  setRpc(invoke: RpcInvoke): void;
  auth: AuthHost;
  fetch: FetchHost;
  grpc: GrpcHost;
  close(): Promise<void>;
}

/** See the module comment. */
export function createGatewayBuiltins(options: GatewayBuiltinsOptions): GatewayBuiltins {
  const cp = options.controlPlane;
  const settings = new Map<string, Promise<AppSettings>>();
  const settingsOf = (app: string): Promise<AppSettings> => {
    let entry = settings.get(app);
    if (entry === undefined) {
      entry = cp.getAppSettings(app);
      entry.catch(() => settings.delete(app));
      if (settings.size >= 10_000) settings.delete(settings.keys().next().value as string);
      settings.set(app, entry);
    }
    return entry;
  };
  const auth = createAuthHost({ keysFor: (app) => cp.getSigningKeys(app) });
  const fetch = createFetchHost({
    allowlistFor: async (app) => (await settingsOf(app)).fetchAllowlist,
    options: { allowAddresses: [...(options.fetchAllowAddresses ?? [])] },
  });
  const grpc = createGrpcHost({
    servicesFor: async (app) => (await settingsOf(app)).grpcServices,
    options: { privateNetworkAllowlist: [...(options.grpcPrivateNetworks ?? [])] },
  });
  const config = new ConfigCache(cp);
  const registry = new InvocationRegistry();
  let rpc: RpcInvoke | undefined;
  const services = { redis: options.redis, sql: options.sql, auth, fetch, grpc, config, rpc: ((caller, fn, alias, payload, chain) => {
    if (rpc === undefined) throw new Error('ctx.rpc is not ready');
    return rpc(caller, fn, alias, payload, chain);
  }) as RpcInvoke };
  const dispatch = createBuiltinDispatcher(services, registry);
  /** `${worker}:${requestId}` → the record of an adopted invocation (shape (b)). */
  const adopted = new Map<string, { requestId: string; deadline: number; end: () => void }>();
  const endAdopted = (key: string): void => {
    adopted.get(key)?.end();
    adopted.delete(key);
  };
  // A worker that never says an invocation ended (it died mid-call) must not leave its record
  // live forever: records past their deadline by a minute are ended.
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const [key, entry] of adopted) if (now > entry.deadline + 60_000) endAdopted(key);
  }, 10_000);
  sweeper.unref();
  const unsubscribe = cp.onChange((event) => {
    config.onChange(event);
    if (event.kind === 'settings') {
      settings.delete(event.app);
      grpc.invalidate(event.app);
    }
    if (event.kind === 'keys') auth.invalidate(event.app);
  });
  return {
    registry,
    dispatch: (call, builtin, op, args, worker) => {
      const invocation = call.invocation;
      if (invocation === undefined || worker === undefined) return dispatch(call, builtin, op, args);
      const key = `${worker}:${call.requestId}`;
      let entry = adopted.get(key);
      if (entry === undefined) {
        const live = registry.begin({
          app: call.app, function: call.function, versionId: call.versionId, requestId: call.requestId,
          deadline: call.deadline, user: invocation.user, chain: invocation.chain, traceparent: invocation.traceparent,
        });
        entry = { requestId: live.context.requestId, deadline: call.deadline, end: live.end };
        adopted.set(key, entry);
      }
      return dispatch({ ...call, requestId: entry.requestId }, builtin, op, args);
    },
    ended(worker, requestIds) {
      if (requestIds !== null) {
        for (const id of requestIds) endAdopted(`${worker}:${id}`);
        return;
      }
      for (const key of [...adopted.keys()]) if (key.startsWith(`${worker}:`)) endAdopted(key);
    },
    verifyUser: (app, authorization, mode) => auth.verifyRequest(app, authorization, mode),
    redact: (app, fn, text) => config.redact(app, fn, text),
    setRpc(invoke) {
      rpc = invoke;
    },
    auth,
    fetch,
    grpc,
    async close() {
      unsubscribe();
      clearInterval(sweeper);
      for (const key of [...adopted.keys()]) endAdopted(key);
      await Promise.allSettled([fetch.close(), grpc.close(), options.sql?.close?.()]);
    },
  };
}
