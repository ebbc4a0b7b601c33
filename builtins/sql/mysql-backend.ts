/**
 * The MySQL/MariaDB `ctx.sql` backend (`MYSQL_URL`): each app gets its own database
 * (`names.ts`: `faas_app_<app>`) and its own user, granted rights on that database only, with a
 * password derived from the platform secret — so the primary isolation is the server's own
 * privilege check, which holds even if the statement check (`statement.ts`) were bypassed. The
 * grants leave out FILE, PROCESS, SUPER, GRANT OPTION, EXECUTE/routines, EVENT, TRIGGER and
 * LOCK TABLES; `information_schema` shows such a user only its own database.
 *
 * Statements run as server-side prepared statements (`execute`): values travel apart from the SQL
 * text, `multipleStatements` is off, and LOCAL INFILE is disabled on the client. Rows are streamed
 * and counted so the row cap never buffers an unbounded result.
 *
 * Faults: connecting is bounded by `connectTimeoutMs` and every wait (for a pooled connection, for
 * a statement) by the request's deadline; a statement past its deadline is stopped with
 * `KILL CONNECTION` from the admin pool and its connection discarded (a transaction on it is rolled
 * back by the server). As a backstop, each app session sets `max_statement_time` (MariaDB) or
 * `max_execution_time` (MySQL, SELECT only). When the server is down, calls fail fast with
 * E_SQL_UNAVAILABLE; mysql2's pools open new connections when it is back.
 */
import mysql from 'mysql2';
import type { PlatformError } from '../../runtime/errors.ts';
import { isPlatformError } from '../../runtime/errors.ts';
import { builtinError } from '../errors.ts';
import { lostTxError, overflowError, stepDeadline, timeoutError, unavailableError, type ConstraintKind, type SqlBackend, type SqlBackendTx, type SqlRunRequest } from './backend.ts';
import { appPassword, checkAppName, databaseName, userName } from './names.ts';
import { createRowCollector, toSqlValue, type SqlExecResult, type SqlRow } from './values.ts';

/** Options of `createMysqlSqlBackend`. */
export interface MysqlSqlBackendOptions {
  /** `mysql://admin:password@host:port/` of an account that may create databases and users, grant, and KILL. */
  adminUrl: string;
  /** The platform secret the app users' passwords are derived from (HMAC-SHA256); at least 16 bytes. */
  platformSecret: Buffer;
  /** Connections per app (per process). @default 8 */
  connectionLimit?: number;
  /** Longest a new connection may take to open, in ms (also capped by each request's deadline). @default 2000 */
  connectTimeoutMs?: number;
  /** Prepared statements cached per connection; the server's `max_prepared_stmt_count` (default 16382) is shared by all apps. @default 32 */
  maxPreparedStatements?: number;
  /** Idle connections close after this long, in ms. @default 60000 */
  idleConnectionMs?: number;
  /** Server-side backstop per statement (MariaDB `max_statement_time`, MySQL `max_execution_time`), in ms; keep it above the host's query timeout. @default 10000 */
  maxStatementTimeMs?: number;
  /** Host part of the app users (`'faas_app_x'@'<userHost>'`). @default '%' */
  userHost?: string;
  /** `MAX_USER_CONNECTIONS` of each app user (all processes together); 0 means no limit. @default 0 */
  maxUserConnections?: number;
  /** Called with connection errors and failed KILLs, for logging. */
  onError?: (err: Error) => void;
}

interface ResolvedOptions {
  readonly adminUrl: string;
  readonly platformSecret: Buffer;
  readonly connectionLimit: number;
  readonly connectTimeoutMs: number;
  readonly maxPreparedStatements: number;
  readonly idleConnectionMs: number;
  readonly maxStatementTimeMs: number;
  readonly userHost: string;
  readonly maxUserConnections: number;
  readonly onError: (err: Error) => void;
}

