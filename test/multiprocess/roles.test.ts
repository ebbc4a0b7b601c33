/**
 * The roles as separate OS processes on loopback: one `faas control-plane` and two `faas runtime`,
 * started from the real binary (`cli/main.ts`). Deploys go through the control plane's REST API,
 * invocations through each runtime's gateway. Measured (reported with `t.diagnostic`, never
 * asserted beyond the 1 s bound): how long an alias move takes to reach every runtime, and
 * the cold fetch time of a version over gRPC.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RemoteControlPlane } from '../../runtime/remote/control-plane-client.ts';
import { freePort } from '../support/free-port.ts';
import { call, type Answer } from '../support/http.ts';
import { duplicateFamilies, parseExposition, sampleValue } from '../support/prometheus-text.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const NODE = join(ROOT, 'node_modules/.bin/node');
const code = (label: string) => `export default async function handler(req, ctx) { return { label: ${JSON.stringify(label)}, version: ctx.version }; }`;

/** One role process with its output kept for failure messages. */
class RoleProcess {
  readonly name: string;
  readonly #args: string[];
  readonly #env: Record<string, string>;
  #child: ChildProcess | null = null;
  output = '';

  constructor(name: string, role: string, env: Record<string, string>) {
    this.name = name;
    this.#args = ['--no-node-snapshot', join(ROOT, 'cli/main.ts'), role];
    this.#env = env;
  }

