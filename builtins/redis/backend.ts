/**
 * Where `ctx.redis` commands run: a real Redis through ioredis (`REDIS_URL` set), or the
 * embedded in-memory store (`embedded.ts`). Both sit behind `RedisBackend`, whose `exec` takes
 * and returns plain data only, so the supervisor can hold the embedded store and workers can
 * reach it over IPC with a thin proxy.
 *
 * A backend receives commands that `host.ts` already validated and namespaced; it still refuses
 * commands that are not on the allowlist (defence in depth: `exec` is an IPC target). Errors it
 * throws are PlatformErrors with `E_REDIS_ERROR` (Redis's own message) or `E_REDIS_UNAVAILABLE`.
 */
import { Redis } from 'ioredis';
import { PlatformError, isPlatformError } from '../../runtime/errors.ts';
import { builtinError } from '../errors.ts';
import { lookupCommand } from './commands.ts';
import { batchError, checkBatchArgs, checkExecArgs, execAbortError, normalizeReply, type RedisBatchCommand, type RedisBatchEntry, type RedisBatchMode, type RedisReply } from './reply.ts';

export type { RedisBatchCommand, RedisBatchEntry, RedisBatchError, RedisBatchMode, RedisReply } from './reply.ts';
export { createEmbeddedBackend } from './embedded.ts';

/** Runs already-namespaced Redis commands. Implementations: ioredis (real Redis) and embedded. */
export interface RedisBackend {
  /**
   * Run one command.
   * @param command upper-case command name from the allowlist (`commands.ts`)
   * @param args its arguments as strings, keys already prefixed
   * @returns the reply as plain data
   * @throws PlatformError `E_REDIS_ERROR` (Redis rejected it; message is Redis's),
   *   `E_REDIS_UNAVAILABLE` (not connected, timed out, closed), `E_REDIS_COMMAND_REFUSED`
   *   (not on the allowlist)
   */
  exec(command: string, args: string[]): Promise<RedisReply>;
  /**
   * Run several commands in one round trip: `multi` as MULTI … EXEC (atomic: no other client's
   * command runs in between), `pipeline` as plain pipelined commands (not atomic).
   * @param mode `multi` or `pipeline`
   * @param commands at least one, each from the allowlist, validated and namespaced
   * @returns one entry per command, in order: its reply, or `{ error: { code: 'E_REDIS_ERROR',
   *   message } }` when Redis refused that command at run time (e.g. WRONGTYPE; inside a MULTI the
   *   other commands still ran, as Redis does)
   * @throws PlatformError `E_REDIS_ERROR` when Redis discarded a MULTI before running anything
   *   (EXECABORT), `E_REDIS_UNAVAILABLE` (not connected, timed out, closed: some commands of a
   *   pipeline may have run; a MULTI ran entirely or not at all), `E_REDIS_COMMAND_REFUSED` (a
   *   command not on the allowlist), `E_REDIS_BAD_ARGUMENTS` (malformed arguments)
   */
  batch(mode: RedisBatchMode, commands: readonly RedisBatchCommand[]): Promise<RedisBatchEntry[]>;
  /** Release connections or data. Idempotent; later `exec` calls fail with `E_REDIS_UNAVAILABLE`. */
  close(): Promise<void>;
  /** `redis` for a real server, `embedded` for the in-process store. */
  readonly kind: 'redis' | 'embedded';
}

/** Options of `createIoredisBackend`. */
export interface IoredisBackendOptions {
  /** How long one connection attempt may take before it is abandoned, in ms. @default 2000 */
  connectTimeoutMs?: number;
  /**
   * The longest one `exec` may take in total (waiting for a connection plus the command), in
   * ms; past it the call fails with `E_REDIS_UNAVAILABLE`. @default 2000
   */
  commandTimeoutMs?: number;
  /** Longest pause between reconnection attempts while the server is down, in ms. @default 1000 */
  maxReconnectDelayMs?: number;
  /** Called with connection errors (for logging); they never surface as unhandled `error` events. */
  onError?: (err: Error) => void;
}

interface ResolvedIoredisOptions {
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly maxReconnectDelayMs: number;
  readonly onError: (err: Error) => void;
}

function positiveMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new TypeError(`${name} must be a positive integer number of milliseconds, got ${String(value)}`);
  return value;
}

function unavailable(message: string, details: Record<string, unknown> = {}): PlatformError {
  return builtinError('E_REDIS_UNAVAILABLE', `Redis is unavailable: ${message}; the command may not have run, retry later`, details);
}

/**
 * Map an error thrown by ioredis: a Redis error reply (`ReplyError`, e.g. WRONGTYPE) becomes
 * `E_REDIS_ERROR` with Redis's message; anything else (refused connection, closed stream,
 * timeout, retries exhausted) becomes `E_REDIS_UNAVAILABLE`. PlatformErrors pass through.
 */
export function mapIoredisError(err: unknown, command: string): PlatformError {
  if (isPlatformError(err)) return err;
  const error = err instanceof Error ? err : new Error(String(err));
  if (error.name === 'ReplyError') return builtinError('E_REDIS_ERROR', error.message, { command });
  const code = (error as { code?: unknown }).code;
  let reason: string;
  if (error.message === 'Command timed out') reason = 'the command timed out';
  else if (/Stream isn't writeable|Connection is closed|MaxRetriesPerRequest/.test(`${error.name} ${error.message}`)) reason = 'the connection to Redis was lost';
  else if (typeof code === 'string') reason = `connection failed (${code})`;
  else reason = `connection failed (${error.message.replace(/\s*\d{1,3}(\.\d{1,3}){3}:\d+/g, '')})`;
  return unavailable(reason, { command });
}

/** Race `promise` against a deadline (epoch ms); the loser's rejection is swallowed. */
function beforeDeadline<T>(promise: Promise<T>, deadline: number, onTimeout: () => Error): Promise<T> {
  promise.catch(() => {});
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), Math.max(0, deadline - Date.now()));
    promise.then(
      (value) => { clearTimeout(timer); resolve(value); },
      (err: unknown) => { clearTimeout(timer); reject(err); },
    );
  });
}

/**
 * A backend on a real Redis server (or cluster-compatible proxy) through ioredis.
 *
 * ioredis is set up to fail fast rather than hang: `enableOfflineQueue: false`,
 * `maxRetriesPerRequest: 1`, `autoResendUnfulfilledCommands: false` (a command in flight when the
 * connection drops fails instead of being sent twice — INCR must not count twice), a connect
 * timeout and a command timeout. It reconnects by itself (backoff 100 ms × attempt, at most
 * `maxReconnectDelayMs`) for as long as the backend is open. A command issued during the first
 * connection or a reconnection attempt waits for its outcome, within the same `commandTimeoutMs`
 * budget; one issued between attempts (the server is known to be down) fails at once.
 *
 * @param url `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS
 * @param opts timeouts in ms (validated once, frozen)
 * @returns a backend of kind `redis`; connecting starts at once
 * @throws TypeError for an invalid option
 */
