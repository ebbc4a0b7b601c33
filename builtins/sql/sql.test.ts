/**
 * `ctx.sql` host side: ONE contract suite run against both backends — SQLite files in a temporary
 * directory, and a throwaway MariaDB (`test/support/mariadb.ts`) — through the host exactly as the
 * isolate shim calls it (`execute(call, op, args)`), plus fault tests: MariaDB stopped mid-run and
 * started again, a SQLite executor killed from outside.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { isPlatformError } from '../../runtime/errors.ts';
import type { BuiltinCall } from '../../runtime/sandbox/interface.ts';
import { startMariaDb, type TestMariaDb } from '../../test/support/mariadb.ts';
import type { SqlBackend, SqlRow } from './backend.ts';
import { createSqlHost, type SqlHost, type SqlHostOptions } from './host.ts';
import { createMysqlSqlBackend } from './mysql-backend.ts';
import { appPassword, databaseName, userName } from './names.ts';
import { createSqliteSqlBackend } from './sqlite-backend.ts';
import { rejectsWith } from '../../test/support/assert-platform-error.ts';

const SECRET = Buffer.alloc(32, 7);
/** Small limits so the limit tests run fast; the defaults are checked in statement.test.ts. */
const HOST_OPTIONS: SqlHostOptions = { queryTimeoutMs: 1000, maxRows: 100, maxResultBytes: 64 * 1024 };

let counter = 0;
/** A fresh app name, so tests sharing a backend never see each other's tables. */
const newApp = (): string => `app${++counter}-${process.pid % 1000}`;

/** One invocation of a function of `app`, calling the host as the isolate shim does. */
interface Invocation {
  readonly call: BuiltinCall;
  /** End the invocation (its signal aborts). */
  end(): void;
  op(op: string, args: unknown[]): Promise<unknown>;
  query(text: string, params?: unknown[], txId?: string): Promise<SqlRow[]>;
  execute(text: string, params?: unknown[], txId?: string): Promise<{ affectedRows: number; insertId: number | string | null }>;
  begin(): Promise<string>;
  commit(txId: string): Promise<unknown>;
  rollback(txId: string): Promise<unknown>;
}

function invoke(host: SqlHost, app: string, deadlineMs = 30_000): Invocation {
  const controller = new AbortController();
  const call: BuiltinCall = { app, function: 'fn', versionId: 'v1', requestId: `req-${++counter}`, deadline: Date.now() + deadlineMs, signal: controller.signal };
  const op = (name: string, args: unknown[]): Promise<unknown> => host.execute(call, name, args);
  const statementArgs = (text: string, params: unknown[] | undefined, txId: string | undefined): unknown[] => (txId === undefined ? [text, params ?? []] : [text, params ?? [], { txId }]);
  return {
    call,
    end: () => controller.abort(),
    op,
    query: async (text, params, txId) => (await op('query', statementArgs(text, params, txId))) as SqlRow[],
    execute: async (text, params, txId) => (await op('execute', statementArgs(text, params, txId))) as { affectedRows: number; insertId: number | string | null },
    begin: async () => ((await op('begin', [])) as { txId: string }).txId,
    commit: (txId) => op('commit', [txId]),
    rollback: (txId) => op('rollback', [txId]),
  };
}

/** What differs between the backends; everything else in the contract is the same SQL. */
interface ContractEnv {
  readonly dialect: 'sqlite' | 'mysql';
  makeBackend(): Promise<SqlBackend>;
  /** An auto-numbered primary key column. */
  readonly pk: string;
  /** A statement that runs for seconds (or forever). */
  readonly slow: string;
  /** A one-row query whose column `b` is the bytes 00 ff. */
  readonly binary: string;
  /** Statements that would read or write files on the server. */
  readonly fileAccess: readonly string[];
  /** Statements that would switch database or change the session. */
  readonly sessionChanges: readonly string[];
  /** Statements that administer the server or the file. */
  readonly administration: readonly string[];
  /** The backend refuses what the statement check refuses, even when the check is bypassed. */
  bypass(backend: SqlBackend, appA: string, appB: string): Promise<void>;
}

const PLAYERS = (pk: string): string => `CREATE TABLE players (${pk}, name VARCHAR(100) NOT NULL UNIQUE, score DOUBLE, level BIGINT, note TEXT)`;
const MANY_ROWS = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT x FROM c';

