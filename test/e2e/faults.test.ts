/**
 * Backend faults through the real platform: a function calls ctx.redis (redis-server via
 * REDIS_URL, reached from the worker processes), ctx.sql (MariaDB via FAAS_SQL_URL, reached from
 * the gateway) or ctx.rpc.grpc (a loopback gRPC server) while the backend is stopped mid-run.
 *
 * For each backend: invocations keep flowing from several clients while the server is killed;
 * every invocation answers (none hangs past a bound), the function catches a clear error with
 * the builtin's code, a function that does not use the backend keeps answering, no worker
 * process restarts, and once the server is back the same function succeeds again.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startInventoryServer, type InventoryServer, INVENTORY_PROTO } from '../../builtins/grpc/test-server.ts';
import { api, deploy } from '../support/http.ts';
import { startMariaDb, type TestMariaDb } from '../support/mariadb.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';


/** Longest any single invocation may take during an outage (the builtins' own bounds are 2 s). */
const ANSWER_BOUND_MS = 5000;

const PROBE = `
export default async (req, ctx) => {
  const started = Date.now();
  try {
    let value;
    if (req.path === '/redis') value = await ctx.redis.incr('hits');
    else if (req.path === '/sql') value = (await ctx.sql.query('SELECT COUNT(*) AS n FROM visits'))[0].n;
    else if (req.path === '/sql-write') value = (await ctx.sql.execute('INSERT INTO visits (at) VALUES (?)', [Date.now()])).affectedRows;
    else if (req.path === '/grpc') value = (await ctx.rpc.grpc('inventory', 'GetItem', { id: '7' })).id;
    else if (req.path === '/setup') value = (await ctx.sql.execute('CREATE TABLE IF NOT EXISTS visits (id INT AUTO_INCREMENT PRIMARY KEY, at BIGINT)')).affectedRows;
    else return { status: 404, body: 'no such probe' };
    return { ok: true, value, ms: Date.now() - started };
  } catch (err) {
    return { ok: false, code: err.code, message: err.message, ms: Date.now() - started };
  }
};
`;

interface ProbeAnswer {
  status: number;
  took: number;
  body: { ok: boolean; value?: unknown; code?: string; message?: string; ms: number } | null;
}

