/**
 * The REST API through `fastify.inject()` (no listening socket) over a real SQLite store.
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createControlPlane } from '../core/control-plane.ts';
import { ensureAdminKey } from '../core/keys.ts';
import type { ControlPlane } from '../core/types.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { apiRoutes, registerErrorHandler } from './api.ts';

function handler(n: number | string): string {
  return `export default async function handler(req, ctx) {\n  return { n: ${JSON.stringify(n)} };\n}\n`;
}

describe('control-plane REST API', () => {
  let dir: string;
  let store: Store;
  let cp: ControlPlane;
  let app: FastifyInstance;
  let key: string;
  let auth: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'faas-api-'));
    store = await openStore({ dataDir: dir });
    const admin = await ensureAdminKey(store, dir);
    assert.ok(admin.created);
    key = admin.key;
    auth = { authorization: `Bearer ${key}` };
    cp = createControlPlane({ store, logRingSize: 20 });
    app = Fastify({ logger: false });
    await app.register(apiRoutes, { prefix: '/api', controlPlane: cp });
    await app.ready();
  });

  after(async () => {
    await app?.close();
    await cp?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a request without an API key is refused with 401 E_UNAUTHORIZED saying where the key is', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/apps' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, 'E_UNAUTHORIZED');
    assert.match(res.json().error.message, /missing API key.*\$FAAS_DATA_DIR\/admin\.key/);
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  });

  it('a wrong or malformed API key is refused with 401 before the body is read', async () => {
    for (const headers of [{ authorization: 'Bearer faas_wrong' }, { 'x-api-key': 'faas_wrong' }, { authorization: `Basic ${key}` }]) {
      const res = await app.inject({ method: 'POST', url: '/api/apps/game/functions/fn/deploy', headers, payload: { code: handler(1) } });
      assert.equal(res.statusCode, 401, JSON.stringify(headers));
      assert.equal(res.json().error.code, 'E_UNAUTHORIZED');
    }
    assert.equal(await store.getApp('game'), null);
  });

  it('the key is accepted from x-api-key as well as Authorization', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/apps', headers: { 'x-api-key': key } });
    assert.equal(res.statusCode, 200);
    assert.ok(Array.isArray(res.json().apps));
  });

  it('malformed bodies and queries are refused with 400 E_VALIDATION naming the field', async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ['POST', '/api/apps/game/functions/fn/deploy', {}, /body must have the field code/],
      ['POST', '/api/apps/game/functions/fn/deploy', { code: handler(1), mesage: 'typo' }, /body\/mesage is not a known field/],
      ['POST', '/api/apps/game/functions/fn/deploy', { code: { nested: true } }, /body\/code must be string/],
      ['POST', '/api/apps/game/functions/fn/deploy', { code: handler(1), limits: { memoryLimitMiB: 'lots' } }, /body\/limits\/memoryLimitMiB must be integer/],
      ['PUT', '/api/apps/game/functions/fn/aliases/prod', {}, /versionId/],
      ['POST', '/api/apps', { name: 5, extra: 1 }, /body\/extra is not a known field/],
    ];
    for (const [method, url, payload, message] of cases) {
      const res = await app.inject({ method: method as 'POST', url, headers: auth, payload: payload as object });
      assert.equal(res.statusCode, 400, `${method} ${url} ${JSON.stringify(payload)}`);
      assert.equal(res.json().error.code, 'E_VALIDATION');
      assert.match(res.json().error.message, message);
    }
    const query = await app.inject({ method: 'GET', url: '/api/apps/game/functions/fn/logs?limit=0', headers: auth });
    assert.equal(query.statusCode, 400);
    assert.equal(query.json().error.code, 'E_VALIDATION');
    assert.match(query.json().error.message, /querystring\/limit must be >= 1/);
  });

  it('a body that is not valid JSON is refused with 400 E_BAD_REQUEST', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/apps', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"name":' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, 'E_BAD_REQUEST');
  });

  it('invalid names are refused with 400 E_INVALID_NAME', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/apps/Game/functions/fn/deploy', headers: auth, payload: { code: handler(1) } });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, 'E_INVALID_NAME');
    assert.match(res.json().error.message, /^app name "Game" is invalid/);
  });

  it('a module over 1 MiB answers 413 E_CODE_TOO_LARGE, and a body over 8 MiB 413 E_BODY_TOO_LARGE', async () => {
    const big = await app.inject({ method: 'POST', url: '/api/apps/big/functions/fn/deploy', headers: auth, payload: { code: `${handler(1)}//${'x'.repeat(2 * 1024 * 1024)}` } });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().error.code, 'E_CODE_TOO_LARGE');
    const huge = await app.inject({ method: 'POST', url: '/api/apps/big/functions/fn/deploy', headers: auth, payload: { code: 'x'.repeat(9 * 1024 * 1024) } });
    assert.equal(huge.statusCode, 413);
    assert.equal(huge.json().error.code, 'E_BODY_TOO_LARGE');
    assert.equal(await store.getApp('big'), null);
  });

  it('a syntax error answers 400 E_SYNTAX with line, column and frame', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/apps/syn/functions/fn/deploy', headers: auth, payload: { code: 'export default function () {\n  return 1 +;\n}\n' } });
    assert.equal(res.statusCode, 400);
    const { error } = res.json();
    assert.equal(error.code, 'E_SYNTAX');
    assert.equal(error.line, 2);
    assert.equal(typeof error.column, 'number');
    assert.match(error.frame, /> 2 \| +return 1 \+;/);
    assert.equal(await store.getApp('syn'), null);
  });

  it('POST /check answers 200 with the diagnostics even when the code is refused', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/check', headers: auth, payload: { code: 'export default function () { return eval("1"); }' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().ok, false);
    assert.equal(res.json().diagnostics[0].rule, 'no-eval');
  });

  it('the full flow: create an app, deploy twice, list, move an alias, roll back, read logs', async () => {
    const created = await app.inject({ method: 'POST', url: '/api/apps', headers: auth, payload: { name: 'game1' } });
    assert.equal(created.statusCode, 201);
    assert.equal(created.json().app.name, 'game1');
    assert.equal((await app.inject({ method: 'POST', url: '/api/apps', headers: auth, payload: { name: 'game1' } })).statusCode, 409);

    const deployUrl = '/api/apps/game1/functions/follow/deploy';
    const v1 = await app.inject({ method: 'POST', url: deployUrl, headers: auth, payload: { code: handler(1), message: 'v1' } });
    assert.equal(v1.statusCode, 201);
    const id1 = v1.json().version.id as string;
    assert.equal(v1.json().version.author, 'admin');
    assert.deepEqual(v1.json().alias, { name: 'prod', versionId: id1, previousVersionId: null });
    const same = await app.inject({ method: 'POST', url: deployUrl, headers: auth, payload: { code: handler(1) } });
    assert.equal(same.statusCode, 200, 'the same code again is not a new version');
    assert.equal(same.json().created, false);
    const v2 = await app.inject({ method: 'POST', url: deployUrl, headers: auth, payload: { code: handler(2), limits: { memoryLimitMiB: 64 } } });
    assert.equal(v2.statusCode, 201);
    const id2 = v2.json().version.id as string;
    assert.equal(v2.json().version.limits.memoryLimitMiB, 64);

    const versions = await app.inject({ method: 'GET', url: '/api/apps/game1/functions/follow/versions', headers: auth });
    assert.deepEqual(versions.json().versions.map((v: { id: string }) => v.id), [id2, id1]);
    const functions = await app.inject({ method: 'GET', url: '/api/apps/game1/functions', headers: auth });
    assert.deepEqual(functions.json().functions.map((f: { name: string }) => f.name), ['follow']);

    const canary = await app.inject({ method: 'PUT', url: '/api/apps/game1/functions/follow/aliases/canary', headers: auth, payload: { versionId: id1 } });
    assert.deepEqual(canary.json(), { alias: { name: 'canary', versionId: id1, previousVersionId: null, canary: null } });
    const fn = await app.inject({ method: 'GET', url: '/api/apps/game1/functions/follow', headers: auth });
    assert.deepEqual(fn.json().function.aliases, { prod: id2, canary: id1 });
    const unknown = await app.inject({ method: 'PUT', url: '/api/apps/game1/functions/follow/aliases/prod', headers: auth, payload: { versionId: 'ffffffffffffffffffff' } });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().error.code, 'E_VERSION_NOT_FOUND');

    const back = await app.inject({ method: 'POST', url: '/api/apps/game1/functions/follow/rollback', headers: auth, payload: {} });
    assert.equal(back.statusCode, 200);
    assert.deepEqual(back.json().alias, { name: 'prod', versionId: id1, previousVersionId: id2, canary: null });
    const noBody = await app.inject({ method: 'POST', url: '/api/apps/game1/functions/follow/rollback', headers: auth });
    assert.equal(noBody.statusCode, 200, 'the rollback body is optional');
    assert.equal(noBody.json().alias.versionId, id2);
    const canaryBack = await app.inject({ method: 'POST', url: '/api/apps/game1/functions/follow/rollback', headers: auth, payload: { alias: 'canary' } });
    assert.equal(canaryBack.statusCode, 409);
    assert.equal(canaryBack.json().error.code, 'E_NO_PREVIOUS_VERSION');

    await cp.appendLogs(Array.from({ length: 25 }, (_, i) => ({ app: 'game1', function: 'follow', versionId: id2, requestId: `req-${i}`, level: 'info' as const, message: `hello ${i}`, time: 5000 + i })));
    const logs = await app.inject({ method: 'GET', url: '/api/apps/game1/functions/follow/logs', headers: auth });
    assert.equal(logs.json().lines.length, 20, 'the ring keeps 20 lines');
    const filtered = await app.inject({ method: 'GET', url: '/api/apps/game1/functions/follow/logs?limit=2&since=5010&requestId=req-24', headers: auth });
    assert.deepEqual(filtered.json().lines.map((l: { message: string }) => l.message), ['hello 24']);

    const apps = await app.inject({ method: 'GET', url: '/api/apps', headers: auth });
    assert.ok(apps.json().apps.some((a: { name: string }) => a.name === 'game1'));
  });

  it('GET …/logs?after= pages forward by line id, and refuses a cursor that is not a line id with 400', async () => {
    const deployed = await app.inject({ method: 'POST', url: '/api/apps/paging/functions/tail/deploy', headers: auth, payload: { code: handler('tail') } });
    assert.equal(deployed.statusCode, 201);
    const url = '/api/apps/paging/functions/tail/logs';
    const logLine = (n: number) => ({ app: 'paging', function: 'tail', versionId: deployed.json().version.id as string, requestId: `req-${n}`, level: 'info' as const, message: `tail ${n}`, time: 7000 + n });
    await cp.appendLogs([0, 1, 2, 3, 4].map(logLine));

    type Line = { id: number; message: string };
    const read = async (query: string): Promise<Line[]> => {
      const res = await app.inject({ method: 'GET', url: `${url}?${query}`, headers: auth });
      assert.equal(res.statusCode, 200, `${query}: ${res.body}`);
      return res.json().lines as Line[];
    };
    const newest = await read('limit=5');
    assert.deepEqual(newest.map((l) => l.message), ['tail 0', 'tail 1', 'tail 2', 'tail 3', 'tail 4']);
    assert.ok(newest.every((l) => Number.isSafeInteger(l.id) && l.id > 0), 'every line carries its integer id');

    // Follow from the start, each page's last id as the next cursor: every line once, in order.
    const pages: string[][] = [];
    let cursor = 0;
    for (let page = await read(`after=${cursor}&limit=2`); page.length > 0; page = await read(`after=${cursor}&limit=2`)) {
      pages.push(page.map((l) => l.message));
      cursor = page.at(-1)?.id ?? cursor;
    }
    assert.deepEqual(pages, [['tail 0', 'tail 1'], ['tail 2', 'tail 3'], ['tail 4']]);
    assert.equal(cursor, newest.at(-1)?.id, 'the last cursor is the newest line\'s id');
    await cp.appendLogs([logLine(5)]);
    assert.deepEqual((await read(`after=${cursor}`)).map((l) => l.message), ['tail 5'], 'a line appended later comes after the cursor');

    for (const [after, message] of [['-1', /querystring\/after must be >= 0/], ['abc', /querystring\/after must be integer/], ['1.5', /querystring\/after must be integer/]] as const) {
      const res = await app.inject({ method: 'GET', url: `${url}?after=${after}`, headers: auth });
      assert.equal(res.statusCode, 400, `after=${after}`);
      assert.equal(res.json().error.code, 'E_VALIDATION');
      assert.match(res.json().error.message, message);
    }
  });

  it('missing apps and functions answer 404 with their codes, unknown routes E_ROUTE_NOT_FOUND', async () => {
    const noApp = await app.inject({ method: 'GET', url: '/api/apps/nope/functions', headers: auth });
    assert.equal(noApp.statusCode, 404);
    assert.equal(noApp.json().error.code, 'E_APP_NOT_FOUND');
    const noRoute = await app.inject({ method: 'GET', url: '/api/nothing-here', headers: auth });
    assert.equal(noRoute.statusCode, 404);
    assert.equal(noRoute.json().error.code, 'E_ROUTE_NOT_FOUND');
  });
  it('serves an OpenAPI document at /api/docs/json without a key, describing every route', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/docs/json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.equal(doc.openapi, '3.0.3');
    for (const path of ['/api/apps', '/api/apps/{app}/functions/{fn}/deploy', '/api/apps/{app}/functions/{fn}/aliases/{alias}', '/api/keys', '/api/audit', '/api/apps/{app}/functions/{fn}/secrets/{name}', '/api/check']) {
      assert.ok(path in doc.paths, `${path} is documented`);
    }
    assert.ok(doc.paths['/api/apps/{app}/functions/{fn}/deploy'].post.requestBody, 'request bodies come from the route schemas');
    const ui = await app.inject({ method: 'GET', url: '/api/docs' });
    assert.ok(ui.statusCode === 200 || ui.statusCode === 302, `docs UI answers (${ui.statusCode})`);
  });

  it('keys, roles, config, secrets, canary, versions/:id and audit work through HTTP with role checks', async () => {
    await app.inject({ method: 'POST', url: '/api/apps/team/functions/fn/deploy', headers: auth, payload: { code: handler('t1') } });
    const v2 = (await app.inject({ method: 'POST', url: '/api/apps/team/functions/fn/deploy', headers: auth, payload: { code: handler('t2'), alias: 'next' } })).json().version.id;
    const created = await app.inject({ method: 'POST', url: '/api/keys', headers: auth, payload: { name: 'dev', role: 'developer', apps: ['team'] } });
    assert.equal(created.statusCode, 201);
    const dev = { authorization: `Bearer ${created.json().secret}` };
    const who = await app.inject({ method: 'GET', url: '/api/whoami', headers: dev });
    assert.deepEqual(who.json().actor.apps, ['team']);
    assert.equal(who.json().actor.role, 'developer');

    const forbidden = await app.inject({ method: 'GET', url: '/api/keys', headers: dev });
    assert.equal(forbidden.statusCode, 403);
    assert.equal(forbidden.json().error.code, 'E_FORBIDDEN');
    const otherApp = await app.inject({ method: 'POST', url: '/api/apps/game1/functions/follow/deploy', headers: dev, payload: { code: handler('x') } });
    assert.equal(otherApp.statusCode, 403);
    assert.match(otherApp.json().error.message, /not granted app game1/);

    const put = await app.inject({ method: 'PUT', url: '/api/apps/team/functions/fn/secrets/API_TOKEN', headers: dev, payload: { value: 's3cr3t-value' } });
    assert.equal(put.statusCode, 204);
    await app.inject({ method: 'PUT', url: '/api/apps/team/functions/fn/config/MODE', headers: dev, payload: { value: 'fast' } });
    const config = await app.inject({ method: 'GET', url: '/api/apps/team/functions/fn/config', headers: dev });
    assert.equal(config.json().values.MODE, 'fast');
    assert.deepEqual(config.json().secrets.map((s: { name: string }) => s.name), ['API_TOKEN']);
    assert.ok(!config.body.includes('s3cr3t'), 'secret values are write-only');
    const badName = await app.inject({ method: 'PUT', url: '/api/apps/team/functions/fn/config/bad-name', headers: dev, payload: { value: 'x' } });
    assert.equal(badName.statusCode, 400);
    const unset = await app.inject({ method: 'DELETE', url: '/api/apps/team/functions/fn/secrets/NOPE', headers: dev });
    assert.equal(unset.json().error.code, 'E_CONFIG_NOT_FOUND');

    const v1 = (await app.inject({ method: 'GET', url: '/api/apps/team/functions/fn', headers: dev })).json().function.aliases.prod;
    const split = await app.inject({ method: 'PUT', url: '/api/apps/team/functions/fn/aliases/prod', headers: dev, payload: { versionId: v1, canary: { versionId: v2, weight: 25 } } });
    assert.equal(split.statusCode, 200, split.body);
    assert.deepEqual(split.json().alias.canary, { versionId: v2, weight: 25 });
    const badWeight = await app.inject({ method: 'PUT', url: '/api/apps/team/functions/fn/aliases/prod', headers: dev, payload: { versionId: v1, canary: { versionId: v2, weight: 0 } } });
    assert.equal(badWeight.statusCode, 400);
    assert.match(badWeight.json().error.message, /integer from 1 to 99/);

    const version = await app.inject({ method: 'GET', url: `/api/apps/team/functions/fn/versions/${v2}`, headers: dev });
    assert.equal(version.json().version.code, handler('t2'));
    const missing = await app.inject({ method: 'GET', url: '/api/apps/team/functions/fn/versions/ffffffffffffffffffff', headers: dev });
    assert.equal(missing.statusCode, 404);

    const audit = await app.inject({ method: 'GET', url: '/api/audit?app=team&limit=5', headers: dev });
    const actions = audit.json().entries.map((e: { action: string }) => e.action);
    assert.deepEqual(actions.slice(0, 3), ['alias.set', 'config.set', 'secret.set']);
    assert.ok(!audit.body.includes('s3cr3t'));

    const keyId = created.json().key.id;
    const revoke = await app.inject({ method: 'DELETE', url: `/api/keys/${keyId}`, headers: auth });
    assert.ok(revoke.json().key.revokedAt);
    const after = await app.inject({ method: 'GET', url: '/api/whoami', headers: dev });
    assert.equal(after.statusCode, 401, 'a revoked key is refused at once');
  });

});

describe('registerErrorHandler', () => {
  it('answers an unexpected error with 500 E_INTERNAL and no stack, and a PlatformError with its own status', async () => {
    const app = Fastify({ logger: false });
    registerErrorHandler(app);
    app.get('/boom', async () => {
      throw new Error('secret detail at /srv/internal.js:12');
    });
    app.get('/store-down', async () => {
      const { cpError } = await import('../errors.ts');
      throw cpError('E_STORE_UNAVAILABLE', 'the store is closed');
    });
    try {
      const boom = await app.inject({ method: 'GET', url: '/boom' });
      assert.equal(boom.statusCode, 500);
      assert.deepEqual(boom.json(), { error: { code: 'E_INTERNAL', message: 'internal error' } });
      const down = await app.inject({ method: 'GET', url: '/store-down' });
      assert.equal(down.statusCode, 503);
      assert.deepEqual(down.json(), { error: { code: 'E_STORE_UNAVAILABLE', message: 'the store is closed' } });
    } finally {
      await app.close();
    }
  });

});
