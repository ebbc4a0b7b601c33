/**
 * The console's typed client for the platform's HTTP API: the control plane under `/api` and
 * function invocation under `/fn`. Fetch only, so it runs in the browser and under Node's test
 * runner alike.
 *
 * Self-contained on purpose: `cli/client.ts` covers part of the same API for the CLI, but it
 * imports server-side types and belongs to the CLI; the two could merge into one shared module
 * once the API is complete.
 *
 * Every failure is an `ApiError` with a stable `code`: the server's own (`{ error: { code,
 * message, …details } }`), `E_UNREACHABLE` when no HTTP answer came, `E_TIMEOUT` when none came
 * in time, `E_BAD_RESPONSE_BODY` when an `/api` answer is not the JSON object the route promises,
 * `E_HTTP_<status>` for an error answer without the platform's error body.
 */
import { parseServerTiming } from './server-timing.ts';
import type {
  Actor, AliasMove, ApiKeyInfo, AppInfo, AppSettings, AuditEntry, CanarySplit, CheckReport, DeployInput, DeployResult,
  FunctionConfigView, FunctionInfo, FunctionStats, LogLine, Role, VersionInfo, VersionWithCode,
} from './types.ts';

/** An API failure with the server's code (or a client-side one, see the file comment). */
export class ApiError extends Error {
  /** Stable code, e.g. `E_FUNCTION_NOT_FOUND`, `E_SYNTAX`, `E_UNREACHABLE`. */
  readonly code: string;
  /** HTTP status; 0 when no HTTP answer arrived. */
  readonly status: number;
  /** The error body's other fields (`line`, `column`, `frame`, `hint`, `diagnostics`, …). */
  readonly details: Readonly<Record<string, unknown>>;

  /**
   * @param code stable error code
   * @param status HTTP status, 0 without an answer
   * @param message readable message (the server's when it sent one)
   * @param details other fields of the error body
   */
  constructor(code: string, status: number, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.details = Object.freeze({ ...details });
  }
}

/** True for an `ApiError` (matched on shape, not `instanceof`, so copies from other bundles count). */
export function isApiError(value: unknown): value is ApiError {
  return typeof value === 'object' && value !== null && (value as { name?: unknown }).name === 'ApiError'
    && typeof (value as { code?: unknown }).code === 'string' && typeof (value as { status?: unknown }).status === 'number';
}

/** True when the server has no such route yet (404 `E_ROUTE_NOT_FOUND`): the feature is missing, not the data. */
export function isRouteMissing(error: unknown): boolean {
  return isApiError(error) && error.status === 404 && error.code === 'E_ROUTE_NOT_FOUND';
}

/** Options of `AdminApi`. */
export interface AdminApiOptions {
  /** API key, sent as `Authorization: Bearer <key>` on `/api` calls (never on `/fn`). */
  apiKey: string;
  /** Origin of the platform, e.g. `http://127.0.0.1:8080`. @default '' (same origin, for the browser) */
  baseUrl?: string;
  /** The fetch implementation. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Time limit of one `/api` call in ms. @default 30000 */
  timeoutMs?: number;
}

/** What to invoke: an alias (default `prod`) or a pinned version id. */
export type InvokeTarget = { alias: string } | { version: string };

/** A request for `invoke`. */
export interface InvokeRequest {
  /** HTTP method. @default 'GET' */
  method?: string;
  /** Path after `/fn/<app>/<fn>`, e.g. `/rooms/42`. @default '/' */
  path?: string;
  /** Query parameters (added after any query already in `path`). */
  query?: Array<[string, string]>;
  /** Request headers. `x-faas-alias` / `x-faas-version` are set from `target`. */
  headers?: Array<[string, string]>;
  /** Body text, sent as is (set `content-type` in `headers`). */
  body?: string;
  target?: InvokeTarget;
  /** Abandon the request (e.g. the user left the page). */
  signal?: AbortSignal;
}

/** The answer of an invocation; any HTTP status resolves (only transport failures throw). */
export interface InvokeResult {
  status: number;
  statusText: string;
  /** Response headers, names lower-case, in the order received. */
  headers: Array<[string, string]>;
  /** `x-faas-request-id`: the key to the invocation's log lines. */
  requestId: string | null;
  /** `x-faas-version`: the version that ran. */
  versionId: string | null;
  coldStart: boolean;
  /** How long the cold start took (`server-timing: cold;dur=<ms>`), null when there was none. */
  coldStartMs: number | null;
  /** Round trip measured by the browser, in ms. */
  durationMs: number;
  /** CPU time reported by the gateway (`server-timing: cpu;dur=<ms>`), null when absent. */
  cpuMs: number | null;
  text: string;
  /** Parsed body when the answer is JSON, else undefined. */
  json: unknown;
}

