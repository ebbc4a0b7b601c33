/**
 * How an app's SQLite connection is opened and what its statements may do. Used inside the SQLite
 * executor process (`sqlite-executor.ts`); no dependency on the error catalog.
 *
 * Every connection is opened with node:sqlite's safety options (Node 24 `DatabaseSync`):
 * `allowExtension: false` (no `load_extension`, and it cannot be re-enabled), `defensive: true`
 * (SQLITE_DBCONFIG_DEFENSIVE: no writes to `sqlite_schema`, no `writable_schema`, no corrupting
 * the file through ordinary SQL), `enableDoubleQuotedStringLiterals: false`, run-time `limits`
 * (`attach: 0`, value and SQL length, parameter count, expression and trigger depth), then
 * `journal_mode = WAL`, `synchronous = NORMAL`, `trusted_schema = OFF`, `max_page_count` (size cap),
 * and an authorizer (`sqlite3_set_authorizer`, `database.setAuthorizer` in node:sqlite) that
 * decides at prepare time, per action:
 *
 * - ATTACH / DETACH: denied (would open any file the process can reach);
 * - BEGIN / COMMIT / ROLLBACK / SAVEPOINT: denied to user statements (transactions go through
 *   the `begin`/`commit`/`rollback` ops, which run as trusted);
 * - PRAGMA: only the read-only introspection pragmas in `ALLOWED_PRAGMAS`; their table-valued
 *   forms (`pragma_table_info('t')`) likewise, other `pragma_*` tables (e.g. `pragma_database_list`,
 *   which shows the file path) are denied;
 * - functions `load_extension`, `fts3_tokenizer`: denied;
 * - virtual tables: only `fts5`, `rtree`, `rtree_i32`, `geopoly`;
 * - any schema other than `main` and `temp`: denied.
 *
 * `VACUUM` (and `VACUUM INTO 'file'`) and `REINDEX` never reach the authorizer, so the statement
 * check (`statement.ts`) refuses them by keyword.
 */
import { DatabaseSync, constants } from 'node:sqlite';

/** Read-only introspection pragmas a function may use (`PRAGMA table_info(t)` or `pragma_table_info('t')`). */
export const ALLOWED_PRAGMAS: ReadonlySet<string> = new Set([
  'table_info', 'table_xinfo', 'table_list', 'index_list', 'index_info', 'index_xinfo', 'foreign_key_list',
]);
const DENIED_FUNCTIONS: ReadonlySet<string> = new Set(['load_extension', 'fts3_tokenizer']);
const ALLOWED_VTABLE_MODULES: ReadonlySet<string> = new Set(['fts5', 'rtree', 'rtree_i32', 'geopoly']);
const TX_REASON = 'transactions are run with ctx.sql.transaction(async (tx) => { … }), which commits or rolls back for you';

/** Mutable state the authorizer reads: whether the platform's own statement is being prepared, and why it last denied. */
export interface AuthorizerGuard {
  trusted: boolean;
  /** The reason of the last denial (for the error message), reset before each user statement. */
  denial: string | null;
}

/** Limits of one app connection. */
export interface SqliteConnectionLimits {
  /** Longest string or blob, in bytes (SQLITE_LIMIT_LENGTH). */
  readonly maxValueBytes: number;
  /** Longest SQL text, in bytes (SQLITE_LIMIT_SQL_LENGTH). */
  readonly maxTextBytes: number;
  /** Most `?` parameters (SQLITE_LIMIT_VARIABLE_NUMBER). */
  readonly maxParams: number;
  /** Largest database file, in bytes (`PRAGMA max_page_count`, with the file's page size). */
  readonly maxDatabaseBytes: number;
}

/**
 * The authorizer callback for one connection (see the module comment for the policy).
 * @returns `constants.SQLITE_OK` or `constants.SQLITE_DENY` (recording the reason in `guard.denial`)
 */
export function createAuthorizer(guard: AuthorizerGuard): (action: number, arg1: string | null, arg2: string | null, dbName: string | null, trigger: string | null) => number {
  const deny = (reason: string): number => {
    guard.denial = reason;
    return constants.SQLITE_DENY;
  };
  return (action, arg1, arg2, dbName) => {
    if (guard.trusted) return constants.SQLITE_OK;
    if (dbName !== null && dbName !== 'main' && dbName !== 'temp') return deny(`schema ${dbName} is not available: only the app's own database (main) is`);
    switch (action) {
      case constants.SQLITE_ATTACH:
        return deny('ATTACH is not allowed: it opens another database file');
      case constants.SQLITE_DETACH:
        return deny('DETACH is not allowed');
      case constants.SQLITE_TRANSACTION:
      case constants.SQLITE_SAVEPOINT:
        return deny(`${(arg1 ?? 'transaction').toUpperCase()} is not allowed: ${TX_REASON}`);
      case constants.SQLITE_PRAGMA: {
        const name = (arg1 ?? '').toLowerCase();
        if (ALLOWED_PRAGMAS.has(name)) return constants.SQLITE_OK;
        return deny(`PRAGMA ${name} is not allowed: pragmas change the connection or the database file; the read-only ones allowed are ${[...ALLOWED_PRAGMAS].join(', ')}`);
      }
      case constants.SQLITE_READ: {
        const table = (arg1 ?? '').toLowerCase();
        if (table.startsWith('pragma_') && !ALLOWED_PRAGMAS.has(table.slice('pragma_'.length))) {
          return deny(`${table} is not allowed: the read-only pragmas allowed are ${[...ALLOWED_PRAGMAS].join(', ')}`);
        }
        return constants.SQLITE_OK;
      }
      case constants.SQLITE_FUNCTION: {
        const name = (arg2 ?? '').toLowerCase();
        if (DENIED_FUNCTIONS.has(name)) return deny(`${name}() is not allowed`);
        return constants.SQLITE_OK;
      }
      case constants.SQLITE_CREATE_VTABLE:
      case constants.SQLITE_DROP_VTABLE: {
        const module = (arg2 ?? '').toLowerCase();
        if (ALLOWED_VTABLE_MODULES.has(module)) return constants.SQLITE_OK;
        return deny(`virtual tables using ${module || 'that module'} are not allowed: use ${[...ALLOWED_VTABLE_MODULES].join(', ')}`);
      }
      default:
        return constants.SQLITE_OK;
    }
  };
}

