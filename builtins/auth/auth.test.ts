/**
 * `ctx.auth` host side, with real jose and real keys. The key source is the real `keysFor`
 * interface over an in-memory map of `SigningKey` arrays (what the control plane stores), and the
 * clock is injected so tokens can expire without waiting.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { CompactSign, decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import type { SigningKey } from '../../control-plane/core/types.ts';
import type { BuiltinCall } from '../../runtime/sandbox/interface.ts';
import { bearerChallenge, createAuthHost, generateSigningKey, type AuthHostOptions, type AuthUser, type IssuedToken } from './host.ts';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** A key store like the control plane's: app → keys, newest first; counts `keysFor` calls. */
function keyStore() {
  const keys = new Map<string, SigningKey[]>();
  const calls: string[] = [];
  return {
    keys,
    calls,
    keysFor: async (app: string): Promise<SigningKey[]> => {
      calls.push(app);
      return (keys.get(app) ?? []).map((k) => ({ ...k }));
    },
    /** Add a new key in front (newest), created at `atMs`. */
    rotate(app: string, atMs: number): SigningKey {
      const key = generateSigningKey(new Date(atMs));
      keys.set(app, [key, ...(keys.get(app) ?? [])]);
      return key;
    },
  };
}

/** A host over a fresh store with app `game1` (one key) and `game2` (one key), and a movable clock. */
function setup(extra: Partial<AuthHostOptions> = {}) {
  const store = keyStore();
  store.rotate('game1', T0 - 3_600_000);
  store.rotate('game2', T0 - 3_600_000);
  const clock = { nowMs: T0 };
  const host = createAuthHost({ keysFor: store.keysFor, now: () => clock.nowMs, ...extra });
  return { store, clock, host };
}

function callOf(app: string, signal: AbortSignal = new AbortController().signal): BuiltinCall {
  return { app, function: 'login', versionId: 'v1', requestId: 'r1', deadline: T0 + 5000, signal };
}

async function issue(host: ReturnType<typeof createAuthHost>, app: string, ...args: unknown[]): Promise<IssuedToken> {
  return (await host.execute(callOf(app), 'issue', args)) as IssuedToken;
}

async function verify(host: ReturnType<typeof createAuthHost>, app: string, token: unknown): Promise<AuthUser> {
  return (await host.execute(callOf(app), 'verify', [token])) as AuthUser;
}

/** Assert a PlatformError with `code` (and `reason`, and a message matching `message`). */
async function rejects(promise: Promise<unknown>, code: string, opts: { reason?: string; message?: RegExp; status?: number } = {}): Promise<void> {
  await assert.rejects(promise, (err: { code?: string; status?: number; message: string; details?: Record<string, unknown> }) => {
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    if (opts.reason !== undefined) assert.equal(err.details?.reason, opts.reason, err.message);
    if (opts.message !== undefined) assert.match(err.message, opts.message);
    if (opts.status !== undefined) assert.equal(err.status, opts.status);
    return true;
  });
}

/** Sign a token by hand with jose (for tokens `issue` would never produce). */
async function handSigned(secret: Uint8Array, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...header }).sign(secret);
}

const secretOf = (key: SigningKey): Uint8Array => new Uint8Array(Buffer.from(key.secret, 'base64url'));
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const validClaims = (app: string, nowMs: number) => ({ iss: 'faas', sub: 'alice', aud: `faas:app:${app}`, iat: Math.floor(nowMs / 1000), exp: Math.floor(nowMs / 1000) + 600 });

