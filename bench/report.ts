/**
 * Turns the benchmark's measurements into markdown: the peers table, the cold-start and density
 * tables, the targets with their ratios, the profile summary; and writes them into
 * bench/RESULTS.md (replacing the "Peers" section and the generated part of "Profile", keeping
 * every other section and any hand-written text after the profile's end marker).
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { MeasuredRun } from './workloads/throughput.ts';
import { bytes, int, median, ms, percentile, spread, table } from './harness/stats.ts';
import type { ColdStartResult } from './workloads/cold-start.ts';
import { describeShape, type DensityResult } from './workloads/density.ts';
import type { ProfileSummary } from './harness/cpu-profile.ts';
import type { ProfileResult } from './workloads/profile.ts';
import type { Peer, Workload } from './workloads/throughput.ts';

/** One target and whether it held. */
export interface TargetCheck {
  target: string;
  measured: string;
  /** true / false, or null when it could not be measured (a skipped peer). */
  holds: boolean | null;
}

/** Everything one run measured. */
export interface BenchReport {
  date: string;
  machine: string;
  versions: string;
  command: string;
  setup: string;
  throughput: Map<string, MeasuredRun[]>;
  /** Measured seconds per run (for CPU utilisation). */
  durationS: number;
  workloads: Workload[];
  peers: Peer[];
  workerdSkipped: string | null;
  jsonBodyBytes: number;
  /** `other`: the same cold starts on the platform's other gateway shape. */
  cold: { platform: ColdStartResult; other: { peer: Peer; result: ColdStartResult }; workerd: ColdStartResult | null; workerdProcess: number[] | null };
  density: DensityResult;
  targets: TargetCheck[];
  profile: ProfileResult | null;
  elapsedS: number;
}

/** Median requests/s of `workload` on `peer`, NaN when not measured. */
export function medianRps(results: Map<string, MeasuredRun[]>, workload: Workload, peer: Peer): number {
  const runs = results.get(`${workload}/${peer}`);
  return runs === undefined ? NaN : median(runs.map((r) => r.rps));
}

/** Median p99 latency (ms) of `workload` on `peer`, NaN when not measured. */
export function medianP99(results: Map<string, MeasuredRun[]>, workload: Workload, peer: Peer): number {
  const runs = results.get(`${workload}/${peer}`);
  return runs === undefined ? NaN : median(runs.map((r) => r.p99Ms));
}

/** Server-side CPU µs per request of `workload` on `peer` over all its runs, NaN when not measured. */
export function cpuPerRequestUs(results: Map<string, MeasuredRun[]>, workload: Workload, peer: Peer): number {
  const runs = results.get(`${workload}/${peer}`);
  if (runs === undefined) return NaN;
  let cpu = 0;
  for (const run of runs) for (const v of run.cpuSeconds.values()) cpu += v;
  return (cpu * 1e6) / Math.max(1, runs.reduce((s, x) => s + x.total, 0));
}

/** Extrapolated RSS for `count` functions: idle tree + count × (measured growth per function). */
export function extrapolateRss(d: DensityResult, count: number): number {
  const perFunction = (d.afterPasses.rssBytes - d.idle.rssBytes) / d.functions;
  return d.idle.rssBytes + perFunction * count;
}

function throughputTable(r: BenchReport): string {
  const rows: string[][] = [];
  for (const w of r.workloads) {
    for (const p of r.peers) {
      const runs = r.throughput.get(`${w}/${p}`);
      if (runs === undefined) continue;
      const bad = runs.reduce((s, x) => s + x.non2xx + x.errors + x.timeouts, 0);
      const fastify = medianRps(r.throughput, w, 'bare fastify');
      const ratio = p === 'bare fastify' ? '1.00' : (medianRps(r.throughput, w, p) / fastify).toFixed(2);
      rows.push([w, p, spread(runs.map((x) => x.rps)), ratio, spread(runs.map((x) => x.p50Ms), (n) => `${n}`), spread(runs.map((x) => x.p99Ms), (n) => `${n}`), int(runs.reduce((s, x) => s + x.total, 0)), String(bad)]);
    }
  }
  return table(['workload', 'peer', 'req/s median (min–max)', '× fastify', 'p50 ms', 'p99 ms', 'requests', 'non-2xx/errors'], rows);
}

