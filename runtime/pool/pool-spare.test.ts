import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createEmbeddedBackend } from '../../builtins/redis/backend.ts';
import { createRedisHost } from '../../builtins/redis/host.ts';
import { createBuiltinHost } from '../../builtins/registry.ts';
import type { FunctionLimits } from '../../control-plane/core/types.ts';
import type { InvocationResult, Sandbox, SandboxProvider, SpareIsolate, SparePace, VersionSpec } from '../sandbox/interface.ts';
import { isolateSandboxProvider, sandboxOptions } from '../sandbox/isolate-sandbox.ts';
import type { PreparedIsolate } from '../sandbox/prepared-isolate.ts';
import { IsolatePool, poolOptions, SPARE_RETRY_MS, type PoolOptions } from './pool.ts';

const backend = createEmbeddedBackend();
const redis = createRedisHost(backend);
const notForwarded = async (): Promise<never> => { throw Object.assign(new Error('only ctx.redis is served in this test'), { code: 'E_INTERNAL' }); };
const host = createBuiltinHost({ redis: (app, command, args) => redis.execute(app, command, args), forward: notForwarded });
const base = isolateSandboxProvider(host, sandboxOptions());
after(() => backend.close());

const SPARE_MIB = 32;
const LIMITS: FunctionLimits = { memoryLimitMiB: SPARE_MIB, cpuTimeMs: 200, wallTimeMs: 2000, maxBodyBytes: 1 << 20, maxResponseBytes: 1 << 20 };
const HELLO = `export default async function () { return 'hello' }`;
function spec(name: string, code = HELLO, limits: Partial<FunctionLimits> = {}): VersionSpec {
  return { key: `spare-app/${name}@v1`, app: 'spare-app', function: name, versionId: 'v1', code, limits: { ...LIMITS, ...limits } };
}

/** A pool over real isolates whose provider records every spare it prepared and every sandbox it made. */
function makePool(options: Partial<PoolOptions> = {}, provider: SandboxProvider = base) {
  const spares: SpareIsolate[] = [];
  const sandboxes: Sandbox[] = [];
  const prepareSpare = provider.prepareSpare;
  const recording: SandboxProvider = {
    create: async (s, spare) => {
      const sandbox = await provider.create(s, spare);
      sandboxes.push(sandbox);
      return sandbox;
    },
    ...(prepareSpare === undefined ? {} : {
      prepareSpare: async (mib: number, pace?: SparePace) => {
        const spare = await prepareSpare(mib, pace);
        spares.push(spare);
        return spare;
      },
    }),
  };
  const pool = new IsolatePool(recording, poolOptions({ spareMemoryLimitMiB: SPARE_MIB, onSpareError: () => {}, ...options }));
  return { pool, spares, sandboxes };
}

