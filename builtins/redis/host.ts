/**
 * Host side of `ctx.redis`. The isolate turns `await ctx.redis.zincrby('room:42:gifts', 5, 'alice')`
 * into one host call `execute(app, 'zincrby', ['room:42:gifts', 5, 'alice'])`; this module checks
 * the command against the allowlist, matches and converts the arguments, prefixes every key with
 * the app's namespace, runs the command on a `RedisBackend` within a time budget, and returns
 * plain data.
 *
 * `ctx.redis.multi(['incr', 'a'], ['get', 'a'])` and `ctx.redis.pipeline(...)` arrive as
 * `execute(app, 'multi', [['incr', 'a'], ['get', 'a']])`: every inner command goes through the same
 * checks as a single one before anything is sent, then the batch runs as one `RedisBackend.batch`.
 */
import { PlatformError, isPlatformError, runtimeError } from '../../runtime/errors.ts';
import { builtinError } from '../errors.ts';
import { mapIoredisError, type RedisBackend } from './backend.ts';
import { MAX_BATCH_COMMANDS, MAX_SCAN_COUNT, batchCommand, lookupCommand, matchArgs, type ArgKind, type CommandSpec } from './commands.ts';
import { checkKey, checkPattern, checkValue, describe, keyPrefix, scanPattern, unprefixKey } from './namespace.ts';
import { isBatchError, type RedisBatchCommand, type RedisBatchEntry, type RedisBatchError, type RedisBatchMode, type RedisReply } from './reply.ts';

/** Limits of `createRedisHost`; every field has a default. */
export interface RedisHostOptions {
  /** Largest single value (string value, field, member), in UTF-8 bytes. @default 524288 (512 KiB) */
  maxValueBytes?: number;
  /** Largest total size of one command's arguments after conversion and prefixing, in bytes. @default 1048576 (1 MiB) */
  maxArgsBytes?: number;
  /** Most arguments in one command (e.g. MGET keys, HSET fields × 2). @default 4096 */
  maxArgCount?: number;
  /** Longest one command (or one whole MULTI/pipeline) may take at the backend (including IPC to the embedded store), in ms. @default 2000 */
  commandTimeoutMs?: number;
  /**
   * Most commands in one `multi`/`pipeline` call. A batch's arguments together are also bounded
   * by `maxArgCount` and `maxArgsBytes`, as if it were one command. @default 1000
   */
  maxBatchCommands?: number;
}

/** `RedisHostOptions` after defaults; frozen. */
export type ResolvedRedisHostOptions = Readonly<Required<RedisHostOptions>>;

/**
 * What `execute` returns to the isolate: a `RedisReply`, except HGETALL which returns an object
 * `{ field: value }` (as ioredis's `hgetall` does; `{}` for a missing key), and `multi`/`pipeline`
 * which return one entry per command: its reply, or a `RedisBatchError`
 * (`{ error: { code: 'E_REDIS_ERROR', message } }`) when Redis refused that command (the others ran).
 */
export type RedisValue = RedisReply | { [field: string]: string } | Array<RedisValue | RedisBatchError>;

/** The Redis builtin as bound by the runtime; one per process is enough (the app is per call). */
export interface RedisHost {
  /**
   * Run one `ctx.redis` command, or one batch (`multi`, `pipeline`), for an app.
   * @param app the calling app (from the platform, never from function code)
   * @param command the command name as the function wrote it, any case (e.g. `zincrby`, `multi`)
   * @param args the arguments as the function passed them; for `multi`/`pipeline`, the commands,
   *   each an array `[name, ...args]` (at most `maxBatchCommands`)
   * @returns the reply as plain data (see `RedisValue`)
   * @throws PlatformError `E_REDIS_COMMAND_REFUSED` (not on the allowlist; in a batch, the message
   *   names the command's index and nothing is sent), `E_REDIS_BAD_ARGUMENTS` (arity, types,
   *   sizes; same), `E_REDIS_ERROR` (Redis rejected it, e.g. WRONGTYPE, with Redis's message; for
   *   a MULTI, only when Redis discarded the whole transaction: EXECABORT), `E_REDIS_UNAVAILABLE`
   *   (backend down or slower than `commandTimeoutMs`), `E_INTERNAL` (invalid app name: a
   *   platform bug)
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
  maxBatchCommands: MAX_BATCH_COMMANDS,
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

const UINT64_MAX = 2n ** 64n - 1n;

/** A SCAN-family cursor: what the previous call returned (a decimal string), or 0 to start. */
function toCursor(value: unknown, where: string): string {
  let parsed: bigint | null = null;
  if (typeof value === 'number' && Number.isSafeInteger(value)) parsed = BigInt(value);
  else if (typeof value === 'string' && /^\d{1,20}$/.test(value)) parsed = BigInt(value);
  if (parsed === null || parsed < 0n || parsed > UINT64_MAX) {
    throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} is a cursor: pass 0 to start, then the cursor the previous call returned (a decimal string); got ${shown(value)}`);
  }
  return parsed.toString();
}

function toScanCount(value: unknown, where: string): string {
  const text = toInt(value, where, 1n);
  if (BigInt(text) > BigInt(MAX_SCAN_COUNT)) {
    throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} is a COUNT of ${text}; at most ${MAX_SCAN_COUNT} is allowed (iterate with the returned cursor instead)`, { limit: MAX_SCAN_COUNT });
  }
  return text;
}

