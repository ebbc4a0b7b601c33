/**
 * Per-call overhead of `ctx.redis` over the raw client (ioredis), on a throwaway `redis-server`, in
 * one run:
 *
 *  - **host**: `createRedisHost(createIoredisBackend(url)).execute(app, 'get', [key])` — argument
 *    matching against the allowlist, key prefixing, the command timeout, reply shaping — against
 *    `redis.get(prefixedKey)` on an ioredis client with the same options;
 *  - **from an isolate**: a function running in an isolated-vm isolate (the worker's real sandbox
 *    and builtin wiring) that awaits `ctx.redis.get(key)` N times in one invocation, per call,
 *    against the same N raw calls from Node. This adds the isolate boundary both ways (the
 *    argument and the reply are copied, the isolate's promise is settled from the host). The IPC
 *    hop gateway ⇄ worker is not part of it: with REDIS_URL the worker talks to Redis itself.
 *
 * Calls run one at a time (latency), and also 16 in flight for the host vs raw (throughput);
 * variants interleave in rounds so drift hits all alike.
 * Run: `node --no-node-snapshot bench/redis-overhead.ts` (knobs: `BENCH_REDIS_CALLS` per variant,
 * default 4000; `BENCH_REDIS_ROUNDS`, default 5). Needs `redis-server` on the PATH. Prints a
 * markdown table and the ratios of the medians.
 */
import { Redis } from 'ioredis';
import { createIoredisBackend } from '../builtins/redis/backend.ts';
import { createRedisHost } from '../builtins/redis/host.ts';
import { prefixKey } from '../builtins/redis/namespace.ts';
import { createBuiltinHost } from '../builtins/registry.ts';
import { createIsolateSandbox } from '../runtime/sandbox/isolate-sandbox.ts';
import { envNumber, median, percentile, table } from './harness/stats.ts';
import { hasRedisServer, startRedis } from './harness/redis.ts';

const CALLS = Math.max(100, envNumber('BENCH_REDIS_CALLS', 4000));
const ROUNDS = Math.max(1, envNumber('BENCH_REDIS_ROUNDS', 5));
const IN_FLIGHT = 16;
const APP = 'bench';

if (!hasRedisServer()) {
  console.error('redis-server is not installed: apt-get install redis-server');
  process.exit(2);
}
const server = await startRedis();
const backend = createIoredisBackend(server.url);
const host = createRedisHost(backend);
// The raw client gets the options the backend gives ioredis that matter for latency.
const raw = new Redis(server.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
const key = 'player:7:name';
await raw.set(prefixKey(APP, key), 'alice');

const builtins = createBuiltinHost({
  redis: (app, command, args) => host.execute(app, command, args),
  forward: async () => { throw new Error('only ctx.redis is served in this bench'); },
});
const sandbox = await createIsolateSandbox({
  key: `${APP}/loop@v1`, app: APP, function: 'loop', versionId: 'v1',
  code: `export default async (req, ctx) => { const n = Number(req.query.n); let last; for (let i = 0; i < n; i++) last = await ctx.redis.get(${JSON.stringify(key)}); return last; };`,
  limits: { memoryLimitMiB: 64, cpuTimeMs: 60_000, wallTimeMs: 120_000, maxBodyBytes: 1 << 20, maxResponseBytes: 1 << 20 },
}, builtins);
let seq = 0;
/** One invocation doing `n` sequential ctx.redis.get calls; returns ms per call. */
async function isolateLoop(n: number): Promise<number> {
  const t = performance.now();
  const result = await sandbox.invoke(
    { method: 'GET', path: '/', query: { n: String(n) }, headers: {}, body: null, bodyIsJson: false },
    { app: APP, function: 'loop', version: 'v1', alias: 'prod', requestId: `r${++seq}`, deadline: Date.now() + 120_000 },
  );
  if (!result.ok) throw new Error(`isolate loop failed: ${JSON.stringify(result.error)}`);
  return (performance.now() - t) / n;
}
/** The same `n` sequential calls from Node with the raw client; returns ms per call. */
async function rawLoop(n: number): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < n; i++) await raw.get(prefixKey(APP, key));
  return (performance.now() - t) / n;
}

// The paths must agree before they are timed.
const viaHost = await host.execute(APP, 'get', [key]);
const viaRaw = await raw.get(prefixKey(APP, key));
if (viaHost !== 'alice' || viaRaw !== 'alice') throw new Error(`host and raw disagree: ${String(viaHost)} / ${String(viaRaw)}`);

