/**
 * Latency of the walking skeleton, measured against a platform started as its own process tree
 * (`faas all`, embedded defaults) so the load generator does not share its event loop:
 *
 *  - warm invocations of demo/live-stream (GET a room: 2 Redis calls) and of a bare `hello`,
 *    against `/healthz` in the same run as the reference (gateway with no invocation);
 *  - cold starts: N fresh versions of live-stream (code already stored), first invocation each;
 *  - each limit's error path: time until the client has its error answer.
 *
 * Run: `node --no-node-snapshot bench/skeleton-latency.ts` (or `npm run bench:skeleton`).
 * Prints a markdown table; results are copied into bench/RESULTS.md.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

const WARM_REQUESTS = Number(process.env.BENCH_WARM ?? 3000);
const COLD_VERSIONS = Number(process.env.BENCH_COLD ?? 60);

const dataDir = await mkdtemp(join(tmpdir(), 'faas-bench-'));
const port = 18000 + Math.floor(Math.random() * 1000);
const server = spawn(process.execPath, ['--no-node-snapshot', new URL('../cli/main.ts', import.meta.url).pathname, 'all'], {
  env: { ...process.env, PORT: String(port), FAAS_DATA_DIR: dataDir, FAAS_LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
try {
  await waitReady();
  const key = (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim();
  const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const deploy = async (fn: string, code: string, limits?: Record<string, number>) => {
    const r = await fetch(`${base}/api/apps/bench/functions/${fn}/deploy`, { method: 'POST', headers: auth, body: JSON.stringify({ code, limits }) });
    if (r.status >= 300) throw new Error(`deploy ${fn}: ${r.status} ${await r.text()}`);
    return ((await r.json()) as { version: { id: string } }).version.id;
  };
  const post = (path: string, body: unknown) => fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => { await r.arrayBuffer(); return r; });

  await post('/fn/demo/live-stream/rooms', { roomId: 'bench', streamer: 's', title: 't' });
  await post('/fn/demo/live-stream/rooms/bench/join', { viewer: 'v' });
  await deploy('hello', `export default async () => ({ hello: 'world' })`);

  const rows: string[][] = [];
  for (const [name, path] of [['gateway /healthz (reference)', '/healthz'], ['hello', '/fn/bench/hello'], ['live-stream GET /rooms/bench', '/fn/demo/live-stream/rooms/bench']] as const) {
    await sequential(path, 200);
    const lat = await sequential(path, WARM_REQUESTS);
    rows.push([`warm: ${name}`, String(WARM_REQUESTS), ms(pct(lat, 50)), ms(pct(lat, 99))]);
  }

  const liveStream = await readFile(new URL('../functions/live-stream/index.js', import.meta.url), 'utf8');
  const cold: number[] = [];
  for (let i = 0; i < COLD_VERSIONS; i++) {
    const version = await deploy('live-stream-cold', `${liveStream}\n// cold start ${i} ${Date.now()}\n`);
    const t = performance.now();
    const r = await fetch(`${base}/fn/bench/live-stream-cold/rooms/top?by=viewers`, { headers: { 'x-faas-version': version } });
    await r.arrayBuffer();
    cold.push(performance.now() - t);
    if (r.headers.get('x-faas-cold-start') !== '1') throw new Error('expected a cold start');
  }
  rows.push(['cold start: live-stream, first invocation of a new version', String(COLD_VERSIONS), ms(pct(cold, 50)), ms(pct(cold, 99))]);

  const limits: Array<[string, string, Record<string, number> | undefined, string]> = [
    ['infinite loop (CPU limit 200 ms)', `export default async () => { for (;;) {} }`, undefined, 'E_TIMEOUT'],
    ['loop after an awaited ctx.redis call (CPU 200 ms)', `export default async (req, ctx) => { await ctx.redis.get('k'); for (;;) {} }`, undefined, 'E_TIMEOUT'],
    ['awaiting past the wall limit (wall 1 s)', `export default async (req, ctx) => { for (;;) await ctx.redis.get('k'); }`, { cpuTimeMs: 1000, wallTimeMs: 1000 }, 'E_TIMEOUT'],
    ['memory bomb (128 MiB)', `export default async () => { const a = []; for (;;) a.push(new Array(1e6).fill(1)); }`, { cpuTimeMs: 5000 }, 'E_MEMORY'],
    ['thrown error', `export default async () => { throw new Error('x') }`, undefined, 'E_FUNCTION_ERROR'],
    ['response over 6 MiB', `export default async () => 'x'.repeat(7 * 1024 * 1024)`, undefined, 'E_RESPONSE_TOO_LARGE'],
    ['process-aborting allocation (worker dies)', `export default async (req, ctx) => { await ctx.redis.get('x'); const s = new Set(); for (let i = 0; ; i++) s.add(i); }`, { cpuTimeMs: 5000, wallTimeMs: 10000 }, 'E_WORKER_CRASHED'],
  ];
  for (const [name, code, lim, expected] of limits) {
    const fn = `limit-${limits.findIndex((l) => l[0] === name)}`;
    await deploy(fn, code, lim);
    const t = performance.now();
    const r = await fetch(`${base}/fn/bench/${fn}`);
    const body = await r.json() as { error?: { code?: string } };
    const took = performance.now() - t;
    if (body.error?.code !== expected) throw new Error(`${name}: expected ${expected}, got ${JSON.stringify(body)}`);
    rows.push([`limit: ${name} → ${r.status} ${expected}`, '1', ms(took), '']);
    await new Promise((res) => setTimeout(res, 300)); // let a crashed worker come back
  }
  const big = await fetch(`${base}/fn/bench/hello`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'x'.repeat(2 * 1024 * 1024) }) });
  await big.arrayBuffer();
  rows.push([`limit: request body over 1 MiB → ${big.status}`, '1', '', '']);

  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  console.log(`\nMachine: ${cpus().length} × ${cpu}; Node ${process.version}; platform: faas all, 2 workers, embedded store; client: sequential fetch (keep-alive) from a separate process\n`);
  console.log('| measurement | n | p50 | p99 |\n| --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  await rm(dataDir, { recursive: true, force: true });
}

async function waitReady(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('platform did not become ready');
}

async function sequential(path: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await fetch(base + path);
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    out.push(performance.now() - t);
  }
  return out;
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

function ms(v: number): string {
  return `${v.toFixed(2)} ms`;
}
