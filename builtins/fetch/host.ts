/**
 * Host side of `ctx.fetch`. The isolate turns `await ctx.fetch(url, init)` into one host call
 * `execute(call, 'fetch', [url, init])` with plain JSON arguments; this module validates them,
 * checks every hop against the app's allowlist, connects only to vetted public addresses, follows
 * redirects itself, enforces the time, size and count limits, and answers with plain JSON
 * (`FetchReply`), which the isolate-side shim turns into a Response-like object.
 *
 * DNS rebinding: the address check happens inside undici's connector, on the very address the
 * socket is opened to (the name is resolved once, every address is vetted, the socket connects to
 * the first one by IP, TLS still verifies the certificate against the host name). Pooled
 * keep-alive connections were vetted when they were opened.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { isPlatformError, runtimeError, type PlatformError } from '../../runtime/errors.ts';
import type { BuiltinCall } from '../../runtime/sandbox/interface.ts';
import { builtinError } from '../errors.ts';
import { addressKey, classifyAddress, isBlockedHostname, matchAllowlist, parseAllowAddresses } from './policy.ts';
import { parseFetchArgs, parseFetchUrl, type FetchRequest } from './request.ts';

/** Limits and test hooks of `createFetchHost`; every field has a default. */
export interface FetchHostOptions {
  /** Longest one `ctx.fetch` call may take (all redirect hops and reading the body), in ms; also capped by the invocation deadline. @default 5000 */
  timeoutMs?: number;
  /** Largest response body, in bytes as received (before base64). @default 1048576 (1 MiB) */
  maxResponseBytes?: number;
  /** Largest request body, in UTF-8 bytes. @default 1048576 (1 MiB) */
  maxRequestBytes?: number;
  /** Most `ctx.fetch` calls per invocation (keyed by request id; redirect hops do not count). @default 20 */
  maxRequestsPerInvocation?: number;
  /** Most redirects followed per call (0: none). @default 5 */
  maxRedirects?: number;
  /** `user-agent` sent when the function sets none. @default 'faas-platform-fetch/1' */
  userAgent?: string;
  /**
   * Name resolution: host name → IP addresses (all of them). Tests inject fixed answers.
   * @default `dns.promises.lookup(name, { all: true, verbatim: true })` (the system resolver, /etc/hosts included)
   */
  resolve?: (hostname: string) => Promise<readonly string[]>;
  /**
   * TEST ONLY: exact `ip:port` pairs (`127.0.0.1:8080`, `[::1]:8080`) that may be connected to
   * although the address policy refuses their range, so tests can reach a loopback server. The
   * allowlist still applies. Never set it in production. @default [] (off)
   */
  allowAddresses?: readonly string[];
}

/** `FetchHostOptions` after defaults (without `resolve`); frozen. */
export interface ResolvedFetchHostOptions {
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly maxRequestBytes: number;
  readonly maxRequestsPerInvocation: number;
  readonly maxRedirects: number;
  readonly userAgent: string;
  readonly allowAddresses: readonly string[];
}

/**
 * What `execute` resolves with (plain JSON). `body` is the UTF-8 text when `bodyEncoding` is
 * `'text'`, else base64 of the bytes. `headers` have lower-case names; repeated headers are joined
 * with `", "` (as `Headers.get` does).
 */
export interface FetchReply {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: string;
  bodyEncoding: 'text' | 'base64';
  /** The final URL (after redirects), without fragment. */
  url: string;
  /** True when at least one redirect was followed. */
  redirected: boolean;
}

/** The fetch builtin as the runtime binds it; one per process (the app comes with each call). */
export interface FetchHost {
  /**
   * Run one `ctx.fetch(url, init)` for the calling invocation.
   * @param call the invocation (app, request id, deadline, abort signal) from the sandbox
   * @param op must be `'fetch'`
   * @param args `[url, init?]` as plain JSON (see builtins/fetch/README.md for the subset)
   * @throws PlatformError E_FETCH_BAD_ARGUMENTS, E_FETCH_REFUSED, E_FETCH_TIMEOUT,
   *   E_FETCH_TOO_LARGE, E_FETCH_LIMIT, E_FETCH_FAILED; E_CTX_REVOKED when the invocation ended
   *   (signal aborted) before or during the call; E_INTERNAL after `close()`; errors of
   *   `allowlistFor` pass through
   */
  execute(call: BuiltinCall, op: string, args: readonly unknown[]): Promise<FetchReply>;
  /** The options in force. */
  readonly options: ResolvedFetchHostOptions;
  /** Invocations with a live request counter (each is dropped when its invocation's signal aborts). */
  readonly trackedInvocations: number;
  /** Refuse new calls and close pooled connections once in-flight requests finish. Idempotent. */
  close(): Promise<void>;
  /** Abort in-flight requests and close every connection. Idempotent. */
  destroy(): Promise<void>;
}

