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
 * - SCAN, HSCAN, SSCAN, ZSCAN: the mock's glob matcher and index cursors are wrong (see
 *   `embedded-scan.ts`); here they use Redis's matcher on bytes and stable hash-ordered cursors.
 * - MULTI and pipelines run inside one slot of the command queue, so a MULTI is atomic; a command
 *   with a wrong arity aborts a MULTI (EXECABORT) as it does in Redis, and a command refused at run
 *   time (WRONGTYPE) becomes its own error entry while the others run.
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
import { lookupCommand, matchArgs, type CommandSpec } from './commands.ts';
import { scanPage, type ScanItem } from './embedded-scan.ts';
import { batchError, checkBatchArgs, checkExecArgs, execAbortError, normalizeReply, type RedisBatchCommand, type RedisBatchEntry, type RedisBatchMode, type RedisReply } from './reply.ts';

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
  if (spec.name === 'HSCAN') return [];
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

/**
 * Redis's queue-time check of a command inside MULTI (arity; a failure aborts the transaction):
 * `null` when it passes, else Redis's message.
 */
function queueError(spec: CommandSpec, args: readonly string[]): string | null {
  try {
    matchArgs(spec, args);
    return null;
  } catch (err) {
    const message = err instanceof Error ? err.message : '';
    return /wrong number of arguments/.test(message) ? `ERR wrong number of arguments for '${spec.name.toLowerCase()}' command` : 'ERR syntax error';
  }
}

/** Pairs `[a, 1, b, 2]` → `[[a, 1], [b, 2]]`. */
function pairs(flat: RedisReply): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (Array.isArray(flat)) for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), String(flat[i + 1])]);
  return out;
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
    const entries = pairs(normalizeReply(await call('zrange', key, '0', '-1', 'WITHSCORES')));
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

  /** SCAN, HSCAN, SSCAN, ZSCAN over the mock's data, paged by `scanPage`. */
  const scan = async (spec: CommandSpec, args: string[]): Promise<RedisReply> => {
    const keyed = spec.name !== 'SCAN';
    const key = keyed ? args[0] : '';
    const [cursor, ...options] = keyed ? args.slice(1) : args;
    if (!/^\d{1,20}$/.test(cursor) || BigInt(cursor) >= 2n ** 64n) throw redisError('ERR invalid cursor', spec.name);
    let count = 10;
    let match: string | null = null;
    for (let i = 0; i < options.length; i += 2) {
      const option = options[i].toUpperCase();
      const value = options[i + 1];
      if (option === 'MATCH' && value !== undefined) match = value;
      else if (option === 'COUNT' && value !== undefined && /^[1-9]\d*$/.test(value)) count = Number(value);
      else throw redisError('ERR syntax error', spec.name);
    }
    let items: ScanItem[];
    if (spec.name === 'SCAN') {
      const keys = normalizeReply(await call('keys', '*'));
      items = (Array.isArray(keys) ? keys : []).map((k) => ({ id: String(k), reply: [String(k)] }));
    } else if (spec.name === 'SSCAN') {
      const members = normalizeReply(await call('smembers', key));
      items = (Array.isArray(members) ? members : []).map((m) => ({ id: String(m), reply: [String(m)] }));
    } else {
      const flat = spec.name === 'HSCAN' ? normalizeReply(await call('hgetall', key)) : normalizeReply(await call('zrange', key, '0', '-1', 'WITHSCORES'));
      items = pairs(flat).map(([id, value]) => ({ id, reply: [id, value] }));
    }
    return scanPage(items, cursor, count, match);
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
      case 'SCAN': case 'HSCAN': case 'SSCAN': case 'ZSCAN':
        return scan(spec, args);
    }
    return normalizeReply(await call(spec.name.toLowerCase(), ...args));
  };

  /** `run`, with anything the mock throws turned into Redis-style `E_REDIS_ERROR`s. */
  const runMapped = (spec: CommandSpec, args: string[]): Promise<RedisReply> => run(spec, args).catch((err: unknown) => {
    if (isPlatformError(err)) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw redisError(/^[A-Z]+ /.test(message) ? message : `ERR ${message}`, spec.name);
  });

  /** Queue `task` after every command already queued: commands run one at a time, like Redis. */
  const enqueue = <T>(task: () => Promise<T>): Promise<T> => {
    const result = queue.then(task);
    queue = result.catch(() => {});
    return result;
  };

  const runBatch = async (mode: RedisBatchMode, specs: CommandSpec[], commands: readonly RedisBatchCommand[]): Promise<RedisBatchEntry[]> => {
    const queued = specs.map((spec, i) => queueError(spec, commands[i].args));
    if (mode === 'multi' && queued.some((e) => e !== null)) {
      throw execAbortError(queued.flatMap((message, i) => (message === null ? [] : [{ command: specs[i].name, message }])));
    }
    const entries: RedisBatchEntry[] = [];
    for (let i = 0; i < specs.length; i++) {
      const refused = queued[i];
      if (refused !== null) {
        entries.push(batchError(refused));
        continue;
      }
      try {
        entries.push(await runMapped(specs[i], [...commands[i].args]));
      } catch (err) {
        entries.push(batchError(err instanceof Error ? err.message : String(err)));
      }
    }
    return entries;
  };

  return {
    kind: 'embedded',
    exec(command: string, args: string[]): Promise<RedisReply> {
      try {
        checkExecArgs(command, args);
        const spec = lookupCommand(command);
        if (closed) throw builtinError('E_REDIS_UNAVAILABLE', 'the embedded Redis store is closed', { command: spec.name });
        return enqueue(() => runMapped(spec, args));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    batch(mode: RedisBatchMode, commands: readonly RedisBatchCommand[]): Promise<RedisBatchEntry[]> {
      try {
        checkBatchArgs(mode, commands);
        const specs = commands.map((c) => lookupCommand(c.command));
        if (closed) throw builtinError('E_REDIS_UNAVAILABLE', 'the embedded Redis store is closed', { command: mode.toUpperCase() });
        // The whole batch takes one slot of the queue: nothing runs between its commands.
        return enqueue(() => runBatch(mode, specs, commands));
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
