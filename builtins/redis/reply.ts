/**
 * The plain-data shape of a Redis reply as it crosses process and isolate boundaries, and the
 * normalisation both backends apply to what their client library returns.
 */
import { builtinError } from '../errors.ts';

/**
 * A Redis reply as plain data (RESP2 as ioredis maps it): bulk/simple strings → `string`,
 * integers → `number`, nil → `null`, arrays → arrays. Sorted-set scores are strings (like
 * ioredis), HGETALL is a flat `[field, value, …]` array at this level.
 */
export type RedisReply = null | string | number | RedisReply[];

/**
 * Convert a client library's reply into a `RedisReply`: Buffers become UTF-8 strings, `undefined`
 * becomes `null`, a plain object (ioredis-mock's HGETALL) becomes a flat `[field, value, …]` array.
 * @throws PlatformError `E_REDIS_ERROR` when the reply holds an Error (e.g. inside an array reply)
 */
export function normalizeReply(value: unknown): RedisReply {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (Array.isArray(value)) return value.map(normalizeReply);
  if (value instanceof Error) throw builtinError('E_REDIS_ERROR', value.message);
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return Object.entries(value).flatMap(([field, item]) => [field, normalizeReply(item)]);
  return String(value);
}

/**
 * Check the shape of backend `exec` arguments (they may arrive over IPC).
 * @throws PlatformError `E_REDIS_COMMAND_REFUSED` for a non-string command, `E_REDIS_BAD_ARGUMENTS` unless `args` is an array of strings
 */
export function checkExecArgs(command: unknown, args: unknown): asserts args is string[] {
  if (typeof command !== 'string') throw builtinError('E_REDIS_COMMAND_REFUSED', 'the command name must be a string');
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) {
    throw builtinError('E_REDIS_BAD_ARGUMENTS', `${command}: backend arguments must be an array of strings`);
  }
}
