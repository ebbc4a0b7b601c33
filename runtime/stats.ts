/**
 * Per-function invocation figures over a sliding window (default the last hour, in 60 one-minute
 * buckets), kept by the gateway for the admin UI's function list: invocations, errors (status ≥ 500
 * or a platform error code) and p95 latency. Latency is counted in fixed log-spaced buckets (0.5 ms
 * to 30 s, like `faas_invocation_duration_seconds`), so memory per function is constant and p95 is
 * the upper bound of the bucket holding the 95th percentile.
 *
 * Cardinality: only functions that resolved (exist) are recorded; at most `maxFunctions` are kept
 * (the least recently used is dropped).
 */

/** Upper bounds of the latency buckets, in ms. */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/** Index of the latency bucket of `durationMs` (ms): 0 … LATENCY_BUCKETS_MS.length, the last one beyond the last bound. */
export function latencyBucket(durationMs: number): number {
  const i = LATENCY_BUCKETS_MS.findIndex((bound) => durationMs <= bound);
  return i < 0 ? LATENCY_BUCKETS_MS.length : i;
}

interface Bucket {
  minute: number;
  invocations: number;
  errors: number;
  latency: number[];
}

/** Figures of one function over the window. */
export interface WindowStats {
  invocations: number;
  errors: number;
  /** Upper bound of the p95 latency bucket, in ms; null without invocations. */
  p95Ms: number | null;
}

/** See the module comment. */
export class InvocationStats {
  readonly #windowMinutes: number;
  readonly #maxFunctions: number;
  readonly #now: () => number;
  /** `app` → `function` → ring of minute buckets. */
  readonly #byApp = new Map<string, Map<string, Bucket[]>>();
  #functions = 0;

  /**
   * @param options.windowMinutes window length in minutes (@default 60)
   * @param options.maxFunctions functions tracked at once (@default 10_000)
   * @param options.now clock in epoch ms (@default Date.now)
   */
  constructor(options: { windowMinutes?: number; maxFunctions?: number; now?: () => number } = {}) {
    this.#windowMinutes = options.windowMinutes ?? 60;
    this.#maxFunctions = options.maxFunctions ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Count one invocation of `app/fn` that took `durationMs` and failed when `failed`. */
  record(app: string, fn: string, durationMs: number, failed: boolean): void {
    // Once per invocation in the gateway: no allocation beyond a new minute's bucket.
    const bucket = this.#bucket(app, fn);
    bucket.invocations++;
    if (failed) bucket.errors++;
    const i = latencyBucket(durationMs);
    bucket.latency[i] = (bucket.latency[i] as number) + 1;
  }

  /**
   * Add figures counted elsewhere (a worker serving HTTP sends them with its heartbeat) to the
   * current minute: `latency` holds one count per bucket of LATENCY_BUCKETS_MS plus one beyond it.
   * Counts that are not non-negative integers, or a latency array of another length, are ignored.
   */
  add(app: string, fn: string, invocations: number, errors: number, latency: readonly number[]): void {
    const count = (n: number) => Number.isInteger(n) && n >= 0;
    if (latency.length !== LATENCY_BUCKETS_MS.length + 1 || invocations === 0 || !count(invocations) || !count(errors) || !latency.every(count)) return;
    const bucket = this.#bucket(app, fn);
    bucket.invocations += invocations;
    bucket.errors += errors;
    for (let i = 0; i < latency.length; i++) bucket.latency[i] = (bucket.latency[i] as number) + (latency[i] as number);
  }

  /** The current minute's bucket of `app/fn`, made (and the function tracked, evicting the oldest at the cap) when missing. */
  #bucket(app: string, fn: string): Bucket {
    let fns = this.#byApp.get(app);
    if (fns === undefined) {
      fns = new Map();
      this.#byApp.set(app, fns);
    }
    let ring = fns.get(fn);
    if (ring === undefined) {
      if (this.#functions >= this.#maxFunctions) this.#evictOne();
      ring = [];
      this.#functions++;
    } else {
      fns.delete(fn); // re-insert: Map order is recency
    }
    fns.set(fn, ring);
    const minute = Math.floor(this.#now() / 60_000);
    let bucket = ring.at(-1);
    if (bucket === undefined || bucket.minute !== minute) {
      bucket = { minute, invocations: 0, errors: 0, latency: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0) };
      ring.push(bucket);
      while (ring.length > 0 && (ring[0] as Bucket).minute <= minute - this.#windowMinutes) ring.shift();
    }
    return bucket;
  }

  /** Figures of every recorded function of `app` over the window (functions with none are left out). */
  forApp(app: string): Record<string, WindowStats> {
    const out: Record<string, WindowStats> = {};
    const oldest = Math.floor(this.#now() / 60_000) - this.#windowMinutes;
    for (const [fn, ring] of this.#byApp.get(app) ?? []) {
      let invocations = 0;
      let errors = 0;
      const latency = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
      for (const bucket of ring) {
        if (bucket.minute <= oldest) continue;
        invocations += bucket.invocations;
        errors += bucket.errors;
        bucket.latency.forEach((n, i) => { latency[i] = (latency[i] as number) + n; });
      }
      if (invocations === 0) continue;
      const rank = Math.ceil(invocations * 0.95);
      let seen = 0;
      let p95Ms: number | null = null;
      for (let i = 0; i < latency.length; i++) {
        seen += latency[i] as number;
        if (seen >= rank) {
          p95Ms = LATENCY_BUCKETS_MS[i] ?? (LATENCY_BUCKETS_MS.at(-1) as number); // beyond the last bound: reported as it
          break;
        }
      }
      out[fn] = { invocations, errors, p95Ms };
    }
    return out;
  }

  #evictOne(): void {
    for (const [app, fns] of this.#byApp) {
      const first = fns.keys().next();
      if (!first.done) {
        fns.delete(first.value);
        this.#functions--;
        if (fns.size === 0) this.#byApp.delete(app);
        return;
      }
    }
  }
}
