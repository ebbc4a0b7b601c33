/**
 * Where `ctx.sql` statements run: one SQLite file per app in executor processes
 * (`sqlite-backend.ts`, the embedded default) or one MySQL/MariaDB database and user per app
 * (`mysql-backend.ts`, `MYSQL_URL`). Both sit behind `SqlBackend`; `host.ts` validates the call,
 * checks the statement (`statement.ts`), keeps the transactions, and calls a backend.
 *
 * Backends throw PlatformErrors with the `E_SQL_*` codes only (or E_INTERNAL for a bad app name).
 */
import { builtinError } from '../errors.ts';
import type { PlatformError } from '../../runtime/errors.ts';
import type { SqlDialect, StatementInfo } from './statement.ts';
import type { ResultOverflow, SqlExecResult, SqlParam, SqlRow } from './values.ts';

export type { SqlExecResult, SqlParam, SqlRow, SqlValue } from './values.ts';

/** One statement to run, already checked and with converted parameters. */
export interface SqlRunRequest {
  readonly statement: StatementInfo;
  readonly params: readonly SqlParam[];
  /** `query` collects rows; `execute` reports `{ affectedRows, insertId }`. */
  readonly mode: 'query' | 'execute';
  /** Most rows a query may return; one more fails with E_SQL_TOO_MANY_ROWS. */
  readonly maxRows: number;
  /** Most approximate JSON bytes a query may return; more fails with E_SQL_RESULT_TOO_LARGE. */
  readonly maxResultBytes: number;
  /**
   * The invocation's deadline, epoch ms: nothing about this call may outlast it. Time spent waiting
   * before the statement starts (for an executor to start, behind the app's other statements)
   * counts against it.
   */
  readonly deadline: number;
  /** Longest the statement may run once sent to the database, in ms (the query timeout, already capped by the time left before `deadline`); past it, it is stopped (E_SQL_TIMEOUT). */
  readonly timeoutMs: number;
}

/** A transaction held by a backend: a MySQL connection, or a connection in an app's SQLite executor. */
export interface SqlBackendTx {
  readonly app: string;
  /**
   * Null while the transaction is usable; otherwise why it is gone (rolled back by the database
   * after a timeout, a lost connection, a deadlock or an executor restart). Set by the backend.
   */
  readonly lost: string | null;
}

/** Runs checked statements for apps. Implementations: SQLite executors and MySQL. */
export interface SqlBackend {
  /** `sqlite` (embedded) or `mysql` (MySQL/MariaDB). */
  readonly kind: 'sqlite' | 'mysql';
  /** How statements are lexed by `checkStatement`. */
  readonly dialect: SqlDialect;
  /** The app's database name as SQL text may name it (MySQL `faas_app_<app>`; SQLite `main`). */
  databaseName(app: string): string;
  /**
   * Create the app's database (and, on MySQL, its user with rights on that database only).
   * Idempotent; also done lazily on an app's first statement.
   * @throws PlatformError E_SQL_UNAVAILABLE when the database cannot be reached, E_INTERNAL for an invalid app name
   */
  provisionApp(app: string): Promise<void>;
  /**
   * Run one statement for `app`, in `tx` when given.
   * @returns rows for `query`, `{ affectedRows, insertId }` for `execute`
   * @throws PlatformError E_SQL_ERROR (the database refused it; its message), E_SQL_REFUSED
   *   (denied by the database's permissions or the SQLite authorizer), E_SQL_TIMEOUT,
   *   E_SQL_TOO_MANY_ROWS, E_SQL_RESULT_TOO_LARGE, E_SQL_UNAVAILABLE, E_SQL_TX (tx is lost)
   */
  run(app: string, request: SqlRunRequest, tx?: SqlBackendTx): Promise<SqlRow[] | SqlExecResult>;
  /**
   * Start a transaction for `app` (MySQL: a dedicated connection; SQLite: `BEGIN IMMEDIATE`, which
   * waits, within the deadline, while another transaction of the app holds the write lock).
   * @param deadline the invocation's deadline, epoch ms
   * @param timeoutMs longest BEGIN may take once sent, in ms
   * @throws PlatformError E_SQL_UNAVAILABLE, E_SQL_TIMEOUT
   */
  begin(app: string, deadline: number, timeoutMs: number): Promise<SqlBackendTx>;
  /**
   * Commit and release `tx`.
   * @param deadline the invocation's deadline, epoch ms
   * @param timeoutMs longest COMMIT may take once sent, in ms
   * @throws PlatformError E_SQL_TX (the transaction was lost; nothing was committed), E_SQL_ERROR,
   *   E_SQL_UNAVAILABLE, E_SQL_TIMEOUT (the outcome is then unknown)
   */
  commit(tx: SqlBackendTx, deadline: number, timeoutMs: number): Promise<void>;
  /** Roll back and release `tx`. Never rejects: a transaction that cannot be rolled back is discarded (the database rolls it back when its connection closes). */
  rollback(tx: SqlBackendTx): Promise<void>;
  /** Close connections and executors. Idempotent; later calls fail with E_SQL_UNAVAILABLE. */
  close(): Promise<void>;
}

/**
 * When one step (connecting plus a statement, BEGIN, COMMIT, a lock wait) must be over: `timeoutMs`
 * after `start`, but never past the invocation's `deadline`.
 * @param deadline the invocation's deadline, epoch ms
 * @param timeoutMs the step's own bound, in ms
 * @param start when the step started, epoch ms (default now)
 * @returns epoch ms; subtract `start` for the time the step may still take
 */
export function stepDeadline(deadline: number, timeoutMs: number, start: number = Date.now()): number {
  return Math.min(deadline, start + timeoutMs);
}

/** E_SQL_TIMEOUT for a statement stopped after `timeoutMs`. */
export function timeoutError(timeoutMs: number, what = 'the statement', extra = ''): PlatformError {
  return builtinError('E_SQL_TIMEOUT', `${what} did not finish within ${timeoutMs} ms and was stopped${extra}; make it cheaper (add an index, a LIMIT, a narrower WHERE) or raise the function's wallTimeMs if the deadline was the limit`, { timeoutMs });
}

/** E_SQL_UNAVAILABLE with a reason. */
export function unavailableError(reason: string, details: Record<string, unknown> = {}): PlatformError {
  return builtinError('E_SQL_UNAVAILABLE', `the SQL database is unavailable: ${reason}; the statement may not have run, retry later`, details);
}

/** E_SQL_TX for a transaction that is gone. */
export function lostTxError(reason: string): PlatformError {
  return builtinError('E_SQL_TX', `the transaction was rolled back: ${reason}; nothing in it was committed, start a new transaction`);
}

/** E_SQL_TOO_MANY_ROWS / E_SQL_RESULT_TOO_LARGE for a capped result. */
export function overflowError(overflow: ResultOverflow, maxRows: number, maxResultBytes: number): PlatformError {
  if (overflow === 'rows') {
    return builtinError('E_SQL_TOO_MANY_ROWS', `the query returns more than ${maxRows} rows, the most one call may return; nothing is returned rather than a silent part of the result: add a LIMIT (and page with WHERE id > ?), or aggregate in SQL`, { limit: maxRows });
  }
  return builtinError('E_SQL_RESULT_TOO_LARGE', `the query result is larger than ${maxResultBytes} bytes, the most one call may return; select fewer columns or rows (LIMIT), or store large values elsewhere`, { limitBytes: maxResultBytes });
}

/** Constraint kinds reported in `details.constraint` of E_SQL_ERROR, the same on both backends. */
export type ConstraintKind = 'unique' | 'foreign_key' | 'not_null' | 'check';
