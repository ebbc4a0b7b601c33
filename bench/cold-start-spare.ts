/**
 * In-process cold start with and without the pool's spare isolate (runtime/pool/pool.ts, "Spare").
 *
 * Two pools over the real isolated-vm sandboxes in this process, one with a spare (`spareCount: 1`),
 * one with none (`spareCount: 0`). For each of N distinct versions of a function (a comment varies, so each is a new
 * key) it times acquire + first invoke + release — what a worker does for a cold start, without
 * the IPC hop and the code fetch — alternating between the two pools so drift hits both alike.
 * Between measurements it pauses 25 ms (idle sandboxes are swept after 20 ms, so few isolates are
 * alive, as in a worker at steady state) and waits up to 100 ms more for the spare to be ready:
 * it measures cold starts that are not back to back; `no spare` counts those that found none.
 *
 *   ./node_modules/.bin/node --no-node-snapshot bench/cold-start-spare.ts
 *
 * Environment: `BENCH_COLD` (versions per pool, default 200), `BENCH_FUNCTION` (`live-stream`,
 * default, or `hello`).
 */
import { readFile } from 'node:fs/promises';
import { createEmbeddedBackend } from '../builtins/redis/backend.ts';
import { createRedisHost } from '../builtins/redis/host.ts';
import { createBuiltinHost } from '../builtins/registry.ts';
import { defaultLimits } from '../control-plane/core/limits.ts';
import { IsolatePool, poolOptions } from '../runtime/pool/pool.ts';
import { isolateSandboxProvider, sandboxOptions } from '../runtime/sandbox/isolate-sandbox.ts';
import { envNumber, median, ms, percentile } from './harness/stats.ts';

const n = envNumber('BENCH_COLD', 200);
const which = process.env.BENCH_FUNCTION ?? 'live-stream';
if (!Number.isInteger(n) || n <= 0) throw new Error(`BENCH_COLD must be a positive integer, got ${process.env.BENCH_COLD}`);
const sources: Record<string, URL> = {
  'live-stream': new URL('../functions/live-stream/index.js', import.meta.url),
  hello: new URL('./peers/handlers/hello.js', import.meta.url),
};
const source = sources[which];
if (source === undefined) throw new Error(`BENCH_FUNCTION must be one of ${Object.keys(sources).join(', ')}, got ${which}`);
const code = await readFile(source, 'utf8');

const backend = createEmbeddedBackend();
const redis = createRedisHost(backend);
const host = createBuiltinHost({
  redis: (app, command, args) => redis.execute(app, command, args),
  forward: async () => { throw Object.assign(new Error('only ctx.redis is served in this benchmark'), { code: 'E_INTERNAL' }); },
});
const provider = isolateSandboxProvider(host, sandboxOptions());
const limits = defaultLimits();
// Measured sandboxes go idle at once and are swept between measurements, so the number of live
// isolates stays small (a worker's pool at steady state) instead of growing with N.
const shared = { idleTimeoutMs: 20, sweepIntervalMs: 10 };
const pools = {
  spare: new IsolatePool(provider, poolOptions({ ...shared, spareCount: 1, spareMemoryLimitMiB: limits.memoryLimitMiB })),
  none: new IsolatePool(provider, poolOptions({ ...shared, spareCount: 0 })),
};
const req = { method: 'GET', path: '/rooms', query: {}, headers: {}, body: null, bodyIsJson: false };

/** Pause between measurements: the idle sweep disposes the last sandboxes, the spare is refilled. @returns whether the spare pool has its spare. */
async function settle(): Promise<boolean> {
  await new Promise((r) => setTimeout(r, 25));
  const end = performance.now() + 100;
  while (pools.spare.stats().spares === 0 && performance.now() < end) await new Promise((r) => setTimeout(r, 1));
  return pools.spare.stats().spares === 1;
}

/** Cold start + first invocation of version `i` in `pool`, in ms; then the warm second invocation. */
async function coldStart(pool: IsolatePool, tag: string, i: number): Promise<{ first: number; second: number }> {
  const spec = { key: `bench/${tag}-${i}@v1`, app: 'bench', function: `${tag}-${i}`, versionId: 'v1', code: `${code}\n// ${tag} ${i}\n`, limits };
  const meta = { app: 'bench', function: spec.function, version: 'v1', alias: 'prod', requestId: `r${i}`, deadline: Date.now() + 5000 };
  const t0 = performance.now();
  const lease = await pool.acquire(spec);
  const r = await lease.sandbox.invoke(req, meta);
  lease.release();
  const first = performance.now() - t0;
  if (!lease.coldStart) throw new Error(`${spec.key} was not a cold start`);
  if (r.status >= 500) throw new Error(`${spec.key}: ${JSON.stringify(r)}`);
  const t1 = performance.now();
  const again = await pool.acquire(spec);
  await again.sandbox.invoke(req, meta);
  again.release();
  return { first, second: performance.now() - t1 };
}

const results = { spare: { first: [] as number[], second: [] as number[] }, none: { first: [] as number[], second: [] as number[] } };
let noSpare = 0;
/** Cold starts per pool before measuring; `spare hits` subtracts them from the pool's count (each is taken to have found the spare). */
const WARMUP_STARTS = 10;
// Warm up the code paths (JIT of the host side) on both pools before measuring.
for (let i = 0; i < WARMUP_STARTS; i++) {
  await settle();
  await coldStart(pools.spare, 'warmup-s', i);
  await settle();
  await coldStart(pools.none, 'warmup-n', i);
}
for (let i = 0; i < n; i++) {
  const order = i % 2 === 0 ? (['spare', 'none'] as const) : (['none', 'spare'] as const);
  for (const name of order) {
    if (!(await settle()) && name === 'spare') noSpare++;
    const { first, second } = await coldStart(pools[name], name, i);
    results[name].first.push(first);
    results[name].second.push(second);
  }
}
const hits = pools.spare.stats().spareHits - WARMUP_STARTS;
for (const pool of Object.values(pools)) pool.destroy();
await backend.close();

const row = (name: string, r: { first: number[]; second: number[] }) =>
  `${name.padEnd(14)} p50 ${ms(median(r.first)).padStart(8)}   p99 ${ms(percentile(r.first, 99)).padStart(8)}   warm p50 ${ms(median(r.second)).padStart(8)}`;
console.log(`cold start + first invocation, in process: ${which}, ${n} versions per pool, memoryLimitMiB ${limits.memoryLimitMiB}`);
console.log(row('without spare', results.none));
console.log(row('with spare', results.spare));
console.log(`spare hits ${hits}/${n} (no spare ready: ${noSpare})`);
console.log(`ratio with/without: p50 ${(median(results.spare.first) / median(results.none.first)).toFixed(2)}, p99 ${(percentile(results.spare.first, 99) / percentile(results.none.first, 99)).toFixed(2)}`);
