/**
 * The builtins registry: which `ctx.*` builtins exist and how a call reaches each one's host side.
 * The isolate side lives in `runtime/sandbox/isolate-bootstrap.js` (it turns `ctx.redis.get(k)` into
 * one host call `(builtin='redis', op='get', args=[k])`); this module routes that call.
 *
 * `ctx.log` is not routed here: the sandbox captures log lines per invocation itself (see
 * `runtime/sandbox/isolate-sandbox.ts`), so logging never waits on I/O.
 */
import { runtimeError } from '../runtime/errors.ts';
import type { BuiltinCall, BuiltinHost } from '../runtime/sandbox/interface.ts';
import { ALLOWED_COMMANDS } from './redis/commands.ts';

/** Host side of `ctx.redis` for one process: run `command` for `app` (namespacing happens inside). */
export type RedisExecute = (app: string, command: string, args: readonly unknown[]) => Promise<unknown>;

/** Implementations handed to `createBuiltinHost`. */
export interface BuiltinImplementations {
  /** `ctx.redis` served in this process (a worker with REDIS_URL); null → forwarded like the others. */
  redis: RedisExecute | null;
  /** Every other builtin (and Redis when `redis` is null): sent to the gateway process, which serves them (`runtime/builtin-dispatch.ts`). */
  forward: (call: BuiltinCall, builtin: string, op: string, args: unknown[]) => Promise<unknown>;
}

/** Builtins the isolate may call; anything else is a platform bug (the bootstrap only generates these). */
export const BUILTIN_NAMES: ReadonlySet<string> = new Set(['redis', 'sql', 'auth', 'fetch', 'rpc', 'grpc', 'config']);

/**
 * Build the `BuiltinHost` a sandbox calls. The app passed to every builtin comes from the sandbox's
 * version spec, never from function code, so a function cannot name another app.
 * @throws (from `call`) PlatformError E_INTERNAL for an unknown builtin (the bootstrap only
 *   generates known names); builtin errors pass through with their codes.
 */
export function createBuiltinHost(impl: BuiltinImplementations): BuiltinHost {
  const redisCommands = Object.freeze(ALLOWED_COMMANDS.map((c) => c.toLowerCase()));
  return Object.freeze({
    redisCommands,
    async call(call: BuiltinCall, builtin: string, op: string, args: unknown[]): Promise<unknown> {
      if (builtin === 'redis' && impl.redis !== null) return impl.redis(call.app, op, args);
      if (!BUILTIN_NAMES.has(builtin)) throw runtimeError('E_INTERNAL', `unknown builtin ${builtin}`);
      return impl.forward(call, builtin, op, args);
    },
  });
}
