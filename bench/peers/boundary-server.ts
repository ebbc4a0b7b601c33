/**
 * The isolate boundary alone, for `bench/isolate-boundary.ts`: a bare fastify server whose `hello`
 * route answers from one warm isolated-vm isolate, in the way `BOUNDARY_MODE` says, with none of
 * the platform around it (no alias resolution, IPC, metrics or watchdog):
 *
 *   bare              the handler in Node itself (the reference)
 *   apply-sync        Reference.applySync per request, no timeout
 *   apply-sync-timeout  the same with isolated-vm's `timeout` (what enforces a CPU limit on the
 *                     synchronous part; isolated-vm arms one timer per call)
 *   apply-async       Reference.apply (isolated-vm's thread pool), no timeout
 *   batch-timeout     requests parsed in one event-loop turn enter the isolate together (flushed
 *                     by setImmediate, after the poll phase has read every ready socket): one
 *                     applySync with one `timeout` per batch (what the sandbox does)
 *
 * Environment: PORT, BOUNDARY_MODE. Serves GET /hello.
 */
import Fastify from 'fastify';
import ivm from 'isolated-vm';
import { BOUNDARY_MODES, type BoundaryMode } from './boundary-modes.ts';

const mode = (process.env.BOUNDARY_MODE ?? 'bare') as BoundaryMode;
if (!BOUNDARY_MODES.includes(mode)) throw new Error(`BOUNDARY_MODE must be one of ${BOUNDARY_MODES.join(', ')}, got ${mode}`);
/** The per-call limit the platform would pass (a function's default cpuTimeMs is 200 ms). */
const TIMEOUT_MS = 200;

const isolate = new ivm.Isolate({ memoryLimit: 128 });
const context = isolate.createContextSync();
const one = context.evalSync(`(function () { return JSON.stringify({ hello: 'world', ok: true }); })`, { reference: true }) as ivm.Reference;
const many = context.evalSync(`(function (n) { const out = []; for (let i = 0; i < n; i++) out.push(JSON.stringify({ hello: 'world', ok: true })); return out; })`, { reference: true }) as ivm.Reference;

let queue: Array<(body: string) => void> = [];
function flush(): void {
  const waiting = queue;
  queue = [];
  const bodies = many.applySync(undefined, [waiting.length], { result: { copy: true }, timeout: TIMEOUT_MS }) as string[];
  for (let i = 0; i < waiting.length; i++) waiting[i]?.(bodies[i] ?? '');
}

const app = Fastify();
app.get('/hello', async (_request, reply) => {
  reply.type('application/json');
  switch (mode) {
    case 'bare': return JSON.stringify({ hello: 'world', ok: true });
    case 'apply-sync': return one.applySync(undefined, [], { result: { copy: true } }) as string;
    case 'apply-sync-timeout': return one.applySync(undefined, [], { result: { copy: true }, timeout: TIMEOUT_MS }) as string;
    case 'apply-async': return await one.apply(undefined, [], { result: { copy: true } }) as string;
    case 'batch-timeout': return await new Promise<string>((resolve) => {
      queue.push(resolve);
      if (queue.length === 1) setImmediate(flush);
    });
  }
});
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
