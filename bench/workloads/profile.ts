/**
 * Profile the platform under the benchmark's load, one fresh platform per workload: started with
 * `NODE_OPTIONS=--cpu-prof --cpu-prof-dir=<tmp>` (the gateway and, through the inherited
 * environment, every forked worker write a `.cpuprofile` on exit), one autocannon run (or, for
 * `cold start`, a series of fresh-version first invocations), a graceful stop, then a self-time
 * ranking per process role. Each profile also covers the process's start-up (module loading,
 * a few hundred ms).
 *
 * Code inside the V8 isolates (isolated-vm) is a separate isolate that Node's profiler does not
 * sample: in a worker's profile that time appears under the isolated-vm calls that enter it.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, type LoadOptions } from '../harness/load.ts';
import { summarizeProfiles, type ProfileSummary } from '../harness/cpu-profile.ts';
import { percentile } from '../harness/stats.ts';
import { startPlatform } from '../peers/platform.ts';
import { platformColdStarts } from './cold-start.ts';
import type { GatewayShape } from '../../control-plane/gateway-shape.ts';
import { targetFor, type Workload } from './throughput.ts';

/** The profile of one workload. */
export interface WorkloadProfile {
  workload: Workload | 'cold start';
  /** What the profiled run achieved (it is slower than unprofiled), e.g. `8,255 req/s`. */
  achieved: string;
  gateway: ProfileSummary | null;
  workers: ProfileSummary | null;
  workerProfiles: number;
}

/** What the profiled runs produced. */
export interface ProfileResult {
  runs: WorkloadProfile[];
}

async function profileOne(name: Workload | 'cold start', run: (platform: Awaited<ReturnType<typeof startPlatform>>) => Promise<string>, redisUrl: string | undefined, cpus: string | undefined, topN: number, shape: GatewayShape): Promise<WorkloadProfile> {
  const dir = await mkdtemp(join(tmpdir(), 'faas-bench-prof-'));
  const root = fileURLToPath(new URL('../../', import.meta.url));
  try {
    const platform = await startPlatform({ redisUrl, cpus, env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}`, FAAS_GATEWAY: shape } });
    const gatewayPid = platform.server.pid;
    let achieved: string;
    try {
      achieved = await run(platform);
    } finally {
      await platform.stop();
    }
    const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
    const pidOf = (f: string) => Number(f.split('.')[3]); // CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile
    const gatewayFiles = files.filter((f) => pidOf(f) === gatewayPid).map((f) => join(dir, f));
    const workerFiles = files.filter((f) => pidOf(f) !== gatewayPid).map((f) => join(dir, f));
    return {
      workload: name,
      achieved,
      gateway: gatewayFiles.length > 0 ? await summarizeProfiles(gatewayFiles, root, topN) : null,
      workers: workerFiles.length > 0 ? await summarizeProfiles(workerFiles, root, topN) : null,
      workerProfiles: workerFiles.length,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Profile each of `workloads` under `load`, then `coldStarts` fresh-version first invocations
 * (0 → no cold-start profile), each on its own fresh platform pinned to `cpus`, started with
 * FAAS_GATEWAY=`shape`.
 */
export async function profilePlatform(workloads: readonly Workload[], handlers: Record<Workload, string>, load: LoadOptions, coldStarts: number, redisUrl: string | undefined, cpus: string | undefined, shape: GatewayShape, topN = 10): Promise<ProfileResult> {
  const runs: WorkloadProfile[] = [];
  for (const w of workloads) {
    runs.push(await profileOne(w, async (platform) => {
      await platform.deploy('bench', w, handlers[w]);
      const r = await measure(targetFor(w, `${platform.base}/fn/bench/${w}`), load);
      return `${Math.round(r.rps).toLocaleString('en-US')} req/s`;
    }, redisUrl, cpus, topN, shape));
  }
  if (coldStarts > 0) {
    runs.push(await profileOne('cold start', async (platform) => {
      const c = await platformColdStarts(platform, coldStarts);
      return `${coldStarts} cold starts, p50 ${percentile(c.first, 50).toFixed(2)} ms`;
    }, redisUrl, cpus, topN, shape));
  }
  return { runs };
}
