/**
 * Host side of `ctx.auth` (player identity). The isolate turns `await ctx.auth.issue(userId,
 * { ttlS, claims })` into one host call `execute(call, 'issue', [userId, opts])`, and
 * `await ctx.auth.verify(token)` into `execute(call, 'verify', [token])`. The gateway calls
 * `verifyRequest(app, req.headers.authorization, mode)` before any isolate runs and hands the
 * result to the function as `ctx.user`.
 *
 * Tokens are HS256 JWTs signed with the app's newest non-retired key (see `token.ts` for the format
 * and `keys.ts` for keys and their cache). The app always comes from the platform (`call.app`, the
 * URL's app), never from function code.
 */
import type { AuthMode, SigningKey } from '../../control-plane/core/types.ts';
import type { BuiltinCall } from '../../runtime/sandbox/interface.ts';
import { builtinError } from '../errors.ts';
import { checkIssueArguments, checkVerifyArguments, MAX_TOKEN_LENGTH, MIN_TTL_S } from './arguments.ts';
import { createKeyCache, isRetired, signingKey, type KeyRing } from './keys.ts';
import { audienceOf, invalidToken, signToken, verifyToken, type AuthUser } from './token.ts';

export { generateSigningKey } from './keys.ts';
export type { AuthUser, InvalidReason } from './token.ts';
export type { Claims, JsonValue } from './arguments.ts';

/** Options of `createAuthHost`; everything but `keysFor` has a default. */
export interface AuthHostOptions {
  /**
   * An app's signing keys, newest first, retired ones included (`RuntimeControlPlane.getSigningKeys`,
   * which creates the first key of an app that has none). Called once per app, then cached.
   */
  keysFor: (app: string) => Promise<SigningKey[]>;
  /** The `iss` claim of every token; verification requires it. 1..256 printable characters. @default 'faas' */
  issuer?: string;
  /** Longest lifetime `issue` grants, in seconds; also the oldest `iat` verification accepts. @default 2592000 (30 days) */
  maxTtlS?: number;
  /** Lifetime when `issue` is given no `ttlS`, in seconds, within [60, maxTtlS]. @default 86400 (1 day), or `maxTtlS` when smaller */
  defaultTtlS?: number;
  /** Clock skew allowed when checking `exp`, `nbf` and `iat`, in seconds (0..300). @default 30 */
  clockToleranceS?: number;
  /** How long an app's loaded keys are used before a background refresh, in ms (a `keys` change event clears them at once). @default 60000 */
  keyCacheTtlMs?: number;
  /** Longest one `keysFor` call may take, in ms. @default 2000 */
  keysTimeoutMs?: number;
  /** Apps whose keys are kept in memory; the least recently used is dropped beyond it. @default 10000 */
  maxCachedApps?: number;
  /** The clock, epoch ms (tests move it to expire tokens). @default Date.now */
  now?: () => number;
}

/** `AuthHostOptions` after validation and defaults; frozen. */
export interface ResolvedAuthHostOptions {
  readonly issuer: string;
  readonly maxTtlS: number;
  readonly defaultTtlS: number;
  readonly clockToleranceS: number;
  readonly keyCacheTtlMs: number;
  readonly keysTimeoutMs: number;
  readonly maxCachedApps: number;
}

/** What `ctx.auth.issue` resolves with. */
export interface IssuedToken {
  /** The compact JWT, to send as `Authorization: Bearer <token>`. */
  token: string;
  /** When the token expires (its `exp`), ISO 8601 UTC with milliseconds, e.g. `2030-01-02T03:04:05.000Z`. */
  expiresAt: string;
}

/** The `ctx.auth` builtin as bound by the runtime; one per process (the app is per call). */
export interface AuthHost {
  /**
   * Run one `ctx.auth` operation for `call.app`.
   * - `issue`, args `[userId, { ttlS?, claims? }?]` → `IssuedToken`
   * - `verify`, args `[token]` → `AuthUser` (`{ id, claims }`)
   * @throws PlatformError E_AUTH_BAD_ARGUMENTS (unknown op, bad userId / ttlS / claims / token
   *   type), E_AUTH_INVALID (verify: the token is refused; `details.reason` says why),
   *   E_AUTH_UNAVAILABLE (keys could not be loaded, the app has no active key, or the invocation
   *   ended while waiting), E_INTERNAL (bad key material from the control plane)
   */
  execute(call: BuiltinCall, op: string, args: readonly unknown[]): Promise<IssuedToken | AuthUser>;
  /**
   * Check a request's `Authorization` header before the function runs.
   * - absent or empty: `{ user: null }`, or E_AUTH_REQUIRED when `mode` is `required`;
   * - another scheme (e.g. `Basic …`, left for the function to read): the same as absent;
   * - `Bearer <token>`: the token is verified for `app` → `{ user }`, or E_AUTH_INVALID, even when
   *   `mode` is `none` (a bad token is never silently ignored).
   * @param app the app in the URL
   * @param authorization the header value as received (`req.headers.authorization`)
   * @param mode the function version's `auth` mode @default 'none'
   * @throws PlatformError E_AUTH_REQUIRED (401), E_AUTH_INVALID (401, `details.reason`),
   *   E_AUTH_UNAVAILABLE (503), E_INTERNAL
   */
  verifyRequest(app: string, authorization: string | undefined, mode?: AuthMode): Promise<{ user: AuthUser | null }>;
  /** Drop the cached keys of `app` (on the control plane's `{ kind: 'keys', app }` event), or of every app (e.g. after reconnecting to the control plane). */
  invalidate(app?: string): void;
  /** The options in force. */
  readonly options: ResolvedAuthHostOptions;
}

