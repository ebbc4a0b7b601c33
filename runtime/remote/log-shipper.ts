/**
 * Ships captured `ctx.log` lines from a runtime to the control plane (gRPC `AppendLogs`) in
 * batches, with bounded memory: lines wait in a buffer of at most `maxBufferedLines`; past it new
 * lines are dropped and counted. A batch the control plane does not take (down, deadline) is
 * dropped and counted too — logs are best effort, invocations never wait for them.
 */
import type { LogLine } from '../../control-plane/core/types.ts';

/** Options of `LogShipper`; every field has a default. */
export interface LogShipperOptions {
  /** Most lines per `AppendLogs` call. @default 500 */
  batchLines: number;
  /** Most bytes per call (message length × 2 + 200 per line, an estimate). @default 1_048_576 */
  maxBatchBytes: number;
  /** Most lines waiting to be sent; more are dropped. @default 10_000 */
  maxBufferedLines: number;
  /** How long a line may wait for a batch to fill, in ms. @default 200 */
  flushIntervalMs: number;
}

/** Counters for /readyz and tests. */
export interface LogShipperStats {
  buffered: number;
  sent: number;
  dropped: number;
}

const lineBytes = (line: LogLine): number => line.message.length * 2 + 200;

/** See the module comment. */
export class LogShipper {
  readonly #send: (lines: LogLine[]) => Promise<void>;
  readonly #options: Readonly<LogShipperOptions>;
  #buffer: LogLine[] = [];
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;
  #closed = false;
  #sent = 0;
  #dropped = 0;

  /**
   * @param send delivers one batch; rejects when the control plane does not take it
   * @throws TypeError when an option is not a positive integer
   */
  constructor(send: (lines: LogLine[]) => Promise<void>, options: Partial<LogShipperOptions> = {}) {
    this.#send = send;
    const o = { batchLines: 500, maxBatchBytes: 1024 * 1024, maxBufferedLines: 10_000, flushIntervalMs: 200, ...options };
    for (const [name, value] of Object.entries(o)) {
      if (!Number.isInteger(value) || value < 1) throw new TypeError(`LogShipper: ${name} must be a positive integer, got ${value}`);
    }
    this.#options = Object.freeze(o);
  }

  /** Queue lines (never blocks, never throws); lines past the buffer bound are dropped and counted. */
  push(lines: readonly LogLine[]): void {
    if (this.#closed) {
      this.#dropped += lines.length;
      return;
    }
    const room = this.#options.maxBufferedLines - this.#buffer.length;
    if (lines.length > room) this.#dropped += lines.length - Math.max(room, 0);
    for (let i = 0; i < Math.min(room, lines.length); i++) this.#buffer.push(lines[i]);
    if (this.#buffer.length >= this.#options.batchLines) this.#schedule(0);
    else if (this.#buffer.length > 0) this.#schedule(this.#options.flushIntervalMs);
  }

  stats(): LogShipperStats {
    return { buffered: this.#buffer.length, sent: this.#sent, dropped: this.#dropped };
  }

  /** Send what is buffered (one attempt per batch; failures are dropped and counted). */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
    while (this.#buffer.length > 0) {
      this.#flushing = this.#sendOne();
      try {
        await this.#flushing;
      } finally {
        this.#flushing = null;
      }
    }
  }

  /** Stop the timer and send what is left (best effort). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.flush();
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== null) {
      if (delayMs > 0) return;
      clearTimeout(this.#timer);
    }
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#flushing === null) void this.flush();
    }, delayMs);
    this.#timer.unref();
  }

  async #sendOne(): Promise<void> {
    let bytes = 0;
    let n = 0;
    while (n < this.#buffer.length && n < this.#options.batchLines) {
      bytes += lineBytes(this.#buffer[n]);
      if (n > 0 && bytes > this.#options.maxBatchBytes) break;
      n++;
    }
    const batch = this.#buffer.splice(0, n);
    try {
      await this.#send(batch);
      this.#sent += batch.length;
    } catch {
      this.#dropped += batch.length;
    }
  }
}
