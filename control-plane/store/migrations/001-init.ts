/**
 * The initial schema: apps, functions, immutable versions, aliases with their history, API keys.
 *
 * Times are ISO-8601 UTC strings in SQLite and `DATETIME(3)` (UTC) in MySQL. `limits` is the JSON
 * of a `FunctionLimits`. `versions.seq` numbers a function's versions 1, 2, 3… (assigned inside the
 * deploy transaction) so "newest first" does not depend on clock resolution.
 */
import type { Migration } from './index.ts';

const MYSQL_TABLE = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';

/** Migration `001-init`: creates every table of the first schema (re-runnable: `IF NOT EXISTS`). */
export const init: Migration = {
  id: '001-init',
  sqlite: [
    `CREATE TABLE IF NOT EXISTS apps (
      name TEXT NOT NULL PRIMARY KEY,
      created_at TEXT NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS functions (
      app TEXT NOT NULL REFERENCES apps (name),
      name TEXT NOT NULL,
      created_at TEXT NOT NULL,
      limits TEXT NOT NULL,
      PRIMARY KEY (app, name)
    )`,
    `CREATE TABLE IF NOT EXISTS versions (
      app TEXT NOT NULL,
      function TEXT NOT NULL,
      id TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
      seq INTEGER NOT NULL,
      code TEXT NOT NULL,
      size INTEGER NOT NULL CHECK (size >= 0),
      message TEXT NOT NULL,
      author TEXT NOT NULL,
      created_at TEXT NOT NULL,
      limits TEXT NOT NULL,
      PRIMARY KEY (app, function, id),
      UNIQUE (app, function, seq),
      FOREIGN KEY (app, function) REFERENCES functions (app, name)
    )`,
    `CREATE TABLE IF NOT EXISTS aliases (
      app TEXT NOT NULL,
      function TEXT NOT NULL,
      name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 63),
      version_id TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      PRIMARY KEY (app, function, name),
      FOREIGN KEY (app, function, version_id) REFERENCES versions (app, function, id)
    )`,
    `CREATE TABLE IF NOT EXISTS alias_history (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      app TEXT NOT NULL,
      function TEXT NOT NULL,
      alias TEXT NOT NULL,
      version_id TEXT NOT NULL,
      actor TEXT NOT NULL,
      moved_at TEXT NOT NULL,
      FOREIGN KEY (app, function, version_id) REFERENCES versions (app, function, id)
    )`,
    `CREATE INDEX IF NOT EXISTS alias_history_by_alias ON alias_history (app, function, alias, id)`,
    `CREATE TABLE IF NOT EXISTS api_keys (
      id TEXT NOT NULL PRIMARY KEY,
      name TEXT NOT NULL,
      role TEXT NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
      hash TEXT NOT NULL UNIQUE,
      created_at TEXT NOT NULL,
      revoked_at TEXT
    )`,
  ],
  mysql: [
    `CREATE TABLE IF NOT EXISTS apps (
      name VARCHAR(63) NOT NULL PRIMARY KEY,
      created_at DATETIME(3) NOT NULL
    ) ${MYSQL_TABLE}`,
    `CREATE TABLE IF NOT EXISTS functions (
      app VARCHAR(63) NOT NULL,
      name VARCHAR(63) NOT NULL,
      created_at DATETIME(3) NOT NULL,
      limits JSON NOT NULL,
      PRIMARY KEY (app, name),
      CONSTRAINT functions_app FOREIGN KEY (app) REFERENCES apps (name)
    ) ${MYSQL_TABLE}`,
    `CREATE TABLE IF NOT EXISTS versions (
      app VARCHAR(63) NOT NULL,
      function VARCHAR(63) NOT NULL,
      id VARCHAR(64) NOT NULL,
      seq INT UNSIGNED NOT NULL,
      code MEDIUMTEXT NOT NULL,
      size INT UNSIGNED NOT NULL,
      message TEXT NOT NULL,
      author VARCHAR(255) NOT NULL,
      created_at DATETIME(3) NOT NULL,
      limits JSON NOT NULL,
      PRIMARY KEY (app, function, id),
      UNIQUE KEY versions_seq (app, function, seq),
      CONSTRAINT versions_id_length CHECK (CHAR_LENGTH(id) BETWEEN 1 AND 64),
      CONSTRAINT versions_function FOREIGN KEY (app, function) REFERENCES functions (app, name)
    ) ${MYSQL_TABLE}`,
    `CREATE TABLE IF NOT EXISTS aliases (
      app VARCHAR(63) NOT NULL,
      function VARCHAR(63) NOT NULL,
      name VARCHAR(63) NOT NULL,
      version_id VARCHAR(64) NOT NULL,
      updated_at DATETIME(3) NOT NULL,
      PRIMARY KEY (app, function, name),
      CONSTRAINT aliases_name_length CHECK (CHAR_LENGTH(name) BETWEEN 1 AND 63),
      CONSTRAINT aliases_version FOREIGN KEY (app, function, version_id) REFERENCES versions (app, function, id)
    ) ${MYSQL_TABLE}`,
    `CREATE TABLE IF NOT EXISTS alias_history (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      app VARCHAR(63) NOT NULL,
      function VARCHAR(63) NOT NULL,
      alias VARCHAR(63) NOT NULL,
      version_id VARCHAR(64) NOT NULL,
      actor VARCHAR(255) NOT NULL,
      moved_at DATETIME(3) NOT NULL,
      KEY alias_history_by_alias (app, function, alias, id),
      CONSTRAINT alias_history_version FOREIGN KEY (app, function, version_id) REFERENCES versions (app, function, id)
    ) ${MYSQL_TABLE}`,
    `CREATE TABLE IF NOT EXISTS api_keys (
      id VARCHAR(64) NOT NULL PRIMARY KEY,
      name VARCHAR(255) NOT NULL,
      role ENUM('admin', 'developer', 'viewer') NOT NULL,
      hash CHAR(64) NOT NULL,
      created_at DATETIME(3) NOT NULL,
      revoked_at DATETIME(3) NULL,
      UNIQUE KEY api_keys_hash (hash)
    ) ${MYSQL_TABLE}`,
  ],
};
