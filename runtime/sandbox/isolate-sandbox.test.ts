import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createEmbeddedBackend } from '../../builtins/redis/backend.ts';
import { createRedisHost } from '../../builtins/redis/host.ts';
import { createBuiltinHost } from '../../builtins/registry.ts';
import type { FunctionLimits } from '../../control-plane/core/types.ts';
import type { FunctionRequest, InvocationMeta, InvocationResult, Sandbox } from './interface.ts';
import { createIsolateSandbox } from './isolate-sandbox.ts';

const backend = createEmbeddedBackend();
const redis = createRedisHost(backend);
/** Builtins other than Redis are served by the gateway process; these tests do not call them. */
const notForwarded = async (): Promise<never> => { throw Object.assign(new Error('only ctx.redis is served in this test'), { code: 'E_INTERNAL' }); };
const host = createBuiltinHost({ redis: (app, command, args) => redis.execute(app, command, args), forward: notForwarded });
after(() => backend.close());

const LIMITS: FunctionLimits = { memoryLimitMiB: 64, cpuTimeMs: 200, wallTimeMs: 1000, maxBodyBytes: 1 << 20, maxResponseBytes: 1 << 20 };
const sandboxes: Sandbox[] = [];
after(() => { for (const s of sandboxes) s.dispose(); });

async function load(code: string, limits: Partial<FunctionLimits> = {}, app = 'test-app'): Promise<Sandbox> {
  const s = await createIsolateSandbox({ key: `${app}/fn@v1`, app, function: 'fn', versionId: 'v1', code, limits: { ...LIMITS, ...limits } }, host);
  sandboxes.push(s);
  return s;
}
let seq = 0;
/** Invoke with a request as the gateway builds it; an object `body` is sent as a JSON body. */
function run(s: Sandbox, req: Partial<Omit<FunctionRequest, 'body'>> & { body?: unknown } = {}): Promise<InvocationResult> {
  const meta: InvocationMeta = { app: s.spec.app, function: 'fn', version: 'v1', alias: 'prod', requestId: `r${++seq}`, deadline: Date.now() + 1000 };
  const { body, ...rest } = req;
  const wire = body === undefined || body === null ? { body: null, bodyIsJson: false } : typeof body === 'string' ? { body, bodyIsJson: false } : { body: JSON.stringify(body), bodyIsJson: true };
  return s.invoke({ method: 'GET', path: '/', query: {}, headers: {}, ...rest, ...wire }, meta);
}
function errorOf(r: InvocationResult): { status: number; code: string; message: string } {
  assert.equal(r.ok, false, `expected a failure, got ${JSON.stringify(r)}`);
  if (r.ok) throw new Error('unreachable');
  return { status: r.status, code: r.error.code, message: r.error.message };
}

