/**
 * Captured `ctx.log` lines on their way into the store (`Store.appendLogs`, table `log_lines`):
 * a small write-behind queue with group commit. Appends that arrive while a write is running (or
 * in the same event-loop turn) are written together in the next transaction, so a busy gateway
 * makes one store write per turn, not one per invocation. `append` only queues (callers — the
 * gateway, gRPC `AppendLogs` — never wait for the store); `flushed()` resolves once everything
 * appended before it is committed or dropped, so a read that awaits it sees those lines.
 *
 * Logs are best effort and never fail an invocation: when the store refuses a write (closed,
 * locked, unreachable), that write's lines are dropped and counted, and a process warning
 * (`FaasLogWarning`) reports the drops at most once per `warnEveryMs`. The bounds — lines per
 * function and bytes per app — are enforced by the store in the same transaction as the insert.
 */
import { MAX_LOG_LINES_PER_APPEND } from '../store/log-lines.ts';
import type { LogBounds, Store } from '../store/store.ts';
import type { LogLine } from './types.ts';

/** Options of `LogWriter`; every field but the bounds has a default. */
export interface LogWriterOptions extends LogBounds {
  /** Most lines waiting for the store; appends past it are dropped and counted. @default 50_000 */
  maxPendingLines?: number;
  /** Most lines per store transaction, up to 10_000 (whole `append` calls are never split). @default 5_000 */
  maxLinesPerWrite?: number;
  /** Least time between two drop warnings, in ms. @default 60_000 */
  warnEveryMs?: number;
}

/** Counters of a `LogWriter`. */
export interface LogWriterStats {
  /** Lines waiting for the store. */
  pending: number;
  /** Lines committed. */
  written: number;
  /** Lines dropped: the queue was full, the writer closed, or the store refused the write. */
  dropped: number;
}

/** See the module comment. */
export class LogWriter {
  readonly #store: Store;
  readonly #bounds: LogBounds;
  readonly #maxPending: number;
  readonly #maxPerWrite: number;
  readonly #warnEveryMs: number;
  /** Appended line arrays waiting for a write, oldest first. */
  #queue: (readonly LogLine[])[] = [];
  #pending = 0;
  /** Appends queued so far, and how many of them are written or dropped (both only grow). */
  #queued = 0;
  #settled = 0;
  /** `flushed()` callers, in call order, each waiting for `#settled` to reach its `seq`. */
  #waiters: { seq: number; resolve: () => void }[] = [];
  /** The running drain (writes until the queue is empty), or null when idle. */
  #draining: Promise<void> | null = null;
  #closed = false;
  #written = 0;
  #dropped = 0;
  #unreported = 0;
  #lastWarnAt = -Infinity;

  /**
   * @param store where lines go (its `appendLogs` enforces `ringSize` and `appMaxBytes`)
   * @param options the bounds and queue limits
   * @throws TypeError (code ERR_INVALID_ARG_VALUE) when a bound or limit is not a positive integer,
   *   or `maxLinesPerWrite` is over `MAX_LOG_LINES_PER_APPEND`
   */
  constructor(store: Store, options: LogWriterOptions) {
    const invalid = (name: string, value: unknown) => Object.assign(new TypeError(`LogWriter: ${name} must be a positive integer, got ${String(value)}`), { code: 'ERR_INVALID_ARG_VALUE' });
    const o = { maxPendingLines: 50_000, maxLinesPerWrite: 5_000, warnEveryMs: 60_000, ...options };
    for (const name of ['ringSize', 'appMaxBytes', 'maxPendingLines', 'maxLinesPerWrite', 'warnEveryMs'] as const) {
      if (!Number.isSafeInteger(o[name]) || o[name] < 1) throw invalid(name, o[name]);
    }
    if (o.maxLinesPerWrite > MAX_LOG_LINES_PER_APPEND) {
      throw Object.assign(new TypeError(`LogWriter: maxLinesPerWrite must be at most ${MAX_LOG_LINES_PER_APPEND} (what one store append takes), got ${o.maxLinesPerWrite}`), { code: 'ERR_INVALID_ARG_VALUE' });
    }
    this.#store = store;
    this.#bounds = Object.freeze({ ringSize: o.ringSize, appMaxBytes: o.appMaxBytes });
    this.#maxPending = o.maxPendingLines;
    this.#maxPerWrite = o.maxLinesPerWrite;
    this.#warnEveryMs = o.warnEveryMs;
  }

