/**
 * The plain-data shape of a Redis reply as it crosses process and isolate boundaries, and the
 * normalisation both backends apply to what their client library returns.
 */
import type { PlatformError } from '../../runtime/errors.ts';
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

/** How a batch runs: `multi` wraps the commands in MULTI/EXEC (atomic), `pipeline` only sends them together. */
export type RedisBatchMode = 'multi' | 'pipeline';

/** One command of a batch, already validated and namespaced by `host.ts`. */
export interface RedisBatchCommand {
  /** Upper-case command name from the allowlist, e.g. `INCR`. */
  readonly command: string;
  /** Its arguments as strings, keys already prefixed. */
  readonly args: readonly string[];
}

/** The entry of a batch reply for a command Redis refused (e.g. WRONGTYPE); the others still ran. */
export interface RedisBatchError {
  readonly error: { readonly code: 'E_REDIS_ERROR'; readonly message: string };
}

/** One entry of a batch reply: the command's reply, or the error Redis answered for it. */
export type RedisBatchEntry = RedisReply | RedisBatchError;

/** The error entry for a command of a batch that Redis refused, with Redis's message. */
export function batchError(message: string): RedisBatchError {
  return { error: { code: 'E_REDIS_ERROR', message } };
}

/** True for an error entry of a batch reply (a `RedisReply` is never a plain object). */
export function isBatchError(entry: RedisBatchEntry): entry is RedisBatchError {
  return typeof entry === 'object' && entry !== null && !Array.isArray(entry);
}

/**
 * The error for a MULTI that Redis discarded before running anything (EXECABORT: a command was
 * refused while queued, e.g. an unknown command, a wrong arity, or OOM under `maxmemory`).
 * @param refused each refused command's name and Redis's message
 */
export function execAbortError(refused: ReadonlyArray<{ readonly command: string; readonly message: string }>): PlatformError {
  const why = refused.map((r) => `${r.command}: ${r.message}`).join('; ');
  return builtinError('E_REDIS_ERROR', `MULTI was aborted and none of its commands ran: EXECABORT Transaction discarded because of previous errors (${why})`, { command: 'MULTI', refused: refused.map((r) => ({ ...r })) });
}

/**
 * Check the shape of backend `batch` arguments (they may arrive over IPC).
 * @throws PlatformError `E_REDIS_BAD_ARGUMENTS` unless `mode` is `multi` or `pipeline` and
 *   `commands` is a non-empty array of `{ command: string, args: string[] }`
 */
export function checkBatchArgs(mode: unknown, commands: unknown): asserts commands is RedisBatchCommand[] {
  if (mode !== 'multi' && mode !== 'pipeline') throw builtinError('E_REDIS_BAD_ARGUMENTS', `a batch mode must be "multi" or "pipeline", got ${typeof mode === 'string' ? JSON.stringify(mode.slice(0, 32)) : typeof mode}`);
  const label = mode.toUpperCase();
  if (!Array.isArray(commands) || commands.length === 0) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${label}: backend commands must be a non-empty array`);
  for (const entry of commands as unknown[]) {
    if (typeof entry !== 'object' || entry === null) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${label}: each backend command must be { command, args }`);
    const { command, args } = entry as { command?: unknown; args?: unknown };
    checkExecArgs(command, args);
  }
}
