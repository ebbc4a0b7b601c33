/**
 * Throughput workloads (`hello`, `json`, `leaderboard`): autocannon at fixed concurrency against
 * each peer, repeated; the repetitions are interleaved across peers (rep 1 of every peer, then
 * rep 2, …) so slow drift of the machine hits every peer alike. The server side's CPU time (per
 * process and thread group, from /proc) is sampled around every measured run.
 */
import type { GatewayShape } from '../../control-plane/gateway-shape.ts';
import { measure, type LoadOptions, type LoadResult, type LoadTarget } from '../harness/load.ts';
import { cpuDelta, cpuSample, type CpuRoot } from '../harness/proc.ts';
import { JSON_BODY, leaderboardBody } from './bodies.ts';

/** The throughput workloads. */
export type Workload = 'hello' | 'json' | 'leaderboard';

/**
 * The peers. `platform` is the platform as started without FAAS_GATEWAY (its default shape; the
 * targets are judged on it); `platform (FAAS_GATEWAY=…)` is the other shape, measured beside it.
 */
export type Peer = 'bare fastify' | 'workerd' | 'platform' | `platform (FAAS_GATEWAY=${GatewayShape})`;

/** One load target: a workload served by a peer. */
export interface Subject {
  workload: Workload;
  peer: Peer;
  target: LoadTarget;
  /** Process trees whose CPU time is measured during the run (the server, and Redis when used). */
  cpu: CpuRoot[];
}

/** A measured run plus the CPU time the server side used during it, in seconds per bucket. */
export type MeasuredRun = LoadResult & { cpuSeconds: Map<string, number> };

/** The request of `workload` against `url` (the peer's route for it). */
export function targetFor(workload: Workload, url: string): LoadTarget {
  switch (workload) {
    case 'hello':
      return { url, method: 'GET' };
    case 'json':
      return { url, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON_BODY };
    case 'leaderboard':
      return { url, method: 'POST', headers: { 'content-type': 'application/json' }, makeBody: leaderboardBody };
  }
}

/**
 * Check that one request of each subject answers 200 with a JSON body (so a broken peer is not
 * benchmarked as a fast 404).
 * @throws Error naming the subject and its answer.
 */
export async function verify(subjects: readonly Subject[]): Promise<void> {
  for (const s of subjects) {
    const body = s.target.body ?? s.target.makeBody?.();
    const r = await fetch(s.target.url, { method: s.target.method ?? 'GET', headers: s.target.headers, body });
    const text = await r.text();
    if (r.status !== 200 || !text.startsWith('{')) throw new Error(`${s.peer} ${s.workload}: ${r.status} ${text.slice(0, 300)}`);
  }
}

/**
 * Run `reps` interleaved rounds over `subjects`; `progress` gets one line per run.
 * @returns results per subject key `${workload}/${peer}`, in rep order.
 */
export async function runThroughput(subjects: readonly Subject[], reps: number, load: LoadOptions, progress: (line: string) => void): Promise<Map<string, MeasuredRun[]>> {
  const out = new Map<string, MeasuredRun[]>();
  for (let rep = 1; rep <= reps; rep++) {
    for (const s of subjects) {
      if (load.warmupS > 0) await measure(s.target, { ...load, durationS: load.warmupS, warmupS: 0 });
      const before = cpuSample(s.cpu);
      const measured = await measure(s.target, { ...load, warmupS: 0 });
      const r: MeasuredRun = { ...measured, cpuSeconds: cpuDelta(before, cpuSample(s.cpu)) };
      const key = `${s.workload}/${s.peer}`;
      out.set(key, [...(out.get(key) ?? []), r]);
      const bad = r.non2xx + r.errors + r.timeouts;
      progress(`  rep ${rep}/${reps} ${s.workload.padEnd(11)} ${s.peer.padEnd(32)} ${Math.round(r.rps).toString().padStart(6)} req/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms${bad > 0 ? `  (${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts)` : ''}`);
    }
  }
  return out;
}
