/**
 * The isolate pool of one process: warm sandboxes per function version, handed out by an explicit
 * policy — use a warm sandbox with a free slot → grow (cold start, single-flight per version) up to
 * `maxIsolatesPerVersion` → wait (bounded by `queueTimeoutMs` and the caller's AbortSignal).
 * The total is capped at `maxIsolates`: to make room, the spare (below) goes first, then the least
 * recently used idle sandbox is evicted. Idle sandboxes are disposed after `idleTimeoutMs`.
 * Retiring is `recycle.ts`'s call.
 *
 * **Spare.** When the provider can prepare spares (`SandboxProvider.prepareSpare`), the pool keeps
 * `spareCount` isolates prepared ahead of need — context, bootstrap and `faas` module
 * ready, no user code ever run — for versions whose `memoryLimitMiB` is `spareMemoryLimitMiB`. A
 * cold start of such a version takes it and only compiles and evaluates its own module; other
 * versions cold-start as before. A taken spare is used once (it becomes that version's sandbox).
 * The next one is prepared in the background, not on the request path: it is requested when a
 * lease is released (at the latest the cold start's own) or by the idle sweep, and prepared once
 * the pool has been quiet for `spareRefillDelayMs` (see `spare.ts`), so the answer has left and a
 * request that follows at once does not wait for it. A cold start that finds the spare still
 * being prepared (with its heap limit) waits for that one, hurried, instead of preparing a second
 * isolate on the same thread (`SpareKeeper.takeOrAwait`). Spares
 * count against `maxIsolates` and is prepared only when there is room; a failed preparation is
 * reported to `onSpareError` and retried with exponential backoff (`SPARE_RETRY_MS`). The spare's
 * bookkeeping is `spare.ts`.
 */
import { runtimeError } from '../errors.ts';
import type { Sandbox, SandboxProvider, SpareIsolate, VersionSpec } from '../sandbox/interface.ts';
import { DEFAULT_RECYCLE, recycleReason, type EvictionReason, type RecycleOptions } from './recycle.ts';
import { SpareKeeper } from './spare.ts';

export { SPARE_RETRY_MS } from './spare.ts';

/** Pool options; all defaulted by `poolOptions()`. */
export interface PoolOptions {
  /** Isolates alive at once in this pool (process): sandboxes, and the spares. @default 1000 */
  maxIsolates: number;
  /** Sandboxes per version. More than one only helps CPU-bound code on spare cores. @default 1 */
  maxIsolatesPerVersion: number;
  /** Invocations one sandbox interleaves (at awaits) before the next request waits. @default 64 */
  maxConcurrencyPerIsolate: number;
  /** Dispose a sandbox that served nothing for this long, in ms. @default 60_000 */
  idleTimeoutMs: number;
  /** Longest wait for a free slot before E_OVERLOADED, in ms. @default 5_000 */
  queueTimeoutMs: number;
  /** How often idle sandboxes are swept (and a missing spare is re-requested), in ms. @default 1_000 */
  sweepIntervalMs: number;
  /**
   * How many pre-created spare isolates to keep ready for cold starts (see the module comment),
   * 0 to 16; 0 keeps none. They are prepared one at a time, each after the pool was quiet for
   * `spareRefillDelayMs`: more than one lets cold starts that come faster than a preparation
   * (~2 ms of this thread) still find one ready. Each costs an isolate (~1.5 MiB) under
   * `maxIsolates`. Only has an effect when the pool's provider has `prepareSpare`. Workers read it
   * from `FAAS_POOL_SPARE` (default 2). @default 1
   */
  spareCount: number;
  /**
   * Heap limit of the spare, in MiB: only versions with this `memoryLimitMiB` use it. The default is
   * a new function's default limit (`control-plane/core/limits.ts`, `defaultLimits()`).
   * @default 128
   */
  spareMemoryLimitMiB: number;
  /**
   * How long the pool must be quiet (no lease released, none out) before a requested spare is
   * prepared, in ms; under steady traffic it waits at most 10× this. 1 ms lets the answer leave
   * and the request that often follows a cold start at once (its second request) pass first,
   * while the spare is usually ready for the next cold start (end to end: ~80 % of back-to-back
   * bench cold starts found it, against ~50 % at 2 ms and <10 % at 10 ms). @default 1
   */
  spareRefillDelayMs: number;
  /** Told when preparing a spare failed, and in how many ms it is retried. @default a line on stderr */
  onSpareError: (err: unknown, retryInMs: number) => void;
  recycle: Readonly<RecycleOptions>;
}

