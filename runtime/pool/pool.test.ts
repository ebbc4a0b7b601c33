import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createEmbeddedBackend } from '../../builtins/redis/backend.ts';
import { createRedisHost } from '../../builtins/redis/host.ts';
import { createBuiltinHost } from '../../builtins/registry.ts';
import type { FunctionLimits } from '../../control-plane/core/types.ts';
import type { Sandbox, VersionSpec } from '../sandbox/interface.ts';
import { createIsolateSandbox } from '../sandbox/isolate-sandbox.ts';
import { HEAP_SAMPLES_PER_ROUND, IsolatePool, poolOptions, type PoolOptions } from './pool.ts';

const backend = createEmbeddedBackend();
const redis = createRedisHost(backend);
/** Builtins other than Redis are served by the gateway process; these tests do not call them. */
const notForwarded = async (): Promise<never> => { throw Object.assign(new Error('only ctx.redis is served in this test'), { code: 'E_INTERNAL' }); };
const host = createBuiltinHost({ redis: (app, command, args) => redis.execute(app, command, args), forward: notForwarded });
after(() => backend.close());

const LIMITS: FunctionLimits = { memoryLimitMiB: 32, cpuTimeMs: 200, wallTimeMs: 2000, maxBodyBytes: 1 << 20, maxResponseBytes: 1 << 20 };
const HELLO = `export default async function () { return 'hello' }`;
function spec(name: string, code = HELLO, app = 'pool-app'): VersionSpec {
  return { key: `${app}/${name}@v1`, app, function: name, versionId: 'v1', code, limits: LIMITS };
}

/** A pool over real isolates that counts cold starts per key. */
function makePool(options: Partial<PoolOptions> = {}) {
  const created = new Map<string, number>();
  const sandboxes: Sandbox[] = [];
  const pool = new IsolatePool(async (s) => {
    created.set(s.key, (created.get(s.key) ?? 0) + 1);
    const sandbox = await createIsolateSandbox(s, host);
    sandboxes.push(sandbox);
    return sandbox;
  }, poolOptions(options));
  return { pool, created, sandboxes };
}
const meta = { app: 'pool-app', function: 'f', version: 'v1', alias: 'prod', requestId: 'r', deadline: 0 };
const req = { method: 'GET', path: '/', query: {}, headers: {}, body: null, bodyIsJson: false };

test('a warm sandbox is reused: one cold start, then warm hand-outs', async () => {
  const { pool, created } = makePool();
  const first = await pool.acquire(spec('a'));
  assert.equal(first.coldStart, true);
  first.release();
  const second = await pool.acquire(spec('a'));
  assert.equal(second.coldStart, false);
  assert.equal(second.sandbox, first.sandbox);
  second.release();
  assert.equal(created.get('pool-app/a@v1'), 1);
  pool.destroy();
});

test('100 requests arriving together for a cold version compile it once', async () => {
  const { pool, created } = makePool({ maxConcurrencyPerIsolate: 100 });
  const leases = await Promise.all(Array.from({ length: 100 }, () => pool.acquire(spec('burst'))));
  assert.equal(created.get('pool-app/burst@v1'), 1);
  assert.equal(new Set(leases.map((l) => l.sandbox)).size, 1);
  const results = await Promise.all(leases.map((l) => l.sandbox.invoke(req, meta)));
  assert.ok(results.every((r) => r.ok && r.body === '"hello"'));
  for (const l of leases) l.release();
  pool.destroy();
});

test('the pool grows to maxIsolatesPerVersion, then waits, then fails with E_OVERLOADED', async () => {
  const { pool, created } = makePool({ maxIsolatesPerVersion: 2, maxConcurrencyPerIsolate: 1, queueTimeoutMs: 150 });
  const a = await pool.acquire(spec('grow'));
  const b = await pool.acquire(spec('grow'));
  assert.notEqual(a.sandbox, b.sandbox);
  assert.equal(created.get('pool-app/grow@v1'), 2);
  const waiting = pool.acquire(spec('grow'));
  setTimeout(() => a.release(), 30);
  const c = await waiting;
  assert.equal(c.sandbox, a.sandbox, 'the waiter gets the released sandbox');
  await assert.rejects(pool.acquire(spec('grow')), (err: Error & { code?: string }) => err.code === 'E_OVERLOADED');
  const controller = new AbortController();
  const aborted = pool.acquire(spec('grow'), controller.signal);
  controller.abort(new Error('client went away'));
  await assert.rejects(aborted, /client went away/);
  b.release();
  c.release();
  pool.destroy();
});

test('the total is capped with LRU eviction of idle sandboxes', async () => {
  const { pool, created } = makePool({ maxIsolates: 2 });
  (await pool.acquire(spec('one'))).release();
  (await pool.acquire(spec('two'))).release();
  (await pool.acquire(spec('one'))).release(); // `two` is now least recently used
  (await pool.acquire(spec('three'))).release();
  const stats = pool.stats();
  assert.equal(stats.isolates, 2);
  assert.equal(stats.evictions.lru, 1);
  (await pool.acquire(spec('one'))).release();
  assert.equal(created.get('pool-app/one@v1'), 1, '`one` stayed warm');
  (await pool.acquire(spec('two'))).release();
  assert.equal(created.get('pool-app/two@v1'), 2, '`two` was evicted and cold-started again');
  pool.destroy();
});

