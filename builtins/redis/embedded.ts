/**
 * The embedded Redis backend: an in-memory store (ioredis-mock 8) for `npm start` without
 * `REDIS_URL`. It lives in one process (the supervisor); workers reach it over IPC through the
 * plain-data `RedisBackend.exec`.
 *
 * ioredis-mock alone differs from Redis in ways functions would notice, so commands go through
 * a compatibility layer here, checked by the shared contract suite (`redis.test.ts`) against a
 * real redis-server:
 * - WRONGTYPE: ioredis-mock rarely checks types (`GET` of a hash returns the hash, `SADD` on a
 *   hash throws a JS TypeError); every command's key type is checked first, with Redis's message.
 * - Integers: INCR/INCRBY/DECR/DECRBY/HINCRBY on a non-integer return null/NaN in the mock and
 *   lose precision past 2^53; here they use 64-bit BigInt arithmetic with Redis's errors.
 * - Floats: INCRBYFLOAT/HINCRBYFLOAT on a non-number store "NaN" in the mock; here they fail
 *   like Redis.
 * - ZADD: the mock ignores GT/LT (and takes them as members); here NX/XX/GT/LT/CH are emulated.
 * - ZRANGEBYSCORE/ZREVRANGEBYSCORE/ZCOUNT: the mock truncates bounds with parseInt (3.7 → 3);
 *   here they filter the sorted set with exact float bounds.
 * - MGET returns null for keys that hold other types; RENAME of a missing key fails ("ERR no
 *   such key"), like Redis.
 * - Hash fields are properties of a plain object in the mock, so a field named `__proto__` would
 *   silently vanish; it is refused with E_REDIS_ERROR instead (real Redis accepts it).
 * Known remaining difference: the mock copies a whole value on every access, so a command costs
 * O(size of the value) (about 3 ms for ZINCRBY on a 10 000-member sorted set); fine for
 * development, use REDIS_URL for load.
 * Commands run one at a time (a promise chain), so each emulated command is atomic, as in Redis.
 *
 * Each backend gets its own data: ioredis-mock shares data between instances with the same
 * host/port/db (README "from v5 to v6"), so every instance is created with a unique fake host.
 */
import RedisMock from 'ioredis-mock';
import { isPlatformError, type PlatformError } from '../../runtime/errors.ts';
import { builtinError } from '../errors.ts';
import type { RedisBackend } from './backend.ts';
import { lookupCommand, type CommandSpec } from './commands.ts';
import { checkExecArgs, normalizeReply, type RedisReply } from './reply.ts';

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

let instances = 0;

function redisError(message: string, command: string): PlatformError {
  return builtinError('E_REDIS_ERROR', message, { command });
}

/** Redis's string2ll: optional minus, no leading zeros or plus sign, within int64. */
function parseRedisInt(text: string): bigint | null {
  if (!/^(0|-?[1-9]\d{0,19})$/.test(text)) return null;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? null : value;
}

