/**
 * Type declarations for function authors: the `req` and `ctx` a handler receives, and the
 * platform module `faas` (`response`, `HttpError`). The contract itself is in runtime/README.md.
 *
 * Use it with `/// <reference path="…/faas.d.ts" />` or by listing it in your tsconfig/jsconfig
 * (see runtime/types/README.md). Compile with `"types": []` and `"lib": ["es2024"]`: a function
 * runs in a bare V8 isolate, so Node's and the browser's globals (`process`, `require`,
 * `setTimeout`, `console`, `fetch`, `TextEncoder`, `URL`, …) do not exist there.
 *
 * This file is a global script (no top-level import/export): the `Faas*` names are global, and
 * `declare module 'faas'` makes `import { response, HttpError } from 'faas'` resolve.
 *
 * Kept in sync by hand with runtime/sandbox/isolate-bootstrap.js (ctx, `faas` exports, result
 * encoding) and builtins/redis/commands.ts (the `ctx.redis` allowlist and its reply shapes).
 */

// --- the request ----------------------------------------------------------------------------

/**
 * The HTTP request as the function sees it (`req`). Built by the gateway (runtime/gateway.ts);
 * the object is frozen (its nested objects are plain copies).
 *
 * @typeParam Body what you expect in `body` after validating it; `unknown` by default.
 */
interface FaasRequest<Body = unknown> {
  /** The HTTP method as sent, upper case: `'GET'`, `'POST'`, `'PUT'`, `'DELETE'`, … */
  readonly method: string;
  /**
   * The path after `/fn/{app}/{function}`, percent-decoded, always starting with `/`
   * (`/fn/game1/rooms/42/join?x=1` → `'/42/join'` for function `rooms`; no query string).
   * `/fn/game1/rooms` and `/fn/game1/rooms/` are both `'/'`.
   */
  readonly path: string;
  /** Query parameters: a repeated parameter becomes an array (`?a=1&a=2` → `{ a: ['1', '2'] }`), `?b` → `{ b: '' }`. */
  readonly query: Record<string, string | string[]>;
  /** Request headers with lower-case names; a repeated header is joined with `', '`. */
  readonly headers: Record<string, string>;
  /**
   * Parsed JSON when `content-type` is `application/json` or `application/*+json`; the body as
   * UTF-8 text for any other (or no) content type; `null` when the body is empty. Binary bodies
   * are decoded as UTF-8 too (invalid bytes become U+FFFD): send binary data base64-encoded.
   */
  readonly body: Body;
}

// --- the context ----------------------------------------------------------------------------

/** `ctx.log`: lines captured per invocation and shown by `faas logs`. */
interface FaasLog {
  /**
   * Log one line. Arguments are joined with spaces: strings as they are, `Error`s as their stack,
   * anything else as JSON (`String(value)` when JSON fails). At most 100 lines per invocation
   * (then one `warn` line says the rest were dropped) and 4096 characters per line (longer lines
   * end in `…[truncated]`). Calls after the invocation ended are ignored.
   */
  debug(...args: unknown[]): void;
  /** See `debug`. */
  info(...args: unknown[]): void;
  /** See `debug`. */
  warn(...args: unknown[]): void;
  /** See `debug`. */
  error(...args: unknown[]): void;
}

/** Codes on the errors builtin calls reject with (match on `err.code`, never `instanceof`); every code is in docs/errors.md. */
type FaasBuiltinErrorCode =
  | `E_SQL_${string}`
  | `E_AUTH_${string}`
  | `E_FETCH_${string}`
  | `E_GRPC_${string}`
  | `E_RPC_${string}`
  | `E_CONFIG_${string}`
  | 'E_REDIS_BAD_ARGUMENTS'
  | 'E_REDIS_ERROR'
  | 'E_REDIS_UNAVAILABLE'
  | 'E_REDIS_COMMAND_REFUSED'
  | 'E_CTX_REVOKED'
  | 'E_BAD_ARGUMENTS'
  | 'E_INTERNAL';

/**
 * What a builtin call (`ctx.redis.*`) rejects with: an ordinary `Error` created inside the
 * isolate, with a `code` (see docs/errors.md). Left uncaught, it fails the invocation as
 * 500 `E_FUNCTION_ERROR` with the error's message; catch it to answer differently.
 */
interface FaasBuiltinError extends Error {
  code: FaasBuiltinErrorCode;
}

