/**
 * Per-call overhead of the `ctx.fetch` host side (`builtins/fetch/host.ts`) against undici and
 * Node's global `fetch` calling the same loopback server in the same run.
 *
 * The server is a bare `node:http` child process on 127.0.0.1 answering a small JSON body. Three
 * clients, all keep-alive, one request at a time (latency, not throughput):
 *   - `undici.request` with its own Agent (the floor: what the host builds on);
 *   - global `fetch` (what a Node function would use without the platform);
 *   - `host.execute(call, 'fetch', [url])`: argument checks, allowlist, per-invocation counter,
 *     timeout timer, vetted connector, body read and JSON-shaped reply. It reaches loopback through
 *     the test-only `allowAddresses` escape hatch with an injected DNS answer (`bench.test` →
 *     127.0.0.1), so no resolver time is counted. A fresh invocation (request id, AbortSignal)
 *     per call, as the sandbox gives one per invocation.
 * Rounds interleave the clients (round 1 of each, then round 2, …) so drift hits all alike.
 *
 * Run: `./node_modules/.bin/node --no-node-snapshot bench/fetch-overhead.ts`
 * Knobs: BENCH_FETCH_REQUESTS (per client, default 1500, at most 5000), BENCH_FETCH_ROUNDS (5).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { createFetchHost } from '../builtins/fetch/host.ts';
import type { BuiltinCall } from '../runtime/sandbox/interface.ts';
import { percentile, table } from './harness/stats.ts';

const REQUESTS = Math.min(5000, Math.max(100, Number(process.env.BENCH_FETCH_REQUESTS ?? 1500)));
const ROUNDS = Math.min(20, Math.max(1, Number(process.env.BENCH_FETCH_ROUNDS ?? 5)));
const WARMUP = 100;

const SERVER = `
import { createServer } from 'node:http';
const body = JSON.stringify({ ok: true, items: Array.from({ length: 8 }, (_, i) => ({ id: i, name: 'item' + i })) });
const server = createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(body)); });
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

const child = spawn(process.execPath, ['--input-type=module', '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
const [first] = (await once(child.stdout, 'data')) as [Buffer];
const port = Number(first.toString().trim());
if (!Number.isInteger(port) || port <= 0) throw new Error(`bench server did not report a port: ${first.toString()}`);

const undiciAgent = new Agent({ keepAliveTimeout: 60_000 });
const host = createFetchHost({
  allowlistFor: async () => ['bench.test'],
  options: { resolve: async () => ['127.0.0.1'], allowAddresses: [`127.0.0.1:${port}`] },
});
const direct = `http://127.0.0.1:${port}/items?page=1`;
const viaHost = `http://bench.test:${port}/items?page=1`;
let invocation = 0;

type Client = { name: string; once: () => Promise<void> };
const clients: Client[] = [
  {
    name: 'undici.request',
    once: async () => {
      const res = await request(direct, { dispatcher: undiciAgent });
      JSON.parse(await res.body.text());
    },
  },
  {
    name: 'global fetch',
    once: async () => {
      const res = await fetch(direct);
      await res.json();
    },
  },
  {
    name: 'ctx.fetch host',
    once: async () => {
      const controller = new AbortController();
      const call: BuiltinCall = { app: 'bench', function: 'f', versionId: 'v1', requestId: `bench-${++invocation}`, deadline: Date.now() + 30_000, signal: controller.signal };
      const reply = await host.execute(call, 'fetch', [viaHost, { headers: { accept: 'application/json' } }]);
      JSON.parse(reply.body);
      controller.abort();
    },
  },
];

const samples = new Map<string, number[]>(clients.map((c) => [c.name, []]));
try {
  for (const c of clients) for (let i = 0; i < WARMUP; i++) await c.once();
  const perRound = Math.ceil(REQUESTS / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of clients) {
      const list = samples.get(c.name) as number[];
      for (let i = 0; i < perRound; i++) {
        const t0 = performance.now();
        await c.once();
        list.push((performance.now() - t0) * 1000);
      }
    }
  }
} finally {
  await host.close();
  await undiciAgent.close();
  child.kill();
}

const us = (n: number): string => `${n.toFixed(0)} µs`;
const mean = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / v.length;
const base = percentile(samples.get('undici.request') as number[], 50);
const fetchMedian = percentile(samples.get('global fetch') as number[], 50);
const rows = clients.map((c) => {
  const v = samples.get(c.name) as number[];
  const p50 = percentile(v, 50);
  return [c.name, String(v.length), us(p50), us(percentile(v, 90)), us(percentile(v, 99)), us(mean(v)), `${(p50 / base).toFixed(2)}×`, `${(p50 / fetchMedian).toFixed(2)}×`];
});
console.log(`\nctx.fetch host overhead: ${REQUESTS} sequential keep-alive GETs per client against a loopback node:http server (${ROUNDS} interleaved rounds, ${WARMUP} warm-up each), Node ${process.version}\n`);
console.log(table(['client', 'requests', 'p50', 'p90', 'p99', 'mean', 'p50 vs undici.request', 'p50 vs fetch'], rows));
const hostMedian = percentile(samples.get('ctx.fetch host') as number[], 50);
console.log(`\nhost overhead per call (p50): ${us(hostMedian - base)} over undici.request, ${us(hostMedian - fetchMedian)} over global fetch\n`);