describe('a backend stopped mid-run: the function gets a clear error it can catch, and recovers', () => {
  let t: TestPlatform;
  let redis: TestRedis;
  let maria: TestMariaDb;
  let inventory: InventoryServer;

  const probe = async (path: string): Promise<ProbeAnswer> => {
    const started = Date.now();
    const res = await fetch(`${t.url}/fn/game/probe${path}`, { signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    let body: ProbeAnswer['body'] = null;
    try { body = JSON.parse(text); } catch { /* not JSON: asserted below */ }
    return { status: res.status, took: Date.now() - started, body };
  };
  const hello = async (): Promise<number> => (await fetch(`${t.url}/fn/game/hello`, { signal: AbortSignal.timeout(5000) })).status;
  const restarts = (): number => t.platform.supervisor.workers().reduce((n, w) => n + w.restarts, 0);

  /**
   * Four clients calling `path` back to back until `stop()`; returns every answer. `until(check,
   * what)` resolves once an answer satisfies `check` (polled every 20 ms; fails after 15 s).
   */
  const load = (path: string): { until(check: (a: ProbeAnswer) => boolean, what: string): Promise<void>; stop(): Promise<ProbeAnswer[]> } => {
    const answers: ProbeAnswer[] = [];
    let running = true;
    const clients = Array.from({ length: 4 }, async () => {
      while (running) {
        answers.push(await probe(path));
        await sleep(10);
      }
    });
    return {
      async until(check, what) {
        const deadline = Date.now() + 15_000;
        while (!answers.some(check)) {
          assert.ok(Date.now() < deadline, `the load saw ${what} within 15 s (${answers.length} answers)`);
          await sleep(20);
        }
      },
      async stop() {
        running = false;
        await Promise.all(clients);
        return answers;
      },
    };
  };

  const waitForRecovery = async (path: string, withinMs: number): Promise<ProbeAnswer> => {
    const deadline = Date.now() + withinMs;
    let last = await probe(path);
    while (last.body?.ok !== true && Date.now() < deadline) {
      await sleep(200);
      last = await probe(path);
    }
    return last;
  };

  /** The checks every outage shares; `codes` are the error codes the function may see. */
  const assertOutage = (answers: ProbeAnswer[], codes: string[], message: RegExp): void => {
    assert.ok(answers.length > 0, 'the load ran');
    for (const a of answers) {
      assert.equal(a.status, 200, `the function answered itself (caught the error): ${JSON.stringify(a)}`);
      assert.ok(a.took < ANSWER_BOUND_MS, `no invocation hung: ${a.took} ms`);
    }
    const failed = answers.filter((a) => a.body?.ok === false);
    assert.ok(failed.length > 0, 'some invocations met the outage');
    for (const a of failed) {
      assert.ok(codes.includes(a.body?.code ?? ''), `error code ${a.body?.code} is one of ${codes.join(', ')}: ${a.body?.message}`);
      assert.match(a.body?.message ?? '', message);
    }
  };

  before(async () => {
    [redis, maria, inventory] = await Promise.all([startRedis(), startMariaDb(), startInventoryServer()]);
    t = await startPlatform({
      redisUrl: redis.url,
      env: { FAAS_DEPLOY_SAMPLES: '0', FAAS_WORKERS: '2', FAAS_SQL_URL: maria.url, FAAS_GRPC_PRIVATE_NETWORKS: '127.0.0.1/32' },
    });
    await deploy(t, 'game', 'probe', PROBE);
    await deploy(t, 'game', 'hello', 'export default () => ({ hello: "world" });');
    const settings = await api(t, '/apps/game/settings', { method: 'PUT', body: {
      grpcServices: [{ name: 'inventory', target: `127.0.0.1:${inventory.port}`, proto: INVENTORY_PROTO, service: 'game.Inventory', idempotentMethods: ['GetItem'] }],
    } });
    assert.ok(settings.status < 300, `PUT settings: ${settings.status} ${JSON.stringify(settings.body)}`);
    const setup = await probe('/setup');
    assert.equal(setup.body?.ok, true, JSON.stringify(setup));
  });
  after(async () => {
    await t?.stop();
    inventory?.stop();
    await Promise.allSettled([redis?.stop(), maria?.stop()]);
  });

  it('Redis (worker-side client) killed mid-run: E_REDIS_UNAVAILABLE within the bound, other functions unaffected, recovery after restart', async () => {
    assert.equal((await probe('/redis')).body?.ok, true);
    const workersRestarted = restarts();
    const running = load('/redis');
    await running.until((a) => a.body?.ok === true, 'a success before the kill');
    await redis.kill();
    await running.until((a) => a.body?.ok === false, 'the outage');
    await sleep(2500); // an outage longer than the builtin's 2 s bound: commands in flight time out
    assert.equal(await hello(), 200, 'a function without Redis still answers during the outage');
    const during = await probe('/redis');
    assert.equal(during.body?.code, 'E_REDIS_UNAVAILABLE', JSON.stringify(during));
    await redis.restart();
    const recovered = await waitForRecovery('/redis', 10_000);
    const answers = await running.stop();
    assert.equal(recovered.body?.ok, true, `recovered after the restart: ${JSON.stringify(recovered)}`);
    assertOutage(answers, ['E_REDIS_UNAVAILABLE'], /Redis is unavailable|connection to Redis was lost/);
    assert.ok(answers.some((a) => a.body?.ok === true), 'invocations succeeded before the kill');
    assert.equal(restarts(), workersRestarted, 'no worker process restarted');
  });

  it('MariaDB (ctx.sql) stopped mid-run: E_SQL_UNAVAILABLE within the bound, committed rows kept, recovery after start', async () => {
    assert.equal((await probe('/sql-write')).body?.ok, true);
    const before = (await probe('/sql')).body?.value as number;
    const workersRestarted = restarts();
    const running = load('/sql');
    await running.until((a) => a.body?.ok === true, 'a success before the stop');
    await maria.halt();
    await running.until((a) => a.body?.ok === false, 'the outage');
    await sleep(1000); // the outage lasts: later calls fail too, not only those in flight
    assert.equal(await hello(), 200, 'a function without SQL still answers during the outage');
    const write = await probe('/sql-write');
    assert.equal(write.body?.code, 'E_SQL_UNAVAILABLE', JSON.stringify(write));
    await maria.restart();
    const recovered = await waitForRecovery('/sql', 10_000);
    const answers = await running.stop();
    assert.equal(recovered.body?.ok, true, `recovered after the start: ${JSON.stringify(recovered)}`);
    assert.equal(recovered.body?.value, before, 'the rows committed before the outage are all there, the refused write is not');
    assertOutage(answers, ['E_SQL_UNAVAILABLE', 'E_SQL_TIMEOUT'], /SQL database is unavailable|did not finish within/);
    assert.equal(restarts(), workersRestarted, 'no worker process restarted');
  });

  it('the gRPC target stopped mid-run: E_GRPC_UNAVAILABLE (then the open circuit) within the bound, recovery once it is back', async () => {
    const first = await probe('/grpc');
    assert.equal(first.body?.value, '7', JSON.stringify(first));
    const workersRestarted = restarts();
    const port = inventory.port;
    const running = load('/grpc');
    await running.until((a) => a.body?.ok === true, 'a success before the stop');
    inventory.stop();
    await running.until((a) => a.body?.ok === false, 'the outage');
    await sleep(1000); // the outage lasts: later calls fail too, not only those in flight
    assert.equal(await hello(), 200, 'a function without gRPC still answers during the outage');
    inventory = await startInventoryServer(port);
    // The breaker half-opens after its reset timeout (10 s by default) and closes on a success.
    const recovered = await waitForRecovery('/grpc', 20_000);
    const answers = await running.stop();
    assert.equal(recovered.body?.ok, true, `recovered once the server was back: ${JSON.stringify(recovered)}`);
    assertOutage(answers, ['E_GRPC_UNAVAILABLE', 'E_GRPC_DEADLINE'], /inventory/);
    assert.equal(restarts(), workersRestarted, 'no worker process restarted');
  });
});