/** A key of the calling app: a non-empty string of at most 1024 bytes (UTF-8). The platform prefixes it with the app's namespace. */
type FaasRedisKey = string;
/** A value, hash field or set/sorted-set member: a string, or a finite number (sent as its decimal string). At most 512 KiB. */
type FaasRedisValue = string | number;
/** A 64-bit integer: a safe-integer number, or a decimal string for values beyond 2^53. */
type FaasRedisInteger = number | `${bigint}`;
/** A finite number, or a decimal string such as `'1.5'` or `'2e3'`. */
type FaasRedisFloat = number | `${number}`;
/**
 * A score bound: a finite number, `'-inf'`, `'+inf'`, or `'('` before a number for an exclusive
 * bound (`'(10'`). Pass infinities as strings: `Infinity` does not survive the trip to the host
 * (arguments cross as JSON, where it becomes `null`) and is refused.
 */
type FaasRedisScoreBound = number | `${number}` | `(${number}` | '-inf' | '+inf' | 'inf';
/** An option keyword. Case does not matter at run time; the declarations accept upper and lower case. */
type FaasRedisToken<T extends string> = T | Lowercase<T>;
/** `SET` expiry options. */
type FaasRedisSetExpiry = [FaasRedisToken<'EX'>, seconds: FaasRedisInteger] | [FaasRedisToken<'PX'>, milliseconds: FaasRedisInteger];
/** `SET` condition options. */
type FaasRedisSetCondition = [FaasRedisToken<'NX'>] | [FaasRedisToken<'XX'>];
/** `ZADD` options, given before the score/member pairs. */
type FaasRedisZaddOption = FaasRedisToken<'NX'> | FaasRedisToken<'XX'> | FaasRedisToken<'GT'> | FaasRedisToken<'LT'> | FaasRedisToken<'CH'>;
/** `ZRANGEBYSCORE` / `ZREVRANGEBYSCORE` options. `LIMIT offset count`: offset ≥ 0, a negative count means all. */
type FaasRedisByScoreOptions =
  | []
  | [FaasRedisToken<'WITHSCORES'>]
  | [FaasRedisToken<'LIMIT'>, offset: FaasRedisInteger, count: FaasRedisInteger]
  | [FaasRedisToken<'WITHSCORES'>, FaasRedisToken<'LIMIT'>, offset: FaasRedisInteger, count: FaasRedisInteger]
  | [FaasRedisToken<'LIMIT'>, offset: FaasRedisInteger, count: FaasRedisInteger, FaasRedisToken<'WITHSCORES'>];

/** A cursor of SCAN, HSCAN, SSCAN or ZSCAN: `0` to start, then the string the previous call returned (an unsigned 64-bit decimal). */
type FaasRedisCursor = number | string;
/**
 * SCAN-family options, each at most once, in either order: `MATCH pattern` (a Redis glob: `*`, `?`,
 * `[abc]`, `[^a-z]`, `\\` to escape; at most 256 bytes and 8 `*`) and `COUNT n` (1..1000: how many
 * entries one call looks at, default 10).
 */
type FaasRedisScanOptions =
  | []
  | [FaasRedisToken<'MATCH'>, pattern: string]
  | [FaasRedisToken<'COUNT'>, count: FaasRedisInteger]
  | [FaasRedisToken<'MATCH'>, pattern: string, FaasRedisToken<'COUNT'>, count: FaasRedisInteger]
  | [FaasRedisToken<'COUNT'>, count: FaasRedisInteger, FaasRedisToken<'MATCH'>, pattern: string];
/**
 * One page of a SCAN-family iteration: the cursor for the next call (`'0'` when the iteration is
 * over) and what this call found (possibly nothing even when the cursor is not `'0'`; an entry may
 * come twice over a whole iteration).
 */
type FaasRedisScanPage = [cursor: string, items: string[]];

/**
 * The single commands of `ctx.redis` (builtins/redis/commands.ts), one method per command,
 * lower-case names. Keys are namespaced per app: a function cannot reach another app's
 * keys. Replies are what ioredis returns for RESP2: bulk strings → `string`, integers → `number`
 * (beyond 2^53 they lose precision), nil → `null`, arrays → arrays; sorted-set scores are
 * strings in JavaScript's shortest form (`'3.7'`); `hgetall` returns an object.
 *
 * Every method rejects with a `FaasBuiltinError`: `E_REDIS_BAD_ARGUMENTS` (arity, types, sizes:
 * 1024-byte keys, 512 KiB values, 1 MiB and 4096 arguments per command), `E_REDIS_ERROR` (Redis
 * refused it, e.g. `WRONGTYPE`; Redis's message), `E_REDIS_UNAVAILABLE` (no answer within
 * 2000 ms; the command may have run), `E_REDIS_COMMAND_REFUSED` (not allowed, e.g. KEYS, EVAL,
 * FLUSHALL, WATCH: builtins/redis/README.md lists why), `E_BAD_ARGUMENTS` (an argument is not
 * JSON-serialisable, e.g. a BigInt), `E_CTX_REVOKED` (called after the invocation ended).
 * Semantics: https://redis.io/commands.
 */
