/**
 * The console's API client against a real platform (test/support/platform.ts) and, for broken
 * answers, against small real HTTP servers.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../test/support/free-port.ts';
import { startPlatform, type TestPlatform } from '../../test/support/platform.ts';
import { AdminApi, isApiError, isRouteMissing, type ApiError } from './api.ts';
import { diagnosticsFromDeployError } from './diagnostics.ts';
import { identify } from './session.ts';

const ECHO = `export default async function handler(req, ctx) {
  ctx.log.info('echo', req.query.tag);
  return { method: req.method, path: req.path, query: req.query, headers: req.headers, body: req.body };
}
`;

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isApiError(error), `expected an ApiError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    resolve({ url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`, server });
  }));
}

describe('AdminApi against a running platform', { timeout: 120_000 }, () => {
  let platform: TestPlatform;
  let api: AdminApi;
  before(async () => {
    platform = await startPlatform();
    api = new AdminApi({ apiKey: platform.apiKey, baseUrl: platform.url });
  });
  after(async () => { await platform?.stop(); });

  it('lists apps with the key and refuses a bad key with 401 E_UNAUTHORIZED and the server\'s message', async () => {
    assert.ok((await api.listApps()).some((a) => a.name === 'demo'));
    const error = await rejection(new AdminApi({ apiKey: 'faas_nope', baseUrl: platform.url }).listApps());
    assert.equal(error.code, 'E_UNAUTHORIZED');
    assert.equal(error.status, 401);
    assert.match(error.message, /unknown or revoked API key/);
  });

  it('check reports a syntax error with its 1-based line and column, without storing anything', async () => {
    const report = await api.check('export default function handler() {\n  return (;\n}\n');
    assert.equal(report.ok, false);
    assert.equal(report.diagnostics[0]?.rule, 'syntax');
    assert.deepEqual([report.diagnostics[0]?.line, report.diagnostics[0]?.column], [2, 11]);
  });

  it('a refused deploy carries the diagnostics the editor shows', async () => {
    const error = await rejection(api.deploy('demo', 'api-client-broken', { code: 'export default (' }));
    assert.equal(error.code, 'E_SYNTAX');
    assert.equal(error.status, 400);
    const [d] = diagnosticsFromDeployError(error.code, error.message, error.details);
    assert.equal(d?.line, 1);
    const missing = await rejection(api.getFunction('demo', 'api-client-broken'));
    assert.equal(missing.code, 'E_FUNCTION_NOT_FOUND');
    assert.equal(isRouteMissing(missing), false, 'missing data is not a missing route');
  });

  it('invokes through the gateway with query, headers and body, reads timings, and never sends the API key', async () => {
    const deployed = await api.deploy('demo', 'api-client-echo', { code: ECHO, message: 'echo' });
    const result = await api.invoke('demo', 'api-client-echo', {
      method: 'POST',
      path: '/rooms/42?x=1',
      query: [['tag', 'a b'], ['', 'ignored']],
      headers: [['x-demo', 'yes'], ['content-type', 'application/json']],
      body: '{"n":1}',
      target: { alias: 'prod' },
    });
    assert.equal(result.status, 200);
    const echo = result.json as { method: string; path: string; query: Record<string, string>; headers: Record<string, string>; body: unknown };
    assert.equal(echo.method, 'POST');
    assert.equal(echo.path, '/rooms/42');
    assert.deepEqual(echo.query, { x: '1', tag: 'a b' });
    assert.deepEqual(echo.body, { n: 1 });
    assert.equal(echo.headers['x-demo'], 'yes');
    assert.equal(echo.headers.authorization, undefined, 'the console\'s API key never reaches function code');
    assert.equal(Object.values(echo.headers).some((v) => v.includes(platform.apiKey)), false);
    assert.equal(result.versionId, deployed.version.id);
    assert.equal(typeof result.cpuMs, 'number');
    assert.equal(result.coldStart, true, 'the first request to a new version is a cold start');
    assert.ok(result.coldStartMs !== null && result.coldStartMs > 0, 'with its duration');
    const warm = await api.invoke('demo', 'api-client-echo', { method: 'GET', path: '/', query: [], headers: [], body: '', target: { alias: 'prod' } });
    assert.deepEqual([warm.coldStart, warm.coldStartMs], [false, null], 'none when warm');
    assert.ok(result.durationMs > 0);
    assert.ok(result.requestId !== null);
    let lines = await api.logs('demo', 'api-client-echo', { requestId: result.requestId });
    for (let i = 0; i < 20 && lines.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      lines = await api.logs('demo', 'api-client-echo', { requestId: result.requestId });
    }
    assert.deepEqual(lines.map((l) => l.message), ['echo a b']);
  });

  it('a pinned version is invoked with x-faas-version; an unknown one answers 404 without throwing', async () => {
    const [latest] = await api.listVersions('demo', 'api-client-echo');
    const pinned = await api.invoke('demo', 'api-client-echo', { target: { version: latest!.id } });
    assert.equal(pinned.versionId, latest!.id);
    const unknown = await api.invoke('demo', 'api-client-echo', { target: { version: '0'.repeat(20) } });
    assert.equal(unknown.status, 404);
  });

  it('a header the browser cannot send is refused before sending, with its name', async () => {
    const error = await rejection(api.invoke('demo', 'api-client-echo', { headers: [['bad header', 'x']] }));
    assert.equal(error.code, 'E_BAD_REQUEST');
    assert.match(error.message, /"bad header"/);
  });

  it('a route the server lacks is recognised (404 E_ROUTE_NOT_FOUND), and sign-in falls back to listing apps', async () => {
    // Rename the whoami route on the way out: the server answers as one without that endpoint.
    const olderServer = new AdminApi({ apiKey: platform.apiKey, baseUrl: platform.url, fetch: (input, init) => fetch(String(input).replace('/api/whoami', '/api/whoami-not-here'), init) });
    const error = await rejection(olderServer.whoami());
    assert.ok(isRouteMissing(error));
    assert.equal(await identify(olderServer), null, 'signed in with an unknown role');
    await assert.rejects(identify(new AdminApi({ apiKey: 'faas_nope', baseUrl: platform.url })), { code: 'E_UNAUTHORIZED' });
  });
});

describe('AdminApi when the answer is not the platform\'s', () => {
  it('no server listening → E_UNREACHABLE, saying so', async () => {
    const port = await freePort();
    const error = await rejection(new AdminApi({ apiKey: 'k', baseUrl: `http://127.0.0.1:${port}` }).listApps());
    assert.equal(error.code, 'E_UNREACHABLE');
    assert.equal(error.status, 0);
    assert.match(error.message, /cannot reach the platform/);
  });

  it('an HTML error page (a proxy) → E_HTTP_<status> with a short snippet, not the whole page', async () => {
    const { url, server } = await serve((_req, res) => { res.writeHead(502, { 'content-type': 'text/html' }).end(`<html><body>Bad gateway ${'x'.repeat(1000)}</body></html>`); });
    try {
      const error = await rejection(new AdminApi({ apiKey: 'k', baseUrl: url }).listApps());
      assert.equal(error.code, 'E_HTTP_502');
      assert.match(error.message, /^GET \/api\/apps answered 502 Bad Gateway: <html><body>Bad gateway/);
      assert.ok(error.message.length < 320);
    } finally {
      server.close();
    }
  });

  it('a 200 that is not a JSON object → E_BAD_RESPONSE_BODY', async () => {
    const { url, server } = await serve((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('[1,2]'); });
    try {
      assert.equal((await rejection(new AdminApi({ apiKey: 'k', baseUrl: url }).listApps())).code, 'E_BAD_RESPONSE_BODY');
    } finally {
      server.close();
    }
  });

  it('no answer in time → E_TIMEOUT', async () => {
    const { url, server } = await serve(() => { /* never answers */ });
    try {
      assert.equal((await rejection(new AdminApi({ apiKey: 'k', baseUrl: url, timeoutMs: 200 }).listApps())).code, 'E_TIMEOUT');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('an empty key is refused at construction', () => {
    assert.throws(() => new AdminApi({ apiKey: '  ' }), /apiKey must be a non-empty string/);
  });
});
