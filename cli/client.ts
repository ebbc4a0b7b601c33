/**
 * A small typed client for the platform's HTTP API: the control-plane REST routes under `/api`
 * and function invocation under `/fn`. Used by the `faas` CLI; written on `fetch` only so the
 * admin UI can reuse it in a browser.
 *
 * Every failure is a `FaasApiError` with a stable `code`: the server's own code for an HTTP
 * error (`{ error: { code, message, ...details } }`), `E_UNREACHABLE` when the platform cannot
 * be reached, `E_BAD_RESPONSE_BODY` when an `/api` answer is not the JSON the route promises.
 */
import type {
  Actor, AliasState, ApiKeyInfo, AppInfo, AuditRecord, AuthMode, CanarySplit, ConfigView, DeployResult, FunctionInfo, FunctionLimits, LogLine, Role, VersionInfo,
} from '../control-plane/core/types.ts';

/** Brand recognised across realms (see runtime/errors.ts): match on it or on `.code`, not `instanceof`. */
const BRAND = Symbol.for('faas.client-error');

/** Network error codes (Node's undici `cause.code`) that mean "nothing is listening there". */
const UNREACHABLE_CAUSES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/** An error from the platform (HTTP status >= 400) or from reaching it (status 0). */
export class FaasApiError extends Error {
  /** The server's code (e.g. `E_APP_NOT_FOUND`, `E_SYNTAX`), or `E_UNREACHABLE` / `E_BAD_RESPONSE_BODY`. */
  readonly code: string;
  /** HTTP status; 0 when no HTTP answer was received. */
  readonly status: number;
  /** Extra fields of the error body (e.g. `line`, `column`, `frame`, `diagnostics`). */
  readonly details: Readonly<Record<string, unknown>>;
  readonly [BRAND] = true;

  /**
   * @param code stable error code
   * @param status HTTP status, 0 when the request did not get an HTTP answer
   * @param message human-readable message (the server's own when there was one)
   * @param details the error body's other fields
   */
  constructor(code: string, status: number, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'FaasApiError';
    this.code = code;
    this.status = status;
    this.details = Object.freeze({ ...details });
  }
}

/** True for a `FaasApiError` from any realm. */
export function isFaasApiError(value: unknown): value is FaasApiError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** Options of `FaasClient`; validated once in the constructor. */
export interface FaasClientOptions {
  /** Base URL of the platform, e.g. `http://127.0.0.1:8080` (a trailing slash is ignored). */
  url: string;
  /** Admin/developer API key sent as `Authorization: Bearer <key>` on `/api` calls; omitted when undefined. */
  apiKey?: string;
  /** The fetch implementation. @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** Input of `deploy`: the module source and optional metadata. */
export interface DeployInput {
  /** The ES module source (`index.js`). */
  code: string;
  /** Deploy message shown by `versions`. */
  message?: string;
  /** Alias to move to the new version. @default 'prod' (server side) */
  alias?: string;
  /** Limits to store with the version; missing fields take the platform defaults. */
  limits?: Partial<FunctionLimits>;
  /** Whether the function needs a signed-in player (`function.json` → `auth`). Unset keeps the function's current mode (`none` for a new one). */
  auth?: AuthMode;
}

/** Query of `listAudit`. */
export interface AuditQuery {
  /** Only records of this app. */
  app?: string;
  /** At most this many records, 1–1000. @default 100 (server side) */
  limit?: number;
  /** Only records with an id below this one (page with the last id seen). */
  before?: number;
}

/** Input of `createKey`. */
export interface CreateKeyInput {
  /** Shown as the author of deploys and in the audit log. */
  name: string;
  role: Role;
  /** Apps the key may act on, or `'*'` for all (admins always get `'*'`). */
  apps?: string[] | '*';
}

/** Options of `logs`. */
export interface LogsQuery {
  /** Most recent N lines (server default when omitted). */
  limit?: number;
  /** Only lines at or after this time, epoch milliseconds. */
  sinceMs?: number;
  /**
   * Only lines appended after the line with this `id` (the oldest `limit` of them, in append
   * order): pass the newest `id` seen to follow a function without gaps or repeats.
   */
  afterId?: number;
  /** Only lines of this invocation. */
  requestId?: string;
  /** Only lines of this level and above (`warn` keeps warn and error). */
  level?: LogLine['level'];
}

/** Options of `invoke`. */
export interface InvokeOptions {
  /** HTTP method. @default 'GET' without a body, 'POST' with one */
  method?: string;
  /** Path after `/fn/<app>/<fn>`, may carry a query string. @default '/' */
  path?: string;
  /** Body: a string is sent as is (text/plain unless `headers` say otherwise); anything else as JSON. */
  body?: unknown;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Alias to invoke, sent as the `x-faas-alias` header. @default the gateway's default (`prod`) */
  alias?: string;
  /** Exact version id to invoke (bypasses aliases and canaries), sent as the `x-faas-version` header. */
  versionId?: string;
}

/** The answer of a function invocation (any status; invoking never throws on HTTP errors). */
export interface InvokeResult {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  /** `x-faas-request-id` response header, when present. */
  requestId: string | undefined;
  /** `x-faas-version` response header, when present. */
  version: string | undefined;
  /** Raw body text. */
  text: string;
  /** Parsed body when the response is JSON, else undefined. */
  json: unknown;
  /** Wall time of the round trip in milliseconds. */
  durationMs: number;
}

/** A typed client for one platform. Stateless; safe to share. */
export class FaasClient {
  /** Base URL without trailing slash. */
  readonly url: string;
  readonly #apiKey: string | undefined;
  readonly #fetch: typeof fetch;