interface FaasRedisCommands {
  // strings
  /** GET key → the value, or `null` when the key does not exist. */
  get(key: FaasRedisKey): Promise<string | null>;
  /** SET key value [EX seconds | PX milliseconds] → `'OK'`. */
  set(key: FaasRedisKey, value: FaasRedisValue, ...expiry: [] | FaasRedisSetExpiry): Promise<'OK'>;
  /** SET key value … NX | XX (with or without EX/PX, in any order) → `'OK'`, or `null` when the condition failed. */
  set(key: FaasRedisKey, value: FaasRedisValue, ...options: FaasRedisSetCondition | [...FaasRedisSetExpiry, ...FaasRedisSetCondition] | [...FaasRedisSetCondition, ...FaasRedisSetExpiry]): Promise<'OK' | null>;
  /** SETNX key value → 1 when set, 0 when the key existed. */
  setnx(key: FaasRedisKey, value: FaasRedisValue): Promise<0 | 1>;
  /** MGET key [key …] → one value (or `null`) per key. */
  mget(key: FaasRedisKey, ...keys: FaasRedisKey[]): Promise<(string | null)[]>;
  /** MSET key value [key value …] → `'OK'`. Keys and values alternate. */
  mset(key: FaasRedisKey, value: FaasRedisValue, ...keyValues: FaasRedisValue[]): Promise<'OK'>;
  /** STRLEN key → length in bytes (0 for a missing key). */
  strlen(key: FaasRedisKey): Promise<number>;
  /** APPEND key value → the new length. */
  append(key: FaasRedisKey, value: FaasRedisValue): Promise<number>;
  /** INCR key → the new value. */
  incr(key: FaasRedisKey): Promise<number>;
  /** DECR key → the new value. */
  decr(key: FaasRedisKey): Promise<number>;
  /** INCRBY key increment → the new value. */
  incrby(key: FaasRedisKey, increment: FaasRedisInteger): Promise<number>;
  /** DECRBY key decrement → the new value. */
  decrby(key: FaasRedisKey, decrement: FaasRedisInteger): Promise<number>;
  /** INCRBYFLOAT key increment → the new value as a string. */
  incrbyfloat(key: FaasRedisKey, increment: FaasRedisFloat): Promise<string>;

  // keys and expiry
  /** DEL key [key …] → how many keys were removed. */
  del(key: FaasRedisKey, ...keys: FaasRedisKey[]): Promise<number>;
  /** EXISTS key [key …] → how many of the keys exist (a key named twice counts twice). */
  exists(key: FaasRedisKey, ...keys: FaasRedisKey[]): Promise<number>;
  /** EXPIRE key seconds → 1 when the timeout was set, 0 when the key does not exist. */
  expire(key: FaasRedisKey, seconds: FaasRedisInteger): Promise<0 | 1>;
  /** PEXPIRE key milliseconds → 1 when the timeout was set, 0 when the key does not exist. */
  pexpire(key: FaasRedisKey, milliseconds: FaasRedisInteger): Promise<0 | 1>;
  /** TTL key → seconds left; -1 when the key has no expiry, -2 when it does not exist. */
  ttl(key: FaasRedisKey): Promise<number>;
  /** PTTL key → milliseconds left; -1 when the key has no expiry, -2 when it does not exist. */
  pttl(key: FaasRedisKey): Promise<number>;
  /** PERSIST key → 1 when an expiry was removed, else 0. */
  persist(key: FaasRedisKey): Promise<0 | 1>;
  /** RENAME key newkey → `'OK'`; rejects with `E_REDIS_ERROR` ("ERR no such key") when `key` does not exist. */
  rename(key: FaasRedisKey, newkey: FaasRedisKey): Promise<'OK'>;
  /**
   * SCAN cursor [MATCH pattern] [COUNT count] → `[nextCursor, keys]`, over this app's keys only
   * (keys come back as you named them; the pattern cannot reach other apps' keys). Call again
   * with `nextCursor` until it is `'0'`. It walks the whole shared keyspace, so an app with few
   * keys may need many calls: prefer a set or sorted set of the keys you need.
   */
  scan(cursor: FaasRedisCursor, ...options: FaasRedisScanOptions): Promise<FaasRedisScanPage>;

