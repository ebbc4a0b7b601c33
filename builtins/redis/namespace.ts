/**
 * Per-app key namespacing for `ctx.redis`, and validation of keys and values.
 *
 * Every key a function passes is sent to Redis as `app:{<app>}:<key>`. Because *every* key is
 * prefixed, no key string can leave the caller's namespace: `app:{b}:x` sent by app `a` becomes
 * `app:{a}:app:{b}:x`. Prefixes of different apps are prefix-free (an app name cannot contain
 * `{` or `}`, and the prefix closes with `}:`), so no key of app `a` equals or starts like a key
 * of app `b`.
 *
 * The braces are a Redis Cluster hash tag (redis.io/docs/reference/cluster-spec, "Hash tags"):
 * only the text between the first `{` and the next `}` is hashed, so all keys of one app live
 * in one cluster slot, and multi-key commands (MGET, MSET, DEL, RENAME) work in a cluster.
 * The cost is that one app's data cannot spread over several shards.
 */
import { runtimeError } from '../../runtime/errors.ts';
import { builtinError } from '../errors.ts';
import { MAX_PATTERN_BYTES, MAX_PATTERN_STARS } from './commands.ts';

/** Longest key a function may use, in UTF-8 bytes, before the prefix is added. */
export const MAX_KEY_BYTES = 1024;

/** Longest app name accepted for a namespace, in UTF-8 bytes. */
export const MAX_APP_BYTES = 128;

/**
 * The key prefix of an app: `app:{<app>}:`.
 * @param app the app name (from the platform, not from function code)
 * @throws PlatformError `E_INTERNAL` when the app name is empty, longer than 128 bytes, or
 *   contains `{`, `}`, whitespace or control characters — that is a platform bug, and such a
 *   name would break the hash tag or the prefix-freedom of namespaces.
 */
export function keyPrefix(app: string): string {
  if (typeof app !== 'string' || app.length === 0 || Buffer.byteLength(app, 'utf8') > MAX_APP_BYTES || /[{}\s\p{Cc}]/u.test(app) || !app.isWellFormed()) {
    throw runtimeError('E_INTERNAL', `invalid app name for a Redis namespace: ${JSON.stringify(String(app)).slice(0, 80)}`);
  }
  return `app:{${app}}:`;
}

/**
 * Prefix a (validated) key with the app's namespace.
 * @example prefixKey('game1', 'room:42:gifts') // 'app:{game1}:room:42:gifts'
 * @throws PlatformError `E_INTERNAL` for an invalid app name (see `keyPrefix`)
 */
export function prefixKey(app: string, key: string): string {
  return keyPrefix(app) + key;
}

/**
 * Escape every glob metacharacter of Redis's matcher (`*`, `?`, `[`, `]`, `\\`) with a backslash,
 * so the text matches only itself (Redis util.c `stringmatchlen`: a backslash makes the next byte
 * literal; nothing else is special outside `[...]`).
 * @example escapeGlob('app:{a*}:') // 'app:{a\\*}:'
 */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * The SCAN `MATCH` pattern that confines a function's pattern to its app's keys: the app prefix,
 * escaped so it is matched literally, then the function's pattern. Glob tokens only reach forward
 * (a `[` class or a `\\` escape starts where it is written), so nothing in `pattern` can change
 * how the prefix before it matches: every key the pattern matches starts with the prefix.
 * @param app the app name (from the platform)
 * @param pattern a glob checked by `checkPattern`; `*` for every key of the app
 * @example scanPattern('game1', 'room:*') // 'app:{game1}:room:*'
 * @throws PlatformError `E_INTERNAL` for an invalid app name (see `keyPrefix`)
 */
export function scanPattern(app: string, pattern: string): string {
  return escapeGlob(keyPrefix(app)) + pattern;
}

