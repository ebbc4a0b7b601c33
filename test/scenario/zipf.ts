/**
 * Deterministic randomness for load scenarios: a seeded PRNG (mulberry32) and a Zipf sampler,
 * so a scenario that fails can be replayed exactly from its seed.
 */

/** A uniform random source on [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a small, fast 32-bit PRNG with a full 2^32 period; good enough for workload
 * generation (not for cryptography).
 * @param seed any integer; the same seed yields the same sequence
 * @returns a function returning floats in [0, 1)
 */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A uniform integer in [min, max] (both inclusive).
 * @throws RangeError when max < min or either is not an integer
 */
export function randomInt(rng: Rng, min: number, max: number): number {
  if (!Number.isInteger(min) || !Number.isInteger(max) || max < min) throw new RangeError(`randomInt: bad range [${min}, ${max}]`);
  return min + Math.floor(rng() * (max - min + 1));
}

/**
 * A Zipf sampler over ranks 0..n-1: P(rank k) = (k+1)^-s / H(n, s), so rank 0 is the most
 * popular. Uses an inverse-CDF table (O(n) memory, O(log n) per sample).
 * @param n number of items, >= 1
 * @param s exponent, > 0 (≈1 for "a few items get most of the traffic"; 1.1 in our scenarios)
 * @throws RangeError on a bad n or s
 */
export function createZipf(n: number, s: number, rng: Rng): { sample(): number; probability(rank: number): number } {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`createZipf: n must be a positive integer, got ${n}`);
  if (!(s > 0)) throw new RangeError(`createZipf: s must be > 0, got ${s}`);
  const weights = Array.from({ length: n }, (_, k) => (k + 1) ** -s);
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const cdf: number[] = [];
  let running = 0;
  for (const weight of weights) {
    running += weight / total;
    cdf.push(running);
  }
  cdf[n - 1] = 1;
  return {
    sample() {
      const u = rng();
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cdf[mid] > u) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    },
    probability(rank: number) {
      return weights[rank] / total;
    },
  };
}