function cpuTable(r: BenchReport): string {
  const rows: string[][] = [];
  for (const w of r.workloads) {
    for (const p of r.peers) {
      const runs = r.throughput.get(`${w}/${p}`);
      if (runs === undefined) continue;
      const requests = runs.reduce((s, x) => s + x.total, 0);
      const buckets = new Map<string, number>();
      for (const run of runs) for (const [k, v] of run.cpuSeconds) buckets.set(k, (buckets.get(k) ?? 0) + v);
      const total = [...buckets.values()].reduce((a, b) => a + b, 0);
      const us = (sec: number) => (sec * 1e6) / Math.max(1, requests);
      const parts = [...buckets.entries()].sort((a, b) => b[1] - a[1]).filter(([, v]) => us(v) >= 0.5).map(([k, v]) => `${k} ${us(v).toFixed(1)}`);
      rows.push([w, p, us(total).toFixed(1), (total / (runs.length * r.durationS)).toFixed(2), parts.join(', ')]);
    }
  }
  return table(['workload', 'peer', 'server CPU µs / request', 'cores busy', 'where (µs / request)'], rows);
}

/** The two cold-start table rows of `result`: its first invocations, then its second (warm) ones. */
function coldRows(first: string, second: string, result: ColdStartResult): string[][] {
  const row = (label: string, values: number[]) => [label, String(values.length), ms(percentile(values, 50)), ms(percentile(values, 99)), ms(Math.max(...values))];
  return [row(first, result.first), row(second, result.second)];
}

function coldTable(r: BenchReport): string {
  const rows: string[][] = [
    ...coldRows('platform: first invocation of a new version (pinned with x-faas-version)', 'platform: second invocation of the same version (warm reference)', r.cold.platform),
    ...coldRows(`${r.cold.other.peer}: first invocation of a new version`, `${r.cold.other.peer}: second invocation (warm reference)`, r.cold.other.result),
  ];
  const w = r.cold.workerd;
  if (w !== null) rows.push(...coldRows('workerd: first request to a new dynamic Worker (Worker Loader)', 'workerd: second request to it (warm reference)', w));
  const p = r.cold.workerdProcess;
  if (p !== null) rows.push(['workerd: new `workerd serve` process until its first answer', String(p.length), ms(percentile(p, 50), 0), ms(percentile(p, 99), 0), ms(Math.max(...p), 0)]);
  return table(['measurement (client-side, one request at a time)', 'n', 'p50', 'p99', 'max'], rows);
}