describe('the function contract', () => {
  test('a plain return value is sent as 200 JSON and req is what the gateway built', async () => {
    const s = await load(`export default async function (req, ctx) { return { method: req.method, path: req.path, q: req.query.a, body: req.body, app: ctx.app, rid: ctx.requestId.startsWith('r') } }`);
    const r = await run(s, { method: 'POST', path: '/x/y', query: { a: '1' }, body: { n: 2 } });
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.equal(r.status, 200);
    assert.equal(r.encoding, 'json');
    assert.deepEqual(JSON.parse(r.body ?? ''), { method: 'POST', path: '/x/y', q: '1', body: { n: 2 }, app: 'test-app', rid: true });
  });

  test('ctx has its data fields as own keys and every builtin by destructuring, the same object on every read, and cannot be changed', async () => {
    const s = await load(`export default function (req, ctx) {
      let replaced = true;
      try { ctx.redis = null; } catch { replaced = false; }
      let patched = true;
      try { Object.defineProperty(Object.getPrototypeOf(ctx), 'redis', { get: () => 'hijacked' }); } catch { patched = false; }
      const { redis, sql, log, auth, rpc, fetch, config, metrics, user } = ctx;
      const builtins = { redis, sql, log, auth, rpc, fetch, config, metrics };
      return {
        keys: Object.keys(ctx).sort(), builtins: Object.keys(builtins).filter((k) => builtins[k] !== undefined && builtins[k] === ctx[k]),
        sameRedis: ctx.redis === ctx.redis, sameSql: ctx.sql === ctx.sql, sameLog: ctx.log === ctx.log,
        frozen: Object.isFrozen(ctx) && Object.isFrozen(ctx.redis) && Object.isFrozen(ctx.sql), replaced, patched, user, hasGet: typeof ctx.redis.get,
      };
    }`);
    const r = await run(s);
    assert.ok(r.ok, JSON.stringify(r));
    if (!r.ok) return;
    assert.deepEqual(JSON.parse(r.body ?? ''), {
      keys: ['alias', 'app', 'deadline', 'function', 'requestId', 'version'],
      builtins: ['redis', 'sql', 'log', 'auth', 'rpc', 'fetch', 'config', 'metrics'],
      sameRedis: true, sameSql: true, sameLog: true, frozen: true, replaced: false, patched: false, user: null, hasGet: 'function',
    });
  });

  test('response() sets status and headers, and undefined is 204', async () => {
    const s = await load(`import { response } from 'faas';
      export default async function (req) {
        if (req.path === '/none') return undefined;
        if (req.path === '/text') return response('hi', { status: 201, headers: { 'Content-Type': 'text/plain', 'X-Game': 'g1' } });
        return response(new Uint8Array([104, 105]), { headers: { 'content-type': 'application/octet-stream' } });
      }`);
    const text = await run(s, { path: '/text' });
    assert.ok(text.ok);
    if (!text.ok) return;
    assert.equal(text.status, 201);
    assert.equal(text.body, 'hi');
    assert.deepEqual(text.headers, { 'content-type': 'text/plain', 'x-game': 'g1' });
    const none = await run(s, { path: '/none' });
    assert.ok(none.ok && none.status === 204 && none.body === null);
    const bin = await run(s, { path: '/bin' });
    assert.ok(bin.ok && bin.encoding === 'base64' && Buffer.from(bin.body ?? '', 'base64').toString() === 'hi');
  });

  test('HttpError answers with its status and code', async () => {
    const s = await load(`import { HttpError } from 'faas'; export default async function () { throw new HttpError(404, 'room not found', { code: 'ROOM_NOT_FOUND' }) }`);
    assert.deepEqual(errorOf(await run(s)), { status: 404, code: 'ROOM_NOT_FOUND', message: 'room not found' });
  });

  test('a thrown error is E_FUNCTION_ERROR with the message and no host stack', async () => {
    const s = await load(`export default async function () { throw new TypeError('bad input') }`);
    const r = await run(s);
    const e = errorOf(r);
    assert.equal(e.code, 'E_FUNCTION_ERROR');
    assert.equal(e.status, 500);
    assert.equal(e.message, 'TypeError: bad input');
    assert.doesNotMatch(JSON.stringify(r), /node:internal|isolated-vm|\/work\/|runtime\/sandbox/);
    assert.match(r.logs.map((l) => l.message).join('\n'), /functions\/test-app\/fn\/index\.js:1:/, 'the user frame is logged');
  });

  test('invalid statuses, headers and unserialisable values are E_BAD_RESPONSE', async () => {
    const s = await load(`import { response } from 'faas';
      export default async function (req) {
        if (req.path === '/status') return response('x', { status: 99 });
        if (req.path === '/header') return response('x', { headers: { 'x-a': 'a\\r\\nset-cookie: evil=1' } });
        const o = {}; o.self = o; return o;
      }`);
    for (const path of ['/status', '/header', '/cyclic']) {
      const e = errorOf(await run(s, { path }));
      assert.equal(e.code, 'E_BAD_RESPONSE', path);
      assert.equal(e.status, 502);
    }
  });

  test('a response over maxResponseBytes is E_RESPONSE_TOO_LARGE', async () => {
    const s = await load(`export default async function () { return 'x'.repeat(5000) }`, { maxResponseBytes: 4096 });
    const e = errorOf(await run(s));
    assert.equal(e.code, 'E_RESPONSE_TOO_LARGE');
    assert.match(e.message, /4096 bytes/);
  });

  test('ctx.log lines are captured per invocation and bounded', async () => {
    const s = await load(`export default async function (req, ctx) { ctx.log.info('hello', { n: 1 }); ctx.log.error('bad'); if (req.path === '/many') for (let i = 0; i < 500; i++) ctx.log.debug(i); }`);
    const r = await run(s);
    assert.deepEqual(r.logs.map((l) => [l.level, l.message]), [['info', 'hello {"n":1}'], ['error', 'bad']]);
    const many = await run(s, { path: '/many' });
    assert.equal(many.logs.length, 101, '100 lines plus one notice');
    assert.match(many.logs.at(-1)?.message ?? '', /log limit of 100 lines/);
  });
});