  // hashes
  /** HGET key field → the value, or `null`. */
  hget(key: FaasRedisKey, field: FaasRedisValue): Promise<string | null>;
  /** HSET key field value [field value …] → how many fields were added (updates do not count). */
  hset(key: FaasRedisKey, field: FaasRedisValue, value: FaasRedisValue, ...fieldValues: FaasRedisValue[]): Promise<number>;
  /** HMGET key field [field …] → one value (or `null`) per field. */
  hmget(key: FaasRedisKey, field: FaasRedisValue, ...fields: FaasRedisValue[]): Promise<(string | null)[]>;
  /** HGETALL key → `{ field: value }` (`{}` for a missing key). */
  hgetall(key: FaasRedisKey): Promise<Record<string, string>>;
  /** HDEL key field [field …] → how many fields were removed. */
  hdel(key: FaasRedisKey, field: FaasRedisValue, ...fields: FaasRedisValue[]): Promise<number>;
  /** HINCRBY key field increment → the new value. */
  hincrby(key: FaasRedisKey, field: FaasRedisValue, increment: FaasRedisInteger): Promise<number>;
  /** HINCRBYFLOAT key field increment → the new value as a string. */
  hincrbyfloat(key: FaasRedisKey, field: FaasRedisValue, increment: FaasRedisFloat): Promise<string>;
  /** HEXISTS key field → 1 or 0. */
  hexists(key: FaasRedisKey, field: FaasRedisValue): Promise<0 | 1>;
  /** HLEN key → number of fields. */
  hlen(key: FaasRedisKey): Promise<number>;
  /** HKEYS key → field names. */
  hkeys(key: FaasRedisKey): Promise<string[]>;
  /** HVALS key → values. */
  hvals(key: FaasRedisKey): Promise<string[]>;
  /** HSCAN key cursor [MATCH pattern] [COUNT count] → `[nextCursor, [field, value, …]]`; MATCH applies to fields. */
  hscan(key: FaasRedisKey, cursor: FaasRedisCursor, ...options: FaasRedisScanOptions): Promise<FaasRedisScanPage>;

  // lists
  /** LPUSH key element [element …] → the new length. */
  lpush(key: FaasRedisKey, element: FaasRedisValue, ...elements: FaasRedisValue[]): Promise<number>;
  /** RPUSH key element [element …] → the new length. */
  rpush(key: FaasRedisKey, element: FaasRedisValue, ...elements: FaasRedisValue[]): Promise<number>;
  /** LPOP key → the first element, or `null` when the list is empty. */
  lpop(key: FaasRedisKey): Promise<string | null>;
  /** LPOP key count → up to `count` elements, or `null` when the key does not exist. */
  lpop(key: FaasRedisKey, count: FaasRedisInteger): Promise<string[] | null>;
  /** RPOP key → the last element, or `null` when the list is empty. */
  rpop(key: FaasRedisKey): Promise<string | null>;
  /** RPOP key count → up to `count` elements, or `null` when the key does not exist. */
  rpop(key: FaasRedisKey, count: FaasRedisInteger): Promise<string[] | null>;
  /** LRANGE key start stop → the elements (inclusive; negative indexes count from the end). */
  lrange(key: FaasRedisKey, start: FaasRedisInteger, stop: FaasRedisInteger): Promise<string[]>;
  /** LLEN key → the length. */
  llen(key: FaasRedisKey): Promise<number>;
  /** LTRIM key start stop → `'OK'`. */
  ltrim(key: FaasRedisKey, start: FaasRedisInteger, stop: FaasRedisInteger): Promise<'OK'>;
  /** LREM key count element → how many elements were removed. */
  lrem(key: FaasRedisKey, count: FaasRedisInteger, element: FaasRedisValue): Promise<number>;
  /** LINDEX key index → the element, or `null`. */
  lindex(key: FaasRedisKey, index: FaasRedisInteger): Promise<string | null>;

  // sets
  /** SADD key member [member …] → how many members were added. */
  sadd(key: FaasRedisKey, member: FaasRedisValue, ...members: FaasRedisValue[]): Promise<number>;
  /** SREM key member [member …] → how many members were removed. */
  srem(key: FaasRedisKey, member: FaasRedisValue, ...members: FaasRedisValue[]): Promise<number>;
  /** SMEMBERS key → the members (as strings, in no particular order). */
  smembers(key: FaasRedisKey): Promise<string[]>;
  /** SISMEMBER key member → 1 or 0. */
  sismember(key: FaasRedisKey, member: FaasRedisValue): Promise<0 | 1>;
  /** SCARD key → number of members. */
  scard(key: FaasRedisKey): Promise<number>;
  /** SSCAN key cursor [MATCH pattern] [COUNT count] → `[nextCursor, members]`. */
  sscan(key: FaasRedisKey, cursor: FaasRedisCursor, ...options: FaasRedisScanOptions): Promise<FaasRedisScanPage>;

