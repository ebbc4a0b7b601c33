/**
 * The `ctx.redis` command allowlist: every command a function may run, with its argument
 * grammar. The grammar says, for each argument position, what it is — a key (namespaced by
 * `namespace.ts`), a value, an integer, a float, a score bound or an option token — so one table
 * gives arity bounds, key positions, type checks and usage lines. Anything not in the table is
 * refused with `E_REDIS_COMMAND_REFUSED`, naming the command and saying why. MULTI and PIPELINE
 * are not in the table: they are batches of table commands (`host.ts`), never sent as commands.
 *
 * Semantics follow the Redis command reference (redis.io/commands); where Redis accepts more
 * (e.g. ZRANGE BYSCORE, SET KEEPTTL/GET/EXAT, infinite ZADD scores, SCAN TYPE) this accepts a
 * documented subset so the embedded store can match real Redis exactly.
 */
import { builtinError } from '../errors.ts';
import type { RedisBatchMode } from './reply.ts';

/** Most commands in one `ctx.redis.multi(...)` or `ctx.redis.pipeline(...)` call (host option `maxBatchCommands` defaults to it). */
export const MAX_BATCH_COMMANDS = 1000;

/** Largest `COUNT` of SCAN, HSCAN, SSCAN and ZSCAN: the work one call may make Redis do (redis.io/commands/scan, "The COUNT option"). */
export const MAX_SCAN_COUNT = 1000;

/** Longest `MATCH` pattern of the SCAN family, in UTF-8 bytes (before the app prefix). */
export const MAX_PATTERN_BYTES = 256;

/**
 * Most `*` wildcards in one `MATCH` pattern. Redis matches globs recursively; before 6.2.11 /
 * 7.0.9 a pattern with many `*` could keep the shared server busy for seconds (CVE-2022-36021),
 * and even fixed versions pay per wildcard for every key they visit.
 */
export const MAX_PATTERN_STARS = 8;

/**
 * The pseudo-commands that send several commands at once: MULTI/EXEC (atomic) and a pipeline (one
 * round trip). Each is the upper-case name of a `RedisBatchMode`.
 */
export const BATCH_COMMANDS: readonly Uppercase<RedisBatchMode>[] = Object.freeze(['MULTI', 'PIPELINE'] as const);

/** A name of `BATCH_COMMANDS`, in any case. */
const BATCH_NAME = new RegExp(`^(${BATCH_COMMANDS.join('|')})$`, 'i');

/**
 * What one argument is:
 * - `key`: a key of the calling app (string, 1..1024 bytes), prefixed before it reaches Redis;
 * - `value`: a string or finite number (sent as its decimal string), at most `maxValueBytes`;
 *   hash fields and set/zset members are values too;
 * - `int`: an integer in the signed 64-bit range (number or decimal string);
 * - `count`: an integer ≥ 0; `posint`: an integer ≥ 1 (e.g. `SET … EX seconds`);
 * - `float`: a finite number (number or decimal string such as `"1.5"`, `"2e3"`);
 * - `bound`: a score range bound: a number, `-inf`, `+inf`, or `(` + number for an exclusive bound;
 * - `token`: an option keyword such as `WITHSCORES` (only produced by option grammars);
 * - `cursor`: a SCAN-family cursor: an unsigned 64-bit integer (number or decimal string), `0` to start;
 * - `keypattern`: SCAN's `MATCH` glob over the app's keys; the host puts the app prefix, escaped so
 *   it matches only itself, before it (at most `MAX_PATTERN_BYTES`, `MAX_PATTERN_STARS`);
 * - `pattern`: HSCAN/SSCAN/ZSCAN's `MATCH` glob over fields or members (same limits, not prefixed);
 * - `scancount`: a SCAN-family `COUNT`: an integer 1..`MAX_SCAN_COUNT`.
 */
export type ArgKind = 'key' | 'value' | 'int' | 'count' | 'posint' | 'float' | 'bound' | 'token' | 'cursor' | 'keypattern' | 'pattern' | 'scancount';

/** The Redis data type a command works on; `any` means it works on (or replaces) every type. */
export type KeyType = 'string' | 'hash' | 'list' | 'set' | 'zset' | 'any';