/** Wait (polling every 5 ms, at most `ms`) until `check` holds. */
async function until(check: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
const meta = { app: 'spare-app', function: 'f', version: 'v1', alias: 'prod', requestId: 'r', deadline: 0 };
const req = { method: 'GET', path: '/', query: {}, headers: {}, body: null, bodyIsJson: false };
function errorCode(r: InvocationResult): string {
  return r.ok ? '' : r.error.code;
}

test('a cold start takes the spare, and a new spare is prepared after its lease is released', async () => {
  const { pool, spares } = makePool({ sweepIntervalMs: 60_000 }); // no sweep: only the release may refill
  await until(() => pool.stats().spares === 1, 'the first spare');
  assert.equal(pool.stats().isolates, 1, 'the spare counts as an isolate');
  const lease = await pool.acquire(spec('a'));
  assert.equal(lease.coldStart, true);
  assert.deepEqual([pool.stats().spareHits, pool.stats().spares, pool.stats().isolates], [1, 0, 1], 'the spare became the sandbox');
  const r = await lease.sandbox.invoke(req, meta);
  assert.ok(r.ok && r.body === '"hello"');
  assert.equal(spares.length, 1, 'no refill while the cold start is in flight');
  lease.release();
  await until(() => pool.stats().spares === 1, 'the refilled spare');
  assert.equal(spares.length, 2);
  assert.equal(spares[0]?.available, false, 'the first spare was used');
  assert.equal(spares[1]?.available, true);
  assert.equal(pool.stats().isolates, 2);
  pool.destroy();
});

test('the refill waits while invocations are running, but not for ever', async () => {
  const { pool } = makePool({ spareRefillDelayMs: 50 });
  await until(() => pool.stats().spares === 1, 'spare');
  const held = await pool.acquire(spec('held', HELLO, { memoryLimitMiB: 16 })); // not the spare's limit
  const cold = await pool.acquire(spec('cold'));
  assert.equal(pool.stats().spareHits, 1);
  cold.release();
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(pool.stats().spares, 0, 'no refill while an invocation holds a lease');
  await until(() => pool.stats().spares === 1, 'the refill after at most 10 deferrals', 3000);
  assert.equal(pool.stats().busy, 1, 'prepared while the lease was still held');
  held.release();
  pool.destroy();
});

test('each spare serves one version once: sandboxes made from spares never share an isolate or a realm', async () => {
  const { pool } = makePool();
  const leak = `globalThis.leaked = 'secret'; Array.prototype.push = () => 'patched';
    export default async function () { return { seen: typeof globalThis.leaked, push: [].push(1) } }`;
  await until(() => pool.stats().spares === 1, 'spare');
  const a = await pool.acquire(spec('leaker', leak));
  a.release();
  await until(() => pool.stats().spares === 1, 'refill');
  const b = await pool.acquire(spec('reader', `export default async function () { return { seen: typeof globalThis.leaked, push: [].push(1) } }`));
  assert.equal(pool.stats().spareHits, 2);
  assert.notEqual(a.sandbox, b.sandbox);
  const r = await b.sandbox.invoke(req, meta);
  assert.ok(r.ok);
  if (r.ok) assert.deepEqual(JSON.parse(r.body ?? ''), { seen: 'undefined', push: 1 });
  b.release();
  pool.destroy();
});

test('a version with another memory limit cold-starts without the spare and gets its own limit', async () => {
  const { pool } = makePool();
  await until(() => pool.stats().spares === 1, 'spare');
  // 48 MB of doubles: fits under a 64 MiB limit, not under the spare's 32 MiB (measured: fails at 32, passes at 48).
  const hog = `export default async function () { const a = []; for (let i = 0; i < 12; i++) a.push(new Array(5e5).fill(i + 0.5)); return a.length }`;
  const roomy = { cpuTimeMs: 5000, wallTimeMs: 5000 };
  const big = await pool.acquire(spec('big', hog, { memoryLimitMiB: 64, ...roomy }));
  const small = await pool.acquire(spec('small', `export default async function () { const a = []; for (;;) a.push(new Array(1e6).fill(a.length)); }`, { memoryLimitMiB: 16, ...roomy }));
  assert.deepEqual([pool.stats().spareHits, pool.stats().spares], [0, 1], 'the spare is still there');
  const ok = await big.sandbox.invoke(req, meta);
  assert.ok(ok.ok && ok.body === '12', `64 MiB is the version's own limit, not the spare's: ${JSON.stringify(ok)}`);
  const r = await small.sandbox.invoke(req, meta);
  assert.equal(errorCode(r), 'E_MEMORY');
  assert.equal(r.ok ? null : r.error.limitMiB, 16);
  big.release();
  small.release();
  // The same code on the spare (32 MiB) is stopped by the spare's limit, which is that version's.
  const onSpare = await pool.acquire(spec('on-spare', hog, roomy));
  assert.equal(pool.stats().spareHits, 1);
  const stopped = await onSpare.sandbox.invoke(req, meta);
  assert.equal(errorCode(stopped), 'E_MEMORY');
  assert.equal(stopped.ok ? null : stopped.error.limitMiB, SPARE_MIB);
  onSpare.release();
  pool.destroy();
});

test('CPU and wall-clock limits hold on a sandbox made from the spare', async () => {
  const { pool } = makePool();
  await until(() => pool.stats().spares === 1, 'spare');
  const lease = await pool.acquire(spec('loop', `export default async function (req, ctx) { if (req.path === '/wait') for (;;) await ctx.redis.get('k'); for (;;) {} }`, { wallTimeMs: 300 }));
  assert.equal(pool.stats().spareHits, 1);
  assert.equal(errorCode(await lease.sandbox.invoke(req, meta)), 'E_TIMEOUT');
  lease.release();
  await until(() => pool.stats().spares === 1, 'refill');
  const wait = await pool.acquire(spec('wait', `export default async function (req, ctx) { for (;;) await ctx.redis.get('k'); }`, { wallTimeMs: 300, cpuTimeMs: 300 }));
  assert.equal(pool.stats().spareHits, 2);
  const r = await wait.sandbox.invoke(req, meta);
  assert.equal(errorCode(r), 'E_TIMEOUT');
  assert.match(r.ok ? '' : r.error.message, /wall-clock limit of 300 ms/);
  wait.release();
  pool.destroy();
});

test('two cold starts back to back both succeed, the second without a spare', async () => {
  const { pool } = makePool();
  await until(() => pool.stats().spares === 1, 'spare');
  const [a, b] = await Promise.all([pool.acquire(spec('one')), pool.acquire(spec('two'))]);
  assert.ok(a !== undefined && b !== undefined);
  assert.equal(pool.stats().spareHits, 1, 'one took the spare, the other cold-started as before');
  assert.equal(pool.stats().coldStarts, 2);
  for (const lease of [a, b]) {
    const r = await lease.sandbox.invoke(req, meta);
    assert.ok(r.ok && r.body === '"hello"');
  }
  a.release();
  b.release();
  // …and one right after the other, without waiting for the refill.
  const c = await pool.acquire(spec('three'));
  c.release();
  const d = await pool.acquire(spec('four'));
  assert.ok((await d.sandbox.invoke(req, meta)).ok);
  d.release();
  assert.equal(pool.stats().coldStarts, 4);
  assert.equal(pool.stats().coldStartFailures, 0);
  pool.destroy();
});

/**
 * A provider whose spare preparations wait at a gate before they start, recording the pace each was
 * given and the spare (or null) each cold start was made from; `failNext` makes the next one fail at the gate.
 */
function gatedProvider() {
  let open!: () => void;
  const gate = new Promise<void>((r) => { open = r; });
  const paces: SparePace[] = [];
  const created: Array<SpareIsolate | null> = [];
  const state = { failNext: false };
  const provider: SandboxProvider = {
    create: async (s, spare) => { created.push(spare ?? null); return base.create(s, spare); },
    prepareSpare: async (mib, pace) => {
      paces.push(pace as SparePace);
      await gate;
      if (state.failNext) throw new Error('the spare could not be made');
      return (base.prepareSpare as NonNullable<SandboxProvider['prepareSpare']>)(mib, pace);
    },
  };
  return { provider, open, paces, created, state };
}

test('a cold start that finds the spare being prepared waits for it (hurried) instead of preparing a second isolate', async () => {
  const g = gatedProvider();
  const pool = new IsolatePool(g.provider, poolOptions({ spareMemoryLimitMiB: SPARE_MIB, onSpareError: () => {} }));
  await until(() => g.paces.length === 1, 'the spare preparation started');
  // Another heap limit does not wait: it cold-starts on its own while the spare is still at the gate.
  const other = await pool.acquire(spec('other-limit', HELLO, { memoryLimitMiB: 16 }));
  assert.deepEqual(g.created, [null]);
  assert.equal(g.paces[0]?.hurried, false, 'a cold start the spare does not fit does not hurry it');
  other.release();
  const acquiring = pool.acquire(spec('waits'));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(g.created.length, 1, 'the fitting cold start waits for the spare being prepared');
  assert.equal(g.paces[0]?.hurried, true, 'and hurries it');
  g.open();
  const lease = await acquiring;
  assert.equal(lease.coldStart, true);
  assert.equal(g.created.length, 2);
  const spare = g.created[1] as PreparedIsolate | null;
  assert.ok(spare !== null, 'the cold start was made from the spare');
  assert.equal(spare.warmedUp, false, 'a hurried spare skips the warm-up');
  assert.deepEqual([pool.stats().spareHits, pool.stats().coldStarts, pool.stats().isolates], [1, 2, 2]);
  const r = await lease.sandbox.invoke(req, meta);
  assert.ok(r.ok && r.body === '"hello"', JSON.stringify(r));
  lease.release();
  pool.destroy();
  assert.equal(pool.stats().isolates, 0);
});

test('when the awaited spare fails to prepare, the cold start prepares its own and succeeds', async () => {
  const g = gatedProvider();
  const errors: string[] = [];
  const pool = new IsolatePool(g.provider, poolOptions({ spareMemoryLimitMiB: SPARE_MIB, onSpareError: (err) => errors.push((err as Error).message) }));
  await until(() => g.paces.length === 1, 'the spare preparation started');
  g.state.failNext = true;
  const acquiring = pool.acquire(spec('after-failure'));
  await new Promise((r) => setTimeout(r, 10));
  g.open();
  const lease = await acquiring;
  assert.deepEqual(g.created, [null], 'made without a spare');
  assert.deepEqual(errors, ['the spare could not be made']);
  assert.deepEqual([pool.stats().spareHits, pool.stats().spareFailures, pool.stats().coldStartFailures], [0, 1, 0]);
  assert.ok((await lease.sandbox.invoke(req, meta)).ok);
  lease.release();
  pool.destroy();
});

test('a failed cold start on the spare fails like any other and a new spare follows', async () => {
  const { pool } = makePool();
  await until(() => pool.stats().spares === 1, 'spare');
  await assert.rejects(pool.acquire(spec('bad', `throw new Error('nope'); export default async function () {}`)), (err: Error & { code?: string }) => err.code === 'E_FUNCTION_ERROR');
  assert.deepEqual([pool.stats().spareHits, pool.stats().coldStartFailures, pool.stats().isolates], [1, 1, 0]);
  await until(() => pool.stats().spares === 1, 'refill after the failure');
  pool.destroy();
});

test('destroy disposes the spare and leaves no isolates, also while one is being prepared', async () => {
  const { pool, spares, sandboxes } = makePool();
  await until(() => pool.stats().spares === 1, 'spare');
  (await pool.acquire(spec('x'))).release();
  await until(() => pool.stats().spares === 1, 'refill');
  pool.destroy();
  assert.equal(pool.stats().isolates, 0);
  assert.equal(pool.stats().spares, 0);
  assert.ok(spares.every((s) => !s.available), 'every spare is disposed');
  assert.ok(sandboxes.every((s) => s.poisoned), 'every sandbox is disposed');

  // A preparation still running when the pool closes is disposed when it settles.
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const made: SpareIsolate[] = [];
  const slow: SandboxProvider = {
    create: base.create,
    prepareSpare: async (mib) => {
      const spare = await (base.prepareSpare as NonNullable<SandboxProvider['prepareSpare']>)(mib);
      made.push(spare);
      await gate;
      return spare;
    },
  };
  const closing = new IsolatePool(slow, poolOptions({ spareMemoryLimitMiB: SPARE_MIB }));
  await until(() => made.length === 1, 'preparation started');
  assert.equal(closing.stats().isolates, 1, 'a spare being prepared holds its place');
  await closing.close();
  assert.equal(closing.stats().isolates, 0);
  release();
  await until(() => made[0]?.available === false, 'the late spare disposed');
  assert.equal(closing.stats().spares, 0);
});

test('the spare counts against maxIsolates and gives its place to a sandbox', async () => {
  const { pool } = makePool({ maxIsolates: 1, sweepIntervalMs: 10 });
  await until(() => pool.stats().spares === 1, 'spare');
  assert.equal(pool.stats().isolates, 1);
  // A version the spare does not fit: the spare goes, the version gets the place.
  const other = await pool.acquire(spec('other', HELLO, { memoryLimitMiB: 16 }));
  assert.deepEqual([pool.stats().isolates, pool.stats().spares, pool.stats().evictions.lru], [1, 0, 0]);
  other.release();
  await new Promise((r) => setTimeout(r, 60)); // several sweeps
  assert.equal(pool.stats().spares, 0, 'no spare while the pool is full');
  pool.destroy();

  // With room for exactly the spare and one sandbox, a fitting cold start takes the spare and evicts nobody.
  const two = makePool({ maxIsolates: 2 });
  (await two.pool.acquire(spec('first', HELLO, { memoryLimitMiB: 16 }))).release();
  await until(() => two.pool.stats().spares === 1, 'spare');
  (await two.pool.acquire(spec('second'))).release();
  assert.deepEqual([two.pool.stats().spareHits, two.pool.stats().evictions.lru, two.pool.stats().isolates], [1, 0, 2]);
  two.pool.destroy();
});

test('a spare that fails to prepare is reported and retried with backoff; cold starts go on without it', async () => {
  let failuresLeft = 2;
  const flaky: SandboxProvider = {
    create: base.create,
    prepareSpare: async (mib) => {
      if (failuresLeft > 0) {
        failuresLeft--;
        throw new Error('no isolate for you');
      }
      return (base.prepareSpare as NonNullable<SandboxProvider['prepareSpare']>)(mib);
    },
  };
  const reports: Array<[string, number]> = [];
  const { pool } = makePool({ onSpareError: (err, retryInMs) => reports.push([(err as Error).message, retryInMs]) }, flaky);
  await until(() => reports.length === 1, 'the first failure');
  const lease = await pool.acquire(spec('meanwhile'));
  assert.ok((await lease.sandbox.invoke(req, meta)).ok, 'a cold start without a spare works');
  lease.release();
  await until(() => pool.stats().spares === 1, 'a spare after the retries');
  assert.deepEqual(reports, [['no isolate for you', SPARE_RETRY_MS.minMs], ['no isolate for you', SPARE_RETRY_MS.minMs * 2]]);
  assert.equal(pool.stats().spareFailures, 2);
  assert.equal(pool.stats().isolates, 2, 'failed preparations gave their place back');
  pool.destroy();
});

test('with spareCount 0, or a provider that cannot prepare spares, the pool keeps none', async () => {
  const off = makePool({ spareCount: 0 });
  const plain = new IsolatePool((s) => base.create(s), poolOptions({ spareMemoryLimitMiB: SPARE_MIB }));
  await new Promise((r) => setTimeout(r, 50));
  for (const pool of [off.pool, plain]) {
    assert.deepEqual([pool.stats().spares, pool.stats().isolates], [0, 0]);
    const lease = await pool.acquire(spec('plain'));
    assert.equal(lease.coldStart, true);
    assert.ok((await lease.sandbox.invoke(req, meta)).ok);
    lease.release();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual([pool.stats().spares, pool.stats().spareHits, pool.stats().isolates], [0, 0, 1]);
    pool.destroy();
  }
  assert.equal(off.spares.length, 0);
});

test('spare options are validated', () => {
  assert.throws(() => poolOptions({ spareMemoryLimitMiB: 0 }), /spareMemoryLimitMiB must be a positive integer, got 0/);
  assert.throws(() => poolOptions({ onSpareError: 1 as unknown as PoolOptions['onSpareError'] }), /onSpareError must be a function/);
  for (const bad of [-1, 1.5, 17, Number.NaN]) {
    assert.throws(() => poolOptions({ spareCount: bad }), new RegExp(`spareCount must be an integer from 0 \\(no spare\\) to 16, got ${bad}`));
  }
  assert.deepEqual([poolOptions().spareCount, poolOptions({ spareCount: 0 }).spareCount, poolOptions().spareMemoryLimitMiB], [1, 0, 128]);
});

test('with spareCount 2, two spares are kept; back-to-back cold starts both take one, and both are refilled one at a time', async () => {
  const { pool, spares } = makePool({ spareCount: 2 });
  await until(() => pool.stats().spares === 2, 'two spares');
  assert.equal(spares.length, 2, 'prepared one after the other, no more');
  assert.equal(pool.stats().isolates, 2, 'both count against the cap');
  const a = await pool.acquire(spec('burst-a'));
  const b = await pool.acquire(spec('burst-b'));
  assert.deepEqual([a.coldStart, b.coldStart, pool.stats().spareHits, pool.stats().spares, pool.stats().isolates], [true, true, 2, 0, 2]);
  assert.notEqual(a.sandbox, b.sandbox);
  for (const lease of [a, b]) {
    assert.ok((await lease.sandbox.invoke(req, meta)).ok);
    lease.release();
  }
  await until(() => pool.stats().spares === 2, 'both refilled');
  assert.equal(spares.length, 4);
  assert.equal(pool.stats().isolates, 4);
  pool.destroy();
  assert.equal(pool.stats().isolates, 0);
  assert.ok(spares.every((s) => !s.available), 'destroy disposed every spare');
});

test('spares that lost their isolate are replaced', async () => {
  const { pool, spares } = makePool({ spareCount: 2, sweepIntervalMs: 10 });
  await until(() => pool.stats().spares === 2, 'two spares');
  spares[0]?.dispose();
  await until(() => spares.length === 3 && pool.stats().spares === 2, 'the lost one replaced by the sweep');
  assert.equal(pool.stats().isolates, 2);
  pool.destroy();
});
