/**
 * The production store: MySQL 8 or MariaDB 10.6+ through a `mysql2/promise` pool (`MYSQL_URL`).
 *
 * Concurrency: a deploy or alias move locks its function row with `SELECT … FOR UPDATE` for the
 * whole transaction, so concurrent deploys to one function serialise (the per-function version
 * `seq`, the alias and its history cannot lose updates) while deploys to different functions run
 * in parallel. Transactions run at READ COMMITTED so a locking read of a missing function takes no
 * gap lock; when two deploys create the same new function at once, the loser gets a duplicate
 * key and the whole transaction is retried (as it is on InnoDB deadlocks and lock wait timeouts),
 * up to `MAX_ATTEMPTS` times with jittered backoff.
 *
 * Why not `INSERT IGNORE` then `FOR UPDATE`: InnoDB keeps a shared lock on the duplicate row that
 * INSERT IGNORE found, so two such transactions both holding it and both asking for the exclusive
 * lock deadlock on every concurrent deploy to an existing function.
 */
import mysql from 'mysql2/promise';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { isPlatformError } from '../../runtime/errors.ts';
import { cpError } from '../errors.ts';
import type { AppInfo, AuthMode, CanarySplit, FunctionInfo, FunctionLimits, LogLine, VersionInfo, VersionWithCode } from '../core/types.ts';
import {
  batchBytes, checkLogBounds, checkLogLines, checkLogReadQuery, groupLogBatch, logLineBytes, logReadSql, toStoredLogLine, type AppBatch,
} from './log-lines.ts';
import { BudgetTrimPlanner, type OldestRows } from './log-budget.ts';
import { MIGRATIONS } from './migrations/index.ts';
import type {
  AliasMove, AliasRoute, AuditEntry, AuditInput, ConfigEntry, DeployInput, LogBounds, LogReadQuery, LogUsage, Store, StoreDeployResult, StoredApiKey, StoredLogLine,
  StoredSigningKey,
} from './store.ts';

/** Attempts of one transaction before a deadlock / lock timeout / creation race is reported. */
const MAX_ATTEMPTS = 8;
/** Longest wait for the migration lock held by another starting process, in seconds. */
const MIGRATION_LOCK_TIMEOUT_S = 60;

const ER_DUP_ENTRY = 1062;
const ER_LOCK_WAIT_TIMEOUT = 1205;
const ER_LOCK_DEADLOCK = 1213;

/** Driver error codes that mean "the server is unreachable", answered as E_STORE_UNAVAILABLE. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR', 'POOL_CLOSED',
]);

type Row = RowDataPacket;
type Param = string | number | Date | null;

const VERSION_COLUMNS = 'app, function, id, size, message, author, created_at, limits, auth';
const KEY_COLUMNS = 'id, name, role, apps, hash, created_at, revoked_at';
const ROUTE_COLUMNS = 'version_id, canary_version_id, canary_weight';
/** Rows per multi-row log insert (one `INSERT … VALUES ?` text query, escaped by mysql2; no prepared statement per size). */
const LOG_INSERT_ROWS = 500;

function logRow(line: LogLine): Param[] {
  return [line.app, line.function, line.versionId, line.requestId, line.traceId ?? null, line.level, line.message, line.time, logLineBytes(line)];
}

function iso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return new Date(`${String(value).replace(' ', 'T')}Z`).toISOString();
}

/** MariaDB returns JSON columns as text, MySQL 8 as parsed values. */
function json<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

function toApp(row: Row): AppInfo {
  return { name: String(row.name), createdAt: iso(row.created_at) };
}

function toVersion(row: Row): VersionInfo {
  return {
    app: String(row.app),
    function: String(row.function),
    id: String(row.id),
    size: Number(row.size),
    message: String(row.message),
    author: String(row.author),
    createdAt: iso(row.created_at),
    limits: json<FunctionLimits>(row.limits),
    auth: String(row.auth) as AuthMode,
  };
}

