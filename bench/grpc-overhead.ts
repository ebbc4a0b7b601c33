/**
 * Per-call overhead of the `ctx.rpc.grpc` host (builtins/grpc/host.ts) over a raw @grpc/grpc-js
 * client, both against the same loopback server (builtins/grpc/test-server.ts) in the same run.
 *
 * The host does, per call, what the raw client does not: look up the app's service, check and
 * convert the JSON message against the proto, go through the app+target circuit breaker, build
 * metadata, and keep the retry loop. The raw client calls the same method with the same
 * proto-loader definition and the same deadline.
 *
 * Workloads: `GetItem` (tiny request) and `PutItem` (a nested item with enums, int64s, a map and a
 * repeated field, echoed back), each sequentially (latency) and with 16 calls in flight
 * (throughput). Raw and host run in paired rounds, alternating which goes first, and the ratios
 * are medians of the per-round ratios, so load from other processes hits both alike. Bounded:
 * `BENCH_GRPC_CALLS` calls per (workload, mode, client), default 2000, in 8 rounds.
 *
 * Run: `node --no-node-snapshot bench/grpc-overhead.ts`. Prints a markdown table; ratios are
 * host ÷ raw (1.00 = no overhead).
 */
import { cpus, loadavg } from 'node:os';
import { credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { createGrpcHost } from '../builtins/grpc/host.ts';
import { INVENTORY_PROTO, inventoryClientConstructor, startInventoryServer } from '../builtins/grpc/test-server.ts';
import type { BuiltinCall } from '../runtime/sandbox/interface.ts';
import { median, percentile, table } from './harness/stats.ts';

const CALLS = Math.max(100, Math.min(20_000, Number(process.env.BENCH_GRPC_CALLS ?? 2000)));
const ROUNDS = 8;
const CONCURRENCY = 16;
const WARMUP = 200;

const ITEM = {
  id: '9223372036854775807',
  name: 'sword of the bench',
  rarity: 'LEGENDARY',
  stats: [{ name: 'atk', value: 12 }, { name: 'def', value: 7 }, { name: 'spd', value: 3 }],
  prices: { gold: '18000000000000000', gems: '40' },
  owner_id: '42',
  weight: 2.5,
  tradable: true,
  quest: 'dragon',
  parent: { id: '1', rarity: 'RARE' },
};

type Workload = { name: string; method: 'GetItem' | 'PutItem'; message: Record<string, unknown> };
const WORKLOADS: Workload[] = [
  { name: 'GetItem (small)', method: 'GetItem', message: { id: '7' } },
  { name: 'PutItem (nested item, echoed)', method: 'PutItem', message: { item: ITEM } },
];

const server = await startInventoryServer();
const target = `127.0.0.1:${server.port}`;
const Ctor = inventoryClientConstructor() as unknown as new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client & Record<string, (req: unknown, opts: { deadline: number }, cb: (err: ServiceError | null, value: unknown) => void) => void>;
const raw = new Ctor(target, credentials.createInsecure());
const host = createGrpcHost({
  servicesFor: async () => [{ name: 'inventory', target, proto: INVENTORY_PROTO, service: 'game.Inventory', idempotentMethods: ['GetItem'] }],
  options: { privateNetworkAllowlist: ['127.0.0.1/32'] },
});
const signal = new AbortController().signal;
const invocation = (): BuiltinCall => ({ app: 'bench', function: 'bench', versionId: 'v1', requestId: 'r', deadline: Date.now() + 10_000, signal });

type Caller = (w: Workload) => Promise<unknown>;
const callers: Record<'raw' | 'host', Caller> = {
  raw: (w) => new Promise((resolve, reject) => {
    raw[w.method](w.message, { deadline: Date.now() + 2000 }, (err, value) => (err ? reject(err) : resolve(value)));
  }),
  host: (w) => host.execute(invocation(), 'call', ['inventory', w.method, w.message]),
};

/** `count` sequential calls; returns each call's latency in µs. */
async function sequential(call: Caller, w: Workload, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await call(w);
    out.push((performance.now() - t) * 1000);
  }
  return out;
}

/** `count` calls with `CONCURRENCY` in flight; returns the elapsed ms. */
async function concurrent(call: Caller, w: Workload, count: number): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < count) await call(w);
  }));
  return performance.now() - t;
}

const us = (n: number): string => `${n.toFixed(0)} µs`;
const x = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a');

try {
  for (const w of WORKLOADS) {
    await sequential(callers.raw, w, WARMUP);
    await sequential(callers.host, w, WARMUP);
  }
  const rows: string[][] = [];
  for (const w of WORKLOADS) {
    const lat = { raw: [] as number[], host: [] as number[] };
    const rps = { raw: [] as number[], host: [] as number[] };
    const p50Ratios: number[] = [];
    const rpsRatios: number[] = [];
    const perRound = Math.floor(CALLS / ROUNDS);
    for (let r = 0; r < ROUNDS; r++) {
      const p50: Record<string, number> = {};
      const rate: Record<string, number> = {};
      for (const kind of r % 2 === 0 ? (['raw', 'host'] as const) : (['host', 'raw'] as const)) {
        const samples = await sequential(callers[kind], w, perRound);
        lat[kind].push(...samples);
        p50[kind] = percentile(samples, 50);
        rate[kind] = perRound / ((await concurrent(callers[kind], w, perRound)) / 1000);
        rps[kind].push(rate[kind]);
      }
      p50Ratios.push(p50.host / p50.raw);
      rpsRatios.push(rate.raw / rate.host);
    }
    const p50 = { raw: percentile(lat.raw, 50), host: percentile(lat.host, 50) };
    const p99 = { raw: percentile(lat.raw, 99), host: percentile(lat.host, 99) };
    rows.push([
      w.name,
      `${us(p50.raw)} / ${us(p50.host)}`, us(p50.host - p50.raw), x(median(p50Ratios)),
      `${us(p99.raw)} / ${us(p99.host)}`, x(p99.host / p99.raw),
      `${median(rps.raw).toFixed(0)} / ${median(rps.host).toFixed(0)}`, x(median(rpsRatios)),
    ]);
  }
  console.log(`gRPC builtin overhead (host ÷ raw grpc-js client, same loopback server, same process): ${CALLS} sequential + ${CALLS} concurrent (${CONCURRENCY} in flight) calls per client and workload, in ${ROUNDS} paired rounds alternating which client goes first; ratios are medians of the per-round ratios. Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg()[0].toFixed(2)} at the end.\n`);
  console.log(table(
    ['workload', 'p50 raw / host', 'p50 overhead', 'p50 ratio', 'p99 raw / host', 'p99 ratio', `calls/s raw / host (${CONCURRENCY} in flight)`, 'time per call ratio'],
    rows,
  ));
} finally {
  raw.close();
  await host.close();
  server.stop();
}
