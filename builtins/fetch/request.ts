/**
 * Validation of `ctx.fetch(url, init)` arguments as they arrive from the isolate (plain JSON), into
 * a `FetchRequest` the host can send. Follows the WHATWG fetch names (`method`, `headers`, `body`,
 * `redirect`) for the documented subset; anything else is refused with E_FETCH_BAD_ARGUMENTS.
 */
import { builtinError } from '../errors.ts';

/** Methods `ctx.fetch` sends (case-insensitive in `init.method`, sent upper-case). */
export const FETCH_METHODS: readonly string[] = Object.freeze(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** `init.redirect` values, as in WHATWG fetch. */
export type RedirectMode = 'follow' | 'manual' | 'error';

/**
 * Request headers a function may not set: hop-by-hop headers (RFC 9110 §7.6.1), framing headers
 * the client computes (`content-length`, `transfer-encoding`, `expect`), and `host` (it must name
 * the vetted host).
 */
export const REFUSED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer',
  'upgrade', 'proxy-authorization', 'proxy-authenticate', 'content-length', 'expect', 'http2-settings',
]);

/** Longest URL accepted, in characters. */
export const MAX_URL_CHARS = 8192;
/** Most request headers in one call. */
export const MAX_HEADER_COUNT = 100;
/** Largest total size of request header names and values, in bytes. */
export const MAX_HEADER_BYTES = 32 * 1024;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;
const INIT_KEYS: ReadonlySet<string> = new Set(['method', 'headers', 'body', 'redirect']);

/** A validated request: what the host sends on its first hop. */
export interface FetchRequest {
  url: URL;
  method: string;
  /** Lower-case names; never a refused header. */
  headers: Record<string, string>;
  /** UTF-8 body, or null for none. */
  body: string | null;
  redirect: RedirectMode;
}

function bad(message: string, details: Record<string, unknown> = {}): never {
  throw builtinError('E_FETCH_BAD_ARGUMENTS', `ctx.fetch: ${message}`, details);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)?.slice(0, 40) ?? ''}`.trim();
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Parse and check the URL: a string, at most `MAX_URL_CHARS`, absolute, `http:` or `https:`, no
 * user name or password. The fragment is dropped (it is never sent).
 * @throws E_FETCH_BAD_ARGUMENTS (not a string, not a URL, too long, credentials)
 * @throws E_FETCH_REFUSED (another scheme, e.g. `file:`, `ftp:`, `data:`)
 */
export function parseFetchUrl(input: unknown, where = 'url'): URL {
  if (typeof input !== 'string') bad(`${where} must be a string such as "https://api.example.com/v1/items", got ${kindOf(input)}`);
  if (input.length > MAX_URL_CHARS) bad(`${where} is ${input.length} characters long; at most ${MAX_URL_CHARS} are allowed`, { limit: MAX_URL_CHARS });
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    bad(`${where} ${JSON.stringify(input.slice(0, 200))} is not an absolute URL; write it with its scheme and host, e.g. "https://api.example.com/path"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw builtinError('E_FETCH_REFUSED', `ctx.fetch: ${where} scheme "${url.protocol}" is refused; only http: and https: URLs can be fetched`, { scheme: url.protocol });
  }
  if (url.username !== '' || url.password !== '') {
    bad(`${where} must not carry a user name or password ("user:pass@host"); send credentials in a header instead, e.g. headers: { authorization: "Basic …" }`);
  }
  url.hash = '';
  return url;
}

function parseMethod(value: unknown): string {
  if (value === undefined || value === null) return 'GET';
  const method = typeof value === 'string' ? value.toUpperCase() : '';
  if (!FETCH_METHODS.includes(method)) bad(`init.method must be one of ${FETCH_METHODS.join(', ')}, got ${kindOf(value)}`, { allowed: FETCH_METHODS });
  return method;
}

