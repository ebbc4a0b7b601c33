import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MAX_VERSIONS_PER_FUNCTION } from '../../runtime/metrics.ts';
import { call, deploy, invoke } from '../support/http.ts';
import { duplicateFamilies, parseExposition, sampleValue as value, type Sample } from '../support/prometheus-text.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

let p: TestPlatform;
before(async () => { p = await startPlatform(); });
after(() => p?.stop());

/** Scrape the platform's /metrics and parse it. */
async function scrape(): Promise<Sample[]> {
  const r = await call(`${p.url}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
  assert.deepEqual(duplicateFamilies(String(r.body)), [], 'every metric family appears once');
  return parseExposition(String(r.body));
}

test('invocations, failures, cold starts and builtin calls are counted per app and function', async () => {
  const v = await deploy(p, 'metrics', 'counter', `export default async (req, ctx) => { if (req.path === '/fail') throw new Error('no'); await ctx.redis.incr('n'); return 'ok' }`);
  for (let i = 0; i < 3; i++) assert.equal((await invoke(p, 'metrics', 'counter')).status, 200);
  assert.equal((await invoke(p, 'metrics', 'counter', '/fail')).status, 500);
  const s = await scrape();
  assert.equal(value(s, 'faas_invocations_total', { app: 'metrics', function: 'counter', version: v, status: '200', code: '' }), 3);
  assert.equal(value(s, 'faas_invocations_total', { app: 'metrics', function: 'counter', version: v, status: '500', code: 'E_FUNCTION_ERROR' }), 1);
  assert.equal(value(s, 'faas_invocation_duration_seconds_count', { app: 'metrics', function: 'counter' }), 4);
  assert.equal(value(s, 'faas_invocation_cpu_seconds_count', { app: 'metrics', function: 'counter' }), 4);
  assert.equal(value(s, 'faas_cold_starts_total', { app: 'metrics', function: 'counter' }), 1);
  assert.equal(value(s, 'faas_cold_start_duration_seconds_count', { app: 'metrics', function: 'counter' }), 1);
  assert.equal(value(s, 'faas_builtin_duration_seconds_count', { app: 'metrics', builtin: 'redis', operation: 'incr', outcome: 'ok' }), 3);
  assert.ok((value(s, 'faas_workers_up', {}) ?? 0) >= 1);
  assert.ok(s.some((x) => x.name === 'nodejs_heap_size_used_bytes'), 'Node.js process metrics are exported'); // lag gauges fill in from the second scrape
});

test('a failing builtin call is counted with its error code', async () => {
  await deploy(p, 'metrics', 'bad-redis', `export default async (req, ctx) => { try { await ctx.redis.set('k', 'x'); await ctx.redis.incr('k'); } catch (e) { return e.code } }`);
  assert.equal((await invoke(p, 'metrics', 'bad-redis')).body, 'E_REDIS_ERROR');
  const s = await scrape();
  assert.equal(value(s, 'faas_builtin_errors_total', { app: 'metrics', builtin: 'redis', operation: 'incr', code: 'E_REDIS_ERROR' }), 1);
  assert.equal(value(s, 'faas_builtin_duration_seconds_count', { app: 'metrics', builtin: 'redis', operation: 'incr', outcome: 'error' }), 1);
});

test('a function\'s own HttpError codes do not become label values', async () => {
  await deploy(p, 'metrics', 'user-codes', `import { HttpError } from 'faas'; export default async (req) => { throw new HttpError(404, 'no room', { code: 'ROOM_' + req.query.n }) }`);
  for (const n of ['1', '2', '3']) assert.equal((await invoke(p, 'metrics', 'user-codes', `/?n=${n}`)).status, 404);
  const s = (await scrape()).filter((x) => x.name === 'faas_invocations_total' && x.labels.function === 'user-codes');
  assert.deepEqual(s.map((x) => [x.labels.code, x.value]), [['HTTP_404', 3]]);
});

test('requests to apps or functions that do not exist create no series', async () => {
  for (const path of ['/fn/ghost-app/x', '/fn/metrics/ghost-fn', '/fn/metrics/counter-nope/a']) assert.equal((await call(p.url + path)).status, 404);
  const text = String((await call(`${p.url}/metrics`)).body);
  assert.doesNotMatch(text, /ghost|counter-nope/);
});

test('the isolates of each app are reported from the workers\' heartbeats', async () => {
  // Heartbeats come every 250 ms per worker and heap samples about once a second, so the scrape
  // right after the invocations above can predate the worker's report of them: poll for both.
  const warm = (s: Sample[]) => (value(s, 'faas_pool_isolates', { app: 'metrics', state: 'idle' }) ?? 0) + (value(s, 'faas_pool_isolates', { app: 'metrics', state: 'busy' }) ?? 0);
  const heap = (s: Sample[]) => value(s, 'faas_pool_heap_bytes', { app: 'metrics' }) ?? 0;
  let s = await scrape();
  for (let i = 0; i < 50 && !(warm(s) >= 3 && heap(s) > 100_000); i++) {
    await new Promise((r) => setTimeout(r, 100));
    s = await scrape();
  }
  assert.ok(warm(s) >= 3, `counter, bad-redis and user-codes are warm: ${warm(s)} isolates reported`);
  assert.ok(heap(s) > 100_000, `heap reported: ${heap(s)} bytes`);
});

test(`a function keeps the series of at most ${MAX_VERSIONS_PER_FUNCTION} versions, the newest`, async () => {
  const ids: string[] = [];
  for (let i = 0; i < MAX_VERSIONS_PER_FUNCTION + 3; i++) {
    ids.push(await deploy(p, 'metrics', 'churn', `export default async () => ${i}`));
    assert.equal((await invoke(p, 'metrics', 'churn')).body, i);
  }
  const versions = new Set((await scrape()).filter((x) => x.name === 'faas_invocations_total' && x.labels.function === 'churn').map((x) => x.labels.version));
  assert.equal(versions.size, MAX_VERSIONS_PER_FUNCTION);
  assert.ok(versions.has(ids.at(-1) as string), 'the newest version has its series');
  assert.ok(!versions.has(ids[0] as string), 'the oldest was dropped');
});

test('ctx.metrics samples are exported per app with the app label; malformed ones are dropped with a log line', async () => {
  const code = `export default async (req, ctx) => {
    ctx.metrics.counter('gifts_total', 5, { room: 'r1' });
    ctx.metrics.counter('gifts_total');
    ctx.metrics.gauge('viewers', 42);
    ctx.metrics.histogram('gift_size', 0.3);
    ctx.metrics.counter('Bad-Name', 1);
    ctx.metrics.counter('negative', -1);
    return 'ok';
  }`;
  await deploy(p, 'metrics', 'business', code);
  await deploy(p, 'metrics-b', 'business', code.replace("'gifts_total', 5", "'gifts_total', 7"));
  for (let i = 0; i < 2; i++) assert.equal((await invoke(p, 'metrics', 'business')).status, 200);
  const r = await invoke(p, 'metrics-b', 'business', '/', { headers: { 'x-request-id': 'biz-b-1' } });
  assert.equal(r.status, 200);
  const s = await scrape();
  assert.equal(value(s, 'faas_app_metrics_gifts_total', { app: 'metrics', room: 'r1' }), 10);
  assert.equal(value(s, 'faas_app_metrics_gifts_total', { app: 'metrics' }) !== undefined, true);
  assert.equal(value(s, 'faas_app_metrics_viewers', { app: 'metrics' }), 42);
  assert.equal(value(s, 'faas_app_metrics_gift_size_count', { app: 'metrics' }), 2);
  assert.equal(value(s, 'faas_app_metrics_b_gifts_total', { app: 'metrics-b', room: 'r1' }), 7, 'another app\'s family of the same name is its own');
  assert.ok(!s.some((x) => /bad|negative/i.test(x.name)));
  const logs = await call(`${p.url}/api/apps/metrics-b/functions/business/logs?requestId=biz-b-1`, { headers: { authorization: `Bearer ${p.apiKey}` } });
  assert.match(JSON.stringify(logs.body), /ctx\.metrics: 2 sample\(s\) were malformed/);
});

test('ctx.metrics series are capped per app and the overflow is counted', async () => {
  await deploy(p, 'metrics-cap', 'many', `export default async (req, ctx) => {
    const base = Number(req.query.base);
    for (let i = 0; i < 600; i++) ctx.metrics.counter('hits_total', 1, { player: String(base + i) });
    return 'ok';
  }`);
  assert.equal((await invoke(p, 'metrics-cap', 'many', '/?base=0')).status, 200);
  assert.equal((await invoke(p, 'metrics-cap', 'many', '/?base=600')).status, 200);
  const s = await scrape();
  assert.equal(s.filter((x) => x.name === 'faas_app_metrics_cap_hits_total').length, 1000);
  assert.equal(value(s, 'faas_app_metrics_dropped_total', { app: 'metrics-cap', reason: 'series' }), 200);
});

test('Node.js metrics come from the gateway and from every worker process, labelled by process', async () => {
  let s: Sample[] = [];
  const deadline = Date.now() + 5000;
  // Workers send their metrics every 2 s.
  while (Date.now() < deadline) {
    s = await scrape();
    if (['0', '1'].every((w) => value(s, 'nodejs_heap_size_used_bytes', { process: 'worker', worker: w }) !== undefined)) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const processes: Record<string, string>[] = [{ process: 'gateway' }, { process: 'worker', worker: '0' }, { process: 'worker', worker: '1' }];
  for (const labels of processes) {
    assert.ok((value(s, 'nodejs_heap_size_used_bytes', labels) ?? 0) > 0, `heap of ${JSON.stringify(labels)}`);
    assert.ok(value(s, 'nodejs_eventloop_lag_p99_seconds', labels) !== undefined, `event loop lag of ${JSON.stringify(labels)}`);
    assert.ok((value(s, 'process_resident_memory_bytes', labels) ?? 0) > 0, `RSS of ${JSON.stringify(labels)}`);
    assert.ok((value(s, 'process_start_time_seconds', labels) ?? 0) > 0, `start time of ${JSON.stringify(labels)}`);
  }
  const pids = new Set(p.platform.supervisor.workers().map((w) => w.pid));
  assert.equal(pids.size, 2);
  // Different processes: a worker's series are its own, not a copy of the gateway's (whose RSS,
  // with the control plane and fastify loaded, is not a worker's).
  const rss = processes.map((labels) => value(s, 'process_resident_memory_bytes', labels));
  assert.notEqual(rss[1], rss[0], `worker 0's RSS is its own: ${rss.join(', ')}`);
  assert.notEqual(rss[2], rss[0], `worker 1's RSS is its own: ${rss.join(', ')}`);
  // The gateway's own families are unchanged by the merge.
  assert.ok((value(s, 'faas_workers_up', {}) ?? 0) >= 1);
});

