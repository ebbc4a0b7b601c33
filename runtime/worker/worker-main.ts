/**
 * Entry point of an isolate-host worker process (forked by `runtime/supervisor.ts`). It holds the
 * isolate pool and nothing else of the platform: if V8 aborts this process on an allocation, only
 * its in-flight invocations fail and the supervisor starts a new one.
 *
 * Environment: `REDIS_URL` (when set, `ctx.redis` talks to Redis directly from here; otherwise each
 * call goes to the supervisor's embedded store over IPC), `FAAS_POOL_*` options (see `poolFromEnv`).
 */
import { createRedisHost } from '../../builtins/redis/host.ts';
import { createIoredisBackend } from '../../builtins/redis/backend.ts';
import { createBuiltinHost, type RedisExecute } from '../../builtins/registry.ts';
import { isPlatformError, runtimeError } from '../errors.ts';
import { IsolatePool, poolOptions } from '../pool/pool.ts';
import { isolateSandboxProvider, sandboxOptions } from '../sandbox/isolate-sandbox.ts';
import { Socket } from 'node:net';
import type { FunctionRequest, InvocationMeta, InvocationResult } from '../sandbox/interface.ts';
import type { TracingConfig } from '../tracing.ts';
import type { WorkerHttp } from './http-gateway.ts';
import type { ConnectionMessage, ForwardedCall, FromWorker, ResultTimings, TargetSpec, ToWorker } from './protocol.ts';
import { collectDefaultMetrics, Registry } from 'prom-client';

if (typeof process.send !== 'function') {
  process.stderr.write('worker-main.ts is started by the supervisor over IPC, not by hand\n');
  process.exit(2);
}
// Everything one event-loop turn produces leaves as one IPC write (see the supervisor's `post`).
const outbox: FromWorker[] = [];
const flush = (): void => {
  const batch = outbox.splice(0);
  if (batch.length > 0) process.send?.(batch);
};
const send = (msg: FromWorker): void => {
  outbox.push(msg);
  if (outbox.length === 1) setImmediate(flush);
};

// --- requests to the supervisor (code, embedded builtins) ----------------------------------------
let nextReqId = 0;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
function ask(build: (reqId: number) => FromWorker): Promise<unknown> {
  const reqId = ++nextReqId;
  return new Promise((resolve, reject) => {
    pending.set(reqId, { resolve, reject });
    send(build(reqId));
  });
}

const codeCache = new Map<string, Promise<string>>();
const CODE_CACHE_MAX = 5000;
/** Code of a version, fetched once (single-flight) and cached; versions are immutable. */
function codeFor(target: TargetSpec): Promise<string> {
  let code = codeCache.get(target.key);
  if (code === undefined) {
    code = ask((reqId) => ({ type: 'get-code', reqId, app: target.app, function: target.function, versionId: target.versionId })).then((c) => {
      if (typeof c !== 'string') throw runtimeError('E_FUNCTION_NOT_FOUND', `version ${target.versionId} of ${target.app}/${target.function} no longer exists`);
      return c;
    });
    code.catch(() => codeCache.delete(target.key));
    if (codeCache.size >= CODE_CACHE_MAX) codeCache.delete(codeCache.keys().next().value as string);
    codeCache.set(target.key, code);
  }
  return code;
}

// --- builtins ----------------------------------------------------------------------------------
// With REDIS_URL, ctx.redis goes straight to Redis from here; every other builtin (and the embedded
// Redis store) is served by the gateway process.
let redisExecute: RedisExecute | null = null;
const redisUrl = process.env.REDIS_URL;
if (redisUrl) {
  const host = createRedisHost(createIoredisBackend(redisUrl));
  redisExecute = (app, command, args) => host.execute(app, command, args);
}
const builtins = createBuiltinHost({
  redis: redisExecute,
  forward: (call, builtin, op, args) => {
    const forwarded: ForwardedCall = { app: call.app, function: call.function, versionId: call.versionId, requestId: call.requestId, deadline: call.deadline };
    const local = builtin === 'config' ? http?.config(forwarded, op, [...args]) : undefined;
    if (local !== undefined) return local;
    return ask((reqId) => ({ type: 'builtin', reqId, builtin, op, args: [...args], call: http === null ? forwarded : http.describe(forwarded) }));
  },
});

// --- pool --------------------------------------------------------------------------------------
const intEnv = (name: string): number | undefined => (process.env[name] ? Number(process.env[name]) : undefined);
// A pre-created spare isolate (context, bootstrap, `faas` module ready) takes most of a cold
// start off the request path; FAAS_POOL_SPARE=<n> keeps n of them (default 2), 0 none.
const pool = new IsolatePool(isolateSandboxProvider(builtins, sandboxOptions({
  onCatastrophicError: (message) => {
    process.stderr.write(`worker ${process.pid}: isolated-vm catastrophic error (${message}); aborting so the supervisor restarts this worker\n`);
    process.abort();
  },
})), poolOptions({
  // Two by default: a worker's cold starts often come faster than one preparation (~2 ms).
  // The value was checked (0–16) by the platform process before it started this worker.
  spareCount: intEnv('FAAS_POOL_SPARE') ?? 2,
  maxIsolates: intEnv('FAAS_POOL_MAX_ISOLATES'),
  maxConcurrencyPerIsolate: intEnv('FAAS_POOL_MAX_CONCURRENCY'),
  idleTimeoutMs: intEnv('FAAS_POOL_IDLE_TIMEOUT_MS'),
  queueTimeoutMs: intEnv('FAAS_POOL_QUEUE_TIMEOUT_MS'),
}));

