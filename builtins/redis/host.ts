/**
 * Host side of `ctx.redis`. The isolate turns `await ctx.redis.zincrby('room:42:gifts', 5, 'alice')`
 * into one host call `execute(app, 'zincrby', ['room:42:gifts', 5, 'alice'])`; this module checks
 * the command against the allowlist, matches and converts the arguments, prefixes every key with
 * the app's namespace, runs the command on a `RedisBackend` within a time budget, and returns
 * plain data.
 */
import { isPlatformError, type PlatformError } from '../../runtime/errors.ts';
import { builtinError } from '../errors.ts';
import { mapIoredisError, type RedisBackend } from './backend.ts';
import { lookupCommand, matchArgs, type ArgKind } from './commands.ts';
import { checkKey, checkValue, describe, keyPrefix, unprefixKey } from './namespace.ts';
import type { RedisReply } from './reply.ts';

/** Limits of `createRedisHost`; every field has a default. */
export interface RedisHostOptions {
  /** Largest single value (string value, field, member), in UTF-8 bytes. @default 524288 (512 KiB) */
  maxValueBytes?: number;
  /** Largest total size of one command's arguments after conversion and prefixing, in bytes. @default 1048576 (1 MiB) */
  maxArgsBytes?: number;
  /** Most arguments in one command (e.g. MGET keys, HSET fields × 2). @default 4096 */
  maxArgCount?: number;
  /** Longest one command may take at the backend (including IPC to the embedded store), in ms. @default 2000 */
  commandTimeoutMs?: number;
}

/** `RedisHostOptions` after defaults; frozen. */
export type ResolvedRedisHostOptions = Readonly<Required<RedisHostOptions>>;

/**
 * What `execute` returns to the isolate: a `RedisReply`, except HGETALL which returns an object
 * `{ field: value }` (as ioredis's `hgetall` does; `{}` for a missing key).
 */
export type RedisValue = RedisReply | { [field: string]: string };

/** The Redis builtin as bound by the runtime; one per process is enough (the app is per call). */
export interface RedisHost {
  /**
   * Run one `ctx.redis` command for an app.
   * @param app the calling app (from the platform, never from function code)
   * @param command the command name as the function wrote it, any case (e.g. `zincrby`)
   * @param args the arguments as the function passed them
   * @returns the reply as plain data (see `RedisValue`)
   * @throws PlatformError `E_REDIS_COMMAND_REFUSED` (not on the allowlist),
   *   `E_REDIS_BAD_ARGUMENTS` (arity, types, sizes), `E_REDIS_ERROR` (Redis rejected it, e.g.
   *   WRONGTYPE; Redis's message), `E_REDIS_UNAVAILABLE` (backend down or slower than
   *   `commandTimeoutMs`), `E_INTERNAL` (invalid app name: a platform bug)
   */
  execute(app: string, command: string, args: readonly unknown[]): Promise<RedisValue>;
  /** The options in force. */
  readonly options: ResolvedRedisHostOptions;
}

const DEFAULTS: ResolvedRedisHostOptions = Object.freeze({
  maxValueBytes: 512 * 1024,
  maxArgsBytes: 1024 * 1024,
  maxArgCount: 4096,
  commandTimeoutMs: 2000,
});

function resolveOptions(opts: RedisHostOptions): ResolvedRedisHostOptions {
  const resolved = { ...DEFAULTS };
  for (const name of Object.keys(DEFAULTS) as (keyof RedisHostOptions)[]) {
    const value = opts[name];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`createRedisHost: ${name} must be a positive integer, got ${String(value)}`);
    resolved[name] = value;
  }
  return Object.freeze(resolved);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const FLOAT_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value) : describe(value);
}

function toInt(value: unknown, where: string, min: bigint): string {
  let parsed: bigint | null = null;
  if (typeof value === 'number' && Number.isSafeInteger(value)) parsed = BigInt(value);
  else if (typeof value === 'string' && /^[+-]?\d{1,20}$/.test(value)) parsed = BigInt(value);
  const lowest = min === INT64_MIN ? 'an integer' : min === 0n ? 'an integer ≥ 0' : `an integer ≥ ${min}`;
  if (parsed === null || parsed < min || parsed > INT64_MAX) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} must be ${lowest} (64-bit), got ${shown(value)}`);
  return parsed.toString();
}

function toFloat(value: unknown, where: string): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && FLOAT_TEXT.test(value) && Number.isFinite(Number(value))) return value;
  throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} must be a finite number, got ${shown(value)}`);
}

