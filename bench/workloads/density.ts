/**
 * Density: deploy N distinct functions (distinct code, so N versions and N isolates) on a fresh
 * platform, invoke each once, then measure the platform's process tree (sum of VmRSS from /proc),
 * the isolates kept warm (`faas_pool_isolates` on /metrics), the memory maps of every worker, and
 * time round-robin passes over all of them (one request at a time; a function evicted meanwhile
 * shows up as a cold start in the pass).
 *
 * The plan for the per-process isolate ceiling (`densityShape`): one worker process cannot hold
 * more than about 4,000 isolates — on the bench machine the 4,065th cold start in one worker
 * aborted it (V8 "CALL_AND_RETRY_LAST … is_heap_oom", SIGABRT) with ~13 memory maps per isolate
 * (50k of vm.max_map_count 65,530) and ~512 MiB of reserved address space per isolate (~2 TiB in
 * total). So the density platform runs ⌈N / isolatesPerWorker⌉ workers (at least one per core)
 * with a per-worker cap (FAAS_POOL_MAX_ISOLATES) below that ceiling: a worker that gets more
 * than its share evicts its least recently used isolate instead of aborting.
 *
 * Nothing here hangs on a dying platform: every request has a timeout, a run stops early (with
 * the reason in `aborted`) when the platform process exits or nothing is served any more, and
 * worker restarts are reported with the platform's own crash lines.
 */
import { readFileSync } from 'node:fs';
import { startPlatform, type PlatformPeer, type WorkerInfo } from '../peers/platform.ts';
import { treeMemory, type TreeMemory } from '../harness/proc.ts';
import { parseExposition } from '../../test/support/prometheus-text.ts';

/** Isolates one worker process held on the bench machine before the next cold start aborted it (see the module comment). */
const MEASURED_ISOLATE_CEILING = 4_064;
/**
 * FAAS_POOL_MAX_ISOLATES of the density platform: about three quarters of
 * `MEASURED_ISOLATE_CEILING`, leaving room for an isolate's maps to grow as its heap does.
 */
const DENSITY_MAX_ISOLATES_PER_WORKER = 3_000;
/**
 * Isolates planned per worker process when choosing the worker count: ~60 % of
 * `MEASURED_ISOLATE_CEILING`, ~32k memory maps (half of the usual vm.max_map_count of 65,530).
 * On 2 cores 5,000 functions fit the default shape (one worker per core). @default 2_500
 */
export const DEFAULT_ISOLATES_PER_WORKER = 2_500;
/**
 * FAAS_POOL_IDLE_TIMEOUT_MS of the density platform (10 min, the default is 60 s): the target is
 * N functions resident at once, and on a busy machine the first invocations of 5,000 functions
 * can take longer than a minute, so the default idle sweep would measure the sweep, not density.
 */
const DENSITY_IDLE_TIMEOUT_MS = 600_000;
/** Longest wait for one answer, in ms (wall limit 5 s + queue 5 s + the supervisor's grace, with room). */
const REQUEST_TIMEOUT_MS = 30_000;
/** A run stops after this many failed requests in a row (nothing is being served). */
const MAX_CONSECUTIVE_FAILURES = 100;
/** … or after this many requests in a row got no answer at all. */
const MAX_CONSECUTIVE_TIMEOUTS = 3;

/** How the density platform is started: the plan for the per-process isolate ceiling. */
export interface DensityShape {
  /** Worker processes (FAAS_WORKERS): max(cores, ⌈functions / isolatesPerWorker⌉). */
  workers: number;
  /** Cores of the machine (the platform's default worker count). */
  cores: number;
  /** Isolates planned per worker. */
  isolatesPerWorker: number;
  /** FAAS_POOL_MAX_ISOLATES per worker. */
  maxIsolatesPerWorker: number;
  /** FAAS_POOL_IDLE_TIMEOUT_MS, in ms. */
  idleTimeoutMs: number;
  /** The FAAS_* environment that sets it. */
  env: Record<string, string>;
}

/**
 * The platform shape for `functions` distinct functions on `cores` cores.
 * @param isolatesPerWorker isolates planned per worker, 1…`DENSITY_MAX_ISOLATES_PER_WORKER`
 *   (@default `DEFAULT_ISOLATES_PER_WORKER`).
 * @throws RangeError when a number is not a positive integer or `isolatesPerWorker` is above the cap.
 */
