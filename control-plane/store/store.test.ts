/**
 * One contract suite, run against both store backends: SQLite in a temporary directory and a
 * throwaway MariaDB server (test/support/mariadb.ts). A backend passes when it behaves the same.
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import mysql from 'mysql2/promise';
import { createTestDatabase, startMariaDb, type TestMariaDb } from '../../test/support/mariadb.ts';
import { defaultLimits } from '../core/limits.ts';
import type { FunctionLimits, LogLine } from '../core/types.ts';
import { computeVersionId } from '../core/versions.ts';
import { MIGRATIONS } from './migrations/index.ts';
import { openMysqlStore } from './mysql.ts';
import { openSqliteStore } from './sqlite.ts';
import { logLineBytes, logReadSql } from './log-lines.ts';
import type { DeployInput, LogBounds, Store } from './store.ts';

/** How a suite reaches one backend: open another store on the same database, inspect its migrations, clean up. */
interface Harness {
  open(): Promise<Store>;
  countMigrationRows(): Promise<number>;
  /** The indexes the database's planner picks for a query (empty when it scans the table). */
  indexesFor(sql: string, params: Array<string | number>): Promise<string[]>;
  cleanup(): Promise<void>;
}

function input(app: string, fn: string, code: string, extra: Partial<DeployInput> = {}): DeployInput {
  const limits: FunctionLimits = extra.limits ?? defaultLimits();
  return { app, function: fn, code, versionId: computeVersionId(code, limits), message: `deploy ${code.length}`, author: 'tester', limits, alias: 'prod', auth: 'none', audit: { actor: 'tester', action: 'function.deploy', app, function: fn, target: extra.alias ?? 'prod' }, ...extra };
}

function code(n: number | string): string {
  return `export default async function handler() { return { n: ${JSON.stringify(n)} }; }\n`;
}

function logLine(app: string, fn: string, n: number, extra: Partial<LogLine> = {}): LogLine {
  return { app, function: fn, versionId: 'v1', requestId: `req-${n}`, level: 'info', message: `line ${n}`, time: 1_000 + n, ...extra };
}

const ROOMY: LogBounds = { ringSize: 1000, appMaxBytes: 8 * 1024 * 1024 };