function contract(name: string, env: ContractEnv): void {
  describe(`ctx.sql contract on ${name}`, () => {
    let backend: SqlBackend;
    let host: SqlHost;
    before(async () => {
      backend = await env.makeBackend();
      host = createSqlHost(backend, HOST_OPTIONS);
    });
    after(async () => {
      await host.close();
    });

    /** A fresh app with a `players` table, and an invocation of it. */
    const withPlayers = async (): Promise<Invocation> => {
      const fn = invoke(host, newApp());
      await fn.execute(PLAYERS(env.pk));
      return fn;
    };

    describe('query, execute and parameters', () => {
      it('execute creates tables and inserts with ? parameters; query returns plain row objects', async () => {
        const fn = await withPlayers();
        assert.deepEqual(await fn.execute('INSERT INTO players (name, score, level) VALUES (?, ?, ?)', ['alice', 12.5, 3]), { affectedRows: 1, insertId: 1 });
        assert.deepEqual(await fn.execute('INSERT INTO players (name, score, level) VALUES (?, ?, ?)', ['bob', 7, 1]), { affectedRows: 1, insertId: 2 });
        const rows = await fn.query('SELECT id, name, score, level, note FROM players WHERE level >= ? ORDER BY id', [1]);
        assert.deepEqual(rows, [
          { id: 1, name: 'alice', score: 12.5, level: 3, note: null },
          { id: 2, name: 'bob', score: 7, level: 1, note: null },
        ]);
        assert.equal(Object.getPrototypeOf(rows[0]), Object.prototype);
        assert.deepEqual(await fn.query('SELECT name FROM players WHERE name = ?', ['nobody']), []);
      });

      it('values round-trip: unicode text, integers, floats, booleans as 1/0, null; ? inside a literal is text', async () => {
        const fn = await withPlayers();
        await fn.execute('INSERT INTO players (name, score, level, note) VALUES (?, ?, ?, ?)', ['héllo 🌍 \'quoted\' "double" \\ back', -0.25, 9_007_199_254_740_991, null]);
        await fn.execute('INSERT INTO players (name, level, note) VALUES (?, ?, ?)', ['flags', true, false]);
        assert.deepEqual(await fn.query('SELECT name, score, level, note FROM players ORDER BY id'), [
          { name: 'héllo 🌍 \'quoted\' "double" \\ back', score: -0.25, level: 9_007_199_254_740_991, note: null },
          { name: 'flags', score: null, level: 1, note: '0' },
        ]);
        assert.deepEqual(await fn.query("SELECT '?' AS q, ? AS p", ['x']), [{ q: '?', p: 'x' }]);
        // An injection attempt is just a value.
        await fn.execute('INSERT INTO players (name) VALUES (?)', ["x'); DROP TABLE players; --"]);
        assert.equal((await fn.query('SELECT count(*) AS n FROM players'))[0].n, 3);
      });

      it('integers past 2^53 come back as exact decimal strings, binary values as base64', async () => {
        const fn = invoke(host, newApp());
        assert.deepEqual(await fn.query('SELECT 9223372036854775807 AS big, 42 AS small'), [{ big: '9223372036854775807', small: 42 }]);
        assert.deepEqual(await fn.query(env.binary), [{ b: 'AP8=' }]);
      });

      it('execute reports matched rows as affectedRows, and insertId only for inserts', async () => {
        const fn = await withPlayers();
        await fn.execute('INSERT INTO players (name, score) VALUES (?, ?), (?, ?)', ['a', 1, 'b', 1]);
        assert.deepEqual(await fn.execute('UPDATE players SET score = ? WHERE score = ?', [1, 1]), { affectedRows: 2, insertId: null });
        assert.deepEqual(await fn.execute('DELETE FROM players WHERE name = ?', ['nobody']), { affectedRows: 0, insertId: null });
        assert.deepEqual(await fn.execute('DELETE FROM players WHERE name = ?', ['a']), { affectedRows: 1, insertId: null });
        assert.deepEqual(await fn.execute('CREATE INDEX players_score ON players (score)'), { affectedRows: 0, insertId: null });
        assert.deepEqual(await fn.query('UPDATE players SET score = ?', [2]), []);
      });

      it("a constraint violation is E_SQL_ERROR with the database's message and details.constraint", async () => {
        const fn = await withPlayers();
        await fn.execute('INSERT INTO players (name) VALUES (?)', ['alice']);
        const unique = await rejectsWith(fn.execute('INSERT INTO players (name) VALUES (?)', ['alice']), 'E_SQL_ERROR', /alice|UNIQUE/i);
        assert.equal(unique.constraint, 'unique');
        assert.equal(typeof unique.dbCode, 'string');
        const notNull = await rejectsWith(fn.execute('INSERT INTO players (name) VALUES (?)', [null]), 'E_SQL_ERROR', /name/);
        assert.equal(notNull.constraint, 'not_null');
      });

      it("a syntax error or an unknown table is E_SQL_ERROR with the database's own message", async () => {
        const fn = invoke(host, newApp());
        await rejectsWith(fn.query('SELECT FROM WHERE'), 'E_SQL_ERROR', /syntax/i);
        await rejectsWith(fn.query('SELECT * FROM missing_table'), 'E_SQL_ERROR', /missing_table/);
      });

      it('bad arguments are refused with a message naming what is wrong, before reaching the database', async () => {
        const fn = await withPlayers();
        await rejectsWith(fn.query('SELECT ? AS a, ? AS b', [1]), 'E_SQL_BAD_ARGUMENTS', /2 \? placeholders but 1 param was given/);
        await rejectsWith(fn.query('SELECT 1 AS a', [1]), 'E_SQL_BAD_ARGUMENTS', /0 \? placeholders but 1 param was given/);
        await rejectsWith(fn.query('SELECT ? AS a', [{ a: 1 }]), 'E_SQL_BAD_ARGUMENTS', /params\[0\] is an object.*JSON\.stringify/);
        await rejectsWith(fn.query('SELECT ? AS a', [Number.NaN]), 'E_SQL_BAD_ARGUMENTS', /params\[0\] is NaN/);
        await rejectsWith(fn.op('query', ['SELECT ? AS a', 'x']), 'E_SQL_BAD_ARGUMENTS', /params must be an array/);
        await rejectsWith(fn.op('query', [42]), 'E_SQL_BAD_ARGUMENTS', /SQL text must be a string, got a number/);
        await rejectsWith(fn.op('query', []), 'E_SQL_BAD_ARGUMENTS', /takes \(text, params\?, options\?\)/);
        await rejectsWith(fn.op('query', ['   ']), 'E_SQL_BAD_ARGUMENTS', /empty/);
        await rejectsWith(fn.op('query', [`SELECT '${'x'.repeat(70_000)}'`]), 'E_SQL_BAD_ARGUMENTS', /at most 65536 are allowed/);
        await rejectsWith(fn.op('query', ['SELECT 1', [], { timeout: 5 }]), 'E_SQL_BAD_ARGUMENTS', /unknown option "timeout"/);
        await rejectsWith(fn.op('query', ['SELECT 1', [], { txId: 7 }]), 'E_SQL_BAD_ARGUMENTS', /txId must be the string/);
        await rejectsWith(fn.op('drop', []), 'E_SQL_BAD_ARGUMENTS', /unknown ctx\.sql operation "drop"; the operations are query, execute, begin, commit, rollback/);
        await rejectsWith(fn.op('begin', ['x']), 'E_SQL_BAD_ARGUMENTS', /begin takes no arguments/);
        await rejectsWith(host.execute(fn.call, 'query', 'SELECT 1' as unknown as unknown[]), 'E_SQL_BAD_ARGUMENTS', /arguments must be an array/);
        assert.deepEqual(await fn.query('SELECT count(*) AS n FROM players'), [{ n: 0 }]);
      });
    });

    describe('provisioning', () => {
      it('provisionApp is idempotent and the app can use its database at once', async () => {
        const app = newApp();
        await backend.provisionApp(app);
        await backend.provisionApp(app);
        const fn = invoke(host, app);
        await fn.execute('CREATE TABLE t (v VARCHAR(10))');
        await backend.provisionApp(app);
        assert.deepEqual(await fn.query('SELECT count(*) AS n FROM t'), [{ n: 0 }]);
      });

      it('an invalid app name is a platform bug (E_INTERNAL), never a database name', async () => {
        await assert.rejects(backend.provisionApp('../evil'), (err: unknown) => isPlatformError(err) && err.code === 'E_INTERNAL');
        await assert.rejects(invoke(host, 'Bad_Name').query('SELECT 1 AS one'), (err: unknown) => isPlatformError(err) && err.code === 'E_INTERNAL');
      });
    });

    describe('limits', () => {
      it('a query over the row cap fails with E_SQL_TOO_MANY_ROWS; at the cap every row is returned', async () => {
        const fn = invoke(host, newApp());
        assert.equal((await fn.query(MANY_ROWS, [100])).length, 100);
        const details = await rejectsWith(fn.query(MANY_ROWS, [101]), 'E_SQL_TOO_MANY_ROWS', /more than 100 rows.*nothing is returned/);
        assert.equal(details.limit, 100);
        assert.equal((await fn.query('SELECT 1 AS one')).length, 1);
      });

      it('a result over maxResultBytes fails with E_SQL_RESULT_TOO_LARGE', async () => {
        const fn = invoke(host, newApp());
        await rejectsWith(fn.query('SELECT ? AS a, ? AS b', ['x'.repeat(40_000), 'y'.repeat(40_000)]), 'E_SQL_RESULT_TOO_LARGE', /larger than 65536 bytes/);
      });

      it('a slow statement is stopped after the query timeout with E_SQL_TIMEOUT, and the next one works', async () => {
        const fn = await withPlayers();
        await fn.execute('INSERT INTO players (name) VALUES (?)', ['kept']);
        const started = Date.now();
        const details = await rejectsWith(fn.query(env.slow), 'E_SQL_TIMEOUT', /did not finish within 1000 ms and was stopped/);
        assert.equal(details.timeoutMs, 1000);
        assert.ok(Date.now() - started < 5000, 'the statement was stopped, not waited for');
        assert.deepEqual(await fn.query('SELECT name FROM players'), [{ name: 'kept' }]);
      });

      it('the timeout is capped by the invocation deadline, and a call after the deadline does not run', async () => {
        const fn = invoke(host, newApp(), 300);
        const details = await rejectsWith(fn.query(env.slow), 'E_SQL_TIMEOUT');
        assert.ok((details.timeoutMs as number) <= 300, `timeoutMs ${String(details.timeoutMs)}`);
        await sleep(Math.max(0, fn.call.deadline - Date.now()) + 10);
        await rejectsWith(fn.query('SELECT 1 AS one'), 'E_SQL_TIMEOUT', /deadline has passed; the statement was not run/);
      });
    });

    describe('transactions', () => {
      it('commit makes the writes visible to other invocations; before it they see none', async () => {
        const fn = await withPlayers();
        const txId = await fn.begin();
        assert.match(txId, /^tx_[A-Za-z0-9_-]{24}$/);
        await fn.execute('INSERT INTO players (name, score) VALUES (?, ?)', ['alice', 1], txId);
        await fn.execute('UPDATE players SET score = score + ? WHERE name = ?', [10, 'alice'], txId);
        assert.deepEqual(await fn.query('SELECT score FROM players WHERE name = ?', ['alice'], txId), [{ score: 11 }]);
        const other = invoke(host, fn.call.app);
        assert.deepEqual(await other.query('SELECT * FROM players'), []);
        assert.equal(await fn.commit(txId), null);
        assert.deepEqual(await other.query('SELECT name, score FROM players'), [{ name: 'alice', score: 11 }]);
      });

      it('rollback discards the writes and frees the transaction', async () => {
        const fn = await withPlayers();
        const txId = await fn.begin();
        await fn.execute('INSERT INTO players (name) VALUES (?)', ['ghost'], txId);
        assert.equal(await fn.rollback(txId), null);
        assert.deepEqual(await fn.query('SELECT * FROM players'), []);
        await rejectsWith(fn.execute('INSERT INTO players (name) VALUES (?)', ['late'], txId), 'E_SQL_TX', /no longer open: it was rolled back/);
        const next = await fn.begin();
        await fn.execute('INSERT INTO players (name) VALUES (?)', ['ghost'], next);
        await fn.commit(next);
        assert.deepEqual(await fn.query('SELECT name FROM players'), [{ name: 'ghost' }]);
      });

      it('a transaction is rolled back when its invocation ends, and its locks are freed', async () => {
        const fn = await withPlayers();
        const txId = await fn.begin();
        await fn.execute('INSERT INTO players (name) VALUES (?)', ['abandoned'], txId);
        fn.end();
        const other = invoke(host, fn.call.app);
        // The same unique name can be inserted: the abandoned row and its locks are gone.
        await other.execute('INSERT INTO players (name) VALUES (?)', ['abandoned']);
        assert.deepEqual(await other.query('SELECT count(*) AS n FROM players'), [{ n: 1 }]);
        await rejectsWith(other.commit(txId), 'E_SQL_TX', /no transaction has txId/);
      });

      it('a transaction is rolled back when the invocation deadline passes', async () => {
        const app = newApp();
        await invoke(host, app).execute(PLAYERS(env.pk));
        const fn = invoke(host, app, 600);
        const txId = await fn.begin();
        await fn.execute('INSERT INTO players (name) VALUES (?)', ['too-late'], txId);
        await sleep(Math.max(0, fn.call.deadline - Date.now()) + 100);
        await rejectsWith(fn.commit(txId), 'E_SQL_TX', /rolled back automatically because the invocation deadline passed/);
        const other = invoke(host, app);
        await other.execute('INSERT INTO players (name) VALUES (?)', ['too-late']);
        assert.deepEqual(await other.query('SELECT count(*) AS n FROM players'), [{ n: 1 }]);
      });

      it('a txId from another invocation or another app is refused', async () => {
        const fn = await withPlayers();
        const txId = await fn.begin();
        const sameApp = invoke(host, fn.call.app);
        await rejectsWith(sameApp.query('SELECT 1 AS one', [], txId), 'E_SQL_TX', /belongs to another invocation/);
        await rejectsWith(sameApp.commit(txId), 'E_SQL_TX', /belongs to another invocation/);
        await rejectsWith(sameApp.rollback(txId), 'E_SQL_TX', /belongs to another invocation/);
        const otherApp = invoke(host, newApp());
        await rejectsWith(otherApp.execute('INSERT INTO players (name) VALUES (?)', ['x'], txId), 'E_SQL_TX', /belongs to another invocation/);
        // The owner's transaction is untouched.
        await fn.execute('INSERT INTO players (name) VALUES (?)', ['owner'], txId);
        await fn.commit(txId);
        assert.deepEqual(await sameApp.query('SELECT name FROM players'), [{ name: 'owner' }]);
      });

      it('unknown txIds, a second commit and nested begins are E_SQL_TX; rollback of an ended one is a no-op', async () => {
        const fn = await withPlayers();
        await rejectsWith(fn.commit('tx_nope'), 'E_SQL_TX', /no transaction has txId "tx_nope"/);
        await rejectsWith(fn.commit(''), 'E_SQL_BAD_ARGUMENTS', /txId must be the string returned by begin/);
        const txId = await fn.begin();
        await rejectsWith(fn.begin(), 'E_SQL_TX', /already has an open transaction.*cannot be nested/);
        await fn.commit(txId);
        await rejectsWith(fn.commit(txId), 'E_SQL_TX', /no longer open: it was committed/);
        assert.equal(await fn.rollback(txId), null);
        const again = await fn.begin();
        await fn.rollback(again);
      });

      it('a statement timeout inside a transaction rolls the transaction back', async () => {
        const fn = await withPlayers();
        const txId = await fn.begin();
        await fn.execute('INSERT INTO players (name) VALUES (?)', ['before-timeout'], txId);
        await rejectsWith(fn.query(env.slow, [], txId), 'E_SQL_TIMEOUT', /the transaction was rolled back/);
        await rejectsWith(fn.execute('INSERT INTO players (name) VALUES (?)', ['after'], txId), 'E_SQL_TX', /rolled back because .*ran longer than/);
        await rejectsWith(fn.commit(txId), 'E_SQL_TX');
        assert.equal(await fn.rollback(txId), null);
        assert.deepEqual(await fn.query('SELECT * FROM players'), []);
      });

      it('an error or the row cap inside a transaction leaves it usable', async () => {
        const fn = await withPlayers();
        const txId = await fn.begin();
        await fn.execute('INSERT INTO players (name) VALUES (?)', ['one'], txId);
        await rejectsWith(fn.execute('INSERT INTO players (name) VALUES (?)', ['one'], txId), 'E_SQL_ERROR');
        await rejectsWith(fn.query(MANY_ROWS, [500], txId), 'E_SQL_TOO_MANY_ROWS');
        await fn.execute('INSERT INTO players (name) VALUES (?)', ['two'], txId);
        await fn.commit(txId);
        assert.deepEqual(await fn.query('SELECT name FROM players ORDER BY name'), [{ name: 'one' }, { name: 'two' }]);
      });

      it('statements of one transaction run in call order even when sent together', async () => {
        const fn = await withPlayers();
        const txId = await fn.begin();
        await Promise.all(Array.from({ length: 10 }, (_, i) => fn.execute('INSERT INTO players (name, level) VALUES (?, ?)', [`p${i}`, i], txId)));
        await fn.commit(txId);
        assert.deepEqual((await fn.query('SELECT level FROM players ORDER BY id')).map((r) => r.level), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      });

      it('transaction control as SQL text is refused: transactions go through begin/commit', async () => {
        const fn = invoke(host, newApp());
        for (const text of ['BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT a']) {
          await rejectsWith(fn.execute(text), 'E_SQL_REFUSED', /ctx\.sql\.transaction/);
        }
      });
    });

    describe('one statement per call', () => {
      it('chained statements are refused and none of them runs; one trailing semicolon is fine', async () => {
        const fn = await withPlayers();
        await rejectsWith(fn.execute('INSERT INTO players (name) VALUES (?); DROP TABLE players', ['x']), 'E_SQL_REFUSED', /only one statement per call/);
        await rejectsWith(fn.query("SELECT ';' AS s; DELETE FROM players"), 'E_SQL_REFUSED', /only one statement per call/);
        assert.deepEqual(await fn.query('SELECT count(*) AS n FROM players;'), [{ n: 0 }]);
        assert.deepEqual(await fn.query("SELECT ';' AS s"), [{ s: ';' }]);
      });
    });

    describe('isolation', () => {
      it('each app has its own database: the same table name holds different data', async () => {
        const a = await withPlayers();
        const b = await withPlayers();
        await a.execute('INSERT INTO players (name) VALUES (?)', ['only-a']);
        await b.execute('INSERT INTO players (name) VALUES (?)', ['only-b']);
        assert.deepEqual(await a.query('SELECT name FROM players'), [{ name: 'only-a' }]);
        assert.deepEqual(await b.query('SELECT name FROM players'), [{ name: 'only-b' }]);
      });

      it("naming another app's database is refused", async () => {
        const a = invoke(host, newApp());
        const b = await withPlayers();
        await b.execute('INSERT INTO players (name) VALUES (?)', ['secret']);
        const other = databaseName(b.call.app);
        for (const text of [`SELECT * FROM ${other}.players`, `SELECT * FROM \`${other}\`.players`, `INSERT INTO ${other}.players (name) VALUES ('x')`, `SELECT * FROM faas_app_b.t`]) {
          await rejectsWith(a.query(text), 'E_SQL_REFUSED', /another app's database/);
        }
      });

      it("information_schema shows nothing of another app", async () => {
        const a = invoke(host, newApp());
        const b = await withPlayers();
        const other = databaseName(b.call.app);
        try {
          const rows = await a.query('SELECT table_schema, table_name FROM information_schema.tables');
          assert.ok(!JSON.stringify(rows).includes(other), 'no row names the other app');
          assert.ok(!JSON.stringify(rows).includes('players'), "the other app's table is not listed");
        } catch (err) {
          assert.ok(isPlatformError(err) && err.code === 'E_SQL_ERROR', String(err)); // SQLite has no information_schema
        }
      });

      it('file access is refused', async () => {
        const a = await withPlayers();
        for (const text of env.fileAccess) await rejectsWith(a.query(text), 'E_SQL_REFUSED');
      });

      it('changing the database or the session is refused', async () => {
        const a = invoke(host, newApp());
        for (const text of env.sessionChanges) await rejectsWith(a.query(text), 'E_SQL_REFUSED');
      });

      it('server and file administration is refused', async () => {
        const a = invoke(host, newApp());
        for (const text of env.administration) await rejectsWith(a.query(text), 'E_SQL_REFUSED');
      });

      it('the database itself refuses the same things when the statement check is bypassed', async () => {
        const a = invoke(host, newApp());
        const b = await withPlayers();
        await a.query('SELECT 1 AS one');
        await b.execute('INSERT INTO players (name) VALUES (?)', ['secret']);
        await env.bypass(backend, a.call.app, b.call.app);
      });
    });
  });
}

/** A statement as `backend.run` takes it, without the host's statement check. */
function unchecked(text: string) {
  return { statement: { text, placeholders: 0, verb: 'select', inserts: false, writesRows: false }, params: [], mode: 'query' as const, maxRows: 100, maxResultBytes: 65536, deadline: Date.now() + 2000, timeoutMs: 2000 };
}

const sqliteDir = mkdtempSync(join(tmpdir(), 'faas-sql-test-'));
after(() => rmSync(sqliteDir, { recursive: true, force: true }));

contract('SQLite files (embedded)', {
  dialect: 'sqlite',
  makeBackend: async () => createSqliteSqlBackend({ dir: sqliteDir }),
  pk: 'id INTEGER PRIMARY KEY',
  slow: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c',
  binary: "SELECT x'00ff' AS b",
  fileAccess: ["VACUUM INTO '/tmp/faas-sql-copy.db'", "ATTACH DATABASE '/tmp/faas-sql-other.db' AS other", "SELECT load_extension('/tmp/evil.so')", 'SELECT * FROM pragma_database_list'],
  sessionChanges: ['USE other', "ATTACH '/tmp/x.db' AS x", 'DETACH x', 'PRAGMA journal_mode = DELETE', 'PRAGMA foreign_keys = OFF', 'PRAGMA writable_schema = ON'],
  administration: ['VACUUM', 'PRAGMA wal_checkpoint', 'PRAGMA temp_store_directory = \'/tmp\'', 'REINDEX', 'PRAGMA user_version = 5'],
  async bypass(backend, appA) {
    const target = join(sqliteDir, 'bypass-target.db');
    // The authorizer (ATTACH, PRAGMA, functions, transactions) and the attach limit (VACUUM INTO)
    // hold even for text that never went through the statement check.
    await rejectsWith(backend.run(appA, unchecked(`ATTACH DATABASE '${target}' AS x`)), 'E_SQL_REFUSED', /ATTACH is not allowed/);
    await rejectsWith(backend.run(appA, unchecked('PRAGMA journal_mode = DELETE')), 'E_SQL_REFUSED', /PRAGMA journal_mode is not allowed/);
    await rejectsWith(backend.run(appA, unchecked("SELECT load_extension('/tmp/evil.so')")), 'E_SQL_REFUSED', /load_extension\(\) is not allowed/);
    await rejectsWith(backend.run(appA, unchecked('SELECT * FROM pragma_database_list')), 'E_SQL_REFUSED', /pragma_database_list/);
    await rejectsWith(backend.run(appA, unchecked('BEGIN')), 'E_SQL_REFUSED', /BEGIN is not allowed/);
    // VACUUM INTO attaches its target internally: both the authorizer and the attach limit stop it.
    await assert.rejects(backend.run(appA, unchecked(`VACUUM INTO '${target}'`)), (err: unknown) => isPlatformError(err) && (err.code === 'E_SQL_REFUSED' || err.code === 'E_SQL_ERROR'));
    await rejectsWith(backend.run(appA, unchecked("UPDATE sqlite_master SET sql = 'x'")), 'E_SQL_ERROR');
    assert.equal(existsSync(target), false, 'no file was written');
  },
});

let mariadb: TestMariaDb | null = null;
before(async () => {
  mariadb = await startMariaDb();
});
after(async () => {
  await mariadb?.stop();
});

contract('MariaDB (one database and user per app)', {
  dialect: 'mysql',
  makeBackend: async () => createMysqlSqlBackend({ adminUrl: (mariadb as TestMariaDb).url, platformSecret: SECRET }),
  pk: 'id BIGINT AUTO_INCREMENT PRIMARY KEY',
  slow: 'SELECT SLEEP(3) AS s',
  binary: "SELECT UNHEX('00FF') AS b",
  fileAccess: ["SELECT LOAD_FILE('/etc/passwd') AS f", "SELECT * FROM players INTO OUTFILE '/tmp/faas-out.txt'", "SELECT name INTO DUMPFILE '/tmp/faas-dump' FROM players", "LOAD DATA INFILE '/etc/passwd' INTO TABLE players", "CREATE TABLE t (a INT) DATA DIRECTORY = '/tmp'"],
  sessionChanges: ['USE mysql', 'USE faas_app_other', "ATTACH 'x' AS x", 'SET SESSION sql_mode = \'ANSI_QUOTES\'', 'SET @x = 1', 'SELECT @x := 1', "/*!50000 SET SESSION max_statement_time = 0 */ SELECT 1", 'SELECT /*+ SET_VAR(max_statement_time=0) */ 1'],
  administration: ["GRANT ALL ON *.* TO 'x'@'%'", "CREATE USER 'x'@'%' IDENTIFIED BY 'y'", 'SET GLOBAL max_connections = 1', 'SELECT * FROM mysql.user', 'KILL 1', 'SHOW PROCESSLIST', 'DROP DATABASE faas_app_x', "SELECT GET_LOCK('shared', 1) AS l", 'FLUSH PRIVILEGES'],
  async bypass(_backend, appA, appB) {
    // Connect as app A's own user, as a function's statements do, with no statement check at all.
    const server = mariadb as TestMariaDb;
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: server.port, user: userName(appA), password: appPassword(SECRET, appA), database: databaseName(appA) });
    try {
      const other = databaseName(appB);
      const denied = async (text: string, message: RegExp): Promise<void> => {
        await assert.rejects(conn.query(text), (err: Error) => {
          assert.match(err.message, message, text);
          return true;
        });
      };
      await denied(`SELECT * FROM ${other}.players`, /denied/);
      await denied(`USE ${other}`, /denied/);
      await denied("SELECT 1 INTO OUTFILE '/tmp/faas-bypass.txt'", /denied|FILE privilege/);
      await denied('SET GLOBAL max_connections = 1', /denied|privilege/);
      await denied("CREATE USER 'bypass'@'%'", /denied|privilege/);
      await denied('SELECT * FROM mysql.user', /denied/);
      await denied(`GRANT SELECT ON ${other}.* TO CURRENT_USER()`, /denied/);
      const [loaded] = await conn.query("SELECT LOAD_FILE('/etc/passwd') AS f");
      assert.deepEqual(loaded, [{ f: null }]);
      const [schemas] = await conn.query('SELECT schema_name AS s FROM information_schema.schemata');
      assert.deepEqual((schemas as Array<{ s: string }>).map((r) => r.s).sort(), [databaseName(appA), 'information_schema'].sort());
      const [tables] = await conn.query('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ?', [other]);
      assert.deepEqual(tables, []);
      const [databases] = await conn.query('SHOW DATABASES');
      assert.deepEqual((databases as Array<{ Database: string }>).map((r) => r.Database).sort(), [databaseName(appA), 'information_schema'].sort());
    } finally {
      await conn.end();
    }
  },
});

