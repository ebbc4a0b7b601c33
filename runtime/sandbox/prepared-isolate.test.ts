import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createEmbeddedBackend } from '../../builtins/redis/backend.ts';
import { createRedisHost } from '../../builtins/redis/host.ts';
import { createBuiltinHost } from '../../builtins/registry.ts';
import type { FunctionLimits } from '../../control-plane/core/types.ts';
import type { InvocationResult, Sandbox, VersionSpec } from './interface.ts';
import { createIsolateSandbox, isolateSandboxProvider, sandboxOptions } from './isolate-sandbox.ts';
import { bootstrapCacheStats, PreparedIsolate, prepareSpareIsolate } from './prepared-isolate.ts';

const backend = createEmbeddedBackend();
const redis = createRedisHost(backend);
const notForwarded = async (): Promise<never> => { throw Object.assign(new Error('only ctx.redis is served in this test'), { code: 'E_INTERNAL' }); };
const host = createBuiltinHost({ redis: (app, command, args) => redis.execute(app, command, args), forward: notForwarded });
const options = sandboxOptions();
const provider = isolateSandboxProvider(host, options);
const sandboxes: Sandbox[] = [];
after(() => { for (const s of sandboxes) s.dispose(); backend.close(); });

const LIMITS: FunctionLimits = { memoryLimitMiB: 32, cpuTimeMs: 200, wallTimeMs: 1000, maxBodyBytes: 1 << 20, maxResponseBytes: 1 << 20 };
function spec(code: string, limits: Partial<FunctionLimits> = {}, app = 'spare-app'): VersionSpec {
  return { key: `${app}/fn@v1`, app, function: 'fn', versionId: 'v1', code, limits: { ...LIMITS, ...limits } };
}
/** Cold-start `code` on a freshly prepared spare (the path a pool takes when its spare fits). */
async function onSpare(code: string, limits: Partial<FunctionLimits> = {}, app = 'spare-app'): Promise<Sandbox> {
  const s = spec(code, limits, app);
  const spare = await prepareSpareIsolate(s.limits.memoryLimitMiB, host, options);
  const sandbox = await provider.create(s, spare);
  sandboxes.push(sandbox);
  return sandbox;
}
let seq = 0;
function run(s: Sandbox, path = '/'): Promise<InvocationResult> {
  return s.invoke({ method: 'GET', path, query: {}, headers: {}, body: null, bodyIsJson: false },
    { app: s.spec.app, function: 'fn', version: 'v1', alias: 'prod', requestId: `r${++seq}`, deadline: Date.now() + 1000 });
}
function errorCode(r: InvocationResult): string {
  assert.equal(r.ok, false, `expected a failure, got ${JSON.stringify(r)}`);
  return r.ok ? '' : r.error.code;
}

test('a version cold-started on a spare answers like one cold-started fresh, with faas imports and ctx', async () => {
  const code = `import { response } from 'faas';
    export default async function (req, ctx) { await ctx.redis.set('k', 'v'); return response({ app: ctx.app, v: await ctx.redis.get('k') }, { status: 201 }) }`;
  for (const sandbox of [await onSpare(code), await createIsolateSandbox(spec(code), host, options)]) {
    sandboxes.push(sandbox);
    const r = await run(sandbox);
    assert.ok(r.ok, JSON.stringify(r));
    if (!r.ok) return;
    assert.equal(r.status, 201);
    assert.deepEqual(JSON.parse(r.body ?? ''), { app: 'spare-app', v: 'v' });
  }
});

test('the version\'s limits hold on a spare: CPU, wall clock, response size and memory', async () => {
  const loop = await onSpare(`export default async function () { for (;;) {} }`);
  assert.equal(errorCode(await run(loop)), 'E_TIMEOUT');
  assert.equal(loop.poisoned, true);
  const wait = await onSpare(`export default async function (req, ctx) { for (;;) await ctx.redis.get('k'); }`, { wallTimeMs: 200, cpuTimeMs: 5000 });
  assert.equal(errorCode(await run(wait)), 'E_TIMEOUT');
  const big = await onSpare(`export default async function () { return 'x'.repeat(5000) }`, { maxResponseBytes: 4096 });
  const tooLarge = await run(big);
  assert.equal(errorCode(tooLarge), 'E_RESPONSE_TOO_LARGE');
  assert.match(tooLarge.ok ? '' : tooLarge.error.message, /4096 bytes/, 'the version\'s own limit, set after the spare was prepared');
  const bomb = await onSpare(`export default async function () { const a = []; for (;;) a.push(new Array(1e6).fill(a.length)); }`, { cpuTimeMs: 5000, wallTimeMs: 5000 });
  assert.equal(errorCode(await run(bomb)), 'E_MEMORY');
});

test('a function error on a spare logs the user\'s frames, found by the version\'s filename', async () => {
  const s = await onSpare(`function inner() { throw new TypeError('bad input') }\nexport default async function () { inner() }`, {}, 'frames-app');
  const r = await run(s);
  assert.equal(errorCode(r), 'E_FUNCTION_ERROR');
  const line = r.logs.find((l) => l.level === 'error')?.message ?? '';
  assert.match(line, /file:\/\/\/functions\/frames-app\/fn\/index\.js:1/);
});

