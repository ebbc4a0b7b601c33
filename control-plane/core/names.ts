/**
 * Names of apps, functions and aliases. They appear in URLs (`/fn/{app}/{function}`), Redis key
 * prefixes, SQL database names and file names, so they are kept to one safe shape:
 * a lowercase ASCII letter, then up to 62 lowercase letters, digits or `-` (1–63 characters, the
 * DNS label length, so a name also fits a Kubernetes label or a hostname).
 */
import { cpError } from '../errors.ts';

/** The one rule for app, function and alias names. */
export const NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/** Which kind of name is being checked; used in error messages. */
export type NameField = 'app' | 'function' | 'alias';

/** True when `value` is a string matching `NAME_PATTERN`. */
export function isValidName(value: unknown): value is string {
  return typeof value === 'string' && NAME_PATTERN.test(value);
}

/**
 * Return `value` when it is a valid name, otherwise throw.
 * @param field which name this is (`app`, `function`, `alias`), named in the message
 * @param value the candidate (any type; non-strings are refused)
 * @returns the same string
 * @throws PlatformError E_INVALID_NAME (400) with details `{ field, value, pattern }` and a message
 *   naming the field and the rule, e.g. `function name "Follow" is invalid: …`
 */
export function validateName(field: NameField, value: unknown): string {
  if (isValidName(value)) return value;
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : `of type ${value === null ? 'null' : typeof value}`;
  throw cpError(
    'E_INVALID_NAME',
    `${field} name ${shown} is invalid: use 1 to 63 characters, a lowercase letter (a-z) first, then lowercase letters, digits or '-' (pattern ${NAME_PATTERN.source})`,
    { field, pattern: NAME_PATTERN.source },
  );
}

/** Config value and secret names (`ctx.config.get(name)`): like environment variables, 1–63 characters. */
export const CONFIG_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