describe('SQLite backend faults', () => {
  it('an executor killed from outside is replaced on the next call, and committed data survives', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faas-sql-kill-'));
    const errors: string[] = [];
    const host = createSqlHost(createSqliteSqlBackend({ dir, onError: (err) => errors.push(err.message) }), HOST_OPTIONS);
    try {
      const fn = invoke(host, 'killed-app');
      await fn.execute('CREATE TABLE t (v TEXT)');
      await fn.execute('INSERT INTO t (v) VALUES (?)', ['durable']);
      const children = spawnSync('pgrep', ['-P', String(process.pid), '-f', 'sqlite-executor'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
      assert.ok(children.length >= 1, 'an executor process is running');
      for (const pid of children) process.kill(Number(pid), 'SIGKILL');
      await sleep(200);
      assert.ok(errors.some((m) => /exited \(signal SIGKILL\)/.test(m)), errors.join('\n'));
      assert.deepEqual(await fn.query('SELECT v FROM t'), [{ v: 'durable' }]);
    } finally {
      await host.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the database size and value size caps fail writes with the database\'s message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faas-sql-caps-'));
    const host = createSqlHost(createSqliteSqlBackend({ dir, maxDatabaseBytes: 256 * 1024, maxValueBytes: 100_000 }), HOST_OPTIONS);
    try {
      const fn = invoke(host, 'capped');
      await fn.execute('CREATE TABLE t (v BLOB)');
      await rejectsWith(fn.execute('INSERT INTO t (v) VALUES (randomblob(?))', [200_000]), 'E_SQL_ERROR', /too big/);
      await assert.rejects(async () => {
        for (let i = 0; i < 10; i++) await fn.execute('INSERT INTO t (v) VALUES (randomblob(?))', [90_000]);
      }, (err: unknown) => isPlatformError(err) && err.code === 'E_SQL_ERROR' && /full/.test(err.message) && err.details.dbCode === 'SQLITE_FULL');
    } finally {
      await host.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a data directory that cannot be created makes calls fail with E_SQL_UNAVAILABLE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faas-sql-bad-'));
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const host = createSqlHost(createSqliteSqlBackend({ dir: join(file, 'sql') }));
    try {
      await rejectsWith(invoke(host, 'app').query('SELECT 1 AS one'), 'E_SQL_UNAVAILABLE', /cannot be created/);
    } finally {
      await host.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a second executor slot is waited for, and an idle one is recycled for another app', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faas-sql-slots-'));
    const host = createSqlHost(createSqliteSqlBackend({ dir, maxExecutors: 1 }), HOST_OPTIONS);
    try {
      const results = await Promise.all(['slot-a', 'slot-b', 'slot-c'].map((app) => invoke(host, app).query('SELECT ? AS app', [app])));
      assert.deepEqual(results, [[{ app: 'slot-a' }], [{ app: 'slot-b' }], [{ app: 'slot-c' }]]);
    } finally {
      await host.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('MariaDB faults', () => {
  let server: TestMariaDb;
  let host: SqlHost;
  before(async () => {
    server = await startMariaDb();
    host = createSqlHost(createMysqlSqlBackend({ adminUrl: server.url, platformSecret: SECRET }), HOST_OPTIONS);
  });
  after(async () => {
    await host?.close();
    await server?.stop();
  });

  it('a statement past its timeout is stopped on the server too, not just abandoned', async () => {
    const fn = invoke(host, 'killed-on-server');
    await rejectsWith(fn.query('SELECT SLEEP(5) AS s'), 'E_SQL_TIMEOUT', /within 1000 ms/);
    const root = await mysql.createConnection({ host: '127.0.0.1', port: server.port, user: 'root' });
    try {
      let running = -1;
      for (let i = 0; i < 100 && running !== 0; i++) {
        if (i > 0) await sleep(20);
        const [rows] = await root.query("SELECT COUNT(*) AS n FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(5)%'");
        running = Number((rows as Array<{ n: number }>)[0].n);
      }
      assert.equal(running, 0, 'the SLEEP is no longer running on the server');
    } finally {
      await root.end();
    }
    assert.deepEqual(await fn.query('SELECT 1 AS one'), [{ one: 1 }]);
  });

  it('stopping MariaDB mid-run fails calls quickly with E_SQL_UNAVAILABLE; after it starts again they work', async () => {
    const fn = invoke(host, 'outage');
    await fn.execute('CREATE TABLE t (v VARCHAR(20))');
    await fn.execute('INSERT INTO t (v) VALUES (?)', ['before']);
    const txId = await fn.begin();
    await fn.execute('INSERT INTO t (v) VALUES (?)', ['in-flight-tx'], txId);

    await server.halt();
    const started = Date.now();
    await rejectsWith(fn.query('SELECT v FROM t'), 'E_SQL_UNAVAILABLE', /the SQL database is unavailable/);
    await rejectsWith(invoke(host, 'outage').execute('INSERT INTO t (v) VALUES (?)', ['during']), 'E_SQL_UNAVAILABLE');
    await rejectsWith(invoke(host, 'never-seen').query('SELECT 1 AS one'), 'E_SQL_UNAVAILABLE');
    assert.ok(Date.now() - started < 3000, `failed fast (${Date.now() - started} ms)`);
    await rejectsWith(fn.commit(txId), 'E_SQL_UNAVAILABLE');

    await server.restart();
    const again = invoke(host, 'outage');
    assert.deepEqual(await again.query('SELECT v FROM t ORDER BY v'), [{ v: 'before' }]);
    await again.execute('INSERT INTO t (v) VALUES (?)', ['after']);
    assert.deepEqual(await invoke(host, 'never-seen').query('SELECT 1 AS one'), [{ one: 1 }]);
  });

  it('a frozen MariaDB makes a call fail within the query timeout instead of hanging', async () => {
    const fn = invoke(host, 'frozen');
    await fn.query('SELECT 1 AS one');
    await server.freeze();
    try {
      const started = Date.now();
      await assert.rejects(fn.query('SELECT 1 AS one'), (err: unknown) => isPlatformError(err) && (err.code === 'E_SQL_TIMEOUT' || err.code === 'E_SQL_UNAVAILABLE'));
      assert.ok(Date.now() - started < 3000, `bounded (${Date.now() - started} ms)`);
    } finally {
      server.thaw();
    }
    assert.deepEqual(await invoke(host, 'frozen').query('SELECT 2 AS two'), [{ two: 2 }]);
  });
});
