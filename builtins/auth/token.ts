/**
 * The token format of `ctx.auth`, on jose: HS256 JWTs (RFC 7519) in compact JWS form (RFC 7515),
 * header `{ alg: 'HS256', typ: 'JWT', kid }`, claims `iss`, `sub`, `aud`, `iat`, `exp`, `jti` plus
 * the function's custom claims. Verification maps each jose failure to `E_AUTH_INVALID` with a
 * `reason` and a message that says which check failed, never anything about the keys.
 */
import { randomUUID, type webcrypto } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { isPlatformError } from '../../runtime/errors.ts';
import { builtinError } from '../errors.ts';
import { RESERVED_CLAIMS, type Claims, type JsonValue } from './arguments.ts';

/** The only algorithm signed and accepted (an explicit list: `alg: none`, HS512, RS256 … are refused). */
export const ALGORITHM = 'HS256';

/**
 * Why a token was refused (`details.reason` of `E_AUTH_INVALID`):
 * `header` (Authorization is not `Bearer <token>`), `malformed`, `algorithm`, `unknown_key`,
 * `retired_key`, `signature`, `expired`, `not_yet_valid`, `too_old` (issued longer ago than the
 * longest lifetime), `audience` (another app's token), `issuer`.
 */
export type InvalidReason = 'header' | 'malformed' | 'algorithm' | 'unknown_key' | 'retired_key' | 'signature' | 'expired' | 'not_yet_valid' | 'too_old' | 'audience' | 'issuer';

/** The signed-in player as a function sees it: `ctx.user`. */
export interface AuthUser {
  /** The `sub` claim: the `userId` given to `issue`. */
  id: string;
  /** Only the custom claims given to `issue` (never `iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`). */
  claims: Claims;
}

/** `aud` of an app's tokens: `faas:app:<app>`, so one app's token is refused by every other app. */
export function audienceOf(app: string): string {
  return `faas:app:${app}`;
}

/** An `E_AUTH_INVALID` error: `Invalid token: <why>`, with `details.reason`. */
export function invalidToken(reason: InvalidReason, why: string): never {
  throw builtinError('E_AUTH_INVALID', `Invalid token: ${why}`, { reason });
}

/** A value taken from an unverified token, quoted and cut for a message. */
function quoted(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** What `signToken` needs; times in whole seconds since the epoch. */
export interface SignInput {
  key: webcrypto.CryptoKey;
  kid: string;
  issuer: string;
  app: string;
  userId: string;
  claims: Claims;
  issuedAtS: number;
  ttlS: number;
}

/**
 * Sign a token (arguments already checked).
 * @returns the compact JWT text `header.payload.signature`
 */
export async function signToken(input: SignInput): Promise<string> {
  return new SignJWT(input.claims)
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT', kid: input.kid })
    .setIssuer(input.issuer)
    .setSubject(input.userId)
    .setAudience(audienceOf(input.app))
    .setIssuedAt(input.issuedAtS)
    .setExpirationTime(input.issuedAtS + input.ttlS)
    .setJti(randomUUID())
    .sign(input.key);
}

/** What `verifyToken` checks against. */
export interface VerifyInput {
  app: string;
  issuer: string;
  /** Seconds of clock skew allowed on `exp`, `nbf` and `iat`. */
  clockToleranceS: number;
  /** Tokens whose `iat` is older than this many seconds are refused (the longest lifetime `issue` grants). */
  maxAgeS: number;
  nowMs: number;
  /**
   * The verification key for a kid from the (unverified) header.
   * @throws PlatformError E_AUTH_INVALID (`unknown_key`, `retired_key`) or E_AUTH_UNAVAILABLE
   */
  keyFor: (kid: string) => Promise<webcrypto.CryptoKey>;
}

/**
 * Verify a token of `input.app`: HS256 only, known non-retired kid, signature, `iss`, `aud`,
 * `exp`/`nbf`/`iat` within `clockToleranceS`, `sub` a non-empty string.
 * @returns the user: `sub` as `id`, the custom claims
 * @throws PlatformError E_AUTH_INVALID (details `reason`, see `InvalidReason`), E_AUTH_UNAVAILABLE
 *   (keys could not be loaded)
 */
export async function verifyToken(token: string, input: VerifyInput): Promise<AuthUser> {
  const audience = audienceOf(input.app);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, async (header) => {
      if (typeof header.kid !== 'string' || header.kid.length === 0) invalidToken('malformed', 'the header has no "kid" (key id); tokens issued by ctx.auth.issue always have one');
      return input.keyFor(header.kid);
    }, {
      algorithms: [ALGORITHM],
      typ: 'JWT',
      issuer: input.issuer,
      audience,
      requiredClaims: ['sub', 'exp', 'iat'],
      clockTolerance: input.clockToleranceS,
      maxTokenAge: input.maxAgeS,
      currentDate: new Date(input.nowMs),
    }));
  } catch (err) {
    if (isPlatformError(err)) {
      if (err.code === 'E_AUTH_INVALID' && err.details.reason === 'unknown_key') refineUnknownKey(token, audience, input.app);
      throw err;
    }
    return mapJoseError(err, token, input);
  }
  const { sub } = payload;
  if (typeof sub !== 'string' || sub.length === 0) invalidToken('malformed', 'the "sub" claim (user id) must be a non-empty string');
  const claims: Claims = {};
  for (const [name, value] of Object.entries(payload)) {
    if (RESERVED_CLAIMS.includes(name)) continue;
    Object.defineProperty(claims, name, { value: value as JsonValue, enumerable: true, writable: true, configurable: true });
  }
  return { id: sub, claims };
}