function convert(kind: ArgKind, value: unknown, where: string, app: string, prefix: string, maxValueBytes: number): string {
  switch (kind) {
    case 'key': return prefix + checkKey(value, where);
    case 'cursor': return toCursor(value, where);
    case 'keypattern': return scanPattern(app, checkPattern(value, where));
    case 'pattern': return checkPattern(value, where);
    case 'scancount': return toScanCount(value, where);
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

/** `[a, b, c, d]` → `[a, f(b), c, f(d)]`: every second element of a flat pair list. */
function mapSeconds(reply: RedisReply, f: (item: RedisReply) => RedisReply): RedisReply {
  return Array.isArray(reply) ? reply.map((item, i) => (i % 2 === 1 ? f(item) : item)) : reply;
}

/** Rewrite the scores in a reply (see `CommandSpec.scoreReply`). */
function normalizeScores(kind: 'value' | 'array' | 'withscores' | 'scan', reply: RedisReply, wire: readonly string[]): RedisReply {
  if (kind === 'value') return shortScore(reply);
  if (!Array.isArray(reply)) return reply;
  if (kind === 'array') return reply.map(shortScore);
  if (kind === 'scan') return reply.length === 2 ? [reply[0], mapSeconds(reply[1], shortScore)] : reply;
  if (!wire.includes('WITHSCORES')) return reply;
  return mapSeconds(reply, shortScore);
}

/** `[cursor, keys]` with the app prefix stripped from every key; keys outside the namespace are dropped, never shown. */
function stripScanKeys(app: string, reply: RedisReply): RedisReply {
  if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) return reply;
  const keys = reply[1].flatMap((item): RedisReply[] => {
    const key = typeof item === 'string' ? unprefixKey(app, item) : null;
    return key === null ? [] : [key];
  });
  return [reply[0], keys];
}

/** A command checked, converted and namespaced, ready for the backend. */
interface Prepared {
  readonly spec: CommandSpec;
  /** Arguments as sent, keys prefixed. */
  readonly wire: string[];
  /** UTF-8 bytes of `wire`. */
  readonly bytes: number;
}

/** Shape a backend reply for the function (see `CommandSpec.reply` and `scoreReply`). */
function shape(app: string, prepared: Prepared, raw: RedisReply): RedisValue {
  const { spec, wire } = prepared;
  let reply = raw;
  if (spec.scoreReply !== undefined) reply = normalizeScores(spec.scoreReply, reply, wire);
  if (spec.reply === 'map') return toMap(reply);
  if (spec.reply === 'scan-keys') return stripScanKeys(app, reply);
  return reply;
}

/** The same error, its message prefixed with the batch and the command's index (and name, when it is a plain word). */
function inBatch(err: unknown, batch: string, index: number, total: number, entry: unknown): unknown {
  if (!isPlatformError(err)) return err;
  const name = Array.isArray(entry) && typeof entry[0] === 'string' && /^[A-Za-z][A-Za-z_]{0,31}$/.test(entry[0]) ? ` (${entry[0].toUpperCase()})` : '';
  return new PlatformError(err.code, err.status, `${batch}: command at index ${index}${name} of ${total} was refused, nothing was sent: ${err.message}`, { ...err.details, batch, index });
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

  /** Run `call` within `commandTimeoutMs`; `label` names the command or batch in the timeout message. */
  const run = <T>(label: string, call: () => Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(builtinError('E_REDIS_UNAVAILABLE', `Redis is unavailable: ${label} got no answer within ${options.commandTimeoutMs} ms; the command may have run, retry later`, { command: label })), options.commandTimeoutMs);
    });
    const pending = Promise.resolve().then(call);
    pending.catch(() => {});
    return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
  };

  /** Check one command (allowlist, arity, kinds, sizes) and namespace it; nothing is sent. */
  const prepare = (app: string, prefix: string, command: unknown, args: unknown): Prepared => {
    const spec = lookupCommand(command);
    if (!Array.isArray(args)) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${spec.name}: arguments must be an array, got ${describe(args)}`, { command: spec.name });
    if (args.length > options.maxArgCount) {
      throw builtinError('E_REDIS_BAD_ARGUMENTS', `${spec.name}: ${args.length} arguments; at most ${options.maxArgCount} are allowed in one command (split it into several)`, { command: spec.name, limit: options.maxArgCount });
    }
    const kinds = matchArgs(spec, args);
    const wire: string[] = [];
    let bytes = 0;
    const push = (text: string): void => {
      bytes += Buffer.byteLength(text, 'utf8');
      if (bytes > options.maxArgsBytes) {
        throw builtinError('E_REDIS_BAD_ARGUMENTS', `${spec.name}: arguments exceed ${options.maxArgsBytes} bytes in total; split the command into several`, { command: spec.name, limit: options.maxArgsBytes });
      }
      wire.push(text);
    };
    for (let i = 0; i < args.length; i++) push(convert(kinds[i], args[i], `${spec.name} argument ${i + 1}`, app, prefix, options.maxValueBytes));
    // SCAN without MATCH still only walks the app's keys.
    if (spec.reply === 'scan-keys' && !kinds.includes('keypattern')) {
      push('MATCH');
      push(scanPattern(app, '*'));
    }
    return { spec, wire, bytes };
  };

  const executeOne = async (app: string, prefix: string, command: string, args: readonly unknown[]): Promise<RedisValue> => {
    const prepared = prepare(app, prefix, command, args);
    let reply: RedisReply;
    try {
      reply = await run(prepared.spec.name, () => backend.exec(prepared.spec.name, prepared.wire));
    } catch (err) {
      throw toRedisError(err, prepared.spec.name);
    }
    return shape(app, prepared, reply);
  };

  const executeBatch = async (app: string, prefix: string, mode: RedisBatchMode, commands: readonly unknown[]): Promise<RedisValue> => {
    const batch = mode.toUpperCase();
    const usage = `use ctx.redis.${mode}(['incr', 'visits'], ['expire', 'visits', 60])`;
    if (!Array.isArray(commands)) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${batch}: arguments must be an array, got ${describe(commands)}`, { command: batch });
    if (commands.length > options.maxBatchCommands) {
      throw builtinError('E_REDIS_BAD_ARGUMENTS', `${batch}: ${commands.length} commands; at most ${options.maxBatchCommands} are allowed in one batch`, { command: batch, limit: options.maxBatchCommands });
    }
    if (commands.length === 0) return [];
    const prepared: Prepared[] = [];
    let argCount = 0;
    let bytes = 0;
    for (let index = 0; index < commands.length; index++) {
      const entry: unknown = commands[index];
      try {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string') {
          const got = Array.isArray(entry) ? (entry.length === 0 ? 'an empty array' : `an array starting with ${describe(entry[0])}`) : describe(entry);
          throw builtinError('E_REDIS_BAD_ARGUMENTS', `each command is an array [name, ...args] starting with the command name; got ${got} (${usage}; pass a list as ctx.redis.${mode}(...commands))`);
        }
        const [name, ...args] = entry as unknown[];
        const one = prepare(app, prefix, name, args);
        argCount += one.wire.length;
        bytes += one.bytes;
        prepared.push(one);
      } catch (err) {
        throw inBatch(err, batch, index, commands.length, entry);
      }
      if (argCount > options.maxArgCount) {
        throw builtinError('E_REDIS_BAD_ARGUMENTS', `${batch}: more than ${options.maxArgCount} arguments in all its commands together (reached at index ${index}); split the batch`, { command: batch, index, limit: options.maxArgCount });
      }
      if (bytes > options.maxArgsBytes) {
        throw builtinError('E_REDIS_BAD_ARGUMENTS', `${batch}: its commands' arguments exceed ${options.maxArgsBytes} bytes together (reached at index ${index}); split the batch`, { command: batch, index, limit: options.maxArgsBytes });
      }
    }
    const wire: RedisBatchCommand[] = prepared.map((p) => ({ command: p.spec.name, args: p.wire }));
    let entries: RedisBatchEntry[];
    try {
      entries = await run(batch, () => backend.batch(mode, wire));
    } catch (err) {
      throw toRedisError(err, batch);
    }
    if (!Array.isArray(entries) || entries.length !== prepared.length) {
      throw runtimeError('E_INTERNAL', `${batch}: the Redis backend answered ${Array.isArray(entries) ? entries.length : 'no'} replies for ${prepared.length} commands`);
    }
    return entries.map((entry, i): RedisValue | RedisBatchError => (isBatchError(entry) ? entry : shape(app, prepared[i], entry)));
  };

  return {
    options,
    async execute(app: string, command: string, args: readonly unknown[]): Promise<RedisValue> {
      const prefix = keyPrefix(app);
      const mode = batchCommand(command);
      if (mode !== null) return executeBatch(app, prefix, mode, args);
      return executeOne(app, prefix, command, args);
    },
  };
}

/** Backend errors arrive as PlatformErrors (also after IPC); anything else is mapped like an ioredis error. */
function toRedisError(err: unknown, command: string): PlatformError {
  return isPlatformError(err) ? err : mapIoredisError(err, command);
}
