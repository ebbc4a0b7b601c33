/**
 * Shape (b), FAAS_GATEWAY=workers: the worker processes take the connections and serve `/fn`
 * themselves; everything else on the port is forwarded to the gateway process. Real processes,
 * real HTTP; the crash semantics of both shapes are in gateway.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, call, deploy, errorCode, invoke } from '../support/http.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';
import { parseExposition, sampleSum } from '../support/prometheus-text.ts';

let p: TestPlatform;
before(async () => { p = await startPlatform({ env: { FAAS_GATEWAY: 'workers' } }); });
after(() => p?.stop());

/** Sum of a counter's samples in /metrics whose labels contain every `labels` pair. */
async function counter(name: string, labels: Record<string, string>): Promise<number> {
  return sampleSum(parseExposition(String((await call(`${p.url}/metrics`)).body)), name, labels);
}

describe('workers serve /fn (FAAS_GATEWAY=workers)', () => {
  test('the gateway process listens only on a private socket; the API, the admin UI and /readyz answer through the workers', async () => {
    assert.equal(typeof p.platform.app.server.address(), 'string', 'the gateway process has no TCP listener of its own');
    assert.equal((await call(`${p.url}/readyz`)).status, 200);
    const apps = await api(p, '/apps');
    assert.equal(apps.status, 200);
    assert.equal((await call(`${p.url}/api/apps`)).status, 401, 'the API key is still checked by the gateway process');
    assert.equal((await call(`${p.url}/admin/`)).status, 200);
    // A deploy (a JSON body) passes through the forwarding byte for byte.
    const version = await deploy(p, 'wb', 'hello', `export default async (req, ctx) => ({ hello: req.query.name ?? 'world', v: ctx.version })`);
    const r = await invoke(p, 'wb', 'hello', '/?name=ada');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { hello: 'ada', v: version });
    assert.equal(r.headers.get('x-faas-version'), version);
  });

  test('a deploy, a rollback and a pinned version are seen by the next request on every worker', async () => {
    await deploy(p, 'wb', 'flip', `export default async () => 'one'`);
    // Enough requests that both workers have resolved (and cached) the alias.
    for (const r of await Promise.all(Array.from({ length: 20 }, () => invoke(p, 'wb', 'flip')))) assert.equal(r.body, 'one');
    const v2 = await deploy(p, 'wb', 'flip', `export default async () => 'two'`);
    for (const r of await Promise.all(Array.from({ length: 20 }, () => invoke(p, 'wb', 'flip')))) assert.equal(r.body, 'two');
    assert.equal((await api(p, '/apps/wb/functions/flip/rollback', { body: {} })).status, 200);
    for (const r of await Promise.all(Array.from({ length: 20 }, () => invoke(p, 'wb', 'flip')))) assert.equal(r.body, 'one');
    assert.equal((await invoke(p, 'wb', 'flip', '/', { headers: { 'x-faas-version': v2 } })).body, 'two');
  });

  test('builtins served by the gateway process work for invocations the workers run: sql transactions, config, auth', async () => {
    await deploy(p, 'wb', 'sql', `export default async (req, ctx) => {
      await ctx.sql.execute('CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER)');
      await ctx.sql.execute('DELETE FROM t');
      await ctx.sql.transaction(async (tx) => { await tx.execute('INSERT INTO t (k, v) VALUES (?, ?)', ['a', 1]); });
      try { await ctx.sql.transaction(async (tx) => { await tx.execute('INSERT INTO t (k, v) VALUES (?, ?)', ['b', 2]); throw new Error('no'); }); } catch {}
      return ctx.sql.query('SELECT k, v FROM t ORDER BY k', []);
    }`);
    for (let i = 0; i < 4; i++) {
      const r = await invoke(p, 'wb', 'sql');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body, [{ k: 'a', v: 1 }], 'the committed row is there, the rolled-back one is not');
    }

    await deploy(p, 'wb', 'cfg', `export default async (req, ctx) => {
      const token = await ctx.config.secret('TOKEN');
      ctx.log.info('token is', token);
      return { region: await ctx.config.get('REGION') };
    }`);
    assert.equal((await api(p, '/apps/wb/functions/cfg/config/REGION', { method: 'PUT', body: { value: 'eu' } })).status, 204);
    assert.equal((await api(p, '/apps/wb/functions/cfg/secrets/TOKEN', { method: 'PUT', body: { value: 'tok-0123456789' } })).status, 204);
    const ids: string[] = [];
    for (const r of await Promise.all(Array.from({ length: 6 }, () => invoke(p, 'wb', 'cfg')))) {
      assert.deepEqual(r.body, { region: 'eu' });
      ids.push(r.headers.get('x-faas-request-id') ?? '');
    }
    for (const id of ids) {
      const logs = await api(p, `/apps/wb/functions/cfg/logs?requestId=${id}`);
      const lines = (logs.body as { lines: Array<{ message: string }> }).lines;
      assert.equal(lines.length, 1, `one log line for ${id}`);
      assert.equal(lines[0]?.message, 'token is [secret]', 'the secret is redacted whichever process served the config');
    }
    assert.equal((await api(p, '/apps/wb/functions/cfg/config/REGION', { method: 'PUT', body: { value: 'us' } })).status, 204);
    for (const r of await Promise.all(Array.from({ length: 6 }, () => invoke(p, 'wb', 'cfg')))) assert.deepEqual(r.body, { region: 'us' }, 'a config change reaches every worker at once');

    await deploy(p, 'wb', 'login', `export default async (req, ctx) => ctx.auth.issue('player-7', { ttlS: 60 })`);
    const meDeploy = await api(p, '/apps/wb/functions/me/deploy', { body: { code: `export default async (req, ctx) => ({ user: ctx.user.id })`, auth: 'required' } });
    assert.ok(meDeploy.status < 300, JSON.stringify(meDeploy.body));
    const token = ((await invoke(p, 'wb', 'login')).body as { token: string }).token;
    assert.equal((await invoke(p, 'wb', 'me')).status, 401);
    const me = await invoke(p, 'wb', 'me', '/', { headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(me.body, { user: 'player-7' });
  });

  test('metrics and the admin figures count what the workers served', async () => {
    await deploy(p, 'wb', 'count', `export default async () => 1`);
    const before = await counter('faas_invocations_total', { app: 'wb', function: 'count' });
    const n = 30;
    for (const r of await Promise.all(Array.from({ length: n }, () => invoke(p, 'wb', 'count')))) assert.equal(r.status, 200);
    assert.equal(await counter('faas_invocations_total', { app: 'wb', function: 'count' }) - before, n);
    // The admin list's figures arrive with the workers' heartbeats (every 250 ms).
    let invocations = 0;
    for (let i = 0; i < 40 && invocations < n; i++) {
      await new Promise((res) => setTimeout(res, 100));
      const stats = await api(p, '/apps/wb/stats');
      invocations = (stats.body as { functions: Record<string, { invocations: number }> }).functions.count?.invocations ?? 0;
    }
    assert.equal(invocations, n);
  });

  test('a burst on a new version cold-starts it once (it runs on its owner until it is hot)', async () => {
    await deploy(p, 'wb', 'burst', `const isolate = Math.random().toString(36).slice(2); export default async () => isolate`);
    const answers = await Promise.all(Array.from({ length: 60 }, () => invoke(p, 'wb', 'burst')));
    assert.ok(answers.every((a) => a.status === 200));
    assert.equal(new Set(answers.map((a) => a.body)).size, 1);
  });

  test('bad input still gets the gateway\'s clear errors from a worker', async () => {
    const missing = await invoke(p, 'wb', 'nope');
    assert.equal(missing.status, 404);
    assert.equal(errorCode(missing), 'E_FUNCTION_NOT_FOUND');
    await deploy(p, 'wb', 'small', `export default async (req) => req.body`, { maxBodyBytes: 16 });
    const big = await invoke(p, 'wb', 'small', '/', { body: { text: 'x'.repeat(100) } });
    assert.equal(big.status, 413);
    assert.equal(errorCode(big), 'E_BODY_TOO_LARGE');
    const bad = await invoke(p, 'wb', 'small', '/', { body: '{"a":', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
  });
});
