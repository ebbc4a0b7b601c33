/**
 * Validation of what function code passes to `ctx.auth.issue(userId, { ttlS, claims })` and
 * `ctx.auth.verify(token)`. Every refusal is `E_AUTH_BAD_ARGUMENTS` (400) with a message that names
 * the argument, what was found and what is allowed. Function code is hostile: walks are bounded in
 * depth and size before anything is serialised.
 */
import { builtinError } from '../errors.ts';

/** A JSON value as it travels in a token's payload. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Custom claims: a JSON object without registered claim names. */
export type Claims = { [name: string]: JsonValue };

/**
 * Claim names the platform sets itself (RFC 7519 §4.1 registered claims); a function may not set
 * them in `claims`, and `ctx.user.claims` never shows them.
 */
export const RESERVED_CLAIMS: readonly string[] = Object.freeze(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);

/** Largest `claims` object, as UTF-8 bytes of its JSON text. */
export const MAX_CLAIMS_BYTES = 4096;
/** Deepest nesting inside `claims` (the object itself is level 1). */
export const MAX_CLAIMS_DEPTH = 16;
/** Longest user id, in UTF-16 code units (JavaScript `length`). */
export const MAX_USER_ID_LENGTH = 256;
/** Shortest token lifetime, in seconds. */
export const MIN_TTL_S = 60;
/** Longest token text accepted for verification, in characters; issued tokens stay well below it. */
export const MAX_TOKEN_LENGTH = 8192;

/** The checked arguments of `issue`. */
export interface IssueArguments {
  userId: string;
  ttlS: number;
  claims: Claims;
}

function bad(message: string, details: Record<string, unknown> = {}): never {
  throw builtinError('E_AUTH_BAD_ARGUMENTS', message, details);
}

/** A short description of a value for messages (never the value of a long string). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  if (typeof value === 'object') return Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null ? 'an object' : 'a non-plain object';
  return `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * @param value the `userId` argument
 * @returns the user id (becomes the token's `sub` and `ctx.user.id`)
 * @throws PlatformError E_AUTH_BAD_ARGUMENTS unless a string of 1..256 characters without control characters
 */
export function checkUserId(value: unknown): string {
  if (typeof value !== 'string') bad(`ctx.auth.issue: userId must be a string, got ${describe(value)}`, { argument: 'userId' });
  if (value.length === 0) bad('ctx.auth.issue: userId must not be empty', { argument: 'userId' });
  if (value.length > MAX_USER_ID_LENGTH) bad(`ctx.auth.issue: userId is ${value.length} characters; at most ${MAX_USER_ID_LENGTH} are allowed`, { argument: 'userId', limit: MAX_USER_ID_LENGTH });
  if (CONTROL.test(value)) bad('ctx.auth.issue: userId must not contain control characters (U+0000–U+001F, U+007F)', { argument: 'userId' });
  return value;
}

/**
 * @param value `opts.ttlS`, or undefined for the default
 * @returns the lifetime in whole seconds, within [60, maxTtlS]
 * @throws PlatformError E_AUTH_BAD_ARGUMENTS for a non-integer or out-of-range value
 */
export function checkTtl(value: unknown, defaultTtlS: number, maxTtlS: number): number {
  if (value === undefined) return defaultTtlS;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) bad(`ctx.auth.issue: ttlS must be a whole number of seconds, got ${describe(value)}`, { argument: 'ttlS' });
  if (value < MIN_TTL_S || value > maxTtlS) {
    bad(`ctx.auth.issue: ttlS must be between ${MIN_TTL_S} and ${maxTtlS} seconds (${maxTtlS / 86400} days), got ${value}`, { argument: 'ttlS', min: MIN_TTL_S, max: maxTtlS });
  }
  return value;
}

/**
 * Check a JSON value inside `claims`: plain objects, arrays, strings, finite numbers, booleans,
 * null; at most `MAX_CLAIMS_DEPTH` deep. Counts nodes so a huge object is refused before it is
 * serialised (each node costs at least one byte of JSON).
 */