/** The parts of mysql2's callback-style pool connection used here. */
interface CoreConnection {
  readonly threadId: number | null;
  execute(options: { sql: string; values: unknown[] }): NodeJS.EventEmitter;
  query(sql: string, values: unknown[], callback: (err: Error | null) => void): unknown;
  release(): void;
  destroy(): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** The parts of mysql2's callback-style pool used here. */
interface CorePool {
  getConnection(callback: (err: Error | null, conn: CoreConnection) => void): void;
  query(sql: string, values: unknown[], callback: (err: Error | null, rows: unknown) => void): unknown;
  on(event: 'connection', listener: (conn: CoreConnection) => void): unknown;
  end(callback: (err?: Error | null) => void): void;
}

interface MysqlTx extends SqlBackendTx {
  conn: CoreConnection | null;
  lost: string | null;
}

interface ServerInfo {
  readonly mariadb: boolean;
  readonly sqlMode: string;
}

/** sql_mode flags removed from app sessions: they change how `statement.ts` must lex (quotes, backslashes) or the dialect. */
const LEXING_MODES = new Set(['ANSI_QUOTES', 'NO_BACKSLASH_ESCAPES', 'ANSI', 'ORACLE', 'MSSQL', 'DB2', 'POSTGRESQL', 'MAXDB']);
const PRIVILEGES = 'SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, CREATE TEMPORARY TABLES, CREATE VIEW, SHOW VIEW, REFERENCES';

const TIMEOUT_ERRNOS = new Set([1317, 1969, 3024]);
const DENIED_ERRNOS = new Set([1044, 1142, 1143, 1227, 1370, 1095, 1211, 1410, 1356]);
const UNAVAILABLE_ERRNOS = new Set([1040, 1053, 1203, 1045, 1049, 1129, 1130]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR', 'PROTOCOL_ENQUEUE_AFTER_QUIT', 'POOL_CLOSED']);
const CONSTRAINTS: Readonly<Record<number, ConstraintKind>> = {
  1062: 'unique', 1586: 'unique', 1451: 'foreign_key', 1452: 'foreign_key', 1216: 'foreign_key', 1217: 'foreign_key',
  1048: 'not_null', 1364: 'not_null', 4025: 'check', 3819: 'check',
};
/** Errors after which the server has rolled back the whole transaction (deadlock), not just the statement. */
const TX_ENDING_ERRNOS = new Set([1213]);

interface MysqlError {
  code?: unknown;
  errno?: unknown;
  sqlMessage?: unknown;
  fatal?: unknown;
  message?: unknown;
}

/**
 * Map a mysql2 error: timeouts (ER_QUERY_INTERRUPTED, ER_STATEMENT_TIMEOUT) to E_SQL_TIMEOUT,
 * privilege errors to E_SQL_REFUSED, network/connection/login errors to E_SQL_UNAVAILABLE,
 * other server errors to E_SQL_ERROR with the server's message (details `dbCode`, `constraint`).
 */
export function mapMysqlError(err: unknown, timeoutMs: number): PlatformError {
  if (isPlatformError(err)) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as MysqlError;
  const errno = typeof e.errno === 'number' ? e.errno : null;
  const code = typeof e.code === 'string' ? e.code : '';
  const text = typeof e.sqlMessage === 'string' ? e.sqlMessage : typeof e.message === 'string' ? e.message : String(err);
  if (errno !== null && TIMEOUT_ERRNOS.has(errno)) return timeoutError(timeoutMs);
  if (errno !== null && DENIED_ERRNOS.has(errno)) return builtinError('E_SQL_REFUSED', `refused by the database's permissions: ${text}`, { dbCode: code });
  if ((errno !== null && UNAVAILABLE_ERRNOS.has(errno)) || NETWORK_CODES.has(code) || e.fatal === true || errno === null) {
    return unavailableError(code === '' ? text : `${code}${errno === null ? '' : ` (${text})`}`, { dbCode: code });
  }
  const details: Record<string, unknown> = { dbCode: code };
  const constraint = CONSTRAINTS[errno];
  if (constraint !== undefined) details.constraint = constraint;
  return builtinError('E_SQL_ERROR', text, details);
}

function positiveInt(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) throw new TypeError(`createMysqlSqlBackend: ${name} must be an integer ≥ ${min}, got ${String(value)}`);
  return value;
}

/** Run `start` (which calls back once) with a deadline; a late success is handed to `onLate`. */
function withDeadline<T>(deadline: number, onTimeout: () => PlatformError, start: (done: (err: unknown, value?: T) => void) => void, onLate?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(onTimeout());
    }, Math.max(0, deadline - Date.now()));
    start((err, value) => {
      if (settled) {
        if (err === null && onLate !== undefined) onLate(value as T);
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (err === null) resolve(value as T);
      else reject(err);
    });
  });
}