/**
 * Validate and default pool options (frozen).
 * @throws TypeError on a number that is not a positive integer, a `spareCount` outside 0–16,
 *   or an `onSpareError` that is not a function.
 */
export function poolOptions(partial: Partial<PoolOptions> = {}): Readonly<PoolOptions> {
  const out: PoolOptions = {
    maxIsolates: partial.maxIsolates ?? 1000,
    maxIsolatesPerVersion: partial.maxIsolatesPerVersion ?? 1,
    maxConcurrencyPerIsolate: partial.maxConcurrencyPerIsolate ?? 64,
    idleTimeoutMs: partial.idleTimeoutMs ?? 60_000,
    queueTimeoutMs: partial.queueTimeoutMs ?? 5_000,
    sweepIntervalMs: partial.sweepIntervalMs ?? 1_000,
    spareCount: partial.spareCount ?? 1,
    spareMemoryLimitMiB: partial.spareMemoryLimitMiB ?? 128,
    spareRefillDelayMs: partial.spareRefillDelayMs ?? 1,
    onSpareError: partial.onSpareError ?? ((err, retryInMs) => {
      process.stderr.write(`isolate pool: preparing a spare isolate failed, retrying in ${retryInMs} ms: ${(err as Error)?.stack ?? String(err)}\n`);
    }),
    recycle: Object.freeze({ ...DEFAULT_RECYCLE, ...partial.recycle }),
  };
  for (const key of ['maxIsolates', 'maxIsolatesPerVersion', 'maxConcurrencyPerIsolate', 'idleTimeoutMs', 'queueTimeoutMs', 'sweepIntervalMs', 'spareMemoryLimitMiB', 'spareRefillDelayMs'] as const) {
    if (!Number.isInteger(out[key]) || out[key] <= 0) throw new TypeError(`pool option ${key} must be a positive integer, got ${String(out[key])}`);
  }
  if (!Number.isInteger(out.spareCount) || out.spareCount < 0 || out.spareCount > 16) {
    throw new TypeError(`pool option spareCount must be an integer from 0 (no spare) to 16, got ${String(out.spareCount)}`);
  }
  if (typeof out.onSpareError !== 'function') throw new TypeError('pool option onSpareError must be a function (err, retryInMs) => void');
  return Object.freeze(out);
}

/** Creates a sandbox for a version (a cold start). Rejects with a PlatformError when the module cannot load. */
export type SandboxFactory = (spec: VersionSpec) => Promise<Sandbox>;

/** A sandbox slot handed out by `acquire`; call `release()` exactly once (extra calls are ignored). */
export interface Lease {
  readonly sandbox: Sandbox;
  /** True when this acquire waited for (or caused) a cold start. */
  readonly coldStart: boolean;
  release(): void;
}

/** Counters for metrics and tests. */
export interface PoolStats {
  /** V8 isolates this pool holds (or is creating) against `maxIsolates`: sandboxes, and the spares. */
  isolates: number;
  busy: number;
  versions: number;
  coldStarts: number;
  coldStartFailures: number;
  /** Spares ready to be taken (0 … `spareCount`). */
  spares: number;
  /** Cold starts that took a spare. */
  spareHits: number;
  /** Spare preparations that failed (each is retried with backoff). */
  spareFailures: number;
  evictions: Record<EvictionReason, number>;
}

/** `sampledAt`: the sandbox's `invocations` when its heap was last sampled (-1: never). */
interface Slot { sandbox: Sandbox; leases: number; lastUsed: number; retiring: EvictionReason | null; sampledAt: number }