function toBound(value: unknown, where: string): string {
  if (typeof value === 'number') {
    if (value === Infinity) return '+inf';
    if (value === -Infinity) return '-inf';
    if (Number.isFinite(value)) return String(value);
  }
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (lower === '-inf' || lower === '+inf' || lower === 'inf') return lower;
    const body = value.startsWith('(') ? value.slice(1) : value;
    if (FLOAT_TEXT.test(body) && Number.isFinite(Number(body))) return value;
  }
  throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} must be a score bound: a number, "-inf", "+inf", or "(" before a number for an exclusive bound; got ${shown(value)}`);
}

function convert(kind: ArgKind, value: unknown, where: string, prefix: string, maxValueBytes: number): string {
  switch (kind) {
    case 'key': return prefix + checkKey(value, where);
    case 'value': return checkValue(value, maxValueBytes, where);
    case 'int': return toInt(value, where, INT64_MIN);
    case 'count': return toInt(value, where, 0n);
    case 'posint': return toInt(value, where, 1n);
    case 'float': return toFloat(value, where);
    case 'bound': return toBound(value, where);
    case 'token': return String(value).toUpperCase();
  }
}

/** Flat `[field, value, …]` → `{ field: value }`; fields are own data properties even if named `__proto__`. */
function toMap(reply: RedisReply): { [field: string]: string } {
  const map: { [field: string]: string } = {};
  if (!Array.isArray(reply)) return map;
  for (let i = 0; i + 1 < reply.length; i += 2) {
    Object.defineProperty(map, String(reply[i]), { value: String(reply[i + 1]), enumerable: true, writable: true, configurable: true });
  }
  return map;
}

/** A score in JavaScript's shortest round-trip form; `inf`/`-inf` and non-numbers unchanged. */
function shortScore(item: RedisReply): RedisReply {
  if (typeof item !== 'string') return item;
  const value = Number(item);
  return Number.isFinite(value) ? String(value) : item;
}

/** Rewrite the scores in a reply (see `CommandSpec.scoreReply`). */
function normalizeScores(kind: 'value' | 'array' | 'withscores', reply: RedisReply, wire: readonly string[]): RedisReply {
  if (kind === 'value') return shortScore(reply);
  if (!Array.isArray(reply)) return reply;
  if (kind === 'array') return reply.map(shortScore);
  if (!wire.includes('WITHSCORES')) return reply;
  return reply.map((item, i) => (i % 2 === 1 ? shortScore(item) : item));
}

/** Strip the app prefix from the keys of an array reply; keys outside the namespace are dropped. */
function stripKeys(app: string, reply: RedisReply): RedisReply {
  if (!Array.isArray(reply)) return reply;
  return reply.flatMap((item): RedisReply[] => {
    if (typeof item !== 'string') return [item];
    const key = unprefixKey(app, item);
    return key === null ? [] : [key];
  });
}

/**
 * Create the Redis builtin's host side.
 * @param backend where commands run (`createIoredisBackend` or `createEmbeddedBackend`, or an IPC proxy of one)
 * @param opts limits (validated once, frozen; see `RedisHostOptions` for units and defaults)
 * @throws TypeError for an option that is not a positive integer
 * @example
 *   const host = createRedisHost(createEmbeddedBackend());
 *   await host.execute('game1', 'zincrby', ['room:42:gifts', 5, 'alice']); // '5'
 */
export function createRedisHost(backend: RedisBackend, opts: RedisHostOptions = {}): RedisHost {
  const options = resolveOptions(opts);

  const run = (command: string, args: string[]): Promise<RedisReply> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(builtinError('E_REDIS_UNAVAILABLE', `Redis is unavailable: ${command} got no answer within ${options.commandTimeoutMs} ms; the command may have run, retry later`, { command })), options.commandTimeoutMs);
    });
    const call = Promise.resolve().then(() => backend.exec(command, args));
    call.catch(() => {});
    return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
  };

  return {
    options,
    async execute(app: string, command: string, args: readonly unknown[]): Promise<RedisValue> {
      const prefix = keyPrefix(app);
      const spec = lookupCommand(command);
      if (!Array.isArray(args)) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${spec.name}: arguments must be an array, got ${describe(args)}`, { command: spec.name });
      if (args.length > options.maxArgCount) {
        throw builtinError('E_REDIS_BAD_ARGUMENTS', `${spec.name}: ${args.length} arguments; at most ${options.maxArgCount} are allowed in one command (split it into several)`, { command: spec.name, limit: options.maxArgCount });
      }
      const kinds = matchArgs(spec, args);
      const wire: string[] = [];
      let total = 0;
      for (let i = 0; i < args.length; i++) {
        const text = convert(kinds[i], args[i], `${spec.name} argument ${i + 1}`, prefix, options.maxValueBytes);
        total += Buffer.byteLength(text, 'utf8');
        if (total > options.maxArgsBytes) {
          throw builtinError('E_REDIS_BAD_ARGUMENTS', `${spec.name}: arguments exceed ${options.maxArgsBytes} bytes in total; split the command into several`, { command: spec.name, limit: options.maxArgsBytes });
        }
        wire.push(text);
      }
      let reply: RedisReply;
      try {
        reply = await run(spec.name, wire);
      } catch (err) {
        throw toRedisError(err, spec.name);
      }
      if (spec.scoreReply !== undefined) reply = normalizeScores(spec.scoreReply, reply, wire);
      if (spec.reply === 'map') return toMap(reply);
      if (spec.replyKeys === true) return stripKeys(app, reply);
      return reply;
    },
  };
}

/** Backend errors arrive as PlatformErrors (also after IPC); anything else is mapped like an ioredis error. */
function toRedisError(err: unknown, command: string): PlatformError {
  return isPlatformError(err) ? err : mapIoredisError(err, command);
}
