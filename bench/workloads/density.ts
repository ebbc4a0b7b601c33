/**
 * Density: deploy N distinct functions (distinct code, so N versions and N isolates), invoke each
 * once, then measure the platform's process tree (sum of VmRSS from /proc), count the functions
 * whose first invocation succeeded, and time round-robin passes over all of them (one request at a
 * time; a function evicted meanwhile shows up as a cold start in the pass).
 */
import type { PlatformPeer, WorkerInfo } from '../peers/platform.ts';
import { treeMemory, type TreeMemory } from '../harness/proc.ts';

/** What the density workload measured. */
export interface DensityResult {
  functions: number;
  deploySeconds: number;
  firstInvokeSeconds: number;
  /** First invocations that answered 200 with `x-faas-cold-start: 1`. */
  warmedUp: number;
  firstInvocationMs: number[];
  idle: TreeMemory;
  afterFirst: TreeMemory;
  afterPasses: TreeMemory;
  passes: number;
  passMs: number[];
  /** Requests of the passes that had to cold-start again (their isolate was gone). */
  passColdStarts: number;
  passFailures: number;
  workers: WorkerInfo[];
}

/** The source of density function `i`: a small handler with its own constant, so every version differs. */
export function densityCode(i: number): string {
  return `const ID = ${i};\nexport default async function handler(req, ctx) {\n  return { id: ID, hello: 'world' };\n}\n`;
}

async function pool<T>(items: readonly T[], concurrency: number, run: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const i = next++;
      await run(items[i] as T, i);
    }
  }));
}

/**
 * Run the density workload on a freshly started platform (its idle RSS is the baseline).
 * Functions are `density/f-<i>`; deploys run 4 at a time, first invocations and passes one at a time.
 */
export async function runDensity(platform: PlatformPeer, n: number, passes: number, progress: (line: string) => void): Promise<DensityResult> {
  const names = Array.from({ length: n }, (_, i) => `f-${String(i).padStart(5, '0')}`);
  const idle = treeMemory(platform.server.pid);
  let t = performance.now();
  await pool(names, 4, async (name, i) => { await platform.deploy('density', name, densityCode(i)); });
  const deploySeconds = (performance.now() - t) / 1000;
  progress(`  deployed ${n} functions in ${deploySeconds.toFixed(1)} s`);

  let warmedUp = 0;
  const firstInvocationMs: number[] = [];
  t = performance.now();
  for (const name of names) {
    const t0 = performance.now();
    const r = await fetch(`${platform.base}/fn/density/${name}`);
    await r.arrayBuffer();
    firstInvocationMs.push(performance.now() - t0);
    if (r.status === 200 && r.headers.get('x-faas-cold-start') === '1') warmedUp++;
  }
  const firstInvokeSeconds = (performance.now() - t) / 1000;
  const afterFirst = treeMemory(platform.server.pid);
  progress(`  first invocations: ${warmedUp}/${n} cold-started and answered 200 in ${firstInvokeSeconds.toFixed(1)} s`);

  const passMs: number[] = [];
  let passColdStarts = 0;
  let passFailures = 0;
  for (let p = 0; p < passes; p++) {
    for (const name of names) {
      const t0 = performance.now();
      const r = await fetch(`${platform.base}/fn/density/${name}`);
      await r.arrayBuffer();
      passMs.push(performance.now() - t0);
      if (r.status !== 200) passFailures++;
      if (r.headers.get('x-faas-cold-start') === '1') passColdStarts++;
    }
  }
  const afterPasses = treeMemory(platform.server.pid);
  const workers = await platform.workers();
  return { functions: n, deploySeconds, firstInvokeSeconds, warmedUp, firstInvocationMs, idle, afterFirst, afterPasses, passes, passMs, passColdStarts, passFailures, workers };
}
