/**
 * Per-call overhead of the `ctx.sql` host (`builtins/sql/`) over the raw clients, in the same run:
 *
 *  - SQLite: `node:sqlite` `DatabaseSync` called directly in this process (prepared statement
 *    reused, WAL, synchronous=NORMAL — the executor's settings) vs the host, whose statements run
 *    in the app's executor process (argument checks + statement check + one IPC round trip);
 *  - MariaDB (throwaway `mariadbd`, skipped when not installed): a mysql2 promise pool logged in as
 *    the app's own user calling `pool.execute` vs the host on the MySQL backend.
 *
 * Workloads: a primary-key SELECT and an autocommit INSERT, one call at a time (latency), and the
 * SELECT with 16 calls in flight (throughput). Rounds alternate raw and host so drift hits both.
 * Run: `node --no-node-snapshot bench/sql-overhead.ts`. Knobs: `BENCH_SQL_CALLS` (2000 per round),
 * `BENCH_SQL_ROUNDS` (3). Prints a markdown table.
 */
import { DatabaseSync } from 'node:sqlite';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import type { BuiltinCall } from '../runtime/sandbox/interface.ts';
import { createSqlHost, type SqlHost } from '../builtins/sql/host.ts';
import { createMysqlSqlBackend } from '../builtins/sql/mysql-backend.ts';
import { appPassword, databaseName, userName } from '../builtins/sql/names.ts';
import { createSqliteSqlBackend } from '../builtins/sql/sqlite-backend.ts';
import { startMariaDb, type TestMariaDb } from '../test/support/mariadb.ts';
import { envNumber, median, table } from './harness/stats.ts';

const CALLS = envNumber('BENCH_SQL_CALLS', 2000);
const ROUNDS = envNumber('BENCH_SQL_ROUNDS', 3);
const CONCURRENCY = 16;
const ROWS = 1000;
const SELECT = 'SELECT id, name, score FROM players WHERE id = ?';
const INSERT = 'INSERT INTO players (name, score) VALUES (?, ?)';

/** One way of running a statement: returns when the statement is done. */
type Runner = (text: string, params: (string | number)[]) => Promise<unknown>;

interface Row {
  backend: string;
  workload: string;
  raw: number;
  host: number;
  unit: string;
}

/** Median per-call latency in µs of `calls` sequential calls. */
async function sequential(run: Runner, text: string, params: (i: number) => (string | number)[], calls: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await run(text, params(i));
    times.push((performance.now() - t) * 1000);
  }
  return median(times);
}

/** Calls per second with `CONCURRENCY` calls in flight. */
async function concurrent(run: Runner, text: string, params: (i: number) => (string | number)[], calls: number): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < calls) await run(text, params(next++));
  }));
  return calls / ((performance.now() - t) / 1000);
}

let names = 0;
const selectParams = (i: number): number[] => [(i % ROWS) + 1];
const insertParams = (): (string | number)[] => [`p${++names}`, names % 100];

/** Run each workload ROUNDS times, alternating raw and host; report medians across rounds. */
async function compare(backend: string, raw: Runner, host: Runner): Promise<Row[]> {
  const results = { selRaw: [] as number[], selHost: [] as number[], insRaw: [] as number[], insHost: [] as number[], conRaw: [] as number[], conHost: [] as number[] };
  // Warm-up: statement caches, connections, executor start.
  for (const run of [raw, host]) {
    await sequential(run, SELECT, selectParams, 200);
    await sequential(run, INSERT, insertParams, 50);
  }
  for (let round = 0; round < ROUNDS; round++) {
    results.selRaw.push(await sequential(raw, SELECT, selectParams, CALLS));
    results.selHost.push(await sequential(host, SELECT, selectParams, CALLS));
    results.insRaw.push(await sequential(raw, INSERT, insertParams, CALLS / 2));
    results.insHost.push(await sequential(host, INSERT, insertParams, CALLS / 2));
    results.conRaw.push(await concurrent(raw, SELECT, selectParams, CALLS));
    results.conHost.push(await concurrent(host, SELECT, selectParams, CALLS));
  }
  return [
    { backend, workload: 'SELECT by primary key, sequential (p50 µs/call)', raw: median(results.selRaw), host: median(results.selHost), unit: 'µs' },
    { backend, workload: 'INSERT autocommit, sequential (p50 µs/call)', raw: median(results.insRaw), host: median(results.insHost), unit: 'µs' },
    { backend, workload: `SELECT by primary key, ${CONCURRENCY} in flight (calls/s)`, raw: median(results.conRaw), host: median(results.conHost), unit: '/s' },
  ];
}

