/**
 * The control plane's gRPC server and the runtime's RemoteControlPlane, against a real control
 * plane on a temporary SQLite store, over loopback. Network blips are made with a TCP proxy the
 * test can cut; control-plane restarts by closing the server and starting a new one on its port.
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { LogShipper } from '../../runtime/remote/log-shipper.ts';
import { RemoteControlPlane } from '../../runtime/remote/control-plane-client.ts';
import { isPlatformError } from '../../runtime/errors.ts';
import { createControlPlane } from '../core/control-plane.ts';
import { defaultLimits } from '../core/limits.ts';
import type { Actor, ChangeEvent, ControlPlane, LogLine, RuntimeControlPlane } from '../core/types.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { ChangeFeed } from './change-feed.ts';
import { limitsFromWire, limitsToWire, methodDefinition, UNARY_METHODS, type MethodName, type WireChangeEvent } from './proto.ts';
import { startControlPlaneGrpc, type ControlPlaneGrpcServer } from './server.ts';
import { controlPlaneToken, runtimeToken } from './token.ts';

const admin: Actor = { keyId: 'key_test', name: 'tester', role: 'admin', apps: '*' };
const TOKEN = 'test-token-0123456789abcdef';

function handler(n: number | string): string {
  return `export default async function handler(req, ctx) {\n  return { n: ${JSON.stringify(n)} };\n}\n`;
}

/** The real control plane, with a count of the runtime-side calls that reach it. */
function counted(cp: ControlPlane): { source: RuntimeControlPlane; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const count = (name: string) => { calls[name] = (calls[name] ?? 0) + 1; };
  return {
    calls,
    source: {
      resolve: (...a) => { count('resolve'); return cp.resolve(...a); },
      getVersion: (...a) => { count('getVersion'); return cp.getVersion(...a); },
      appendLogs: (...a) => { count('appendLogs'); return cp.appendLogs(...a); },
      getFunctionConfig: (...a) => { count('getFunctionConfig'); return cp.getFunctionConfig(...a); },
      getAppSettings: (...a) => { count('getAppSettings'); return cp.getAppSettings(...a); },
      getSigningKeys: (...a) => { count('getSigningKeys'); return cp.getSigningKeys(...a); },
      onChange: (listener) => cp.onChange(listener),
    },
  };
}

/** A loopback TCP proxy whose connections the test can cut (a network blip without a restart). */
class Proxy {
  readonly #target: number;
  readonly #sockets = new Set<Socket>();
  #server: Server | null = null;
  port = 0;

  constructor(target: number) {
    this.#target = target;
  }

  async open(port = 0): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.#target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.#server = server;
    const address = server.address();
    this.port = typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** Refuse new connections and cut the open ones. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A raw call of one method, as a client without our RemoteControlPlane would make it. */
function rawCall(port: number, method: MethodName, request: object, authorization?: string): Promise<{ code: grpc.status; messages: unknown[] }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const def = methodDefinition(method) as unknown as grpc.MethodDefinition<object, unknown>;
  const metadata = new grpc.Metadata();
  if (authorization !== undefined) metadata.set('authorization', authorization);
  const deadline = Date.now() + 3_000;
  return new Promise((resolve) => {
    const done = (code: grpc.status, messages: unknown[]) => {
      client.close();
      resolve({ code, messages });
    };
    if (method === 'WatchDeploys') {
      const messages: unknown[] = [];
      const call = client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, request, metadata, { deadline });
      call.on('data', (m) => {
        messages.push(m);
        call.cancel(); // one message is all these tests look at
      });
      call.on('error', (err: grpc.ServiceError) => done(messages.length > 0 ? grpc.status.OK : err.code, messages));
      call.on('status', (s: grpc.StatusObject) => { if (s.code === grpc.status.OK) done(s.code, messages); });
      return;
    }
    client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, metadata, { deadline }, (err, value) => {
      done(err ? err.code : grpc.status.OK, err ? [] : [value]);
    });
  });
}

