/**
 * Signing keys of `ctx.auth`: generating one for the control plane to store, importing an app's
 * keys into WebCrypto `CryptoKey`s once, and caching them per app (`createKeyCache`).
 *
 * A key is `SigningKey` (`control-plane/core/types.ts`): HS256, 32 random bytes (RFC 7518 §3.2
 * requires a key at least as long as the hash output, 256 bits for HS256). The newest non-retired
 * key signs; every non-retired key verifies, so a rotation signs nobody out.
 */
import { randomBytes, type webcrypto } from 'node:crypto';
import type { SigningKey } from '../../control-plane/core/types.ts';
import { isPlatformError, runtimeError } from '../../runtime/errors.ts';
import { builtinError } from '../errors.ts';

/** Length of a signing secret, in bytes (256 bits, the HS256 hash size). */
export const SECRET_BYTES = 32;

/** A base64url (no padding) text of exactly 32 bytes: 43 characters, the last one carrying 4 bits. */
const SECRET_TEXT = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/**
 * A fresh signing key for the control plane to store: 32 bytes from the system CSPRNG as base64url,
 * and a random `kid` (`k_` + 16 base64url characters, 96 random bits) so two apps' kids never meet.
 * @param now when the key is created (stored as `createdAt`, ISO 8601) @default new Date()
 * @returns `{ kid, secret, createdAt, retiredAt: null }`
 * @example await store.insertSigningKey(app, generateSigningKey())
 */
export function generateSigningKey(now: Date = new Date()): SigningKey {
  return {
    kid: `k_${randomBytes(12).toString('base64url')}`,
    secret: randomBytes(SECRET_BYTES).toString('base64url'),
    createdAt: now.toISOString(),
    retiredAt: null,
  };
}

/** One imported key of an app. Times are epoch ms. */
export interface ImportedKey {
  readonly kid: string;
  /** HMAC SHA-256 key with `sign` and `verify` usages, not extractable. */
  readonly key: webcrypto.CryptoKey;
  readonly createdAtMs: number;
  /** When the key stops verifying; null while it is active. A time in the future is honoured when it comes. */
  readonly retiredAtMs: number | null;
}

/** The keys of one app as loaded at `loadedAtMs`, newest first. */
export interface KeyRing {
  readonly app: string;
  readonly keys: readonly ImportedKey[];
  readonly byKid: ReadonlyMap<string, ImportedKey>;
  readonly loadedAtMs: number;
}

/** True when `key` is retired at `nowMs`. */
export function isRetired(key: ImportedKey, nowMs: number): boolean {
  return key.retiredAtMs !== null && key.retiredAtMs <= nowMs;
}

/** The key that signs at `nowMs`: the newest (by `createdAt`) non-retired one, or null. */
export function signingKey(ring: KeyRing, nowMs: number): ImportedKey | null {
  for (const key of ring.keys) if (!isRetired(key, nowMs)) return key;
  return null;
}

function parseTime(value: unknown, where: string): number {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw runtimeError('E_INTERNAL', `${where} is not an ISO 8601 time`);
  return ms;
}

/**
 * Check and import the keys `keysFor` returned. Bad key material is a platform bug: the message
 * names the key's kid, never its secret.
 * @throws PlatformError E_INTERNAL when the value is not an array of valid `SigningKey`s
 */
