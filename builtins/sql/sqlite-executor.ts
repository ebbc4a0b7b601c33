/**
 * The SQLite executor: a child process holding one app's database connections. node:sqlite runs
 * statements synchronously on the calling thread and offers no way to interrupt one (no
 * `sqlite3_interrupt`, no progress handler, and a worker thread stuck in SQLite cannot be
 * terminated — not even `process.exit` returns), so the only bound on a runaway statement is to
 * run it in a process the parent can SIGKILL. `sqlite-backend.ts` forks one executor per active
 * app, sends it one request at a time, and kills it when a request overruns its deadline; SQLite's
 * WAL journal keeps the file consistent across the kill (uncommitted work is rolled back on the
 * next open).
 *
 * Protocol (JSON over the IPC channel), parent → child:
 *   `{ type: 'init', file, limits, maxMemoryBytes }` once, answered `{ type: 'ready' }` or `{ type: 'fatal', message }`;
 *   then requests `{ id, ...ExecutorRequest }`, each answered `{ id, ok: true, value }` or `{ id, ok: false, error }`.
 * The child exits when the parent disconnects or sends `{ type: 'close' }`.
 */
import type { StatementSync } from 'node:sqlite';
import { describeSqliteCode, openAppConnection, runTrusted, type AppConnection, type SqliteConnectionLimits } from './sqlite-policy.ts';
import { createRowCollector, toSqlValue, type ResultOverflow, type SqlExecResult, type SqlParam, type SqlRow } from './values.ts';

/** The first message. */
export interface ExecutorInit {
  type: 'init';
  file: string;
  limits: SqliteConnectionLimits;
  /** SQLite's process-wide hard heap limit (`PRAGMA hard_heap_limit`), in bytes. */
  maxMemoryBytes: number;
}

/** A request; `tx` names a transaction begun with `begin` (else the app's autocommit connection). */
export type ExecutorRequest =
  | { type: 'run'; tx?: string; text: string; params: SqlParam[]; mode: 'query' | 'execute'; inserts: boolean; writesRows: boolean; maxRows: number; maxResultBytes: number }
  | { type: 'begin'; tx: string }
  | { type: 'commit'; tx: string }
  | { type: 'rollback'; tx: string }
  | { type: 'ping' };

/** Why a request failed, as plain data. */
export type ExecutorError =
  | { kind: 'busy' }
  | { kind: 'refused'; message: string }
  | { kind: 'sql'; message: string; dbCode: string; constraint: string | null; txLost: boolean }
  | { kind: 'overflow'; overflow: ResultOverflow }
  | { kind: 'tx_missing' }
  | { kind: 'internal'; message: string };

/** A reply to a request. */
export type ExecutorReply =
  | { id: number; ok: true; value: SqlRow[] | SqlExecResult | null }
  | { id: number; ok: false; error: ExecutorError };

/** Messages the child sends besides replies. */
export type ExecutorEvent = { type: 'ready' } | { type: 'fatal'; message: string };

/** Prepared statements kept per connection (least recently used dropped first). */
const STATEMENT_CACHE = 64;
/** Idle transaction connections kept for reuse. */
const FREE_CONNECTIONS = 4;

interface Connection extends AppConnection {
  readonly statements: Map<string, StatementSync>;
}

let file = '';
let limits: SqliteConnectionLimits | null = null;
let main: Connection | null = null;
const txConnections = new Map<string, Connection>();
const free: Connection[] = [];

function open(): Connection {
  if (limits === null) throw new Error('executor not initialised');
  return { ...openAppConnection(file, limits), statements: new Map() };
}

function closeConnection(conn: Connection): void {
  conn.statements.clear();
  try {
    conn.db.close();
  } catch {
    // already closed
  }
}

function release(conn: Connection): void {
  if (!conn.db.isTransaction && free.length < FREE_CONNECTIONS) free.push(conn);
  else closeConnection(conn);
}

function prepare(conn: Connection, text: string): StatementSync {
  const cached = conn.statements.get(text);
  if (cached !== undefined) {
    conn.statements.delete(text);
    conn.statements.set(text, cached);
    return cached;
  }
  const stmt = conn.db.prepare(text);
  conn.statements.set(text, stmt);
  if (conn.statements.size > STATEMENT_CACHE) {
    const oldest = conn.statements.keys().next().value;
    if (oldest !== undefined) conn.statements.delete(oldest);
  }
  return stmt;
}