/**
 * A token whose kid this app does not know was most often issued for another app: say so when its
 * (unverified, attacker-controlled) `aud` names another app. Only the message changes; the token is
 * refused either way.
 */
function refineUnknownKey(token: string, audience: string, app: string): void {
  let aud: unknown;
  try {
    aud = decodeJwt(token).aud;
  } catch {
    return;
  }
  if (typeof aud === 'string' && aud !== audience && aud.startsWith('faas:app:')) {
    invalidToken('audience', `it was issued for another app, not ${quoted(app)}; each app accepts only its own tokens`);
  }
}

/** Turn a jose error into `E_AUTH_INVALID` with the check that failed. */
function mapJoseError(err: unknown, token: string, input: VerifyInput): never {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : '';
  const claim = (err as { claim?: unknown }).claim;
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'ERR_JOSE_ALG_NOT_ALLOWED': {
      let alg: unknown = 'an unknown algorithm';
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch { /* keep the default */ }
      return invalidToken('algorithm', `it is signed with ${quoted(alg)}; only ${ALGORITHM} tokens issued by ctx.auth are accepted (unsigned "none" tokens never are)`);
    }
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return invalidToken('signature', 'the signature does not match: the token was altered, or signed with a secret that is not this app\'s');
    case 'ERR_JWT_EXPIRED':
      if (claim === 'iat') return invalidToken('too_old', `it was issued more than ${input.maxAgeS} s ago, longer than any token may live; sign in again`);
      return invalidToken('expired', `it expired at ${expiry(token)} (clock tolerance ${input.clockToleranceS} s); sign in again`);
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if ((err as { reason?: unknown }).reason === 'missing') return invalidToken('malformed', `the ${quoted(claim)} claim is missing`);
      if ((err as { reason?: unknown }).reason !== 'check_failed') return invalidToken('malformed', `it is not a well-formed JWT (${message})`);
      if (claim === 'aud') return invalidToken('audience', `it was issued for another app, not ${quoted(input.app)}; each app accepts only its own tokens`);
      if (claim === 'iss') return invalidToken('issuer', `it was not issued by this platform (the "iss" claim must be ${quoted(input.issuer)})`);
      if (claim === 'nbf' || claim === 'iat') return invalidToken('not_yet_valid', `its ${quoted(claim)} time is in the future (clock tolerance ${input.clockToleranceS} s)`);
      if (claim === 'typ') return invalidToken('malformed', 'the header "typ" must be "JWT"');
      return invalidToken('malformed', message);
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWT_CLAIM_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return invalidToken('malformed', `it is not a well-formed JWT (${message})`);
    default:
      if (err instanceof TypeError) return invalidToken('malformed', `it is not a well-formed JWT (${message})`);
      throw err;
  }
}

/** The `exp` of a token (already decoded once by jose) as ISO 8601, for the expiry message. */
function expiry(token: string): string {
  try {
    const exp = decodeJwt(token).exp;
    if (typeof exp === 'number' && Number.isFinite(exp)) return new Date(exp * 1000).toISOString();
  } catch { /* fall through */ }
  return 'an earlier time';
}