const counts = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${k} × ${int(v)}`).join(', ') || 'none';

/** The density table (markdown) of one density run. */
export function densityTable(d: DensityResult): string {
  const per = (d.afterPasses.rssBytes - d.idle.rssBytes) / d.functions;
  const procs = (m: DensityResult['idle']) => m.processes.map((p) => `${p.name} ${bytes(p.rssBytes)}`).join(', ');
  const s = d.shape;
  const rows: string[][] = [
    ['functions deployed (distinct code → distinct versions)', int(d.functions)],
    ['platform shape (the plan for the per-process isolate ceiling)', describeShape(s)],
    ['deploy time (4 concurrent deploys)', `${d.deploySeconds.toFixed(1)} s (${int(d.functions / d.deploySeconds)}/s)`],
    ['first invocations that cold-started and answered 200 (isolates warmed)', `${int(d.warmedUp)} / ${int(d.functions)} in ${d.firstInvokeSeconds.toFixed(1)} s; failed: ${counts(d.firstFailures)}`],
    ['first invocation latency p50 / p99', `${ms(percentile(d.firstInvocationMs, 50))} / ${ms(percentile(d.firstInvocationMs, 99))}`],
    ['RSS of the process tree, idle before deploying', `${bytes(d.idle.rssBytes)} (${procs(d.idle)})`],
    ['RSS after the first invocations', `${bytes(d.afterFirst.rssBytes)}`],
    [`RSS after ${d.passes} round-robin passes (sum of VmRSS)`, `**${bytes(d.afterPasses.rssBytes)}** (${procs(d.afterPasses)})`],
    ['PSS after the passes (shared pages split between the processes)', d.pssAfterPasses === null ? 'n/a' : bytes(d.pssAfterPasses)],
    ['RSS growth per warm function', bytes(per)],
    ['isolates alive after the passes (`faas_pool_isolates{app="density"}`)', d.pool === null ? 'n/a (/metrics unreadable)' : int(d.pool.isolates)],
    ['isolates evicted (`faas_pool_evictions` by reason)', d.pool === null ? 'n/a' : counts(Object.fromEntries(Object.entries(d.pool.evictions).filter(([, v]) => v > 0)))],
    [`memory maps per worker (/proc/<pid>/maps; vm.max_map_count ${d.maxMapCount === null ? 'n/a' : int(d.maxMapCount)})`, d.workerMaps.map((w) => `pid ${w.pid}: ${int(w.maps)}`).join(', ') || 'n/a'],
    [`round-robin passes: ${d.passes} × ${int(d.functions)} requests, one at a time — p50 / p99 / max`, `${ms(percentile(d.passMs, 50))} / ${ms(percentile(d.passMs, 99))} / ${ms(Math.max(...d.passMs))}`],
    ['requests in the passes that cold-started again / failed', `${int(d.passColdStarts)} / ${int(d.passFailures)}${d.passFailures > 0 ? ` (${counts(d.passFailureCodes)})` : ''}`],
    ['workers (GET /readyz)', d.workers.map((w) => `#${w.index} pid ${w.pid} restarts ${w.restarts}`).join('; ') || 'n/a'],
    ['density wall time (start, deploy, invoke, passes, stop)', `${d.elapsedSeconds.toFixed(0)} s`],
  ];
  if (d.crashes.restarts > 0 || d.crashes.lines.length > 0) rows.push(['**worker crashes** (platform output)', d.crashes.lines.map((l) => `\`${l.replace(/[|`]/g, ' ')}\``).join('<br>') || 'no crash line in the output']);
  if (d.aborted !== null) rows.push(['**stopped early**', d.aborted]);
  if (d.functions < 5000) rows.push(['extrapolated RSS for 5,000 functions (idle + 5,000 × growth per function; BENCH_DENSITY < 5,000)', bytes(extrapolateRss(d, 5000))]);
  return table(['density', 'value'], rows);
}

function targetsTable(r: BenchReport): string {
  return table(['target', 'measured', 'holds'], r.targets.map((t) => [t.target, t.measured, t.holds === null ? 'not measured' : t.holds ? 'yes' : '**no**']));
}

/** The "Peers" section (markdown, starting with its `## ` heading). */
export function peersSection(r: BenchReport): string {
  const lines = [
    '## Peers (`npm run bench`)',
    '',
    `Run on ${r.date} in ${Math.round(r.elapsedS)} s. Machine: ${r.machine}. Versions: ${r.versions}.`,
    '',
    `Command: \`${r.command}\`. ${r.setup}`,
    '',
    r.workerdSkipped !== null ? `**workerd skipped:** ${r.workerdSkipped}\n` : '',
    `### Throughput (autocannon, 50 connections; ${r.jsonBodyBytes}-byte JSON body for \`json\`)`,
    '',
    throughputTable(r),
    '',
    'Latency percentiles come from autocannon, which records whole milliseconds.',
    '',
    'Server-side CPU time during the measured runs (user + system from /proc per thread, summed over the repetitions, divided by the requests served): the server process tree and, for `leaderboard`, redis-server. "isolate threads" are isolated-vm\'s threads in a worker (the function code runs there when the isolate is not called synchronously); "cores busy" is CPU seconds per measured second.',
    '',
    cpuTable(r),
    '',
    '### Cold start',
    '',
    coldTable(r),
    '',
    '### Density',
    '',
    densityTable(r.density),
    '',
    '### Targets',
    '',
    targetsTable(r),
    '',
  ];
  return lines.filter((l, i) => !(l === '' && lines[i - 1] === '')).join('\n');
}