/** Map a thrown error to plain data; `conn` tells whether a transaction survived it. */
function toError(err: unknown, conn: Connection | null): ExecutorError {
  const e = err as { errcode?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // The authorizer denied something while this statement was prepared (SQLite reports a denied
  // function as SQLITE_ERROR "not authorized to use function", other denials as SQLITE_AUTH).
  if (conn !== null && conn.guard.denial !== null) return { kind: 'refused', message: conn.guard.denial };
  if (typeof e?.errcode === 'number') {
    const primary = e.errcode & 0xff;
    if (primary === 23) return { kind: 'refused', message };
    if (primary === 5 || primary === 6) return { kind: 'busy' };
    const { dbCode, constraint } = describeSqliteCode(e.errcode);
    const txLost = conn !== null && conn !== main && !conn.db.isTransaction;
    return { kind: 'sql', message, dbCode, constraint, txLost };
  }
  // Errors raised by node:sqlite itself (argument binding, limits) read like database errors.
  return { kind: 'sql', message, dbCode: 'SQLITE_ERROR', constraint: null, txLost: false };
}

function run(request: Extract<ExecutorRequest, { type: 'run' }>): SqlRow[] | SqlExecResult | ExecutorError {
  const conn = request.tx === undefined ? main : txConnections.get(request.tx);
  if (conn === null || conn === undefined) return { kind: 'tx_missing' };
  conn.guard.denial = null;
  try {
    const stmt = prepare(conn, request.text);
    // Safe integers bind as INTEGER (a plain JS number would bind as REAL: typeof(?) = 'real').
    const params = request.params.map((p) => (typeof p === 'number' && Number.isSafeInteger(p) ? BigInt(p) : p));
    if (request.mode === 'query') {
      const collector = createRowCollector(request.maxRows, request.maxResultBytes);
      for (const row of stmt.iterate(...params)) {
        if (!collector.push(row as Record<string, unknown>)) break;
      }
      return collector.overflow === null ? collector.rows : { kind: 'overflow', overflow: collector.overflow };
    }
    const result = stmt.run(...params);
    // sqlite3_changes() keeps the count of the last INSERT/UPDATE/DELETE, so DDL would report a stale one.
    const affectedRows = request.writesRows ? Number(result.changes) : 0;
    return { affectedRows, insertId: request.inserts && affectedRows > 0 ? toSqlValue(result.lastInsertRowid) : null };
  } catch (err) {
    return toError(err, conn);
  }
}

function begin(tx: string): null | ExecutorError {
  if (txConnections.has(tx)) return { kind: 'internal', message: `transaction ${tx} already exists` };
  let conn: Connection | undefined;
  try {
    conn = free.pop() ?? open();
    runTrusted(conn, 'BEGIN IMMEDIATE');
    txConnections.set(tx, conn);
    return null;
  } catch (err) {
    const error = toError(err, null);
    if (conn !== undefined) release(conn);
    return error;
  }
}

function end(tx: string, how: 'COMMIT' | 'ROLLBACK'): null | ExecutorError {
  const conn = txConnections.get(tx);
  if (conn === undefined) return how === 'ROLLBACK' ? null : { kind: 'tx_missing' };
  try {
    runTrusted(conn, how);
  } catch (err) {
    const error = toError(err, conn);
    // A busy COMMIT keeps the transaction open for a retry; anything else ends it.
    if (error.kind === 'busy' && how === 'COMMIT' && conn.db.isTransaction) return error;
    txConnections.delete(tx);
    if (conn.db.isTransaction) {
      try {
        runTrusted(conn, 'ROLLBACK');
      } catch {
        // closing the connection rolls back
      }
    }
    release(conn);
    return how === 'ROLLBACK' ? null : error.kind === 'sql' ? { ...error, txLost: true } : error;
  }
  txConnections.delete(tx);
  release(conn);
  return null;
}

function handle(request: ExecutorRequest): { value: SqlRow[] | SqlExecResult | null } | { error: ExecutorError } {
  let outcome: SqlRow[] | SqlExecResult | ExecutorError | null;
  switch (request.type) {
    case 'run': outcome = run(request); break;
    case 'begin': outcome = begin(request.tx); break;
    case 'commit': outcome = end(request.tx, 'COMMIT'); break;
    case 'rollback': outcome = end(request.tx, 'ROLLBACK'); break;
    case 'ping': outcome = null; break;
    default: outcome = { kind: 'internal', message: `unknown request ${JSON.stringify((request as { type?: unknown }).type)}` };
  }
  if (outcome !== null && !Array.isArray(outcome) && 'kind' in outcome) return { error: outcome };
  return { value: outcome };
}

function shutdown(): void {
  for (const conn of txConnections.values()) closeConnection(conn);
  txConnections.clear();
  for (const conn of free.splice(0)) closeConnection(conn);
  if (main !== null) closeConnection(main);
  main = null;
  process.exit(0);
}

function send(message: ExecutorReply | ExecutorEvent): void {
  process.send?.(message);
}

process.on('disconnect', shutdown);
process.on('message', (raw: unknown) => {
  const message = raw as { type: string };
  if (message.type === 'close') {
    shutdown();
    return;
  }
  if (message.type === 'init') {
    const init = message as ExecutorInit;
    try {
      file = init.file;
      limits = init.limits;
      main = open();
      runTrusted(main, `PRAGMA hard_heap_limit = ${Math.floor(init.maxMemoryBytes)}`);
      send({ type: 'ready' });
    } catch (err) {
      send({ type: 'fatal', message: err instanceof Error ? err.message : String(err) });
      process.exit(1);
    }
    return;
  }
  const request = message as { id: number } & ExecutorRequest;
  let result: ReturnType<typeof handle>;
  try {
    result = handle(request);
  } catch (err) {
    result = { error: { kind: 'internal', message: err instanceof Error ? err.message : String(err) } };
  }
  send('error' in result ? { id: request.id, ok: false, error: result.error } : { id: request.id, ok: true, value: result.value });
});
