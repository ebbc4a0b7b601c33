/**
 * Resolves `app/function@alias` (or a pinned version) to an immutable version and its limits, with
 * a cache in front of the control plane. Alias entries are dropped the moment the control plane
 * reports an alias move (`onChange`, kind `alias`), so a deploy is visible to the next request; misses are
 * cached for `negativeTtlMs` so a flood of requests to unknown names does not hit the store each time.
 */
import type { ResolvedTarget, RuntimeControlPlane } from '../control-plane/core/types.ts';

/** The parts of the control plane the resolver needs. */
export type ResolverSource = Pick<RuntimeControlPlane, 'resolve' | 'getVersion' | 'onChange'>;

interface Cached { target: ResolvedTarget | null; expires: number }

/** See the module comment. `close()` unsubscribes from alias events. */
export class Resolver {
  private readonly source: ResolverSource;
  private readonly cache = new Map<string, Cached>();
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly unsubscribe: () => void;
  /** Bumped on every alias move, so a lookup that raced with a move is not cached. */
  private generation = 0;

  /**
   * @param source the control plane
   * @param options.negativeTtlMs how long a miss is remembered, in ms (@default 1000)
   * @param options.maxEntries cache size bound; the oldest entry goes first (@default 100_000)
   */
  constructor(source: ResolverSource, options: { negativeTtlMs?: number; maxEntries?: number } = {}) {
    this.source = source;
    this.negativeTtlMs = options.negativeTtlMs ?? 1000;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.unsubscribe = source.onChange((event) => {
      if (event.kind !== 'alias') return;
      this.generation++;
      this.cache.delete(`${event.app}/${event.function}@${event.alias}`);
      // A function that did not exist a moment ago may exist now.
      for (const [key, entry] of this.cache) if (entry.target === null && key.startsWith(`${event.app}/${event.function}@`)) this.cache.delete(key);
    });
  }

  /** The version an alias points at now, or null when the app, function or alias does not exist. */
  async resolveAlias(app: string, fn: string, alias: string): Promise<ResolvedTarget | null> {
    const key = `${app}/${fn}@${alias}`;
    const hit = this.cache.get(key);
    if (hit !== undefined && (hit.target !== null || hit.expires > Date.now())) return hit.target;
    const generation = this.generation;
    const target = await this.source.resolve(app, fn, alias);
    if (generation === this.generation) this.remember(key, target);
    return target;
  }

  /** A pinned version (immutable, so cached until evicted), or null when it does not exist. */
  async resolveVersion(app: string, fn: string, versionId: string): Promise<ResolvedTarget | null> {
    const key = `${app}/${fn}#${versionId}`;
    const hit = this.cache.get(key);
    if (hit !== undefined && (hit.target !== null || hit.expires > Date.now())) return hit.target;
    const version = await this.source.getVersion(app, fn, versionId);
    const target = version === null ? null : { app, function: fn, alias: '', versionId: version.id, limits: version.limits, auth: version.auth, canary: null };
    this.remember(key, target);
    return target;
  }

  /** Forget every cached alias resolution (e.g. after a runtime missed change events). */
  clear(): void {
    this.generation++;
    this.cache.clear();
  }

  close(): void {
    this.unsubscribe();
    this.cache.clear();
  }

  private remember(key: string, target: ResolvedTarget | null): void {
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, { target, expires: Date.now() + this.negativeTtlMs });
  }
}