export function densityShape(functions: number, cores: number, isolatesPerWorker = DEFAULT_ISOLATES_PER_WORKER): DensityShape {
  for (const [name, v] of [['functions', functions], ['cores', cores], ['isolatesPerWorker', isolatesPerWorker]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`density: ${name} must be a positive integer, got ${v}`);
  }
  if (isolatesPerWorker > DENSITY_MAX_ISOLATES_PER_WORKER) {
    throw new RangeError(`density: ${isolatesPerWorker} isolates per worker is above the per-worker cap of ${DENSITY_MAX_ISOLATES_PER_WORKER} (one process aborts near ${MEASURED_ISOLATE_CEILING}); lower BENCH_DENSITY_PER_WORKER`);
  }
  const workers = Math.max(cores, Math.ceil(functions / isolatesPerWorker));
  const maxIsolatesPerWorker = DENSITY_MAX_ISOLATES_PER_WORKER;
  const idleTimeoutMs = DENSITY_IDLE_TIMEOUT_MS;
  return {
    workers, cores, isolatesPerWorker, maxIsolatesPerWorker, idleTimeoutMs,
    env: { FAAS_WORKERS: String(workers), FAAS_POOL_MAX_ISOLATES: String(maxIsolatesPerWorker), FAAS_POOL_IDLE_TIMEOUT_MS: String(idleTimeoutMs) },
  };
}

/** One line describing a shape, for the bench output, RESULTS.md and the README. */
export function describeShape(s: DensityShape): string {
  const more = s.workers > s.cores ? `, more than the ${s.cores} cores: ⌈functions / ${s.isolatesPerWorker.toLocaleString('en-US')} planned per worker⌉` : ` (one per core; ≤ ${s.isolatesPerWorker.toLocaleString('en-US')} isolates planned per worker)`;
  return `FAAS_WORKERS=${s.workers}${more}; FAAS_POOL_MAX_ISOLATES=${s.maxIsolatesPerWorker} per worker (one process aborts near ${MEASURED_ISOLATE_CEILING.toLocaleString('en-US')} isolates); FAAS_POOL_IDLE_TIMEOUT_MS=${s.idleTimeoutMs}`;
}

/** What the density workload measured. */
export interface DensityResult {
  functions: number;
  shape: DensityShape;
  /** Wall time of the whole workload: start the platform, deploy, invoke, measure, stop; seconds. */
  elapsedSeconds: number;
  deploySeconds: number;
  firstInvokeSeconds: number;
  /** First invocations that answered 200 with `x-faas-cold-start: 1`. */
  warmedUp: number;
  /** Latency of the successful first invocations, ms. */
  firstInvocationMs: number[];
  /** Failed first invocations by `<status> <code>` (or `no answer …`, `network: …`). */
  firstFailures: Record<string, number>;
  idle: TreeMemory;
  afterFirst: TreeMemory;
  afterPasses: TreeMemory;
  /** Sum of Pss over the tree after the passes (shared pages split between processes), bytes; null when unreadable. */
  pssAfterPasses: number | null;
  /** Round-robin passes completed. */
  passes: number;
  /** Latency of the successful requests of the passes, ms. */
  passMs: number[];
  /** Requests of the passes that had to cold-start again (their isolate was gone). */
  passColdStarts: number;
  passFailures: number;
  passFailureCodes: Record<string, number>;
  workers: WorkerInfo[];
  /** Lines of /proc/<pid>/maps of each worker after the passes. */
  workerMaps: Array<{ pid: number; maps: number }>;
  /** /proc/sys/vm/max_map_count, null when unreadable. */
  maxMapCount: number | null;
  /** From /metrics after the passes: isolates alive for app `density`, and evictions by reason; null when unavailable. */
  pool: { isolates: number; evictions: Record<string, number> } | null;
  /** Worker restarts (GET /readyz) and the platform's crash lines (died, V8 OOM, ENOMEM). */
  crashes: { restarts: number; lines: string[] };
  /** Why the run stopped early, or null when it ran to the end. */
  aborted: string | null;
}

/** The source of density function `i`: a small handler with its own constant, so every version differs. */
export function densityCode(i: number): string {
  return `const ID = ${i};\nexport default async function handler(req, ctx) {\n  return { id: ID, hello: 'world' };\n}\n`;
}

interface Hit { ms: number; ok: boolean; cold: boolean; failure: string | null; timedOut: boolean }

