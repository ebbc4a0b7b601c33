/**
 * Captured `ctx.log` lines, kept in memory: one bounded ring per app/function (`ringSize` lines),
 * and a byte budget per app (`appMaxBytes`): an app with many chatty functions loses its own
 * oldest lines, from its fullest function, never another app's. Lines are lost on restart (a
 * durable sink is a later concern).
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

  /** Add an item; returns the item dropped to make room, if any. */
  push(item: T): T | undefined {
    const capacity = this.#items.length;
    if (this.#length < capacity) {
      this.#items[(this.#start + this.#length) % capacity] = item;
      this.#length += 1;
      return undefined;
    }
    const dropped = this.#items[this.#start];
    this.#items[this.#start] = item;
    this.#start = (this.#start + 1) % capacity;
    return dropped;
  }

  /** Remove and return the oldest item. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#start];
    this.#items[this.#start] = undefined;
    this.#start = (this.#start + 1) % this.#items.length;
    this.#length -= 1;
    return item;
  }

  get length(): number {
    return this.#length;
  }

  /** Items oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.#length; i += 1) out.push(this.#items[(this.#start + i) % this.#items.length] as T);
    return out;
  }
}

/** Bytes a log line is counted as: its message (UTF-16 units × 2) plus a fixed overhead. */
function lineBytes(line: LogLine): number {
  return line.message.length * 2 + 200;
}

/** In-memory log lines of every function, bounded per function and per app. */
export class LogRing {
  readonly ringSize: number;
  readonly appMaxBytes: number;
  readonly #rings = new Map<string, Ring<LogLine>>();
  /** app → its function rings and the bytes they hold. */
  readonly #apps = new Map<string, { rings: Set<Ring<LogLine>>; bytes: number }>();

  /**
   * @param ringSize lines kept per app/function (positive integer)
   * @param appMaxBytes bytes kept per app across its functions (@default 8 MiB)
   * @throws RangeError when either is not a positive integer
   */
  constructor(ringSize: number, appMaxBytes = 8 * 1024 * 1024) {
    if (!Number.isInteger(ringSize) || ringSize < 1) throw new RangeError(`ringSize must be a positive integer, got ${ringSize}`);
    if (!Number.isInteger(appMaxBytes) || appMaxBytes < 1) throw new RangeError(`appMaxBytes must be a positive integer, got ${appMaxBytes}`);
    this.ringSize = ringSize;
    this.appMaxBytes = appMaxBytes;
  }

  /** Bytes currently held for `app` (as counted for the budget). */
  appBytes(app: string): number {
    return this.#apps.get(app)?.bytes ?? 0;
  }

  /** Append lines (each goes to the ring of its own `app/function`); the oldest lines beyond `ringSize` are dropped. */
  append(lines: readonly LogLine[]): void {
    for (const line of lines) {
      const key = `${line.app}/${line.function}`;
      let app = this.#apps.get(line.app);
      if (app === undefined) {
        app = { rings: new Set(), bytes: 0 };
        this.#apps.set(line.app, app);
      }
      let ring = this.#rings.get(key);
      if (ring === undefined) {
        ring = new Ring<LogLine>(this.ringSize);
        this.#rings.set(key, ring);
        app.rings.add(ring);
      }
      const dropped = ring.push(line);
      app.bytes += lineBytes(line) - (dropped === undefined ? 0 : lineBytes(dropped));
      while (app.bytes > this.appMaxBytes) {
        // Over the app's budget: drop the oldest line of its fullest function.
        let fullest: Ring<LogLine> | null = null;
        for (const r of app.rings) if (fullest === null || r.length > fullest.length) fullest = r;
        const old = fullest?.shift();
        if (old === undefined) break;
        app.bytes -= lineBytes(old);
      }
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
    this.#apps.clear();
  }
}