/** Arguments of `createFetchHost`. */
export interface CreateFetchHostParams {
  /** The app's `AppSettings.fetchAllowlist` (exact names, `*.example.com`, IP literals); called once per call, so cache it. */
  allowlistFor: (app: string) => Promise<readonly string[]>;
  options?: FetchHostOptions;
}

const DEFAULTS = {
  timeoutMs: 5000,
  maxResponseBytes: 1024 * 1024,
  maxRequestBytes: 1024 * 1024,
  maxRequestsPerInvocation: 20,
  maxRedirects: 5,
} as const;

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Request-body headers dropped when a redirect turns the request into a GET (WHATWG fetch, HTTP-redirect fetch step 12). */
const BODY_HEADERS = ['content-type', 'content-encoding', 'content-language', 'content-location'];
/** Headers dropped on a redirect to another origin (WHATWG fetch, HTTP-redirect fetch step 13; undici also drops cookie). */
const CREDENTIAL_HEADERS = ['authorization', 'cookie'];
/** Bytes of a redirect response's body read (and dropped) before the next hop; past it the connection is closed. */
const REDIRECT_BODY_BYTES = 64 * 1024;
const TEXT_TYPE = /^(text\/|application\/(json|xml|javascript|ecmascript|x-www-form-urlencoded|graphql|x-ndjson)\b|[a-z]+\/[^;]*\+(json|xml)\b)/;
/** Network error codes → a phrase for the message. */
const NETWORK_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed unexpectedly',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_OVERFLOW: 'response headers too large',
  HPE_INVALID_CONSTANT: 'not a valid HTTP response',
};

type Resolve = (hostname: string) => Promise<readonly string[]>;

function resolveOptions(opts: FetchHostOptions): ResolvedFetchHostOptions & { resolve: Resolve } {
  const numbers: Record<keyof typeof DEFAULTS, number> = { ...DEFAULTS };
  for (const name of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const value = opts[name];
    if (value === undefined) continue;
    const min = name === 'maxRedirects' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < min) throw new TypeError(`createFetchHost: ${name} must be an integer ≥ ${min}, got ${String(value)}`);
    numbers[name] = value;
  }
  const userAgent = opts.userAgent ?? 'faas-platform-fetch/1';
  if (typeof userAgent !== 'string' || /[\r\n\0]/.test(userAgent)) throw new TypeError('createFetchHost: userAgent must be a header-safe string');
  if (opts.resolve !== undefined && typeof opts.resolve !== 'function') throw new TypeError('createFetchHost: resolve must be a function (hostname) => Promise<string[]>');
  const allowAddresses = Object.freeze([...(opts.allowAddresses ?? [])]);
  return { ...numbers, userAgent, allowAddresses, resolve: opts.resolve ?? systemResolve };
}

async function systemResolve(hostname: string): Promise<readonly string[]> {
  const answers = await lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => a.address);
}

/** `https://host/path` of a URL: never the query string (it may hold API keys, and messages can reach clients). */
function shown(url: URL): string {
  return `${url.origin}${url.pathname.length > 200 ? `${url.pathname.slice(0, 200)}…` : url.pathname}`;
}

function blockedName(host: string): PlatformError {
  return builtinError('E_FETCH_REFUSED', `ctx.fetch: ${host} is refused: cloud metadata and localhost names are never reachable from functions`, { host });
}

/** Allowlist and name checks of one hop, before anything is sent. */
function checkDestination(url: URL, allowlist: readonly string[], app: string): void {
  const host = url.hostname;
  if (isBlockedHostname(host)) throw blockedName(host);
  if (matchAllowlist(host, allowlist) !== null) return;
  const literal = isIP(host.replace(/^\[|\]$/g, '')) !== 0;
  const parent = host.split('.').slice(1).join('.');
  const how = literal
    ? 'IP-literal URLs must be listed as that exact address (and be a public address); prefer the service\'s host name'
    : `add "${host}"${parent.includes('.') ? ` (or a wildcard such as "*.${parent}")` : ''} to the app's fetch allowlist (AppSettings.fetchAllowlist)`;
  throw builtinError('E_FETCH_REFUSED', `ctx.fetch: ${host} is not on the fetch allowlist of app "${app}"; ${how}`, { host });
}