function checkJson(value: unknown, path: string, depth: number, budget: { nodes: number }): void {
  if (--budget.nodes < 0) bad(`ctx.auth.issue: claims are larger than ${MAX_CLAIMS_BYTES} bytes of JSON`, { argument: 'claims', limit: MAX_CLAIMS_BYTES });
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) bad(`ctx.auth.issue: claims${path} is ${value}; JSON has no NaN or Infinity`, { argument: 'claims' });
    return;
  }
  if (typeof value !== 'object') bad(`ctx.auth.issue: claims${path} is ${describe(value)}; claim values must be JSON (object, array, string, number, boolean, null)`, { argument: 'claims' });
  if (depth > MAX_CLAIMS_DEPTH) bad(`ctx.auth.issue: claims nest deeper than ${MAX_CLAIMS_DEPTH} levels at claims${path}`, { argument: 'claims', limit: MAX_CLAIMS_DEPTH });
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkJson(value[i], `${path}[${i}]`, depth + 1, budget);
    return;
  }
  if (!isPlainObject(value)) bad(`ctx.auth.issue: claims${path} is ${describe(value)}; only plain objects are allowed`, { argument: 'claims' });
  for (const key of Object.keys(value)) checkJson(value[key], `${path}.${key.length > 40 ? `${key.slice(0, 40)}…` : key}`, depth + 1, budget);
}

/**
 * @param value `opts.claims`, or undefined for none
 * @returns the custom claims (the same object, checked)
 * @throws PlatformError E_AUTH_BAD_ARGUMENTS when not a plain JSON object, when a top-level name is
 *   reserved (`RESERVED_CLAIMS`) or `__proto__`, or when its JSON is over 4096 bytes
 */
export function checkClaims(value: unknown): Claims {
  if (value === undefined) return {};
  if (!isPlainObject(value)) bad(`ctx.auth.issue: claims must be a plain object, got ${describe(value)}`, { argument: 'claims' });
  for (const name of Object.keys(value)) {
    if (RESERVED_CLAIMS.includes(name)) {
      bad(`ctx.auth.issue: claims.${name} is reserved: the platform sets ${RESERVED_CLAIMS.join(', ')} itself (the user id is the first argument, the lifetime is ttlS); rename your claim`, { argument: 'claims', claim: name, reserved: RESERVED_CLAIMS });
    }
    if (name === '__proto__') bad('ctx.auth.issue: a claim may not be named __proto__ (JavaScript readers would not see it as a claim); rename it', { argument: 'claims', claim: name });
  }
  checkJson(value, '', 1, { nodes: MAX_CLAIMS_BYTES });
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > MAX_CLAIMS_BYTES) bad(`ctx.auth.issue: claims are ${bytes} bytes of JSON; at most ${MAX_CLAIMS_BYTES} are allowed (keep only what the functions need; store the rest in Redis or SQL)`, { argument: 'claims', limit: MAX_CLAIMS_BYTES });
  return value as Claims;
}

const ISSUE_OPTIONS: readonly string[] = ['ttlS', 'claims'];

/**
 * Check the arguments of `issue`: `[userId]` or `[userId, { ttlS?, claims? }]`.
 * @throws PlatformError E_AUTH_BAD_ARGUMENTS naming the argument at fault (unknown options are
 *   refused, so a typo such as `ttl` does not silently give the default lifetime)
 */
export function checkIssueArguments(args: readonly unknown[], defaultTtlS: number, maxTtlS: number): IssueArguments {
  if (args.length < 1 || args.length > 2) bad(`ctx.auth.issue takes (userId, { ttlS?, claims? }), got ${args.length} arguments`);
  const userId = checkUserId(args[0]);
  const opts = args[1];
  if (opts !== undefined && opts !== null && !isPlainObject(opts)) bad(`ctx.auth.issue: the second argument must be an object { ttlS?, claims? }, got ${describe(opts)}`, { argument: 'options' });
  const given = (opts ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!ISSUE_OPTIONS.includes(name)) bad(`ctx.auth.issue: unknown option ${JSON.stringify(name.slice(0, 40))}; the options are ttlS (seconds) and claims (object)`, { argument: 'options' });
  }
  return { userId, ttlS: checkTtl(given.ttlS, defaultTtlS, maxTtlS), claims: checkClaims(given.claims) };
}

/**
 * Check the arguments of `verify`: `[token]`.
 * @throws PlatformError E_AUTH_BAD_ARGUMENTS unless one string argument
 */
export function checkVerifyArguments(args: readonly unknown[]): string {
  if (args.length !== 1) bad(`ctx.auth.verify takes (token), got ${args.length} arguments`);
  const token = args[0];
  if (typeof token !== 'string') bad(`ctx.auth.verify: token must be a string, got ${describe(token)}`, { argument: 'token' });
  return token;
}