  // sorted sets
  /** ZADD key score member [score member …] → how many members were added. */
  zadd(key: FaasRedisKey, score: FaasRedisFloat, member: FaasRedisValue, ...scoreMembers: FaasRedisValue[]): Promise<number>;
  /** ZADD key [NX | XX] [GT | LT] [CH] score member [score member …] → added (or with CH, changed) members. */
  zadd(key: FaasRedisKey, option: FaasRedisZaddOption, ...optionsAndScoreMembers: (FaasRedisZaddOption | FaasRedisFloat | FaasRedisValue)[]): Promise<number>;
  /** ZINCRBY key increment member → the new score as a string. */
  zincrby(key: FaasRedisKey, increment: FaasRedisFloat, member: FaasRedisValue): Promise<string>;
  /** ZSCORE key member → the score as a string, or `null`. */
  zscore(key: FaasRedisKey, member: FaasRedisValue): Promise<string | null>;
  /** ZMSCORE key member [member …] → one score (or `null`) per member. */
  zmscore(key: FaasRedisKey, member: FaasRedisValue, ...members: FaasRedisValue[]): Promise<(string | null)[]>;
  /** ZRANK key member → 0-based rank by ascending score, or `null`. */
  zrank(key: FaasRedisKey, member: FaasRedisValue): Promise<number | null>;
  /** ZREVRANK key member → 0-based rank by descending score, or `null`. */
  zrevrank(key: FaasRedisKey, member: FaasRedisValue): Promise<number | null>;
  /** ZRANGE key start stop [WITHSCORES] → members by ascending score; with WITHSCORES a flat `[member, score, …]` array. */
  zrange(key: FaasRedisKey, start: FaasRedisInteger, stop: FaasRedisInteger, ...withScores: [] | [FaasRedisToken<'WITHSCORES'>]): Promise<string[]>;
  /** ZREVRANGE key start stop [WITHSCORES] → members by descending score; with WITHSCORES a flat `[member, score, …]` array. */
  zrevrange(key: FaasRedisKey, start: FaasRedisInteger, stop: FaasRedisInteger, ...withScores: [] | [FaasRedisToken<'WITHSCORES'>]): Promise<string[]>;
  /** ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count] → members with min ≤ score ≤ max, ascending. */
  zrangebyscore(key: FaasRedisKey, min: FaasRedisScoreBound, max: FaasRedisScoreBound, ...options: FaasRedisByScoreOptions): Promise<string[]>;
  /** ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count] → members with max ≥ score ≥ min, descending. */
  zrevrangebyscore(key: FaasRedisKey, max: FaasRedisScoreBound, min: FaasRedisScoreBound, ...options: FaasRedisByScoreOptions): Promise<string[]>;
  /** ZREM key member [member …] → how many members were removed. */
  zrem(key: FaasRedisKey, member: FaasRedisValue, ...members: FaasRedisValue[]): Promise<number>;
  /** ZCARD key → number of members. */
  zcard(key: FaasRedisKey): Promise<number>;
  /** ZCOUNT key min max → how many members have min ≤ score ≤ max. */
  zcount(key: FaasRedisKey, min: FaasRedisScoreBound, max: FaasRedisScoreBound): Promise<number>;
  /** ZSCAN key cursor [MATCH pattern] [COUNT count] → `[nextCursor, [member, score, …]]` (scores as strings); MATCH applies to members. */
  zscan(key: FaasRedisKey, cursor: FaasRedisCursor, ...options: FaasRedisScanOptions): Promise<FaasRedisScanPage>;
}

/** What each single command answers (the reply of its method), by lower-case name. */
type FaasRedisReplies = {
  [K in keyof FaasRedisCommands]: K extends 'lpop' | 'rpop' ? string | string[] | null : Awaited<ReturnType<FaasRedisCommands[K]>>;
};
/** A command name for `multi`/`pipeline`, in lower or upper case. */
type FaasRedisCommandName = keyof FaasRedisReplies | Uppercase<keyof FaasRedisReplies>;
/**
 * One command of a `multi`/`pipeline` batch: `[name, ...args]`, e.g. `['expire', 'visits', 60]`.
 * Arguments are checked at run time exactly as for the single method.
 */
type FaasRedisCommand = readonly [command: FaasRedisCommandName, ...args: FaasRedisValue[]];
/**
 * The entry of a batch reply for a command Redis refused while running it (e.g. `WRONGTYPE`); the
 * other commands still ran. Tell it from an `hgetall` reply (also an object) by `typeof
 * entry.error === 'object'`: hash values are always strings.
 */