describe('control plane over gRPC', () => {
  let dir: string;
  let store: Store;
  let cp: ControlPlane;
  let calls: Record<string, number>;
  let source: RuntimeControlPlane;
  let server: ControlPlaneGrpcServer;
  const clients: RemoteControlPlane[] = [];

  const client = (port = server.port, extra: Partial<ConstructorParameters<typeof RemoteControlPlane>[0]> = {}) => {
    const c = new RemoteControlPlane({ target: `127.0.0.1:${port}`, token: TOKEN, reconnectInitialMs: 20, reconnectMaxMs: 100, deadlineMs: 1_000, ...extra });
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'faas-grpc-'));
    store = await openStore({ dataDir: dir });
    cp = createControlPlane({ store });
    ({ source, calls } = counted(cp));
    server = await startControlPlaneGrpc({ controlPlane: source, port: 0, token: TOKEN, appExists: async (app) => (await store.getApp(app)) !== null });
  });

  after(async () => {
    for (const c of clients) await c.close();
    await server?.close();
    await cp?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('every RPC, the stream included, answers UNAUTHENTICATED and nothing else without the token or with a wrong one', async () => {
    await cp.deploy(admin, { app: 'a', function: 'f', code: handler('a') });
    const before = { ...calls };
    const requests: Record<MethodName, object> = {
      GetVersion: { app: 'a', function: 'f', version_id: '0'.repeat(20) },
      ResolveAlias: { app: 'a', function: 'f', alias: 'prod' },
      GetFunctionConfig: { app: 'a', function: 'f' },
      GetAppSettings: { app: 'a' },
      GetSigningKeys: { app: 'a' },
      AppExists: { app: 'a' },
      AppendLogs: { lines: [{ app: 'a', function: 'f', version_id: 'v', request_id: 'r', level: 'info', message: 'forged', time_ms: 1, trace_id: '' }] },
      WatchDeploys: { epoch: '', from_sequence: 0 },
    };
    assert.deepEqual(Object.keys(requests).sort(), [...UNARY_METHODS, 'WatchDeploys'].sort(), 'every method of the service is tried');
    for (const [method, request] of Object.entries(requests) as Array<[MethodName, object]>) {
      for (const authorization of [undefined, 'Bearer wrong-token-0123456789', TOKEN, `Bearer ${TOKEN}x`, `bearer ${TOKEN}`]) {
        const { code, messages } = await rawCall(server.port, method, request, authorization);
        assert.equal(code, grpc.status.UNAUTHENTICATED, `${method} with ${JSON.stringify(authorization)}`);
        assert.deepEqual(messages, [], `${method} sent nothing`);
      }
    }
    assert.deepEqual(calls, before, 'no handler reached the control plane');
    assert.deepEqual(await cp.readLogs(admin, 'a', 'f', {}), [], 'the forged log line was not stored');
  });

  it('GetVersion and ResolveAlias return what the control plane has, canary and auth included; unknown names answer null', async () => {
    const v1 = await cp.deploy(admin, { app: 'game1', function: 'follow', code: handler(1), limits: { cpuTimeMs: 150 }, auth: 'required' });
    const v2 = await cp.deploy(admin, { app: 'game1', function: 'follow', code: handler(2), alias: 'next' });
    await cp.setAlias(admin, 'game1', 'follow', 'prod', v1.version.id, { canary: { versionId: v2.version.id, weight: 10 } });
    const c = client();
    assert.deepEqual(await c.getVersion('game1', 'follow', v1.version.id), await cp.getVersion('game1', 'follow', v1.version.id));
    const resolved = await c.resolve('game1', 'follow', 'prod');
    assert.deepEqual(resolved, await cp.resolve('game1', 'follow', 'prod'));
    assert.equal(resolved?.auth, 'required');
    assert.equal(resolved?.limits.cpuTimeMs, 150);
    assert.equal(resolved?.canary?.versionId, v2.version.id);
    assert.equal(resolved?.canary?.weight, 10);
    assert.equal(await c.resolve('game1', 'follow', 'nope'), null);
    assert.equal(await c.resolve('game1', 'nope', 'prod'), null);
    assert.equal(await c.getVersion('game1', 'follow', 'f'.repeat(20)), null);
    assert.equal(await c.getVersion('game2', 'follow', v1.version.id), null, 'a version id is not readable through another app');
    assert.equal(await c.appExists('game1'), true);
    assert.equal(await c.appExists('no-such-app'), false);
  });

  it('config, secrets, app settings and signing keys arrive as the control plane gives them to runtimes', async () => {
    await cp.deploy(admin, { app: 'cfg', function: 'fn', code: handler('cfg') });
    await cp.setConfig(admin, 'cfg', 'fn', 'value', 'MODE', 'fast');
    await cp.setConfig(admin, 'cfg', 'fn', 'secret', 'API_KEY', 's3cr3t');
    await cp.updateAppSettings(admin, 'cfg', { fetchAllowlist: ['api.example.com', '*.cdn.example.com'] });
    const c = client();
    assert.deepEqual(await c.getFunctionConfig('cfg', 'fn'), { values: { MODE: 'fast' }, secrets: { API_KEY: 's3cr3t' } });
    assert.deepEqual(await c.getAppSettings('cfg'), await cp.getAppSettings('cfg'));
    const keys = await c.getSigningKeys('cfg');
    assert.equal(keys.length, 1);
    assert.deepEqual(keys, await cp.getSigningKeys('cfg'));
  });

  it('WatchDeploys delivers an alias move, and the next resolve returns the new version', async () => {
    const a = await cp.deploy(admin, { app: 'watch', function: 'fn', code: handler('a') });
    const c = client();
    c.start();
    assert.equal(await c.waitUntilConnected(5_000), true);
    assert.equal((await c.resolve('watch', 'fn', 'prod'))?.versionId, a.version.id);
    const events: ChangeEvent[] = [];
    c.onChange((e) => events.push(e));
    const b = await cp.deploy(admin, { app: 'watch', function: 'fn', code: handler('b') });
    await until('the alias event', () => events.some((e) => e.kind === 'alias' && e.versionId === b.version.id));
    assert.deepEqual(events[0], { kind: 'alias', app: 'watch', function: 'fn', alias: 'prod', versionId: b.version.id });
    assert.equal((await c.resolve('watch', 'fn', 'prod'))?.versionId, b.version.id);
    await cp.setConfig(admin, 'watch', 'fn', 'value', 'X', '1');
    await until('the config event', () => events.some((e) => e.kind === 'config'));
    assert.equal(c.status().connected, true);
    assert.ok(c.status().lastEventAt !== null);
    const open = server.streams();
    await c.close();
    await until('the server to forget the closed stream', () => server.streams() === open - 1);
  });

  it('a runtime cut off from the control plane catches up on the events it missed, in order, when it reconnects', async () => {
    const a = await cp.deploy(admin, { app: 'blip', function: 'fn', code: handler('a') });
    const proxy = new Proxy(server.port);
    await proxy.open();
    const c = client(proxy.port);
    c.start();
    assert.equal(await c.waitUntilConnected(5_000), true);
    assert.equal((await c.resolve('blip', 'fn', 'prod'))?.versionId, a.version.id);
    const events: ChangeEvent[] = [];
    c.onChange((e) => events.push(e));

    const port = proxy.port;
    await proxy.cut();
    await until('the disconnect', () => !c.status().connected);
    const b = await cp.deploy(admin, { app: 'blip', function: 'fn', code: handler('b') });
    await cp.setConfig(admin, 'blip', 'fn', 'value', 'K', 'v');
    assert.deepEqual(events, [], 'nothing arrives while cut off');
    assert.equal((await c.resolve('blip', 'fn', 'prod'))?.versionId, a.version.id, 'while cut off, the cached resolution is served');

    await proxy.open(port);
    await until('the catch-up', () => events.length === 2, 10_000);
    assert.deepEqual(events, [
      { kind: 'alias', app: 'blip', function: 'fn', alias: 'prod', versionId: b.version.id },
      { kind: 'config', app: 'blip', function: 'fn' },
    ]);
    assert.equal(c.status().resets, 0, 'resumed, not reset');
    assert.equal(c.status().lastSequence, server.feed.lastSequence);
    assert.equal((await c.resolve('blip', 'fn', 'prod'))?.versionId, b.version.id);
    await proxy.cut();
  });

  it('a runtime whose position left the ring is told to reset, and re-resolves every alias it serves', async () => {
    const small = await startControlPlaneGrpc({ controlPlane: source, port: 0, token: TOKEN, ringSize: 2 });
    try {
      const a = await cp.deploy(admin, { app: 'far', function: 'fn', code: handler('a') });
      const b = await cp.deploy(admin, { app: 'far', function: 'fn', code: handler('b'), alias: 'other' });
      const proxy = new Proxy(small.port);
      await proxy.open();
      const c = client(proxy.port);
      c.start();
      assert.equal(await c.waitUntilConnected(5_000), true);
      assert.equal((await c.resolve('far', 'fn', 'prod'))?.versionId, a.version.id);
      const events: ChangeEvent[] = [];
      c.onChange((e) => events.push(e));
      const port = proxy.port;
      await proxy.cut();
      await until('the disconnect', () => !c.status().connected);
      for (const id of [b.version.id, a.version.id, b.version.id]) await cp.setAlias(admin, 'far', 'fn', 'prod', id);
      await proxy.open(port);
      await until('the reset', () => c.status().resets === 1, 10_000);
      await until('the re-resolved alias', () => events.some((e) => e.kind === 'alias'));
      assert.deepEqual(events.filter((e) => e.kind === 'alias'), [{ kind: 'alias', app: 'far', function: 'fn', alias: 'prod', versionId: b.version.id }]);
      assert.equal((await c.resolve('far', 'fn', 'prod'))?.versionId, b.version.id);
      await proxy.cut();
    } finally {
      await small.close();
    }
  });

  it('N concurrent misses for one version or one alias make one RPC each (single-flight, counted on the server)', async () => {
    const v = await cp.deploy(admin, { app: 'flight', function: 'fn', code: handler('x') });
    const c = client();
    const before = { getVersion: calls.getVersion ?? 0, resolve: calls.resolve ?? 0 };
    const versions = await Promise.all(Array.from({ length: 50 }, () => c.getVersion('flight', 'fn', v.version.id)));
    const targets = await Promise.all(Array.from({ length: 50 }, () => c.resolve('flight', 'fn', 'prod')));
    assert.ok(versions.every((x) => x?.id === v.version.id));
    assert.ok(targets.every((x) => x?.versionId === v.version.id));
    assert.equal((calls.getVersion ?? 0) - before.getVersion, 1);
    assert.equal((calls.resolve ?? 0) - before.resolve, 1);
    await c.getVersion('flight', 'fn', v.version.id);
    assert.equal((calls.getVersion ?? 0) - before.getVersion, 1, 'a cached version needs no call');
  });

  it('the version cache is bounded by code bytes: past the bound, the least recently used version is fetched again', async () => {
    const ids: string[] = [];
    for (const label of ['a', 'b', 'c']) ids.push((await cp.deploy(admin, { app: 'lru', function: 'fn', code: handler(label.repeat(1000)) })).version.id);
    const size = Buffer.byteLength(handler('a'.repeat(1000)));
    const c = client(server.port, { versionCacheBytes: size * 2 });
    const count = () => calls.getVersion ?? 0;
    const start = count();
    for (const id of ids) await c.getVersion('lru', 'fn', id); // a, b, then c evicts a
    assert.equal(count() - start, 3);
    assert.equal(c.status().cache.versions, 2);
    assert.ok(c.status().cache.versionBytes <= size * 2);
    await c.getVersion('lru', 'fn', ids[2]);
    assert.equal(count() - start, 3, 'c is cached');
    await c.getVersion('lru', 'fn', ids[0]);
    assert.equal(count() - start, 4, 'a was evicted and is fetched again');
  });

  it('with the control plane stopped, cached versions, resolutions and config keep being served; uncached ones fail with E_CONTROL_PLANE_UNAVAILABLE; a restart resets the stream', async () => {
    const own = await startControlPlaneGrpc({ controlPlane: source, port: 0, token: TOKEN });
    const port = own.port;
    const v = await cp.deploy(admin, { app: 'outage', function: 'fn', code: handler('cached') });
    await cp.setConfig(admin, 'outage', 'fn', 'value', 'A', '1');
    const c = client(port);
    c.start();
    assert.equal(await c.waitUntilConnected(5_000), true);
    const version = await c.getVersion('outage', 'fn', v.version.id);
    const target = await c.resolve('outage', 'fn', 'prod');
    const config = await c.getFunctionConfig('outage', 'fn');

    await own.close();
    await until('the disconnect', () => !c.status().connected);
    for (let i = 0; i < 20; i++) {
      assert.deepEqual(await c.getVersion('outage', 'fn', v.version.id), version);
      assert.deepEqual(await c.resolve('outage', 'fn', 'prod'), target);
      assert.deepEqual(await c.getFunctionConfig('outage', 'fn'), config);
    }
    await assert.rejects(c.resolve('outage', 'other', 'prod'), (err: unknown) => isPlatformError(err) && err.code === 'E_CONTROL_PLANE_UNAVAILABLE' && err.status === 503);
    await assert.rejects(c.getVersion('outage', 'fn', 'e'.repeat(20)), (err: unknown) => isPlatformError(err) && err.code === 'E_CONTROL_PLANE_UNAVAILABLE');
    assert.equal(c.status().everConnected, true);

    const restarted = await startControlPlaneGrpc({ controlPlane: source, port, token: TOKEN });
    try {
      await until('the reconnect', () => c.status().connected, 10_000);
      assert.equal(c.status().resets, 1, 'a new epoch means a reset');
      assert.equal(c.status().epoch, restarted.feed.epoch);
    } finally {
      await restarted.close();
    }
  });

  it('log lines are shipped in batches to the control plane\'s ring', async () => {
    await cp.deploy(admin, { app: 'logs', function: 'fn', code: handler('l') });
    const c = client(server.port, { logs: { batchLines: 10, flushIntervalMs: 20 } });
    const lines: LogLine[] = Array.from({ length: 25 }, (_, i) => ({ app: 'logs', function: 'fn', versionId: 'v', requestId: `r${i}`, level: 'info', message: `line ${i}`, time: Date.now() }));
    const before = calls.appendLogs ?? 0;
    await c.appendLogs(lines);
    await until('the lines', async () => (await cp.readLogs(admin, 'logs', 'fn', {})).length === 25);
    assert.deepEqual((await cp.readLogs(admin, 'logs', 'fn', {})).map((l) => l.message), lines.map((l) => l.message));
    assert.equal((calls.appendLogs ?? 0) - before, 3, '25 lines in batches of 10');
    // The last AppendLogs reply may still be on its way back when the lines are readable.
    await until('the client counts them sent', async () => c.status().logs.sent === 25);
    assert.deepEqual(c.status().logs, { buffered: 0, sent: 25, dropped: 0 });
  });

  it('AppendLogs refuses a malformed line, and an oversized batch, with INVALID_ARGUMENT', async () => {
    const bad = { app: 'logs', function: 'fn', version_id: 'v', request_id: 'r', level: 'shout', message: 'x', time_ms: 1, trace_id: '' };
    assert.equal((await rawCall(server.port, 'AppendLogs', { lines: [bad] }, `Bearer ${TOKEN}`)).code, grpc.status.INVALID_ARGUMENT);
    const many = Array.from({ length: 5001 }, () => ({ ...bad, level: 'info' }));
    assert.equal((await rawCall(server.port, 'AppendLogs', { lines: many }, `Bearer ${TOKEN}`)).code, grpc.status.INVALID_ARGUMENT);
  });

  it('a fresh WatchDeploys stream starts with hello at the current sequence', async () => {
    const { messages } = await rawCall(server.port, 'WatchDeploys', { epoch: '', from_sequence: 0 }, `Bearer ${TOKEN}`);
    const first = messages[0] as WireChangeEvent;
    assert.equal(first.event, 'hello');
    assert.equal(first.hello?.resumed, false);
    assert.equal(first.epoch, server.feed.epoch);
    assert.equal(first.sequence, server.feed.lastSequence);
  });
});

