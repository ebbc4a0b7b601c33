/**
 * The control plane's core over a real store: SQLite in a temporary directory, and a throwaway
 * MariaDB server (same suite), plus the backend-independent parts (keys, logs, options).
 */
import { strict as assert } from 'node:assert';
import { readFile, stat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { describeOverStores, type OpenTestStore } from '../../test/support/stores.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { authorize, createControlPlane } from './control-plane.ts';
import { ensureAdminKey, hashApiKey } from './keys.ts';
import { NAME_PATTERN } from './names.ts';
import { defaultLimits } from './limits.ts';
import type { Actor, AliasMovedEvent, ControlPlane, LogLine } from './types.ts';

const admin: Actor = { keyId: 'key_test', name: 'tester', role: 'admin', apps: '*' };

function handler(n: number | string): string {
  return `export default async function handler(req, ctx) {\n  return { n: ${JSON.stringify(n)} };\n}\n`;
}

function contractSuite(openTestStore: OpenTestStore): void {
  let store: Store;
  let cleanup: () => Promise<void>;
  let cp: ControlPlane;

  before(async () => {
    ({ store, cleanup } = await openTestStore());
    cp = createControlPlane({ store });
  });

  after(async () => {
    await cp?.close();
    await store?.close();
    await cleanup?.();
  });

  it('a deploy stores a version that resolve and getVersion then return', async () => {
    const code = handler('one');
    const result = await cp.deploy(admin, { app: 'game1', function: 'follow', code, message: 'first' });
    assert.equal(result.created, true);
    assert.match(result.version.id, /^[0-9a-f]{20}$/);
    assert.deepEqual(result.alias, { name: 'prod', versionId: result.version.id, previousVersionId: null });
    assert.equal(result.version.author, 'tester');
    assert.equal(result.version.message, 'first');

    assert.deepEqual(await cp.resolve('game1', 'follow', 'prod'), { app: 'game1', function: 'follow', alias: 'prod', versionId: result.version.id, limits: defaultLimits(), auth: 'none', canary: null });
    const version = await cp.getVersion('game1', 'follow', result.version.id);
    assert.equal(version?.code, code);
    assert.equal(version?.size, Buffer.byteLength(code));

    const again = await cp.deploy(admin, { app: 'game1', function: 'follow', code });
    assert.equal(again.created, false);
    assert.equal(again.version.id, result.version.id);
    assert.deepEqual((await cp.listFunctions(admin, 'game1')).map((fn) => fn.name), ['follow']);
  });

  it('resolve and getVersion return null for anything missing or malformed', async () => {
    await cp.deploy(admin, { app: 'lookup', function: 'fn', code: handler('x') });
    assert.equal(await cp.resolve('lookup', 'fn', 'staging'), null);
    assert.equal(await cp.resolve('lookup', 'nope', 'prod'), null);
    assert.equal(await cp.resolve('nope', 'fn', 'prod'), null);
    assert.equal(await cp.resolve('Bad Name', 'fn', 'prod'), null);
    assert.equal(await cp.getVersion('lookup', 'fn', 'ffffffffffffffffffff'), null);
    assert.equal(await cp.getVersion('lookup', 'fn', "' OR 1=1 --"), null);
  });

  it('a syntax error is refused with E_SYNTAX, its line, column and frame, and creates nothing', async () => {
    const code = 'export default async function handler() {\n  return { ok: true ;\n}\n';
    await assert.rejects(cp.deploy(admin, { app: 'syntax', function: 'fn', code }), (error: Record<string, unknown>) => {
      assert.equal(error.code, 'E_SYNTAX');
      assert.equal(error.status, 400);
      const details = error.details as { line: number; column: number; frame: string };
      assert.equal(details.line, 2);
      assert.equal(typeof details.column, 'number');
      assert.match(details.frame, /> 2 \|/);
      assert.match(String(error.message), /Unexpected token|expected/i);
      return true;
    });
    assert.deepEqual((await cp.listApps(admin)).filter((app) => app.name === 'syntax'), [], 'the app was not created');
    assert.equal(await store.getFunction('syntax', 'fn'), null);
  });

  it('code that parses but breaks a rule is refused with E_CHECK summarising the first finding', async () => {
    const code = 'export default async function handler() {\n  return eval("1 + 1");\n}\n';
    await assert.rejects(cp.deploy(admin, { app: 'checked', function: 'fn', code }), (error: Record<string, unknown>) => {
      assert.equal(error.code, 'E_CHECK');
      assert.match(String(error.message), /^no-eval at 2:10: /);
      const diagnostics = (error.details as { diagnostics: { rule: string }[] }).diagnostics;
      assert.deepEqual(diagnostics.map((d) => d.rule), ['no-eval']);
      return true;
    });
    assert.equal(await store.getApp('checked'), null);
  });

  it('code over 1 MiB is refused with E_CODE_TOO_LARGE (413) before anything is stored', async () => {
    const code = `${handler('big')}//${'x'.repeat(1024 * 1024)}\n`;
    await assert.rejects(cp.deploy(admin, { app: 'big', function: 'fn', code }), { code: 'E_CODE_TOO_LARGE', status: 413 });
    assert.equal(await store.getApp('big'), null);
  });

  it('bad names are refused with E_INVALID_NAME naming the field and the rule', async () => {
    await assert.rejects(cp.deploy(admin, { app: 'Game', function: 'fn', code: handler(1) }), (error: Record<string, unknown>) => {
      assert.equal(error.code, 'E_INVALID_NAME');
      assert.match(String(error.message), /^app name "Game" is invalid: .*lowercase letter/);
      return true;
    });
    await assert.rejects(cp.deploy(admin, { app: 'game', function: '1fn', code: handler(1) }), { code: 'E_INVALID_NAME', message: /^function name "1fn"/ });
    await assert.rejects(cp.deploy(admin, { app: 'game', function: 'fn', alias: 'a/b', code: handler(1) }), { code: 'E_INVALID_NAME', message: /^alias name "a\/b"/ });
    await assert.rejects(cp.deploy(admin, { app: 'x'.repeat(64), function: 'fn', code: handler(1) }), { code: 'E_INVALID_NAME' });
    await assert.rejects(cp.createApp(admin, 'under_score'), { code: 'E_INVALID_NAME' });
    assert.equal(await store.getApp('game'), null);
  });

  it('limits are validated, stored with the version, and kept by later deploys that give none', async () => {
    await assert.rejects(cp.deploy(admin, { app: 'limits', function: 'fn', code: handler(1), limits: { memoryLimitMiB: 4 } }), { code: 'E_VALIDATION', message: /memoryLimitMiB must be between 8 and 1024 MiB/ });
    await assert.rejects(cp.deploy(admin, { app: 'limits', function: 'fn', code: handler(1), limits: { cpuTimeMs: 6000, wallTimeMs: 5000 } }), { code: 'E_VALIDATION', message: /must not exceed/ });
    await assert.rejects(cp.deploy(admin, { app: 'limits', function: 'fn', code: handler(1), limits: { memory: 64 } as never }), { code: 'E_VALIDATION', message: /limits.memory is not a known limit/ });
    const small = await cp.deploy(admin, { app: 'limits', function: 'fn', code: handler(1), limits: { memoryLimitMiB: 64 } });
    assert.equal(small.version.limits.memoryLimitMiB, 64);
    const next = await cp.deploy(admin, { app: 'limits', function: 'fn', code: handler(2) });
    assert.equal(next.version.limits.memoryLimitMiB, 64, 'the function keeps its limits');
    assert.equal((await cp.getFunction(admin, 'limits', 'fn')).limits.memoryLimitMiB, 64);
    const same = await cp.deploy(admin, { app: 'limits', function: 'fn', code: handler(2), limits: { memoryLimitMiB: 128 } });
    assert.equal(same.created, true, 'the same code with other limits is another version');
    assert.equal((await cp.resolve('limits', 'fn', 'prod'))?.limits.memoryLimitMiB, 128);
  });

  it('rollback moves the alias back, and a second rollback goes back again (alternating between the last two)', async () => {
    const a = await cp.deploy(admin, { app: 'roll', function: 'fn', code: handler('a') });
    const b = await cp.deploy(admin, { app: 'roll', function: 'fn', code: handler('b') });
    const first = await cp.rollback(admin, 'roll', 'fn', {});
    assert.deepEqual(first, { name: 'prod', versionId: a.version.id, previousVersionId: b.version.id, canary: null });
    assert.equal((await cp.resolve('roll', 'fn', 'prod'))?.versionId, a.version.id);
    const second = await cp.rollback(admin, 'roll', 'fn', { alias: 'prod' });
    assert.deepEqual(second, { name: 'prod', versionId: b.version.id, previousVersionId: a.version.id, canary: null });
    const to = await cp.rollback(admin, 'roll', 'fn', { to: a.version.id });
    assert.equal(to.versionId, a.version.id);
    await assert.rejects(cp.rollback(admin, 'roll', 'fn', { to: 'ffffffffffffffffffff' }), { code: 'E_VERSION_NOT_FOUND', status: 404 });
    assert.equal((await cp.resolve('roll', 'fn', 'prod'))?.versionId, a.version.id);
  });

  it('rollback without an earlier version answers E_NO_PREVIOUS_VERSION (409); a missing alias E_ALIAS_NOT_FOUND', async () => {
    const only = await cp.deploy(admin, { app: 'single', function: 'fn', code: handler('only') });
    await cp.deploy(admin, { app: 'single', function: 'fn', code: handler('only') });
    await assert.rejects(cp.rollback(admin, 'single', 'fn', {}), { code: 'E_NO_PREVIOUS_VERSION', status: 409 });
    await assert.rejects(cp.rollback(admin, 'single', 'fn', { alias: 'staging' }), { code: 'E_ALIAS_NOT_FOUND', status: 404 });
    await assert.rejects(cp.rollback(admin, 'single', 'nope', {}), { code: 'E_FUNCTION_NOT_FOUND', status: 404 });
    assert.equal((await cp.resolve('single', 'fn', 'prod'))?.versionId, only.version.id);
  });

  it('alias moves are published after deploy, setAlias and rollback, and not after a failed move', async () => {
    const events: AliasMovedEvent[] = [];
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    const unsubscribe = cp.onChange((event) => { if (event.kind === 'alias') events.push(event); });
    const throwing = cp.onChange(() => {
      throw new Error('listener bug');
    });
    try {
      const a = await cp.deploy(admin, { app: 'events', function: 'fn', code: handler('a') });
      const b = await cp.deploy(admin, { app: 'events', function: 'fn', code: handler('b') });
      await cp.setAlias(admin, 'events', 'fn', 'canary', a.version.id);
      await cp.rollback(admin, 'events', 'fn', {});
      await assert.rejects(cp.setAlias(admin, 'events', 'fn', 'prod', 'ffffffffffffffffffff'), { code: 'E_VERSION_NOT_FOUND' });
      await assert.rejects(cp.deploy(admin, { app: 'events', function: 'fn', code: 'export default (' }), { code: 'E_SYNTAX' });
      assert.deepEqual(events, [
        { kind: 'alias', app: 'events', function: 'fn', alias: 'prod', versionId: a.version.id },
        { kind: 'alias', app: 'events', function: 'fn', alias: 'prod', versionId: b.version.id },
        { kind: 'alias', app: 'events', function: 'fn', alias: 'canary', versionId: a.version.id },
        { kind: 'alias', app: 'events', function: 'fn', alias: 'prod', versionId: a.version.id },
      ]);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      assert.deepEqual(warnings.filter((w) => w.includes('listener bug')).length, 4, 'a throwing listener is reported, not fatal');
    } finally {
      unsubscribe();
      throwing();
      process.off('warning', onWarning);
    }
    await cp.deploy(admin, { app: 'events', function: 'fn', code: handler('c') });
    assert.equal(events.length, 4, 'no events after unsubscribing');
  });

  it('apps can be created once and listed; missing apps and functions are 404s', async () => {
    const app = await cp.createApp(admin, 'created');
    assert.equal(app.name, 'created');
    await assert.rejects(cp.createApp(admin, 'created'), { code: 'E_APP_EXISTS', status: 409 });
    assert.ok((await cp.listApps(admin)).some((a) => a.name === 'created'));
    assert.deepEqual(await cp.listFunctions(admin, 'created'), []);
    await assert.rejects(cp.listFunctions(admin, 'missing'), { code: 'E_APP_NOT_FOUND', status: 404 });
    await assert.rejects(cp.getFunction(admin, 'created', 'fn'), { code: 'E_FUNCTION_NOT_FOUND', status: 404 });
    await assert.rejects(cp.getFunction(admin, 'missing', 'fn'), { code: 'E_APP_NOT_FOUND' });
    await assert.rejects(cp.listVersions(admin, 'created', 'fn'), { code: 'E_FUNCTION_NOT_FOUND' });
  });

  it('check reports diagnostics without storing anything', async () => {
    assert.deepEqual(await cp.check(handler(1)), { ok: true, diagnostics: [] });
    const report = await cp.check('export default function () { with (x) {} }');
    assert.equal(report.ok, false);
    assert.ok(report.diagnostics.length > 0);
    await assert.rejects(cp.check(42 as unknown as string), { code: 'E_VALIDATION' });
  });

  it('API keys authenticate to an admin actor; unknown, malformed and revoked keys do not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faas-keys-'));
    try {
      const first = await ensureAdminKey(store, dir);
      assert.equal(first.created, true);
      if (!first.created) return;
      assert.match(first.key, /^faas_[A-Za-z0-9_-]{43}$/);
      assert.equal((await readFile(join(dir, 'admin.key'), 'utf8')).trim(), first.key);
      assert.equal((await stat(join(dir, 'admin.key'))).mode & 0o777, 0o600);
      assert.deepEqual(await ensureAdminKey(store, dir), { created: false });
      const actor = await cp.authenticate(first.key);
      assert.equal(actor?.role, 'admin');
      assert.equal(actor?.name, 'admin');
      assert.equal(await cp.authenticate(`${first.key}x`), null);
      assert.equal(await cp.authenticate('not-a-key'), null);
      const stored = await store.findApiKeyByHash(hashApiKey(first.key));
      assert.equal(stored?.hash, hashApiKey(first.key), 'only the hash is stored');
      await store.createApiKey({ id: 'key_revoked', name: 'old', role: 'admin', apps: '*', hash: hashApiKey('faas_revoked'), createdAt: new Date().toISOString(), revokedAt: new Date().toISOString() });
      assert.equal(await cp.authenticate('faas_revoked'), null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

describeOverStores('control plane', contractSuite);

describe('openStore', () => {
  it('openStore creates the data directory with mode 0700', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faas-cp-'));
    try {
      const store = await openStore({ dataDir: join(dir, 'nested', 'data') });
      await store.close();
      assert.equal((await stat(join(dir, 'nested', 'data'))).mode & 0o777, 0o700);
      assert.ok((await stat(join(dir, 'nested', 'data', 'control-plane.db'))).isFile());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('control plane pieces that need no store', () => {
  describe('captured logs', () => {
    let dir: string;
    let store: Store;
    /** A control plane over `store` keeping 50 lines per function. */
    let cp: ControlPlane;
    /** Control planes a test opened besides `cp`; closed after it. */
    let others: ControlPlane[];

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'faas-cp-'));
      store = await openStore({ dataDir: dir });
      cp = createControlPlane({ store, logRingSize: 50 });
      others = [];
    });

    afterEach(async () => {
      for (const plane of [cp, ...others]) await plane?.close();
      await store?.close();
      await rm(dir, { recursive: true, force: true });
    });

    function line(n: number, extra: Partial<LogLine> = {}): LogLine {
      return { app: 'logs', function: 'fn', versionId: 'v', requestId: `r${n % 3}`, level: 'info', message: `line ${n}`, time: 1000 + n, ...extra };
    }

    it('the log ring keeps the newest lines per function, oldest first, and filters by since, requestId and limit', async () => {
      await cp.deploy(admin, { app: 'logs', function: 'fn', code: handler(1) });
      await cp.deploy(admin, { app: 'logs', function: 'other', code: handler(2) });
      await cp.appendLogs(Array.from({ length: 60 }, (_, i) => line(i)));
      await cp.appendLogs([line(0, { function: 'other', message: 'elsewhere' })]);
      const all = await cp.readLogs(admin, 'logs', 'fn', {});
      assert.equal(all.length, 50);
      assert.equal(all[0]?.message, 'line 10');
      assert.equal(all.at(-1)?.message, 'line 59');
      assert.deepEqual((await cp.readLogs(admin, 'logs', 'fn', { limit: 3 })).map((l) => l.message), ['line 57', 'line 58', 'line 59']);
      assert.deepEqual((await cp.readLogs(admin, 'logs', 'fn', { sinceMs: 1057 })).map((l) => l.message), ['line 57', 'line 58', 'line 59']);
      assert.ok((await cp.readLogs(admin, 'logs', 'fn', { requestId: 'r1' })).every((l) => l.requestId === 'r1'));
      assert.deepEqual((await cp.readLogs(admin, 'logs', 'other', {})).map((l) => l.message), ['elsewhere']);
      await assert.rejects(cp.readLogs(admin, 'logs', 'fn', { limit: 0 }), { code: 'E_VALIDATION' });
      await assert.rejects(cp.readLogs(admin, 'logs', 'missing', {}), { code: 'E_FUNCTION_NOT_FOUND' });
    });

    // Which lines go when an app is over budget is the store's rule (store/store.test.ts); the core
    // only passes logAppMaxBytes on and validates it.
    it('logAppMaxBytes reaches the store, and 0 is refused', async () => {
      const budgeted = createControlPlane({ store, logRingSize: 1000, logAppMaxBytes: 100_000 });
      others.push(budgeted);
      await budgeted.deploy(admin, { app: 'chatty', function: 'a', code: handler('chatty/a') });
      const big = (n: number): LogLine => ({ app: 'chatty', function: 'a', versionId: 'v', requestId: 'r', level: 'info', message: `${n} ${'x'.repeat(1000)}`, time: n });
      await budgeted.appendLogs(Array.from({ length: 200 }, (_, i) => big(i)));
      const kept = await budgeted.readLogs(admin, 'chatty', 'a', {});
      const usage = await store.logUsage('chatty');
      assert.ok(usage.bytes <= 100_000, `chatty holds ${usage.bytes} bytes`);
      assert.ok(kept.length > 0 && kept.length < 200, `the budget, not the 1000-line ring, trimmed the lines: ${kept.length} kept`);
      assert.equal(kept.at(-1)?.time, 199, 'the newest line is kept');
      assert.throws(() => createControlPlane({ store, logAppMaxBytes: 0 }), { code: 'ERR_INVALID_ARG_VALUE' });
    });

    it('readLogs with afterId returns only later lines in append order, and refuses a bad cursor', async () => {
      await cp.deploy(admin, { app: 'logs', function: 'fn', code: handler(1) });
      await cp.appendLogs([line(1), line(2)]);
      const first = await cp.readLogs(admin, 'logs', 'fn', {});
      const cursor = first.at(-1)?.id;
      assert.equal(typeof cursor, 'number');
      // Same millisecond as the last line seen, and an earlier one: both are new, both come back once.
      await cp.appendLogs([line(2, { message: 'same ms' }), line(0, { message: 'late clock' })]);
      const next = await cp.readLogs(admin, 'logs', 'fn', { afterId: cursor });
      assert.deepEqual(next.map((l) => l.message), ['same ms', 'late clock']);
      assert.deepEqual(await cp.readLogs(admin, 'logs', 'fn', { afterId: next.at(-1)?.id }), []);
      await assert.rejects(cp.readLogs(admin, 'logs', 'fn', { afterId: -1 }), { code: 'E_VALIDATION', details: { field: 'after' } });
      await assert.rejects(cp.appendLogs([line(3, { level: 'loud' as LogLine['level'] })]), { code: 'E_VALIDATION', details: { field: 'lines[0].level' } });
      assert.equal((await cp.readLogs(admin, 'logs', 'fn', {})).length, 4, 'the refused batch wrote nothing');
    });

    it('appendLogs refuses a line whose app or function is not a name, quoting the name rule', async () => {
      const refused = (error: { code?: string; details?: unknown; message: string }, field: string, text: string) => {
        assert.equal(error.code, 'E_VALIDATION');
        assert.deepEqual(error.details, { field });
        assert.ok(error.message.includes(text), error.message);
        return true;
      };
      await assert.rejects(cp.appendLogs([line(1), line(2, { app: 'Logs' })]), (error: Error) => refused(error, 'lines[1].app', `log line 1: app must be an app name (${NAME_PATTERN.source}), got "Logs"`));
      await assert.rejects(cp.appendLogs([line(1, { function: '' })]), (error: Error) => refused(error, 'lines[0].function', `function must be a function name (${NAME_PATTERN.source})`));
    });
  });

  it('authorize lets admins do everything and refuses other roles and missing actors', () => {
    authorize(admin, 'functions:deploy', 'game1');
    assert.throws(() => authorize({ ...admin, role: 'viewer' }, 'functions:deploy', 'game1'), { code: 'E_FORBIDDEN', status: 403 });
    assert.throws(() => authorize(null, 'apps:list', null), { code: 'E_UNAUTHORIZED', status: 401 });
  });

  it('createControlPlane refuses a bad logRingSize or check options', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faas-cp-'));
    const store = await openStore({ dataDir: dir });
    try {
      assert.throws(() => createControlPlane({ store, logRingSize: 0 }), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => createControlPlane({ store, checkOptions: { maxCodeBytes: -1 } }), { code: 'ERR_INVALID_ARG_VALUE' });
      const small = createControlPlane({ store, checkOptions: { maxCodeBytes: 100 } });
      await assert.rejects(small.deploy(admin, { app: 'small', function: 'fn', code: `${handler(1)}${' '.repeat(100)}` }), { code: 'E_CODE_TOO_LARGE' });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
