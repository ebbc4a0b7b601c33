/**
 * A cache of mutable control-plane answers (alias resolutions, function config, app settings,
 * signing keys) kept correct by the change stream rather than by TTLs:
 *
 * - an entry is **fresh** when it was fetched during the current, unbroken `WatchDeploys` session
 *   and no change for its key arrived while the fetch was in flight; fresh entries are served
 *   without a call (any later change for the key arrives on the stream and marks it stale);
 * - a **stale** entry (a change arrived, the stream was reset, or it was fetched outside a
 *   session) is fetched again on its next use — and served as it is when the control plane cannot
 *   be reached, so cached functions keep running through an outage;
 * - fetches of one key are single-flight.
 *
 * When the stream is down, fresh entries keep being served (what was missed is caught up on
 * reconnect, see proto/README.md) and stale ones are retried as above.
 */
import { isUnreachable } from '../../control-plane/grpc/proto.ts';
import { LruMap } from './lru.ts';

interface Entry<T> {
  value: T;
  fresh: boolean;
}

interface Flight<T> {
  promise: Promise<T | null>;
  /** Set when the key changed (or everything was reset) while the fetch was in flight. */
  invalidated: boolean;
}

/** See the module comment. `session()` names the current stream session, or null when there is none. */
export class RefreshingCache<T> {
  readonly #entries: LruMap<string, Entry<T>>;
  readonly #flights = new Map<string, Flight<T>>();
  readonly #session: () => number | null;
  /** Times a stale value was served because the control plane could not be reached. */
  servedStale = 0;

  /**
   * @param maxEntries entries kept (least recently used go first)
   * @param session the current `WatchDeploys` session number, null while disconnected
   */
  constructor(maxEntries: number, session: () => number | null) {
    this.#entries = new LruMap({ maxEntries });
    this.#session = session;
  }

  get size(): number {
    return this.#entries.size;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Cached keys, least recently used first. */
  keys(): string[] {
    return this.#entries.keys();
  }

  /**
   * The value for `key`: the cached one when fresh; else fetched (single-flight), falling back to
   * the stale one when the control plane is unreachable. A fetch answering null removes the entry.
   * @throws what `fetch` throws when there is nothing cached to fall back on (or the error is not "unreachable")
   */
  async get(key: string, fetch: () => Promise<T | null>): Promise<T | null> {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.fresh) return entry.value;
    try {
      return await this.refresh(key, fetch);
    } catch (err) {
      const fallback = this.#entries.peek(key) ?? entry;
      if (fallback !== undefined && isUnreachable(err)) {
        this.servedStale++;
        return fallback.value;
      }
      throw err;
    }
  }

  /** Fetch `key` now (joining a fetch already in flight) and store the answer. */
  refresh(key: string, fetch: () => Promise<T | null>): Promise<T | null> {
    const running = this.#flights.get(key);
    if (running !== undefined) return running.promise;
    const session = this.#session();
    const flight: Flight<T> = { promise: Promise.resolve(null), invalidated: false };
    flight.promise = (async () => {
      try {
        const value = await fetch();
        if (value === null) {
          this.#entries.delete(key);
        } else {
          const fresh = !flight.invalidated && session !== null && this.#session() === session;
          this.#entries.set(key, { value, fresh });
        }
        return value;
      } finally {
        this.#flights.delete(key);
      }
    })();
    this.#flights.set(key, flight);
    return flight.promise;
  }

  /** The key changed: its entry (and a fetch in flight) become stale. */
  invalidate(key: string): void {
    const entry = this.#entries.peek(key);
    if (entry !== undefined) entry.fresh = false;
    const flight = this.#flights.get(key);
    if (flight !== undefined) flight.invalidated = true;
  }

  /** Everything may have changed (a stream reset): every entry and fetch in flight becomes stale. */
  invalidateAll(): void {
    for (const entry of this.#entries.values()) entry.fresh = false;
    for (const flight of this.#flights.values()) flight.invalidated = true;
  }
}