  /**
   * @param options see `FaasClientOptions`
   * @throws TypeError when `options.url` is not an absolute http(s) URL
   */
  constructor(options: FaasClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new TypeError(`invalid platform URL "${options.url}": expected e.g. http://127.0.0.1:8080`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TypeError(`invalid platform URL "${options.url}": only http and https are supported`);
    }
    this.url = options.url.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** `GET /api/apps` → the apps visible to the key. */
  async listApps(): Promise<AppInfo[]> {
    return (await this.#api<{ apps: AppInfo[] }>('GET', '/api/apps')).apps;
  }

  /** `POST /api/apps` → the created app. @throws FaasApiError (e.g. 409 when it exists) */
  async createApp(name: string): Promise<AppInfo> {
    const body = await this.#api<{ app?: AppInfo } & Partial<AppInfo>>('POST', '/api/apps', { name });
    return body.app ?? { name: body.name ?? name, createdAt: body.createdAt ?? '' };
  }

  /** `GET /api/apps/:app/functions` → the app's functions with their aliases. */
  async listFunctions(app: string): Promise<FunctionInfo[]> {
    return (await this.#api<{ functions: FunctionInfo[] }>('GET', `/api/apps/${enc(app)}/functions`)).functions;
  }

  /**
   * `POST /api/apps/:app/functions/:fn/deploy`: check, store a version and move the alias.
   * @throws FaasApiError `E_SYNTAX` (details: line, column, frame), `E_CHECK` (details: diagnostics),
   *   `E_CODE_TOO_LARGE`, `E_APP_NOT_FOUND`, `E_UNAUTHORIZED`, …
   */
  async deploy(app: string, fn: string, input: DeployInput): Promise<DeployResult> {
    return this.#api<DeployResult>('POST', `${fnBase(app, fn)}/deploy`, input);
  }

  /** `GET /api/apps/:app/functions/:fn/versions` → versions, newest first. */
  async listVersions(app: string, fn: string): Promise<VersionInfo[]> {
    return (await this.#api<{ versions: VersionInfo[] }>('GET', `${fnBase(app, fn)}/versions`)).versions;
  }

  /** `POST /api/apps/:app/functions/:fn/rollback`: move `alias` (default prod) back, or to `to`. */
  async rollback(app: string, fn: string, opts: { alias?: string; to?: string } = {}): Promise<AliasState> {
    return (await this.#api<{ alias: AliasState }>('POST', `${fnBase(app, fn)}/rollback`, opts)).alias;
  }

  /** `GET /api/apps/:app/functions/:fn` → the function with its aliases and canaries. @throws FaasApiError `E_FUNCTION_NOT_FOUND`, … */
  async getFunction(app: string, fn: string): Promise<FunctionInfo> {
    return (await this.#api<{ function: FunctionInfo }>('GET', fnBase(app, fn))).function;
  }

  /**
   * `PUT /api/apps/:app/functions/:fn/aliases/:alias`: point `alias` at `versionId` (full id).
   * `canary` sets a split (`weight` percent 1–99 to `canary.versionId`), null clears it, undefined
   * keeps the current one (unless it is the new main version).
   * @throws FaasApiError `E_VERSION_NOT_FOUND`, `E_VALIDATION` (weight, same version twice), `E_FORBIDDEN`, …
   */
  async setAlias(app: string, fn: string, alias: string, versionId: string, canary?: CanarySplit | null): Promise<AliasState> {
    const body = canary === undefined ? { versionId } : { versionId, canary };
    return (await this.#api<{ alias: AliasState }>('PUT', `${fnBase(app, fn)}/aliases/${enc(alias)}`, body)).alias;
  }

  /** `GET /api/apps/:app/functions/:fn/config` → config values and secret names (never secret values). */
  async readConfig(app: string, fn: string): Promise<ConfigView> {
    return this.#api<ConfigView>('GET', `${fnBase(app, fn)}/config`);
  }

  /** `PUT /api/apps/:app/functions/:fn/config/:name`. @throws FaasApiError `E_VALIDATION` (name pattern, 32 KiB value limit), … */
  async setConfig(app: string, fn: string, name: string, value: string): Promise<void> {
    await this.#api<void>('PUT', `${fnBase(app, fn)}/config/${enc(name)}`, { value }, { empty: true });
  }

  /** `DELETE /api/apps/:app/functions/:fn/config/:name`. @throws FaasApiError `E_CONFIG_NOT_FOUND` */
  async unsetConfig(app: string, fn: string, name: string): Promise<void> {
    await this.#api<void>('DELETE', `${fnBase(app, fn)}/config/${enc(name)}`, undefined, { empty: true });
  }

  /** `GET /api/apps/:app/functions/:fn/secrets` → secret names and when each was set. */
  async listSecrets(app: string, fn: string): Promise<ConfigView['secrets']> {
    return (await this.#api<{ secrets: ConfigView['secrets'] }>('GET', `${fnBase(app, fn)}/secrets`)).secrets;
  }

  /** `PUT /api/apps/:app/functions/:fn/secrets/:name`: write-only; the value is never readable again. */
  async setSecret(app: string, fn: string, name: string, value: string): Promise<void> {
    await this.#api<void>('PUT', `${fnBase(app, fn)}/secrets/${enc(name)}`, { value }, { empty: true });
  }

  /** `DELETE /api/apps/:app/functions/:fn/secrets/:name`. @throws FaasApiError `E_CONFIG_NOT_FOUND` */
  async unsetSecret(app: string, fn: string, name: string): Promise<void> {
    await this.#api<void>('DELETE', `${fnBase(app, fn)}/secrets/${enc(name)}`, undefined, { empty: true });
  }

  /** `GET /api/whoami` → the calling key's actor (name, role, apps). @throws FaasApiError `E_UNAUTHORIZED` */
  async whoami(): Promise<Actor> {
    return (await this.#api<{ actor: Actor }>('GET', '/api/whoami')).actor;
  }

  /** `GET /api/keys` (admin) → every API key, without secrets. */
  async listKeys(): Promise<ApiKeyInfo[]> {
    return (await this.#api<{ keys: ApiKeyInfo[] }>('GET', '/api/keys')).keys;
  }

  /** `POST /api/keys` (admin) → the key and its secret, which the platform never shows again. */
  async createKey(input: CreateKeyInput): Promise<{ key: ApiKeyInfo; secret: string }> {
    return this.#api<{ key: ApiKeyInfo; secret: string }>('POST', '/api/keys', input);
  }

  /** `DELETE /api/keys/:id` (admin) → the revoked key. @throws FaasApiError `E_KEY_NOT_FOUND` */
  async revokeKey(id: string): Promise<ApiKeyInfo> {
    return (await this.#api<{ key: ApiKeyInfo }>('DELETE', `/api/keys/${enc(id)}`)).key;
  }

  /** `GET /api/audit` → audit records, newest first (non-admins: their apps only). */
  async listAudit(query: AuditQuery = {}): Promise<AuditRecord[]> {
    const params = new URLSearchParams();
    if (query.app !== undefined) params.set('app', query.app);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.before !== undefined) params.set('before', String(query.before));
    const qs = params.size > 0 ? `?${params}` : '';
    return (await this.#api<{ entries: AuditRecord[] }>('GET', `/api/audit${qs}`)).entries;
  }

  /** `GET /api/apps/:app/functions/:fn/logs` → captured `ctx.log` lines (each with its store `id`), oldest first. */
  async logs(app: string, fn: string, query: LogsQuery = {}): Promise<LogLine[]> {
    const params = new URLSearchParams();
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.sinceMs !== undefined) params.set('since', String(query.sinceMs));
    if (query.afterId !== undefined) params.set('after', String(query.afterId));
    if (query.requestId !== undefined) params.set('requestId', query.requestId);
    if (query.level !== undefined) params.set('level', query.level);
    const qs = params.size > 0 ? `?${params}` : '';
    return (await this.#api<{ lines: LogLine[] }>('GET', `${fnBase(app, fn)}/logs${qs}`)).lines;
  }

  /**
   * Invoke `app/fn` through the gateway (`/fn/:app/:fn/<path>`). Resolves with any HTTP status.
   * @throws FaasApiError `E_UNREACHABLE` only
   */
  async invoke(app: string, fn: string, options: InvokeOptions = {}): Promise<InvokeResult> {
    let path = options.path ?? '/';
    if (!path.startsWith('/')) path = `/${path}`;
    const headers: Record<string, string> = { ...options.headers };
    if (options.alias !== undefined) headers['x-faas-alias'] = options.alias;
    if (options.versionId !== undefined) headers['x-faas-version'] = options.versionId;
    let payload: string | undefined;
    if (options.body !== undefined) {
      if (typeof options.body === 'string') {
        payload = options.body;
        if (!hasHeader(headers, 'content-type')) headers['content-type'] = 'text/plain; charset=utf-8';
      } else {
        payload = JSON.stringify(options.body);
        if (!hasHeader(headers, 'content-type')) headers['content-type'] = 'application/json';
      }
    }
    const method = (options.method ?? (payload === undefined ? 'GET' : 'POST')).toUpperCase();
    const started = performance.now();
    const res = await this.#send(`${this.url}/fn/${enc(app)}/${enc(fn)}${path}`, { method, headers, body: payload });
    const text = await res.text();
    const responseHeaders: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      responseHeaders[name] = value;
    });
    return {
      status: res.status,
      statusText: res.statusText,
      headers: responseHeaders,
      requestId: res.headers.get('x-faas-request-id') ?? undefined,
      version: res.headers.get('x-faas-version') ?? undefined,
      text,
      json: isJson(res.headers.get('content-type')) ? tryParse(text) : undefined,
      durationMs: performance.now() - started,
    };
  }

  /** One `/api` call: JSON in, JSON out (or nothing when `empty` and the answer has no body), errors as FaasApiError. */
  async #api<T>(method: string, path: string, body?: unknown, options: { empty?: boolean } = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await this.#send(`${this.url}${path}`, { method, headers, body: payload });
    const text = await res.text();
    const parsed = tryParse(text);
    if (!res.ok) throw errorFromResponse(res.status, res.statusText, parsed, text);
    if (options.empty === true && text === '') return undefined as T;
    if (typeof parsed !== 'object' || parsed === null) {
      throw new FaasApiError('E_BAD_RESPONSE_BODY', res.status, `${method} ${path} answered ${res.status} with a body that is not a JSON object: ${text.slice(0, 200)}`);
    }
    return parsed as T;
  }

  async #send(url: string, init: { method: string; headers: Record<string, string>; body: string | undefined }): Promise<Response> {
    try {
      return await this.#fetch(url, init);
    } catch (error) {
      throw unreachable(this.url, error);
    }
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function fnBase(app: string, fn: string): string {
  return `/api/apps/${enc(app)}/functions/${enc(fn)}`;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

function isJson(contentType: string | null): boolean {
  return contentType !== null && /\bjson\b/i.test(contentType);
}

function tryParse(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** `{ error: { code, message, ...details } }` → FaasApiError; other bodies get `E_HTTP_<status>`. */
function errorFromResponse(status: number, statusText: string, parsed: unknown, text: string): FaasApiError {
  const error = typeof parsed === 'object' && parsed !== null ? (parsed as { error?: unknown }).error : undefined;
  if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') {
    const { code, message, ...details } = error as { code: string; message?: unknown } & Record<string, unknown>;
    return new FaasApiError(code, status, typeof message === 'string' ? message : code, details);
  }
  const snippet = text.trim().slice(0, 200);
  return new FaasApiError(`E_HTTP_${status}`, status, `${status} ${statusText}${snippet === '' ? '' : `: ${snippet}`}`);
}

/** Wrap a fetch failure; connection-level failures get the "is it running?" message. */
function unreachable(url: string, error: unknown): FaasApiError {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const causeCode = typeof cause?.code === 'string' ? cause.code : undefined;
  const reason = causeCode !== undefined && UNREACHABLE_CAUSES.has(causeCode)
    ? 'is it running? (npm start)'
    : causeCode ?? (typeof cause?.message === 'string' ? cause.message : error instanceof Error ? error.message : String(error));
  return new FaasApiError('E_UNREACHABLE', 0, `cannot reach the platform at ${url}: ${reason}`, causeCode === undefined ? {} : { cause: causeCode });
}