describe('limits', () => {
  test('an infinite loop gets E_TIMEOUT within the CPU limit and the isolate is never reused', async () => {
    const s = await load(`export default async function () { for (;;) {} }`);
    const t0 = performance.now();
    const e = errorOf(await run(s));
    const ms = performance.now() - t0;
    assert.equal(e.code, 'E_TIMEOUT');
    assert.equal(e.status, 504);
    assert.ok(ms < 600, `stopped after ${ms} ms`);
    assert.equal(s.poisoned, true);
  });

  test('a loop that starts after an awaited builtin call is stopped by the watchdog', async () => {
    const s = await load(`export default async function (req, ctx) { await ctx.redis.get('k'); for (;;) {} }`);
    const t0 = performance.now();
    const e = errorOf(await run(s));
    assert.equal(e.code, 'E_TIMEOUT');
    assert.match(e.message, /CPU time limit of 200 ms/);
    assert.ok(performance.now() - t0 < 800);
    assert.equal(s.poisoned, true);
  });

  test('waiting past the wall-clock limit is E_TIMEOUT even without CPU use', async () => {
    const s = await load(`export default async function (req, ctx) { for (;;) await ctx.redis.get('k'); }`, { wallTimeMs: 300, cpuTimeMs: 5000 });
    const t0 = performance.now();
    const e = errorOf(await run(s));
    assert.equal(e.code, 'E_TIMEOUT');
    assert.match(e.message, /wall-clock limit of 300 ms/);
    assert.ok(performance.now() - t0 < 900);
  });

  test('a memory bomb gets E_MEMORY and the isolate is disposed', async () => {
    const s = await load(`export default async function () { const a = []; for (;;) a.push(new Array(1e6).fill(a.length)); }`, { cpuTimeMs: 5000, wallTimeMs: 5000 });
    const e = errorOf(await run(s));
    assert.equal(e.code, 'E_MEMORY');
    assert.equal(e.status, 500);
    assert.equal(s.poisoned, true);
  });

  test('code awaiting a call still pending when its invocation ended is never resumed, and its stale ctx fails with E_CTX_REVOKED', async () => {
    const s = await load(`let stale; let resumed = false;
      export default async function (req, ctx) {
        if (req.path === '/start') { stale = ctx; (async () => { await ctx.redis.get('x'); resumed = true; await ctx.redis.set('late', '1'); })(); return 'started'; }
        const revoked = await stale.redis.get('x').then(() => 'served', (e) => e.code);
        return { late: await ctx.redis.get('late'), resumed, revoked };
      }`, {}, 'revoke-app');
    const started = await run(s, { path: '/start' });
    assert.ok(started.ok);
    await new Promise((r) => setTimeout(r, 50));
    const r = await run(s, { path: '/check' });
    assert.ok(r.ok, JSON.stringify(r));
    if (!r.ok) return;
    // The un-awaited get was served (it was made while the invocation ran); its reply was dropped.
    assert.deepEqual(JSON.parse(r.body ?? ''), { late: null, resumed: false, revoked: 'E_CTX_REVOKED' });
  });
});

