import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { adminUi } from './plugin.ts';

const INDEX = '<!doctype html><html><body><div id="root"></div><script type="module" src="/admin/assets/index-abc123.js"></script></body></html>';

async function fakeBuild(dir: string): Promise<void> {
  await mkdir(join(dir, 'assets'), { recursive: true });
  await writeFile(join(dir, 'index.html'), INDEX);
  await writeFile(join(dir, 'assets', 'index-abc123.js'), 'console.log("console")');
  await writeFile(join(dir, '.env'), 'SECRET=1');
}

/** An app like the platform's: the console beside another plugin with its own 404 handler. */
async function appWith(distDir: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await app.register(adminUi, { distDir });
  await app.register(async (api) => {
    api.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: { code: 'E_ROUTE_NOT_FOUND' } }));
    api.get('/apps', async () => ({ apps: [] }));
  }, { prefix: '/api' });
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.ready();
  return app;
}

describe('adminUi plugin with a build', () => {
  let dir: string;
  let app: FastifyInstance;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'admin-ui-'));
    await fakeBuild(dir);
    app = await appWith(dir);
  });
  after(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('/admin redirects to /admin/, which answers index.html, not cached, with a CSP', async () => {
    const redirect = await app.inject('/admin');
    assert.equal(redirect.statusCode, 302);
    assert.equal(redirect.headers.location, '/admin/');
    const index = await app.inject('/admin/');
    assert.equal(index.statusCode, 200);
    assert.equal(index.body, INDEX);
    assert.match(String(index.headers['content-type']), /^text\/html/);
    assert.equal(index.headers['cache-control'], 'no-cache');
    assert.match(String(index.headers['content-security-policy']), /script-src 'self'.*frame-ancestors 'none'/);
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
  });

  it('client routes fall back to index.html (reloads and shared links work), also for HEAD', async () => {
    for (const url of ['/admin/apps/demo', '/admin/apps/demo/functions/live-stream/versions', '/admin/keys?x=1']) {
      const res = await app.inject(url);
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.body, INDEX, url);
    }
    const head = await app.inject({ method: 'HEAD', url: '/admin/audit' });
    assert.equal(head.statusCode, 200);
  });

  it('hashed assets are served with a year-long immutable cache', async () => {
    const res = await app.inject('/admin/assets/index-abc123.js');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /javascript/);
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
  });

  it('a missing asset is a plain 404, never index.html', async () => {
    for (const url of ['/admin/assets/index-old.js', '/admin/assets/chunk', '/admin/favicon.ico']) {
      const res = await app.inject(url);
      assert.equal(res.statusCode, 404, url);
      assert.doesNotMatch(res.body, /<div id="root">/, url);
    }
  });

  it('nothing outside the build or hidden in it is served', async () => {
    for (const url of ['/admin/../package.json', '/admin/..%2f..%2fpackage.json', '/admin/%2e%2e/%2e%2e/package.json', '/admin/.env']) {
      const res = await app.inject(url);
      assert.notEqual(res.statusCode, 200, url);
      assert.doesNotMatch(res.body, /SECRET|"name"/, url);
    }
  });

  it('only GET and HEAD are answered', async () => {
    const res = await app.inject({ method: 'POST', url: '/admin/apps', payload: {} });
    assert.equal(res.statusCode, 404);
  });

  it('the rest of the server keeps its own routes and 404 handling', async () => {
    assert.equal((await app.inject('/healthz')).statusCode, 200);
    assert.deepEqual((await app.inject('/api/apps')).json(), { apps: [] });
    const apiMiss = await app.inject('/api/nope');
    assert.deepEqual(apiMiss.json(), { error: { code: 'E_ROUTE_NOT_FOUND' } });
    const rootMiss = await app.inject('/administrator');
    assert.equal(rootMiss.statusCode, 404);
    assert.doesNotMatch(rootMiss.body, /<div id="root">/);
  });
});

describe('adminUi plugin without a build', () => {
  let dir: string;
  let app: FastifyInstance;
  before(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'admin-ui-')), 'dist');
    app = await appWith(dir);
  });
  after(async () => {
    await app.close();
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('answers 503 with a page naming the build command, for the console and its client routes', async () => {
    for (const url of ['/admin/', '/admin/apps/demo', '/admin/assets/index-abc123.js']) {
      const res = await app.inject(url);
      assert.equal(res.statusCode, 503, url);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.match(res.body, /not built yet/);
      assert.match(res.body, /vite\.js build --config admin-ui\/vite\.config\.ts/);
      assert.equal(res.headers['cache-control'], 'no-store');
    }
  });

  it('serves the build as soon as it exists, without a restart', async () => {
    await fakeBuild(dir);
    const index = await app.inject('/admin/apps/demo');
    assert.equal(index.statusCode, 200);
    assert.equal(index.body, INDEX);
    assert.equal((await app.inject('/admin/assets/index-abc123.js')).statusCode, 200);
  });
});

describe('adminUi options', () => {
  it('refuses a distDir that is not a string', async () => {
    const app = Fastify({ logger: false });
    await assert.rejects(async () => {
      await app.register(adminUi, { distDir: 42 as unknown as string });
      await app.ready();
    }, /distDir must be a path string/);
    await app.close();
  });
});