/**
 * Validate a `MATCH` glob of SCAN, HSCAN, SSCAN or ZSCAN (Redis glob syntax: `*`, `?`, `[abc]`,
 * `[^a-z]`, `\\` to escape).
 * @param value the raw argument
 * @param where e.g. `"SCAN argument 3"`, for the message
 * @returns the pattern unchanged
 * @throws PlatformError `E_REDIS_BAD_ARGUMENTS` when it is not a string, is empty, is longer than
 *   `MAX_PATTERN_BYTES` (256) UTF-8 bytes, has more than `MAX_PATTERN_STARS` (8) `*` wildcards
 *   (matching cost on the shared server, see commands.ts), or has a lone UTF-16 surrogate.
 */
export function checkPattern(value: unknown, where: string): string {
  if (typeof value !== 'string') throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} is a MATCH pattern and must be a string, got ${describe(value)}`);
  if (value.length === 0) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} is a MATCH pattern and must not be empty (use "*" for everything)`);
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_PATTERN_BYTES) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} is a MATCH pattern of ${bytes} bytes; patterns are limited to ${MAX_PATTERN_BYTES} bytes (UTF-8)`, { bytes, limit: MAX_PATTERN_BYTES });
  const stars = value.split('*').length - 1;
  if (stars > MAX_PATTERN_STARS) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} is a MATCH pattern with ${stars} "*" wildcards; at most ${MAX_PATTERN_STARS} are allowed (each one multiplies the matching work on the shared Redis server)`, { limit: MAX_PATTERN_STARS });
  if (!value.isWellFormed()) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} is a MATCH pattern with a lone UTF-16 surrogate; use well-formed Unicode`);
  return value;
}

/**
 * Strip the app's prefix from a key found in a reply.
 * @returns the key as the function knows it, or `null` when `fullKey` is not in the app's
 *   namespace (such a key must never be shown to the function; callers drop it).
 */
export function unprefixKey(app: string, fullKey: string): string | null {
  const prefix = keyPrefix(app);
  return fullKey.startsWith(prefix) ? fullKey.slice(prefix.length) : null;
}

/**
 * Validate a key a function passed.
 * @param key the raw argument
 * @param where e.g. `"GET argument 1"`, for the message
 * @returns the key unchanged (not yet prefixed)
 * @throws PlatformError `E_REDIS_BAD_ARGUMENTS` when the key is not a string, is empty, is
 *   longer than `MAX_KEY_BYTES` (1024) UTF-8 bytes, or contains a lone UTF-16 surrogate (which
 *   UTF-8 cannot carry: two different strings would name the same key).
 */
export function checkKey(key: unknown, where: string): string {
  if (typeof key !== 'string') throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} is a key and must be a string, got ${describe(key)}`);
  if (key.length === 0) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} is a key and must not be empty`);
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} is a key of ${bytes} bytes; keys are limited to ${MAX_KEY_BYTES} bytes (UTF-8)`, { bytes, limit: MAX_KEY_BYTES });
  if (!key.isWellFormed()) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} is a key with a lone UTF-16 surrogate; use well-formed Unicode`);
  return key;
}

/**
 * Validate and convert a value (string value, hash field, set or sorted-set member).
 * @param value a string, or a finite number (sent as `String(value)`, e.g. `1.5` → `"1.5"`)
 * @param maxBytes the largest UTF-8 size accepted (host option `maxValueBytes`, default 512 KiB)
 * @param where e.g. `"SET argument 2"`, for the message
 * @throws PlatformError `E_REDIS_BAD_ARGUMENTS` for any other type (objects, booleans, null,
 *   NaN, Infinity, bigint), for a string with a lone UTF-16 surrogate, or over `maxBytes`.
 */
export function checkValue(value: unknown, maxBytes: number, where: string): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
  else {
    const hint = typeof value === 'object' && value !== null ? ' (use JSON.stringify for objects)' : '';
    throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} must be a string or a finite number, got ${describe(value)}${hint}`);
  }
  if (!text.isWellFormed()) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} contains a lone UTF-16 surrogate; use well-formed Unicode`);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) throw builtinError('E_REDIS_BAD_ARGUMENTS', `${where} is ${bytes} bytes; values are limited to ${maxBytes} bytes`, { bytes, limit: maxBytes });
  return text;
}

/** A short, safe description of a value's type for messages (never its content). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isFinite(value) ? 'a number' : String(value);
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