/** Lower-case header object with repeated values joined by ", ". */
function flattenHeaders(raw: Dispatcher.ResponseData['headers']): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    Object.defineProperty(headers, name.toLowerCase(), { value: Array.isArray(value) ? value.join(', ') : value, enumerable: true, writable: true, configurable: true });
  }
  return headers;
}

/** Abandon a response body: destroying it closes the connection (undici then reports an abort nobody needs). */
function discard(res: Dispatcher.ResponseData): void {
  res.body.on('error', () => {});
  res.body.destroy();
}

/** Read the body up to `limit` bytes; past it, destroy the stream (closing the connection) and throw. */
async function readBody(res: Dispatcher.ResponseData, limit: number, url: URL): Promise<Buffer> {
  const tooLarge = (): PlatformError => builtinError('E_FETCH_TOO_LARGE', `ctx.fetch: the response from ${shown(url)} is larger than ${limit} bytes; it was not read further (ask for less: pagination, ranges or filters)`, { part: 'response body', limitBytes: limit });
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    discard(res);
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      discard(res);
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Text when the content type is textual (or absent) and the bytes are valid UTF-8; base64 otherwise. */
function encodeBody(bytes: Buffer, contentType: string | undefined): Pick<FetchReply, 'body' | 'bodyEncoding'> {
  if (bytes.length === 0) return { body: '', bodyEncoding: 'text' };
  const type = (contentType ?? '').trim().toLowerCase();
  const charset = /;\s*charset="?([^";\s]+)/.exec(type)?.[1];
  const textual = (type === '' || TEXT_TYPE.test(type)) && (charset === undefined || charset === 'utf-8' || charset === 'utf8' || charset === 'us-ascii');
  if (textual) {
    try {
      return { body: UTF8.decode(bytes), bodyEncoding: 'text' };
    } catch { /* not UTF-8: send the bytes */ }
  }
  return { body: bytes.toString('base64'), bodyEncoding: 'base64' };
}

