/**
 * The isolate pool of one process: warm sandboxes per function version, handed out by an explicit
 * policy — use a warm sandbox with a free slot → grow (cold start, single-flight per version) up to
 * `maxIsolatesPerVersion` → wait (bounded by `queueTimeoutMs` and the caller's AbortSignal).
 * The total is capped at `maxIsolates`: to make room, the least recently used idle sandbox is
 * evicted. Idle sandboxes are disposed after `idleTimeoutMs`. Retiring is `recycle.ts`'s call.
 */
import { runtimeError } from '../errors.ts';
import type { Sandbox, VersionSpec } from '../sandbox/interface.ts';
import { DEFAULT_RECYCLE, recycleReason, type EvictionReason, type RecycleOptions } from './recycle.ts';

/** Pool options; all defaulted by `poolOptions()`. */
export interface PoolOptions {
  /** Sandboxes alive at once in this pool (process). @default 1000 */
  maxIsolates: number;
  /** Sandboxes per version. More than one only helps CPU-bound code on spare cores. @default 1 */
  maxIsolatesPerVersion: number;
  /** Invocations one sandbox interleaves (at awaits) before the next request waits. @default 64 */
  maxConcurrencyPerIsolate: number;
  /** Dispose a sandbox that served nothing for this long, in ms. @default 60_000 */
  idleTimeoutMs: number;
  /** Longest wait for a free slot before E_OVERLOADED, in ms. @default 5_000 */
  queueTimeoutMs: number;
  /** How often idle sandboxes are swept, in ms. @default 1_000 */
  sweepIntervalMs: number;
  recycle: Readonly<RecycleOptions>;
}

/** Validate and default pool options (frozen). @throws TypeError on a non-positive number. */
export function poolOptions(partial: Partial<PoolOptions> = {}): Readonly<PoolOptions> {
  const out: PoolOptions = {
    maxIsolates: partial.maxIsolates ?? 1000,
    maxIsolatesPerVersion: partial.maxIsolatesPerVersion ?? 1,
    maxConcurrencyPerIsolate: partial.maxConcurrencyPerIsolate ?? 64,
    idleTimeoutMs: partial.idleTimeoutMs ?? 60_000,
    queueTimeoutMs: partial.queueTimeoutMs ?? 5_000,
    sweepIntervalMs: partial.sweepIntervalMs ?? 1_000,
    recycle: Object.freeze({ ...DEFAULT_RECYCLE, ...partial.recycle }),
  };
  for (const key of ['maxIsolates', 'maxIsolatesPerVersion', 'maxConcurrencyPerIsolate', 'idleTimeoutMs', 'queueTimeoutMs', 'sweepIntervalMs'] as const) {
    if (!Number.isInteger(out[key]) || out[key] <= 0) throw new TypeError(`pool option ${key} must be a positive integer, got ${String(out[key])}`);
  }
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
  isolates: number;
  busy: number;
  versions: number;
  coldStarts: number;
  coldStartFailures: number;
  evictions: Record<EvictionReason, number>;
}

interface Slot { sandbox: Sandbox; leases: number; lastUsed: number; retiring: EvictionReason | null }
interface Waiter { wake: () => void }
interface Entry { key: string; slots: Slot[]; creating: Promise<Sandbox> | null; waiters: Waiter[] }

/** See the module comment. `close()` drains, `destroy()` disposes at once; both idempotent. */
export class IsolatePool {
  private readonly factory: SandboxFactory;
  private readonly options: Readonly<PoolOptions>;
  /** Map order is LRU order: an entry is re-inserted on every acquire. */
  private readonly entries = new Map<string, Entry>();
  /** Acquirers waiting for room under `maxIsolates`. */
  private readonly capWaiters: Waiter[] = [];
  private readonly sweeper: NodeJS.Timeout;
  private total = 0;
  private closed = false;
  private readonly counters: PoolStats = {
    isolates: 0, busy: 0, versions: 0, coldStarts: 0, coldStartFailures: 0,
    evictions: { poisoned: 0, heap: 0, invocations: 0, idle: 0, lru: 0, shutdown: 0 },
  };

  constructor(factory: SandboxFactory, options: Readonly<PoolOptions> = poolOptions()) {
    this.factory = factory;
    this.options = options;
    this.sweeper = setInterval(() => this.sweepIdle(), options.sweepIntervalMs);
    this.sweeper.unref();
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
        if (this.total >= this.options.maxIsolates && !this.evictLru()) {
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
    let busy = 0;
    for (const entry of this.entries.values()) for (const slot of entry.slots) if (slot.leases > 0) busy++;
    return { ...this.counters, isolates: this.total, busy, versions: this.entries.size, evictions: { ...this.counters.evictions } };
  }

  /**
   * Isolates per app, idle and busy, and the V8 heap they use in bytes as last sampled; with
   * `sampleHeap` a new sample of every isolate starts in the background (callers do it sparingly).
   */
  appStats(sampleHeap: boolean): Record<string, { idle: number; busy: number; heapBytes: number }> {
    const out: Record<string, { idle: number; busy: number; heapBytes: number }> = {};
    for (const entry of this.entries.values()) {
      for (const slot of entry.slots) {
        const app = slot.sandbox.spec.app;
        const a = (out[app] ??= { idle: 0, busy: 0, heapBytes: 0 });
        if (slot.leases > 0) a.busy++;
        else a.idle++;
        a.heapBytes += slot.sandbox.heapUsedBytes(sampleHeap);
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

  /** Dispose everything now; in-flight invocations fail. Idempotent. */
  destroy(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const entry of this.entries.values()) {
      for (const slot of [...entry.slots]) this.remove(entry, slot, 'shutdown');
      for (const w of entry.waiters.splice(0)) w.wake();
    }
    for (const w of this.capWaiters.splice(0)) w.wake();
    this.entries.clear();
  }

  // --- internals -----------------------------------------------------------------------------

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
    const creating = this.factory(spec);
    entry.creating = creating;
    try {
      const sandbox = await creating;
      if (this.closed) {
        sandbox.dispose('pool closed');
        this.total--;
        throw runtimeError('E_OVERLOADED', 'the isolate pool is shutting down');
      }
      entry.slots.push({ sandbox, leases: 0, lastUsed: performance.now(), retiring: null });
    } catch (err) {
      if (!this.closed) this.total--;
      this.counters.coldStartFailures++;
      this.wakeCapWaiter();
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
