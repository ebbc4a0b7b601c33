/**
 * Per-app names and credentials on MySQL/MariaDB: the app's database, its user, and the user's
 * password, all derived from the app name (and a platform secret), so nothing extra is stored.
 *
 * App names match `^[a-z][a-z0-9-]{0,62}$` (`control-plane/core/names.ts`): mapping `-` to `_`
 * is injective because `_` never occurs in an app name. MySQL limits database names to 64
 * characters and user names to 32 (MariaDB allows 80), so long names are shortened with a hash in
 * a separate namespace (`faas_apph_…`, never produced by the plain form `faas_app_<letter>…`): two
 * apps can never share a database or a user, even when one app's name is chosen to collide.
 */
import { createHash, createHmac } from 'node:crypto';
import { isValidName } from '../../control-plane/core/names.ts';
import { runtimeError } from '../../runtime/errors.ts';

/** Longest database name MySQL and MariaDB accept. */
const MAX_DATABASE_CHARS = 64;
/** Longest user name MySQL 5.7+/8 accepts (MariaDB: 80). */
const MAX_USER_CHARS = 32;

/**
 * Check the app name the platform passed (never user input).
 * @throws PlatformError E_INTERNAL for a name that does not match the app name rule: a platform bug
 */
export function checkAppName(app: unknown): string {
  if (!isValidName(app)) throw runtimeError('E_INTERNAL', `ctx.sql was called for an invalid app name ${JSON.stringify(String(app).slice(0, 80))}`);
  return app;
}

function hashHex(app: string, chars: number): string {
  return createHash('sha256').update(`faas-sql-name:${app}`).digest('hex').slice(0, chars);
}

/**
 * The app's database: `faas_app_<app with - as _>` (up to 55-character app names), else
 * `faas_apph_<first 30 characters>_<23 hex digits of SHA-256>` (64 characters).
 * @throws PlatformError E_INTERNAL for an invalid app name
 * @example databaseName('live-stream') // 'faas_app_live_stream'
 */
export function databaseName(app: string): string {
  const mapped = checkAppName(app).replaceAll('-', '_');
  const plain = `faas_app_${mapped}`;
  if (plain.length <= MAX_DATABASE_CHARS) return plain;
  return `faas_apph_${mapped.slice(0, 30)}_${hashHex(app, 23)}`;
}

/**
 * The app's MySQL user: the database name when it fits 32 characters (app names up to 23
 * characters), else `faas_apph_<22 hex digits of SHA-256>` (32 characters).
 * @throws PlatformError E_INTERNAL for an invalid app name
 */
export function userName(app: string): string {
  const plain = `faas_app_${checkAppName(app).replaceAll('-', '_')}`;
  if (plain.length <= MAX_USER_CHARS) return plain;
  return `faas_apph_${hashHex(app, 22)}`;
}

/**
 * The app user's password: hex of HMAC-SHA256(platformSecret, `sql-password:<app>`). The label
 * keeps this derivation apart from any other use of the same secret.
 * @param platformSecret the platform's secret (at least 16 bytes)
 * @throws PlatformError E_INTERNAL for an invalid app name
 */
export function appPassword(platformSecret: Buffer, app: string): string {
  return createHmac('sha256', platformSecret).update(`sql-password:${checkAppName(app)}`).digest('hex');
}