/** A host runner for one long invocation of `app`. */
function hostRunner(host: SqlHost, app: string): Runner {
  const call: BuiltinCall = { app, function: 'bench', versionId: 'v1', requestId: 'bench', deadline: Date.now() + 3_600_000, signal: new AbortController().signal };
  return (text, params) => host.execute(call, text.startsWith('SELECT') ? 'query' : 'execute', [text, params]);
}

async function benchSqlite(): Promise<Row[]> {
  const dir = await mkdtemp(join(tmpdir(), 'faas-bench-sql-'));
  const host = createSqlHost(createSqliteSqlBackend({ dir }));
  const raw = new DatabaseSync(join(dir, 'raw.sqlite'));
  try {
    raw.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL');
    const hostRun = hostRunner(host, 'bench-sqlite');
    const ddl = 'CREATE TABLE players (id INTEGER PRIMARY KEY, name TEXT UNIQUE, score REAL)';
    raw.exec(ddl);
    await hostRun(ddl, []);
    for (let i = 1; i <= ROWS; i++) {
      raw.prepare(INSERT).run(`seed${i}`, i);
      await hostRun(INSERT, [`seed${i}`, i]);
    }
    const statements = new Map<string, ReturnType<DatabaseSync['prepare']>>();
    const rawRun: Runner = async (text, params) => {
      let stmt = statements.get(text);
      if (stmt === undefined) {
        stmt = raw.prepare(text);
        statements.set(text, stmt);
      }
      return text.startsWith('SELECT') ? stmt.all(...params) : stmt.run(...params);
    };
    return await compare('SQLite', rawRun, hostRun);
  } finally {
    raw.close();
    await host.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchMariaDb(): Promise<Row[] | string> {
  let server: TestMariaDb;
  try {
    server = await startMariaDb();
  } catch (err) {
    return `MariaDB skipped: ${(err as Error).message.split('\n')[0]}`;
  }
  const secret = Buffer.alloc(32, 3);
  const app = 'bench-mysql';
  const host = createSqlHost(createMysqlSqlBackend({ adminUrl: server.url, platformSecret: secret }));
  let pool: mysql.Pool | null = null;
  try {
    const hostRun = hostRunner(host, app);
    await hostRun('CREATE TABLE players (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) UNIQUE, score DOUBLE)', []);
    // The raw client logs in as the same app user, to the same database, with the same pool size.
    pool = mysql.createPool({ host: '127.0.0.1', port: server.port, user: userName(app), password: appPassword(secret, app), database: databaseName(app), connectionLimit: 8 });
    const rawPool = pool;
    for (let i = 1; i <= ROWS; i++) await rawPool.execute(INSERT, [`seed${i}`, i]);
    const rawRun: Runner = (text, params) => rawPool.execute(text, params);
    return await compare('MariaDB', rawRun, hostRun);
  } finally {
    await pool?.end();
    await host.close();
    await server.stop();
  }
}

const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const rows = await benchSqlite();
const maria = await benchMariaDb();
if (typeof maria === 'string') console.log(maria);
else rows.push(...maria);

console.log(`\n### ctx.sql host overhead (${CALLS} calls per round, ${ROUNDS} rounds, medians)\n`);
console.log(table(['backend', 'workload', 'raw client', 'ctx.sql host', 'host / raw', 'overhead per call'], rows.map((r) => {
  const throughput = r.unit === '/s';
  const ratio = throughput ? r.raw / r.host : r.host / r.raw;
  const overhead = throughput ? `${fmt(1e6 / r.host - 1e6 / r.raw)} µs` : `${fmt(r.host - r.raw)} µs`;
  return [r.backend, r.workload, `${fmt(r.raw)} ${r.unit}`, `${fmt(r.host)} ${r.unit}`, `${ratio.toFixed(2)}×`, overhead];
})));