function contractSuite(makeHarness: () => Promise<Harness>): void {
  let harness: Harness;
  let store: Store;

  before(async () => {
    harness = await makeHarness();
    store = await harness.open();
    await store.migrate();
  });

  after(async () => {
    await store?.close();
    await harness?.cleanup();
  });

  it('ensureApp creates an app once and returns the same app when called again', async () => {
    assert.equal(await store.getApp('ensure'), null);
    const first = await store.ensureApp('ensure');
    const second = await store.ensureApp('ensure');
    assert.equal(first.name, 'ensure');
    assert.deepEqual(second, first);
    assert.deepEqual(await store.getApp('ensure'), first);
    assert.equal((await store.listApps()).filter((app) => app.name === 'ensure').length, 1);
    assert.match(first.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('a first deploy creates the app, the function, the version and the alias in one go', async () => {
    const deploy = input('first', 'hello', code('first'), { message: 'initial ✨' });
    const result = await store.deploy(deploy);
    assert.equal(result.created, true);
    assert.equal(result.previousVersionId, null);
    assert.equal(result.version.id, deploy.versionId);
    assert.equal(result.version.size, Buffer.byteLength(deploy.code));
    assert.equal(result.version.message, 'initial ✨');
    assert.equal(result.version.author, 'tester');
    assert.deepEqual(result.version.limits, defaultLimits());

    assert.notEqual(await store.getApp('first'), null);
    const fn = await store.getFunction('first', 'hello');
    assert.deepEqual(fn?.aliases, { prod: deploy.versionId });
    assert.deepEqual(fn?.limits, defaultLimits());
    assert.equal(await store.getAlias('first', 'hello', 'prod'), deploy.versionId);
    const stored = await store.getVersion('first', 'hello', deploy.versionId);
    assert.equal(stored?.code, deploy.code);
    assert.deepEqual({ ...stored, code: undefined }, { ...result.version, code: undefined });
    const history = await store.aliasHistory('first', 'hello', 'prod');
    assert.deepEqual(history.map((move) => [move.versionId, move.actor]), [[deploy.versionId, 'tester']]);
  });

  it('deploying the same code twice keeps one version, reports created false and still records the alias move', async () => {
    const deploy = input('twice', 'fn', code('same'));
    const first = await store.deploy(deploy);
    const second = await store.deploy({ ...deploy, message: 'again', author: 'someone-else' });
    assert.equal(second.created, false);
    assert.equal(second.version.id, first.version.id);
    assert.equal(second.version.message, first.version.message, 'the stored version is immutable');
    assert.equal(second.version.createdAt, first.version.createdAt);
    assert.equal(second.previousVersionId, first.version.id);
    assert.equal((await store.listVersions('twice', 'fn')).length, 1);
    const history = await store.aliasHistory('twice', 'fn', 'prod');
    assert.deepEqual(history.map((move) => move.actor), ['tester', 'someone-else']);
  });

  it('deploying a different version moves the alias and reports the previous version', async () => {
    const a = await store.deploy(input('moves', 'fn', code('a')));
    const b = await store.deploy(input('moves', 'fn', code('b')));
    assert.equal(b.created, true);
    assert.equal(b.previousVersionId, a.version.id);
    assert.equal(await store.getAlias('moves', 'fn', 'prod'), b.version.id);
    const staging = await store.deploy(input('moves', 'fn', code('c'), { alias: 'staging' }));
    assert.equal(staging.previousVersionId, null, 'another alias has its own history');
    assert.deepEqual((await store.getFunction('moves', 'fn'))?.aliases, { prod: b.version.id, staging: staging.version.id });
  });

  it('setAlias moves an alias to an existing version and returns the previous one', async () => {
    const a = await store.deploy(input('set', 'fn', code('a')));
    const b = await store.deploy(input('set', 'fn', code('b')));
    assert.equal((await store.setAlias('set', 'fn', 'prod', { versionId: a.version.id, canary: null }, { actor: 'rollbacker', action: 'alias.set', app: 'set', function: 'fn', target: 'prod' }))?.versionId, b.version.id);
    assert.equal(await store.getAlias('set', 'fn', 'prod'), a.version.id);
    assert.equal(await store.setAlias('set', 'fn', 'canary', { versionId: b.version.id, canary: null }, { actor: 'rollbacker', action: 'alias.set', app: 'set', function: 'fn', target: 'canary' }), null);
    const history = await store.aliasHistory('set', 'fn', 'prod');
    assert.deepEqual(history.map((move) => [move.versionId, move.actor]), [[a.version.id, 'tester'], [b.version.id, 'tester'], [a.version.id, 'rollbacker']]);
  });

  it('setAlias to an unknown version fails with E_VERSION_NOT_FOUND and changes nothing', async () => {
    const a = await store.deploy(input('unknown', 'fn', code('a')));
    await assert.rejects(store.setAlias('unknown', 'fn', 'prod', { versionId: 'ffffffffffffffffffff', canary: null }, { actor: 'x', action: 'alias.set', app: 'unknown', function: 'fn', target: 'prod' }), { code: 'E_VERSION_NOT_FOUND', status: 404 });
    await assert.rejects(store.setAlias('unknown', 'fn', 'fresh', { versionId: 'ffffffffffffffffffff', canary: null }, { actor: 'x', action: 'alias.set', app: 'unknown', function: 'fn', target: 'fresh' }), { code: 'E_VERSION_NOT_FOUND' });
    await assert.rejects(store.setAlias('unknown', 'nofn', 'prod', { versionId: a.version.id, canary: null }, { actor: 'x', action: 'alias.set', app: 'unknown', function: 'nofn', target: 'prod' }), { code: 'E_VERSION_NOT_FOUND' }, 'a version of another function is not found either');
    assert.equal(await store.getAlias('unknown', 'fn', 'prod'), a.version.id);
    assert.equal(await store.getAlias('unknown', 'fn', 'fresh'), null);
    assert.equal((await store.aliasHistory('unknown', 'fn', 'prod')).length, 1);
    assert.equal(await store.getFunction('unknown', 'nofn'), null);
  });

  it('listVersions returns versions newest first, without code', async () => {
    const ids: string[] = [];
    for (const n of [1, 2, 3, 4]) ids.push((await store.deploy(input('order', 'fn', code(n)))).version.id);
    const versions = await store.listVersions('order', 'fn');
    assert.deepEqual(versions.map((version) => version.id), ids.reverse());
    for (const version of versions) assert.equal('code' in version, false);
    assert.deepEqual(await store.listVersions('order', 'missing'), []);
  });

  it('lookups of missing apps, functions, versions and aliases return null or empty lists', async () => {
    assert.equal(await store.getApp('nope'), null);
    assert.equal(await store.getFunction('nope', 'fn'), null);
    assert.equal(await store.getVersion('nope', 'fn', 'ffffffffffffffffffff'), null);
    assert.equal(await store.getAlias('nope', 'fn', 'prod'), null);
    assert.deepEqual(await store.listFunctions('nope'), []);
    assert.deepEqual(await store.aliasHistory('nope', 'fn', 'prod'), []);
  });

  it('listFunctions lists every function of an app with its own aliases', async () => {
    const a = await store.deploy(input('many', 'alpha', code('alpha')));
    const b = await store.deploy(input('many', 'beta', code('beta'), { alias: 'dev' }));
    const functions = await store.listFunctions('many');
    assert.deepEqual(functions.map((fn) => [fn.name, fn.aliases]), [['alpha', { prod: a.version.id }], ['beta', { dev: b.version.id }]]);
  });

  it('a deploy with new limits stores them on the version and on the function', async () => {
    const limits: FunctionLimits = { ...defaultLimits(), memoryLimitMiB: 64, cpuTimeMs: 50 };
    await store.deploy(input('limits', 'fn', code('x')));
    const result = await store.deploy(input('limits', 'fn', code('x'), { limits }));
    assert.equal(result.created, true, 'other limits make another version');
    assert.deepEqual(result.version.limits, limits);
    assert.deepEqual((await store.getFunction('limits', 'fn'))?.limits, limits);
  });

  // Two races: a brand-new app (the app row serialises them), and a new function of an existing
  // app (MySQL: the losers of the function-row creation retry).
  for (const [label, app, fn] of [['a new app', 'race', 'fn'], ['a new function of an existing app', 'race', 'fn2']] as const) {
    it(`twenty concurrent deploys of different code to ${label} all land, each with its history row`, async () => {
      const deploys = Array.from({ length: 20 }, (_, i) => input(app, fn, code(`${fn}-${i}`), { author: `author-${i}` }));
      const results = await Promise.all(deploys.map((deploy) => store.deploy(deploy)));
      assert.equal(results.filter((result) => result.created).length, 20);
      const versions = await store.listVersions(app, fn);
      assert.equal(versions.length, 20);
      assert.deepEqual(new Set(versions.map((version) => version.id)), new Set(deploys.map((deploy) => deploy.versionId)));
      const history = await store.aliasHistory(app, fn, 'prod');
      assert.equal(history.length, 20);
      const current = await store.getAlias(app, fn, 'prod');
      assert.ok(deploys.some((deploy) => deploy.versionId === current));
      assert.equal(history.at(-1)?.versionId, current, 'the last history row is where the alias points');
      // Serialised: each deploy saw the previous one's alias target, so the previous ids chain up.
      const previous = results.map((result) => result.previousVersionId);
      assert.equal(previous.filter((id) => id === null).length, 1, 'exactly one deploy found no alias');
      assert.equal(new Set(previous).size, 20, 'no two deploys saw the same previous version');
    });
  }

  it('a deploy that fails mid-transaction leaves no app, function, version or alias behind', async () => {
    // An empty alias passes the store's first inserts and then violates the aliases CHECK constraint.
    await assert.rejects(store.deploy(input('broken', 'fn', code('broken'), { alias: '' })));
    assert.equal(await store.getApp('broken'), null);
    assert.equal(await store.getFunction('broken', 'fn'), null);
    assert.deepEqual(await store.listVersions('broken', 'fn'), []);

    const good = await store.deploy(input('broken-later', 'fn', code('good')));
    const limits: FunctionLimits = { ...defaultLimits(), memoryLimitMiB: 32 };
    await assert.rejects(store.deploy(input('broken-later', 'fn', code('bad'), { alias: '', limits })));
    assert.deepEqual((await store.listVersions('broken-later', 'fn')).map((version) => version.id), [good.version.id]);
    assert.deepEqual((await store.getFunction('broken-later', 'fn'))?.limits, defaultLimits(), 'the function limits were rolled back');
    assert.equal((await store.aliasHistory('broken-later', 'fn', 'prod')).length, 1);
  });

  it('migrations are idempotent: migrating again, also from a second connection, changes nothing', async () => {
    await store.deploy(input('migrate', 'fn', code('keep')));
    await store.migrate();
    const second = await harness.open();
    try {
      await second.migrate();
      await second.migrate();
      assert.equal(await harness.countMigrationRows(), MIGRATIONS.length);
      assert.equal((await second.listVersions('migrate', 'fn')).length, 1, 'data survives');
    } finally {
      await second.close();
    }
  });

  it('api keys can be created, found by hash and counted, and revoked keys are not counted', async () => {
    const before = await store.countApiKeys();
    const key = { id: 'key_1', name: 'ci', role: 'admin' as const, apps: '*' as const, hash: 'a'.repeat(64), createdAt: new Date().toISOString(), revokedAt: null };
    await store.createApiKey(key);
    assert.deepEqual(await store.findApiKeyByHash(key.hash), key);
    assert.equal(await store.findApiKeyByHash('b'.repeat(64)), null);
    assert.equal(await store.countApiKeys(), before + 1);
    const revoked = { ...key, id: 'key_2', hash: 'c'.repeat(64), revokedAt: new Date().toISOString() };
    await store.createApiKey(revoked);
    assert.deepEqual(await store.findApiKeyByHash(revoked.hash), revoked);
    assert.equal(await store.countApiKeys(), before + 1);
    await assert.rejects(store.createApiKey({ ...key, id: 'key_3' }), { code: 'E_CONFLICT' }, 'the hash is unique');
  });

  it('log lines survive a restart: another store opened on the same database reads them back, trace id included', async () => {
    const writer = await harness.open();
    try {
      await writer.appendLogs([logLine('durable', 'fn', 1, { traceId: '0af7651916cd43dd8448eb211c80319c' }), logLine('durable', 'fn', 2)], ROOMY);
    } finally {
      await writer.close();
    }
    const reader = await harness.open();
    try {
      const lines = await reader.readLogs('durable', 'fn', { limit: 10 });
      assert.deepEqual(lines.map(({ id: _id, ...line }) => line), [logLine('durable', 'fn', 1, { traceId: '0af7651916cd43dd8448eb211c80319c' }), logLine('durable', 'fn', 2)]);
      assert.ok(lines.every((line) => Number.isSafeInteger(line.id) && line.id > 0));
      assert.ok((lines[1]?.id ?? 0) > (lines[0]?.id ?? 0), 'ids increase in append order');
      assert.equal('traceId' in (lines[1] as object), false, 'a line without a trace id has no traceId field');
      assert.deepEqual(await reader.logUsage('durable'), { lines: 2, bytes: logLineBytes(lines[0] as LogLine) + logLineBytes(lines[1] as LogLine) });
    } finally {
      await reader.close();
    }
  });

  it('each function keeps its newest ringSize lines across batches; another function keeps its own', async () => {
    const bounds: LogBounds = { ringSize: 5, appMaxBytes: ROOMY.appMaxBytes };
    for (let batch = 0; batch < 4; batch++) await store.appendLogs([0, 1, 2].map((i) => logLine('ring', 'busy', batch * 3 + i)), bounds);
    await store.appendLogs([logLine('ring', 'calm', 100)], bounds);
    await store.appendLogs(Array.from({ length: 12 }, (_, i) => logLine('ring', 'burst', i)), bounds);
    assert.deepEqual((await store.readLogs('ring', 'busy', { limit: 100 })).map((l) => l.message), ['line 7', 'line 8', 'line 9', 'line 10', 'line 11']);
    assert.deepEqual((await store.readLogs('ring', 'burst', { limit: 100 })).map((l) => l.message), ['line 7', 'line 8', 'line 9', 'line 10', 'line 11'], 'one batch longer than the ring keeps its tail');
    assert.deepEqual((await store.readLogs('ring', 'calm', { limit: 100 })).map((l) => l.message), ['line 100']);
    assert.equal((await store.logUsage('ring')).lines, 11, 'the usage counters follow the trimming');
  });

  it('an app over its byte budget loses the oldest lines of its fullest function, and no other app loses any', async () => {
    const line = (app: string, fn: string, n: number) => logLine(app, fn, n, { message: `${n} ${'x'.repeat(500)}` });
    const perLine = logLineBytes(line('a', 'b', 10));
    const bounds: LogBounds = { ringSize: 1000, appMaxBytes: perLine * 20 };
    await store.appendLogs(Array.from({ length: 30 }, (_, i) => line('budget-other', 'fn', i + 10)), { ...bounds, appMaxBytes: perLine * 100 });
    await store.appendLogs(Array.from({ length: 3 }, (_, i) => line('budget', 'quiet', i + 10)), bounds);
    for (let batch = 0; batch < 5; batch++) await store.appendLogs(Array.from({ length: 10 }, (_, i) => line('budget', 'chatty', 10 + batch * 10 + i)), bounds);
    const usage = await store.logUsage('budget');
    assert.ok(usage.bytes <= bounds.appMaxBytes, `the app holds ${usage.bytes} bytes, over its budget of ${bounds.appMaxBytes}`);
    assert.equal(usage.bytes, perLine * 20, 'it keeps as much as fits');
    const quiet = await store.readLogs('budget', 'quiet', { limit: 100 });
    const chatty = await store.readLogs('budget', 'chatty', { limit: 100 });
    assert.equal(quiet.length, 3, 'the quiet function keeps its lines');
    assert.deepEqual(chatty.map((l) => l.time), Array.from({ length: 17 }, (_, i) => 1_000 + 43 + i), 'the chatty function keeps its newest lines');
    assert.equal((await store.readLogs('budget-other', 'fn', { limit: 100 })).length, 30, 'another app keeps every line');
    assert.equal((await store.logUsage('budget-other')).lines, 30);
  });

  it('readLogs filters by requestId, level and since, and returns the newest limit lines oldest first', async () => {
    const levels: LogLine['level'][] = ['debug', 'info', 'warn', 'error'];
    await store.appendLogs(Array.from({ length: 12 }, (_, i) => logLine('filters', 'fn', i, { requestId: `req-${i % 3}`, level: levels[i % 4] as LogLine['level'] })), ROOMY);
    await store.appendLogs([logLine('filters', 'other', 99)], ROOMY);
    const read = async (query: Partial<Parameters<Store['readLogs']>[2]>) => (await store.readLogs('filters', 'fn', { limit: 100, ...query })).map((l) => l.message);
    assert.equal((await read({})).length, 12, 'only the function\'s own lines');
    assert.deepEqual(await read({ requestId: 'req-1' }), ['line 1', 'line 4', 'line 7', 'line 10']);
    assert.deepEqual(await read({ minLevel: 'warn' }), ['line 2', 'line 3', 'line 6', 'line 7', 'line 10', 'line 11']);
    assert.deepEqual(await read({ sinceMs: 1_009 }), ['line 9', 'line 10', 'line 11']);
    assert.deepEqual(await read({ limit: 2 }), ['line 10', 'line 11']);
    assert.deepEqual(await read({ requestId: 'req-2', minLevel: 'error', sinceMs: 1_000 }), ['line 11']);
    assert.deepEqual(await read({ requestId: 'nobody' }), []);
    assert.deepEqual(await store.readLogs('filters', 'missing', { limit: 5 }), []);
  });

  it('lines keep their append order at equal times, and afterId pages forward without skipping or repeating', async () => {
    await store.appendLogs([logLine('order', 'fn', 1, { time: 5_000, message: 'b' }), logLine('order', 'fn', 2, { time: 5_000, message: 'a' }), logLine('order', 'fn', 3, { time: 4_000, message: 'early' })], ROOMY);
    await store.appendLogs([logLine('order', 'fn', 4, { time: 5_000, message: 'c' })], ROOMY);
    assert.deepEqual((await store.readLogs('order', 'fn', { limit: 10 })).map((l) => l.message), ['early', 'b', 'a', 'c'], 'time order, ties in append order');
    assert.deepEqual((await store.readLogs('order', 'fn', { limit: 2 })).map((l) => l.message), ['a', 'c']);
    const pages: string[][] = [];
    let after = 0;
    for (;;) {
      const page = await store.readLogs('order', 'fn', { limit: 2, afterId: after });
      if (page.length === 0) break;
      pages.push(page.map((l) => l.message));
      after = page.at(-1)?.id ?? after;
    }
    assert.deepEqual(pages, [['b', 'a'], ['early', 'c']], 'after a cursor: append order, oldest first');
  });

  it('concurrent appends to one function: a follower paging by afterId sees every line exactly once', async () => {
    // Fewer writers than pooled connections, so the follower's reads interleave with their commits.
    const writers = Array.from({ length: 6 }, async (_, w) => {
      for (let round = 0; round < 10; round++) await store.appendLogs([0, 1].map((i) => logLine('follow', 'fn', (w * 10 + round) * 2 + i, { time: 7_000 })), ROOMY);
    });
    const seen: number[] = [];
    let after = 0;
    let done = false;
    const all = Promise.all(writers).finally(() => { done = true; });
    for (let last = false; !last;) {
      last = done;
      const page = await store.readLogs('follow', 'fn', { limit: 7, afterId: after });
      for (const line of page) seen.push(line.id);
      after = page.at(-1)?.id ?? after;
      if (page.length === 7) last = false;
    }
    await all;
    const stored = await store.readLogs('follow', 'fn', { limit: 1000 });
    assert.equal(stored.length, 120);
    assert.deepEqual(seen, stored.map((l) => l.id).sort((a, b) => a - b), 'every line once, in id order');
    assert.deepEqual(await store.logUsage('follow'), { lines: 120, bytes: stored.reduce((sum, l) => sum + logLineBytes(l), 0) }, 'no lost counter update');
  });

  it('every shape of log read and the trim queries are served by an index on (app, function, …)', async () => {
    // Many apps, as in production, so the planner's statistics show what (app, function) selects.
    for (let app = 0; app < 10; app++) await store.appendLogs(Array.from({ length: 60 }, (_, i) => logLine(`plans-${app}`, `fn-${i % 3}`, i)), ROOMY);
    const queries: Array<Parameters<Store['readLogs']>[2]> = [
      { limit: 10 }, { limit: 10, sinceMs: 1_005 }, { limit: 10, requestId: 'req-1' }, { limit: 10, minLevel: 'warn' },
      { limit: 10, afterId: 3 }, { limit: 10, afterId: 3, requestId: 'req-1', sinceMs: 1_000, minLevel: 'info' },
    ];
    for (const query of queries) {
      const { sql, params } = logReadSql('plans-3', 'fn-1', query);
      const used = await harness.indexesFor(`${sql} LIMIT 10`, params);
      assert.ok(used.length > 0 && used.every((name) => name.startsWith('log_lines_by_')), `${JSON.stringify(query)} uses ${JSON.stringify(used)}`);
    }
    for (const sql of ['SELECT id, bytes FROM log_lines WHERE app = ? AND function = ? ORDER BY id LIMIT 10', 'SELECT id FROM log_lines WHERE app = ? AND function = ? AND id <= ?']) {
      const used = await harness.indexesFor(sql, sql.includes('id <=') ? ['plans-3', 'fn-1', 5] : ['plans-3', 'fn-1']);
      assert.deepEqual(used, ['log_lines_by_function'], sql);
    }
  });

  it('a malformed log line is refused with E_VALIDATION naming it, and nothing of its batch is written', async () => {
    const good = logLine('bad-input', 'fn', 1);
    const cases: Array<[unknown, string]> = [
      [{ ...good, level: 'loud' }, 'lines[1].level'],
      [{ ...good, app: 'Not An App' }, 'lines[1].app'],
      [{ ...good, time: -5 }, 'lines[1].time'],
      [{ ...good, time: 1.5 }, 'lines[1].time'],
      [{ ...good, requestId: '' }, 'lines[1].requestId'],
      [{ ...good, message: 'x'.repeat(70_000) }, 'lines[1].message'],
      [{ ...good, traceId: 42 }, 'lines[1].traceId'],
      [null, 'lines[1].line'],
    ];
    for (const [bad, field] of cases) {
      await assert.rejects(store.appendLogs([good, bad as LogLine], ROOMY), (error: { code?: string; status?: number; details?: { field?: string }; message?: string }) => {
        assert.equal(error.code, 'E_VALIDATION');
        assert.equal(error.status, 400);
        assert.equal(error.details?.field, field);
        assert.match(error.message ?? '', /^log line 1: /);
        return true;
      });
    }
    await assert.rejects(store.appendLogs('nope' as unknown as LogLine[], ROOMY), { code: 'E_VALIDATION', details: { field: 'lines' } });
    await assert.rejects(store.appendLogs([good], { ringSize: 0, appMaxBytes: 1 }), { code: 'ERR_INVALID_ARG_VALUE', message: /ringSize/ });
    await assert.rejects(store.appendLogs([good], { ringSize: 1, appMaxBytes: 1.5 }), { code: 'ERR_INVALID_ARG_VALUE', message: /appMaxBytes/ });
    await assert.rejects(store.readLogs('bad-input', 'fn', { limit: 0 }), { code: 'E_VALIDATION', details: { field: 'limit' } });
    await assert.rejects(store.readLogs('bad-input', 'fn', { limit: 5, afterId: -1 }), { code: 'E_VALIDATION', details: { field: 'after' } });
    await assert.rejects(store.readLogs('bad-input', 'fn', { limit: 5, minLevel: 'loud' as LogLine['level'] }), { code: 'E_VALIDATION', details: { field: 'level' } });
    assert.deepEqual(await store.readLogs('bad-input', 'fn', { limit: 10 }), []);
    assert.deepEqual(await store.logUsage('bad-input'), { lines: 0, bytes: 0 });
  });

  it('a closed store answers E_STORE_UNAVAILABLE and close is idempotent', async () => {
    const other = await harness.open();
    await other.ping();
    await other.close();
    await other.close();
    await assert.rejects(other.listApps(), { code: 'E_STORE_UNAVAILABLE', status: 503 });
    await assert.rejects(other.deploy(input('closed', 'fn', code('c'))), { code: 'E_STORE_UNAVAILABLE' });
  });
}

describe('SQLite store', () => {
  contractSuite(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faas-store-'));
    const file = join(dir, 'control-plane.db');
    return {
      open: () => openSqliteStore(file),
      async countMigrationRows() {
        const db = new DatabaseSync(file, { readOnly: true });
        try {
          return Number((db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n);
        } finally {
          db.close();
        }
      },
      async indexesFor(sql, params) {
        const db = new DatabaseSync(file, { readOnly: true });
        try {
          const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>;
          return plan.map((row) => /USING (?:COVERING )?INDEX (\w+)/.exec(row.detail)?.[1]).filter((name): name is string => name !== undefined);
        } finally {
          db.close();
        }
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  });

  it('deploys and alias moves from parallel threads, each with its own connection to one file, all land', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faas-store-'));
    const file = join(dir, 'shared.db');
    try {
      const store = await openSqliteStore(file);
      await store.migrate();
      // Each worker opens its own connection and deploys 10 versions to the same function.
      const source = `
        const { workerData, parentPort } = require('node:worker_threads');
        (async () => {
          const { openSqliteStore } = await import(workerData.sqlite);
          const { defaultLimits } = await import(workerData.limits);
          const store = await openSqliteStore(workerData.file);
          for (let i = 0; i < 10; i += 1) {
            const id = (workerData.worker * 100 + i).toString(16).padStart(20, '0');
            await store.deploy({ app: 'threads', function: 'fn', versionId: id, code: 'c' + id, message: '', author: 'w' + workerData.worker, limits: defaultLimits(), alias: 'prod', auth: 'none', audit: { actor: 'w', action: 'function.deploy', app: 'threads', function: 'fn', target: 'prod' } });
            // setAlias reads before it writes; BEGIN IMMEDIATE keeps a stale read snapshot from failing the write.
            await store.setAlias('threads', 'fn', 'canary', { versionId: id, canary: null }, { actor: 'w' + workerData.worker, action: 'alias.set', app: 'threads', function: 'fn', target: 'canary' });
          }
          await store.close();
          parentPort.postMessage('done');
        })().catch((error) => parentPort.postMessage('error: ' + error.message));
      `;
      const runs = [1, 2, 3, 4].map((worker) => new Promise<string>((resolve, reject) => {
        const thread = new Worker(source, {
          eval: true,
          workerData: { worker, file, sqlite: new URL('./sqlite.ts', import.meta.url).href, limits: new URL('../core/limits.ts', import.meta.url).href },
        });
        thread.once('message', (message: string) => resolve(message));
        thread.once('error', reject);
      }));
      assert.deepEqual(await Promise.all(runs), ['done', 'done', 'done', 'done']);
      assert.equal((await store.listVersions('threads', 'fn')).length, 40);
      const history = await store.aliasHistory('threads', 'fn', 'prod');
      assert.equal(history.length, 40);
      assert.equal(await store.getAlias('threads', 'fn', 'prod'), history.at(-1)?.versionId);
      assert.equal((await store.aliasHistory('threads', 'fn', 'canary')).length, 40);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the SQLite file uses WAL journaling', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faas-store-'));
    try {
      const store = await openSqliteStore(join(dir, 'x.db'));
      await store.migrate();
      await store.close();
      const db = new DatabaseSync(join(dir, 'x.db'));
      assert.equal((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
      db.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('MariaDB store', () => {
  let server: TestMariaDb;
  before(async () => {
    server = await startMariaDb();
  });
  after(async () => {
    await server?.stop();
  });

  contractSuite(async () => {
    const url = await createTestDatabase(server);
    return {
      open: () => openMysqlStore(url),
      async countMigrationRows() {
        const conn = await mysql.createConnection(url);
        try {
          const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM schema_migrations');
          return Number(rows[0]?.n);
        } finally {
          await conn.end();
        }
      },
      async indexesFor(sql, params) {
        const conn = await mysql.createConnection(url);
        try {
          await conn.query('ANALYZE TABLE log_lines');
          const [rows] = await conn.query<mysql.RowDataPacket[]>(`EXPLAIN ${sql}`, params);
          return rows.map((row) => row.key as string | null).filter((name): name is string => name !== null);
        } finally {
          await conn.end();
        }
      },
      async cleanup() {},
    };
  });

  it('opening a URL without a database name fails with a clear message', async () => {
    await assert.rejects(openMysqlStore(server.url), /must name a database/);
  });

  it('an unreachable server answers E_STORE_UNAVAILABLE', async () => {
    await assert.rejects(openMysqlStore('mysql://root@127.0.0.1:1/faas'), { code: 'E_STORE_UNAVAILABLE' });
  });
});
