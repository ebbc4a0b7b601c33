/**
 * Error catalog of the builtins (`ctx.redis`, and later `ctx.sql`, `ctx.rpc`, `ctx.fetch`, …),
 * in the style of `runtime/errors.ts`: each code has an HTTP status, whether it is the user's
 * fault, and a one-line summary that `docs/errors.md` repeats. Codes are matched on `.code`
 * (errors cross the isolate and IPC boundaries as plain data), never with `instanceof`.
 * Retired codes are never reused.
 */
import { PlatformError, type ErrorSpec } from '../runtime/errors.ts';

/** Builtins error catalog. */
export const BUILTIN_ERRORS = {
  E_REDIS_COMMAND_REFUSED: {
    status: 400,
    user: true,
    summary: 'The function called a Redis command that `ctx.redis` does not allow (e.g. KEYS, EVAL, FLUSHALL); the message says why and lists the allowed commands.',
  },
  E_REDIS_BAD_ARGUMENTS: {
    status: 400,
    user: true,
    summary: 'A `ctx.redis` call had the wrong number or type of arguments, an empty or over-long key (max 1024 bytes), or a value or request over the size limits.',
  },
  E_REDIS_UNAVAILABLE: {
    status: 503,
    user: false,
    summary: 'Redis could not be reached or did not answer within the command timeout (default 2000 ms); the command may not have run. Retry with backoff.',
  },
  E_REDIS_ERROR: {
    status: 500,
    user: true,
    summary: 'Redis rejected the command (e.g. `WRONGTYPE` when a list command meets a hash); the message is Redis\'s own.',
  },
} as const satisfies Record<string, ErrorSpec>;

/** A code of the builtins catalog. */
export type BuiltinErrorCode = keyof typeof BUILTIN_ERRORS;

/**
 * Build a PlatformError for a builtins catalog code, with the catalog's HTTP status.
 * @param code a key of `BUILTIN_ERRORS`
 * @param message what happened and how to fix it (shown to the function author)
 * @param details extra JSON-serialisable fields (e.g. `command`, `argument`)
 * @example throw builtinError('E_REDIS_COMMAND_REFUSED', 'KEYS is not allowed …', { command: 'KEYS' })
 */
export function builtinError(code: BuiltinErrorCode, message: string, details: Record<string, unknown> = {}): PlatformError {
  return new PlatformError(code, BUILTIN_ERRORS[code].status, message, details);
}
