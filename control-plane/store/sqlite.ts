/**
 * The embedded store: one SQLite file through `node:sqlite` (no native build), used when no
 * `MYSQL_URL` is set. WAL mode lets readers run during a write; `busy_timeout` makes a second
 * process wait for the write lock instead of failing; foreign keys are enforced.
 *
 * `DatabaseSync` is synchronous, so every transaction here runs start to finish without yielding
 * to the event loop (never `await` inside `#tx`). Within one process that alone serialises
 * deploys; `BEGIN IMMEDIATE` takes the write lock up front so that processes sharing the file
 * serialise too, and a read-then-write inside a transaction can never be overtaken.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
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

/** How long a connection waits for another process's write lock before failing, in ms. */
const BUSY_TIMEOUT_MS = 5000;

type Row = Record<string, unknown>;

const VERSION_COLUMNS = 'app, function, id, size, message, author, created_at, limits, auth';
/** Columns of a `log_lines` insert, in the order of `logRow`. */
const LOG_INSERT = 'INSERT INTO log_lines (app, function, version_id, request_id, trace_id, level, message, time_ms, bytes) VALUES ';
/** Rows per multi-row log insert; smaller remainders go in power-of-two chunks (few cached statements). */
const LOG_INSERT_ROWS = 64;
/** The insert of 64, 32, …, 1 rows, by row count. */
const LOG_INSERT_SQL = new Map(Array.from({ length: 7 }, (_, i) => 2 ** i).map((rows) => [rows, LOG_INSERT + Array<string>(rows).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')]));

function logRow(line: LogLine): SQLInputValue[] {
  return [line.app, line.function, line.versionId, line.requestId, line.traceId ?? null, line.level, line.message, line.time, logLineBytes(line)];
}
const KEY_COLUMNS = 'id, name, role, apps, hash, created_at, revoked_at';

function str(row: Row, column: string): string {
  return String(row[column]);
}

function toApp(row: Row): AppInfo {
  return { name: str(row, 'name'), createdAt: str(row, 'created_at') };
}

function toVersion(row: Row): VersionInfo {
  return {
    app: str(row, 'app'),
    function: str(row, 'function'),
    id: str(row, 'id'),
    size: Number(row.size),
    message: str(row, 'message'),
    author: str(row, 'author'),
    createdAt: str(row, 'created_at'),
    limits: JSON.parse(str(row, 'limits')) as FunctionLimits,
    auth: str(row, 'auth') as AuthMode,
  };
}

function nullable(row: Row, column: string): string | null {
  return row[column] === null || row[column] === undefined ? null : str(row, column);
}

function toRoute(row: Row): AliasRoute {
  const canary = row.canary_version_id === null || row.canary_version_id === undefined ? null : { versionId: str(row, 'canary_version_id'), weight: Number(row.canary_weight) };
  return { versionId: str(row, 'version_id'), canary };
}

function toAudit(row: Row): AuditEntry {
  const parse = (column: string): unknown => (row[column] === null || row[column] === undefined ? null : JSON.parse(str(row, column)));
  return {
    id: Number(row.id), at: str(row, 'at'), actor: str(row, 'actor'), action: str(row, 'action'),
    app: nullable(row, 'app'), function: nullable(row, 'function'), target: nullable(row, 'target'),
    before: parse('before'), after: parse('after'),
  };
}

/** JSON text of an audit value, or null for undefined/null. */
function auditJson(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

function toApiKey(row: Row): StoredApiKey {
  return {
    id: str(row, 'id'),
    name: str(row, 'name'),
    role: str(row, 'role') as StoredApiKey['role'],
    apps: JSON.parse(str(row, 'apps')) as StoredApiKey['apps'],
    hash: str(row, 'hash'),
    createdAt: str(row, 'created_at'),
    revokedAt: row.revoked_at === null || row.revoked_at === undefined ? null : str(row, 'revoked_at'),
  };
}

/** SQLite's primary result code (low byte of the extended code) of a node:sqlite error, or null. */
function sqliteCode(error: unknown): number | null {
  if (typeof error === 'object' && error !== null && typeof (error as { errcode?: unknown }).errcode === 'number') {
    return (error as { errcode: number }).errcode & 0xff;
  }
  return null;
}

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CONSTRAINT = 19;

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #db: DatabaseSync;
  readonly #file: string;
  readonly #statements = new Map<string, StatementSync>();
  #closed = false;

  constructor(db: DatabaseSync, file: string) {
    this.#db = db;
    this.#file = file;
  }

  /** A cached prepared statement; throws E_STORE_UNAVAILABLE after `close()`. */
  #sql(sql: string): StatementSync {
    if (this.#closed) throw cpError('E_STORE_UNAVAILABLE', `the SQLite store ${this.#file} is closed`);
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#sql(sql).get(...params) as Row | undefined;
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#sql(sql).all(...params) as Row[];
  }

  #run(sql: string, ...params: SQLInputValue[]): void {
    this.#sql(sql).run(...params);
  }

  /** Run `fn` in one `BEGIN IMMEDIATE` transaction; any throw rolls everything back. `fn` must be synchronous. */
  #tx<T>(fn: () => T): T {
    if (this.#closed) throw cpError('E_STORE_UNAVAILABLE', `the SQLite store ${this.#file} is closed`);
    this.#guard(() => this.#db.exec('BEGIN IMMEDIATE'));
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Turn "database is locked" (another process held the write lock past busy_timeout) into E_STORE_UNAVAILABLE. */
  #guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      const code = sqliteCode(error);
      if (code === SQLITE_BUSY || code === SQLITE_LOCKED) {
        throw cpError('E_STORE_UNAVAILABLE', `the SQLite store ${this.#file} stayed locked by another process for ${BUSY_TIMEOUT_MS} ms; retry`);
      }
      throw error;
    }
  }

  async migrate(): Promise<void> {
    if (this.#closed) throw cpError('E_STORE_UNAVAILABLE', `the SQLite store ${this.#file} is closed`);
    this.#db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL)');
    for (const migration of MIGRATIONS) {
      this.#tx(() => {
        // Checked inside the write lock, so two processes starting at once apply each migration once.
        if (this.#get('SELECT id FROM schema_migrations WHERE id = ?', migration.id) !== undefined) return;
        for (const statement of migration.sqlite) this.#db.exec(statement);
        this.#run('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)', migration.id, new Date().toISOString());
      });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    this.#db.close();
  }

  async ping(): Promise<void> {
    this.#guard(() => this.#get('SELECT 1 AS ok'));
  }

  async listApps(): Promise<AppInfo[]> {
    return this.#all('SELECT name, created_at FROM apps ORDER BY name').map(toApp);
  }

  async getApp(name: string): Promise<AppInfo | null> {
    const row = this.#get('SELECT name, created_at FROM apps WHERE name = ?', name);
    return row === undefined ? null : toApp(row);
  }

  async ensureApp(name: string, audit?: AuditInput): Promise<AppInfo> {
    return this.#tx(() => {
      const now = new Date().toISOString();
      const before = this.#get('SELECT name FROM apps WHERE name = ?', name);
      if (before === undefined) {
        this.#run('INSERT INTO apps (name, created_at) VALUES (?, ?)', name, now);
        if (audit !== undefined) this.#audit({ ...audit, after: { name } }, now);
      }
      return toApp(this.#get('SELECT name, created_at FROM apps WHERE name = ?', name) as Row);
    });
  }

  /** Inside a transaction: append one audit record. */
  #audit(entry: AuditInput, now: string): void {
    this.#run(
      'INSERT INTO audit_log (at, actor, action, app, function, target, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      now, entry.actor, entry.action, entry.app, entry.function, entry.target, auditJson(entry.before), auditJson(entry.after),
    );
  }

  #functionInfo(row: Row, aliasRows: Row[]): FunctionInfo {
    const aliases: Record<string, string> = {};
    const canaries: Record<string, CanarySplit> = {};
    for (const alias of aliasRows) {
      const route = toRoute(alias);
      aliases[str(alias, 'name')] = route.versionId;
      if (route.canary !== null) canaries[str(alias, 'name')] = route.canary;
    }
    return { app: str(row, 'app'), name: str(row, 'name'), createdAt: str(row, 'created_at'), limits: JSON.parse(str(row, 'limits')) as FunctionLimits, aliases, canaries };
  }

  async listFunctions(app: string): Promise<FunctionInfo[]> {
    const rows = this.#all('SELECT app, name, created_at, limits FROM functions WHERE app = ? ORDER BY name', app);
    const aliasRows = this.#all('SELECT function, name, version_id, canary_version_id, canary_weight FROM aliases WHERE app = ? ORDER BY name', app);
    return rows.map((row) => this.#functionInfo(row, aliasRows.filter((alias) => alias.function === row.name)));
  }

  async getFunction(app: string, name: string): Promise<FunctionInfo | null> {
    const row = this.#get('SELECT app, name, created_at, limits FROM functions WHERE app = ? AND name = ?', app, name);
    if (row === undefined) return null;
    return this.#functionInfo(row, this.#all('SELECT name, version_id, canary_version_id, canary_weight FROM aliases WHERE app = ? AND function = ? ORDER BY name', app, name));
  }

  async deploy(input: DeployInput): Promise<StoreDeployResult> {
    const { app, function: fn, versionId, alias } = input;
    return this.#tx(() => {
      const now = new Date().toISOString();
      const limits = JSON.stringify(input.limits);
      this.#run('INSERT INTO apps (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', app, now);
      this.#run('INSERT INTO functions (app, name, created_at, limits) VALUES (?, ?, ?, ?) ON CONFLICT (app, name) DO UPDATE SET limits = excluded.limits', app, fn, now, limits);
      let created = false;
      let row = this.#get(`SELECT ${VERSION_COLUMNS} FROM versions WHERE app = ? AND function = ? AND id = ?`, app, fn, versionId);
      if (row === undefined) {
        const seq = Number((this.#get('SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM versions WHERE app = ? AND function = ?', app, fn) as Row).seq);
        this.#run(
          'INSERT INTO versions (app, function, id, seq, code, size, message, author, created_at, limits, auth) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          app, fn, versionId, seq, input.code, Buffer.byteLength(input.code, 'utf8'), input.message, input.author, now, limits, input.auth,
        );
        created = true;
        row = this.#get(`SELECT ${VERSION_COLUMNS} FROM versions WHERE app = ? AND function = ? AND id = ?`, app, fn, versionId) as Row;
      }
      const previous = this.#moveAlias(app, fn, alias, { versionId, canary: null }, input.author, now);
      this.#audit({ ...input.audit, before: previous, after: { versionId, created } }, now);
      return { version: toVersion(row), previousVersionId: previous?.versionId ?? null, created };
    });
  }

  /** Inside a transaction: point `alias` at the route, append the move to the history, return the previous route. */
  #moveAlias(app: string, fn: string, alias: string, route: AliasRoute, actor: string, now: string): AliasRoute | null {
    const row = this.#get('SELECT version_id, canary_version_id, canary_weight FROM aliases WHERE app = ? AND function = ? AND name = ?', app, fn, alias);
    const previous = row === undefined ? null : toRoute(row);
    this.#run(
      `INSERT INTO aliases (app, function, name, version_id, canary_version_id, canary_weight, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (app, function, name) DO UPDATE SET version_id = excluded.version_id, canary_version_id = excluded.canary_version_id, canary_weight = excluded.canary_weight, updated_at = excluded.updated_at`,
      app, fn, alias, route.versionId, route.canary?.versionId ?? null, route.canary?.weight ?? null, now,
    );
    this.#run('INSERT INTO alias_history (app, function, alias, version_id, actor, moved_at) VALUES (?, ?, ?, ?, ?, ?)', app, fn, alias, route.versionId, actor, now);
    return previous;
  }

  async listVersions(app: string, fn: string): Promise<VersionInfo[]> {
    return this.#all(`SELECT ${VERSION_COLUMNS} FROM versions WHERE app = ? AND function = ? ORDER BY seq DESC`, app, fn).map(toVersion);
  }

  async getVersion(app: string, fn: string, versionId: string): Promise<VersionWithCode | null> {
    const row = this.#get(`SELECT ${VERSION_COLUMNS}, code FROM versions WHERE app = ? AND function = ? AND id = ?`, app, fn, versionId);
    return row === undefined ? null : { ...toVersion(row), code: str(row, 'code') };
  }

  async getAlias(app: string, fn: string, alias: string): Promise<string | null> {
    const row = this.#get('SELECT version_id FROM aliases WHERE app = ? AND function = ? AND name = ?', app, fn, alias);
    return row === undefined ? null : str(row, 'version_id');
  }

  async getAliasRoute(app: string, fn: string, alias: string): Promise<AliasRoute | null> {
    const row = this.#get('SELECT version_id, canary_version_id, canary_weight FROM aliases WHERE app = ? AND function = ? AND name = ?', app, fn, alias);
    return row === undefined ? null : toRoute(row);
  }

  async setAlias(app: string, fn: string, alias: string, route: AliasRoute, audit: AuditInput): Promise<AliasRoute | null> {
    return this.#tx(() => {
      for (const versionId of [route.versionId, ...(route.canary === null ? [] : [route.canary.versionId])]) {
        if (this.#get('SELECT id FROM versions WHERE app = ? AND function = ? AND id = ?', app, fn, versionId) === undefined) {
          throw cpError('E_VERSION_NOT_FOUND', `version ${versionId} does not exist for ${app}/${fn}; list versions with GET /api/apps/${app}/functions/${fn}/versions`, { versionId });
        }
      }
      const now = new Date().toISOString();
      const previous = this.#moveAlias(app, fn, alias, route, audit.actor, now);
      this.#audit({ ...audit, before: previous, after: route }, now);
      return previous;
    });
  }

  async aliasHistory(app: string, fn: string, alias: string): Promise<AliasMove[]> {
    return this.#all('SELECT version_id, moved_at, actor FROM alias_history WHERE app = ? AND function = ? AND alias = ? ORDER BY id', app, fn, alias).map((row) => ({
      versionId: str(row, 'version_id'),
      movedAt: str(row, 'moved_at'),
      actor: str(row, 'actor'),
    }));
  }

  async createApiKey(key: StoredApiKey, audit?: AuditInput): Promise<void> {
    try {
      this.#tx(() => {
        this.#run('INSERT INTO api_keys (id, name, role, apps, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)', key.id, key.name, key.role, JSON.stringify(key.apps), key.hash, key.createdAt, key.revokedAt);
        if (audit !== undefined) this.#audit({ ...audit, after: { id: key.id, name: key.name, role: key.role, apps: key.apps } }, key.createdAt);
      });
    } catch (error) {
      if (sqliteCode(error) === SQLITE_CONSTRAINT) throw cpError('E_CONFLICT', `an API key with id ${key.id} or the same secret already exists`);
      throw error;
    }
  }

  async findApiKeyByHash(hash: string): Promise<StoredApiKey | null> {
    const row = this.#get(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE hash = ?`, hash);
    return row === undefined ? null : toApiKey(row);
  }

  async countApiKeys(): Promise<number> {
    return Number((this.#get('SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL') as Row).n);
  }

  async listApiKeys(): Promise<StoredApiKey[]> {
    return this.#all(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`).map(toApiKey);
  }

  async revokeApiKey(id: string, audit: AuditInput): Promise<StoredApiKey | null> {
    return this.#tx(() => {
      const row = this.#get(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = ?`, id);
      if (row === undefined) return null;
      const before = toApiKey(row);
      if (before.revokedAt !== null) return before;
      const now = new Date().toISOString();
      this.#run('UPDATE api_keys SET revoked_at = ? WHERE id = ?', now, id);
      this.#audit({ ...audit, before: { revokedAt: null }, after: { revokedAt: now } }, now);
      return { ...before, revokedAt: now };
    });
  }

  async listConfig(app: string, fn: string): Promise<ConfigEntry[]> {
    return this.#all('SELECT kind, name, value, updated_at FROM function_config WHERE app = ? AND function = ? ORDER BY kind, name', app, fn).map((row) => ({
      kind: str(row, 'kind') as ConfigEntry['kind'], name: str(row, 'name'), value: str(row, 'value'), updatedAt: str(row, 'updated_at'),
    }));
  }

  async putConfig(app: string, fn: string, entry: Omit<ConfigEntry, 'updatedAt'>, audit: AuditInput): Promise<void> {
    this.#tx(() => {
      const now = new Date().toISOString();
      this.#run(
        'INSERT INTO function_config (app, function, kind, name, value, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (app, function, kind, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
        app, fn, entry.kind, entry.name, entry.value, now,
      );
      this.#audit(audit, now);
    });
  }

  async deleteConfig(app: string, fn: string, kind: ConfigEntry['kind'], name: string, audit: AuditInput): Promise<boolean> {
    return this.#tx(() => {
      if (this.#get('SELECT name FROM function_config WHERE app = ? AND function = ? AND kind = ? AND name = ?', app, fn, kind, name) === undefined) return false;
      this.#run('DELETE FROM function_config WHERE app = ? AND function = ? AND kind = ? AND name = ?', app, fn, kind, name);
      this.#audit(audit, new Date().toISOString());
      return true;
    });
  }

  async getAppSettings(app: string): Promise<string | null> {
    const row = this.#get('SELECT settings FROM app_settings WHERE app = ?', app);
    return row === undefined ? null : str(row, 'settings');
  }

  async putAppSettings(app: string, settingsJson: string, audit: AuditInput): Promise<void> {
    this.#tx(() => {
      const now = new Date().toISOString();
      const before = this.#get('SELECT settings FROM app_settings WHERE app = ?', app);
      this.#run('INSERT INTO app_settings (app, settings, updated_at) VALUES (?, ?, ?) ON CONFLICT (app) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at', app, settingsJson, now);
      this.#audit({ ...audit, before: before === undefined ? null : JSON.parse(str(before, 'settings')), after: JSON.parse(settingsJson) }, now);
    });
  }

  async listSigningKeys(app: string): Promise<StoredSigningKey[]> {
    return this.#all('SELECT kid, secret, created_at, retired_at FROM signing_keys WHERE app = ? ORDER BY created_at DESC, kid DESC', app).map((row) => ({
      kid: str(row, 'kid'), secret: str(row, 'secret'), createdAt: str(row, 'created_at'), retiredAt: nullable(row, 'retired_at'),
    }));
  }

  async addSigningKey(app: string, key: StoredSigningKey, opts: { retire?: { kid: string; at: string }[]; onlyIfNone?: boolean; audit?: AuditInput }): Promise<void> {
    this.#tx(() => {
      if (opts.onlyIfNone === true && this.#get('SELECT kid FROM signing_keys WHERE app = ? LIMIT 1', app) !== undefined) return;
      this.#run('INSERT INTO signing_keys (app, kid, secret, created_at, retired_at) VALUES (?, ?, ?, ?, ?)', app, key.kid, key.secret, key.createdAt, key.retiredAt);
      for (const { kid, at } of opts.retire ?? []) this.#run('UPDATE signing_keys SET retired_at = ? WHERE app = ? AND kid = ? AND retired_at IS NULL', at, app, kid);
      if (opts.audit !== undefined) this.#audit({ ...opts.audit, after: { kid: key.kid, retire: opts.retire ?? [] } }, key.createdAt);
    });
  }

  async appendAudit(entry: AuditInput): Promise<void> {
    this.#tx(() => this.#audit(entry, new Date().toISOString()));
  }

  async listAudit(query: { apps: string[] | null; limit: number; beforeId?: number }): Promise<AuditEntry[]> {
    const before = query.beforeId ?? Number.MAX_SAFE_INTEGER;
    if (query.apps === null) {
      return this.#all('SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?', before, query.limit).map(toAudit);
    }
    if (query.apps.length === 0) return [];
    const marks = query.apps.map(() => '?').join(', ');
    return this.#db.prepare(`SELECT * FROM audit_log WHERE id < ? AND app IN (${marks}) ORDER BY id DESC LIMIT ?`).all(before, ...query.apps, query.limit).map((row) => toAudit(row as Row));
  }

  // --- log lines (see log-lines.ts and migration 003) -----------------------------------------

  async appendLogs(lines: readonly LogLine[], bounds: LogBounds): Promise<void> {
    checkLogLines(lines);
    checkLogBounds(bounds);
    if (lines.length === 0) return;
    const batches = groupLogBatch(lines, bounds.ringSize);
    this.#tx(() => {
      for (const batch of batches) this.#appendAppLogs(batch, bounds);
    });
  }

  /** Inside a transaction: insert one app's lines, update its usage, trim to the ring size and the budget. */
  #appendAppLogs(batch: AppBatch, bounds: LogBounds): void {
    const { app } = batch;
    for (let at = 0; at < batch.lines.length;) {
      let rows = LOG_INSERT_ROWS;
      while (rows > batch.lines.length - at) rows /= 2;
      const chunk = batch.lines.slice(at, at + rows);
      this.#run(LOG_INSERT_SQL.get(rows) as string, ...chunk.flatMap(logRow));
      at += rows;
    }
    const { total, byFunction: bytesByFn } = batchBytes(batch.lines);
    for (const [fn, count] of batch.counts) {
      this.#run(
        'INSERT INTO log_function_usage (app, function, line_count, bytes) VALUES (?, ?, ?, ?) ON CONFLICT (app, function) DO UPDATE SET line_count = line_count + excluded.line_count, bytes = bytes + excluded.bytes',
        app, fn, count, bytesByFn.get(fn) ?? 0,
      );
    }
    this.#run('INSERT INTO log_app_usage (app, bytes) VALUES (?, ?) ON CONFLICT (app) DO UPDATE SET bytes = bytes + excluded.bytes', app, total);
    for (const row of this.#all('SELECT function, line_count FROM log_function_usage WHERE app = ?', app)) {
      const fn = str(row, 'function');
      const count = Number(row.line_count);
      if (!batch.counts.has(fn) || count <= bounds.ringSize) continue;
      const oldest = this.#oldestLogRows(app, fn, 0, count - bounds.ringSize);
      if (oldest.ids.length > 0) this.#deleteLogsUpTo(app, fn, oldest.ids.at(-1) as number, oldest.ids.length, oldest.bytes.reduce((a, b) => a + b, 0));
    }
    const appBytes = Number((this.#get('SELECT bytes FROM log_app_usage WHERE app = ?', app) as Row).bytes);
    if (appBytes <= bounds.appMaxBytes) return;
    const counts = this.#all('SELECT function, line_count FROM log_function_usage WHERE app = ? AND line_count > 0', app).map((row) => ({ function: str(row, 'function'), lines: Number(row.line_count) }));
    const lines = counts.reduce((sum, c) => sum + c.lines, 0);
    const planner = new BudgetTrimPlanner(counts, appBytes - bounds.appMaxBytes, lines === 0 ? 0 : appBytes / lines);
    for (let want = planner.next(); want !== null; want = planner.next()) planner.feed(this.#oldestLogRows(app, want.function, want.afterId, want.limit));
    for (const step of planner.steps()) this.#deleteLogsUpTo(app, step.function, step.lastId, step.lines, step.bytes);
  }

  /** A function's oldest rows after `afterId` (0: from the start), at most `limit`. */
  #oldestLogRows(app: string, fn: string, afterId: number, limit: number): OldestRows {
    const rows = this.#all('SELECT id, bytes FROM log_lines WHERE app = ? AND function = ? AND id > ? ORDER BY id LIMIT ?', app, fn, afterId, limit);
    return { ids: rows.map((row) => Number(row.id)), bytes: rows.map((row) => Number(row.bytes)) };
  }

  /** Inside a transaction: delete a function's lines up to `lastId` and take them off the usage counters. */
  #deleteLogsUpTo(app: string, fn: string, lastId: number, lines: number, bytes: number): void {
    this.#run('DELETE FROM log_lines WHERE app = ? AND function = ? AND id <= ?', app, fn, lastId);
    this.#run('UPDATE log_function_usage SET line_count = MAX(line_count - ?, 0), bytes = MAX(bytes - ?, 0) WHERE app = ? AND function = ?', lines, bytes, app, fn);
    this.#run('UPDATE log_app_usage SET bytes = MAX(bytes - ?, 0) WHERE app = ?', bytes, app);
  }

  async readLogs(app: string, fn: string, query: LogReadQuery): Promise<StoredLogLine[]> {
    checkLogReadQuery(query);
    const { sql, params, newestFirst } = logReadSql(app, fn, query);
    const lines = this.#all(`${sql} LIMIT ?`, ...params, query.limit).map(toStoredLogLine);
    return newestFirst ? lines.reverse() : lines;
  }

  async logUsage(app: string): Promise<LogUsage> {
    const bytes = this.#get('SELECT bytes FROM log_app_usage WHERE app = ?', app);
    const lines = this.#get('SELECT COALESCE(SUM(line_count), 0) AS n FROM log_function_usage WHERE app = ?', app) as Row;
    return { lines: Number(lines.n), bytes: bytes === undefined ? 0 : Number(bytes.bytes) };
  }
}

/**
 * Open (creating if needed) the SQLite store at `file`, in WAL mode with a 5 s busy timeout and
 * foreign keys on. Does not migrate: call `store.migrate()` (or use `openStore` from `open.ts`).
 * @param file path of the database file; its directory must exist
 * @returns the store; `close()` it when done
 * @throws the node:sqlite error when the file cannot be opened or is not a database
 */
export async function openSqliteStore(file: string): Promise<Store> {
  const db = new DatabaseSync(file, { enableForeignKeyConstraints: true, timeout: BUSY_TIMEOUT_MS });
  try {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.exec('PRAGMA foreign_keys = ON');
    db.exec('PRAGMA synchronous = NORMAL');
  } catch (error) {
    db.close();
    throw error;
  }
  return new SqliteStore(db, file);
}