describe('issue and verify', () => {
  test('a token issued for a player verifies back to the same id and custom claims', async () => {
    const { host, store } = setup();
    const { token, expiresAt } = await issue(host, 'game1', 'player-42', { ttlS: 3600, claims: { level: 7, guild: { id: 'g1', roles: ['officer'] } } });
    const header = decodeProtectedHeader(token);
    assert.deepEqual(header, { alg: 'HS256', typ: 'JWT', kid: store.keys.get('game1')![0].kid });
    const payload = decodeJwt(token);
    assert.equal(payload.iss, 'faas');
    assert.equal(payload.sub, 'player-42');
    assert.equal(payload.aud, 'faas:app:game1');
    assert.equal(payload.iat, T0 / 1000);
    assert.equal(payload.exp, T0 / 1000 + 3600);
    assert.equal(typeof payload.jti, 'string');
    assert.equal(expiresAt, '2030-01-01T01:00:00.000Z');

    const expected = { id: 'player-42', claims: { level: 7, guild: { id: 'g1', roles: ['officer'] } } };
    assert.deepEqual(await verify(host, 'game1', token), expected);
    assert.deepEqual(await host.verifyRequest('game1', `Bearer ${token}`), { user: expected });
    assert.deepEqual(await host.verifyRequest('game1', `bearer  ${token} `, 'required'), { user: expected });
  });

  test('without options a token lives one day and has no custom claims', async () => {
    const { host } = setup();
    const { token, expiresAt } = await issue(host, 'game1', 'bob');
    assert.equal(expiresAt, '2030-01-02T00:00:00.000Z');
    assert.deepEqual(await verify(host, 'game1', token), { id: 'bob', claims: {} });
    assert.deepEqual(await verify(host, 'game1', (await issue(host, 'game1', 'bob', null)).token), { id: 'bob', claims: {} });
  });

  test('two tokens for the same player differ (each has its own jti)', async () => {
    const { host } = setup();
    const a = await issue(host, 'game1', 'bob');
    const b = await issue(host, 'game1', 'bob');
    assert.notEqual(decodeJwt(a.token).jti, decodeJwt(b.token).jti);
  });

  test('ctx.user.claims never shows registered claims, and a claim named __proto__ stays an own property', async () => {
    const { host, store } = setup();
    const key = store.keys.get('game1')![0];
    const token = await handSigned(secretOf(key), { kid: key.kid }, JSON.parse(`{"iss":"faas","sub":"alice","aud":"faas:app:game1","iat":${T0 / 1000},"exp":${T0 / 1000 + 60},"nbf":${T0 / 1000 - 5},"jti":"x","__proto__":{"admin":true},"rank":3}`));
    const user = await verify(host, 'game1', token);
    assert.deepEqual(Object.keys(user.claims).sort(), ['__proto__', 'rank']);
    assert.equal(Object.getPrototypeOf(user.claims), Object.prototype);
    assert.equal(({} as Record<string, unknown>).admin, undefined);
  });
});