/** Option keywords a command accepts (each at most once), with the kinds of the arguments that follow each. */
export interface OptionGrammar {
  /** Upper-case keyword → kinds of the arguments that follow it (e.g. `EX: ['posint']`). */
  readonly tokens: Readonly<Record<string, readonly ArgKind[]>>;
  /** Groups of keywords that cannot be combined (e.g. `[['NX', 'XX']]`). */
  readonly exclusive?: readonly (readonly string[])[];
}

/** One allowlisted command. */
export interface CommandSpec {
  /** Upper-case command name, e.g. `ZINCRBY`. */
  readonly name: string;
  /** Section of the README it is listed under. */
  readonly group: 'strings' | 'keys' | 'hashes' | 'lists' | 'sets' | 'sorted sets';
  /** The data type of its keys (used for WRONGTYPE checks by the embedded store). */
  readonly keyType: KeyType;
  /** Usage line after the command name, Redis-reference style. */
  readonly usage: string;
  /** Leading required arguments. */
  readonly params: readonly ArgKind[];
  /** Option keywords accepted right after `params` (ZADD's NX/XX/GT/LT/CH). */
  readonly leadingOptions?: OptionGrammar;
  /** A group repeated after `params`, at least `minRepeat` times (e.g. MSET's key value pairs). */
  readonly repeat?: readonly ArgKind[];
  /** Minimum repetitions of `repeat` (default 0). */
  readonly minRepeat?: number;
  /** Optional trailing arguments, each may be omitted from the end (LPOP's count). */
  readonly optional?: readonly ArgKind[];
  /** Option keywords accepted at the end (SET's EX/PX/NX/XX, ZRANGE's WITHSCORES). */
  readonly options?: OptionGrammar;
  /**
   * `map`: the flat field/value reply is returned to functions as an object (like ioredis's
   * `hgetall`). `scan-keys` (SCAN): the reply is `[cursor, keys]` and the app prefix is stripped
   * from every key (a key outside the app's namespace is dropped, never shown); the `MATCH`
   * pattern is confined to the app's keys, and without `MATCH` the host adds
   * `MATCH <escaped prefix>*`, so SCAN never returns another app's keys.
   */
  readonly reply?: 'map' | 'scan-keys';
  /**
   * Where the reply holds sorted-set scores, which `host.ts` rewrites in JavaScript's shortest
   * form (`"3.7"`, not Redis 7.0's `"3.7000000000000002"`), so every Redis version and the
   * embedded store answer alike: `value` (the reply is a score), `array` (each element is one),
   * `withscores` (every second element, when WITHSCORES was given), `scan` (every second element
   * of the `[cursor, [member, score, …]]` reply of ZSCAN).
   */
  readonly scoreReply?: 'value' | 'array' | 'withscores' | 'scan';
}

type SpecInput = Omit<CommandSpec, 'name'>;

const K = 'key', V = 'value', I = 'int';

const SET_OPTIONS: OptionGrammar = { tokens: { EX: ['posint'], PX: ['posint'], NX: [], XX: [] }, exclusive: [['EX', 'PX'], ['NX', 'XX']] };
const WITHSCORES: OptionGrammar = { tokens: { WITHSCORES: [] } };
const BYSCORE_OPTIONS: OptionGrammar = { tokens: { WITHSCORES: [], LIMIT: ['count', 'int'] } };
const SCAN_KEYS_OPTIONS: OptionGrammar = { tokens: { MATCH: ['keypattern'], COUNT: ['scancount'] } };
const SCAN_MEMBERS_OPTIONS: OptionGrammar = { tokens: { MATCH: ['pattern'], COUNT: ['scancount'] } };
const ZADD_OPTIONS: OptionGrammar = {
  tokens: { NX: [], XX: [], GT: [], LT: [], CH: [] },
  exclusive: [['NX', 'XX'], ['GT', 'LT'], ['NX', 'GT'], ['NX', 'LT']],
};