describe('CPU accounting when invocations interleave', () => {
  /** The real Redis builtin, with `get('slow')` taking 60 ms, to hold an invocation in an await. */
  const slowHost = createBuiltinHost({
    redis: async (app, command, args) => {
      if (command === 'get' && args[0] === 'slow') await new Promise((r) => setTimeout(r, 60));
      return redis.execute(app, command, args);
    },
    forward: notForwarded,
  });
  const CODE = `export default async function (req, ctx) {
    if (req.path === '/wait') { for (let i = 0; i < 5; i++) await ctx.redis.get('slow'); return 'waited'; }
    if (req.path === '/leftover') { (async () => { try { await ctx.redis.get('fast'); } catch {} for (;;) {} })(); return 'left'; }
    await ctx.redis.get('fast');
    const until = Date.now() + 50; while (Date.now() < until) {}
    return 'burned';
  }`;

  test('an invocation awaiting a builtin is not charged for its neighbours\' CPU', async () => {
    const s = await createIsolateSandbox({ key: 'acct/fn@v1', app: 'acct', function: 'fn', versionId: 'v1', code: CODE, limits: LIMITS }, slowHost);
    sandboxes.push(s);
    const waiter = run(s, { path: '/wait' });
    // 8 × 50 ms = 400 ms of CPU in the same isolate while the waiter sits in its awaits.
    const burners: InvocationResult[] = [];
    for (let i = 0; i < 8; i++) burners.push(await run(s, { path: '/burn' }));
    const w = await waiter;
    assert.ok(w.ok, JSON.stringify(w));
    assert.ok(w.cpuTimeMs < 100, `the waiter was charged ${w.cpuTimeMs} ms`);
    for (const b of burners) {
      assert.ok(b.ok, JSON.stringify(b));
      assert.ok(b.cpuTimeMs >= 45 && b.cpuTimeMs < 150, `a burner was charged ${b.cpuTimeMs} ms`);
    }
    assert.equal(s.poisoned, false);
  });

  test('a loop left behind by an ended invocation after a pending await is never resumed: the isolate stays warm', async () => {
    const s = await createIsolateSandbox({ key: 'acct2/fn@v1', app: 'acct2', function: 'fn', versionId: 'v1', code: CODE, limits: LIMITS }, slowHost);
    sandboxes.push(s);
    const r = await run(s, { path: '/leftover' });
    assert.ok(r.ok);
    await new Promise((res) => setTimeout(res, 100));
    const next = await run(s, { path: '/burn' });
    assert.ok(next.ok, JSON.stringify(next));
    assert.ok(next.cpuTimeMs < 150, `the next invocation was charged ${next.cpuTimeMs} ms`);
    assert.equal(s.poisoned, false);
  });

  test('a loop after an await is stopped by its entry\'s timeout at the CPU limit; an invocation awaiting meanwhile fails as a bystander', async () => {
    const s = await createIsolateSandbox({ key: 'acct3/fn@v1', app: 'acct3', function: 'fn', versionId: 'v1', code: `export default async function (req, ctx) {
      if (req.path === '/spin') { await ctx.redis.get('fast'); for (;;) {} }
      await ctx.redis.get('slow');
      return 'ok';
    }`, limits: LIMITS }, slowHost);
    sandboxes.push(s);
    const t0 = performance.now();
    const [spun, other] = await Promise.all([run(s, { path: '/spin' }), run(s, { path: '/other' })]);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed < LIMITS.cpuTimeMs + 400, `answered ${Math.round(elapsed)} ms after the start (CPU limit ${LIMITS.cpuTimeMs} ms)`);
    assert.equal(errorOf(spun).code, 'E_TIMEOUT');
    assert.match(errorOf(spun).message, /CPU time limit/);
    // isolated-vm's timeout thread wakes late on a loaded machine: a generous bound, not a timing test.
    assert.ok(spun.cpuTimeMs <= LIMITS.cpuTimeMs + 60, `the spinner was charged ${spun.cpuTimeMs} ms`);
    assert.equal(errorOf(other).code, 'E_TIMEOUT', 'the bystander fails with the isolate, with a clear code');
    assert.match(errorOf(other).message, /concurrent invocation/);
    assert.equal(s.poisoned, true);
  });

  test('CPU is enforced across awaits: an invocation that burns its budget in slices between builtin calls is stopped', async () => {
    // 8 slices of 40 ms, each after an await: no single entry passes the 200 ms limit, the total does.
    const s = await createIsolateSandbox({ key: 'acct4/fn@v1', app: 'acct4', function: 'fn', versionId: 'v1', code: `export default async function (req, ctx) {
      for (let i = 0; i < 8; i++) { await ctx.redis.get('fast'); const until = Date.now() + 40; while (Date.now() < until) {} }
      return 'burned 320 ms';
    }`, limits: LIMITS }, slowHost);
    sandboxes.push(s);
    const r = await run(s);
    assert.equal(errorOf(r).code, 'E_TIMEOUT');
    assert.match(errorOf(r).message, /CPU time limit of 200 ms/);
    assert.ok(r.cpuTimeMs <= 200 + 45, `charged ${r.cpuTimeMs} ms`);
  });

  test('an unhandled rejection fails only the invocation it surfaces in, and the isolate stays warm', async () => {
    const s = await load(`export default async function (req, ctx) {
      if (req.path === '/reject') { Promise.reject(new Error('nobody listens')); return 'returned'; }
      if (req.path === '/forgotten') { ctx.redis.hset('h', 'f'); return 'forgot'; }
      return 'fine';
    }`);
    const r = await run(s, { path: '/reject' });
    const e = errorOf(r);
    assert.equal(e.code, 'E_FUNCTION_ERROR');
    assert.match(e.message, /unhandled promise rejection.*nobody listens/);
    assert.equal(s.poisoned, false);
    const forgotten = await run(s, { path: '/forgotten' }); // a failing builtin call nobody awaited
    assert.ok(forgotten.ok, JSON.stringify(forgotten));
    await new Promise((res) => setTimeout(res, 20));
    const fine = await run(s);
    assert.ok(fine.ok && fine.body === '"fine"', JSON.stringify(fine));
  });
});