function nullable(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function toRoute(row: Row): AliasRoute {
  const canary = row.canary_version_id === null || row.canary_version_id === undefined ? null : { versionId: String(row.canary_version_id), weight: Number(row.canary_weight) };
  return { versionId: String(row.version_id), canary };
}

function toAudit(row: Row): AuditEntry {
  const parse = (value: unknown): unknown => (value === null || value === undefined ? null : JSON.parse(String(value)));
  return {
    id: Number(row.id), at: iso(row.at), actor: String(row.actor), action: String(row.action),
    app: nullable(row.app), function: nullable(row.function), target: nullable(row.target),
    before: parse(row.before), after: parse(row.after),
  };
}

/** JSON text of an audit value, or null for undefined/null. */
function auditJson(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

function toApiKey(row: Row): StoredApiKey {
  return {
    id: String(row.id),
    name: String(row.name),
    role: String(row.role) as StoredApiKey['role'],
    apps: JSON.parse(String(row.apps)) as StoredApiKey['apps'],
    hash: String(row.hash),
    createdAt: iso(row.created_at),
    revokedAt: row.revoked_at === null ? null : iso(row.revoked_at),
  };
}

function errno(error: unknown): number | null {
  const value = typeof error === 'object' && error !== null ? (error as { errno?: unknown }).errno : undefined;
  return typeof value === 'number' ? value : null;
}

function driverCode(error: unknown): string | null {
  const value = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof value === 'string' ? value : null;
}

/** Marks a failure that a fresh attempt of the same transaction may not hit. */
class RetryableError extends Error {
  override readonly cause: unknown;
  constructor(cause: unknown) {
    super('retryable transaction failure');
    this.cause = cause;
  }
}

function isRetryable(error: unknown): boolean {
  if (error instanceof RetryableError) return true;
  const n = errno(error);
  return n === ER_LOCK_DEADLOCK || n === ER_LOCK_WAIT_TIMEOUT;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class MysqlStore implements Store {
  readonly kind = 'mysql' as const;
  readonly #pool: Pool;
  readonly #where: string;
  #closed = false;

  constructor(pool: Pool, where: string) {
    this.#pool = pool;
    this.#where = where;
  }

  /** Map connection-level failures to E_STORE_UNAVAILABLE; let everything else through. */
  #mapError(error: unknown): unknown {
    if (isPlatformError(error)) return error;
    if (error instanceof RetryableError) return this.#mapError(error.cause);
    const code = driverCode(error);
    if (code !== null && UNAVAILABLE_CODES.has(code)) {
      return cpError('E_STORE_UNAVAILABLE', `the MySQL store at ${this.#where} is unreachable (${code}); retry later`);
    }
    const n = errno(error);
    if (n === ER_LOCK_DEADLOCK || n === ER_LOCK_WAIT_TIMEOUT) {
      return cpError('E_CONFLICT', `too many concurrent changes to the same function; retry (${code ?? n})`);
    }
    return error;
  }

  #checkOpen(): void {
    if (this.#closed) throw cpError('E_STORE_UNAVAILABLE', `the MySQL store at ${this.#where} is closed`);
  }

  /**
   * Rows of one statement. On the pool, driver errors are mapped (E_STORE_UNAVAILABLE); inside a
   * transaction (`conn` given) they pass through raw so `#tx` can recognise retryable ones.
   */
  async #rows(sql: string, params: Param[] = [], conn?: PoolConnection): Promise<Row[]> {
    this.#checkOpen();
    if (conn !== undefined) return (await conn.execute<Row[]>(sql, params))[0];
    try {
      const [rows] = await this.#pool.execute<Row[]>(sql, params);
      return rows;
    } catch (error) {
      throw this.#mapError(error);
    }
  }

  async #one(sql: string, params: Param[] = [], conn?: PoolConnection): Promise<Row | null> {
    const rows = await this.#rows(sql, params, conn);
    return rows[0] ?? null;
  }

  async #exec(sql: string, params: Param[], conn: PoolConnection): Promise<void> {
    await conn.execute(sql, params);
  }

  /**
   * Run `fn` in one READ COMMITTED transaction on one pooled connection; any throw rolls back.
   * Deadlocks, lock wait timeouts and `RetryableError`s retry the whole function.
   */
  async #tx<T>(fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    this.#checkOpen();
    for (let attempt = 1; ; attempt += 1) {
      let conn: PoolConnection;
      try {
        conn = await this.#pool.getConnection();
      } catch (error) {
        throw this.#mapError(error);
      }
      try {
        await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
        await conn.beginTransaction();
        try {
          const result = await fn(conn);
          await conn.commit();
          return result;
        } catch (error) {
          await conn.rollback().catch(() => undefined);
          throw error;
        }
      } catch (error) {
        if (attempt < MAX_ATTEMPTS && isRetryable(error)) {
          await sleep(Math.random() * 10 * attempt);
          continue;
        }
        throw this.#mapError(error);
      } finally {
        conn.release();
      }
    }
  }

  async migrate(): Promise<void> {
    this.#checkOpen();
    let conn: PoolConnection;
    try {
      conn = await this.#pool.getConnection();
    } catch (error) {
      throw this.#mapError(error);
    }
    const lockName = "CONCAT('faas-migrate:', DATABASE())";
    try {
      const [locked] = await conn.query<Row[]>(`SELECT GET_LOCK(${lockName}, ${MIGRATION_LOCK_TIMEOUT_S}) AS got`);
      if (Number(locked[0]?.got) !== 1) {
        throw cpError('E_STORE_UNAVAILABLE', `another process held the migration lock of ${this.#where} for ${MIGRATION_LOCK_TIMEOUT_S} s`);
      }
      try {
        await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          id VARCHAR(64) NOT NULL PRIMARY KEY,
          applied_at DATETIME(3) NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
        for (const migration of MIGRATIONS) {
          const [done] = await conn.execute<Row[]>('SELECT id FROM schema_migrations WHERE id = ?', [migration.id]);
          if (done.length > 0) continue;
          // DDL commits implicitly in MySQL; migrations are written to be re-runnable instead.
          for (const statement of migration.mysql) await conn.query(statement);
          await conn.execute('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)', [migration.id, new Date()]);
        }
      } finally {
        await conn.query(`SELECT RELEASE_LOCK(${lockName})`).catch(() => undefined);
      }
    } catch (error) {
      throw this.#mapError(error);
    } finally {
      conn.release();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async ping(): Promise<void> {
    await this.#rows('SELECT 1 AS ok');
  }

  async listApps(): Promise<AppInfo[]> {
    return (await this.#rows('SELECT name, created_at FROM apps ORDER BY name')).map(toApp);
  }

  async getApp(name: string): Promise<AppInfo | null> {
    const row = await this.#one('SELECT name, created_at FROM apps WHERE name = ?', [name]);
    return row === null ? null : toApp(row);
  }

  async ensureApp(name: string, audit?: AuditInput): Promise<AppInfo> {
    return this.#tx(async (conn) => {
      const now = new Date();
      if ((await this.#one('SELECT name FROM apps WHERE name = ? FOR UPDATE', [name], conn)) === null) {
        try {
          await this.#exec('INSERT INTO apps (name, created_at) VALUES (?, ?)', [name, now], conn);
        } catch (error) {
          if (errno(error) === ER_DUP_ENTRY) throw new RetryableError(error);
          throw error;
        }
        if (audit !== undefined) await this.#audit(conn, { ...audit, after: { name } }, now);
      }
      return toApp((await this.#one('SELECT name, created_at FROM apps WHERE name = ?', [name], conn)) as Row);
    });
  }

  /** Inside a transaction: append one audit record. */
  async #audit(conn: PoolConnection, entry: AuditInput, now: Date): Promise<void> {
    await this.#exec(
      'INSERT INTO audit_log (at, actor, action, app, function, target, `before`, `after`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [now, entry.actor, entry.action, entry.app, entry.function, entry.target, auditJson(entry.before), auditJson(entry.after)],
      conn,
    );
  }

  #functionInfo(row: Row, aliasRows: Row[]): FunctionInfo {
    const aliases: Record<string, string> = {};
    const canaries: Record<string, CanarySplit> = {};
    for (const alias of aliasRows) {
      const route = toRoute(alias);
      aliases[String(alias.name)] = route.versionId;
      if (route.canary !== null) canaries[String(alias.name)] = route.canary;
    }
    return { app: String(row.app), name: String(row.name), createdAt: iso(row.created_at), limits: json<FunctionLimits>(row.limits), aliases, canaries };
  }

  async listFunctions(app: string): Promise<FunctionInfo[]> {
    const rows = await this.#rows('SELECT app, name, created_at, limits FROM functions WHERE app = ? ORDER BY name', [app]);
    const aliasRows = await this.#rows(`SELECT function, name, ${ROUTE_COLUMNS} FROM aliases WHERE app = ? ORDER BY name`, [app]);
    return rows.map((row) => this.#functionInfo(row, aliasRows.filter((alias) => alias.function === row.name)));
  }

  async getFunction(app: string, name: string): Promise<FunctionInfo | null> {
    const row = await this.#one('SELECT app, name, created_at, limits FROM functions WHERE app = ? AND name = ?', [app, name]);
    if (row === null) return null;
    return this.#functionInfo(row, await this.#rows(`SELECT name, ${ROUTE_COLUMNS} FROM aliases WHERE app = ? AND function = ? ORDER BY name`, [app, name]));
  }

  async deploy(input: DeployInput): Promise<StoreDeployResult> {
    const { app, function: fn, versionId, alias } = input;
    const limits = JSON.stringify(input.limits);
    return this.#tx(async (conn) => {
      const now = new Date();
      await this.#exec('INSERT IGNORE INTO apps (name, created_at) VALUES (?, ?)', [app, now], conn);
      const fnRow = await this.#one('SELECT name FROM functions WHERE app = ? AND name = ? FOR UPDATE', [app, fn], conn);
      if (fnRow === null) {
        try {
          await this.#exec('INSERT INTO functions (app, name, created_at, limits) VALUES (?, ?, ?, ?)', [app, fn, now, limits], conn);
        } catch (error) {
          // Another deploy created the function first: start over and lock its row.
          if (errno(error) === ER_DUP_ENTRY) throw new RetryableError(error);
          throw error;
        }
      } else {
        await this.#exec('UPDATE functions SET limits = ? WHERE app = ? AND name = ?', [limits, app, fn], conn);
      }
      const selectVersion = `SELECT ${VERSION_COLUMNS} FROM versions WHERE app = ? AND function = ? AND id = ?`;
      let row = await this.#one(selectVersion, [app, fn, versionId], conn);
      let created = false;
      if (row === null) {
        const next = await this.#one('SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM versions WHERE app = ? AND function = ?', [app, fn], conn);
        await this.#exec(
          'INSERT INTO versions (app, function, id, seq, code, size, message, author, created_at, limits, auth) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          [app, fn, versionId, Number(next?.seq ?? 1), input.code, Buffer.byteLength(input.code, 'utf8'), input.message, input.author, now, limits, input.auth],
          conn,
        );
        created = true;
        row = (await this.#one(selectVersion, [app, fn, versionId], conn)) as Row;
      }
      const previous = await this.#moveAlias(conn, app, fn, alias, { versionId, canary: null }, input.author, now);
      await this.#audit(conn, { ...input.audit, before: previous, after: { versionId, created } }, now);
      return { version: toVersion(row), previousVersionId: previous?.versionId ?? null, created };
    });
  }

  /** Inside a transaction holding the function row lock: move the alias, append history, return the previous route. */
  async #moveAlias(conn: PoolConnection, app: string, fn: string, alias: string, route: AliasRoute, actor: string, now: Date): Promise<AliasRoute | null> {
    const row = await this.#one(`SELECT ${ROUTE_COLUMNS} FROM aliases WHERE app = ? AND function = ? AND name = ?`, [app, fn, alias], conn);
    const previous = row === null ? null : toRoute(row);
    await this.#exec(
      `INSERT INTO aliases (app, function, name, version_id, canary_version_id, canary_weight, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE version_id = VALUES(version_id), canary_version_id = VALUES(canary_version_id), canary_weight = VALUES(canary_weight), updated_at = VALUES(updated_at)`,
      [app, fn, alias, route.versionId, route.canary?.versionId ?? null, route.canary?.weight ?? null, now],
      conn,
    );
    await this.#exec('INSERT INTO alias_history (app, function, alias, version_id, actor, moved_at) VALUES (?, ?, ?, ?, ?, ?)', [app, fn, alias, route.versionId, actor, now], conn);
    return previous;
  }

  async listVersions(app: string, fn: string): Promise<VersionInfo[]> {
    return (await this.#rows(`SELECT ${VERSION_COLUMNS} FROM versions WHERE app = ? AND function = ? ORDER BY seq DESC`, [app, fn])).map(toVersion);
  }

  async getVersion(app: string, fn: string, versionId: string): Promise<VersionWithCode | null> {
    const row = await this.#one(`SELECT ${VERSION_COLUMNS}, code FROM versions WHERE app = ? AND function = ? AND id = ?`, [app, fn, versionId]);
    return row === null ? null : { ...toVersion(row), code: String(row.code) };
  }

  async getAlias(app: string, fn: string, alias: string): Promise<string | null> {
    const row = await this.#one('SELECT version_id FROM aliases WHERE app = ? AND function = ? AND name = ?', [app, fn, alias]);
    return row === null ? null : String(row.version_id);
  }

  async getAliasRoute(app: string, fn: string, alias: string): Promise<AliasRoute | null> {
    const row = await this.#one(`SELECT ${ROUTE_COLUMNS} FROM aliases WHERE app = ? AND function = ? AND name = ?`, [app, fn, alias]);
    return row === null ? null : toRoute(row);
  }

  async setAlias(app: string, fn: string, alias: string, route: AliasRoute, audit: AuditInput): Promise<AliasRoute | null> {
    return this.#tx(async (conn) => {
      const notFound = (versionId: string) => cpError('E_VERSION_NOT_FOUND', `version ${versionId} does not exist for ${app}/${fn}; list versions with GET /api/apps/${app}/functions/${fn}/versions`, { versionId });
      if ((await this.#one('SELECT name FROM functions WHERE app = ? AND name = ? FOR UPDATE', [app, fn], conn)) === null) throw notFound(route.versionId);
      for (const versionId of [route.versionId, ...(route.canary === null ? [] : [route.canary.versionId])]) {
        if ((await this.#one('SELECT id FROM versions WHERE app = ? AND function = ? AND id = ?', [app, fn, versionId], conn)) === null) throw notFound(versionId);
      }
      const now = new Date();
      const previous = await this.#moveAlias(conn, app, fn, alias, route, audit.actor, now);
      await this.#audit(conn, { ...audit, before: previous, after: route }, now);
      return previous;
    });
  }

  async aliasHistory(app: string, fn: string, alias: string): Promise<AliasMove[]> {
    const rows = await this.#rows('SELECT version_id, moved_at, actor FROM alias_history WHERE app = ? AND function = ? AND alias = ? ORDER BY id', [app, fn, alias]);
    return rows.map((row) => ({ versionId: String(row.version_id), movedAt: iso(row.moved_at), actor: String(row.actor) }));
  }

  async createApiKey(key: StoredApiKey, audit?: AuditInput): Promise<void> {
    try {
      await this.#tx(async (conn) => {
        await this.#exec('INSERT INTO api_keys (id, name, role, apps, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
          key.id, key.name, key.role, JSON.stringify(key.apps), key.hash, new Date(key.createdAt), key.revokedAt === null ? null : new Date(key.revokedAt),
        ], conn);
        if (audit !== undefined) await this.#audit(conn, { ...audit, after: { id: key.id, name: key.name, role: key.role, apps: key.apps } }, new Date(key.createdAt));
      });
    } catch (error) {
      if (errno(error) === ER_DUP_ENTRY) throw cpError('E_CONFLICT', `an API key with id ${key.id} or the same secret already exists`);
      throw error;
    }
  }

  async findApiKeyByHash(hash: string): Promise<StoredApiKey | null> {
    const row = await this.#one(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE hash = ?`, [hash]);
    return row === null ? null : toApiKey(row);
  }

  async listApiKeys(): Promise<StoredApiKey[]> {
    return (await this.#rows(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`)).map(toApiKey);
  }

  async revokeApiKey(id: string, audit: AuditInput): Promise<StoredApiKey | null> {
    return this.#tx(async (conn) => {
      const row = await this.#one(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = ? FOR UPDATE`, [id], conn);
      if (row === null) return null;
      const before = toApiKey(row);
      if (before.revokedAt !== null) return before;
      const now = new Date();
      await this.#exec('UPDATE api_keys SET revoked_at = ? WHERE id = ?', [now, id], conn);
      await this.#audit(conn, { ...audit, before: { revokedAt: null }, after: { revokedAt: now.toISOString() } }, now);
      return { ...before, revokedAt: now.toISOString() };
    });
  }

  async listConfig(app: string, fn: string): Promise<ConfigEntry[]> {
    return (await this.#rows('SELECT kind, name, value, updated_at FROM function_config WHERE app = ? AND function = ? ORDER BY kind, name', [app, fn])).map((row) => ({
      kind: String(row.kind) as ConfigEntry['kind'], name: String(row.name), value: String(row.value), updatedAt: iso(row.updated_at),
    }));
  }

  async putConfig(app: string, fn: string, entry: Omit<ConfigEntry, 'updatedAt'>, audit: AuditInput): Promise<void> {
    await this.#tx(async (conn) => {
      const now = new Date();
      await this.#exec(
        'INSERT INTO function_config (app, function, kind, name, value, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at)',
        [app, fn, entry.kind, entry.name, entry.value, now],
        conn,
      );
      await this.#audit(conn, audit, now);
    });
  }

  async deleteConfig(app: string, fn: string, kind: ConfigEntry['kind'], name: string, audit: AuditInput): Promise<boolean> {
    return this.#tx(async (conn) => {
      const [result] = await conn.execute<import('mysql2/promise').ResultSetHeader>('DELETE FROM function_config WHERE app = ? AND function = ? AND kind = ? AND name = ?', [app, fn, kind, name]);
      if (result.affectedRows === 0) return false;
      await this.#audit(conn, audit, new Date());
      return true;
    });
  }

  async getAppSettings(app: string): Promise<string | null> {
    const row = await this.#one('SELECT settings FROM app_settings WHERE app = ?', [app]);
    return row === null ? null : String(row.settings);
  }

  async putAppSettings(app: string, settingsJson: string, audit: AuditInput): Promise<void> {
    await this.#tx(async (conn) => {
      const now = new Date();
      const before = await this.#one('SELECT settings FROM app_settings WHERE app = ? FOR UPDATE', [app], conn);
      await this.#exec('INSERT INTO app_settings (app, settings, updated_at) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE settings = VALUES(settings), updated_at = VALUES(updated_at)', [app, settingsJson, now], conn);
      await this.#audit(conn, { ...audit, before: before === null ? null : JSON.parse(String(before.settings)), after: JSON.parse(settingsJson) }, now);
    });
  }

  async listSigningKeys(app: string): Promise<StoredSigningKey[]> {
    return (await this.#rows('SELECT kid, secret, created_at, retired_at FROM signing_keys WHERE app = ? ORDER BY created_at DESC, kid DESC', [app])).map((row) => ({
      kid: String(row.kid), secret: String(row.secret), createdAt: iso(row.created_at), retiredAt: row.retired_at === null ? null : iso(row.retired_at),
    }));
  }

  async addSigningKey(app: string, key: StoredSigningKey, opts: { retire?: { kid: string; at: string }[]; onlyIfNone?: boolean; audit?: AuditInput }): Promise<void> {
    await this.#tx(async (conn) => {
      // Lock the app row so concurrent first uses (onlyIfNone) create one key.
      await this.#one('SELECT name FROM apps WHERE name = ? FOR UPDATE', [app], conn);
      if (opts.onlyIfNone === true && (await this.#one('SELECT kid FROM signing_keys WHERE app = ? LIMIT 1', [app], conn)) !== null) return;
      await this.#exec('INSERT INTO signing_keys (app, kid, secret, created_at, retired_at) VALUES (?, ?, ?, ?, ?)', [app, key.kid, key.secret, new Date(key.createdAt), key.retiredAt === null ? null : new Date(key.retiredAt)], conn);
      for (const { kid, at } of opts.retire ?? []) await this.#exec('UPDATE signing_keys SET retired_at = ? WHERE app = ? AND kid = ? AND retired_at IS NULL', [new Date(at), app, kid], conn);
      if (opts.audit !== undefined) await this.#audit(conn, { ...opts.audit, after: { kid: key.kid, retire: opts.retire ?? [] } }, new Date(key.createdAt));
    });
  }

  async appendAudit(entry: AuditInput): Promise<void> {
    await this.#tx(async (conn) => this.#audit(conn, entry, new Date()));
  }

  async listAudit(query: { apps: string[] | null; limit: number; beforeId?: number }): Promise<AuditEntry[]> {
    const before = query.beforeId ?? Number.MAX_SAFE_INTEGER;
    const limit = Math.max(1, Math.min(10_000, Math.floor(query.limit)));
    if (query.apps === null) return (await this.#rows(`SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ${limit}`, [before])).map(toAudit);
    if (query.apps.length === 0) return [];
    const marks = query.apps.map(() => '?').join(', ');
    return (await this.#rows(`SELECT * FROM audit_log WHERE id < ? AND app IN (${marks}) ORDER BY id DESC LIMIT ${limit}`, [before, ...query.apps])).map(toAudit);
  }

  // --- log lines (see log-lines.ts and migration 003) -----------------------------------------

  async appendLogs(lines: readonly LogLine[], bounds: LogBounds): Promise<void> {
    checkLogLines(lines);
    checkLogBounds(bounds);
    if (lines.length === 0) return;
    const batches = groupLogBatch(lines, bounds.ringSize);
    await this.#tx(async (conn) => {
      for (const batch of batches) await this.#appendAppLogs(conn, batch, bounds);
    });
  }

  /**
   * Inside a transaction: take the app's usage row lock first (it serialises appends to one app,
   * so ids commit in increasing order per app), insert the lines, update usage, trim to the ring
   * size and the budget.
   */
  async #appendAppLogs(conn: PoolConnection, batch: AppBatch, bounds: LogBounds): Promise<void> {
    const { app } = batch;
    const { total, byFunction: bytesByFn } = batchBytes(batch.lines);
    await this.#exec('INSERT INTO log_app_usage (app, bytes) VALUES (?, ?) ON DUPLICATE KEY UPDATE bytes = bytes + VALUES(bytes)', [app, total], conn);
    for (let at = 0; at < batch.lines.length; at += LOG_INSERT_ROWS) {
      const rows = batch.lines.slice(at, at + LOG_INSERT_ROWS).map(logRow);
      await conn.query('INSERT INTO log_lines (app, function, version_id, request_id, trace_id, level, message, time_ms, bytes) VALUES ?', [rows]);
    }
    for (const [fn, count] of batch.counts) {
      await this.#exec(
        'INSERT INTO log_function_usage (app, function, line_count, bytes) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE line_count = line_count + VALUES(line_count), bytes = bytes + VALUES(bytes)',
        [app, fn, count, bytesByFn.get(fn) ?? 0], conn,
      );
    }
    const usage = await this.#rows('SELECT function, line_count FROM log_function_usage WHERE app = ?', [app], conn);
    for (const row of usage) {
      const fn = String(row.function);
      const count = Number(row.line_count);
      if (!batch.counts.has(fn) || count <= bounds.ringSize) continue;
      const oldest = await this.#oldestLogRows(conn, app, fn, 0, count - bounds.ringSize);
      if (oldest.ids.length > 0) await this.#deleteLogsUpTo(conn, app, fn, oldest.ids.at(-1) as number, oldest.ids.length, oldest.bytes.reduce((a, b) => a + b, 0));
    }
    const appRow = await this.#one('SELECT bytes FROM log_app_usage WHERE app = ?', [app], conn);
    const appBytes = Number(appRow?.bytes ?? 0);
    if (appBytes <= bounds.appMaxBytes) return;
    const counts = (await this.#rows('SELECT function, line_count FROM log_function_usage WHERE app = ? AND line_count > 0', [app], conn)).map((row) => ({ function: String(row.function), lines: Number(row.line_count) }));
    const lines = counts.reduce((sum, c) => sum + c.lines, 0);
    const planner = new BudgetTrimPlanner(counts, appBytes - bounds.appMaxBytes, lines === 0 ? 0 : appBytes / lines);
    for (let want = planner.next(); want !== null; want = planner.next()) planner.feed(await this.#oldestLogRows(conn, app, want.function, want.afterId, want.limit));
    for (const step of planner.steps()) await this.#deleteLogsUpTo(conn, app, step.function, step.lastId, step.lines, step.bytes);
  }

  /** A function's oldest rows after `afterId` (0: from the start), at most `limit`. */
  async #oldestLogRows(conn: PoolConnection, app: string, fn: string, afterId: number, limit: number): Promise<OldestRows> {
    const rows = await this.#rows(`SELECT id, bytes FROM log_lines WHERE app = ? AND function = ? AND id > ? ORDER BY id LIMIT ${Math.max(1, Math.floor(limit))}`, [app, fn, afterId], conn);
    return { ids: rows.map((row) => Number(row.id)), bytes: rows.map((row) => Number(row.bytes)) };
  }

  /** Inside a transaction: delete a function's lines up to `lastId` and take them off the usage counters. */
  async #deleteLogsUpTo(conn: PoolConnection, app: string, fn: string, lastId: number, lines: number, bytes: number): Promise<void> {
    await this.#exec('DELETE FROM log_lines WHERE app = ? AND function = ? AND id <= ?', [app, fn, lastId], conn);
    await this.#exec('UPDATE log_function_usage SET line_count = GREATEST(line_count - ?, 0), bytes = GREATEST(bytes - ?, 0) WHERE app = ? AND function = ?', [lines, bytes, app, fn], conn);
    await this.#exec('UPDATE log_app_usage SET bytes = GREATEST(bytes - ?, 0) WHERE app = ?', [bytes, app], conn);
  }

  async readLogs(app: string, fn: string, query: LogReadQuery): Promise<StoredLogLine[]> {
    checkLogReadQuery(query);
    const { sql, params, newestFirst } = logReadSql(app, fn, query);
    // LIMIT is interpolated (a validated integer): mysql2's execute does not bind it portably.
    const lines = (await this.#rows(`${sql} LIMIT ${query.limit}`, params)).map(toStoredLogLine);
    return newestFirst ? lines.reverse() : lines;
  }

  async logUsage(app: string): Promise<LogUsage> {
    const bytes = await this.#one('SELECT bytes FROM log_app_usage WHERE app = ?', [app]);
    const lines = await this.#one('SELECT COALESCE(SUM(line_count), 0) AS n FROM log_function_usage WHERE app = ?', [app]);
    return { lines: Number(lines?.n ?? 0), bytes: bytes === null ? 0 : Number(bytes.bytes) };
  }

  async countApiKeys(): Promise<number> {
    const row = await this.#one('SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL');
    return Number(row?.n ?? 0);
  }
}

