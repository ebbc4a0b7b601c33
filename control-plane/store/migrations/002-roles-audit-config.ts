/**
 * Migration `002-roles-audit-config`: what issue 4 (roles, canaries, audit) and issue 3 (auth
 * keys, config, secrets, builtin settings) need.
 *
 * - `api_keys.apps`: JSON array of app names a `developer`/`viewer` key may act on, or `"*"`.
 * - `versions.auth`: the version's auth mode (`none` | `required`), part of its content hash.
 * - `aliases.canary_version_id` / `canary_weight`: a weighted split (percent to the canary).
 * - `function_config`: config values (plain) and secrets (AES-256-GCM, see core/secrets.ts).
 * - `app_settings`: builtin settings of an app as JSON (fetch allowlist, gRPC services).
 * - `signing_keys`: per-app player-token keys (secret encrypted like secrets).
 * - `audit_log`: append-only record of every write (SQLite refuses UPDATE/DELETE by trigger).
 */
import type { Migration } from './index.ts';

const MYSQL_TABLE = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';

/** Migration `002-roles-audit-config`. */
export const rolesAuditConfig: Migration = {
  id: '002-roles-audit-config',
  sqlite: [
    `ALTER TABLE api_keys ADD COLUMN apps TEXT NOT NULL DEFAULT '"*"'`,
    `ALTER TABLE versions ADD COLUMN auth TEXT NOT NULL DEFAULT 'none' CHECK (auth IN ('none', 'required'))`,
    `ALTER TABLE aliases ADD COLUMN canary_version_id TEXT`,
    `ALTER TABLE aliases ADD COLUMN canary_weight INTEGER CHECK (canary_weight IS NULL OR canary_weight BETWEEN 1 AND 99)`,
    `CREATE TABLE IF NOT EXISTS function_config (
      app TEXT NOT NULL,
      function TEXT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('value', 'secret')),
      name TEXT NOT NULL,
      value TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      PRIMARY KEY (app, function, kind, name)
    )`,
    `CREATE TABLE IF NOT EXISTS app_settings (
      app TEXT NOT NULL PRIMARY KEY REFERENCES apps (name),
      settings TEXT NOT NULL,
      updated_at TEXT NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS signing_keys (
      app TEXT NOT NULL REFERENCES apps (name),
      kid TEXT NOT NULL,
      secret TEXT NOT NULL,
      created_at TEXT NOT NULL,
      retired_at TEXT,
      PRIMARY KEY (app, kid)
    )`,
    `CREATE TABLE IF NOT EXISTS audit_log (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at TEXT NOT NULL,
      actor TEXT NOT NULL,
      action TEXT NOT NULL,
      app TEXT,
      function TEXT,
      target TEXT,
      before TEXT,
      after TEXT
    )`,
    `CREATE INDEX IF NOT EXISTS audit_log_by_app ON audit_log (app, id)`,
    `CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`,
    `CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`,
  ],
  mysql: [
    `ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS apps VARCHAR(4096) NOT NULL DEFAULT '"*"'`,
    `ALTER TABLE versions ADD COLUMN IF NOT EXISTS auth ENUM('none', 'required') NOT NULL DEFAULT 'none'`,
    `ALTER TABLE aliases ADD COLUMN IF NOT EXISTS canary_version_id VARCHAR(64) NULL`,
    `ALTER TABLE aliases ADD COLUMN IF NOT EXISTS canary_weight TINYINT UNSIGNED NULL`,
    `CREATE TABLE IF NOT EXISTS function_config (
      app VARCHAR(63) NOT NULL,
      function VARCHAR(63) NOT NULL,
      kind ENUM('value', 'secret') NOT NULL,
      name VARCHAR(63) NOT NULL,
      value MEDIUMTEXT NOT NULL,
      updated_at DATETIME(3) NOT NULL,
      PRIMARY KEY (app, function, kind, name)
    ) ${MYSQL_TABLE}`,
    `CREATE TABLE IF NOT EXISTS app_settings (
      app VARCHAR(63) NOT NULL PRIMARY KEY,
      settings MEDIUMTEXT NOT NULL,
      updated_at DATETIME(3) NOT NULL,
      CONSTRAINT app_settings_app FOREIGN KEY (app) REFERENCES apps (name)
    ) ${MYSQL_TABLE}`,
    `CREATE TABLE IF NOT EXISTS signing_keys (
      app VARCHAR(63) NOT NULL,
      kid VARCHAR(64) NOT NULL,
      secret VARCHAR(512) NOT NULL,
      created_at DATETIME(3) NOT NULL,
      retired_at DATETIME(3) NULL,
      PRIMARY KEY (app, kid),
      CONSTRAINT signing_keys_app FOREIGN KEY (app) REFERENCES apps (name)
    ) ${MYSQL_TABLE}`,
    `CREATE TABLE IF NOT EXISTS audit_log (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      at DATETIME(3) NOT NULL,
      actor VARCHAR(255) NOT NULL,
      action VARCHAR(64) NOT NULL,
      app VARCHAR(63) NULL,
      function VARCHAR(63) NULL,
      target VARCHAR(255) NULL,
      \`before\` MEDIUMTEXT NULL,
      \`after\` MEDIUMTEXT NULL,
      KEY audit_log_by_app (app, id)
    ) ${MYSQL_TABLE}`,
  ],
};