/** A finite decimal float as Redis's string2ld accepts it (no spaces, no nan). */
function parseRedisFloat(text: string): number | null {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/** Format an INCRBYFLOAT result like Redis (no exponent; trailing zeros trimmed). */
function formatFloat(value: number): string {
  const text = String(value);
  if (!text.includes('e')) return text;
  if (Math.abs(value) >= 1) return BigInt(value).toString();
  return value.toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
}

/** The hash field arguments of a hash command (HSET: every other one; HINCRBY*: one; else all after the key). */
function hashFields(spec: CommandSpec, args: string[]): string[] {
  if (spec.name === 'HSET') return args.filter((_, i) => i % 2 === 1);
  if (spec.name === 'HINCRBY' || spec.name === 'HINCRBYFLOAT') return args.slice(1, 2);
  return args.slice(1);
}

interface Bound {
  readonly value: number;
  readonly exclusive: boolean;
}

/** Parse a score bound (`1.5`, `(1.5`, `-inf`, `+inf`); host.ts already validated the syntax. */
function parseBound(text: string, command: string): Bound {
  const exclusive = text.startsWith('(');
  const body = (exclusive ? text.slice(1) : text).toLowerCase();
  const value = body === '-inf' ? -Infinity : body === '+inf' || body === 'inf' ? Infinity : parseRedisFloat(body);
  if (value === null) throw redisError('ERR min or max is not a float', command);
  return { value, exclusive };
}

function within(score: number, min: Bound, max: Bound): boolean {
  return (min.exclusive ? score > min.value : score >= min.value) && (max.exclusive ? score < max.value : score <= max.value);
}

/**
 * Create an embedded (in-memory) backend with its own, empty data.
 * @returns a backend of kind `embedded`; `close()` drops its data
 */
export function createEmbeddedBackend(): RedisBackend {
  instances += 1;
  const mock = new RedisMock({ host: `embedded-${process.pid}-${instances}`, port: 6379, lazyConnect: false });
  const methods = mock as unknown as Record<string, unknown>;
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();

  const call = async (method: string, ...args: string[]): Promise<unknown> => {
    const fn = methods[method];
    if (typeof fn !== 'function') throw redisError(`ERR unknown command '${method}'`, method.toUpperCase());
    return (fn as (...a: string[]) => Promise<unknown>).apply(mock, args);
  };
  const typeOf = async (key: string): Promise<string> => String(await call('type', key));

  /** Rewrite a string key to `text`, keeping its TTL (SET clears it). */
  const rewrite = async (key: string, text: string): Promise<void> => {
    const pttl = Number(await call('pttl', key));
    await call('set', key, text);
    if (pttl > 0) await call('pexpire', key, String(pttl));
  };

  const incrementInt = async (spec: CommandSpec, args: string[]): Promise<RedisReply> => {
    const hash = spec.name === 'HINCRBY';
    const [key] = args;
    const step = spec.name === 'INCR' ? 1n : spec.name === 'DECR' ? -1n : BigInt(args[hash ? 2 : 1]) * (spec.name === 'DECRBY' ? -1n : 1n);
    const current = hash ? await call('hget', key, args[1]) : await call('get', key);
    const base = current === null || current === undefined ? 0n : parseRedisInt(String(current));
    if (base === null) throw redisError(hash ? 'ERR hash value is not an integer' : 'ERR value is not an integer or out of range', spec.name);
    const next = base + step;
    if (next < INT64_MIN || next > INT64_MAX) throw redisError('ERR increment or decrement would overflow', spec.name);
    if (hash) await call('hset', key, args[1], next.toString());
    else await rewrite(key, next.toString());
    return Number(next);
  };

  const incrementFloat = async (spec: CommandSpec, args: string[]): Promise<RedisReply> => {
    const hash = spec.name === 'HINCRBYFLOAT';
    const [key] = args;
    const current = hash ? await call('hget', key, args[1]) : await call('get', key);
    const base = current === null || current === undefined ? 0 : parseRedisFloat(String(current));
    if (base === null) throw redisError(hash ? 'ERR hash value is not a float' : 'ERR value is not a valid float', spec.name);
    const next = base + Number(args[hash ? 2 : 1]);
    if (!Number.isFinite(next)) throw redisError('ERR increment would produce NaN or Infinity', spec.name);
    const text = formatFloat(next);
    if (hash) await call('hset', key, args[1], text);
    else await rewrite(key, text);
    return text;
  };

  const zadd = async (args: string[]): Promise<RedisReply> => {
    const [key, ...rest] = args;
    const flags = new Set<string>();
    while (rest.length > 0 && ['NX', 'XX', 'GT', 'LT', 'CH'].includes(rest[0].toUpperCase())) flags.add(String(rest.shift()).toUpperCase());
    let added = 0;
    let changed = 0;
    for (let i = 0; i < rest.length; i += 2) {
      const score = Number(rest[i]);
      const member = rest[i + 1];
      const current = await call('zscore', key, member);
      if (current === null || current === undefined) {
        if (flags.has('XX')) continue;
        await call('zadd', key, String(score), member);
        added += 1;
      } else {
        const old = Number(current);
        if (flags.has('NX') || (flags.has('GT') && !(score > old)) || (flags.has('LT') && !(score < old)) || score === old) continue;
        await call('zadd', key, String(score), member);
        changed += 1;
      }
    }
    return flags.has('CH') ? added + changed : added;
  };

  const byScore = async (spec: CommandSpec, args: string[]): Promise<RedisReply> => {
    const reverse = spec.name === 'ZREVRANGEBYSCORE';
    const [key, first, second, ...options] = args;
    const min = parseBound(reverse ? second : first, spec.name);
    const max = parseBound(reverse ? first : second, spec.name);
    const flat = normalizeReply(await call('zrange', key, '0', '-1', 'WITHSCORES'));
    const entries: Array<[string, string]> = [];
    if (Array.isArray(flat)) for (let i = 0; i + 1 < flat.length; i += 2) entries.push([String(flat[i]), String(flat[i + 1])]);
    let hits = entries.filter(([, score]) => within(Number(score), min, max));
    if (spec.name === 'ZCOUNT') return hits.length;
    if (reverse) hits.reverse();
    let withScores = false;
    for (let i = 0; i < options.length; i++) {
      const option = options[i].toUpperCase();
      if (option === 'WITHSCORES') withScores = true;
      if (option === 'LIMIT') {
        const offset = Number(options[i + 1]);
        const count = Number(options[i + 2]);
        hits = offset < 0 ? [] : hits.slice(offset, count < 0 ? undefined : offset + count);
        i += 2;
      }
    }
    return withScores ? hits.flat() : hits.map(([member]) => member);
  };

  const run = async (spec: CommandSpec, args: string[]): Promise<RedisReply> => {
    if (spec.keyType === 'hash' && hashFields(spec, args).includes('__proto__')) {
      throw redisError('ERR the embedded Redis store cannot hold a hash field named "__proto__"; rename the field (a real Redis, with REDIS_URL, accepts it)', spec.name);
    }
    if (spec.keyType !== 'any') {
      const type = await typeOf(args[0]);
      if (type !== 'none' && type !== spec.keyType) throw redisError(WRONGTYPE, spec.name);
    }
    switch (spec.name) {
      case 'MGET': {
        const types = await Promise.all(args.map(typeOf));
        const values = normalizeReply(await call('mget', ...args));
        return Array.isArray(values) ? values.map((value, i) => (types[i] === 'string' ? value : null)) : values;
      }
      case 'RENAME':
        if (Number(await call('exists', args[0])) === 0) throw redisError('ERR no such key', spec.name);
        break;
      case 'INCR': case 'DECR': case 'INCRBY': case 'DECRBY': case 'HINCRBY':
        return incrementInt(spec, args);
      case 'INCRBYFLOAT': case 'HINCRBYFLOAT':
        return incrementFloat(spec, args);
      case 'ZADD':
        return zadd(args);
      case 'ZRANGEBYSCORE': case 'ZREVRANGEBYSCORE': case 'ZCOUNT':
        return byScore(spec, args);
    }
    return normalizeReply(await call(spec.name.toLowerCase(), ...args));
  };

  return {
    kind: 'embedded',
    exec(command: string, args: string[]): Promise<RedisReply> {
      try {
        checkExecArgs(command, args);
        const spec = lookupCommand(command);
        if (closed) throw builtinError('E_REDIS_UNAVAILABLE', 'the embedded Redis store is closed', { command: spec.name });
        const result = queue.then(() => run(spec, args)).catch((err: unknown) => {
          if (isPlatformError(err)) throw err;
          const message = err instanceof Error ? err.message : String(err);
          throw redisError(/^[A-Z]+ /.test(message) ? message : `ERR ${message}`, spec.name);
        });
        queue = result.catch(() => {});
        return result;
      } catch (err) {
        return Promise.reject(err);
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await queue;
      await call('flushall');
      mock.disconnect();
    },
  };
}
