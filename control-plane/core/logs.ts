/**
 * Captured `ctx.log` lines, kept in memory: one bounded ring per app/function, so a chatty
 * function can never grow the control plane's memory past `ringSize` lines per function.
 * Lines are lost on restart (a durable sink is a later concern).
 */
import type { LogLine } from './types.ts';

/** Filters for `LogRing.read`. */
export interface LogQuery {
  /** Most lines returned (the newest ones that match). @default the ring size */
  limit?: number;
  /** Only lines with `time >= sinceMs` (epoch milliseconds). */
  sinceMs?: number;
  /** Only lines of this invocation. */
  requestId?: string;
}

/** A fixed-capacity circular buffer; pushing past capacity drops the oldest item. */
class Ring<T> {
  readonly #items: (T | undefined)[];
  #start = 0;
  #length = 0;

  constructor(capacity: number) {
    this.#items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    const capacity = this.#items.length;
    if (this.#length < capacity) {
      this.#items[(this.#start + this.#length) % capacity] = item;
      this.#length += 1;
    } else {
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % capacity;
    }
  }

  /** Items oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.#length; i += 1) out.push(this.#items[(this.#start + i) % this.#items.length] as T);
    return out;
  }
}

/** In-memory log lines of every function, bounded per function. */
export class LogRing {
  readonly ringSize: number;
  readonly #rings = new Map<string, Ring<LogLine>>();

  /**
   * @param ringSize lines kept per app/function (positive integer)
   * @throws RangeError when `ringSize` is not a positive integer
   */
  constructor(ringSize: number) {
    if (!Number.isInteger(ringSize) || ringSize < 1) throw new RangeError(`ringSize must be a positive integer, got ${ringSize}`);
    this.ringSize = ringSize;
  }

  /** Append lines (each goes to the ring of its own `app/function`); the oldest lines beyond `ringSize` are dropped. */
  append(lines: readonly LogLine[]): void {
    for (const line of lines) {
      const key = `${line.app}/${line.function}`;
      let ring = this.#rings.get(key);
      if (ring === undefined) {
        ring = new Ring<LogLine>(this.ringSize);
        this.#rings.set(key, ring);
      }
      ring.push(line);
    }
  }

  /**
   * Lines of one function, oldest first, after filtering; `limit` keeps the newest matches.
   * @returns copies of the stored lines
   */
  read(app: string, fn: string, query: LogQuery = {}): LogLine[] {
    const ring = this.#rings.get(`${app}/${fn}`);
    if (ring === undefined) return [];
    const { sinceMs, requestId } = query;
    const matches = ring.toArray().filter((line) => (sinceMs === undefined || line.time >= sinceMs) && (requestId === undefined || line.requestId === requestId));
    const limit = query.limit ?? this.ringSize;
    return matches.slice(Math.max(0, matches.length - limit)).map((line) => ({ ...line }));
  }

  /** Drop every line. */
  clear(): void {
    this.#rings.clear();
  }
}