interface FaasRedisCommandError {
  error: { code: 'E_REDIS_ERROR'; message: string };
}
/** The reply of a batch: per command, its reply or a `FaasRedisCommandError`. */
type FaasRedisBatchReplies<C extends readonly FaasRedisCommand[]> = {
  -readonly [I in keyof C]: C[I] extends readonly [infer N extends string, ...unknown[]]
    ? (Lowercase<N> extends keyof FaasRedisReplies ? FaasRedisReplies[Lowercase<N>] : never) | FaasRedisCommandError
    : never;
};

/**
 * `ctx.redis`: every single command of `FaasRedisCommands`, plus `multi` and `pipeline`, which
 * send several commands at once. A batch holds at most 1000 commands, and its arguments together
 * stay within the limits of one command (4096 arguments, 1 MiB). Every command in it is checked
 * before anything is sent: one bad command rejects the whole call with `E_REDIS_BAD_ARGUMENTS`
 * or `E_REDIS_COMMAND_REFUSED`, naming its index (`MULTI: command at index 1 (INCRBY) of 2 was
 * refused, nothing was sent: …`). MULTI and PIPELINE cannot be nested.
 */
interface FaasRedis extends FaasRedisCommands {
  /**
   * MULTI … EXEC: runs the commands atomically (no other client's command runs in between) and
   * resolves to their replies, converted as the single methods convert them.
   * As in Redis, a command that fails while running (e.g. `WRONGTYPE`) does not undo the others:
   * its entry is `{ error: { code: 'E_REDIS_ERROR', message } }` and the rest ran. When Redis
   * discards the whole transaction before running it (EXECABORT), the call rejects with
   * `E_REDIS_ERROR` and nothing ran. On `E_REDIS_UNAVAILABLE` it ran entirely or not at all.
   * @example const [visits] = await ctx.redis.multi(['incr', 'visits'], ['expire', 'visits', 60]);
   */
  multi<const C extends readonly FaasRedisCommand[]>(...commands: C): Promise<FaasRedisBatchReplies<C>>;
  /**
   * Sends the commands in one round trip, in order, without atomicity (another client's command
   * may run between two of them), and resolves to one entry per command: its reply, or
   * `{ error: { code: 'E_REDIS_ERROR', message } }` for a command Redis refused. On
   * `E_REDIS_UNAVAILABLE`, some of the commands may have run.
   * @example const [name, score] = await ctx.redis.pipeline(['hget', 'player:7', 'name'], ['zscore', 'board', '7']);
   */
  pipeline<const C extends readonly FaasRedisCommand[]>(...commands: C): Promise<FaasRedisBatchReplies<C>>;
}

/**
 * The per-invocation context (`ctx`), frozen. Builtins are bound to the calling app. After the
 * invocation ends, builtin calls reject with `E_CTX_REVOKED` and log calls are ignored.
 */
interface FaasContext {
  /** The app (tenant) this function belongs to. */
  readonly app: string;
  /** The function's name. */
  readonly function: string;
  /** The immutable version id (a content hash) that is running. */
  readonly version: string;
  /** The alias the request was resolved through (`'prod'` by default, `x-faas-alias`); `''` when the caller pinned a version with `x-faas-version`. */
  readonly alias: string;
  /** The request id: the caller's `x-request-id` when it matches `^[A-Za-z0-9._:-]{1,128}$`, else a random UUID. Sent back as `x-faas-request-id`. */
  readonly requestId: string;
  /**
   * Epoch milliseconds at which the wall-clock budget runs out, computed when the gateway received
   * the request (`Date.now() + wallTimeMs`). The invocation is stopped at this time or slightly
   * later (the watchdog's clock starts when the handler is dispatched).
   */
  readonly deadline: number;
  /**
   * The signed-in player, verified by the gateway from `Authorization: Bearer <token>` (a token
   * from `ctx.auth.issue` of this app) before the function runs; `null` without a token. With
   * `"auth": "required"` in function.json the gateway answers 401 instead of running the function.
   */
  readonly user: FaasUser | null;
  readonly log: FaasLog;
  readonly redis: FaasRedis;
  /** The app's own SQL database (SQLite file or MySQL database + user of its own). See builtins/sql/README.md. */
  readonly sql: FaasSql;
  /** Player tokens of this app (HS256 JWTs, per-app key, rotation without sign-outs). See builtins/auth/README.md. */
  readonly auth: FaasAuth;
  /** Calls to other code: functions of this app (`call`) and gRPC services declared in the app's settings (`grpc`). */
  readonly rpc: FaasRpc;
  /**
   * Outbound HTTP to hosts on the app's `fetchAllowlist` (a subset of the Fetch API; private and
   * metadata addresses are refused after DNS, on every redirect). See builtins/fetch/README.md.
   */
  fetch(url: string, init?: FaasFetchInit): Promise<FaasFetchResponse>;
  /** Per-function config values and secrets, set with `faas config set` / `faas secrets set`. */
  readonly config: FaasConfig;
  /** Business metrics, exported by the platform's /metrics as `faas_app_<app>_<name>{app,...labels}`. */
  readonly metrics: FaasMetrics;
}

