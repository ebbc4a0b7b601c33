/**
 * The pool's spare isolates (pool.ts, "Spare"): up to `count`, prepared one at a time in the
 * background, each taken by one cold start. Kept apart from the hand-out policy like `recycle.ts`; the pool asks `fits` /
 * `take` on a cold start, `drop` when it needs the place, and `request` whenever a spare may be due.
 */
import type { SpareIsolate, SparePace, VersionSpec } from '../sandbox/interface.ts';

/** Backoff between failed spare preparations, in ms: starts at `minMs`, doubles, stays at `maxMs`. */
export const SPARE_RETRY_MS = Object.freeze({ minMs: 100, maxMs: 30_000 });
/** A requested spare waits for a quiet pool at most this many times `refillDelayMs`. */
const MAX_DEFERRALS = 10;

/** What the keeper needs from its pool. */
export interface SpareHost {
  /** Prepare a spare with this heap limit and pace (the provider's `prepareSpare`); undefined: never keep one. */
  prepare: ((memoryLimitMiB: number, pace: SparePace) => Promise<SpareIsolate>) | undefined;
  /** Heap limit of the spare, in MiB. */
  memoryLimitMiB: number;
  /** Spares to keep ready (`PoolOptions.spareCount`; 0: none). */
  count: number;
  /** Wait this long after a request before preparing, in ms (`PoolOptions.spareRefillDelayMs`). */
  refillDelayMs: number;
  /** True when one more isolate fits under the pool's cap and nobody waits for room. */
  hasRoom(): boolean;
  /** True while invocations hold leases: preparing now would delay them. */
  busy(): boolean;
  /** A place the spare held is free again (wake whoever waits for room). */
  placeFreed(): void;
  /** Told when a preparation failed, and in how many ms it is retried. */
  onError(err: unknown, retryInMs: number): void;
}

/**
 * A preparation in flight; `cancelled` when the pool took its place back before it was ready;
 * `settled` resolves once its outcome is recorded (the spare set, or the failure counted).
 */
interface Preparation { cancelled: boolean; pace: SparePace; settled: Promise<void> }

/** See the module comment. Counts: `hits` (cold starts that took a spare), `failures` (preparations that failed). */
export class SpareKeeper {
  hits = 0;
  failures = 0;
  private readonly host: SpareHost;
  /** Ready spares, oldest first. */
  private spares: SpareIsolate[] = [];
  private preparing: Preparation | null = null;
  private timer: { cancel(): void } | null = null;
  /** performance.now() before which no spare is prepared (backoff after a failure). */
  private retryAt = 0;
  /** performance.now() of the latest `request()`, and of the first one the pending timer serves. */
  private lastRequestAt = 0;
  private dueSince = 0;
  private backoffMs = 0;
  private closed = false;

  constructor(host: SpareHost) {
    this.host = host;
  }

  /** Isolates the spares hold against the pool's cap: the ready ones, plus one being prepared. */
  get places(): number {
    return this.spares.length + (this.preparing !== null && !this.preparing.cancelled ? 1 : 0);
  }

  /** Spares ready to be taken. */
  get ready(): number {
    return this.spares.length;
  }

  /** True when a ready spare can serve `spec` (same heap limit). */
  fits(spec: VersionSpec): boolean {
    return this.fitting(spec) !== -1;
  }

  private fitting(spec: VersionSpec): number {
    return this.spares.findIndex((s) => s.available && s.memoryLimitMiB === spec.limits.memoryLimitMiB);
  }

  /** Hand a ready spare to a cold start of `spec` (its place passes to the new sandbox); null when none fits. */
  take(spec: VersionSpec): SpareIsolate | null {
    const i = this.fitting(spec);
    if (i === -1) return null;
    const [spare] = this.spares.splice(i, 1);
    this.hits++;
    return spare as SpareIsolate;
  }

  /**
   * A spare for a cold start of `spec`: a ready one, or — when one with the right heap limit is
   * being prepared — that one once ready (its preparation is hurried: no more event-loop turns
   * between steps, no warm-up), since finishing it costs the cold start at most what preparing a
   * new isolate on the spot would, on the same thread. Null when there is none, or the preparation
   * failed, was cancelled or another cold start took it first (the caller prepares its own).
   */
  async takeOrAwait(spec: VersionSpec): Promise<SpareIsolate | null> {
    const ready = this.take(spec);
    if (ready !== null) return ready;
    const preparation = this.preparing;
    if (preparation === null || preparation.cancelled || this.host.memoryLimitMiB !== spec.limits.memoryLimitMiB) return null;
    preparation.pace.hurried = true;
    await preparation.settled;
    return this.take(spec);
  }

