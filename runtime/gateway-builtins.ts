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
  /** For `WorkerSupervisor`'s `builtin` option. */
  dispatch: (call: ForwardedCall, builtin: string, op: string, args: unknown[]) => Promise<unknown>;
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
    dispatch: createBuiltinDispatcher(services, registry),
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
      await Promise.allSettled([fetch.close(), grpc.close(), options.sql?.close?.()]);
    },
  };
}