/** Answer of `appStats`. */
export interface AppStats {
  functions: Record<string, FunctionStats>;
  /** Window the numbers cover, in seconds. */
  windowS: number;
  /** Where the numbers come from; `none` when the serving process runs no gateway. */
  source: string;
}

/** Query of `logs`. */
export interface LogsQuery {
  /** Keep the newest N lines (1–100000). */
  limit?: number;
  /** Only lines at or after this time, epoch ms. */
  since?: number;
  /** Only lines of one invocation. */
  requestId?: string;
}

/** Body of `setAlias`: move the alias and optionally split traffic to a canary (`null` clears it). */
export interface AliasUpdate {
  versionId: string;
  canary?: CanarySplit | null;
}

/** Body of `createKey`. */
export interface NewKeyInput {
  name: string;
  role: Role;
  /** App names, or '*' for every app; omitted for admin keys. */
  apps?: string[] | '*';
}

/** Query of `audit`. */
export interface AuditQuery {
  app?: string;
  limit?: number;
  /** Entries older than this id (paging). */
  before?: string | number;
}

const enc = encodeURIComponent;
const fnPath = (app: string, fn: string): string => `/api/apps/${enc(app)}/functions/${enc(fn)}`;

/** A client bound to one API key. Stateless apart from its options; safe to share. */
export class AdminApi {
  readonly #key: string;
  readonly #base: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  /** @throws TypeError when `apiKey` is empty */
  constructor(options: AdminApiOptions) {
    if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') throw new TypeError('AdminApi: apiKey must be a non-empty string');
    this.#key = options.apiKey.trim();
    this.#base = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** `GET /api/whoami` (new) → the key's actor. */
  async whoami(): Promise<Actor> {
    return (await this.#api<{ actor: Actor }>('GET', '/api/whoami')).actor;
  }

  /** `GET /api/apps` → apps the key may see. */
  async listApps(): Promise<AppInfo[]> {
    return (await this.#api<{ apps: AppInfo[] }>('GET', '/api/apps')).apps;
  }

  /** `POST /api/apps` (admin) → the new app. @throws ApiError 409 `E_APP_EXISTS` */
  async createApp(name: string): Promise<AppInfo> {
    return (await this.#api<{ app: AppInfo }>('POST', '/api/apps', { name })).app;
  }

  async listFunctions(app: string): Promise<FunctionInfo[]> {
    return (await this.#api<{ functions: FunctionInfo[] }>('GET', `/api/apps/${enc(app)}/functions`)).functions;
  }

  async getFunction(app: string, fn: string): Promise<FunctionInfo> {
    return (await this.#api<{ function: FunctionInfo }>('GET', fnPath(app, fn))).function;
  }

  /**
   * `GET /api/apps/:app/stats` (new) → per-function numbers over `windowS` seconds (3600). A function
   * without invocations may be absent. `source: 'none'` means this process has no gateway to count.
   */
  async appStats(app: string): Promise<AppStats> {
    const body = await this.#api<Partial<AppStats>>('GET', `/api/apps/${enc(app)}/stats`);
    return { functions: body.functions ?? {}, windowS: body.windowS ?? 3600, source: body.source ?? 'gateway' };
  }

  /** `POST /api/check` → the deploy checks' findings (resolves even when not ok). */
  async check(code: string, signal?: AbortSignal): Promise<CheckReport> {
    return this.#api<CheckReport>('POST', '/api/check', { code }, signal);
  }

  /**
   * `POST …/deploy`: check, store a version, move the alias (default prod).
   * @throws ApiError `E_SYNTAX` (details: line, column, frame, hint), `E_CHECK` (details: diagnostics), `E_CODE_TOO_LARGE`, …
   */
  async deploy(app: string, fn: string, input: DeployInput): Promise<DeployResult> {
    return this.#api<DeployResult>('POST', `${fnPath(app, fn)}/deploy`, input, undefined, 120_000);
  }

  /** Versions, newest first, without code. */
  async listVersions(app: string, fn: string): Promise<VersionInfo[]> {
    return (await this.#api<{ versions: VersionInfo[] }>('GET', `${fnPath(app, fn)}/versions`)).versions;
  }

  /** `GET …/versions/:id` (new) → one version with its code. */
  async getVersion(app: string, fn: string, versionId: string): Promise<VersionWithCode> {
    return (await this.#api<{ version: VersionWithCode }>('GET', `${fnPath(app, fn)}/versions/${enc(versionId)}`)).version;
  }

  /** `PUT …/aliases/:alias`: point the alias at a version, with an optional canary split. */
  async setAlias(app: string, fn: string, alias: string, update: AliasUpdate): Promise<AliasMove> {
    return (await this.#api<{ alias: AliasMove }>('PUT', `${fnPath(app, fn)}/aliases/${enc(alias)}`, update)).alias;
  }

  /** `POST …/rollback`: move `alias` (default prod) to its previous version, or to `to`. Clears a canary. */
  async rollback(app: string, fn: string, opts: { alias?: string; to?: string } = {}): Promise<AliasMove> {
    return (await this.#api<{ alias: AliasMove }>('POST', `${fnPath(app, fn)}/rollback`, opts)).alias;
  }

  /** Captured `ctx.log` lines, oldest first. */
  async logs(app: string, fn: string, query: LogsQuery = {}, signal?: AbortSignal): Promise<LogLine[]> {
    const params = new URLSearchParams();
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.since !== undefined) params.set('since', String(Math.max(0, Math.floor(query.since))));
    if (query.requestId !== undefined && query.requestId !== '') params.set('requestId', query.requestId);
    const qs = params.size > 0 ? `?${params}` : '';
    return (await this.#api<{ lines: LogLine[] }>('GET', `${fnPath(app, fn)}/logs${qs}`, undefined, signal)).lines;
  }

  /** `GET …/config` (new): values and secret names (never secret values). */
  async getConfig(app: string, fn: string): Promise<FunctionConfigView> {
    return this.#api<FunctionConfigView>('GET', `${fnPath(app, fn)}/config`);
  }

  async setConfigValue(app: string, fn: string, name: string, value: string): Promise<void> {
    await this.#api('PUT', `${fnPath(app, fn)}/config/${enc(name)}`, { value });
  }

  async deleteConfigValue(app: string, fn: string, name: string): Promise<void> {
    await this.#api('DELETE', `${fnPath(app, fn)}/config/${enc(name)}`);
  }

  /** Set a secret; its value can never be read back through the API. */
  async setSecret(app: string, fn: string, name: string, value: string): Promise<void> {
    await this.#api('PUT', `${fnPath(app, fn)}/secrets/${enc(name)}`, { value });
  }

  async deleteSecret(app: string, fn: string, name: string): Promise<void> {
    await this.#api('DELETE', `${fnPath(app, fn)}/secrets/${enc(name)}`);
  }

  async getSettings(app: string): Promise<AppSettings> {
    return (await this.#api<{ settings: AppSettings }>('GET', `/api/apps/${enc(app)}/settings`)).settings;
  }

  async putSettings(app: string, settings: Partial<AppSettings>): Promise<AppSettings | null> {
    const body = await this.#api<{ settings?: AppSettings }>('PUT', `/api/apps/${enc(app)}/settings`, settings);
    return body.settings ?? null;
  }

  /** Rotate the app's player-token signing key → the new key id. */
  async rotateAuthKey(app: string): Promise<string> {
    return (await this.#api<{ kid: string }>('POST', `/api/apps/${enc(app)}/auth/rotate`, {})).kid;
  }

  /** `GET /api/keys` (admin). */
  async listKeys(): Promise<ApiKeyInfo[]> {
    return (await this.#api<{ keys: ApiKeyInfo[] }>('GET', '/api/keys')).keys;
  }

  /** `POST /api/keys` (admin) → the key and its secret, which is shown this once. */
  async createKey(input: NewKeyInput): Promise<{ key: ApiKeyInfo; secret: string }> {
    return this.#api<{ key: ApiKeyInfo; secret: string }>('POST', '/api/keys', input);
  }

  /** `DELETE /api/keys/:id` (admin) → the revoked key. */
  async revokeKey(id: string): Promise<ApiKeyInfo> {
    return (await this.#api<{ key: ApiKeyInfo }>('DELETE', `/api/keys/${enc(id)}`)).key;
  }

  /** `GET /api/audit`, newest first. */
  async audit(query: AuditQuery = {}): Promise<AuditEntry[]> {
    const params = new URLSearchParams();
    if (query.app !== undefined && query.app !== '') params.set('app', query.app);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.before !== undefined) params.set('before', String(query.before));
    const qs = params.size > 0 ? `?${params}` : '';
    return (await this.#api<{ entries: AuditEntry[] }>('GET', `/api/audit${qs}`)).entries;
  }

  /**
   * Invoke `app/fn` through the gateway. The API key is NOT sent: function code sees every
   * request header, and a key must never reach user code.
   * @throws ApiError `E_UNREACHABLE` (no answer) or `E_BAD_REQUEST` (a header the browser refuses)
   */
  async invoke(app: string, fn: string, request: InvokeRequest = {}): Promise<InvokeResult> {
    let path = request.path ?? '/';
    if (!path.startsWith('/')) path = `/${path}`;
    let url = `${this.#base}/fn/${enc(app)}/${enc(fn)}${path}`;
    const query = (request.query ?? []).filter(([name]) => name !== '');
    if (query.length > 0) url += (url.includes('?') ? '&' : '?') + new URLSearchParams(query).toString();
    const headers = new Headers();
    for (const [name, value] of request.headers ?? []) {
      if (name.trim() === '') continue;
      try {
        headers.append(name.trim(), value);
      } catch (error) {
        throw new ApiError('E_BAD_REQUEST', 0, `header ${JSON.stringify(name)} cannot be sent: ${messageOf(error)}`);
      }
    }
    const target = request.target;
    if (target !== undefined && 'version' in target) headers.set('x-faas-version', target.version);
    else if (target !== undefined) headers.set('x-faas-alias', target.alias);
    const method = (request.method ?? 'GET').toUpperCase();
    const body = method === 'GET' || method === 'HEAD' ? undefined : request.body;
    const started = performance.now();
    const res = await this.#send(url, { method, headers, body, signal: request.signal }, method, path);
    const text = await res.text();
    const durationMs = performance.now() - started;
    const list: Array<[string, string]> = [];
    res.headers.forEach((value, name) => { list.push([name, value]); });
    const contentType = res.headers.get('content-type');
    const timing = parseServerTiming(res.headers.get('server-timing'));
    return {
      status: res.status,
      statusText: res.statusText,
      headers: list,
      requestId: res.headers.get('x-faas-request-id'),
      versionId: res.headers.get('x-faas-version'),
      coldStart: res.headers.get('x-faas-cold-start') === '1',
      durationMs,
      cpuMs: timing.get('cpu') ?? null,
      coldStartMs: timing.get('cold') ?? null,
      text,
      json: contentType !== null && /\bjson\b/i.test(contentType) ? tryParse(text) : undefined,
    };
  }

  /** One `/api` call: JSON in, JSON object out, failures as ApiError. */
  async #api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal, timeoutMs = this.#timeoutMs): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${this.#key}` };
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    const res = await this.#send(`${this.#base}${path}`, { method, headers, body: payload, signal: combined }, method, path, timeout);
    let text: string;
    try {
      text = await res.text();
    } catch (error) {
      throw transportError(error, method, path, timeout);
    }
    const parsed = tryParse(text);
    if (!res.ok) throw errorFromResponse(res.status, res.statusText, parsed, text, method, path);
    if (res.status === 204 || text === '') return {} as T;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ApiError('E_BAD_RESPONSE_BODY', res.status, `${method} ${path} answered ${res.status} with something that is not a JSON object: ${snippet(text)}`);
    }
    return parsed as T;
  }

  async #send(url: string, init: RequestInit, method: string, path: string, timeout?: AbortSignal): Promise<Response> {
    try {
      return await this.#fetch(url, init);
    } catch (error) {
      throw transportError(error, method, path, timeout);
    }
  }
}

/** `{ error: { code, message, …details } }` → ApiError; another body → `E_HTTP_<status>` with a snippet. */
export function errorFromResponse(status: number, statusText: string, parsed: unknown, text: string, method: string, path: string): ApiError {
  const error = typeof parsed === 'object' && parsed !== null ? (parsed as { error?: unknown }).error : undefined;
  if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') {
    const { code, message, ...details } = error as { code: string; message?: unknown } & Record<string, unknown>;
    return new ApiError(code, status, typeof message === 'string' && message !== '' ? message : code, details);
  }
  const tail = snippet(text);
  return new ApiError(`E_HTTP_${status}`, status, `${method} ${path} answered ${status} ${statusText}${tail === '' ? '' : `: ${tail}`}`);
}

function transportError(error: unknown, method: string, path: string, timeout?: AbortSignal): ApiError {
  if (timeout?.aborted === true) return new ApiError('E_TIMEOUT', 0, `${method} ${path} got no answer in time; the platform may be overloaded — try again`);
  if (error instanceof DOMException && error.name === 'AbortError') return new ApiError('E_ABORTED', 0, `${method} ${path} was cancelled`);
  return new ApiError('E_UNREACHABLE', 0, `cannot reach the platform (${method} ${path}): ${messageOf(error)} — is it running?`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function snippet(text: string): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

function tryParse(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