test('idle sandboxes are disposed after the idle timeout', async () => {
  const { pool, sandboxes } = makePool({ idleTimeoutMs: 50, sweepIntervalMs: 10 });
  (await pool.acquire(spec('idle'))).release();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(pool.stats().isolates, 0);
  assert.equal(pool.stats().evictions.idle, 1);
  assert.equal(sandboxes[0]?.poisoned, true, 'disposed');
  pool.destroy();
});

test('a sandbox that hit a limit is never handed out again', async () => {
  const { pool, created } = makePool();
  const code = `export default async function (req) { if (req.path === '/loop') for (;;) {} return 'ok' }`;
  const lease = await pool.acquire(spec('limit', code));
  const r = await lease.sandbox.invoke({ ...req, path: '/loop' }, meta);
  assert.equal(r.ok, false);
  lease.release();
  assert.equal(pool.stats().evictions.poisoned, 1);
  const next = await pool.acquire(spec('limit', code));
  assert.notEqual(next.sandbox, lease.sandbox);
  assert.equal(created.get('pool-app/limit@v1'), 2);
  const ok = await next.sandbox.invoke(req, meta);
  assert.ok(ok.ok && ok.body === '"ok"');
  next.release();
  pool.destroy();
});

test('a failed cold start reaches every waiter and is retried on the next request', async () => {
  const { pool, created } = makePool();
  const bad = spec('bad', `throw new Error('nope'); export default async function () {}`);
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => pool.acquire(bad)));
  assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'E_FUNCTION_ERROR'));
  assert.equal(created.get('pool-app/bad@v1'), 1);
  await assert.rejects(pool.acquire(bad));
  assert.equal(created.get('pool-app/bad@v1'), 2);
  assert.equal(pool.stats().isolates, 0);
  pool.destroy();
});

test('versions of different apps never share a sandbox', async () => {
  const { pool } = makePool();
  const a = await pool.acquire(spec('same', HELLO, 'app-a'));
  const b = await pool.acquire(spec('same', HELLO, 'app-b'));
  assert.notEqual(a.sandbox, b.sandbox);
  assert.equal(a.sandbox.spec.app, 'app-a');
  assert.equal(b.sandbox.spec.app, 'app-b');
  a.release();
  b.release();
  pool.destroy();
});

test('pool options are validated', () => {
  assert.throws(() => poolOptions({ maxIsolates: 0 }), /maxIsolates must be a positive integer/);
  assert.throws(() => poolOptions({ queueTimeoutMs: 1.5 }), /queueTimeoutMs/);
});

test('appStats(true) re-samples the heap of at most HEAP_SAMPLES_PER_ROUND isolates, those that ran since their last sample first', async () => {
  const n = HEAP_SAMPLES_PER_ROUND * 2 + 10;
  const sampled: string[] = [];
  const served = new Map<string, number>();
  // Light stand-ins: this test is about which isolates the pool asks, not about V8.
  const pool = new IsolatePool(async (s) => ({
    spec: s,
    inFlight: 0,
    poisoned: false,
    get invocations() { return served.get(s.key) ?? 0; },
    start: async () => {},
    invoke: async () => { served.set(s.key, (served.get(s.key) ?? 0) + 1); return { ok: true, status: 200, headers: {}, body: '1', cpuTimeMs: 0, logs: [], builtins: [], metrics: [] }; },
    heapUsedBytes: (refresh = true) => { if (refresh) sampled.push(s.key); return 1000; },
    dispose: () => {},
  }) as unknown as Sandbox, poolOptions({ spareCount: 0, maxIsolates: n + 10 }));
  for (let i = 0; i < n; i++) (await pool.acquire(spec(`f${i}`))).release();
  const rounds: number[] = [];
  for (let r = 0; r < 4; r++) {
    sampled.length = 0;
    const stats = pool.appStats(true);
    assert.equal(stats['pool-app']?.heapBytes, n * 1000, 'every isolate is counted with its last sample');
    rounds.push(sampled.length);
  }
  assert.deepEqual(rounds, [HEAP_SAMPLES_PER_ROUND, HEAP_SAMPLES_PER_ROUND, 10, 0], 'never-sampled isolates are worked through; then nothing changed');
  const lease = await pool.acquire(spec('f3'));
  await lease.sandbox.invoke(req, meta);
  lease.release();
  sampled.length = 0;
  pool.appStats(true);
  assert.deepEqual(sampled, ['pool-app/f3@v1'], 'only the isolate that ran is sampled again');
  sampled.length = 0;
  pool.appStats(false);
  assert.deepEqual(sampled, [], 'appStats(false) samples nothing');
  pool.destroy();
});