function failure(err: unknown): InvocationResult {
  const e = isPlatformError(err) ? err : runtimeError('E_INTERNAL', 'the invocation failed because of a platform fault');
  if (!isPlatformError(err)) process.stderr.write(`worker ${process.pid}: ${(err as Error)?.stack ?? String(err)}\n`);
  return { ok: false, status: e.status, error: e.toJSON().error, cpuTimeMs: 0, logs: [], builtins: [], metrics: [] };
}

/** Run one invocation in this worker's pool. Never rejects: failures come back as results. */
async function runLocal(target: TargetSpec, request: FunctionRequest, meta: InvocationMeta): Promise<{ result: InvocationResult; timings: ResultTimings }> {
  let result: InvocationResult;
  const timings: ResultTimings = { coldStart: false, coldStartMs: 0, queueMs: 0, acquiredFrom: 0 };
  try {
    const code = await codeFor(target);
    const acquireStart = performance.now();
    timings.acquiredFrom = performance.timeOrigin + acquireStart;
    let lease = await pool.acquire({ ...target, code });
    if (lease.sandbox.poisoned) {
      // Disposed between hand-out and use (a concurrent invocation hit a limit): take a fresh one.
      lease.release();
      lease = await pool.acquire({ ...target, code });
    }
    const acquireMs = performance.now() - acquireStart;
    timings.coldStart = lease.coldStart;
    if (lease.coldStart) timings.coldStartMs = acquireMs;
    else timings.queueMs = acquireMs;
    try {
      result = await lease.sandbox.invoke(request, meta);
    } finally {
      lease.release();
    }
  } catch (err) {
    result = failure(err);
  }
  return { result, timings };
}

async function invoke(msg: Extract<ToWorker, { type: 'invoke' }>): Promise<void> {
  const { result, timings } = await runLocal(msg.target, msg.request, msg.meta);
  send({ type: 'result', id: msg.id, result, timings });
}

// --- shape (b): this worker serves HTTP itself (FAAS_WORKER_HTTP names the gateway process's private socket) ---
const httpSocket = process.env.FAAS_WORKER_HTTP;
const http: WorkerHttp | null = httpSocket ? await (await import('./http-gateway.ts')).startWorkerHttp({
  index: Number(process.env.FAAS_WORKER_INDEX ?? 0),
  upstreamSocket: httpSocket,
  tracing: JSON.parse(process.env.FAAS_WORKER_TRACING ?? '{"sampleRatio":1,"serviceName":"faas"}') as TracingConfig,
  ask,
  send,
  sendNow: (msg) => process.send?.([msg]),
  runLocal,
}) : null;

process.on('message', (msg: ToWorker | ToWorker[] | ConnectionMessage, handle?: unknown) => {
  if (Array.isArray(msg)) for (const m of msg) onMessage(m);
  else if (msg.type === 'connection') {
    // A connection handed over by the gateway process (shape (b)); without an HTTP side, close it.
    if (http !== null && handle instanceof Socket) http.accept(handle);
    else if (handle instanceof Socket) handle.destroy();
  } else onMessage(msg);
});

function onMessage(msg: ToWorker): void {
  if (http?.onMessage(msg) === true) return;
  switch (msg.type) {
    case 'invoke':
      // The supervisor sends the code with the first invocation of a version on this worker.
      if (typeof msg.code === 'string' && !codeCache.has(msg.target.key)) {
        if (codeCache.size >= CODE_CACHE_MAX) codeCache.delete(codeCache.keys().next().value as string);
        codeCache.set(msg.target.key, Promise.resolve(msg.code));
      }
      void invoke(msg);
      break;
    case 'code': {
      const p = pending.get(msg.reqId);
      pending.delete(msg.reqId);
      p?.resolve(msg.code);
      break;
    }
    case 'reply': {
      const p = pending.get(msg.reqId);
      pending.delete(msg.reqId);
      if (p === undefined) break;
      if (msg.ok) p.resolve(msg.value);
      else p.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
      break;
    }
    case 'shutdown':
      // Stop taking connections, then flush results of drained invocations before exiting.
      void (http?.close() ?? Promise.resolve()).catch(() => {}).then(() => pool.close(2000)).finally(() => {
        flush();
        process.exit(0);
      });
      break;
  }
}
process.on('disconnect', () => { pool.destroy(); process.exit(0); });
send({ type: 'ready', pid: process.pid });
// Lets the supervisor see a blocked event loop (a stuck isolate on this thread) and route around it.
// It carries the pool's state for /metrics; a new heap sample starts on every 4th beat (~1 s).
// Every 8th beat (~2 s) it is followed by this process's Node.js metrics (GC, event loop lag, heap).
const nodeMetrics = new Registry();
collectDefaultMetrics({ register: nodeMetrics });
let beats = 0;
setInterval(() => {
  const beat = beats++;
  const apps = pool.appStats(beat % 4 === 0);
  send({ type: 'heartbeat', pool: { apps, evictions: { ...pool.stats().evictions } } });
  if (http !== null) send({ type: 'http-heartbeat', http: http.sample() });
  if (beat % 8 === 0) {
    nodeMetrics.getMetricsAsJSON().then((metrics) => send({ type: 'node-metrics', metrics }), (err: unknown) => {
      process.stderr.write(`worker: collecting Node.js metrics failed: ${String(err)}\n`);
    });
  }
}, 250).unref();
