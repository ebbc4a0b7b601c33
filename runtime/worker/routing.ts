/**
 * Rendezvous (highest random weight) hashing of version keys over worker indexes: the gateway
 * process uses it to route an invocation to a worker (shape (a)), and a worker serving HTTP itself
 * (shape (b)) uses it to tell whether it owns a version. Same inputs, same owner, in every process.
 */

/** Rank of worker `index` for `key` (FNV-1a 32-bit, mixed with the index, then finalised). Higher wins. */
export function rendezvousScore(key: string, index: number): number {
  let h = 0x811c9dc5 ^ (index * 0x9e3779b1);
  for (let c = 0; c < key.length; c++) {
    h ^= key.charCodeAt(c);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
}

/** The index among `indexes` with the highest score for `key`; -1 when `indexes` is empty. */
export function ownerOf(key: string, indexes: readonly number[]): number {
  let best = -1;
  let bestScore = -1;
  for (const i of indexes) {
    const s = rendezvousScore(key, i);
    if (s > bestScore) { best = i; bestScore = s; }
  }
  return best;
}