const single: Record<string, () => Promise<unknown>> = {
  'GET: raw ioredis': () => raw.get(prefixKey(APP, key)),
  'GET: ctx.redis host': () => host.execute(APP, 'get', [key]),
  'INCR: raw ioredis': () => raw.incr(prefixKey(APP, 'n')),
  'INCR: ctx.redis host': () => host.execute(APP, 'incr', ['n']),
  'ZINCRBY: raw ioredis': () => raw.zincrby(prefixKey(APP, 'board'), 1, 'p7'),
  'ZINCRBY: ctx.redis host': () => host.execute(APP, 'zincrby', ['board', 1, 'p7']),
};
for (const run of Object.values(single)) for (let i = 0; i < 300; i++) await run();
await isolateLoop(500);
await rawLoop(500);

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(single).map((name) => [name, []]));
const throughput: Record<string, number[]> = { 'GET ×16 in flight: raw ioredis': [], 'GET ×16 in flight: ctx.redis host': [] };
const loops: Record<string, number[]> = { 'GET in a loop: raw ioredis from Node': [], 'GET in a loop: ctx.redis from an isolate': [] };
const perRound = Math.ceil(CALLS / ROUNDS);
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(single)) {
    const out = samples[name] as number[];
    for (let i = 0; i < perRound; i++) {
      const t = performance.now();
      await run();
      out.push((performance.now() - t) * 1000);
    }
  }
  for (const [name, run] of [['GET ×16 in flight: raw ioredis', single['GET: raw ioredis']], ['GET ×16 in flight: ctx.redis host', single['GET: ctx.redis host']]] as const) {
    // 5× the round's calls: at ~100k calls/s a shorter burst is over in a few ms.
    const burst = perRound * 5;
    let left = burst;
    const t = performance.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (left-- > 0) await run();
    }));
    (throughput[name] as number[]).push(burst / ((performance.now() - t) / 1000));
  }
  // Ten invocations of perRound/10 calls each, per round; samples are µs per call.
  for (let i = 0; i < 10; i++) {
    (loops['GET in a loop: raw ioredis from Node'] as number[]).push((await rawLoop(Math.ceil(perRound / 10))) * 1000);
    (loops['GET in a loop: ctx.redis from an isolate'] as number[]).push((await isolateLoop(Math.ceil(perRound / 10))) * 1000);
  }
}

const us = (n: number) => `${n.toFixed(1)} µs`;
const rows: string[][] = [];
for (const [name, values] of Object.entries(samples)) rows.push([name, String(values.length), us(median(values)), us(percentile(values, 99))]);
for (const [name, values] of Object.entries(loops)) rows.push([`${name} (per call, median of ${values.length} invocations)`, String(values.length * Math.ceil(perRound / 10)), us(median(values)), '—']);
for (const [name, values] of Object.entries(throughput)) rows.push([name, String(values.length * perRound * 5), `${Math.round(median(values)).toLocaleString('en-US')} calls/s`, '—']);
const ratio = (a: string, b: string, from: Record<string, number[]>) => (median(from[a] as number[]) / median(from[b] as number[])).toFixed(2);
console.log(`\nctx.redis overhead over ioredis, redis-server ${server.version}, node ${process.version}, ${CALLS} calls per variant in ${ROUNDS} rounds\n`);
console.log(table(['variant', 'calls', 'p50', 'p99'], rows));
console.log(`\nratio host / raw (p50): GET ${ratio('GET: ctx.redis host', 'GET: raw ioredis', samples)}×, INCR ${ratio('INCR: ctx.redis host', 'INCR: raw ioredis', samples)}×, ZINCRBY ${ratio('ZINCRBY: ctx.redis host', 'ZINCRBY: raw ioredis', samples)}×`);
console.log(`ratio isolate / raw per call (GET in a loop): ${ratio('GET in a loop: ctx.redis from an isolate', 'GET in a loop: raw ioredis from Node', loops)}×`);
console.log(`throughput host / raw (16 in flight): ${(median(throughput['GET ×16 in flight: ctx.redis host'] as number[]) / median(throughput['GET ×16 in flight: raw ioredis'] as number[])).toFixed(2)}×`);

sandbox.dispose();
raw.disconnect();
await backend.close();
await server.stop();