export function createIoredisBackend(url: string, opts: IoredisBackendOptions = {}): RedisBackend {
  const options: ResolvedIoredisOptions = Object.freeze({
    connectTimeoutMs: positiveMs('connectTimeoutMs', opts.connectTimeoutMs, 2000),
    commandTimeoutMs: positiveMs('commandTimeoutMs', opts.commandTimeoutMs, 2000),
    maxReconnectDelayMs: positiveMs('maxReconnectDelayMs', opts.maxReconnectDelayMs, 1000),
    onError: opts.onError ?? (() => {}),
  });
  const client = new Redis(url, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false,
    connectTimeout: options.connectTimeoutMs,
    // No ioredis `commandTimeout`: `beforeDeadline` below bounds every call with the same budget,
    // and a second timer per command cost ~25 % of throughput at 16 calls in flight (bench/redis-overhead.ts).
    // Commands issued in the same event-loop turn (many invocations share this client) go out
    // as one pipeline: one socket write instead of one per command.
    enableAutoPipelining: true,
    retryStrategy: (times: number) => Math.min(100 * times, options.maxReconnectDelayMs),
  });
  let lastErrorCode = '';
  client.on('error', (err: Error) => {
    const code = (err as { code?: unknown }).code;
    lastErrorCode = typeof code === 'string' ? code : err.message;
    options.onError(err);
  });
  client.on('ready', () => {
    lastErrorCode = '';
  });
  let closed = false;

  const why = (): string => (lastErrorCode === '' ? '' : ` (${lastErrorCode})`);
  const waitReady = (deadline: number, command: string): Promise<void> => {
    if (client.status === 'ready') return Promise.resolve();
    // Between reconnection attempts the server is known to be down: fail fast instead of holding
    // every invocation for the whole budget. During an attempt (or the first connect), wait for
    // its outcome.
    if (client.status === 'reconnecting') return Promise.reject(unavailable(`not connected${why()}`, { command }));
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('reconnecting', onAttemptFailed);
        client.off('end', onEnd);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onReady = (): void => done();
      const onAttemptFailed = (): void => done(unavailable(`not connected${why()}`, { command }));
      const onEnd = (): void => done(unavailable('the connection was closed', { command }));
      const timer = setTimeout(() => {
        done(unavailable(`not connected within ${options.commandTimeoutMs} ms${why()}`, { command }));
      }, Math.max(0, deadline - Date.now()));
      client.on('ready', onReady);
      client.on('reconnecting', onAttemptFailed);
      client.on('end', onEnd);
    });
  };

  return {
    kind: 'redis',
    async exec(command: string, args: string[]): Promise<RedisReply> {
      checkExecArgs(command, args);
      const spec = lookupCommand(command);
      if (closed) throw unavailable('the Redis backend is closed', { command: spec.name });
      const deadline = Date.now() + options.commandTimeoutMs;
      await waitReady(deadline, spec.name);
      try {
        const reply = await beforeDeadline(client.call(spec.name, ...args), deadline, () => unavailable('the command timed out', { command: spec.name }));
        return normalizeReply(reply);
      } catch (err) {
        throw mapIoredisError(err, spec.name);
      }
    },
    async batch(mode: RedisBatchMode, commands: readonly RedisBatchCommand[]): Promise<RedisBatchEntry[]> {
      checkBatchArgs(mode, commands);
      const label = mode.toUpperCase();
      const specs = commands.map((c) => lookupCommand(c.command));
      if (closed) throw unavailable('the Redis backend is closed', { command: label });
      const deadline = Date.now() + options.commandTimeoutMs;
      await waitReady(deadline, label);
      // ioredis writes a pipeline (and MULTI … EXEC) to the socket in one write, so commands other
      // invocations send on this shared connection never land inside the transaction.
      const pipeline = mode === 'multi' ? client.multi() : client.pipeline();
      specs.forEach((spec, i) => pipeline.call(spec.name, ...commands[i].args));
      let results: Array<[Error | null, unknown]> | null;
      try {
        results = await beforeDeadline(pipeline.exec(), deadline, () => unavailable('the command timed out', { command: label }));
      } catch (err) {
        const previous = (err as { previousErrors?: unknown }).previousErrors;
        if (err instanceof Error && err.name === 'ReplyError' && err.message.startsWith('EXECABORT') && Array.isArray(previous)) {
          throw execAbortError(previous.map((e: unknown) => ({
            command: String((e as { command?: { name?: unknown } }).command?.name ?? '?').toUpperCase(),
            message: e instanceof Error ? e.message : String(e),
          })));
        }
        throw mapIoredisError(err, label);
      }
      // EXEC answers nil only when a WATCHed key changed; WATCH is refused, so this is a bug.
      if (results === null) throw builtinError('E_REDIS_ERROR', `${label}: Redis answered nil to EXEC (transaction discarded)`, { command: label });
      return results.map(([err, value], i): RedisBatchEntry => {
        if (err === null || err === undefined) return normalizeReply(value);
        // A command Redis refused (WRONGTYPE …) is that command's entry; a lost connection fails
        // the whole batch, since which commands ran is unknown.
        if (err.name === 'ReplyError') return batchError(err.message);
        throw mapIoredisError(err, specs[i].name);
      });
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (client.status === 'ready') {
        try {
          await beforeDeadline(client.quit(), Date.now() + options.commandTimeoutMs, () => new Error('quit timed out'));
        } catch {
          client.disconnect();
        }
      } else {
        client.disconnect();
      }
    },
  };
}