describe('invocations started together (one isolate entry per event-loop turn)', () => {
  test('concurrent invocations share isolate entries and each gets its own answer, logs and CPU', async () => {
    const s = await load(`export default async function (req, ctx) {
      ctx.log.info('saw', req.path);
      if (req.path.startsWith('/wait')) await ctx.redis.incr('batch:n');
      return { path: req.path, rid: ctx.requestId };
    }`);
    assert.ok((await run(s)).ok); // the first entry compiles the dispatch path: warm it up
    const before = s.entries;
    const paths = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? `/wait/${i}` : `/p/${i}`));
    const results = await Promise.all(paths.map((path) => run(s, { path })));
    const entries = s.entries - before;
    // One entry when nothing interferes; a busy machine may cut it at the 2 ms slice.
    assert.ok(entries >= 1 && entries <= 8, `40 invocations queued in one turn took ${entries} isolate entries`);
    results.forEach((r, i) => {
      assert.ok(r.ok, JSON.stringify(r));
      if (!r.ok) return;
      assert.equal(JSON.parse(r.body ?? '').path, paths[i]);
      assert.deepEqual(r.logs.map((l) => l.message), [`saw ${paths[i]}`]);
      assert.ok(r.cpuTimeMs > 0, 'every invocation is charged a share of the entry');
    });
    const ids = new Set(results.map((r) => (r.ok ? JSON.parse(r.body ?? '').rid : '')));
    assert.equal(ids.size, 40, 'each invocation saw its own ctx');
  });

  test('a runaway among invocations started together is named; one answered before it keeps its answer, the rest fail as bystanders', async () => {
    const s = await load(`export default function (req) { if (req.path === '/spin') for (;;) {} return 'ok'; }`, { cpuTimeMs: 50 });
    assert.ok((await run(s)).ok); // the first entry compiles the dispatch path: warm it up
    const t0 = performance.now();
    const [a, spun, b] = await Promise.all([run(s, { path: '/a' }), run(s, { path: '/spin' }), run(s, { path: '/b' })]);
    assert.ok(performance.now() - t0 < 600, 'stopped near the CPU limit');
    assert.equal(errorOf(spun).code, 'E_TIMEOUT');
    assert.match(errorOf(spun).message, /CPU time limit of 50 ms exceeded/);
    assert.ok(a.ok && a.body === '"ok"', `started and settled before the runaway: ${JSON.stringify(a)}`);
    assert.equal(errorOf(b).code, 'E_TIMEOUT', 'never started: fails with the isolate');
    assert.match(errorOf(b).message, /concurrent invocation exceeded its limit/);
    assert.equal(s.poisoned, true);
  });

  test('handlers are not started past the slice, so every one keeps its whole CPU budget', async () => {
    // 12 handlers of ~15 ms each would need 180 ms in one entry, over the 50 ms limit: the
    // bootstrap stops starting handlers after 2 ms, so each runs in an entry of its own budget.
    const s = await load(`export default function () { const end = Date.now() + 15; while (Date.now() < end) {} return 'done'; }`, { cpuTimeMs: 50 });
    const before = s.entries;
    const results = await Promise.all(Array.from({ length: 12 }, () => run(s)));
    for (const r of results) assert.ok(r.ok, JSON.stringify(r));
    assert.ok(s.entries - before >= 6, `12 slow handlers took only ${s.entries - before} entries`);
    assert.equal(s.poisoned, false);
  });

  test('an unhandled rejection in a shared entry fails the invocations it answered, then entries are one at a time', async () => {
    const s = await load(`export default async function (req) {
      if (req.path === '/reject') Promise.reject(new Error('nobody listens'));
      return 'fine';
    }`);
    const first = await Promise.all([run(s, { path: '/reject' }), run(s), run(s)]);
    for (const r of first) {
      assert.equal(errorOf(r).code, 'E_FUNCTION_ERROR');
      assert.match(errorOf(r).message, /nobody listens.*run together/);
    }
    const before = s.entries;
    const [rejected, fine] = await Promise.all([run(s, { path: '/reject' }), run(s)]);
    assert.equal(s.entries - before, 2, 'one entry per invocation from now on');
    assert.equal(errorOf(rejected).code, 'E_FUNCTION_ERROR');
    assert.ok(fine.ok, JSON.stringify(fine));
    assert.equal(s.poisoned, false, 'the isolate stays warm');
  });
});