  /**
   * Give up one spare — a ready one, else the one being prepared — so its place under the cap is
   * free at once.
   * @returns false when there was none.
   */
  drop(): boolean {
    const spare = this.spares.pop();
    if (spare !== undefined) {
      spare.dispose();
      return true;
    }
    if (this.preparing !== null && !this.preparing.cancelled) {
      this.preparing.cancelled = true; // disposed when its preparation settles
      return true;
    }
    return false;
  }

  /**
   * Prepare a spare if one is wanted and there is room, once the pool has been quiet for
   * `refillDelayMs` — no `request()` (every release makes one) and no lease out for that long — so
   * the answer that asked for it has left and a request that follows at once does not wait behind
   * it. Under steady traffic it does not wait more than MAX_DEFERRALS × `refillDelayMs` (then it
   * prepares anyway, in steps of at most ~1 ms, see `prepareSpareIsolate`); after a failure, not
   * before the backoff ends. Cheap when there is nothing to do: a timestamp, and at most one timer.
   * A spare that lost its isolate is replaced.
   */
  request(): void {
    // Called on every lease release: no allocation unless a spare was lost.
    for (let i = this.spares.length - 1; i >= 0; i--) {
      const spare = this.spares[i] as SpareIsolate;
      if (spare.available) continue;
      this.spares.splice(i, 1);
      spare.dispose();
    }
    if (!this.wanted()) return;
    const now = performance.now();
    this.lastRequestAt = now;
    if (this.timer !== null) return;
    this.dueSince = now;
    this.arm(Math.max(this.host.refillDelayMs, this.retryAt - now));
  }

  private arm(delayMs: number): void {
    const timer = setTimeout(this.due, Math.max(1, Math.ceil(delayMs)));
    timer.unref();
    this.timer = { cancel: () => clearTimeout(timer) };
  }

  private readonly due = (): void => {
    this.timer = null;
    if (!this.wanted()) return;
    const delayMs = this.host.refillDelayMs;
    const now = performance.now();
    const quietMs = now - this.lastRequestAt;
    const overdue = now - this.dueSince >= delayMs * MAX_DEFERRALS;
    if (!overdue && (quietMs < delayMs || this.host.busy())) {
      this.arm(quietMs < delayMs ? delayMs - quietMs : delayMs);
      return;
    }
    this.fill();
  };

  /** Dispose the spares, cancel what is scheduled; a preparation in flight is disposed when it settles. Idempotent. */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
    while (this.drop()) { /* every ready spare, then the preparation */ }
  }

  private wanted(): boolean {
    return this.host.prepare !== undefined && !this.closed && this.preparing === null && this.spares.length < this.host.count;
  }

  private fill(): void {
    const prepare = this.host.prepare;
    // Room first: a spare never pushes a sandbox out, nor takes a place someone waits for.
    if (!this.wanted() || prepare === undefined || !this.host.hasRoom()) return; // the next request() asks again
    const pace: SparePace = { hurried: false };
    let pending: Promise<SpareIsolate>;
    try {
      pending = prepare(this.host.memoryLimitMiB, pace);
    } catch (err) {
      pending = Promise.reject(err);
    }
    const preparation: Preparation = { cancelled: false, pace, settled: Promise.resolve() };
    this.preparing = preparation;
    preparation.settled = pending.then((spare) => {
      if (this.preparing === preparation) this.preparing = null;
      if (preparation.cancelled || this.closed) {
        spare.dispose();
        return;
      }
      this.spares.push(spare);
      this.backoffMs = 0;
      this.retryAt = 0;
      this.request(); // the next one, if fewer than `count` are ready
    }, (err: unknown) => {
      if (this.preparing === preparation) this.preparing = null;
      if (!preparation.cancelled) this.host.placeFreed();
      if (this.closed) return;
      this.failures++;
      this.backoffMs = Math.min(SPARE_RETRY_MS.maxMs, this.backoffMs === 0 ? SPARE_RETRY_MS.minMs : this.backoffMs * 2);
      this.retryAt = performance.now() + this.backoffMs;
      try { this.host.onError(err, this.backoffMs); } catch { /* a logger must not break the pool */ }
      this.request();
    });
  }
}