  /** The bounds the store enforces. */
  get bounds(): LogBounds {
    return this.#bounds;
  }

  /**
   * Queue lines (already validated: see `checkLogLines` in store/log-lines.ts) for the next write,
   * or drop and count them when the writer is closed or `maxPendingLines` would be passed. Never
   * throws; `flushed()` tells when they are in the store.
   */
  append(lines: readonly LogLine[]): void {
    if (lines.length === 0) return;
    if (this.#closed || this.#pending + lines.length > this.#maxPending) {
      this.#drop(lines.length, this.#closed ? 'the control plane is closing' : `more than ${this.#maxPending} lines are waiting for the store`);
      return;
    }
    this.#queue.push(lines);
    this.#queued += 1;
    this.#pending += lines.length;
    this.#draining ??= this.#drain();
  }

  /**
   * Resolves once every line appended before the call is committed or dropped (later appends are
   * not waited for, so a reader is not held up by a steady stream of writes). Never rejects.
   */
  flushed(): Promise<void> {
    if (this.#settled >= this.#queued) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ seq: this.#queued, resolve });
    return promise;
  }

  /**
   * A snapshot of the counters (a new object each call; it does not change afterwards), in lines,
   * not appends or bytes: `{ pending, written, dropped }`. `pending` is what is queued or being
   * written now (goes up on `append`, down when a write commits or fails). `written` and
   * `dropped` only grow, from construction on: `written` counts lines the store committed,
   * `dropped` lines given up because the queue was full (`maxPendingLines`), the writer was closed,
   * or the store refused the write. Every appended line is in exactly one of the three, so
   * `pending + written + dropped` is always the number of lines appended so far. A line
   * committed and later trimmed by the store's bounds (`ringSize`, `appMaxBytes`) still counts as
   * written.
   */
  stats(): LogWriterStats {
    return { pending: this.#pending, written: this.#written, dropped: this.#dropped };
  }

  /** Write what is queued, then drop later appends (counted). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#draining !== null) await this.#draining;
  }

  /** Write batches until the queue is empty; the first waits one turn so same-turn appends join it. */
  async #drain(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.#queue.length > 0) {
        const batch: LogLine[] = [];
        let appends = 0;
        while (this.#queue.length > 0 && (appends === 0 || batch.length + (this.#queue[0] as LogLine[]).length <= this.#maxPerWrite)) {
          batch.push(...(this.#queue.shift() as LogLine[]));
          appends += 1;
        }
        try {
          await this.#store.appendLogs(batch, this.#bounds);
          this.#written += batch.length;
        } catch (error) {
          this.#drop(batch.length, error instanceof Error ? error.message : String(error));
        } finally {
          this.#pending -= batch.length;
          this.#settled += appends;
          while (this.#waiters.length > 0 && (this.#waiters[0] as { seq: number }).seq <= this.#settled) this.#waiters.shift()?.resolve();
        }
      }
    } finally {
      this.#draining = null;
    }
  }

  #drop(count: number, reason: string): void {
    this.#dropped += count;
    this.#unreported += count;
    const now = performance.now();
    if (now - this.#lastWarnAt < this.#warnEveryMs) return;
    this.#lastWarnAt = now;
    process.emitWarning(`dropped ${this.#unreported} captured log line(s) (${this.#dropped} in all): ${reason}`, 'FaasLogWarning');
    this.#unreported = 0;
  }
}