/** The next hop's URL, method, headers and body for a redirect response (WHATWG fetch, HTTP-redirect fetch). */
function redirectTarget(current: URL, location: string, method: string, headers: Record<string, string>, body: string | null, status: number): { url: URL; method: string; headers: Record<string, string>; body: string | null } {
  let next: URL;
  try {
    next = new URL(location, current);
  } catch {
    throw builtinError('E_FETCH_FAILED', `ctx.fetch: ${shown(current)} redirected to an invalid location ${JSON.stringify(location.slice(0, 200))}`, { host: current.hostname, cause: 'bad-redirect' });
  }
  try {
    next = parseFetchUrl(next.href, `the redirect location from ${shown(current)}`);
  } catch (err) {
    if (!isPlatformError(err) || err.code !== 'E_FETCH_BAD_ARGUMENTS') throw err;
    throw builtinError('E_FETCH_FAILED', err.message, { host: current.hostname, cause: 'bad-redirect' });
  }
  const nextHeaders = { ...headers };
  let nextMethod = method;
  let nextBody = body;
  if ((status === 303 && method !== 'GET' && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST')) {
    nextMethod = 'GET';
    nextBody = null;
    for (const name of BODY_HEADERS) delete nextHeaders[name];
  }
  if (next.origin !== current.origin) for (const name of CREDENTIAL_HEADERS) delete nextHeaders[name];
  return { url: next, method: nextMethod, headers: nextHeaders, body: nextBody };
}

/**
 * Create the fetch builtin's host side.
 * @param params `allowlistFor(app)` gives the app's allowlist; `options` are validated once and frozen
 * @throws TypeError for an invalid option (a limit that is not a positive integer, a malformed
 *   `allowAddresses` entry)
 * @example
 *   const host = createFetchHost({ allowlistFor: async (app) => (await settings(app)).fetchAllowlist });
 *   const reply = await host.execute(call, 'fetch', ['https://api.example.com/v1/items', { method: 'GET' }]);
 *   // { status: 200, statusText: 'OK', headers: {…}, body: '[…]', bodyEncoding: 'text', url: '…', redirected: false }
 */
export function createFetchHost(params: CreateFetchHostParams): FetchHost {
  if (typeof params?.allowlistFor !== 'function') throw new TypeError('createFetchHost: allowlistFor must be a function (app) => Promise<string[]>');
  const { resolve, ...rest } = resolveOptions(params.options ?? {});
  const options: ResolvedFetchHostOptions = Object.freeze(rest);
  const exempt = parseAllowAddresses(options.allowAddresses);
  const counters = new Map<string, number>();
  let closed = false;
  let closing: Promise<void> | null = null;
  let destroying: Promise<void> | null = null;

  /** Resolve, vet every address, return the one to connect to (throws E_FETCH_REFUSED / E_FETCH_FAILED). */
  const vet = async (hostname: string, port: number): Promise<string> => {
    if (isBlockedHostname(hostname)) throw blockedName(hostname);
    let addresses: readonly string[];
    if (isIP(hostname) !== 0) {
      addresses = [hostname];
    } else {
      try {
        addresses = await resolve(hostname);
      } catch (err) {
        const code = String((err as { code?: unknown }).code ?? 'error');
        throw builtinError('E_FETCH_FAILED', `ctx.fetch: could not resolve ${hostname} (${code}); check the host name`, { host: hostname, cause: code });
      }
      if (!Array.isArray(addresses) || addresses.length === 0 || !addresses.every((a) => typeof a === 'string' && isIP(a) !== 0)) {
        throw builtinError('E_FETCH_FAILED', `ctx.fetch: could not resolve ${hostname} (no addresses)`, { host: hostname, cause: 'ENODATA' });
      }
    }
    for (const address of addresses) {
      if (exempt.size > 0 && exempt.has(addressKey(address, port))) continue;
      const verdict = classifyAddress(address);
      if (!verdict.allowed) {
        const what = isIP(hostname) !== 0 ? `${verdict.address} is` : `${hostname} resolves to ${verdict.address}, which is`;
        throw builtinError('E_FETCH_REFUSED', `ctx.fetch: ${what} ${verdict.description}; functions may only connect to public addresses`, { host: hostname, address: verdict.address, range: verdict.range });
      }
    }
    return addresses[0];
  };

  // Every new connection goes through `vet`: the socket is opened to the vetted IP (no second
  // lookup), while undici keeps the host name for the Host header, SNI and certificate checks.
  const baseConnect = buildConnector({});
  const connect: buildConnector.connector = (opts, callback) => {
    const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
    vet(opts.hostname, port).then(
      (address) => baseConnect({ ...opts, hostname: address }, callback),
      (err: Error) => callback(err, null),
    );
  };
  const agent = new Agent({ connect, keepAliveTimeout: 4000 });

  /** Count one call against the invocation's budget; the counter goes when the invocation ends. */
  const count = (call: BuiltinCall): void => {
    const used = counters.get(call.requestId);
    if (used === undefined) {
      counters.set(call.requestId, 1);
      call.signal.addEventListener('abort', () => counters.delete(call.requestId), { once: true });
      return;
    }
    if (used >= options.maxRequestsPerInvocation) {
      throw builtinError('E_FETCH_LIMIT', `ctx.fetch: this invocation already made ${used} requests; at most ${options.maxRequestsPerInvocation} are allowed per invocation (batch requests or cache results)`, { limit: options.maxRequestsPerInvocation });
    }
    counters.set(call.requestId, used + 1);
  };

  const revoked = (what: string): PlatformError => runtimeError('E_CTX_REVOKED', `ctx.fetch: the invocation ended ${what}; the request was abandoned`);

  /** Send the request, following redirects; the signal aborts everything. */
  const run = async (request: FetchRequest, allowlist: readonly string[], app: string, signal: AbortSignal): Promise<FetchReply> => {
    let { url, method, headers, body } = request;
    headers['user-agent'] ??= options.userAgent;
    headers.accept ??= '*/*';
    for (let hop = 0; ; hop++) {
      checkDestination(url, allowlist, app);
      const res = await agent.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method, headers, body, signal });
      const location = res.headers.location;
      if (REDIRECT_STATUSES.has(res.statusCode) && typeof location === 'string' && request.redirect !== 'manual') {
        await res.body.dump({ limit: REDIRECT_BODY_BYTES }).catch(() => {});
        if (request.redirect === 'error') {
          throw builtinError('E_FETCH_FAILED', `ctx.fetch: ${shown(url)} answered ${res.statusCode} (redirect) and init.redirect is "error"`, { host: url.hostname, cause: 'redirect' });
        }
        if (hop >= options.maxRedirects) {
          throw builtinError('E_FETCH_FAILED', `ctx.fetch: more than ${options.maxRedirects} redirects, last from ${shown(url)}`, { host: url.hostname, cause: 'too-many-redirects', limit: options.maxRedirects });
        }
        ({ url, method, headers, body } = redirectTarget(url, location, method, headers, body, res.statusCode));
        continue;
      }
      let bytes: Buffer;
      if (method === 'HEAD') {
        await res.body.dump({ limit: REDIRECT_BODY_BYTES });
        bytes = Buffer.alloc(0);
      } else {
        bytes = await readBody(res, options.maxResponseBytes, url);
      }
      const replyHeaders = flattenHeaders(res.headers);
      return { status: res.statusCode, statusText: res.statusText ?? '', headers: replyHeaders, ...encodeBody(bytes, replyHeaders['content-type']), url: url.href, redirected: hop > 0 };
    }
  };

  /** Map whatever `run` threw to a catalog error (unknown errors pass through: a platform bug). */
  const toFetchError = (err: unknown, request: FetchRequest, aborted: 'timeout' | 'ended' | null, timeoutMs: number): unknown => {
    if (aborted === 'ended') return revoked(`while ${request.method} ${shown(request.url)} was in flight`);
    if (aborted === 'timeout') {
      return builtinError('E_FETCH_TIMEOUT', `ctx.fetch: ${request.method} ${shown(request.url)} got no complete answer within ${timeoutMs} ms${timeoutMs < options.timeoutMs ? ' (the time left before the invocation deadline)' : ''}`, { timeoutMs });
    }
    if (isPlatformError(err)) return err;
    const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : '';
    const message = String((err as Error)?.message ?? err);
    if (code === 'UND_ERR_INVALID_ARG') return builtinError('E_FETCH_BAD_ARGUMENTS', `ctx.fetch: ${message}`);
    const phrase = NETWORK_ERRORS[code] ?? (/^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HPE_|UND_ERR_|E[A-Z]+$)/.test(code) ? message : undefined);
    if (phrase === undefined) return err;
    return builtinError('E_FETCH_FAILED', `ctx.fetch: ${request.method} ${shown(request.url)} failed: ${phrase}${phrase === message ? '' : ` (${code})`}`, { host: request.url.hostname, cause: code });
  };

  return {
    options,
    get trackedInvocations() {
      return counters.size;
    },
    async execute(call: BuiltinCall, op: string, args: readonly unknown[]): Promise<FetchReply> {
      if (op !== 'fetch') throw builtinError('E_FETCH_BAD_ARGUMENTS', `ctx.fetch: unknown operation ${JSON.stringify(op)}; the only operation is "fetch"`);
      if (call.signal.aborted) throw revoked('before ctx.fetch was called');
      if (closed) throw runtimeError('E_INTERNAL', 'ctx.fetch: the fetch host is closed');
      const request = parseFetchArgs(args, options.maxRequestBytes);
      count(call);
      const allowlist = await params.allowlistFor(call.app);
      const timeoutMs = Math.min(options.timeoutMs, Math.floor(call.deadline - Date.now()));
      if (timeoutMs <= 0) throw toFetchError(null, request, 'timeout', 0);
      const controller = new AbortController();
      let aborted: 'timeout' | 'ended' | null = null;
      const onEnded = (): void => {
        aborted ??= 'ended';
        controller.abort();
      };
      const timer = setTimeout(() => {
        aborted ??= 'timeout';
        controller.abort();
      }, timeoutMs);
      call.signal.addEventListener('abort', onEnded, { once: true });
      try {
        return await run(request, allowlist, call.app, controller.signal);
      } catch (err) {
        throw toFetchError(err, request, aborted, timeoutMs);
      } finally {
        clearTimeout(timer);
        call.signal.removeEventListener('abort', onEnded);
      }
    },
    close() {
      closed = true;
      closing ??= agent.close();
      return closing;
    },
    destroy() {
      closed = true;
      destroying ??= agent.destroy();
      return destroying;
    },
  };
}