test('a spare is used at most once: a second cold start on it is refused', async () => {
  const spare = await prepareSpareIsolate(32, host, options);
  const first = await provider.create(spec(`export default () => 1`), spare);
  sandboxes.push(first);
  assert.equal(spare.available, false);
  await assert.rejects(provider.create(spec(`export default () => 2`, {}, 'other-app'), spare), (err: Error) => {
    assert.ok(err instanceof TypeError);
    assert.match(err.message, /cannot cold-start other-app\/fn@v1 on this spare isolate: it is not available/);
    return true;
  });
  const r = await run(first);
  assert.ok(r.ok && r.body === '1', 'the first version keeps its isolate');
});

test('a spare that does not fit is refused with the reason, and disposed', async () => {
  const spare = await prepareSpareIsolate(32, host, options);
  await assert.rejects(provider.create(spec(`export default () => 1`, { memoryLimitMiB: 64 }), spare),
    /its memory limit is 32 MiB and the version's is 64 MiB/);
  assert.equal(spare.available, false, 'disposed: never handed out again');
  const otherHost = createBuiltinHost({ redis: null, forward: notForwarded });
  const foreign = await prepareSpareIsolate(32, otherHost, options);
  await assert.rejects(provider.create(spec(`export default () => 1`), foreign), /prepared for another builtin host/);
  await assert.rejects(provider.create(spec(`export default () => 1`), { memoryLimitMiB: 32, available: true, dispose() {} }), /not made by prepareSpareIsolate/);
});

test('a module that fails to load on a spare fails the cold start and disposes the spare\'s isolate', async () => {
  const spare = await prepareSpareIsolate(32, host, options);
  await assert.rejects(provider.create(spec(`throw new Error('top-level boom'); export default async function () {}`), spare),
    (err: Error & { code?: string }) => err.code === 'E_FUNCTION_ERROR' && /top-level boom/.test(err.message));
  assert.equal(spare.available, false);
  assert.equal((spare as PreparedIsolate).isolate.isDisposed, true);
});

test('a spare is warmed up through the dispatch path and leaves nothing behind; a hurried one is not', async () => {
  const spare = await prepareSpareIsolate(32, host, options) as PreparedIsolate;
  assert.equal(spare.warmedUp, true);
  spare.claim({ log: () => {} });
  const [calls, answers] = spare.claimed.takeOutbox.applySync(undefined, [], { result: { copy: true } }) as [{ n: number }, { n: number }, number];
  assert.deepEqual([calls.n, answers.n], [0, 0], 'the warm-up\'s answer was taken with its entry');
  spare.dispose();
  const pace = { hurried: true };
  const hurried = await prepareSpareIsolate(32, host, options, pace) as PreparedIsolate;
  assert.equal(hurried.warmedUp, false);
  hurried.dispose();
  // A version started on a warmed-up spare sees a fresh realm: no handler, no invocation, no call ids left by the warm-up.
  const s = await onSpare(`let seen = 0; export default async function (req, ctx) { seen++; const id = await ctx.redis.incr('warm-n'); return { seen, id, rid: ctx.requestId, keys: Object.keys(ctx) } }`, {}, 'warm-app');
  const r = await run(s);
  assert.ok(r.ok, JSON.stringify(r));
  if (!r.ok) return;
  const body = JSON.parse(r.body ?? '');
  assert.equal(body.seen, 1);
  assert.equal(body.id, 1, 'the warm-up made no builtin call');
  assert.match(body.rid, /^r\d+$/);
  assert.deepEqual(body.keys, ['app', 'function', 'version', 'alias', 'requestId', 'deadline']);
});

test('the bootstrap is compiled once per process and then taken from V8\'s code cache', async () => {
  const before = { ...bootstrapCacheStats };
  const made = [await prepareSpareIsolate(32, host, options), await prepareSpareIsolate(64, host, options)];
  assert.ok(bootstrapCacheStats.produced >= 1, 'a cache was made');
  assert.equal(bootstrapCacheStats.consumed - before.consumed, 2, 'both isolates used it');
  assert.equal(bootstrapCacheStats.rejected, 0);
  for (const spare of made) spare.dispose();
});

test('a bad memory limit is refused before any isolate is made', async () => {
  await assert.rejects(prepareSpareIsolate(4, host, options), (err: Error) => err instanceof TypeError && /at least 8 MiB, got 4/.test(err.message));
  await assert.rejects(prepareSpareIsolate(12.5, host, options), /got 12.5/);
});

test('disposing an isolate while it is being prepared leaves nothing behind', async () => {
  const prepared = new PreparedIsolate(32, host, options);
  const preparing = prepared.prepare({ hurried: false });
  prepared.dispose();
  await assert.rejects(preparing);
  assert.equal(prepared.isolate.isDisposed, true);
  assert.equal(prepared.available, false);
  assert.throws(() => prepared.claim({ log: () => {} }), /claimed once, when ready; this one is disposed/);
});