/** A verified player. */
interface FaasUser {
  readonly id: string;
  /** The custom claims given to `ctx.auth.issue` (reserved JWT names are not included). */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** A row as returned by `ctx.sql.query`: column name → value. */
type FaasSqlRow = Record<string, string | number | null>;
/** A `?` parameter. */
type FaasSqlParam = string | number | boolean | null;
/** Statements run in one transaction (`ctx.sql.transaction`). */
interface FaasSqlTx {
  query(text: string, params?: FaasSqlParam[]): Promise<FaasSqlRow[]>;
  execute(text: string, params?: FaasSqlParam[]): Promise<{ affectedRows: number; insertId: number | string | null }>;
}
/**
 * `ctx.sql`: one statement per call, values only through `?` parameters, 2 s timeout and 10,000
 * rows per query by default (errors `E_SQL_*`, see docs/errors.md). Another app's database,
 * files (`LOAD_FILE`, `INTO OUTFILE`), `USE`/`ATTACH` are refused.
 */
interface FaasSql extends FaasSqlTx {
  /** Run `fn(tx)` in one transaction: committed when it resolves, rolled back when it throws (and when the invocation ends). */
  transaction<T>(fn: (tx: FaasSqlTx) => Promise<T>): Promise<T>;
}

/** `ctx.auth`. */
interface FaasAuth {
  /** Sign a token for `userId` (1–256 characters). `ttlS` 60 s to 30 days (default 1 day); `claims` a JSON object ≤ 4 KiB. */
  issue(userId: string, options?: { ttlS?: number; claims?: Record<string, unknown> }): Promise<{ token: string; expiresAt: string }>;
  /** Verify a token of this app (e.g. sent in a body); rejects with `E_AUTH_INVALID` saying which check failed. */
  verify(token: string): Promise<FaasUser>;
}

/** `ctx.rpc`. */
interface FaasRpc {
  /**
   * Call a function of this app (`'name'` or `'name@alias'`, default alias prod) with `payload` as
   * its JSON body (POST `/`, header `x-faas-caller`), inside this invocation's deadline, with this
   * invocation's `ctx.user`. Resolves to what the callee returned; rejects with `E_RPC_FAILED`
   * (callee error status), `E_RPC_NOT_FOUND`, `E_RPC_CYCLE` (A → B → A), `E_RPC_DEPTH` (> 8).
   */
  call<T = unknown>(fn: string, payload?: unknown): Promise<T>;
  /**
   * Call unary `method` of a gRPC service declared in the app's settings (`grpcServices`), with
   * `message` as JSON (field names as in the proto). Idempotent methods are retried with backoff;
   * a circuit breaker per target fails fast while it is down. See builtins/grpc/README.md.
   */
  grpc<T = Record<string, unknown>>(service: string, method: string, message?: Record<string, unknown>, options?: { deadlineMs?: number; metadata?: Record<string, string> }): Promise<T>;
}

/** `ctx.fetch` request options (the supported subset). */
interface FaasFetchInit {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  /** A string, or an object sent as JSON. */
  body?: string | Record<string, unknown> | unknown[];
  redirect?: 'follow' | 'manual' | 'error';
}
/** `ctx.fetch` response (read-only subset of the Fetch API's Response). */
interface FaasFetchResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly url: string;
  readonly redirected: boolean;
  readonly bodyUsed: boolean;
  readonly headers: { get(name: string): string | null; has(name: string): boolean; entries(): [string, string][] };
  text(): Promise<string>;
  json<T = unknown>(): Promise<T>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** `ctx.config`. */
interface FaasConfig {
  /** A config value, or null when unset. */
  get(name: string): Promise<string | null>;
  /** A secret, or null when unset. Its value is redacted (`[secret]`) from this function's log lines and error messages. */
  secret(name: string): Promise<string | null>;
  /** Every config value (not secrets). */
  all(): Promise<Record<string, string>>;
}

/**
 * `ctx.metrics`: samples are recorded with the invocation's answer (no I/O). A `name` is
 * `[a-z][a-z0-9_]{0,62}`; labels are at most 5, names `[a-z][a-z0-9_]{0,31}` (not `app`), values
 * strings ≤ 128 characters. A name keeps the kind and label names of its first sample. Per app at
 * most 50 names and 1,000 label combinations; at most 1,000 samples per invocation. Malformed
 * samples are dropped with a `warn` log line.
 */
interface FaasMetrics {
  /** Add `value` (default 1, must be ≥ 0) to a counter. */
  counter(name: string, value?: number, labels?: Record<string, string>): void;
  /** Set a gauge to `value`. */
  gauge(name: string, value: number, labels?: Record<string, string>): void;
  /** Observe `value` in a histogram (Prometheus default buckets, 5 ms … 10 s: use seconds). */
  histogram(name: string, value: number, labels?: Record<string, string>): void;
}

// --- the answer -----------------------------------------------------------------------------

/**
 * A body for `response()`: a string (sent as `text/plain; charset=utf-8`), a `Uint8Array` or
 * `ArrayBuffer` (sent as `application/octet-stream`), `undefined` (no body), or any other
 * JSON-serialisable value (sent as `application/json`). Other typed arrays are not binary: they
 * are sent as JSON objects. A value `JSON.stringify` rejects (cycles, BigInt, functions) fails
 * with 502 `E_BAD_RESPONSE`.
 */
type FaasResponseBody = string | number | boolean | null | undefined | object;

/** Status and headers for `response()`. */
interface FaasResponseInit {
  /** An integer from 200 to 599 (anything else fails with 502 `E_BAD_RESPONSE`). @default 200 */
  status?: number;
  /**
   * Header names must be HTTP tokens and values must not contain CR, LF or NUL (else 502
   * `E_BAD_RESPONSE`); values are converted with `String()`, names are lower-cased. A
   * `content-type` here replaces the one chosen from the body. The platform's headers are
   * dropped silently: content-length, transfer-encoding, connection, keep-alive, upgrade,
   * trailer, te, proxy-connection, x-faas-request-id, x-faas-version.
   */
  headers?: Record<string, string | number | boolean>;
}

/** What `response()` returns (a frozen object); return it from the handler. */
interface FaasResponse<Body extends FaasResponseBody = FaasResponseBody> {
  readonly body: Body;
  readonly status: number;
  readonly headers: Record<string, string | number | boolean>;
}

/**
 * What a handler may return: a `FaasResponse`; `undefined` (or nothing) for 204 No Content; or a
 * JSON-serialisable value, sent as 200 `application/json` (a string is sent as a JSON string).
 */
type FaasResult = FaasResponseBody | void;

/**
 * The module's default export: `export default async function handler(req, ctx) { … }`.
 * It may also be a plain (non-async) function. Throw an `HttpError` to answer with an error status.
 */
type FaasHandler<Body = unknown> = (req: FaasRequest<Body>, ctx: FaasContext) => FaasResult | Promise<FaasResult>;

// --- the platform module ---------------------------------------------------------------------

/** The only module a function can import. */
declare module 'faas' {
  /**
   * Build a response with a status and headers.
   * @param body see `FaasResponseBody` for how each kind of body is sent
   * @param init status (default 200) and headers
   * @example return response('created', { status: 201, headers: { location: '/rooms/42' } });
   */
  export function response<Body extends FaasResponseBody>(body: Body, init?: FaasResponseInit | null): FaasResponse<Body>;

