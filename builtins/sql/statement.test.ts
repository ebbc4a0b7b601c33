/**
 * Unit tests of the pieces of `ctx.sql` that need no database: the statement check (both
 * dialects), per-app MySQL names and passwords, parameter and value conversion, and option
 * validation. The contract suite against real databases is `sql.test.ts`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPlatformError } from '../../runtime/errors.ts';
import { BUILTIN_ERRORS } from '../errors.ts';
import type { SqlBackend } from './backend.ts';
import { createSqlHost } from './host.ts';
import { createMysqlSqlBackend } from './mysql-backend.ts';
import { appPassword, databaseName, userName } from './names.ts';
import { createSqliteSqlBackend } from './sqlite-backend.ts';
import { checkStatement, type SqlDialect } from './statement.ts';
import { convertParams, createRowCollector, toSqlValue } from './values.ts';

function refused(text: string, dialect: SqlDialect, message: RegExp, code = 'E_SQL_REFUSED', own = 'faas_app_game1'): void {
  assert.throws(() => checkStatement(text, dialect, own), (err: unknown) => {
    assert.ok(isPlatformError(err), `expected a PlatformError for ${text}`);
    assert.equal(err.code, code, `${text}: ${err.message}`);
    assert.match(err.message, message, text);
    return true;
  });
}

const both: SqlDialect[] = ['mysql', 'sqlite'];

describe('statement check', () => {
  it('accepts ordinary statements and counts ? placeholders outside literals and comments', () => {
    for (const dialect of both) {
      const info = checkStatement("SELECT '?', x /* ? */ FROM t WHERE a = ? -- ?\n AND b = ?", dialect, 'faas_app_game1');
      assert.equal(info.placeholders, 2, dialect);
      assert.equal(info.verb, 'select');
      assert.equal(checkStatement('INSERT INTO t (a) VALUES (?)', dialect, 'main').inserts, true);
      assert.equal(checkStatement('WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x', dialect, 'main').inserts, true);
      assert.equal(checkStatement('WITH x AS (SELECT 1 AS a) SELECT * FROM x', dialect, 'main').inserts, false);
      assert.equal(checkStatement('UPDATE t SET a = ? WHERE id = ?', dialect, 'main').placeholders, 2);
      assert.equal(checkStatement('(SELECT 1) UNION (SELECT 2)', dialect, 'main').verb, 'select');
    }
    assert.equal(checkStatement('SELECT "a?b", `c?`, ? FROM t', 'mysql', 'x').placeholders, 1);
    assert.equal(checkStatement('SELECT "a?b", [c?], ? FROM t', 'sqlite', 'main').placeholders, 1);
    assert.equal(checkStatement("SELECT 'it''s ?', 'a\\' ?', ?", 'mysql', 'x').placeholders, 1, 'MySQL strings take backslash escapes');
    assert.equal(checkStatement("SELECT 'a\\', ?", 'sqlite', 'main').placeholders, 1, 'SQLite strings do not');
  });

  it('allows one trailing semicolon and strips it; refuses a second statement wherever it hides', () => {
    for (const dialect of both) {
      assert.equal(checkStatement('SELECT 1; -- done\n', dialect, 'main').text, 'SELECT 1');
      assert.equal(checkStatement("SELECT ';' AS s", dialect, 'main').text, "SELECT ';' AS s");
      refused('SELECT 1; SELECT 2', dialect, /only one statement per call .* line 1, column 11/);
      refused('SELECT 1;\nDROP TABLE t', dialect, /line 2, column 1/);
      refused('SELECT 1;;', dialect, /only one statement/);
      refused("SELECT ';'; DELETE FROM t", dialect, /only one statement/);
    }
    refused('SELECT 1 # comment ;\n; SELECT 2', 'mysql', /only one statement/);
    refused('SELECT 1 --x\n; SELECT 2', 'mysql', /only one statement/);
  });

  it('refuses statements outside the allowlist with the reason', () => {
    refused('USE faas_app_other', 'mysql', /names another app's database/);
    refused('USE mydb', 'mysql', /USE is not allowed: the connection is fixed/);
    refused('SET GLOBAL max_connections = 1', 'mysql', /SET is not allowed/);
    refused("GRANT ALL ON *.* TO 'x'@'%'", 'mysql', /GRANT is not allowed/);
    refused("CREATE USER 'x'@'%'", 'mysql', /CREATE USER is not allowed/);
    refused('CREATE DATABASE x', 'mysql', /CREATE DATABASE is not allowed/);
    refused('DROP DATABASE faas_app_game1', 'mysql', /DROP DATABASE is not allowed/);
    refused("LOAD DATA INFILE '/etc/passwd' INTO TABLE t", 'mysql', /LOAD is not allowed: LOAD DATA/);
    refused('START TRANSACTION', 'mysql', /ctx\.sql\.transaction/);
    refused('PREPARE s FROM @q', 'mysql', /user variables|prepared statements/);
    refused('CALL p()', 'mysql', /CALL is not allowed/);
    refused('LOCK TABLES t WRITE', 'mysql', /LOCK is not allowed/);
    refused('KILL 1', 'mysql', /KILL statements are not allowed in ctx.sql; allowed: SELECT/);
    refused('ALTER USER x', 'mysql', /only ALTER TABLE/);
    refused('SHOW PROCESSLIST', 'mysql', /only SHOW TABLES/);
    refused('CREATE DEFINER = root VIEW v AS SELECT 1', 'mysql', /CREATE DEFINER is not allowed/);
    refused("ATTACH 'x.db' AS x", 'mysql', /ATTACH statements are not allowed/);
    refused("ATTACH DATABASE '/tmp/x.db' AS x", 'sqlite', /ATTACH is not allowed: ATTACH opens another database file/);
    refused('DETACH x', 'sqlite', /DETACH is not allowed/);
    refused("VACUUM INTO '/tmp/copy.db'", 'sqlite', /VACUUM INTO writes a new file/);
    refused('BEGIN', 'sqlite', /ctx\.sql\.transaction/);
    refused('USE x', 'sqlite', /USE statements are not allowed/);
    refused("EXPLAIN VACUUM INTO '/tmp/x'", 'sqlite', /VACUUM/);
    for (const ok of ['CREATE TABLE t (a INT)', 'CREATE OR REPLACE VIEW v AS SELECT 1', 'CREATE UNIQUE INDEX i ON t (a)', 'ALTER TABLE t ADD b INT', 'DROP TABLE IF EXISTS t', 'TRUNCATE t', 'SHOW TABLES', 'SHOW CREATE TABLE t', 'DESCRIBE t', 'EXPLAIN SELECT 1', 'CREATE SQL SECURITY DEFINER VIEW v AS SELECT 1']) {
      checkStatement(ok, 'mysql', 'faas_app_game1');
    }
    for (const ok of ['CREATE TABLE t (a)', 'CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = CASE WHEN a THEN 1 END; SELECT 1; END;', 'PRAGMA table_info(t)', 'EXPLAIN QUERY PLAN SELECT 1']) {
      checkStatement(ok, 'sqlite', 'main');
    }
    refused('CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; DROP TABLE t', 'sqlite', /only one statement/, 'E_SQL_REFUSED', 'main');
  });

  it('ends a SQLite trigger at the END of its body even when BEGIN is used as a name', () => {
    // SQLite accepts `begin` as a column or table name: it must not open another level.
    for (const text of [
      'CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT begin FROM t; END; DROP TABLE t',
      'CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET begin = begin + 1; SELECT 1; END; DROP TABLE t',
      'CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT CASE WHEN begin THEN 1 END FROM t; END; DROP TABLE t',
      'CREATE TRIGGER tr AFTER UPDATE OF begin ON t BEGIN SELECT begin FROM t; END; DROP TABLE t',
      // After the body's END nothing nests any more.
      'CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END case; DROP TABLE t',
      'CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END begin; DROP TABLE t',
    ]) {
      refused(text, 'sqlite', /only one statement per call/, 'E_SQL_REFUSED', 'main');
    }
    for (const ok of [
      'CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT begin FROM t; UPDATE t SET a = CASE WHEN a THEN 1 ELSE CASE WHEN b THEN 2 END END; END;',
      'CREATE TRIGGER tr AFTER INSERT ON t WHEN CASE WHEN new.a THEN 1 END BEGIN SELECT 1; SELECT 2; END',
      'CREATE TRIGGER tr AFTER UPDATE OF begin ON t BEGIN UPDATE t SET begin = 0; SELECT 1; END',
    ]) {
      assert.equal(checkStatement(ok, 'sqlite', 'main').verb, 'create', ok);
    }
  });

  it("refuses another app's database, system schemas, file access and server-wide locks on MySQL", () => {
    refused('SELECT * FROM faas_app_b.t', 'mysql', /faas_app_b names another app's database.*column 15/);
    refused('SELECT * FROM `faas_app_b` . `t`', 'mysql', /another app's database/);
    refused('SELECT * FROM faas_apph_abc_0123.t', 'mysql', /another app's database/);
    refused('SELECT * FROM faas_app_b.t', 'sqlite', /another app's database/, 'E_SQL_REFUSED', 'main');
    refused('SELECT * FROM mysql.user', 'mysql', /mysql is a system database/);
    refused('SELECT * FROM `performance_schema`.threads', 'mysql', /system database/);
    refused("SELECT LOAD_FILE('/etc/passwd')", 'mysql', /LOAD_FILE\(\) is not allowed: LOAD_FILE\(\) reads a file/);
    refused("SELECT load_file ('/etc/passwd')", 'mysql', /LOAD_FILE/);
    refused("SELECT * FROM t INTO OUTFILE '/tmp/x'", 'mysql', /INTO OUTFILE is not allowed/);
    refused("SELECT a INTO /* x */ DUMPFILE '/tmp/x' FROM t", 'mysql', /INTO DUMPFILE/);
    refused("CREATE TABLE t (a INT) DATA DIRECTORY = '/tmp'", 'mysql', /DATA DIRECTORY/);
    refused("SELECT GET_LOCK('x', 10)", 'mysql', /named locks are shared by every app/);
    refused('CREATE TABLE t (a INT) ENGINE=CONNECT', 'mysql', /storage engine CONNECT is not allowed/);
    refused("CREATE TABLE t (a INT) ENGINE = FEDERATED CONNECTION='mysql://x'", 'mysql', /FEDERATED/);
    refused('SELECT @x := 1', 'mysql', /user variables \(@name\) are not allowed/);
    refused('/*!50000 SELECT 1 */', 'mysql', /executable comments/);
    refused('SELECT /*M! 1 */ 2', 'mysql', /executable comments/);
    refused('SELECT /*m!100000 1 */ 2', 'mysql', /executable comments/);
    refused('SELECT /*+ SET_VAR(max_statement_time=0) */ 1', 'mysql', /optimizer hints/);
    // The same words are fine as ordinary names or inside strings.
    checkStatement("SELECT directory, `load_file`, 'INTO OUTFILE', 'faas_app_b.t' FROM files WHERE get_lock = ?", 'mysql', 'faas_app_game1');
    checkStatement('SELECT * FROM faas_app_game1.t', 'mysql', 'faas_app_game1');
    checkStatement('SELECT @@version', 'mysql', 'faas_app_game1');
    checkStatement('SELECT table_name FROM information_schema.tables', 'mysql', 'faas_app_game1');
    checkStatement('CREATE TABLE t (a INT) ENGINE=InnoDB', 'mysql', 'faas_app_game1');
  });

  it('refuses placeholder forms other than ?', () => {
    refused('SELECT ?1', 'sqlite', /numbered placeholders/, 'E_SQL_REFUSED', 'main');
    refused('SELECT :name', 'sqlite', /named placeholders \(:name\)/, 'E_SQL_REFUSED', 'main');
    refused('SELECT @name', 'sqlite', /named placeholders/, 'E_SQL_REFUSED', 'main');
    refused('SELECT $name', 'sqlite', /named placeholders/, 'E_SQL_REFUSED', 'main');
    checkStatement("SELECT json_extract(j, '$.a') FROM t", 'sqlite', 'main');
  });

  it('reports empty text and unterminated literals as bad arguments', () => {
    for (const dialect of both) {
      refused('', dialect, /empty/, 'E_SQL_BAD_ARGUMENTS');
      refused('  -- nothing\n', dialect, /empty/, 'E_SQL_BAD_ARGUMENTS');
      refused(';', dialect, /empty/, 'E_SQL_BAD_ARGUMENTS');
      refused("SELECT 'abc", dialect, /unterminated string literal: add the closing '/, 'E_SQL_BAD_ARGUMENTS');
      refused('SELECT `abc', dialect, /unterminated quoted identifier/, 'E_SQL_BAD_ARGUMENTS');
      refused('42', dialect, /must start with a keyword/, 'E_SQL_BAD_ARGUMENTS');
    }
    refused("SELECT 'a\\'", 'mysql', /unterminated string/, 'E_SQL_BAD_ARGUMENTS');
  });
});

describe('per-app MySQL names and passwords', () => {
  it('maps - to _ under faas_app_, within MySQL limits (64-character databases, 32-character users)', () => {
    assert.equal(databaseName('live-stream'), 'faas_app_live_stream');
    assert.equal(userName('live-stream'), 'faas_app_live_stream');
    const long = `a${'b'.repeat(62)}`;
    assert.equal(databaseName(long).length, 64);
    assert.match(databaseName(long), /^faas_apph_ab{29}_[0-9a-f]{23}$/);
    assert.equal(userName(long).length, 32);
    assert.match(userName('a-twenty-four-characters'), /^faas_apph_[0-9a-f]{22}$/);
    assert.equal(userName('a-twenty-three-characte'), 'faas_app_a_twenty_three_characte');
  });

  it('never gives two apps the same database or user, even when a name imitates a shortened one', () => {
    const victim = `v${'x'.repeat(40)}`;
    // Plain names are faas_app_<letter>…, shortened ones faas_apph_<hash>: no app name can spell
    // another app's shortened name.
    for (const app of ['h', 'h-x', 'a-b', victim]) {
      assert.match(databaseName(app), app.length <= 55 ? /^faas_app_[a-z]/ : /^faas_apph_/);
      assert.match(userName(app), app.length <= 23 ? /^faas_app_[a-z]/ : /^faas_apph_/);
    }
    assert.notEqual(userName(`h-${userName(victim).slice('faas_apph_'.length)}`), userName(victim));
    const names = ['a', 'a-b', 'ab', 'a-b-c', 'h-x', victim, `${victim}y`, `${victim}z`];
    assert.equal(new Set(names.map(userName)).size, names.length);
    assert.equal(new Set(names.map(databaseName)).size, names.length);
  });

  it('derives a stable password per app and secret', () => {
    const secret = Buffer.alloc(32, 1);
    assert.equal(appPassword(secret, 'game1'), appPassword(Buffer.alloc(32, 1), 'game1'));
    assert.notEqual(appPassword(secret, 'game1'), appPassword(secret, 'game2'));
    assert.notEqual(appPassword(secret, 'game1'), appPassword(Buffer.alloc(32, 2), 'game1'));
    assert.match(appPassword(secret, 'game1'), /^[0-9a-f]{64}$/);
  });

  it('refuses an invalid app name as a platform bug', () => {
    for (const bad of ['', 'A', '1a', 'a_b', 'a/../b', 'a'.repeat(64)]) {
      assert.throws(() => databaseName(bad), (err: unknown) => isPlatformError(err) && err.code === 'E_INTERNAL');
    }
  });
});

describe('values', () => {
  it('params: strings, finite numbers, booleans (as 1/0) and null; each bad one named', () => {
    assert.deepEqual(convertParams(['a', 1, 1.5, true, false, null], 10, 100), ['a', 1, 1.5, 1, 0, null]);
    assert.deepEqual(convertParams(undefined, 10, 100), []);
    const problem = (value: unknown) => (convertParams(value, 3, 10) as { problem: string }).problem;
    assert.match(problem('x'), /params must be an array .* got the string "x"/);
    assert.match(problem([1, undefined]), /params\[1\] is undefined.*use null/);
    assert.match(problem([{ a: 1 }]), /params\[0\] is an object.*JSON\.stringify/);
    assert.match(problem([[1]]), /params\[0\] is an array/);
    assert.match(problem([Number.NaN]), /params\[0\] is NaN; only finite numbers/);
    assert.match(problem([Infinity]), /Infinity/);
    assert.match(problem(['\ud800']), /lone UTF-16 surrogate/);
    assert.match(problem([1, 2, 3, 4]), /4 params; at most 3/);
    assert.match(problem(['12345678901']), /exceed 10 bytes/);
  });

  it('column values become plain JSON: exact big integers as strings, binary as base64', () => {
    assert.equal(toSqlValue(2n ** 53n - 1n), 2 ** 53 - 1);
    assert.equal(toSqlValue(2n ** 63n - 1n), '9223372036854775807');
    assert.equal(toSqlValue(new Uint8Array([0, 255])), 'AP8=');
    assert.equal(toSqlValue(Infinity), 'Infinity');
    assert.equal(toSqlValue(undefined), null);
  });

  it('the row collector keeps __proto__ as an ordinary column and stops at the caps', () => {
    const rows = createRowCollector(2, 1000);
    assert.equal(rows.push(JSON.parse('{"__proto__": "x", "a": 1}') as Record<string, unknown>), true);
    assert.equal(Object.getPrototypeOf(rows.rows[0]), Object.prototype);
    assert.deepEqual(Object.keys(rows.rows[0]), ['__proto__', 'a']);
    assert.equal(rows.push({ a: 2 }), true);
    assert.equal(rows.push({ a: 3 }), false);
    assert.equal(rows.overflow, 'rows');
    const bytes = createRowCollector(100, 50);
    assert.equal(bytes.push({ a: 'x'.repeat(60) }), false);
    assert.equal(bytes.overflow, 'bytes');
  });
});

describe('options and catalog', () => {
  const fakeBackend = (): SqlBackend & { closed: number } => {
    const backend = {
      kind: 'sqlite' as const, dialect: 'sqlite' as const, closed: 0,
      databaseName: () => 'main',
      provisionApp: async () => {},
      run: async () => [],
      begin: async (app: string) => ({ app, lost: null }),
      commit: async () => {},
      rollback: async () => {},
      close: async () => { backend.closed++; },
    };
    return backend;
  };

  it('host options are defaulted, frozen and validated', async () => {
    const host = createSqlHost(fakeBackend());
    assert.deepEqual({ ...host.options }, { queryTimeoutMs: 2000, maxRows: 10_000, maxResultBytes: 8 * 1024 * 1024, maxTextBytes: 65536, maxParams: 4096, maxParamsBytes: 4 * 1024 * 1024, maxTransactionsPerInvocation: 1 });
    assert.ok(Object.isFrozen(host.options));
    assert.throws(() => createSqlHost(fakeBackend(), { maxRows: 0 }), /maxRows must be a positive integer, got 0/);
    assert.throws(() => createSqlHost(fakeBackend(), { queryTimeoutMs: 1.5 }), /queryTimeoutMs/);
  });

  it('closing the host closes its backend once, and later calls are unavailable', async () => {
    const backend = fakeBackend();
    const host = createSqlHost(backend);
    await host.close();
    await host.close();
    assert.equal(backend.closed, 1);
    const call = { app: 'game1', function: 'f', versionId: 'v', requestId: 'r', deadline: Date.now() + 1000, signal: new AbortController().signal };
    await assert.rejects(host.execute(call, 'query', ['SELECT 1']), { code: 'E_SQL_UNAVAILABLE' });
  });

  it('backend options are validated', () => {
    assert.throws(() => createSqliteSqlBackend({ dir: '' }), /dir must be a directory path/);
    assert.throws(() => createSqliteSqlBackend({ dir: '/tmp/x', maxExecutors: 0 }), /maxExecutors must be a positive integer/);
    assert.throws(() => createMysqlSqlBackend({ adminUrl: 'not a url', platformSecret: Buffer.alloc(32) }), /adminUrl must be a URL/);
    assert.throws(() => createMysqlSqlBackend({ adminUrl: 'postgres://x/', platformSecret: Buffer.alloc(32) }), /must start with mysql:\/\//);
    assert.throws(() => createMysqlSqlBackend({ adminUrl: 'mysql://root@127.0.0.1/', platformSecret: Buffer.alloc(8) }), /at least 16 bytes/);
  });

  it('every E_SQL_ code is in the builtins catalog with a status and a summary', () => {
    for (const code of ['E_SQL_BAD_ARGUMENTS', 'E_SQL_REFUSED', 'E_SQL_ERROR', 'E_SQL_TIMEOUT', 'E_SQL_TOO_MANY_ROWS', 'E_SQL_RESULT_TOO_LARGE', 'E_SQL_TX', 'E_SQL_UNAVAILABLE']) {
      const spec = (BUILTIN_ERRORS as Record<string, { status: number; summary: string }>)[code];
      assert.ok(spec !== undefined && spec.status >= 400 && spec.summary.length > 20, code);
    }
  });
});