/** GET one function; never rejects. */
async function hit(base: string, name: string): Promise<Hit> {
  const t0 = performance.now();
  try {
    const r = await fetch(`${base}/fn/density/${name}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await r.text();
    const ms = performance.now() - t0;
    const cold = r.headers.get('x-faas-cold-start') === '1';
    if (r.status === 200) return { ms, ok: true, cold, failure: null, timedOut: false };
    let code = '';
    try { code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? ''; } catch { /* not JSON */ }
    return { ms, ok: false, cold, failure: `${r.status} ${code}`.trim(), timedOut: false };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const timedOut = e.name === 'TimeoutError';
    return { ms: performance.now() - t0, ok: false, cold: false, failure: timedOut ? `no answer within ${REQUEST_TIMEOUT_MS} ms` : `network: ${e.cause?.code ?? e.message}`, timedOut };
  }
}

/** Stops a phase when the platform is gone or serves nothing any more. */
class Guard {
  private failures = 0;
  private timeouts = 0;
  private readonly platform: PlatformPeer;
  private readonly progress: (line: string) => void;
  reason: string | null = null;
  constructor(platform: PlatformPeer, progress: (line: string) => void) {
    this.platform = platform;
    this.progress = progress;
  }

  /** Record a request; returns false when the run must stop (`reason` says why). */
  record(name: string, h: Hit, counts: Record<string, number>): boolean {
    if (h.failure !== null) {
      if (counts[h.failure] === undefined) this.progress(`  ! ${name}: ${h.failure} (first of its kind)`);
      counts[h.failure] = (counts[h.failure] ?? 0) + 1;
    }
    this.failures = h.ok ? 0 : this.failures + 1;
    this.timeouts = h.timedOut ? this.timeouts + 1 : 0;
    const child = this.platform.server.child;
    if (child.exitCode !== null || child.signalCode !== null) this.reason = `the platform process exited (${child.signalCode ?? `exit code ${child.exitCode}`})`;
    else if (this.timeouts >= MAX_CONSECUTIVE_TIMEOUTS) this.reason = `${this.timeouts} requests in a row got no answer within ${REQUEST_TIMEOUT_MS} ms`;
    else if (this.failures >= MAX_CONSECUTIVE_FAILURES) this.reason = `${this.failures} requests in a row failed (last: ${h.failure})`;
    return this.reason === null;
  }
}

async function concurrently<T>(items: readonly T[], concurrency: number, run: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const i = next++;
      await run(items[i] as T, i);
    }
  }));
}

const readNumber = (path: string, re: RegExp): number | null => {
  try {
    const m = re.exec(readFileSync(path, 'utf8'));
    return m === null ? null : Number(m[1]);
  } catch { return null; }
};

/** Sum of Pss over the processes of `tree` (from /proc/<pid>/smaps_rollup), bytes; null when one is unreadable. */
function treePss(tree: TreeMemory): number | null {
  let sum = 0;
  for (const p of tree.processes) {
    const kb = readNumber(`/proc/${p.pid}/smaps_rollup`, /^Pss:\s+(\d+) kB/m);
    if (kb === null) return null;
    sum += kb * 1024;
  }
  return sum;
}

function countMaps(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/maps`, 'utf8');
    let n = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
    return n;
  } catch { return 0; }
}

/** Isolates of app `density` and evictions by reason from /metrics; null when it cannot be read. */
async function poolMetrics(base: string): Promise<DensityResult['pool']> {
  try {
    const r = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await r.text();
    if (r.status !== 200) return null;
    const samples = parseExposition(text);
    const isolates = samples.filter((x) => x.name === 'faas_pool_isolates' && x.labels.app === 'density').reduce((n, x) => n + x.value, 0);
    const evictions: Record<string, number> = {};
    for (const x of samples) if (x.name === 'faas_pool_evictions' && x.labels.reason !== undefined) evictions[x.labels.reason] = x.value;
    return { isolates, evictions };
  } catch { return null; }
}