/** The generated part of the "Profile" section (without heading), or a note when no profile ran. */
export function profileBody(r: BenchReport): string {
  const p = r.profile;
  if (p === null) return 'No profile in this run (every target held, or BENCH_PROFILE=0).\n';
  const part = (title: string, s: ProfileSummary | null) => {
    if (s === null) return `${title}: no profile was written.\n`;
    const busy = s.totalMs - s.idleMs;
    return [
      `${title} — ${(s.totalMs / 1000).toFixed(1)} s profiled, ${(busy / 1000).toFixed(1)} s busy (${((busy / s.totalMs) * 100).toFixed(0)}%), GC ${((s.gcMs / Math.max(busy, 1e-9)) * 100).toFixed(1)}% of busy time. Top self time:`,
      '',
      table(['function (file:line)', 'self ms', '% of busy'], s.top.map((t) => [t.name.replace(/\|/g, '\\|'), t.selfMs.toFixed(0), (t.share * 100).toFixed(1)])),
      '',
    ].join('\n');
  };
  const out = [
    `Generated by \`npm run bench\` on ${r.date}: for each workload a fresh platform started with \`NODE_OPTIONS="--cpu-prof --cpu-prof-dir=…"\` (inherited by its forked workers), pinned as above, one warm-up + measured autocannon run (the cold-start profile: fresh-version first invocations one at a time), then stopped with SIGTERM so every process writes its profile. Profiling slows the platform down; each profile includes the process start-up. Function code runs in isolated-vm isolates, which Node's profiler does not sample: in the worker profiles that time is inside the isolated-vm calls (\`invoke\` in \`isolate-sandbox.ts\`).`,
    '',
  ];
  for (const run of p.runs) {
    out.push(`### Profile: ${run.workload} (${run.achieved})`, '');
    out.push(part('**Gateway process**', run.gateway));
    out.push(part(`**Worker process${run.workerProfiles === 1 ? '' : 'es'}** (${run.workerProfiles} profile${run.workerProfiles === 1 ? '' : 's'} merged)`, run.workers));
  }
  return out.join('\n');
}

const PROFILE_BEGIN = '<!-- bench:profile:begin (generated by npm run bench) -->';
const PROFILE_END = '<!-- bench:profile:end -->';

/** Replace the `## ` section whose heading starts with `headingPrefix`, or append it. */
function replaceSection(doc: string, headingPrefix: string, section: string): string {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.startsWith(headingPrefix));
  if (start < 0) return `${doc.trimEnd()}\n\n${section.trimEnd()}\n`;
  let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  if (end < 0) end = lines.length;
  return [...lines.slice(0, start), section.trimEnd(), '', ...lines.slice(end)].join('\n');
}

/**
 * Write the Peers section and the generated part of the Profile section into `file`.
 * Text in the Profile section after the end marker (hand-written analysis) is kept.
 */
export async function writeResults(file: string, r: BenchReport): Promise<void> {
  let doc = await readFile(file, 'utf8').catch(() => '# Benchmark results\n');
  doc = replaceSection(doc, '## Peers', peersSection(r));
  const generated = `${PROFILE_BEGIN}\n${profileBody(r).trimEnd()}\n${PROFILE_END}`;
  const b = doc.indexOf(PROFILE_BEGIN);
  const e = doc.indexOf(PROFILE_END);
  if (b >= 0 && e > b) {
    doc = doc.slice(0, b) + generated + doc.slice(e + PROFILE_END.length);
  } else {
    doc = replaceSection(doc, '## Profile', `## Profile\n\n${generated}\n`);
  }
  await writeFile(file, `${doc.trimEnd()}\n`);
}