/**
 * Most isolates whose heap one `appStats(true)` re-samples. Starting a V8 heap-statistics read
 * costs ~40-50 µs of the worker's thread per isolate: sampling all of 2,500 warm isolates blocked
 * the worker for 94-132 ms once a second (bench density, round-robin p99). Isolates that ran since
 * their last sample come first; an idle isolate's heap does not grow.
 */
export const HEAP_SAMPLES_PER_ROUND = 128;
interface Waiter { wake: () => void }
interface Entry { key: string; slots: Slot[]; creating: Promise<Sandbox> | null; waiters: Waiter[] }

/** See the module comment. `close()` drains, `destroy()` disposes at once; both idempotent. */
export class IsolatePool {
  private readonly provider: SandboxProvider;
  private readonly options: Readonly<PoolOptions>;
  /** Map order is LRU order: an entry is re-inserted on every acquire. */
  private readonly entries = new Map<string, Entry>();
  /** Acquirers waiting for room under `maxIsolates`. */
  private readonly capWaiters: Waiter[] = [];
  private readonly sweeper: NodeJS.Timeout;
  /** Sandboxes alive or being created; the spares' places are `spare.places` (see `isolates`). */
  private total = 0;
  private closed = false;
  private readonly spare: SpareKeeper;
  /** isolates, busy, versions and the spare counts are filled in by `stats()`. */
  private readonly counters: PoolStats = {
    isolates: 0, busy: 0, versions: 0, coldStarts: 0, coldStartFailures: 0, spares: 0, spareHits: 0, spareFailures: 0,
    evictions: { poisoned: 0, heap: 0, invocations: 0, idle: 0, lru: 0, shutdown: 0 },
  };

  /**
   * @param provider makes sandboxes: a `SandboxFactory` function (no spare), or a `SandboxProvider`
   *   whose `prepareSpare` lets the pool keep spares (see the module comment).
   * The first spare is prepared in the background right after construction.
   */
  constructor(provider: SandboxFactory | SandboxProvider, options: Readonly<PoolOptions> = poolOptions()) {
    this.provider = typeof provider === 'function' ? { create: (spec) => provider(spec) } : provider;
    this.options = options;
    const prepareSpare = this.provider.prepareSpare?.bind(this.provider);
    this.spare = new SpareKeeper({
      prepare: prepareSpare,
      memoryLimitMiB: options.spareMemoryLimitMiB,
      count: options.spareCount,
      refillDelayMs: options.spareRefillDelayMs,
      hasRoom: () => this.isolates < options.maxIsolates && this.capWaiters.length === 0,
      busy: () => this.busySandboxes() > 0,
      placeFreed: () => this.wakeCapWaiter(),
      onError: options.onSpareError,
    });
    this.sweeper = setInterval(() => this.sweepIdle(), options.sweepIntervalMs);
    this.sweeper.unref();
    this.spare.request();
  }

  /** Isolates held against `maxIsolates`: sandboxes (alive or being created) and the spares. */
  private get isolates(): number {
    return this.total + this.spare.places;
  }

  /**
   * Get a sandbox slot for `spec`.
   * @throws PlatformError E_OVERLOADED when no slot frees up within `queueTimeoutMs`; the cold
   *   start's own error (E_FUNCTION_ERROR, E_TIMEOUT, E_MEMORY) when the version cannot load;
   *   `signal.reason` when the caller aborts.
   */
  async acquire(spec: VersionSpec, signal?: AbortSignal): Promise<Lease> {
    if (this.closed) throw runtimeError('E_OVERLOADED', 'the isolate pool is shutting down');
    const entry = this.touch(spec.key);
    const deadline = performance.now() + this.options.queueTimeoutMs;
    let coldStart = false;
    for (;;) {
      signal?.throwIfAborted();
      // A sandbox can be poisoned while idle (disposed by its watchdog for leftover code): drop it
      // now rather than letting it hold the version's place until the idle sweep.
      for (const dead of entry.slots.filter((s) => s.sandbox.poisoned && s.leases === 0)) this.retire(entry, dead, 'poisoned');
      const slot = this.pickSlot(entry);
      if (slot !== null) {
        slot.leases++;
        slot.lastUsed = performance.now();
        return this.lease(entry, slot, coldStart);
      }
      if (entry.creating !== null) {
        coldStart = true;
        await entry.creating; // single-flight: everyone waits for the one cold start
        continue;
      }
      const live = entry.slots.filter((s) => s.retiring === null && !s.sandbox.poisoned).length;
      if (live < this.options.maxIsolatesPerVersion) {
        // Taking the spare needs no room (it is counted already); otherwise the spare is the first to go.
        if (!this.spare.fits(spec) && this.isolates >= this.options.maxIsolates && !this.spare.drop() && !this.evictLru()) {
          await this.wait(this.capWaiters, deadline, signal);
          continue;
        }
        coldStart = true;
        await this.create(entry, spec);
        continue;
      }
      await this.wait(entry.waiters, deadline, signal);
    }
  }

