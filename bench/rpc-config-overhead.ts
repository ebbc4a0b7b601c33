/**
 * Per-call cost of `ctx.rpc.call` and `ctx.config.get`, measured through a running platform
 * (`faas all` as its own process tree, embedded defaults), in one run.
 *
 *  - `ctx.rpc.call('echo', payload)` has no "raw client": the alternative a studio has is calling
 *    the other function over HTTP. So the reference is a keep-alive HTTP invocation of `echo` from
 *    Node (`fetch` → gateway → worker → isolate), and the measured figure is the per-call time of N
 *    `ctx.rpc.call`s made in a loop by one invocation of `front` (isolate → worker → gateway →
 *    pool → callee isolate and back), i.e. what one call costs a function.
 *  - `ctx.config.get('REGION')` against reading a constant inside the function: per call in a loop
 *    of N, minus the empty loop.
 *
 * Run: `node --no-node-snapshot bench/rpc-config-overhead.ts` (knob: `BENCH_RPC_CALLS`, calls per
 * round, default 500; 5 rounds). Prints a markdown table with medians over rounds.
 */
import { envNumber, percentile, table } from './harness/stats.ts';
import { startPlatform } from './peers/platform.ts';

const CALLS = Math.max(50, envNumber('BENCH_RPC_CALLS', 500));
const ROUNDS = 5;
const APP = 'bench';
/** The loops run many calls in one invocation: give them room (the defaults are 200 ms CPU, 5 s wall). */
const LOOP_LIMITS = { cpuTimeMs: 20_000, wallTimeMs: 120_000 };

const platform = await startPlatform();
try {
  await platform.deploy(APP, 'echo', 'export default async (req) => ({ got: req.body });');
  await platform.deploy(APP, 'front', `export default async (req, ctx) => {
    const n = Number(req.query.n);
    const t = Date.now();
    let last;
    for (let i = 0; i < n; i++) last = await ctx.rpc.call('echo', { i, room: 'r-42' });
    return { ms: Date.now() - t, last };
  };`, LOOP_LIMITS);
  await platform.deploy(APP, 'cfg', `export default async (req, ctx) => {
    const n = Number(req.query.n);
    let t = Date.now();
    let v;
    for (let i = 0; i < n; i++) v = await ctx.config.get('REGION');
    const config = Date.now() - t;
    t = Date.now();
    for (let i = 0; i < n; i++) v = await Promise.resolve('eu');
    return { config, constant: Date.now() - t, v };
  };`, LOOP_LIMITS);
  const put = await platform.api(`/api/apps/${APP}/functions/cfg/config/REGION`, { method: 'PUT', body: JSON.stringify({ value: 'eu' }) });
  if (put.status !== 204) throw new Error(`config PUT: ${put.status} ${await put.text()}`);

  const invoke = async (fn: string, path = '', body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${platform.base}/fn/${APP}/${fn}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = await res.json() as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`${fn}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  // Agree before timing; warm every isolate and the HTTP connection.
  const probe = await invoke('front', '?n=1');
  if (JSON.stringify(probe.last) !== JSON.stringify({ got: { i: 0, room: 'r-42' } })) throw new Error(`rpc answer: ${JSON.stringify(probe)}`);
  for (let i = 0; i < 200; i++) await invoke('echo', '', { i, room: 'r-42' });
  await invoke('front', `?n=${CALLS}`);
  if ((await invoke('cfg', '?n=1')).v !== 'eu') throw new Error('config answer');

  const http: number[] = [];
  const rpc: number[] = [];
  const config: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const t = performance.now();
    for (let i = 0; i < CALLS; i++) await invoke('echo', '', { i, room: 'r-42' });
    http.push(((performance.now() - t) * 1000) / CALLS);
    rpc.push(((await invoke('front', `?n=${CALLS}`)).ms as number) * 1000 / CALLS);
    const c = await invoke('cfg', `?n=${CALLS * 4}`);
    config.push((((c.config as number) - (c.constant as number)) * 1000) / (CALLS * 4));
  }
  const us = (n: number) => `${n.toFixed(1)} µs`;
  const span = (v: number[]) => `${us(Math.min(...v))}–${us(Math.max(...v))}`;
  console.log(`\nctx.rpc.call and ctx.config.get per call, ${ROUNDS} rounds of ${CALLS} (config: ${CALLS * 4}), node ${process.version}\n`);
  console.log(table(['variant', 'per call (median of rounds)', 'spread'], [
    ['echo over HTTP from Node (keep-alive fetch; the reference)', us(percentile(http, 50)), span(http)],
    ['ctx.rpc.call(\'echo\') from a function', us(percentile(rpc, 50)), span(rpc)],
    ['ctx.config.get(\'REGION\') minus a constant read', us(percentile(config, 50)), span(config)],
  ]));
  console.log(`\nratio rpc.call / HTTP invocation (p50): ${(percentile(rpc, 50) / percentile(http, 50)).toFixed(2)}×`);
} finally {
  await platform.stop();
}
