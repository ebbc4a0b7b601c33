/**
 * A least-recently-used map bounded by entry count and, optionally, by a total weight (e.g. code
 * bytes). A Map keeps insertion order, so re-inserting on access makes the first key the least
 * recently used one. Small on purpose (no dependency): get, peek, set, delete, iteration.
 */
export class LruMap<K, V> {
  readonly #map = new Map<K, { value: V; weight: number }>();
  readonly #maxEntries: number;
  readonly #maxWeight: number;
  readonly #weigh: (value: V) => number;
  #weight = 0;

  /**
   * @param opts.maxEntries most entries kept (>= 1)
   * @param opts.maxWeight most total weight kept (e.g. bytes); an entry heavier than this alone is not kept. @default Infinity
   * @param opts.weigh weight of a value. @default () => 0
   * @throws TypeError when `maxEntries` is not a positive integer or `maxWeight` is not positive
   */
  constructor(opts: { maxEntries: number; maxWeight?: number; weigh?: (value: V) => number }) {
    if (!Number.isInteger(opts.maxEntries) || opts.maxEntries < 1) throw new TypeError(`LruMap: maxEntries must be a positive integer, got ${opts.maxEntries}`);
    const maxWeight = opts.maxWeight ?? Number.POSITIVE_INFINITY;
    if (!(maxWeight > 0)) throw new TypeError(`LruMap: maxWeight must be positive, got ${maxWeight}`);
    this.#maxEntries = opts.maxEntries;
    this.#maxWeight = maxWeight;
    this.#weigh = opts.weigh ?? (() => 0);
  }

  get size(): number {
    return this.#map.size;
  }

  /** Total weight of the entries kept. */
  get weight(): number {
    return this.#weight;
  }

  /** The value, marking it most recently used. */
  get(key: K): V | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, entry);
    return entry.value;
  }

  /** The value, without changing its recency. */
  peek(key: K): V | undefined {
    return this.#map.get(key)?.value;
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Store `value` as most recently used, evicting the least recently used entries past the bounds. */
  set(key: K, value: V): void {
    this.delete(key);
    const weight = this.#weigh(value);
    if (weight > this.#maxWeight) return;
    this.#map.set(key, { value, weight });
    this.#weight += weight;
    while (this.#map.size > this.#maxEntries || this.#weight > this.#maxWeight) {
      const oldest = this.#map.keys().next();
      if (oldest.done === true) break;
      this.delete(oldest.value);
    }
  }

  delete(key: K): boolean {
    const entry = this.#map.get(key);
    if (entry === undefined) return false;
    this.#map.delete(key);
    this.#weight -= entry.weight;
    return true;
  }

  clear(): void {
    this.#map.clear();
    this.#weight = 0;
  }

  /** Keys, least recently used first. */
  keys(): K[] {
    return [...this.#map.keys()];
  }

  /** Values, least recently used first (recency unchanged). */
  values(): V[] {
    return [...this.#map.values()].map((e) => e.value);
  }
}