  /** Current counters (a copy). */
  stats(): PoolStats {
    return {
      ...this.counters, isolates: this.isolates, busy: this.busySandboxes(), versions: this.entries.size,
      spares: this.spare.ready, spareHits: this.spare.hits, spareFailures: this.spare.failures,
      evictions: { ...this.counters.evictions },
    };
  }

  /**
   * Isolates per app, idle and busy, and the V8 heap they use in bytes as last sampled; with
   * `sampleHeap` a new sample starts in the background for the isolates that ran since their last
   * one (at most HEAP_SAMPLES_PER_ROUND; callers do it about once a second).
   */
  appStats(sampleHeap: boolean): Record<string, { idle: number; busy: number; heapBytes: number }> {
    const out: Record<string, { idle: number; busy: number; heapBytes: number }> = {};
    let budget = sampleHeap ? HEAP_SAMPLES_PER_ROUND : 0;
    for (const entry of this.entries.values()) {
      for (const slot of entry.slots) {
        const app = slot.sandbox.spec.app;
        const a = (out[app] ??= { idle: 0, busy: 0, heapBytes: 0 });
        if (slot.leases > 0) a.busy++;
        else a.idle++;
        // Only isolates that ran since their last sample (or were never sampled) are re-sampled,
        // at most HEAP_SAMPLES_PER_ROUND per call; the rest report their last sample.
        const served = slot.sandbox.invocations;
        const refresh = budget > 0 && (slot.sampledAt !== served || slot.leases > 0);
        if (refresh) {
          budget--;
          slot.sampledAt = served;
        }
        a.heapBytes += slot.sandbox.heapUsedBytes(refresh);
      }
    }
    return out;
  }

