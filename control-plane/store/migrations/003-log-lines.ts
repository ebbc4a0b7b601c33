/**
 * Migration `003-log-lines`: captured `ctx.log` lines kept in the store (they were kept in the
 * control plane's memory and lost on restart), bounded per function and per app.
 *
 * - `log_lines`: one row per line. `id` increases in append order (SQLite `AUTOINCREMENT` and
 *   InnoDB's persisted counter never hand out an id again, even after the newest rows are
 *   trimmed), so it is the cursor of `faas logs --follow` and the tie-break for equal times.
 *   `time_ms` is epoch milliseconds (the API's unit), `bytes` what the line counts for in the
 *   app's budget (`logLineBytes`), `trace_id` NULL when the invocation was not traced.
 *   Indexes: (app, function, id) for trimming and the `after` cursor, (app, function, time_ms, id)
 *   for "newest N", `since` and the other filters. A function holds at most `ringSize` rows, so
 *   a `requestId` or `level` filter reads at most that many index entries; no index of its own
 *   (each secondary index makes every append and trim write more pages).
 * - `log_function_usage`: `line_count` and bytes per app/function, kept in step with `log_lines` in the
 *   same transactions, so trimming needs no COUNT over the lines.
 * - `log_app_usage`: bytes per app. On MySQL its row is what serialises appends to one app.
 *
 * No foreign keys: lines are best-effort records and must never block a deploy or app change.
 */
import type { Migration } from './index.ts';

const MYSQL_TABLE = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';

/** Migration `003-log-lines`. */
export const logLines: Migration = {
  id: '003-log-lines',
  sqlite: [
    `CREATE TABLE IF NOT EXISTS log_lines (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      app TEXT NOT NULL,
      function TEXT NOT NULL,
      version_id TEXT NOT NULL,
      request_id TEXT NOT NULL,
      trace_id TEXT,
      level TEXT NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
      message TEXT NOT NULL,
      time_ms INTEGER NOT NULL CHECK (time_ms >= 0),
      bytes INTEGER NOT NULL CHECK (bytes > 0)
    )`,
    `CREATE INDEX IF NOT EXISTS log_lines_by_function ON log_lines (app, function, id)`,
    `CREATE INDEX IF NOT EXISTS log_lines_by_time ON log_lines (app, function, time_ms, id)`,
    `CREATE TABLE IF NOT EXISTS log_function_usage (
      app TEXT NOT NULL,
      function TEXT NOT NULL,
      line_count INTEGER NOT NULL,
      bytes INTEGER NOT NULL,
      PRIMARY KEY (app, function)
    )`,
    `CREATE TABLE IF NOT EXISTS log_app_usage (
      app TEXT NOT NULL PRIMARY KEY,
      bytes INTEGER NOT NULL
    )`,
  ],
  mysql: [
    `CREATE TABLE IF NOT EXISTS log_lines (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      app VARCHAR(63) NOT NULL,
      function VARCHAR(63) NOT NULL,
      version_id VARCHAR(64) NOT NULL,
      request_id VARCHAR(1024) NOT NULL,
      trace_id VARCHAR(64) NULL,
      level ENUM('debug', 'info', 'warn', 'error') NOT NULL,
      message MEDIUMTEXT NOT NULL,
      time_ms BIGINT UNSIGNED NOT NULL,
      bytes INT UNSIGNED NOT NULL,
      KEY log_lines_by_function (app, function, id),
      KEY log_lines_by_time (app, function, time_ms, id)
    ) ${MYSQL_TABLE}`,
    `CREATE TABLE IF NOT EXISTS log_function_usage (
      app VARCHAR(63) NOT NULL,
      function VARCHAR(63) NOT NULL,
      line_count BIGINT NOT NULL,
      bytes BIGINT NOT NULL,
      PRIMARY KEY (app, function)
    ) ${MYSQL_TABLE}`,
    `CREATE TABLE IF NOT EXISTS log_app_usage (
      app VARCHAR(63) NOT NULL PRIMARY KEY,
      bytes BIGINT NOT NULL
    ) ${MYSQL_TABLE}`,
  ],
};