test('the control plane\'s API requests and change events are counted in faas all, by route template', async () => {
  await deploy(p, 'metrics', 'cp-counted', 'export default () => 1');
  await deploy(p, 'metrics', 'cp-counted', 'export default () => 2');
  await call(`${p.url}/api/apps/metrics/functions/nope-${Date.now()}/versions`, { headers: { authorization: `Bearer ${p.apiKey}` } });
  await call(`${p.url}/api/no/such/route/${Date.now()}`, { headers: { authorization: `Bearer ${p.apiKey}` } });
  const s = await scrape();
  assert.ok((value(s, 'faas_control_plane_http_requests_total', { route: '/api/apps/:app/functions/:fn/deploy', method: 'POST', status: '2xx' }) ?? 0) >= 1);
  assert.ok((value(s, 'faas_control_plane_http_requests_total', { route: '/api/apps/:app/functions/:fn/versions', method: 'GET', status: '4xx' }) ?? 0) >= 1);
  assert.ok((value(s, 'faas_control_plane_http_requests_total', { route: '(unmatched)', method: 'GET', status: '4xx' }) ?? 0) >= 1);
  assert.ok(!s.some((x) => x.name.startsWith('faas_control_plane_http') && /nope-|no\/such/.test(x.labels.route ?? '')), 'request paths never become label values');
  assert.ok((value(s, 'faas_control_plane_changes_total', { kind: 'alias' }) ?? 0) >= 1, 'the deploy moved prod');
  assert.ok(!s.some((x) => x.name.startsWith('faas_control_plane_http') && x.labels.route === '/fn/:app/:fn'), 'gateway requests are not API requests');
});