describe('hostile answers are bounded by the host', () => {
  test('patched prototypes cannot unbound messages or logs, forge the answer, or break the next invocation', async () => {
    const s = await load(`export default async function (req, ctx) {
      if (req.path === '/tamper') {
        String.prototype.slice = function () { return this; };
        Array.prototype.join = function () { return 'x'.repeat(1 << 22); };
        Map.prototype.get = function () { return { revoked: false, logLines: 0, calls: 0 }; };
        // Would rewrite the answer envelope if the bootstrap built it from ordinary objects.
        Object.prototype.toJSON = function () { return 'forged'; };
        Array.prototype[Symbol.iterator] = function* () { yield 'evil'; };
        ctx.log.info('y'.repeat(1 << 20));
        throw new Error('z'.repeat(10 * 1024 * 1024));
      }
      return { fine: true };
    }`, { memoryLimitMiB: 128 });
    const r = await run(s, { path: '/tamper' });
    const e = errorOf(r);
    assert.equal(e.code, 'E_FUNCTION_ERROR');
    assert.ok(e.message.length <= 4096, `message of ${e.message.length} chars`);
    assert.ok(r.logs.every((l) => l.message.length <= 8192 + 32), 'log lines stay bounded');
    const next = await run(s);
    assert.ok(next.ok, JSON.stringify(next).slice(0, 300));
    if (!next.ok) return;
    // The function's own value went through its own toJSON; the envelope (status, encoding) did not.
    assert.equal(next.status, 200);
    assert.equal(next.encoding, 'json');
    assert.equal(next.body, '"forged"');
  });

  test('too many or too large response headers are E_BAD_RESPONSE, and HttpError codes are sanitised', async () => {
    const s = await load(`import { response, HttpError } from 'faas';
      export default async function (req) {
        const h = {};
        if (req.path === '/many') { for (let i = 0; i < 100; i++) h['x-h' + i] = '1'; return response('x', { headers: h }); }
        if (req.path === '/huge') return response('x', { headers: { 'x-big': 'v'.repeat(64 * 1024) } });
        throw new HttpError(418, 'teapot', { code: 'not a code {"x":1}' });
      }`);
    for (const path of ['/many', '/huge']) assert.equal(errorOf(await run(s, { path })).code, 'E_BAD_RESPONSE', path);
    assert.deepEqual(errorOf(await run(s, { path: '/code' })), { status: 418, code: 'HTTP_418', message: 'teapot' });
  });

  test('builtin calls made but not awaited are still served', async () => {
    const s = await load(`export default async function (req, ctx) {
      if (req.path === '/count') return ctx.redis.get('hits');
      ctx.redis.incr('hits');
      return 'fired';
    }`, {}, 'fire-app');
    for (let i = 0; i < 20; i++) assert.ok((await run(s)).ok);
    await new Promise((res) => setTimeout(res, 100));
    const r = await run(s, { path: '/count' });
    assert.ok(r.ok);
    if (r.ok) assert.equal(JSON.parse(r.body ?? ''), '20');
  });

  test('a chain left behind by an ended invocation makes no further calls and uses no CPU', async () => {
    // The first call was made while the invocation ran (served); its reply is dropped, so the loop
    // of 40 × 30 ms and its 40 calls never happen.
    const s = await load(`let served = 0;
      export default async function (req, ctx) {
        if (req.path === '/count') return ctx.redis.get('leftover:n');
        (async () => {
          await ctx.redis.incr('leftover:n');
          for (let i = 0; i < 40; i++) {
            const until = Date.now() + 30; while (Date.now() < until) {}
            try { await ctx.redis.incr('leftover:n'); } catch {}
          }
        })();
        return 'started';
      }`, {}, 'leftover-app');
    assert.ok((await run(s)).ok);
    const served = s.invocations;
    await new Promise((res) => setTimeout(res, 300));
    const r = await run(s, { path: '/count' });
    assert.ok(r.ok, JSON.stringify(r));
    if (r.ok) assert.equal(JSON.parse(r.body ?? ''), '1', 'only the call made during the invocation was served');
    assert.ok(r.cpuTimeMs < 20, `the next invocation was charged ${r.cpuTimeMs} ms`);
    assert.equal(s.invocations, served + 1);
    assert.equal(s.poisoned, false);
  });

  test('leftover code chained on rejected calls inside an invocation is that invocation\'s CPU', async () => {
    const s = await load(`let stale;
      export default async function (req, ctx) {
        if (req.path === '/keep') { stale = ctx; return 'kept'; }
        (async () => { for (let i = 0; i < 40; i++) { const until = Date.now() + 30; while (Date.now() < until) {} try { await stale.redis.get('k'); } catch {} } })();
        return 'started';
      }`);
    await run(s, { path: '/keep' });
    assert.equal(errorOf(await run(s, { path: '/launder' })).code, 'E_TIMEOUT');
  });
});