const DAY_S = 86_400;

function integerOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(`createAuthHost: ${name} must be an integer between ${min} and ${max}, got ${String(value)}`);
  }
  return value;
}

function resolveOptions(opts: AuthHostOptions): ResolvedAuthHostOptions {
  if (typeof opts?.keysFor !== 'function') throw new TypeError('createAuthHost: keysFor must be a function (app) => Promise<SigningKey[]>');
  if (opts.now !== undefined && typeof opts.now !== 'function') throw new TypeError('createAuthHost: now must be a function returning epoch ms');
  const issuer = opts.issuer ?? 'faas';
  if (typeof issuer !== 'string' || issuer.length === 0 || issuer.length > 256 || /[\u0000-\u001f\u007f]/.test(issuer)) {
    throw new TypeError(`createAuthHost: issuer must be 1..256 printable characters, got ${JSON.stringify(issuer)}`);
  }
  const maxTtlS = integerOption('maxTtlS', opts.maxTtlS, 30 * DAY_S, MIN_TTL_S, 366 * DAY_S);
  const defaultTtlS = integerOption('defaultTtlS', opts.defaultTtlS, Math.min(DAY_S, maxTtlS), MIN_TTL_S, maxTtlS);
  return Object.freeze({
    issuer,
    maxTtlS,
    defaultTtlS,
    clockToleranceS: integerOption('clockToleranceS', opts.clockToleranceS, 30, 0, 300),
    keyCacheTtlMs: integerOption('keyCacheTtlMs', opts.keyCacheTtlMs, 60_000, 0, 24 * 3_600_000),
    keysTimeoutMs: integerOption('keysTimeoutMs', opts.keysTimeoutMs, 2000, 1, 60_000),
    maxCachedApps: integerOption('maxCachedApps', opts.maxCachedApps, 10_000, 1, 10_000_000),
  });
}

/** RFC 6750 §2.1 `b64token`, the credentials of a Bearer Authorization header. */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * The token of a Bearer Authorization header; null when there is no header or it uses another
 * scheme (`scheme` is then that scheme, for the E_AUTH_REQUIRED message).
 */
function bearerToken(authorization: unknown): { token: string | null; scheme: string | null } {
  if (authorization === undefined || authorization === null || authorization === '') return { token: null, scheme: null };
  if (typeof authorization !== 'string') return invalidToken('header', 'the Authorization header must be one `Bearer <token>` value');
  const trimmed = authorization.trim();
  if (trimmed === '') return { token: null, scheme: null };
  const scheme = trimmed.split(/[ \t]/, 1)[0];
  if (scheme.toLowerCase() !== 'bearer') return { token: null, scheme: scheme.slice(0, 20) };
  if (trimmed.length > MAX_TOKEN_LENGTH + 7) return invalidToken('malformed', `it is ${trimmed.length - 7} characters; tokens issued by ctx.auth are at most ${MAX_TOKEN_LENGTH}`);
  const match = BEARER.exec(trimmed);
  if (match === null) return invalidToken('header', 'the Authorization header must be `Bearer <token>`: one space-separated token of letters, digits and - . _ ~ + /');
  return { token: match[1], scheme: 'Bearer' };
}

/** Reject when `signal` aborts first (the invocation ended); the shared key load itself goes on. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  const ended = () => builtinError('E_AUTH_UNAVAILABLE', 'the invocation ended while ctx.auth was loading the app\'s signing keys');
  if (signal.aborted) return Promise.reject(ended());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(ended());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Create the `ctx.auth` host side.
 * @param opts key source and limits (validated once, frozen; units and defaults on `AuthHostOptions`)
 * @throws TypeError for a missing `keysFor` or an option out of range
 * @example
 *   const auth = createAuthHost({ keysFor: (app) => controlPlane.getSigningKeys(app) });
 *   controlPlane.onChange((e) => { if (e.kind === 'keys') auth.invalidate(e.app); });
 *   const { user } = await auth.verifyRequest('game1', req.headers.authorization, target.auth);
 */
