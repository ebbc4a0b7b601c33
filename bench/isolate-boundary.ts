/**
 * What crossing into an isolated-vm isolate costs an HTTP server, and what isolated-vm's `timeout`
 * adds: bare fastify against the same server answering from a warm isolate in four ways
 * (`peers/boundary-server.ts`), one process per mode, measured in the same run. This is the ceiling
 * the platform's design can reach on one core before any of its own work, and the evidence for
 * starting queued invocations together (runtime/README.md, Concurrency).
 *
 * Run: `node --no-node-snapshot bench/isolate-boundary.ts` (or `npm run bench:boundary`). Load
 * generator pinned to CPU 0, server to CPU 1 (as `npm run bench`); autocannon, 50 connections,
 * BENCH_REPS × (BENCH_WARMUP + BENCH_DURATION) s per mode, interleaved. Prints a markdown table.
 */
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { measure, type LoadResult } from './harness/load.ts';
import { canPin, freePort, pinProcess, startServer, waitHttp } from './harness/proc.ts';
import { envNumber as num, int, median, table } from './harness/stats.ts';
import { BOUNDARY_MODES as MODES } from './peers/boundary-modes.ts';

const load = { connections: num('BENCH_CONNECTIONS', 50), durationS: num('BENCH_DURATION', 4), warmupS: num('BENCH_WARMUP', 1) };
const REPS = Math.max(1, num('BENCH_REPS', 2));
const pin = canPin(cpus().length);
if (pin) pinProcess(process.pid, '0');

const runs = new Map<string, LoadResult[]>(MODES.map((m) => [m, []]));
for (let rep = 0; rep < REPS; rep++) {
  for (const mode of MODES) {
    const port = await freePort();
    const server = startServer({
      name: `boundary ${mode}`,
      command: process.execPath,
      args: ['--no-node-snapshot', fileURLToPath(new URL('./peers/boundary-server.ts', import.meta.url))],
      env: { PORT: String(port), BOUNDARY_MODE: mode, NODE_OPTIONS: undefined },
      cpus: pin ? '1' : undefined,
    });
    try {
      await waitHttp(server, `http://127.0.0.1:${port}/hello`);
      const result = await measure({ url: `http://127.0.0.1:${port}/hello` }, load);
      if (result.non2xx + result.errors > 0) throw new Error(`${mode}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      runs.get(mode)?.push(result);
      process.stdout.write(`  rep ${rep + 1}/${REPS} ${mode.padEnd(20)} ${int(result.rps)} req/s  p99 ${result.p99Ms} ms\n`);
    } finally {
      await server.stop();
    }
  }
}
const rps = (mode: string) => median((runs.get(mode) ?? []).map((r) => r.rps));
const bare = rps('bare');
process.stdout.write(`\nisolate boundary, ${load.connections} connections, ${REPS} × ${load.durationS} s per mode, ${pin ? 'load on CPU 0, server on CPU 1' : 'not pinned'}\n\n`);
process.stdout.write(`${table(['mode', 'req/s (median)', '× bare fastify', 'µs per request (one core: 1 s ÷ req/s)'], MODES.map((m) => [
  m, int(rps(m)), (rps(m) / bare).toFixed(2), (1e6 / rps(m)).toFixed(1),
]))}\n`);
