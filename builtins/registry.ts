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
  redis: RedisExecute;
}

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
      if (builtin === 'redis') return impl.redis(call.app, op, args);
      throw runtimeError('E_INTERNAL', `unknown builtin ${builtin}`);
    },
  });
}