describe('isolation', () => {
  test('code generation from strings is refused inside the isolate, however it is reached', async () => {
    const s = await load(`export default async function (req) {
      const attempts = {
        evalByName: () => globalThis['ev' + 'al']('1 + 1'),
        arrowCtor: () => (() => {}).constructor('return 1')(),
        asyncCtor: () => (async () => {}).constructor('return 1')(),
        genCtor: () => (function* () {}).constructor('yield 1')().next(),
        reqCtor: () => req.constructor.constructor('return this')(),
        functionGlobal: () => globalThis['Func' + 'tion']('return 1')(),
      };
      const out = {};
      for (const [name, f] of Object.entries(attempts)) { try { out[name] = 'ran: ' + String(f()); } catch (e) { out[name] = e.name; } }
      return out;
    }`);
    const r = await run(s);
    assert.ok(r.ok);
    if (!r.ok) return;
    const out = JSON.parse(r.body ?? '') as Record<string, string>;
    for (const [name, result] of Object.entries(out)) assert.equal(result, 'EvalError', `${name}: ${result}`);
  });

  test('nothing of the host is reachable: no process, require, WebAssembly, FinalizationRegistry (its callbacks run outside any entry) or host prototypes', async () => {
    const s = await load(`export default async function (req, ctx) {
      return {
        process: typeof process, require: typeof require, wasm: typeof WebAssembly, sab: typeof SharedArrayBuffer, finalizers: typeof FinalizationRegistry,
        reqProtoIsLocal: Object.getPrototypeOf(req) === Object.prototype,
        redisProto: Object.getPrototypeOf(ctx.redis), ctxFrozen: Object.isFrozen(ctx),
        keys: Object.getOwnPropertyNames(globalThis).filter((k) => /host|ivm|isolated|__/.test(k)),
      };
    }`);
    const r = await run(s);
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.deepEqual(JSON.parse(r.body ?? ''), { process: 'undefined', require: 'undefined', wasm: 'undefined', sab: 'undefined', finalizers: 'undefined', reqProtoIsLocal: true, redisProto: null, ctxFrozen: true, keys: ['__faasModule'] });
  });

  test('two apps writing the same ctx.redis key see their own values', async () => {
    const code = `export default async function (req, ctx) { if (req.body) await ctx.redis.set('score', req.body.v); return ctx.redis.get('score'); }`;
    const a = await load(code, {}, 'app-a');
    const b = await load(code, {}, 'app-b');
    await run(a, { body: { v: 'a-value' } });
    await run(b, { body: { v: 'b-value' } });
    const ra = await run(a);
    const rb = await run(b);
    assert.ok(ra.ok && rb.ok);
    if (!ra.ok || !rb.ok) return;
    assert.equal(JSON.parse(ra.body ?? ''), 'a-value');
    assert.equal(JSON.parse(rb.body ?? ''), 'b-value');
  });

  test('a module that fails at load time is E_FUNCTION_ERROR at cold start', async () => {
    await assert.rejects(load(`throw new Error('top-level boom'); export default async function () {}`), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_FUNCTION_ERROR');
      assert.match(err.message, /top-level boom/);
      return true;
    });
    const t0 = performance.now();
    await assert.rejects(load(`for (;;) {} export default async function () {}`), (err: Error & { code?: string }) => err.code === 'E_TIMEOUT');
    assert.ok(performance.now() - t0 < 1000, 'top-level code is bounded by the CPU limit at cold start');
    await assert.rejects(load(`const a = []; for (;;) a.push(new Array(1e6).fill(1)); export default async function () {}`, { cpuTimeMs: 5000, wallTimeMs: 5000 }), (err: Error & { code?: string }) => err.code === 'E_MEMORY');
    await assert.rejects(load(`export default 42`), (err: Error & { code?: string }) => err.code === 'E_FUNCTION_ERROR' && /not a function/.test(err.message));
    await assert.rejects(load(`import fs from 'node:fs'; export default async function () {}`), (err: Error & { code?: string }) => err.code === 'E_FUNCTION_ERROR' && /only the platform module 'faas'/.test(err.message));
  });
});