/** Lines of the platform's output that explain a dead worker (at most 8, 300 characters each). */
function crashLines(output: string): string[] {
  const re = /died \(|is_heap_oom|CALL_AND_RETRY_LAST|Fatal process out of memory|Cannot allocate memory|ENOMEM|catastrophic error|restart failed/;
  return output.split('\n').filter((l) => re.test(l)).slice(-8).map((l) => l.slice(0, 300));
}

/**
 * Run the density workload on a freshly started platform (its idle RSS is the baseline).
 * Functions are `density/f-<i>`; deploys run 4 at a time, first invocations and passes one at a
 * time. Never throws for a platform that dies or fails requests: see `aborted`, `crashes`, the
 * failure counts. Returns every field of `DensityResult` but `elapsedSeconds`, which
 * `measureDensity` adds (it knows the start-up and stop time).
 */
async function runDensity(platform: PlatformPeer, shape: DensityShape, n: number, passes: number, progress: (line: string) => void): Promise<Omit<DensityResult, 'elapsedSeconds'>> {
  const names = Array.from({ length: n }, (_, i) => `f-${String(i).padStart(5, '0')}`);
  const guard = new Guard(platform, progress);
  const idle = treeMemory(platform.server.pid);
  let t = performance.now();
  let deployError: string | null = null;
  await concurrently(names, 4, async (name, i) => {
    if (deployError !== null) return;
    try { await platform.deploy('density', name, densityCode(i)); } catch (err) { deployError ??= (err as Error).message; }
  });
  const deploySeconds = (performance.now() - t) / 1000;
  progress(`  deployed ${n} functions in ${deploySeconds.toFixed(1)} s${deployError === null ? '' : ` — STOPPED: ${deployError}`}`);
  if (deployError !== null) guard.reason = `a deploy failed: ${deployError}`;

  let warmedUp = 0;
  const firstInvocationMs: number[] = [];
  const firstFailures: Record<string, number> = {};
  t = performance.now();
  for (const name of names) {
    if (guard.reason !== null) break;
    const h = await hit(platform.base, name);
    if (h.ok) firstInvocationMs.push(h.ms);
    if (h.ok && h.cold) warmedUp++;
    if (!guard.record(name, h, firstFailures)) break;
  }
  const firstInvokeSeconds = (performance.now() - t) / 1000;
  const afterFirst = treeMemory(platform.server.pid);
  progress(`  first invocations: ${warmedUp}/${n} cold-started and answered 200 in ${firstInvokeSeconds.toFixed(1)} s; RSS ${(afterFirst.rssBytes / 2 ** 30).toFixed(2)} GiB`);

  const passMs: number[] = [];
  const passFailureCodes: Record<string, number> = {};
  let passColdStarts = 0;
  let passFailures = 0;
  let completed = 0;
  t = performance.now();
  for (let p = 0; p < passes && guard.reason === null; p++) {
    for (const name of names) {
      const h = await hit(platform.base, name);
      if (h.ok) passMs.push(h.ms);
      else passFailures++;
      if (h.cold) passColdStarts++;
      if (!guard.record(name, h, passFailureCodes)) break;
    }
    if (guard.reason === null) completed++;
  }
  progress(`  ${completed} round-robin pass${completed === 1 ? '' : 'es'} in ${((performance.now() - t) / 1000).toFixed(1)} s: ${passColdStarts} cold starts, ${passFailures} failures`);

  await new Promise((r) => setTimeout(r, 600)); // a fresh pool sample from every worker (heartbeat: 250 ms)
  const afterPasses = treeMemory(platform.server.pid);
  const pssAfterPasses = treePss(afterPasses);
  let workers: WorkerInfo[] = [];
  try { workers = await platform.workers(); } catch { /* the platform is gone: reported through `aborted` */ }
  const workerMaps = workers.map((w) => ({ pid: w.pid, maps: countMaps(w.pid) }));
  const pool = await poolMetrics(platform.base);
  const restarts = workers.reduce((s, w) => s + w.restarts, 0);
  const crashes = { restarts, lines: restarts > 0 || guard.reason !== null ? crashLines(platform.server.output()) : [] };
  if (restarts > 0) progress(`  ! worker processes restarted ${restarts} time(s): their isolates were lost. Platform says:\n    ${crashes.lines.join('\n    ') || '(nothing in its output)'}`);
  if (guard.reason !== null) progress(`  ! density stopped early: ${guard.reason}`);
  return {
    functions: n, shape, deploySeconds, firstInvokeSeconds, warmedUp, firstInvocationMs, firstFailures,
    idle, afterFirst, afterPasses, pssAfterPasses, passes: completed, passMs, passColdStarts, passFailures, passFailureCodes,
    workers, workerMaps, maxMapCount: readNumber('/proc/sys/vm/max_map_count', /^(\d+)/), pool, crashes, aborted: guard.reason,
  };
}

/** Options of `measureDensity`. */
export interface DensityOptions {
  functions: number;
  passes: number;
  shape: DensityShape;
  /** CPU list for taskset (undefined: not pinned). */
  cpus?: string;
  progress: (line: string) => void;
}

/**
 * Start a fresh platform in `shape` (no REDIS_URL), run the density workload, stop it.
 * @throws Error when the platform does not start (with its output).
 */
export async function measureDensity(o: DensityOptions): Promise<DensityResult> {
  const started = performance.now();
  o.progress(`bench: density (${o.functions.toLocaleString('en-US')} functions, ${o.passes} passes): ${describeShape(o.shape)}`);
  const platform = await startPlatform({ cpus: o.cpus, env: o.shape.env });
  let measured: Omit<DensityResult, 'elapsedSeconds'>;
  try {
    measured = await runDensity(platform, o.shape, o.functions, o.passes, o.progress);
  } finally {
    await platform.stop();
  }
  const result: DensityResult = { ...measured, elapsedSeconds: (performance.now() - started) / 1000 };
  o.progress(`  density took ${result.elapsedSeconds.toFixed(0)} s (start, deploy, invoke, passes, stop)`);
  return result;
}
