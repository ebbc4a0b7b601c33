/**
 * The control plane's schema migrations, applied in order by both store backends
 * (`../sqlite.ts`, `../mysql.ts`) and recorded in `schema_migrations (id, applied_at)`.
 *
 * Rules for adding one: append a new file `NNN-what.ts` exporting a `Migration`, add it to
 * `MIGRATIONS` below, never edit or reorder a migration that has shipped. SQLite applies each
 * migration in one transaction. MySQL/MariaDB commit DDL implicitly, so a MySQL migration must be
 * safe to re-run after a partial failure (`CREATE TABLE IF NOT EXISTS`, `ADD COLUMN IF NOT EXISTS`);
 * the MySQL runner serialises concurrent starts with `GET_LOCK`.
 */
import { init } from './001-init.ts';
import { rolesAuditConfig } from './002-roles-audit-config.ts';
import { logLines } from './003-log-lines.ts';

/** One schema step: statements per dialect, each executed on its own (no multi-statement strings). */
export interface Migration {
  /** Stable id stored in `schema_migrations.id`, e.g. `001-init`. */
  readonly id: string;
  /** Statements for SQLite (node:sqlite). */
  readonly sqlite: readonly string[];
  /** Statements for MySQL 8 / MariaDB 10.6+ (InnoDB, utf8mb4). */
  readonly mysql: readonly string[];
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([init, rolesAuditConfig, logLines]);