/**
 * Connect to MySQL/MariaDB and check the connection. Does not migrate: call `store.migrate()`
 * (or use `openStore` from `open.ts`).
 * @param url `mysql://user:password@host:port/database` (the database must exist; options such as
 *   `?ssl=…` are passed to mysql2). Times are stored as UTC `DATETIME(3)`.
 * @returns the store; `close()` ends the pool
 * @throws Error when the URL is not a mysql:// URL naming a database;
 *   PlatformError E_STORE_UNAVAILABLE when the server cannot be reached;
 *   the driver's error for refused credentials or an unknown database.
 */
export async function openMysqlStore(url: string): Promise<Store> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`MYSQL_URL is not a URL; expected mysql://user:password@host:3306/database`);
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw new Error(`MYSQL_URL must start with mysql://, got ${parsed.protocol}//`);
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '') throw new Error('MYSQL_URL must name a database, e.g. mysql://user:password@host:3306/faas');
  if (parsed.protocol === 'mariadb:') parsed.protocol = 'mysql:';
  const where = `${parsed.hostname}:${parsed.port || '3306'}/${database}`;
  const pool = mysql.createPool({
    uri: parsed.toString(),
    timezone: 'Z',
    charset: 'utf8mb4_bin',
    connectionLimit: 10,
    waitForConnections: true,
    connectTimeout: 10_000,
  });
  const store = new MysqlStore(pool, where);
  try {
    await store.ping();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  return store;
}
