/**
 * The control plane's error catalog, in the same style as `RUNTIME_ERRORS` (runtime/errors.ts):
 * each code has an HTTP status, whether the caller caused it, and a one-line summary copied into
 * docs/errors.md. Codes are never reused once retired.
 *
 * The control plane also throws runtime codes where the meaning is the same (E_APP_NOT_FOUND,
 * E_FUNCTION_NOT_FOUND, E_SYNTAX, E_CHECK, E_CODE_TOO_LARGE, E_BODY_TOO_LARGE, E_BAD_REQUEST,
 * E_INTERNAL); those are not repeated here so every code has one home.
 */
import { PlatformError, type ErrorSpec } from '../runtime/errors.ts';

/** Control-plane error catalog: auth, validation, versions and aliases, storage. */
export const CONTROL_PLANE_ERRORS = {
  E_UNAUTHORIZED: { status: 401, user: true, summary: 'The request has no API key, or the key is unknown or revoked. The first admin key is written to `$FAAS_DATA_DIR/admin.key`.' },
  E_FORBIDDEN: { status: 403, user: true, summary: 'The API key is valid but its role may not perform this action on this app.' },
  E_INVALID_NAME: { status: 400, user: true, summary: 'An app, function or alias name does not match `^[a-z][a-z0-9-]{0,62}$`.' },
  E_VALIDATION: { status: 400, user: true, summary: 'The request body, parameters or limits are malformed or out of bounds; the message names the field.' },
  E_APP_EXISTS: { status: 409, user: true, summary: 'An app with that name already exists.' },
  E_VERSION_NOT_FOUND: { status: 404, user: true, summary: 'The version id does not exist for that function.' },
  E_ALIAS_NOT_FOUND: { status: 404, user: true, summary: 'The alias does not exist for that function (deploy first, or pick another alias).' },
  E_NO_PREVIOUS_VERSION: { status: 409, user: true, summary: 'Rollback found no earlier version in the alias history to go back to; pass `to` with a version id.' },
  E_CONFLICT: { status: 409, user: true, summary: 'A concurrent change won; retry the request.' },
  E_ROUTE_NOT_FOUND: { status: 404, user: true, summary: 'No control-plane API route matches the method and path.' },
  E_CONFIG_NOT_FOUND: { status: 404, user: true, summary: 'The config value or secret is not set for that function.' },
  E_KEY_NOT_FOUND: { status: 404, user: true, summary: 'No API key has that id.' },
  E_STORE_UNAVAILABLE: { status: 503, user: false, summary: 'The metadata store (SQLite file or MySQL) is closed, locked or unreachable; retry later.' },
} as const satisfies Record<string, ErrorSpec>;

/** A code of the control-plane catalog. */
export type ControlPlaneErrorCode = keyof typeof CONTROL_PLANE_ERRORS;

/**
 * Build a PlatformError for a control-plane catalog code, with the catalog's HTTP status.
 * @param code a key of `CONTROL_PLANE_ERRORS`
 * @param message what happened, where, and how to fix it
 * @param details extra JSON fields merged into the response body `{ error: { code, message, ...details } }`
 * @example throw cpError('E_VERSION_NOT_FOUND', 'version 0123… does not exist for game1/follow', { versionId })
 */
export function cpError(code: ControlPlaneErrorCode, message: string, details: Record<string, unknown> = {}): PlatformError {
  return new PlatformError(code, CONTROL_PLANE_ERRORS[code].status, message, details);
}