  /** Stop handing out sandboxes, wait up to `timeoutMs` for leases to end, then dispose all. */
  async close(timeoutMs = 5_000): Promise<void> {
    this.closed = true;
    const until = performance.now() + timeoutMs;
    while (this.stats().busy > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
    this.destroy();
  }

  /** Dispose everything now (the spares too); in-flight invocations fail. Idempotent. */
  destroy(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    this.spare.close();
    for (const entry of this.entries.values()) {
      for (const slot of [...entry.slots]) this.remove(entry, slot, 'shutdown');
      for (const w of entry.waiters.splice(0)) w.wake();
    }
    for (const w of this.capWaiters.splice(0)) w.wake();
    this.entries.clear();
  }

  // --- internals -----------------------------------------------------------------------------

  /** Sandboxes with at least one lease out. */
  private busySandboxes(): number {
    let busy = 0;
    for (const entry of this.entries.values()) for (const slot of entry.slots) if (slot.leases > 0) busy++;
    return busy;
  }

  private touch(key: string): Entry {
    let entry = this.entries.get(key);
    if (entry === undefined) entry = { key, slots: [], creating: null, waiters: [] };
    else this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  private pickSlot(entry: Entry): Slot | null {
    let best: Slot | null = null;
    for (const slot of entry.slots) {
      if (slot.retiring !== null || slot.sandbox.poisoned || slot.leases >= this.options.maxConcurrencyPerIsolate) continue;
      if (best === null || slot.leases < best.leases) best = slot;
    }
    return best;
  }

  private async create(entry: Entry, spec: VersionSpec): Promise<void> {
    this.total++;
    this.counters.coldStarts++;
    // The spare (ready, or finishing its preparation) passes its place under the cap to the new
    // sandbox; while a preparation is awaited both are counted, so the cap is never overshot.
    const used: { spare: SpareIsolate | null } = { spare: null };
    const creating = this.spare.takeOrAwait(spec).then((taken) => {
      used.spare = taken;
      return taken === null ? this.provider.create(spec) : this.provider.create(spec, taken);
    });
    entry.creating = creating;
    try {
      const sandbox = await creating;
      if (this.closed) {
        sandbox.dispose('pool closed');
        this.total--;
        throw runtimeError('E_OVERLOADED', 'the isolate pool is shutting down');
      }
      entry.slots.push({ sandbox, leases: 0, lastUsed: performance.now(), retiring: null, sampledAt: -1 });
    } catch (err) {
      if (used.spare?.available === true) used.spare.dispose(); // consumed either way: never handed out again
      if (!this.closed) this.total--;
      this.counters.coldStartFailures++;
      this.wakeCapWaiter();
      this.spare.request();
      throw err;
    } finally {
      entry.creating = null;
    }
  }

  private lease(entry: Entry, slot: Slot, coldStart: boolean): Lease {
    let released = false;
    return {
      sandbox: slot.sandbox,
      coldStart,
      release: () => {
        if (released) return;
        released = true;
        slot.leases--;
        slot.lastUsed = performance.now();
        const reason = slot.retiring ?? recycleReason(slot.sandbox, this.options.recycle);
        if (reason !== null) this.retire(entry, slot, reason);
        entry.waiters.shift()?.wake();
        this.spare.request();
      },
    };
  }

  /** Stop handing out `slot`; dispose it once its last lease ends. */
  private retire(entry: Entry, slot: Slot, reason: EvictionReason): void {
    slot.retiring ??= reason;
    if (slot.leases === 0) this.remove(entry, slot, slot.retiring);
  }

  private remove(entry: Entry, slot: Slot, reason: EvictionReason): void {
    const i = entry.slots.indexOf(slot);
    if (i === -1) return;
    entry.slots.splice(i, 1);
    this.total--;
    this.counters.evictions[reason]++;
    slot.sandbox.dispose(reason);
    for (const w of entry.waiters.splice(0)) w.wake();
    this.wakeCapWaiter();
  }

  /** Evict the least recently used idle sandbox of any version. @returns false when none is idle. */
  private evictLru(): boolean {
    for (const entry of this.entries.values()) {
      for (const slot of entry.slots) {
        if (slot.leases === 0) {
          this.retire(entry, slot, 'lru');
          return true;
        }
      }
    }
    return false;
  }

  private sweepIdle(): void {
    const cutoff = performance.now() - this.options.idleTimeoutMs;
    for (const entry of [...this.entries.values()]) {
      for (const slot of [...entry.slots]) {
        if (slot.leases === 0 && slot.lastUsed < cutoff) this.retire(entry, slot, 'idle');
      }
      // Entries are dropped only here, never while an acquire may hold one across an await.
      if (entry.slots.length === 0 && entry.creating === null && entry.waiters.length === 0) this.entries.delete(entry.key);
    }
    this.spare.request();
  }

  private wakeCapWaiter(): void {
    this.capWaiters.shift()?.wake();
  }

  private wait(queue: Waiter[], deadline: number, signal?: AbortSignal): Promise<void> {
    const remaining = deadline - performance.now();
    if (remaining <= 0) {
      return Promise.reject(runtimeError('E_OVERLOADED', `no isolate became free within ${this.options.queueTimeoutMs} ms; retry with backoff`));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        wake: () => { cleanup(); resolve(); },
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(runtimeError('E_OVERLOADED', `no isolate became free within ${this.options.queueTimeoutMs} ms; retry with backoff`));
      }, remaining);
      const onAbort = () => { cleanup(); reject(signal?.reason); };
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = queue.indexOf(waiter);
        if (i !== -1) queue.splice(i, 1);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(waiter);
    });
  }
}