const TABLE: Record<string, SpecInput> = {
  // strings
  GET: { group: 'strings', keyType: 'string', usage: 'key', params: [K] },
  SET: { group: 'strings', keyType: 'any', usage: 'key value [EX seconds | PX milliseconds] [NX | XX]', params: [K, V], options: SET_OPTIONS },
  SETNX: { group: 'strings', keyType: 'any', usage: 'key value', params: [K, V] },
  MGET: { group: 'strings', keyType: 'any', usage: 'key [key ...]', params: [K], repeat: [K] },
  MSET: { group: 'strings', keyType: 'any', usage: 'key value [key value ...]', params: [K, V], repeat: [K, V] },
  STRLEN: { group: 'strings', keyType: 'string', usage: 'key', params: [K] },
  APPEND: { group: 'strings', keyType: 'string', usage: 'key value', params: [K, V] },
  INCR: { group: 'strings', keyType: 'string', usage: 'key', params: [K] },
  DECR: { group: 'strings', keyType: 'string', usage: 'key', params: [K] },
  INCRBY: { group: 'strings', keyType: 'string', usage: 'key increment', params: [K, I] },
  DECRBY: { group: 'strings', keyType: 'string', usage: 'key decrement', params: [K, I] },
  INCRBYFLOAT: { group: 'strings', keyType: 'string', usage: 'key increment', params: [K, 'float'] },
  // keys and expiry
  DEL: { group: 'keys', keyType: 'any', usage: 'key [key ...]', params: [K], repeat: [K] },
  EXISTS: { group: 'keys', keyType: 'any', usage: 'key [key ...]', params: [K], repeat: [K] },
  EXPIRE: { group: 'keys', keyType: 'any', usage: 'key seconds', params: [K, I] },
  PEXPIRE: { group: 'keys', keyType: 'any', usage: 'key milliseconds', params: [K, I] },
  TTL: { group: 'keys', keyType: 'any', usage: 'key', params: [K] },
  PTTL: { group: 'keys', keyType: 'any', usage: 'key', params: [K] },
  PERSIST: { group: 'keys', keyType: 'any', usage: 'key', params: [K] },
  RENAME: { group: 'keys', keyType: 'any', usage: 'key newkey', params: [K, K] },
  SCAN: { group: 'keys', keyType: 'any', usage: 'cursor [MATCH pattern] [COUNT count]', params: ['cursor'], options: SCAN_KEYS_OPTIONS, reply: 'scan-keys' },
  // hashes
  HGET: { group: 'hashes', keyType: 'hash', usage: 'key field', params: [K, V] },
  HSET: { group: 'hashes', keyType: 'hash', usage: 'key field value [field value ...]', params: [K, V, V], repeat: [V, V] },
  HMGET: { group: 'hashes', keyType: 'hash', usage: 'key field [field ...]', params: [K, V], repeat: [V] },
  HGETALL: { group: 'hashes', keyType: 'hash', usage: 'key', params: [K], reply: 'map' },
  HDEL: { group: 'hashes', keyType: 'hash', usage: 'key field [field ...]', params: [K, V], repeat: [V] },
  HINCRBY: { group: 'hashes', keyType: 'hash', usage: 'key field increment', params: [K, V, I] },
  HINCRBYFLOAT: { group: 'hashes', keyType: 'hash', usage: 'key field increment', params: [K, V, 'float'] },
  HEXISTS: { group: 'hashes', keyType: 'hash', usage: 'key field', params: [K, V] },
  HLEN: { group: 'hashes', keyType: 'hash', usage: 'key', params: [K] },
  HKEYS: { group: 'hashes', keyType: 'hash', usage: 'key', params: [K] },
  HVALS: { group: 'hashes', keyType: 'hash', usage: 'key', params: [K] },
  HSCAN: { group: 'hashes', keyType: 'hash', usage: 'key cursor [MATCH pattern] [COUNT count]', params: [K, 'cursor'], options: SCAN_MEMBERS_OPTIONS },
  // lists
  LPUSH: { group: 'lists', keyType: 'list', usage: 'key element [element ...]', params: [K, V], repeat: [V] },
  RPUSH: { group: 'lists', keyType: 'list', usage: 'key element [element ...]', params: [K, V], repeat: [V] },
  LPOP: { group: 'lists', keyType: 'list', usage: 'key [count]', params: [K], optional: ['count'] },
  RPOP: { group: 'lists', keyType: 'list', usage: 'key [count]', params: [K], optional: ['count'] },
  LRANGE: { group: 'lists', keyType: 'list', usage: 'key start stop', params: [K, I, I] },
  LLEN: { group: 'lists', keyType: 'list', usage: 'key', params: [K] },
  LTRIM: { group: 'lists', keyType: 'list', usage: 'key start stop', params: [K, I, I] },
  LREM: { group: 'lists', keyType: 'list', usage: 'key count element', params: [K, I, V] },
  LINDEX: { group: 'lists', keyType: 'list', usage: 'key index', params: [K, I] },
  // sets
  SADD: { group: 'sets', keyType: 'set', usage: 'key member [member ...]', params: [K, V], repeat: [V] },
  SREM: { group: 'sets', keyType: 'set', usage: 'key member [member ...]', params: [K, V], repeat: [V] },
  SMEMBERS: { group: 'sets', keyType: 'set', usage: 'key', params: [K] },
  SISMEMBER: { group: 'sets', keyType: 'set', usage: 'key member', params: [K, V] },
  SCARD: { group: 'sets', keyType: 'set', usage: 'key', params: [K] },
  SSCAN: { group: 'sets', keyType: 'set', usage: 'key cursor [MATCH pattern] [COUNT count]', params: [K, 'cursor'], options: SCAN_MEMBERS_OPTIONS },
  // sorted sets
  ZADD: { group: 'sorted sets', keyType: 'zset', usage: 'key [NX | XX] [GT | LT] [CH] score member [score member ...]', params: [K], leadingOptions: ZADD_OPTIONS, repeat: ['float', V], minRepeat: 1 },
  ZINCRBY: { group: 'sorted sets', keyType: 'zset', usage: 'key increment member', params: [K, 'float', V], scoreReply: 'value' },
  ZSCORE: { group: 'sorted sets', keyType: 'zset', usage: 'key member', params: [K, V], scoreReply: 'value' },
  ZMSCORE: { group: 'sorted sets', keyType: 'zset', usage: 'key member [member ...]', params: [K, V], repeat: [V], scoreReply: 'array' },
  ZRANK: { group: 'sorted sets', keyType: 'zset', usage: 'key member', params: [K, V] },
  ZREVRANK: { group: 'sorted sets', keyType: 'zset', usage: 'key member', params: [K, V] },
  ZRANGE: { group: 'sorted sets', keyType: 'zset', usage: 'key start stop [WITHSCORES]', params: [K, I, I], options: WITHSCORES, scoreReply: 'withscores' },
  ZREVRANGE: { group: 'sorted sets', keyType: 'zset', usage: 'key start stop [WITHSCORES]', params: [K, I, I], options: WITHSCORES, scoreReply: 'withscores' },
  ZRANGEBYSCORE: { group: 'sorted sets', keyType: 'zset', usage: 'key min max [WITHSCORES] [LIMIT offset count]', params: [K, 'bound', 'bound'], options: BYSCORE_OPTIONS, scoreReply: 'withscores' },
  ZREVRANGEBYSCORE: { group: 'sorted sets', keyType: 'zset', usage: 'key max min [WITHSCORES] [LIMIT offset count]', params: [K, 'bound', 'bound'], options: BYSCORE_OPTIONS, scoreReply: 'withscores' },
  ZREM: { group: 'sorted sets', keyType: 'zset', usage: 'key member [member ...]', params: [K, V], repeat: [V] },
  ZCARD: { group: 'sorted sets', keyType: 'zset', usage: 'key', params: [K] },
  ZCOUNT: { group: 'sorted sets', keyType: 'zset', usage: 'key min max', params: [K, 'bound', 'bound'] },
  ZSCAN: { group: 'sorted sets', keyType: 'zset', usage: 'key cursor [MATCH pattern] [COUNT count]', params: [K, 'cursor'], options: SCAN_MEMBERS_OPTIONS, scoreReply: 'scan' },
};