describe('faas all', () => {
  it('also serves gRPC for runtimes when FAAS_GRPC_PORT is set', async () => {
    const { startPlatform } = await import('../../test/support/platform.ts');
    const p = await startPlatform({ env: { FAAS_GRPC_PORT: '0', FAAS_GRPC_TOKEN: TOKEN, FAAS_WORKERS: '1', FAAS_DEPLOY_SAMPLES: '0' } });
    const c = new RemoteControlPlane({ target: `127.0.0.1:${p.platform.grpc?.port}`, token: TOKEN });
    try {
      const deployed = await p.platform.controlPlane.deploy(admin, { app: 'all', function: 'fn', code: handler('all') });
      c.start();
      assert.equal(await c.waitUntilConnected(5_000), true);
      assert.equal((await c.resolve('all', 'fn', 'prod'))?.versionId, deployed.version.id);
      const served = await fetch(`${p.url}/fn/all/fn`);
      assert.equal(served.headers.get('x-faas-version'), deployed.version.id);
    } finally {
      await c.close();
      await p.stop();
    }
  });
});

describe('bounds and bad input', () => {
  it('log lines for an unreachable control plane are dropped and counted, never buffered past the bound', async () => {
    let attempts = 0;
    const shipper = new LogShipper(async () => { attempts++; throw new Error('down'); }, { maxBufferedLines: 100, batchLines: 50, flushIntervalMs: 10_000 });
    const line: LogLine = { app: 'a', function: 'f', versionId: 'v', requestId: 'r', level: 'info', message: 'm', time: 0 };
    shipper.push(Array.from({ length: 250 }, () => line));
    assert.ok(shipper.stats().buffered <= 100);
    await shipper.flush();
    assert.deepEqual(shipper.stats(), { buffered: 0, sent: 0, dropped: 250 });
    assert.ok(attempts >= 2);
    await shipper.close();
    shipper.push([line]);
    assert.equal(shipper.stats().dropped, 251, 'after close, lines are dropped');
  });

  it('the change feed resumes inside its ring and refuses positions outside it', () => {
    const feed = new ChangeFeed(3);
    for (let i = 0; i < 5; i++) feed.publish({ kind: 'settings', app: `a${i}` });
    assert.deepEqual(feed.since(feed.epoch, 2)?.map((e) => e.sequence), [3, 4, 5]);
    assert.deepEqual(feed.since(feed.epoch, 5), []);
    assert.equal(feed.since(feed.epoch, 1), null, 'event 2 left the ring');
    assert.equal(feed.since(feed.epoch, 6), null, 'never reached');
    assert.equal(feed.since('another-epoch', 4), null);
    assert.throws(() => new ChangeFeed(0), /capacity/);
  });

  it('limits survive the wire with every field', () => {
    const limits = { ...defaultLimits(), cpuTimeMs: 123, maxBodyBytes: 32 * 1024 * 1024 };
    assert.deepEqual(limitsFromWire(limitsToWire(limits)), limits);
  });

  it('options are validated with a message saying what to fix', async () => {
    const store = { onChange: () => () => {} } as unknown as RuntimeControlPlane;
    await assert.rejects(startControlPlaneGrpc({ controlPlane: store, port: 0, token: 'short' }), /at least 16 characters/);
    await assert.rejects(startControlPlaneGrpc({ controlPlane: store, port: 70_000, token: TOKEN }), /port/);
    assert.throws(() => new RemoteControlPlane({ target: 'no-port', token: TOKEN }), /host:port/);
    assert.throws(() => new RemoteControlPlane({ target: '127.0.0.1:1', token: 'short' }), /FAAS_GRPC_TOKEN/);
    assert.throws(() => new RemoteControlPlane({ target: '127.0.0.1:1', token: TOKEN, deadlineMs: 0 }), /deadlineMs/);
  });

  it('a client with the wrong token is told so instead of waiting', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faas-grpc-auth-'));
    const store = await openStore({ dataDir: dir });
    const cp = createControlPlane({ store });
    const server = await startControlPlaneGrpc({ controlPlane: cp, port: 0, token: TOKEN });
    const c = new RemoteControlPlane({ target: `127.0.0.1:${server.port}`, token: 'another-token-0123456789' });
    try {
      c.start();
      await assert.rejects(c.waitUntilConnected(5_000), /refused this runtime's gRPC token/);
      await assert.rejects(c.resolve('a', 'f', 'prod'), (err: unknown) => isPlatformError(err) && /FAAS_GRPC_TOKEN/.test(err.message));
    } finally {
      await c.close();
      await server.close();
      await cp.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the control plane generates its token once into the data dir (0600), and honours FAAS_GRPC_TOKEN', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faas-grpc-token-'));
    try {
      const first = await controlPlaneToken(undefined, join(dir, 'data'));
      assert.equal(first.created, true);
      assert.ok(first.token.length >= 40);
      assert.equal((await stat(first.source)).mode & 0o777, 0o600);
      const again = await controlPlaneToken(undefined, join(dir, 'data'));
      assert.deepEqual([again.token, again.created], [first.token, false]);
      assert.equal((await controlPlaneToken(TOKEN, join(dir, 'data'))).token, TOKEN);
      await assert.rejects(controlPlaneToken('short', dir), /FAAS_GRPC_TOKEN must hold a token of at least 16/);

      await assert.rejects(runtimeToken({}), /set FAAS_GRPC_TOKEN/);
      const file = join(dir, 'token');
      await writeFile(file, `${TOKEN}\n`);
      assert.equal(await runtimeToken({ file }), TOKEN);
      assert.equal((await readFile(file, 'utf8')).trim(), TOKEN);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
