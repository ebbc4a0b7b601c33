import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { api, deploy, invoke } from '../support/http.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

/** A span as OTLP/HTTP JSON carries it (the fields these tests read). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: string | number; boolValue?: boolean } }>;
}

const spans: OtlpSpan[] = [];
let receiver: Server;
/** A loopback upstream for ctx.fetch that keeps the traceparent of every request. */
let upstream: Server;
let upstreamPort = 0;
const upstreamTraceparents: string[] = [];
let p: TestPlatform;

before(async () => {
  // A loopback OTLP/HTTP endpoint that keeps every span it receives.
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
      if (req.url === '/v1/traces') {
        const parsed = JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
        for (const rs of parsed.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  upstream = createServer((req, res) => {
    upstreamTraceparents.push(String(req.headers.traceparent ?? ''));
    res.writeHead(200, { 'content-type': 'text/plain' }).end('pong');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const up = upstream.address();
  upstreamPort = typeof up === 'object' && up !== null ? up.port : 0;
  p = await startPlatform({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, FAAS_FETCH_ALLOW_ADDRESSES: `127.0.0.1:${upstreamPort}` } });
});
after(async () => {
  await p?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
  await new Promise((resolve) => upstream?.close(resolve));
});

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? v?.boolValue ?? (v?.intValue === undefined ? undefined : Number(v.intValue));
};
async function spansOf(traceId: string, atLeast: number): Promise<OtlpSpan[]> {
  for (let i = 0; i < 50; i++) {
    const found = spans.filter((s) => s.traceId === traceId);
    if (found.length >= atLeast) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  return spans.filter((s) => s.traceId === traceId);
}

test('an invocation is a server span under the caller\'s traceparent, with the cold start and each builtin call as children', async () => {
  await deploy(p, 'traced', 'counter', `export default async (req, ctx) => { await ctx.redis.incr('n'); await ctx.redis.get('n'); ctx.log.info('counted'); return 'ok' }`);
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const callerSpan = '00f067aa0ba902b7';
  const r = await invoke(p, 'traced', 'counter', '/', { headers: { traceparent: `00-${traceId}-${callerSpan}-01`, 'x-request-id': 'trace-req-1' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-faas-trace-id'), traceId);

  const got = await spansOf(traceId, 4);
  const root = got.find((s) => s.name === 'invoke traced/counter');
  assert.ok(root, `no invocation span among ${got.map((s) => s.name).join(', ')}`);
  assert.equal(root.parentSpanId, callerSpan);
  assert.equal(root.kind, 2, 'SERVER');
  assert.equal(attr(root, 'faas.app'), 'traced');
  assert.equal(attr(root, 'faas.function'), 'counter');
  assert.equal(attr(root, 'faas.request_id'), 'trace-req-1');
  assert.equal(attr(root, 'faas.coldstart'), true);
  assert.equal(attr(root, 'http.response.status_code'), 200);

  const children = got.filter((s) => s.parentSpanId === root.spanId);
  assert.deepEqual(children.map((s) => s.name).sort(), ['cold start', 'redis get', 'redis incr']);
  const incr = children.find((s) => s.name === 'redis incr') as OtlpSpan;
  assert.equal(incr.kind, 3, 'CLIENT');
  assert.equal(attr(incr, 'faas.builtin'), 'redis');
  assert.equal(attr(incr, 'faas.operation'), 'incr');
  assert.equal(attr(incr, 'faas.outcome'), 'ok');
  assert.equal(attr(incr, 'faas.app'), 'traced');

  const logs = await api(p, '/apps/traced/functions/counter/logs?requestId=trace-req-1');
  assert.equal((logs.body as { lines: Array<{ traceId?: string }> }).lines[0]?.traceId, traceId, 'log lines carry the trace id');
});

test('without a traceparent an invocation starts its own trace; a failed builtin call is an error span', async () => {
  await deploy(p, 'traced', 'failing', `export default async (req, ctx) => { await ctx.redis.set('s', 'x'); try { await ctx.redis.incr('s'); } catch { } return 'ok' }`);
  const r = await invoke(p, 'traced', 'failing');
  const traceId = r.headers.get('x-faas-trace-id') ?? '';
  assert.match(traceId, /^[0-9a-f]{32}$/);
  const got = await spansOf(traceId, 4);
  const root = got.find((s) => s.name === 'invoke traced/failing') as OtlpSpan;
  assert.ok(root);
  assert.equal(root.parentSpanId ?? '', '');
  const incr = got.find((s) => s.name === 'redis incr') as OtlpSpan & { status?: { code?: number } };
  assert.equal(attr(incr, 'faas.outcome'), 'error');
  assert.equal(attr(incr, 'faas.error.code'), 'E_REDIS_ERROR');
  assert.equal(incr.status?.code, 2, 'STATUS_CODE_ERROR');
});

test('traceparent is propagated on the way out: ctx.rpc.call continues the trace in the callee, ctx.fetch sends it upstream', async () => {
  const settings = await api(p, '/apps/traced/settings', { method: 'PUT', body: { fetchAllowlist: ['127.0.0.1'] } });
  assert.ok(settings.status < 300, JSON.stringify(settings.body));
  await deploy(p, 'traced', 'callee', `export default async () => 'callee'`);
  await deploy(p, 'traced', 'caller', `export default async (req, ctx) => {
    const viaRpc = await ctx.rpc.call('callee', {});
    const res = await ctx.fetch('http://127.0.0.1:${upstreamPort}/ping');
    return { viaRpc, viaFetch: await res.text() };
  }`);
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const r = await invoke(p, 'traced', 'caller', '/', { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { viaRpc: 'callee', viaFetch: 'pong' });

  const got = await spansOf(traceId, 5);
  const root = got.find((s) => s.name === 'invoke traced/caller');
  assert.ok(root, `no caller span among ${got.map((s) => s.name).join(', ')}`);
  const rpcSpan = got.find((s) => s.name.startsWith('rpc ') && s.parentSpanId === root.spanId);
  assert.ok(rpcSpan, `no rpc span under the caller: ${got.map((s) => `${s.name}<-${s.parentSpanId}`).join(', ')}`);
  const callee = got.find((s) => s.name === 'invoke traced/callee');
  assert.ok(callee, 'the callee\'s invocation is in the same trace');
  assert.ok(callee.parentSpanId === rpcSpan.spanId || callee.parentSpanId === root.spanId, `the callee continues the caller's trace under its rpc span (parent ${callee.parentSpanId})`);
  const fetchSpan = got.find((s) => s.name.startsWith('fetch ') && s.parentSpanId === root.spanId);
  assert.ok(fetchSpan, 'a fetch span under the caller');
  const sent = upstreamTraceparents.at(-1) ?? '';
  assert.match(sent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`), `the upstream got the trace: ${sent}`);
  assert.notEqual(sent.split('-')[2], 'b7ad6b7169203331', 'the upstream gets a span of ours, not the caller\'s');
  // The upstream's parent is the invocation's span (the traceparent is added to the request before the fetch span starts).
  assert.equal(sent.split('-')[2], root.spanId, 'the invocation\'s span is the upstream\'s parent');
});