/** An open app connection and its authorizer state. */
export interface AppConnection {
  readonly db: DatabaseSync;
  readonly guard: AuthorizerGuard;
}

/**
 * Run the platform's own SQL on a connection (bypassing the authorizer's user rules).
 * @throws the node:sqlite error
 */
export function runTrusted(conn: AppConnection, sql: string): void {
  conn.guard.trusted = true;
  try {
    conn.db.exec(sql);
  } finally {
    conn.guard.trusted = false;
  }
}

/**
 * Open one connection to an app's database file with the settings above. Integers are read as
 * BigInt (converted to numbers or decimal strings by `values.ts`), so none is rounded.
 * @param file the database file (created when missing)
 * @throws the node:sqlite error (e.g. SQLITE_CANTOPEN, SQLITE_BUSY while another process switches the journal mode)
 */
export function openAppConnection(file: string, limits: SqliteConnectionLimits): AppConnection {
  const db = new DatabaseSync(file, {
    allowExtension: false,
    defensive: true,
    enableForeignKeyConstraints: true,
    enableDoubleQuotedStringLiterals: false,
    readBigInts: true,
    // A busy wait would block the executor's only thread — including the COMMIT that would free
    // the lock — so SQLITE_BUSY comes back at once and the parent retries asynchronously.
    timeout: 0,
    limits: {
      length: limits.maxValueBytes,
      sqlLength: limits.maxTextBytes,
      variableNumber: limits.maxParams,
      attach: 0,
      exprDepth: 500,
      triggerDepth: 32,
      compoundSelect: 500,
    },
  });
  const conn: AppConnection = { db, guard: { trusted: false, denial: null } };
  try {
    runTrusted(conn, 'PRAGMA journal_mode = WAL');
    runTrusted(conn, 'PRAGMA synchronous = NORMAL');
    runTrusted(conn, 'PRAGMA trusted_schema = OFF');
    conn.guard.trusted = true;
    const pageSize = Number((db.prepare('PRAGMA page_size').get() as { page_size: bigint }).page_size);
    conn.guard.trusted = false;
    runTrusted(conn, `PRAGMA max_page_count = ${Math.max(1, Math.floor(limits.maxDatabaseBytes / pageSize))}`);
    db.setAuthorizer(createAuthorizer(conn.guard));
  } catch (err) {
    db.close();
    throw err;
  }
  return conn;
}

/** Names of SQLite result codes, for `details.dbCode` (`SQLITE_CONSTRAINT_UNIQUE`, …). */
const PRIMARY_CODES: Readonly<Record<number, string>> = {
  1: 'ERROR', 2: 'INTERNAL', 3: 'PERM', 4: 'ABORT', 5: 'BUSY', 6: 'LOCKED', 7: 'NOMEM', 8: 'READONLY', 9: 'INTERRUPT',
  10: 'IOERR', 11: 'CORRUPT', 12: 'NOTFOUND', 13: 'FULL', 14: 'CANTOPEN', 15: 'PROTOCOL', 16: 'EMPTY', 17: 'SCHEMA',
  18: 'TOOBIG', 19: 'CONSTRAINT', 20: 'MISMATCH', 21: 'MISUSE', 22: 'NOLFS', 23: 'AUTH', 24: 'FORMAT', 25: 'RANGE', 26: 'NOTADB',
};
const EXTENDED_CODES: Readonly<Record<number, [string, 'unique' | 'foreign_key' | 'not_null' | 'check' | null]>> = {
  2067: ['CONSTRAINT_UNIQUE', 'unique'],
  1555: ['CONSTRAINT_PRIMARYKEY', 'unique'],
  787: ['CONSTRAINT_FOREIGNKEY', 'foreign_key'],
  1299: ['CONSTRAINT_NOTNULL', 'not_null'],
  275: ['CONSTRAINT_CHECK', 'check'],
  3091: ['CONSTRAINT_DATATYPE', null],
  1811: ['CONSTRAINT_TRIGGER', null],
};

/** `SQLITE_<NAME>` for an (extended) result code, and the constraint kind when it is one. */
export function describeSqliteCode(errcode: number): { dbCode: string; constraint: 'unique' | 'foreign_key' | 'not_null' | 'check' | null } {
  const extended = EXTENDED_CODES[errcode];
  if (extended !== undefined) return { dbCode: `SQLITE_${extended[0]}`, constraint: extended[1] };
  const primary = PRIMARY_CODES[errcode & 0xff];
  return { dbCode: primary === undefined ? `SQLITE_${errcode}` : `SQLITE_${primary}`, constraint: null };
}