  start(): void {
    const child = spawn(NODE, this.#args, { cwd: ROOT, env: { ...process.env, ...this.#env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => { this.output += chunk.toString(); });
    child.stderr?.on('data', (chunk: Buffer) => { this.output += chunk.toString(); });
    this.#child = child;
  }

  get running(): boolean {
    return this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Send `signal` and wait for the exit (SIGKILL after 10 s). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (child === null || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

async function waitReady(proc: RoleProcess, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running) throw new Error(`${proc.name} exited:\n${proc.output}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${proc.name} not ready within ${timeoutMs} ms:\n${proc.output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('one control plane and two runtimes as separate processes', () => {
  let dir: string;
  let cpUrl: string;
  let grpcTarget: string;
  let apiKey: string;
  let cp: RoleProcess;
  const runtimes: Array<{ proc: RoleProcess; url: string }> = [];
  let cpEnv: Record<string, string>;
  let tokenFile: string;

  const api = (path: string, init: { method?: string; body?: unknown } = {}): Promise<Answer> =>
    call(`${cpUrl}/api${path}`, { ...init, headers: { authorization: `Bearer ${apiKey}` } });
  const deploy = async (fn: string, label: string): Promise<string> => {
    const r = await api(`/apps/mp/functions/${fn}/deploy`, { body: { code: code(label) } });
    assert.ok(r.status === 200 || r.status === 201, `deploy: ${r.status} ${JSON.stringify(r.body)}`);
    return (r.body as { version: { id: string } }).version.id;
  };
  const invoke = (url: string, fn: string) => call(`${url}/fn/mp/${fn}`);
  /** Poll every runtime until each serves `versionId` on `fn`; the ms from `since` until the last one did. */
  const untilAllServe = async (fn: string, versionId: string, since: number, timeoutMs: number): Promise<number[]> =>
    Promise.all(runtimes.map(async ({ url, proc }) => {
      for (;;) {
        const r = await invoke(url, fn);
        if (r.status === 200 && r.headers.get('x-faas-version') === versionId) return performance.now() - since;
        if (performance.now() - since > timeoutMs) throw new Error(`${proc.name} still serves ${r.headers.get('x-faas-version')} (${r.status}) after ${timeoutMs} ms:\n${proc.output}`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'faas-roles-'));
    const [cpPort, grpcPort, rt1, rt2] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    cpUrl = `http://127.0.0.1:${cpPort}`;
    grpcTarget = `127.0.0.1:${grpcPort}`;
    const common = { HOST: '127.0.0.1', FAAS_LOG_LEVEL: 'warn', FAAS_DEPLOY_SAMPLES: '0', FAAS_GRPC_TOKEN: '' };
    // No FAAS_GRPC_TOKEN: the control plane generates $FAAS_DATA_DIR/grpc.token, the runtimes read that file.
    cpEnv = { ...common, PORT: String(cpPort), FAAS_DATA_DIR: dir, FAAS_GRPC_PORT: String(grpcPort) };
    tokenFile = join(dir, 'grpc.token');
    cp = new RoleProcess('control plane', 'control-plane', cpEnv);
    cp.start();
    await waitReady(cp, cpUrl);
    apiKey = (await readFile(join(dir, 'admin.key'), 'utf8')).trim();
    for (const [i, port] of [rt1, rt2].entries()) {
      const proc = new RoleProcess(`runtime ${i + 1}`, 'runtime', { ...common, PORT: String(port), FAAS_CONTROL_PLANE_GRPC: grpcTarget, FAAS_GRPC_TOKEN_FILE: tokenFile, FAAS_WORKERS: '1', FAAS_GRPC_RECONNECT_MAX_MS: '500', FAAS_DATA_DIR: join(dir, `runtime-${i + 1}`) });
      proc.start();
      runtimes.push({ proc, url: `http://127.0.0.1:${port}` });
    }
    await Promise.all(runtimes.map(({ proc, url }) => waitReady(proc, url)));
  });

  after(async () => {
    await Promise.all([cp?.stop(), ...runtimes.map(({ proc }) => proc.stop())]);
    await rm(dir, { recursive: true, force: true });
  });

  test('a function deployed through the control plane answers on every runtime', async () => {
    const v1 = await deploy('hello', 'one');
    for (const { url } of runtimes) {
      const r = await invoke(url, 'hello');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body, { label: 'one', version: v1 });
    }
    const missing = await invoke(runtimes[0].url, 'nope');
    assert.equal(missing.status, 404);
    assert.equal((missing.body as { error: { code: string } }).error.code, 'E_FUNCTION_NOT_FOUND');
    const noApp = await call(`${runtimes[0].url}/fn/no-such-app/x`);
    assert.equal((noApp.body as { error: { code: string } }).error.code, 'E_APP_NOT_FOUND', 'the runtime asks the control plane whether the app exists');
  });

  test('/metrics on every role: the control plane counts API and gRPC calls and open streams; runtimes add their workers\' Node.js metrics', async () => {
    const scrape = async (url: string) => {
      const r = await fetch(`${url}/metrics`);
      assert.equal(r.status, 200);
      const text = await r.text();
      assert.deepEqual(duplicateFamilies(text), [], `${url}: every family once`);
      return parseExposition(text);
    };
    const cpSamples = await scrape(cpUrl);
    assert.ok((sampleValue(cpSamples, 'faas_control_plane_grpc_calls_total', { method: 'GetVersion', code: 'OK' }) ?? 0) >= 1, 'runtimes fetched code over gRPC');
    assert.ok((sampleValue(cpSamples, 'faas_control_plane_grpc_calls_total', { method: 'ResolveAlias', code: 'OK' }) ?? 0) >= 1);
    assert.equal(sampleValue(cpSamples, 'faas_control_plane_watch_streams', {}), 2, 'both runtimes watch the change feed');
    assert.ok((sampleValue(cpSamples, 'faas_control_plane_http_requests_total', { route: '/api/apps/:app/functions/:fn/deploy', method: 'POST', status: '2xx' }) ?? 0) >= 1);
    assert.ok((sampleValue(cpSamples, 'nodejs_heap_size_used_bytes', { process: 'control-plane' }) ?? 0) > 0);
    assert.ok(!cpSamples.some((x) => x.name === 'faas_invocations_total'), 'no gateway series on the control plane');
    // A call without the token is counted too.
    const before = sampleValue(cpSamples, 'faas_control_plane_grpc_calls_total', { method: 'AppExists', code: 'UNAUTHENTICATED' }) ?? 0;
    const bad = new RemoteControlPlane({ target: grpcTarget, token: 'x'.repeat(32), reconnectMaxMs: 500 });
    assert.equal(await bad.appExists('mp'), true, 'unreachable answers "exists" (only a 404 means it does not)');
    await bad.close();
    const after = sampleValue(await scrape(cpUrl), 'faas_control_plane_grpc_calls_total', { method: 'AppExists', code: 'UNAUTHENTICATED' }) ?? 0;
    assert.equal(after, before + 1);

    const deadline = Date.now() + 5000;
    let rt = await scrape(runtimes[0].url);
    while (sampleValue(rt, 'nodejs_heap_size_used_bytes', { process: 'worker', worker: '0' }) === undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      rt = await scrape(runtimes[0].url);
    }
    assert.ok((sampleValue(rt, 'nodejs_heap_size_used_bytes', { process: 'worker', worker: '0' }) ?? 0) > 0, 'the runtime\'s worker reports its Node.js metrics');
    assert.ok((sampleValue(rt, 'nodejs_heap_size_used_bytes', { process: 'gateway' }) ?? 0) > 0);
    assert.ok((sampleValue(rt, 'faas_invocations_total', { app: 'mp', function: 'hello', status: '200' }) ?? 0) >= 1);
  });

  test('an alias move reaches every runtime in under a second', async (t) => {
    const v1 = (await invoke(runtimes[0].url, 'hello')).headers.get('x-faas-version') as string;
    const v2 = await deploy('hello', 'two'); // moves prod to v2 …
    await untilAllServe('hello', v2, performance.now(), 5_000);
    const figures: number[] = [];
    // … then move prod back and forth, timing from the moment the PUT is sent.
    for (const target of [v1, v2, v1, v2, v1, v2]) {
      const started = performance.now();
      const moved = await api('/apps/mp/functions/hello/aliases/prod', { method: 'PUT', body: { versionId: target } });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      const perRuntime = await untilAllServe('hello', target, started, 5_000);
      figures.push(Math.max(...perRuntime));
    }
    const sorted = [...figures].sort((a, b) => a - b);
    t.diagnostic(`alias propagation to all ${runtimes.length} runtimes (from PUT sent to last runtime serving it): ${figures.map((ms) => ms.toFixed(1)).join(', ')} ms; median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ms, max ${sorted.at(-1)?.toFixed(1)} ms`);
    for (const ms of figures) assert.ok(ms < 1_000, `alias propagation took ${ms.toFixed(1)} ms`);
  });

  test('cold fetch of a version over gRPC (measured)', async (t) => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await deploy('cold', `cold ${i} ${'x'.repeat(i * 8192)}`));
    const client = new RemoteControlPlane({ target: grpcTarget, token: (await readFile(tokenFile, 'utf8')).trim() });
    try {
      client.start();
      assert.equal(await client.waitUntilConnected(5_000), true);
      // Warm the GetVersion path once (serialisers, the server's statement cache) with an id that does not exist.
      assert.equal(await client.getVersion('mp', 'cold', '0'.repeat(20)), null);
      const times: number[] = [];
      for (const id of ids) {
        const started = performance.now();
        const version = await client.getVersion('mp', 'cold', id);
        times.push(performance.now() - started);
        assert.equal(version?.id, id);
      }
      const started = performance.now();
      await client.getVersion('mp', 'cold', ids[0]);
      const cached = performance.now() - started;
      const sorted = [...times].sort((a, b) => a - b);
      t.diagnostic(`cold GetVersion over gRPC (code 0.1–57 KiB, connection open): ${times.map((ms) => ms.toFixed(2)).join(', ')} ms; median ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} ms; cached ${cached.toFixed(3)} ms`);
    } finally {
      await client.close();
    }
  });

  test('with the control plane killed, every runtime keeps serving from its cache', async (t) => {
    const expected = (await invoke(runtimes[0].url, 'hello')).headers.get('x-faas-version');
    await cp.stop('SIGKILL');
    const started = performance.now();
    let ok = 0;
    for (let round = 0; round < 40; round++) {
      for (const { url } of runtimes) {
        const r = await invoke(url, 'hello');
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.headers.get('x-faas-version'), expected);
        ok++;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    t.diagnostic(`${ok} invocations succeeded over ${(performance.now() - started).toFixed(0)} ms with the control plane down`);
    for (const { url } of runtimes) {
      const ready = await call(`${url}/readyz`);
      assert.equal(ready.status, 200, 'a runtime that was connected stays ready during an outage');
      assert.equal((ready.body as { controlPlane: { connected: boolean } }).controlPlane.connected, false);
    }
  });

  test('after a restart on the same ports and data dir, a new deploy reaches every runtime', async (t) => {
    const token = await readFile(tokenFile, 'utf8');
    cp = new RoleProcess('control plane (restarted)', 'control-plane', cpEnv);
    cp.start();
    await waitReady(cp, cpUrl);
    assert.equal(await readFile(tokenFile, 'utf8'), token, 'the restarted control plane reads its token back');
    const started = performance.now();
    const v3 = await deploy('hello', 'three');
    const perRuntime = await untilAllServe('hello', v3, started, 15_000);
    t.diagnostic(`after the restart, the new deploy reached every runtime within ${Math.max(...perRuntime).toFixed(0)} ms of the deploy`);
    for (const { url } of runtimes) {
      const ready = await call(`${url}/readyz`);
      const status = (ready.body as { controlPlane: { connected: boolean; resets: number } }).controlPlane;
      assert.equal(status.connected, true);
      assert.ok(status.resets >= 1, 'the new control plane told the runtime to reset (new epoch)');
    }
  });
});