describe('entries hold against hostile and unlucky code', () => {
  /** `ctx.redis.get(key, delayMs)` answers `key` after `delayMs`; `onCall` runs just before a reply. */
  let onCall: (() => void) | null = null;
  const delayHost = {
    redisCommands: ['get'],
    async call(_call: unknown, _builtin: string, _op: string, args: unknown[]): Promise<unknown> {
      const ms = typeof args[1] === 'number' ? args[1] : 0;
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
      onCall?.();
      return args[0] ?? null;
    },
  };
  async function loadDelay(code: string, limits: Partial<FunctionLimits>): Promise<Sandbox> {
    const s = await createIsolateSandbox({ key: 'delay/fn@v1', app: 'delay', function: 'fn', versionId: 'v1', code, limits: { ...LIMITS, ...limits } }, delayHost);
    sandboxes.push(s);
    return s;
  }

  test('a setter on Array.prototype cannot re-address or drop the answers the host reads', async () => {
    const s = await load(`
      let mode = '';
      Object.defineProperty(Array.prototype, '0', { configurable: true, set(v) {
        let value = v;
        if (mode === 'redirect' && typeof v === 'number') { mode = ''; value = v - 1; }
        else if (mode === 'poison' && typeof v === 'number') { mode = ''; value = () => {}; }
        Object.defineProperty(this, '0', { value, writable: true, enumerable: true, configurable: true });
      }});
      export default async function (req, ctx) {
        if (req.path === '/a') { mode = 'redirect'; return 'written by A'; }
        if (req.path === '/poison') { mode = 'poison'; return 'poison'; }
        if (req.path === '/b') { await ctx.redis.get('k'); await ctx.redis.get('k'); return 'written by B'; }
        return 'plain';
      }`, {}, 'forge-app');
    const [b, a, poison, plain] = await Promise.all([run(s, { path: '/b' }), run(s, { path: '/a' }), run(s, { path: '/poison' }), run(s, { path: '/plain' })]);
    assert.deepEqual([a, b, poison, plain].map((r) => (r.ok ? JSON.parse(r.body ?? '') : r.error.code)), ['written by A', 'written by B', 'poison', 'plain']);
  });

  test('an unhandled rejection in an entry cut by its slice: the handlers it did not start run in the next entry', async () => {
    const s = await load(`export default async function (req) {
      if (req.path === '/reject') { globalThis.kept = Promise.reject(new Error('oops')); const t = Date.now(); while (Date.now() - t < 4) {} }
      return 'ok';
    }`, { cpuTimeMs: 100, wallTimeMs: 500 });
    await run(s);
    await run(s); // past the first entry (it compiles the dispatch path)
    const t0 = performance.now();
    const [rejected, ...others] = await Promise.all([run(s, { path: '/reject' }), run(s), run(s), run(s)]);
    assert.equal(errorOf(rejected).code, 'E_FUNCTION_ERROR');
    for (const r of others) assert.ok(r.ok, JSON.stringify(r));
    assert.ok(performance.now() - t0 < 400, 'answered without waiting for the wall limit');
    assert.equal(s.poisoned, false);
  });

  test('a new invocation sharing an entry with one near its wall limit keeps its own budget', async () => {
    const s = await loadDelay(`export default async function (req, ctx) {
      if (req.path === '/light') return 'light';
      if (req.path === '/waiter') { await ctx.redis.get('k', 975); return 'waited'; }
      const t = Date.now(); while (Date.now() - t < 60) {}
      return 'worked';
    }`, { cpuTimeMs: 200, wallTimeMs: 1000 });
    for (let i = 0; i < 3; i++) await run(s, { path: '/light' });
    let worker: Promise<InvocationResult> | null = null;
    onCall = () => { worker = run(s, { path: '/worker' }); onCall = null; }; // the same event-loop turn as the waiter's reply
    const waiter = await run(s, { path: '/waiter' });
    assert.ok(waiter.ok, JSON.stringify(waiter));
    const w = await (worker as Promise<InvocationResult> | null);
    assert.ok(w !== null && w.ok, JSON.stringify(w));
  });

  test('CPU cannot be spread over neighbours in shared entries: a hog resumed beside light invocations is stopped near its limit', async () => {
    const s = await loadDelay(`export default async function (req, ctx) {
      if (req.path === '/light') return 'light';
      let used = 0;
      while (used < 600) { await ctx.redis.get('k'); const t = Date.now(); while (Date.now() - t < 20) {} used += Date.now() - t; }
      return 'burned ' + used + ' ms';
    }`, { cpuTimeMs: 50, wallTimeMs: 5000 });
    for (let i = 0; i < 3; i++) await run(s, { path: '/light' });
    const light: Array<Promise<InvocationResult>> = [];
    onCall = () => { for (let i = 0; i < 40; i++) light.push(run(s, { path: '/light' })); };
    try {
      const hog = await run(s, { path: '/hog' });
      assert.equal(errorOf(hog).code, 'E_TIMEOUT');
      assert.match(errorOf(hog).message, /CPU time limit of 50 ms/);
    } finally {
      onCall = null;
      await Promise.all(light);
    }
  });
});