export function createAuthHost(opts: AuthHostOptions): AuthHost {
  const options = resolveOptions(opts);
  const now = opts.now ?? Date.now;
  const cache = createKeyCache({
    keysFor: opts.keysFor,
    ttlMs: options.keyCacheTtlMs,
    timeoutMs: options.keysTimeoutMs,
    maxApps: options.maxCachedApps,
    minReloadIntervalMs: 1000,
    now,
  });

  const verify = async (app: string, token: string, signal?: AbortSignal): Promise<AuthUser> => {
    if (token.length === 0) invalidToken('malformed', 'the token is empty');
    if (token.length > MAX_TOKEN_LENGTH) invalidToken('malformed', `it is ${token.length} characters; tokens issued by ctx.auth are at most ${MAX_TOKEN_LENGTH}`);
    let ring: KeyRing = await unlessAborted(cache.get(app), signal);
    const nowMs = now();
    return verifyToken(token, {
      app,
      issuer: options.issuer,
      clockToleranceS: options.clockToleranceS,
      maxAgeS: options.maxTtlS,
      nowMs,
      keyFor: async (kid) => {
        let key = ring.byKid.get(kid);
        if (key === undefined) {
          ring = await unlessAborted(cache.reload(app, ring), signal);
          key = ring.byKid.get(kid);
        }
        if (key === undefined) {
          return invalidToken('unknown_key', `it was signed with a key this app does not have (kid ${JSON.stringify(kid.slice(0, 40))}): it was issued for another app or platform, or its key was removed; sign in again`);
        }
        if (isRetired(key, nowMs)) return invalidToken('retired_key', `it was signed with a retired key (kid ${JSON.stringify(kid)}); sign in again`);
        return key.key;
      },
    });
  };

  const issue = async (call: BuiltinCall, args: readonly unknown[]): Promise<IssuedToken> => {
    const { userId, ttlS, claims } = checkIssueArguments(args, options.defaultTtlS, options.maxTtlS);
    const ring = await unlessAborted(cache.get(call.app), call.signal);
    const nowMs = now();
    const key = signingKey(ring, nowMs);
    if (key === null) {
      throw builtinError('E_AUTH_UNAVAILABLE', `app ${call.app} has no active signing key (all are retired); an operator must rotate its keys before tokens can be issued`, { app: call.app });
    }
    const issuedAtS = Math.floor(nowMs / 1000);
    const token = await signToken({ key: key.key, kid: key.kid, issuer: options.issuer, app: call.app, userId, claims, issuedAtS, ttlS });
    return { token, expiresAt: new Date((issuedAtS + ttlS) * 1000).toISOString() };
  };

  return Object.freeze({
    options,
    async execute(call: BuiltinCall, op: string, args: readonly unknown[]): Promise<IssuedToken | AuthUser> {
      if (!Array.isArray(args)) throw builtinError('E_AUTH_BAD_ARGUMENTS', `ctx.auth.${String(op)}: arguments must be an array`);
      if (op === 'issue') return issue(call, args);
      if (op === 'verify') return verify(call.app, checkVerifyArguments(args), call.signal);
      throw builtinError('E_AUTH_BAD_ARGUMENTS', `ctx.auth has no operation ${JSON.stringify(String(op).slice(0, 40))}; the operations are issue(userId, { ttlS?, claims? }) and verify(token)`, { op: String(op).slice(0, 40) });
    },
    async verifyRequest(app: string, authorization: string | undefined, mode: AuthMode = 'none'): Promise<{ user: AuthUser | null }> {
      const { token, scheme } = bearerToken(authorization);
      if (token === null) {
        if (mode !== 'required') return { user: null };
        const got = scheme === null ? 'no Authorization header was sent' : `the Authorization header uses the ${JSON.stringify(scheme)} scheme`;
        throw builtinError('E_AUTH_REQUIRED', `This function requires a signed-in player and ${got}: send \`Authorization: Bearer <token>\` with a token from ctx.auth.issue`);
      }
      return { user: await verify(app, token) };
    },
    invalidate(app?: string): void {
      cache.invalidate(app);
    },
  });
}

/**
 * The `WWW-Authenticate` header for a 401 from `verifyRequest` (RFC 6750 §3): `Bearer realm="<app>"`
 * for E_AUTH_REQUIRED, plus `error="invalid_token"` and the message for E_AUTH_INVALID; null for
 * other codes.
 * @param app the app in the URL (the realm)
 * @param error the error `verifyRequest` threw (anything with `code` and `message`)
 */
export function bearerChallenge(app: string, error: { code?: unknown; message?: unknown }): string | null {
  const quote = (text: string) => `"${text.replace(/[^\x20-\x7e]|["\\]/g, '').slice(0, 200)}"`;
  const realm = `Bearer realm=${quote(audienceOf(app))}`;
  if (error.code === 'E_AUTH_REQUIRED') return realm;
  if (error.code === 'E_AUTH_INVALID') {
    const why = typeof error.message === 'string' ? error.message : 'invalid token';
    return `${realm}, error="invalid_token", error_description=${quote(why)}`;
  }
  return null;
}