async function importRing(app: string, raw: unknown, loadedAtMs: number): Promise<KeyRing> {
  if (!Array.isArray(raw)) throw runtimeError('E_INTERNAL', `signing keys of app ${app}: expected an array of keys`);
  const keys = await Promise.all(raw.map(async (item: unknown, i): Promise<ImportedKey> => {
    const where = `signing key ${i} of app ${app}`;
    const k = (typeof item === 'object' && item !== null ? item : {}) as Partial<Record<keyof SigningKey, unknown>>;
    if (typeof k.kid !== 'string' || k.kid.length === 0 || k.kid.length > 128) throw runtimeError('E_INTERNAL', `${where}: kid must be a string of 1..128 characters`);
    if (typeof k.secret !== 'string' || !SECRET_TEXT.test(k.secret)) throw runtimeError('E_INTERNAL', `${where} (kid ${k.kid}): secret must be base64url of ${SECRET_BYTES} bytes`);
    const createdAtMs = parseTime(k.createdAt, `${where} (kid ${k.kid}): createdAt`);
    const retiredAtMs = k.retiredAt === null || k.retiredAt === undefined ? null : parseTime(k.retiredAt, `${where} (kid ${k.kid}): retiredAt`);
    const key = await crypto.subtle.importKey('raw', Buffer.from(k.secret, 'base64url'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    return { kid: k.kid, key, createdAtMs, retiredAtMs };
  }));
  const byKid = new Map<string, ImportedKey>();
  for (const key of keys) {
    if (byKid.has(key.kid)) throw runtimeError('E_INTERNAL', `signing keys of app ${app}: kid ${key.kid} appears twice`);
    byKid.set(key.kid, key);
  }
  // Newest first; equal times keep the order the control plane gave (newest first).
  const ordered = keys.map((key, i) => ({ key, i })).sort((a, b) => b.key.createdAtMs - a.key.createdAtMs || a.i - b.i).map((e) => e.key);
  return Object.freeze({ app, keys: Object.freeze(ordered), byKid, loadedAtMs });
}

/** Options of `createKeyCache` (already validated by `createAuthHost`). */
export interface KeyCacheOptions {
  /** The app's keys, newest first (`RuntimeControlPlane.getSigningKeys`). */
  keysFor: (app: string) => Promise<SigningKey[]>;
  /** A loaded ring is served this long, then refreshed in the background (stale keys keep serving meanwhile), in ms. */
  ttlMs: number;
  /** Longest a `keysFor` call may take, in ms. */
  timeoutMs: number;
  /** Apps kept; the least recently used is dropped beyond it. */
  maxApps: number;
  /** A forced reload (unknown kid) happens at most once per this many ms per app. */
  minReloadIntervalMs: number;
  /** The clock, epoch ms. */
  now: () => number;
}

/** Per-app cache of imported keys. */
export interface KeyCache {
  /**
   * The app's keys: cached, else loaded (one load per app at a time). A ring past its TTL is
   * returned while a background refresh runs.
   * @throws PlatformError E_AUTH_UNAVAILABLE (`keysFor` failed or took longer than `timeoutMs`),
   *   E_INTERNAL (bad key material)
   */
  get(app: string): Promise<KeyRing>;
  /**
   * Load the app's keys again unless `ring` is younger than `minReloadIntervalMs` (then `ring`,
   * or a newer cached one, is returned): used when a token names a kid the ring lacks, which
   * happens for a moment after a rotation another process saw first.
   * @throws like `get`
   */
  reload(app: string, ring: KeyRing): Promise<KeyRing>;
  /** Forget one app's keys (the control plane's `keys` change event), or every app's. */
  invalidate(app?: string): void;
}

interface Entry {
  ring: KeyRing | null;
  /** The load in flight, if any. */
  loading: Promise<KeyRing> | null;
  /** Epoch ms before which a failed background refresh is not retried. */
  retryAtMs: number;
}

/**
 * Create the key cache. Loads are single-flight per app; an `invalidate` during a load makes that
 * load's result unseen by later calls (they load again).
 */
export function createKeyCache(opts: KeyCacheOptions): KeyCache {
  const entries = new Map<string, Entry>();

  const fetchRing = async (app: string): Promise<KeyRing> => {
    let timer: NodeJS.Timeout | undefined;
    let raw: unknown;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(builtinError('E_AUTH_UNAVAILABLE', `signing keys of app ${app} were not loaded within ${opts.timeoutMs} ms; retry later`, { app })), opts.timeoutMs);
        timer.unref(); // a guard only: it never keeps the process alive
      });
      const call = Promise.resolve().then(() => opts.keysFor(app));
      call.catch(() => {});
      raw = await Promise.race([call, timeout]);
    } catch (err) {
      if (isPlatformError(err) && err.code === 'E_AUTH_UNAVAILABLE') throw err;
      const cause = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'error';
      const wrapped = builtinError('E_AUTH_UNAVAILABLE', `signing keys of app ${app} could not be loaded (${cause}); retry later`, { app });
      Object.defineProperty(wrapped, 'cause', { value: err, enumerable: false });
      throw wrapped;
    } finally {
      clearTimeout(timer);
    }
    return importRing(app, raw, opts.now());
  };

  /** Start (or join) a load for `entry`; its result is stored only if `entry` is still the app's. */
  const startLoad = (app: string, entry: Entry): Promise<KeyRing> => {
    if (entry.loading !== null) return entry.loading;
    const loading = fetchRing(app).then(
      (ring) => {
        if (entries.get(app) === entry) entry.ring = ring;
        return ring;
      },
      (err: unknown) => {
        if (entries.get(app) === entry) {
          if (entry.ring === null) entries.delete(app);
          else entry.retryAtMs = opts.now() + Math.min(opts.ttlMs, 5000);
        }
        throw err;
      },
    ).finally(() => {
      if (entry.loading === loading) entry.loading = null;
    });
    entry.loading = loading;
    return loading;
  };

  const entryFor = (app: string): Entry => {
    let entry = entries.get(app);
    if (entry !== undefined) {
      entries.delete(app); // re-insert: most recently used last
      entries.set(app, entry);
      return entry;
    }
    entry = { ring: null, loading: null, retryAtMs: 0 };
    entries.set(app, entry);
    if (entries.size > opts.maxApps) entries.delete(entries.keys().next().value as string);
    return entry;
  };

  return {
    get(app) {
      const entry = entryFor(app);
      const ring = entry.ring;
      if (ring === null) return startLoad(app, entry);
      const now = opts.now();
      if (now >= ring.loadedAtMs + opts.ttlMs && now >= entry.retryAtMs && entry.loading === null) {
        startLoad(app, entry).catch(() => {}); // stale-while-revalidate: failures keep the old ring
      }
      return Promise.resolve(ring);
    },
    async reload(app, ring) {
      const entry = entryFor(app);
      const current = entry.ring ?? ring;
      if (current.loadedAtMs > ring.loadedAtMs) return current;
      if (opts.now() < ring.loadedAtMs + opts.minReloadIntervalMs) return entry.loading ?? current;
      return startLoad(app, entry);
    },
    invalidate(app) {
      if (app === undefined) entries.clear();
      else entries.delete(app);
    },
  };
}