/**
 * Create the MySQL/MariaDB backend. No connection is opened until the first call.
 * @param opts `adminUrl` and `platformSecret` are required; sizes and times validated once, frozen
 * @throws TypeError for an invalid URL, a secret under 16 bytes, or an invalid option
 * @example
 *   const backend = createMysqlSqlBackend({ adminUrl: process.env.MYSQL_URL, platformSecret });
 *   await backend.provisionApp('game1'); // at app creation; otherwise done on first use
 */
export function createMysqlSqlBackend(opts: MysqlSqlBackendOptions): SqlBackend {
  let url: URL;
  try {
    url = new URL(opts?.adminUrl);
  } catch {
    throw new TypeError('createMysqlSqlBackend: adminUrl must be a URL like mysql://user:password@host:3306/');
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') throw new TypeError(`createMysqlSqlBackend: adminUrl must start with mysql://, got ${url.protocol}//`);
  if (!Buffer.isBuffer(opts.platformSecret) || opts.platformSecret.length < 16) throw new TypeError('createMysqlSqlBackend: platformSecret must be a Buffer of at least 16 bytes');
  const options: ResolvedOptions = Object.freeze({
    adminUrl: opts.adminUrl,
    platformSecret: Buffer.from(opts.platformSecret),
    connectionLimit: positiveInt('connectionLimit', opts.connectionLimit, 8),
    connectTimeoutMs: positiveInt('connectTimeoutMs', opts.connectTimeoutMs, 2000),
    maxPreparedStatements: positiveInt('maxPreparedStatements', opts.maxPreparedStatements, 32),
    idleConnectionMs: positiveInt('idleConnectionMs', opts.idleConnectionMs, 60_000),
    maxStatementTimeMs: positiveInt('maxStatementTimeMs', opts.maxStatementTimeMs, 10_000),
    userHost: typeof opts.userHost === 'string' && opts.userHost !== '' ? opts.userHost : '%',
    maxUserConnections: positiveInt('maxUserConnections', opts.maxUserConnections, 0, 0),
    onError: opts.onError ?? (() => {}),
  });
  const uri = url.protocol === 'mariadb:' ? `mysql:${options.adminUrl.slice('mariadb:'.length)}` : options.adminUrl;
  const common = {
    uri,
    connectTimeout: options.connectTimeoutMs,
    enableKeepAlive: true,
    multipleStatements: false,
    flags: ['-LOCAL_FILES', '-MULTI_STATEMENTS'],
    idleTimeout: options.idleConnectionMs,
  };
  const admin = mysql.createPool({ ...common, connectionLimit: 2, maxIdle: 1 }) as unknown as CorePool;
  admin.on('connection', (conn) => conn.on('error', options.onError));

  const apps = new Map<string, { ready: Promise<CorePool> | null; pool: CorePool | null }>();
  let server: Promise<ServerInfo> | null = null;
  let closed = false;

  const adminQuery = <T>(sql: string, values: unknown[], timeoutMs = options.connectTimeoutMs * 2): Promise<T> =>
    withDeadline<T>(Date.now() + timeoutMs, () => unavailableError(`the database did not answer within ${timeoutMs} ms`), (done) => {
      admin.query(sql, values, (err, rows) => done(err, rows as T));
    }).catch((err: unknown) => {
      throw mapMysqlError(err, timeoutMs);
    });

  const serverInfo = (): Promise<ServerInfo> => {
    server ??= adminQuery<Array<{ version: string; sqlMode: string }>>('SELECT VERSION() AS version, @@GLOBAL.sql_mode AS sqlMode', []).then((rows) => ({
      mariadb: /mariadb/i.test(rows[0]?.version ?? ''),
      sqlMode: (rows[0]?.sqlMode ?? '').split(',').filter((mode) => mode !== '' && !LEXING_MODES.has(mode.toUpperCase())).join(','),
    }), (err: unknown) => {
      server = null;
      throw err;
    });
    return server;
  };

  const account = (app: string): string => `${mysql.escape(userName(app))}@${mysql.escape(options.userHost)}`;

  const provision = async (app: string): Promise<void> => {
    const db = mysql.escapeId(databaseName(app));
    const user = account(app);
    const password = mysql.escape(appPassword(options.platformSecret, app));
    await adminQuery(`CREATE DATABASE IF NOT EXISTS ${db} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`, []);
    await adminQuery(`CREATE USER IF NOT EXISTS ${user} IDENTIFIED BY ${password}`, []);
    // ALTER keeps the password in step with the current platform secret (idempotent).
    await adminQuery(`ALTER USER ${user} IDENTIFIED BY ${password} WITH MAX_USER_CONNECTIONS ${options.maxUserConnections}`, []);
    await adminQuery(`GRANT ${PRIVILEGES} ON ${db}.* TO ${user}`, []);
  };

  const createAppPool = (app: string, info: ServerInfo): CorePool => {
    const pool = mysql.createPool({
      ...common,
      user: userName(app),
      password: appPassword(options.platformSecret, app),
      database: databaseName(app),
      connectionLimit: options.connectionLimit,
      maxIdle: options.connectionLimit,
      queueLimit: 0,
      charset: 'UTF8MB4_BIN',
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: false,
      decimalNumbers: false,
      jsonStrings: true,
      namedPlaceholders: false,
      maxPreparedStatements: options.maxPreparedStatements,
    }) as unknown as CorePool;
    const limit = info.mariadb ? 'max_statement_time' : 'max_execution_time';
    const limitValue = info.mariadb ? options.maxStatementTimeMs / 1000 : options.maxStatementTimeMs;
    pool.on('connection', (conn) => {
      conn.on('error', options.onError);
      // Runs before the first statement on this connection (mysql2 queues commands in order).
      conn.query(`SET SESSION sql_mode = ?, SESSION ${limit} = ?`, [info.sqlMode, limitValue], (err) => {
        if (err !== null) options.onError(err);
      });
    });
    return pool;
  };

  /** The app's pool, provisioning the app on first use in this process. */
  const appPool = (app: string): Promise<CorePool> => {
    let state = apps.get(app);
    if (state === undefined) {
      state = { ready: null, pool: null };
      apps.set(app, state);
    }
    const entry = state;
    entry.ready ??= (async () => {
      await provision(app);
      const pool = createAppPool(app, await serverInfo());
      entry.pool = pool;
      return pool;
    })().catch((err: unknown) => {
      entry.ready = null;
      throw err;
    });
    return entry.ready;
  };

  /** Forget an app's pool (its account or database was refused): the next call provisions again. */
  const resetApp = (app: string): void => {
    const state = apps.get(app);
    if (state === undefined) return;
    apps.delete(app);
    state.pool?.end(() => {});
  };

  const connect = async (app: string, deadline: number, timeoutMs: number): Promise<CoreConnection> => {
    if (closed) throw unavailableError('the SQL backend is closed');
    for (let attempt = 0; ; attempt++) {
      const pool = await withDeadline<CorePool>(deadline, () => unavailableError(`the app's database was not ready within ${timeoutMs} ms`), (done) => {
        appPool(app).then((p) => done(null, p), (err: unknown) => done(err));
      });
      try {
        return await withDeadline<CoreConnection>(
          deadline,
          () => unavailableError(`no database connection within ${timeoutMs} ms`),
          (done) => pool.getConnection((err, conn) => done(err, conn)),
          (late) => late.release(),
        );
      } catch (err) {
        const errno = (err as MysqlError).errno;
        // Login refused or database missing: provision again once (e.g. the secret changed, or the database was dropped).
        if (attempt === 0 && (errno === 1045 || errno === 1049 || errno === 1044)) {
          resetApp(app);
          continue;
        }
        throw mapMysqlError(err, timeoutMs);
      }
    }
  };

  /** Stop a statement that overran: KILL its server thread from the admin pool, drop the connection. */
  const kill = (conn: CoreConnection): void => {
    const threadId = conn.threadId;
    conn.destroy();
    if (typeof threadId === 'number' && Number.isSafeInteger(threadId)) {
      adminQuery(`KILL CONNECTION ${threadId}`, [], options.connectTimeoutMs).catch((err: unknown) => {
        if ((err as MysqlError).errno !== 1094) options.onError(err as Error);
      });
    }
  };

  /** Run one statement on `conn`, streaming rows; rejects with mapped errors; kills it at `until` (epoch ms). */
  const executeOn = (conn: CoreConnection, request: SqlRunRequest, until: number, tx: MysqlTx | undefined): Promise<SqlRow[] | SqlExecResult> =>
    new Promise((resolve, reject) => {
      const collector = createRowCollector(request.maxRows, request.maxResultBytes);
      let header: { affectedRows?: unknown; insertId?: unknown } | null = null;
      let hasFields = false;
      let settled = false;
      const finish = (err: PlatformError | null, value?: SqlRow[] | SqlExecResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err === null) resolve(value as SqlRow[] | SqlExecResult);
        else reject(err);
      };
      const timer = setTimeout(() => {
        if (tx !== undefined) {
          tx.lost ??= `a statement in it ran longer than ${request.timeoutMs} ms`;
          tx.conn = null;
        }
        kill(conn);
        finish(timeoutError(request.timeoutMs, 'the statement', tx === undefined ? '' : '; the transaction was rolled back'));
      }, Math.max(0, until - Date.now()));
      let command: NodeJS.EventEmitter;
      try {
        command = conn.execute({ sql: request.statement.text, values: [...request.params] });
      } catch (err) {
        finish(builtinError('E_SQL_BAD_ARGUMENTS', (err as Error).message));
        return;
      }
      // OK packets (INSERT, UPDATE, DDL) come as 'fields' with undefined, then 'result' with the header.
      command.on('fields', (fields: unknown) => {
        if (fields !== undefined) hasFields = true;
      });
      command.on('result', (row: Record<string, unknown>) => {
        if (!hasFields) header = row;
        // Past the cap rows are read and dropped: the connection stays usable (and a transaction open).
        else if (request.mode === 'query') collector.push(row);
      });
      command.on('error', (err: unknown) => {
        const mapped = mapMysqlError(err, request.timeoutMs);
        const e = err as MysqlError;
        if (tx !== undefined) {
          if (e.fatal === true) tx.lost ??= 'the connection to the database was lost';
          else if (typeof e.errno === 'number' && TX_ENDING_ERRNOS.has(e.errno)) tx.lost ??= `the database rolled it back (${mapped.message})`;
        }
        finish(mapped);
      });
      command.on('end', () => {
        if (request.mode === 'query') {
          if (collector.overflow !== null) finish(overflowError(collector.overflow, request.maxRows, request.maxResultBytes));
          else finish(null, collector.rows);
          return;
        }
        const affectedRows = Number(header?.affectedRows ?? 0);
        const rawId = header?.insertId;
        const insertId = request.statement.inserts && affectedRows > 0 && rawId !== undefined && rawId !== 0 && rawId !== '0' ? toSqlValue(rawId) : null;
        finish(null, { affectedRows, insertId });
      });
    });

  /** A text-protocol statement of the platform's own (START TRANSACTION, COMMIT, ROLLBACK) on `conn`. */
  const control = (conn: CoreConnection, sql: string, deadline: number, timeoutMs: number): Promise<void> =>
    withDeadline<void>(deadline, () => {
      kill(conn);
      return timeoutError(timeoutMs, sql);
    }, (done) => {
      conn.query(sql, [], (err) => done(err));
    }).catch((err: unknown) => {
      throw mapMysqlError(err, timeoutMs);
    });

  const asTx = (tx: SqlBackendTx): MysqlTx => {
    if (!('conn' in tx)) throw builtinError('E_SQL_TX', 'not a transaction of the MySQL backend');
    return tx as MysqlTx;
  };

  return {
    kind: 'mysql',
    dialect: 'mysql',
    databaseName,
    async provisionApp(app: string): Promise<void> {
      checkAppName(app);
      if (closed) throw unavailableError('the SQL backend is closed');
      await provision(app);
    },
    async run(app: string, request: SqlRunRequest, tx?: SqlBackendTx): Promise<SqlRow[] | SqlExecResult> {
      checkAppName(app);
      // Connecting and running share one budget: a server that is down or hung fails within it.
      const until = stepDeadline(request.deadline, request.timeoutMs);
      if (tx !== undefined) {
        const mysqlTx = asTx(tx);
        if (mysqlTx.lost !== null || mysqlTx.conn === null) throw lostTxError(mysqlTx.lost ?? 'its connection was closed');
        return executeOn(mysqlTx.conn, request, until, mysqlTx);
      }
      const conn = await connect(app, until, request.timeoutMs);
      try {
        return await executeOn(conn, request, until, undefined);
      } finally {
        conn.release();
      }
    },
    async begin(app: string, deadline: number, timeoutMs: number): Promise<SqlBackendTx> {
      checkAppName(app);
      const until = stepDeadline(deadline, timeoutMs);
      const conn = await connect(app, until, timeoutMs);
      try {
        await control(conn, 'START TRANSACTION', until, timeoutMs);
      } catch (err) {
        conn.destroy();
        throw err;
      }
      const tx: MysqlTx = { app, conn, lost: null };
      return tx;
    },
    async commit(tx: SqlBackendTx, deadline: number, timeoutMs: number): Promise<void> {
      const mysqlTx = asTx(tx);
      if (mysqlTx.lost !== null || mysqlTx.conn === null) throw lostTxError(mysqlTx.lost ?? 'its connection was closed');
      const conn = mysqlTx.conn;
      mysqlTx.conn = null;
      try {
        await control(conn, 'COMMIT', stepDeadline(deadline, timeoutMs), timeoutMs);
      } catch (err) {
        mysqlTx.lost = 'COMMIT failed';
        conn.destroy();
        throw err;
      }
      mysqlTx.lost = 'it was committed';
      conn.release();
    },
    async rollback(tx: SqlBackendTx): Promise<void> {
      const mysqlTx = asTx(tx);
      const conn = mysqlTx.conn;
      mysqlTx.conn = null;
      mysqlTx.lost ??= 'it was rolled back';
      if (conn === null) return;
      try {
        await control(conn, 'ROLLBACK', Date.now() + options.connectTimeoutMs, options.connectTimeoutMs);
        conn.release();
      } catch (err) {
        options.onError(err as Error);
        // Closing the connection makes the server roll the transaction back.
        conn.destroy();
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const pools = [admin, ...[...apps.values()].flatMap((s) => (s.pool === null ? [] : [s.pool]))];
      apps.clear();
      await Promise.all(pools.map((pool) => withDeadline<void>(Date.now() + 2000, () => unavailableError('closing timed out'), (done) => pool.end((err) => done(err ?? null))).catch(() => {})));
    },
  };
}