function parseHeaders(value: unknown): Record<string, string> {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  if (value === undefined || value === null) return headers;
  if (!isPlainObject(value)) bad(`init.headers must be an object of header names to string values, e.g. { "content-type": "application/json" }, got ${kindOf(value)}`);
  const entries = Object.entries(value);
  if (entries.length > MAX_HEADER_COUNT) bad(`init.headers has ${entries.length} headers; at most ${MAX_HEADER_COUNT} are allowed`, { limit: MAX_HEADER_COUNT });
  let bytes = 0;
  for (const [name, raw] of entries) {
    if (!TOKEN.test(name)) bad(`header name ${JSON.stringify(name.slice(0, 80))} is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_\`|~ only)`, { header: name.slice(0, 80) });
    const lower = name.toLowerCase();
    if (REFUSED_REQUEST_HEADERS.has(lower)) {
      bad(`header "${lower}" cannot be set: it is a hop-by-hop or framing header that the platform sets itself`, { header: lower, refused: [...REFUSED_REQUEST_HEADERS] });
    }
    if (typeof raw !== 'string') bad(`header "${lower}" must have a string value, got ${kindOf(raw)}; convert it with String(value)`, { header: lower });
    if (BAD_VALUE.test(raw)) bad(`header "${lower}" value contains CR, LF or NUL`, { header: lower });
    if (lower in headers) bad(`header "${lower}" is given twice (header names are case-insensitive); join the values with ", "`, { header: lower });
    bytes += lower.length + Buffer.byteLength(raw, 'utf8');
    if (bytes > MAX_HEADER_BYTES) bad(`init.headers are larger than ${MAX_HEADER_BYTES} bytes in total`, { limitBytes: MAX_HEADER_BYTES });
    headers[lower] = raw.trim();
  }
  return headers;
}

function parseBody(value: unknown, method: string, headers: Record<string, string>, maxRequestBytes: number): string | null {
  if (value === undefined || value === null) return null;
  if (method === 'GET' || method === 'HEAD') bad(`a ${method} request cannot have a body; use POST, PUT or PATCH, or put the data in the query string`);
  let body: string;
  if (typeof value === 'string') {
    body = value;
    headers['content-type'] ??= 'text/plain;charset=UTF-8';
  } else if (typeof value === 'object') {
    body = JSON.stringify(value);
    headers['content-type'] ??= 'application/json';
  } else {
    bad(`init.body must be a string or a JSON-serialisable object or array, got ${kindOf(value)}; for a number or boolean send JSON.stringify(value)`);
  }
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > maxRequestBytes) {
    throw builtinError('E_FETCH_TOO_LARGE', `ctx.fetch: the request body is ${bytes} bytes; at most ${maxRequestBytes} bytes can be sent`, { part: 'request body', limitBytes: maxRequestBytes });
  }
  return body;
}

function parseRedirect(value: unknown): RedirectMode {
  if (value === undefined || value === null) return 'follow';
  if (value === 'follow' || value === 'manual' || value === 'error') return value;
  return bad(`init.redirect must be "follow", "manual" or "error", got ${kindOf(value)}`);
}

/**
 * Validate the arguments of one `ctx.fetch` call.
 * @param args `[url, init?]` as the isolate sent them (plain JSON)
 * @param maxRequestBytes the request body limit, in UTF-8 bytes
 * @returns the request to send: upper-case method, lower-case header names, a default
 *   `content-type` (`application/json` for an object body, `text/plain;charset=UTF-8` for a string)
 * @throws E_FETCH_BAD_ARGUMENTS (shape, method, header, body type, GET with a body, URL problems),
 *   E_FETCH_REFUSED (scheme), E_FETCH_TOO_LARGE (request body over `maxRequestBytes`)
 */
export function parseFetchArgs(args: readonly unknown[], maxRequestBytes: number): FetchRequest {
  if (!Array.isArray(args) || args.length < 1 || args.length > 2) bad(`expected (url, init?), got ${Array.isArray(args) ? `${args.length} arguments` : kindOf(args)}`);
  const url = parseFetchUrl(args[0]);
  const init: unknown = args[1] ?? {};
  if (!isPlainObject(init)) bad(`init must be an object such as { method: "POST", headers: {…}, body: … }, got ${kindOf(init)}`);
  for (const key of Object.keys(init)) {
    if (!INIT_KEYS.has(key)) bad(`init.${key} is not supported; ctx.fetch takes ${[...INIT_KEYS].join(', ')} (see builtins/fetch/README.md)`, { option: key });
  }
  const method = parseMethod(init.method);
  const headers = parseHeaders(init.headers);
  const body = parseBody(init.body, method, headers, maxRequestBytes);
  return { url, method, headers, body, redirect: parseRedirect(init.redirect) };
}