describe('tokens that are refused', () => {
  test('an expired token is refused after the 30 s clock tolerance, and accepted within it', async () => {
    const { host, clock } = setup();
    const { token } = await issue(host, 'game1', 'alice', { ttlS: 60 });
    clock.nowMs = T0 + 89_000;
    assert.equal((await verify(host, 'game1', token)).id, 'alice');
    clock.nowMs = T0 + 91_000;
    await rejects(verify(host, 'game1', token), 'E_AUTH_INVALID', { reason: 'expired', status: 401, message: /expired at 2030-01-01T00:01:00\.000Z \(clock tolerance 30 s\); sign in again/ });
    await rejects(host.verifyRequest('game1', `Bearer ${token}`), 'E_AUTH_INVALID', { reason: 'expired' });
  });

  test('a token signed with another secret is refused as a bad signature', async () => {
    const { host, store } = setup();
    const key = store.keys.get('game1')![0];
    const forged = await handSigned(new Uint8Array(randomBytes(32)), { kid: key.kid }, validClaims('game1', T0));
    await rejects(verify(host, 'game1', forged), 'E_AUTH_INVALID', { reason: 'signature', message: /signature does not match/ });
  });

  test('a token whose payload was altered is refused as a bad signature', async () => {
    const { host } = setup();
    const { token } = await issue(host, 'game1', 'alice', { claims: { role: 'player' } });
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const altered = `${h}.${b64({ ...payload, role: 'admin' })}.${s}`;
    await rejects(verify(host, 'game1', altered), 'E_AUTH_INVALID', { reason: 'signature' });
  });

  test('a token of one app is refused by another app', async () => {
    const { host } = setup();
    const { token } = await issue(host, 'game2', 'alice');
    await rejects(verify(host, 'game1', token), 'E_AUTH_INVALID', { reason: 'audience', message: /issued for another app, not "game1"/ });
    await rejects(host.verifyRequest('game1', `Bearer ${token}`), 'E_AUTH_INVALID', { reason: 'audience' });
  });

  test('the audience is checked even when two apps share a key', async () => {
    const store = keyStore();
    const shared = generateSigningKey(new Date(T0 - 1000));
    store.keys.set('game1', [shared]);
    store.keys.set('game2', [shared]);
    const host = createAuthHost({ keysFor: store.keysFor, now: () => T0 });
    const { token } = await issue(host, 'game2', 'alice');
    assert.equal((await verify(host, 'game2', token)).id, 'alice');
    await rejects(verify(host, 'game1', token), 'E_AUTH_INVALID', { reason: 'audience' });
  });

  test('an unsigned alg "none" token is refused', async () => {
    const { host, store } = setup();
    const kid = store.keys.get('game1')![0].kid;
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64({ alg, typ: 'JWT', kid })}.${b64(validClaims('game1', T0))}.`;
      await rejects(verify(host, 'game1', token), 'E_AUTH_INVALID', { reason: 'algorithm', message: new RegExp(`signed with "${alg}"; only HS256`) });
    }
  });

  test('HS512- and RS256-labelled tokens are refused, even with the app\'s own secret', async () => {
    const { host, store } = setup();
    const key = store.keys.get('game1')![0];
    const hs512 = await new SignJWT(validClaims('game1', T0)).setProtectedHeader({ alg: 'HS512', typ: 'JWT', kid: key.kid }).sign(secretOf(key));
    await rejects(verify(host, 'game1', hs512), 'E_AUTH_INVALID', { reason: 'algorithm', message: /"HS512"/ });
    const { privateKey } = await generateKeyPair('RS256');
    const rs256 = await new SignJWT(validClaims('game1', T0)).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid }).sign(privateKey);
    await rejects(verify(host, 'game1', rs256), 'E_AUTH_INVALID', { reason: 'algorithm', message: /"RS256"/ });
    // An HS256 label over an HS512 signature does not verify either.
    const [, p, s] = hs512.split('.');
    await rejects(verify(host, 'game1', `${b64({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${p}.${s}`), 'E_AUTH_INVALID', { reason: 'signature' });
  });

  test('a token with an unknown kid is refused, and one without a kid is malformed', async () => {
    const { host, store } = setup();
    const key = store.keys.get('game1')![0];
    const unknown = await handSigned(secretOf(key), { kid: 'k_not-a-key' }, validClaims('game1', T0));
    await rejects(verify(host, 'game1', unknown), 'E_AUTH_INVALID', { reason: 'unknown_key', message: /kid "k_not-a-key"/ });
    const noKid = await handSigned(secretOf(key), {}, validClaims('game1', T0));
    await rejects(verify(host, 'game1', noKid), 'E_AUTH_INVALID', { reason: 'malformed', message: /no "kid"/ });
  });

  test('a token from another issuer is refused', async () => {
    const { host, store } = setup();
    const other = createAuthHost({ keysFor: store.keysFor, now: () => T0, issuer: 'other-platform' });
    const { token } = await issue(other, 'game1', 'alice');
    await rejects(verify(host, 'game1', token), 'E_AUTH_INVALID', { reason: 'issuer', message: /must be "faas"/ });
  });

  test('a token issued longer ago than the longest lifetime is refused even if its exp is later', async () => {
    const { host, store } = setup({ maxTtlS: 3600 });
    const key = store.keys.get('game1')![0];
    const token = await handSigned(secretOf(key), { kid: key.kid }, { ...validClaims('game1', T0), iat: T0 / 1000 - 7200, exp: T0 / 1000 + 3600 });
    await rejects(verify(host, 'game1', token), 'E_AUTH_INVALID', { reason: 'too_old' });
  });

  test('a token valid only later (nbf or iat in the future) is refused', async () => {
    const { host, store } = setup();
    const key = store.keys.get('game1')![0];
    const nbf = await handSigned(secretOf(key), { kid: key.kid }, { ...validClaims('game1', T0), nbf: T0 / 1000 + 300 });
    await rejects(verify(host, 'game1', nbf), 'E_AUTH_INVALID', { reason: 'not_yet_valid' });
    const iat = await handSigned(secretOf(key), { kid: key.kid }, { ...validClaims('game1', T0), iat: T0 / 1000 + 300 });
    await rejects(verify(host, 'game1', iat), 'E_AUTH_INVALID', { reason: 'not_yet_valid' });
  });

  test('malformed tokens are refused with a message saying so', async () => {
    const { host, store } = setup();
    const key = store.keys.get('game1')![0];
    const header = b64({ alg: 'HS256', typ: 'JWT', kid: key.kid });
    const cases: Array<[string, RegExp]> = [
      ['', /empty/],
      ['not-a-jwt', /not a well-formed JWT/],
      ['a.b', /not a well-formed JWT/],
      [`!!!.${b64(validClaims('game1', T0))}.sig`, /not a well-formed JWT/],
      [`${b64('a string')}.${b64(validClaims('game1', T0))}.sig`, /not a well-formed JWT/],
      ['x'.repeat(9000), /at most 8192/],
    ];
    for (const [token, message] of cases) await rejects(verify(host, 'game1', token), 'E_AUTH_INVALID', { reason: 'malformed', message });
    const noSub = await handSigned(secretOf(key), { kid: key.kid }, { ...validClaims('game1', T0), sub: undefined });
    await rejects(verify(host, 'game1', noSub), 'E_AUTH_INVALID', { reason: 'malformed', message: /"sub" claim is missing/ });
    const textExp = await handSigned(secretOf(key), { kid: key.kid }, { ...validClaims('game1', T0), exp: 'tomorrow' });
    await rejects(verify(host, 'game1', textExp), 'E_AUTH_INVALID', { reason: 'malformed' });
    const notJson = await new CompactSign(new TextEncoder().encode('not json')).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: key.kid }).sign(secretOf(key));
    await rejects(verify(host, 'game1', notJson), 'E_AUTH_INVALID', { reason: 'malformed', message: /Claims Set must be a top-level JSON object/ });
    const wrongTyp = await handSigned(secretOf(key), { kid: key.kid, typ: 'at+jwt' }, validClaims('game1', T0));
    await rejects(verify(host, 'game1', wrongTyp), 'E_AUTH_INVALID', { reason: 'malformed', message: /typ/ });
  });
});

describe('key rotation', () => {
  test('after a rotation old tokens still verify and new tokens use the new key', async () => {
    const { host, store, clock } = setup();
    const oldKey = store.keys.get('game1')![0];
    const before = await issue(host, 'game1', 'alice');
    clock.nowMs = T0 + 60_000;
    const newKey = store.rotate('game1', clock.nowMs);
    host.invalidate('game1');
    const after = await issue(host, 'game1', 'bob');
    assert.equal(decodeProtectedHeader(before.token).kid, oldKey.kid);
    assert.equal(decodeProtectedHeader(after.token).kid, newKey.kid);
    assert.equal((await verify(host, 'game1', before.token)).id, 'alice');
    assert.equal((await verify(host, 'game1', after.token)).id, 'bob');
  });

  test('the newest key signs whatever order the keys come in', async () => {
    const { host, store } = setup();
    const newest = store.rotate('game1', T0 - 1000);
    store.keys.set('game1', [...store.keys.get('game1')!].reverse());
    host.invalidate('game1');
    assert.equal(decodeProtectedHeader((await issue(host, 'game1', 'bob')).token).kid, newest.kid);
  });

  test('a token signed with a retired key is refused; a retirement set in the future applies when it comes', async () => {
    const { host, store, clock } = setup();
    const oldKey = store.keys.get('game1')![0];
    const old = await issue(host, 'game1', 'alice');
    store.rotate('game1', T0 + 1000);
    oldKey.retiredAt = new Date(T0 + 600_000).toISOString();
    host.invalidate('game1');
    clock.nowMs = T0 + 2000;
    const fresh = await issue(host, 'game1', 'bob');
    assert.equal((await verify(host, 'game1', old.token)).id, 'alice');
    clock.nowMs = T0 + 600_000;
    await rejects(verify(host, 'game1', old.token), 'E_AUTH_INVALID', { reason: 'retired_key', message: new RegExp(`retired key \\(kid "${oldKey.kid}"\\); sign in again`) });
    assert.equal((await verify(host, 'game1', fresh.token)).id, 'bob');
  });

  test('when every key is retired, issuing fails with E_AUTH_UNAVAILABLE', async () => {
    const { host, store } = setup();
    store.keys.get('game1')![0].retiredAt = new Date(T0 - 1).toISOString();
    await rejects(issue(host, 'game1', 'alice'), 'E_AUTH_UNAVAILABLE', { status: 503, message: /no active signing key/ });
  });

  test('a key this process has not loaded yet is fetched once when a token names it, at most once a second', async () => {
    const { host, store, clock } = setup();
    const peer = createAuthHost({ keysFor: store.keysFor, now: () => clock.nowMs });
    await issue(host, 'game1', 'warm-up');
    const loads = store.calls.length;
    store.rotate('game1', T0 + 500);
    clock.nowMs = T0 + 2000;
    const { token } = await issue(peer, 'game1', 'alice'); // the peer loads the rotated keys first
    assert.equal((await verify(host, 'game1', token)).id, 'alice');
    assert.equal(store.calls.length, loads + 2, 'one load by the peer, one reload here');

    const key = store.keys.get('game1')![0];
    const bogus = (kid: string) => handSigned(secretOf(key), { kid }, validClaims('game1', clock.nowMs));
    await rejects(verify(host, 'game1', await bogus('k_a')), 'E_AUTH_INVALID', { reason: 'unknown_key' });
    await rejects(verify(host, 'game1', await bogus('k_b')), 'E_AUTH_INVALID', { reason: 'unknown_key' });
    assert.equal(store.calls.length, loads + 2, 'unknown kids within a second of the last load trigger no reload');
    clock.nowMs += 1500;
    await rejects(verify(host, 'game1', await bogus('k_c')), 'E_AUTH_INVALID', { reason: 'unknown_key' });
    assert.equal(store.calls.length, loads + 3);
  });
});

describe('key cache', () => {
  test('keys are loaded once per app, and again after invalidate', async () => {
    const { host, store } = setup();
    const { token } = await issue(host, 'game1', 'alice');
    await Promise.all(Array.from({ length: 10 }, () => verify(host, 'game1', token)));
    assert.deepEqual(store.calls, ['game1']);
    host.invalidate('game1');
    await verify(host, 'game1', token);
    assert.deepEqual(store.calls, ['game1', 'game1']);
    host.invalidate();
    await verify(host, 'game1', token);
    assert.equal(store.calls.length, 3);
  });

  test('concurrent first calls share one load', async () => {
    const { host, store } = setup();
    await Promise.all(Array.from({ length: 5 }, (_, i) => issue(host, 'game1', `p${i}`)));
    assert.deepEqual(store.calls, ['game1']);
  });

  test('after the cache TTL the old keys serve while a refresh runs in the background', async () => {
    const { host, store, clock } = setup({ keyCacheTtlMs: 10_000 });
    const { token } = await issue(host, 'game1', 'alice');
    clock.nowMs += 11_000;
    assert.equal((await verify(host, 'game1', token)).id, 'alice');
    await new Promise((r) => setImmediate(r));
    assert.equal(store.calls.length, 2);
  });

  test('a failing key source gives E_AUTH_UNAVAILABLE and is asked again on the next call', async () => {
    let fail = true;
    const store = keyStore();
    store.rotate('game1', T0 - 1000);
    const host = createAuthHost({ now: () => T0, keysFor: async (app) => { if (fail) throw Object.assign(new Error('db down at 10.0.0.5'), { code: 'E_STORE_UNAVAILABLE' }); return store.keysFor(app); } });
    await rejects(issue(host, 'game1', 'alice'), 'E_AUTH_UNAVAILABLE', { status: 503, message: /could not be loaded \(E_STORE_UNAVAILABLE\); retry later$/ });
    fail = false;
    assert.equal(typeof (await issue(host, 'game1', 'alice')).token, 'string');
  });

  test('a key source that does not answer fails the call after keysTimeoutMs', async () => {
    const host = createAuthHost({ keysTimeoutMs: 50, keysFor: () => new Promise<SigningKey[]>(() => {}) });
    await rejects(host.verifyRequest('game1', 'Bearer a.b.c'), 'E_AUTH_UNAVAILABLE', { message: /within 50 ms/ });
  });

  test('an invocation that ends while keys load stops waiting', async () => {
    const host = createAuthHost({ keysTimeoutMs: 60_000, keysFor: () => new Promise<SigningKey[]>(() => {}) });
    const ctl = new AbortController();
    const pending = host.execute(callOf('game1', ctl.signal), 'issue', ['alice']);
    ctl.abort();
    await rejects(pending, 'E_AUTH_UNAVAILABLE', { message: /invocation ended/ });
  });

  test('bad key material from the control plane is a platform fault that never shows the secret', async () => {
    const secret = 'short-secret';
    const host = createAuthHost({ keysFor: async () => [{ kid: 'k1', secret, createdAt: new Date(T0).toISOString(), retiredAt: null }] });
    await assert.rejects(issue(host, 'game1', 'alice'), (err: { code: string; message: string }) => {
      assert.equal(err.code, 'E_INTERNAL');
      assert.match(err.message, /kid k1/);
      assert.doesNotMatch(err.message, new RegExp(secret));
      return true;
    });
    const dup = generateSigningKey();
    const twice = createAuthHost({ keysFor: async () => [dup, { ...dup }] });
    await rejects(issue(twice, 'game1', 'alice'), 'E_INTERNAL', { message: /appears twice/ });
  });
});

describe('bad arguments', () => {
  test('a bad userId is refused with what is allowed', async () => {
    const { host } = setup();
    const cases: Array<[unknown, RegExp]> = [
      ['', /userId must not be empty/],
      ['x'.repeat(257), /userId is 257 characters; at most 256/],
      [42, /userId must be a string, got 42/],
      [undefined, /userId must be a string, got undefined/],
      ['bob\nadmin', /control characters/],
    ];
    for (const [userId, message] of cases) await rejects(issue(host, 'game1', userId), 'E_AUTH_BAD_ARGUMENTS', { status: 400, message });
    assert.equal((await verify(host, 'game1', (await issue(host, 'game1', 'x'.repeat(256))).token)).id.length, 256);
  });

  test('a bad ttlS is refused with the allowed range', async () => {
    const { host } = setup();
    for (const ttlS of [59, 2_592_001, 1.5, '3600', Number.NaN, -60]) {
      await rejects(issue(host, 'game1', 'alice', { ttlS }), 'E_AUTH_BAD_ARGUMENTS', { message: /ttlS must be (between 60 and 2592000 seconds \(30 days\)|a whole number of seconds)/ });
    }
    assert.equal((await issue(host, 'game1', 'alice', { ttlS: 2_592_000 })).expiresAt, '2030-01-31T00:00:00.000Z');
    const short = setup({ maxTtlS: 3600 });
    await rejects(issue(short.host, 'game1', 'alice', { ttlS: 7200 }), 'E_AUTH_BAD_ARGUMENTS', { message: /between 60 and 3600 seconds/ });
    assert.equal(short.host.options.defaultTtlS, 3600);
  });

  test('bad claims are refused with a clear message', async () => {
    const { host } = setup();
    const deep: Record<string, unknown> = {};
    let cursor = deep;
    for (let i = 0; i < 20; i++) cursor = (cursor.next = {}) as Record<string, unknown>;
    const cases: Array<[unknown, RegExp]> = [
      [{ sub: 'admin' }, /claims\.sub is reserved: the platform sets iss, sub, aud, exp, nbf, iat, jti itself/],
      [{ exp: 9_999_999_999 }, /claims\.exp is reserved/],
      [{ aud: 'faas:app:game2' }, /claims\.aud is reserved/],
      [['a'], /claims must be a plain object, got an array/],
      ['role=admin', /claims must be a plain object/],
      [new Date(), /claims must be a plain object, got a non-plain object/],
      [{ when: new Date() }, /claims\.when is a non-plain object; only plain objects/],
      [{ score: Number.NaN }, /claims\.score is NaN; JSON has no NaN/],
      [{ f: () => 1 }, /claims\.f is a function/],
      [{ big: 'x'.repeat(5000) }, /claims are 50\d\d bytes of JSON; at most 4096/],
      [Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 1])), /larger than 4096 bytes/],
      [deep, /nest deeper than 16 levels/],
      [JSON.parse('{"__proto__": {"admin": true}}'), /may not be named __proto__/],
    ];
    for (const [claims, message] of cases) await rejects(issue(host, 'game1', 'alice', { claims }), 'E_AUTH_BAD_ARGUMENTS', { message });
  });

  test('unknown options, wrong arity and unknown operations are refused', async () => {
    const { host } = setup();
    await rejects(issue(host, 'game1', 'alice', { ttl: 60 }), 'E_AUTH_BAD_ARGUMENTS', { message: /unknown option "ttl"; the options are ttlS/ });
    await rejects(issue(host, 'game1', 'alice', 60), 'E_AUTH_BAD_ARGUMENTS', { message: /second argument must be an object/ });
    await rejects(issue(host, 'game1'), 'E_AUTH_BAD_ARGUMENTS', { message: /takes \(userId, \{ ttlS\?, claims\? \}\), got 0 arguments/ });
    await rejects(issue(host, 'game1', 'a', {}, {}), 'E_AUTH_BAD_ARGUMENTS', { message: /got 3 arguments/ });
    await rejects(host.execute(callOf('game1'), 'verify', []), 'E_AUTH_BAD_ARGUMENTS', { message: /verify takes \(token\)/ });
    await rejects(verify(host, 'game1', { token: 'x' }), 'E_AUTH_BAD_ARGUMENTS', { message: /token must be a string, got an object/ });
    await rejects(host.execute(callOf('game1'), 'revoke', ['x']), 'E_AUTH_BAD_ARGUMENTS', { message: /no operation "revoke"; the operations are issue/ });
  });

  test('bad options are refused when the host is created', () => {
    const keysFor = async () => [];
    assert.throws(() => createAuthHost({} as AuthHostOptions), /keysFor must be a function/);
    assert.throws(() => createAuthHost({ keysFor, maxTtlS: 30 }), /maxTtlS must be an integer between 60 and/);
    assert.throws(() => createAuthHost({ keysFor, maxTtlS: 3600, defaultTtlS: 7200 }), /defaultTtlS must be an integer between 60 and 3600/);
    assert.throws(() => createAuthHost({ keysFor, clockToleranceS: -1 }), /clockToleranceS/);
    assert.throws(() => createAuthHost({ keysFor, issuer: '' }), /issuer must be 1\.\.256 printable characters/);
    assert.deepEqual(createAuthHost({ keysFor }).options, { issuer: 'faas', maxTtlS: 2_592_000, defaultTtlS: 86_400, clockToleranceS: 30, keyCacheTtlMs: 60_000, keysTimeoutMs: 2000, maxCachedApps: 10_000 });
    assert.ok(Object.isFrozen(createAuthHost({ keysFor }).options));
  });
});

describe('verifyRequest (the gateway, before the isolate runs)', () => {
  test('no header gives no user, or E_AUTH_REQUIRED when the function requires auth', async () => {
    const { host } = setup();
    assert.deepEqual(await host.verifyRequest('game1', undefined), { user: null });
    assert.deepEqual(await host.verifyRequest('game1', ''), { user: null });
    assert.deepEqual(await host.verifyRequest('game1', undefined, 'none'), { user: null });
    await rejects(host.verifyRequest('game1', undefined, 'required'), 'E_AUTH_REQUIRED', { status: 401, message: /no Authorization header was sent: send `Authorization: Bearer <token>`/ });
    await rejects(host.verifyRequest('game1', '   ', 'required'), 'E_AUTH_REQUIRED');
  });

  test('another scheme is left to the function, and does not satisfy auth: required', async () => {
    const { host } = setup();
    assert.deepEqual(await host.verifyRequest('game1', 'Basic YWxhZGRpbjpvcGVuc2VzYW1l'), { user: null });
    await rejects(host.verifyRequest('game1', 'Basic YWxhZGRpbjpvcGVuc2VzYW1l', 'required'), 'E_AUTH_REQUIRED', { message: /uses the "Basic" scheme/ });
  });

  test('a malformed Bearer header is refused even when auth is not required', async () => {
    const { host } = setup();
    for (const header of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer tok,en', 'Bearer\ttoken']) {
      await rejects(host.verifyRequest('game1', header), 'E_AUTH_INVALID', { reason: 'header', status: 401, message: /must be `Bearer <token>`/ });
    }
    await rejects(host.verifyRequest('game1', 'Bearer not-a-jwt'), 'E_AUTH_INVALID', { reason: 'malformed' });
    await rejects(host.verifyRequest('game1', `Bearer ${'a'.repeat(9000)}`), 'E_AUTH_INVALID', { reason: 'malformed', message: /at most 8192/ });
    await rejects(host.verifyRequest('game1', ['Bearer x'] as unknown as string), 'E_AUTH_INVALID', { reason: 'header' });
  });

  test('bearerChallenge gives the WWW-Authenticate value for 401s', async () => {
    const { host } = setup();
    const failure = (p: Promise<unknown>) => p.then(() => assert.fail('expected a rejection'), (e: Error) => e);
    const required = await failure(host.verifyRequest('game1', undefined, 'required'));
    assert.equal(bearerChallenge('game1', required), 'Bearer realm="faas:app:game1"');
    const invalid = await failure(host.verifyRequest('game1', 'Bearer a.b.c'));
    assert.match(bearerChallenge('game1', invalid) ?? '', /^Bearer realm="faas:app:game1", error="invalid_token", error_description="Invalid token: [^"\\]+"$/);
    assert.equal(bearerChallenge('game1', { code: 'E_AUTH_UNAVAILABLE', message: 'x' }), null);
  });
});

describe('generateSigningKey', () => {
  test('gives 32 random bytes as base64url, a random kid, and no retirement', () => {
    const a = generateSigningKey(new Date(T0));
    const b = generateSigningKey();
    assert.equal(Buffer.from(a.secret, 'base64url').length, 32);
    assert.match(a.secret, /^[A-Za-z0-9_-]{43}$/);
    assert.match(a.kid, /^k_[A-Za-z0-9_-]{16}$/);
    assert.notEqual(a.kid, b.kid);
    assert.notEqual(a.secret, b.secret);
    assert.equal(a.createdAt, '2030-01-01T00:00:00.000Z');
    assert.equal(a.retiredAt, null);
  });
});