  /**
   * Throw to answer with an error status and a body `{ "error": { "code", "message" } }`.
   * A status outside 400–599 is sent as 500 (with the same code and message).
   * @example throw new HttpError(404, 'room not found', { code: 'ROOM_NOT_FOUND' });
   */
  export class HttpError extends Error {
    /**
     * @param status HTTP status, 400–599
     * @param message sent to the client as `error.message` @default `'HTTP ' + status`
     * @param options.code sent as `error.code` @default `'HTTP_' + status`
     */
    constructor(status: number, message?: string, options?: { code?: string });
    name: 'HttpError';
    status: number;
    code: string;
    /** Always `true`: the message is meant for the client. */
    expose: true;
  }

  /** The default export: `{ response, HttpError }` (frozen). */
  const faas: { readonly response: typeof response; readonly HttpError: typeof HttpError };
  export default faas;

  /** For JSDoc: `/** @type {import('faas').Handler} *\/`. */
  export type Handler<Body = unknown> = FaasHandler<Body>;
  export type Request<Body = unknown> = FaasRequest<Body>;
  export type Context = FaasContext;
  export type Log = FaasLog;
  export type Redis = FaasRedis;
  export type BuiltinError = FaasBuiltinError;
  export type ResponseInit = FaasResponseInit;
  export type Response<Body extends FaasResponseBody = FaasResponseBody> = FaasResponse<Body>;
  export type Result = FaasResult;
}