/** The allowlist, keyed by upper-case command name. Frozen. */
export const COMMANDS: Readonly<Record<string, CommandSpec>> = Object.freeze(
  Object.fromEntries(Object.entries(TABLE).map(([name, spec]) => [name, Object.freeze({ name, ...spec })])),
);

/**
 * Every name a function may call, sorted: the single commands of `COMMANDS` plus the batch
 * pseudo-commands MULTI and PIPELINE. The isolate exposes one `ctx.redis.<lower-case name>` per entry.
 */
export const ALLOWED_COMMANDS: readonly string[] = Object.freeze([...Object.keys(COMMANDS), ...BATCH_COMMANDS].sort());

/**
 * Whether a name the function called is a batch: one of `BATCH_COMMANDS`, in any case.
 * @param command the name as the function wrote it, e.g. `"multi"` or `"zincrby"`
 * @returns the batch's mode (`multi` or `pipeline`, as `RedisBackend.batch` takes it), or `null`
 *   for anything else
 */
export function batchCommand(command: unknown): RedisBatchMode | null {
  return typeof command === 'string' && BATCH_NAME.test(command) ? (command.toLowerCase() as RedisBatchMode) : null;
}

/** Why well-known commands are refused (names, reason); anything else unknown gets a generic reason. */
const REFUSAL_REASONS: ReadonlyArray<readonly [readonly string[], string]> = Object.freeze([
  [['KEYS', 'RANDOMKEY', 'DBSIZE'], 'it walks the whole Redis keyspace, which every app shares; use SCAN (it only returns your app\'s keys) or keep the keys you need in a set or sorted set'],
  [['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'SCRIPT', 'FUNCTION', 'FCALL', 'FCALL_RO'], 'scripts could reach keys outside your app\'s namespace; use ctx.redis.multi(...) to run several commands atomically'],
  [['FLUSHALL', 'FLUSHDB', 'CONFIG', 'SELECT', 'SWAPDB', 'MOVE', 'MIGRATE', 'CLIENT', 'DEBUG', 'SHUTDOWN', 'MONITOR', 'SAVE', 'BGSAVE', 'BGREWRITEAOF', 'ACL', 'INFO', 'CLUSTER', 'MODULE', 'REPLICAOF', 'SLAVEOF', 'SLOWLOG', 'LATENCY', 'MEMORY', 'OBJECT', 'COMMAND', 'AUTH', 'HELLO', 'RESET', 'QUIT', 'FAILOVER', 'WAIT', 'LASTSAVE', 'TIME', 'ROLE', 'SYNC', 'PSYNC'], 'it administers or inspects the Redis server that every app shares'],
  [['SORT', 'SORT_RO'], 'its BY and GET patterns name other keys, which are not namespaced; sort in your function or keep a sorted set'],
  [['SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'UNSUBSCRIBE', 'PUNSUBSCRIBE', 'SUNSUBSCRIBE', 'PUBLISH', 'SPUBLISH', 'PUBSUB'], 'pub/sub channels are not namespaced per app and a subscription would outlive the invocation'],
  [['MULTI', 'PIPELINE'], 'MULTI and PIPELINE cannot be nested: put every command in one ctx.redis.multi(...) or ctx.redis.pipeline(...) call'],
  [['EXEC', 'DISCARD'], 'ctx.redis.multi([\'incr\', \'a\'], [\'get\', \'a\']) sends MULTI and EXEC for you: pass the commands to it'],
  [['WATCH', 'UNWATCH'], 'WATCH needs a connection of its own, and ctx.redis shares connections between invocations; use ctx.redis.multi(...) with commands that decide on the server (SET NX, INCRBY, HINCRBY, ZADD GT)'],
  [['BLPOP', 'BRPOP', 'BLMOVE', 'BRPOPLPUSH', 'BZPOPMIN', 'BZPOPMAX', 'BLMPOP', 'BZMPOP', 'XREAD', 'XREADGROUP'], 'blocking commands would hold a shared connection for the whole wait'],
]);

/** Why `name` (upper case) is refused, for the E_REDIS_COMMAND_REFUSED message. */
function refusalReason(name: string): string {
  for (const [names, reason] of REFUSAL_REASONS) if (names.includes(name)) return reason;
  return 'it is not on the ctx.redis allowlist';
}

/**
 * Look up a command, case-insensitively.
 * @param command the name the function called, e.g. `"zincrby"`
 * @returns the spec of an allowed command
 * @throws PlatformError `E_REDIS_COMMAND_REFUSED` when the command is not allowed (or is not a
 *   plain word); the message names it, says why, and lists the allowed commands (also in
 *   `details.allowed`).
 */
export function lookupCommand(command: unknown): CommandSpec {
  const name = typeof command === 'string' ? command.toUpperCase() : '';
  const spec = /^[A-Z][A-Z_]*$/.test(name) && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (spec !== undefined) return spec;
  const shown = typeof command === 'string' ? JSON.stringify(command.slice(0, 64)) : `a ${typeof command}`;
  const label = /^[A-Z][A-Z_]*$/.test(name) ? name : shown;
  throw builtinError(
    'E_REDIS_COMMAND_REFUSED',
    `Redis command ${label} is not allowed in ctx.redis: ${refusalReason(name)}. Allowed commands: ${ALLOWED_COMMANDS.join(', ')}.`,
    { command: label, allowed: [...ALLOWED_COMMANDS] },
  );
}

function badArgs(spec: CommandSpec, message: string, details: Record<string, unknown> = {}): Error {
  return builtinError('E_REDIS_BAD_ARGUMENTS', `${spec.name}: ${message} (usage: ${spec.name} ${spec.usage})`, { command: spec.name, ...details });
}

function tokenOf(value: unknown, grammar: OptionGrammar | undefined): string | undefined {
  if (grammar === undefined || typeof value !== 'string') return undefined;
  const upper = value.toUpperCase();
  return Object.hasOwn(grammar.tokens, upper) ? upper : undefined;
}

/**
 * Match the arguments of a call against the command's grammar (arity, option keywords).
 * It does not check argument values beyond option keywords; `host.ts` converts each argument
 * by the returned kind (and rejects e.g. a non-integer where `int` is expected).
 * @param spec from `lookupCommand`
 * @param args the arguments after the command name, as the function passed them
 * @returns one kind per argument (`token` for option keywords), same length as `args`
 * @throws PlatformError `E_REDIS_BAD_ARGUMENTS` for a wrong argument count, an unknown or
 *   repeated option, options that cannot be combined, or an option missing its argument; the
 *   message includes the usage line.
 */
export function matchArgs(spec: CommandSpec, args: readonly unknown[]): ArgKind[] {
  const kinds: ArgKind[] = [];
  const n = args.length;
  const arity = (): Error => badArgs(spec, `wrong number of arguments (got ${n})`, { got: n });
  if (n < spec.params.length) throw arity();
  kinds.push(...spec.params);
  let i = spec.params.length;

  const seen: string[] = [];
  const takeOption = (grammar: OptionGrammar, token: string): void => {
    if (seen.includes(token)) throw badArgs(spec, `option ${token} is given twice`, { argument: i + 1 });
    for (const group of grammar.exclusive ?? []) {
      const clash = group.find((other) => other !== token && seen.includes(other));
      if (clash !== undefined && group.includes(token)) throw badArgs(spec, `options ${clash} and ${token} cannot be combined`, { argument: i + 1 });
    }
    seen.push(token);
    const follow = grammar.tokens[token];
    if (i + 1 + follow.length > n) throw badArgs(spec, `option ${token} needs ${follow.length} argument(s) after it`, { argument: i + 1 });
    kinds.push('token', ...follow);
    i += 1 + follow.length;
  };

  if (spec.leadingOptions !== undefined) {
    for (let token = tokenOf(args[i], spec.leadingOptions); i < n && token !== undefined; token = tokenOf(args[i], spec.leadingOptions)) {
      takeOption(spec.leadingOptions, token);
    }
  }
  if (spec.repeat !== undefined) {
    const rest = n - i;
    const groups = rest / spec.repeat.length;
    if (!Number.isInteger(groups) || groups < (spec.minRepeat ?? 0)) throw arity();
    for (let g = 0; g < groups; g++) kinds.push(...spec.repeat);
    return kinds;
  }
  if (spec.optional !== undefined) {
    if (n - i > spec.optional.length) throw arity();
    kinds.push(...spec.optional.slice(0, n - i));
    return kinds;
  }
  while (i < n) {
    const token = tokenOf(args[i], spec.options);
    if (spec.options === undefined) throw arity();
    if (token === undefined) {
      const allowed = Object.keys(spec.options.tokens).join(', ');
      const shown = typeof args[i] === 'string' ? JSON.stringify(String(args[i]).slice(0, 64)) : typeof args[i];
      throw badArgs(spec, `unknown option ${shown} at argument ${i + 1}; allowed options: ${allowed}`, { argument: i + 1 });
    }
    takeOption(spec.options, token);
  }
  return kinds;
}
