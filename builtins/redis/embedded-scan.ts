/**
 * SCAN, HSCAN, SSCAN and ZSCAN for the embedded store, which cannot use ioredis-mock's own: the
 * mock matches globs on UTF-16 code units with a matcher that takes `k1?` to match `k1`, ignores
 * `\` escapes in SCAN and pages by array index (a key deleted between two calls shifts the
 * others, so a key present the whole time can be skipped).
 *
 * - `globMatch` is Redis's matcher (util.c `stringmatchlen_impl`, Redis 7.0.9+: with the
 *   `skipLongerMatches` cut and the nesting limit of 1000) on UTF-8 bytes, so `?` matches one
 *   byte, as in Redis.
 * - `scanPage` pages by a 32-bit FNV-1a hash of each element: a cursor is "the next hash to
 *   visit, plus one" and a page never splits elements of equal hash. Like Redis's own cursor
 *   (redis.io/commands/scan, "Scan guarantees"), an element present from the first call to the
 *   last is returned, here exactly once; elements added or removed meanwhile may or may not be.
 *   Cursors are plain integers, stateless, and `0` ends the iteration. `COUNT` is how many
 *   elements one call visits, before `MATCH` filters them (so a page can be empty while the
 *   cursor is not `0`, as in Redis).
 */

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const BACKSLASH = 0x5c;
const CARET = 0x5e;
const DASH = 0x2d;

/** The byte at `i`, or 0 past the end (Redis strings are NUL-terminated, its matcher reads that NUL). */
function at(bytes: Uint8Array, i: number): number {
  return i < bytes.length ? bytes[i] : 0;
}

/** A byte as C's signed `char` (x86), which Redis compares in `[a-z]` ranges. */
function signed(byte: number): number {
  return (byte << 24) >> 24;
}

interface MatchState {
  skipLongerMatches: boolean;
}

/** Port of Redis util.c `stringmatchlen_impl` (case-sensitive); `pl`/`sl` are the bytes left from `pi`/`si`. */
function matchFrom(p: Uint8Array, pi: number, pl: number, s: Uint8Array, si: number, sl: number, state: MatchState, nesting: number): boolean {
  if (nesting > 1000) return false;
  while (pl > 0 && sl > 0) {
    switch (at(p, pi)) {
      case STAR: {
        while (pl > 0 && at(p, pi + 1) === STAR) {
          pi++;
          pl--;
        }
        if (pl === 1) return true;
        while (sl > 0) {
          if (matchFrom(p, pi + 1, pl - 1, s, si, sl, state, nesting + 1)) return true;
          if (state.skipLongerMatches) return false;
          si++;
          sl--;
        }
        // The rest of the pattern matches nowhere in the rest of the string: no longer match of an
        // earlier `*` can help either.
        state.skipLongerMatches = true;
        return false;
      }
      case QUESTION:
        si++;
        sl--;
        break;
      case OPEN: {
        pi++;
        pl--;
        const not = at(p, pi) === CARET;
        if (not) {
          pi++;
          pl--;
        }
        let match = false;
        for (;;) {
          if (at(p, pi) === BACKSLASH && pl >= 2) {
            pi++;
            pl--;
            if (at(p, pi) === at(s, si)) match = true;
          } else if (at(p, pi) === CLOSE) {
            break;
          } else if (pl === 0) {
            pi--;
            pl++;
            break;
          } else if (pl >= 3 && at(p, pi + 1) === DASH) {
            let start = signed(at(p, pi));
            let end = signed(at(p, pi + 2));
            const c = signed(at(s, si));
            if (start > end) [start, end] = [end, start];
            pi += 2;
            pl -= 2;
            if (c >= start && c <= end) match = true;
          } else if (at(p, pi) === at(s, si)) {
            match = true;
          }
          pi++;
          pl--;
        }
        if (not) match = !match;
        if (!match) return false;
        si++;
        sl--;
        break;
      }
      case BACKSLASH:
        if (pl >= 2) {
          pi++;
          pl--;
        }
        if (at(p, pi) !== at(s, si)) return false;
        si++;
        sl--;
        break;
      default:
        if (at(p, pi) !== at(s, si)) return false;
        si++;
        sl--;
        break;
    }
    pi++;
    pl--;
    if (sl === 0) {
      while (at(p, pi) === STAR) {
        pi++;
        pl--;
      }
      break;
    }
  }
  return pl === 0 && sl === 0;
}

/**
 * Whether `subject` matches the Redis glob `pattern`, exactly as Redis's KEYS/SCAN MATCH decide
 * (on UTF-8 bytes, case-sensitive): `*` any bytes, `?` one byte, `[abc]`, `[^a]`, `[a-z]`, `\x` a
 * literal `x`.
 * @example globMatch('room:[0-9]*', 'room:42') // true
 */
export function globMatch(pattern: string, subject: string): boolean {
  const p = Buffer.from(pattern, 'utf8');
  const s = Buffer.from(subject, 'utf8');
  return matchFrom(p, 0, p.length, s, 0, s.length, { skipLongerMatches: false }, 0);
}

/** 32-bit FNV-1a of the UTF-8 bytes of `text` (its position in the embedded scan order). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** One element a scan visits: `id` is what MATCH and the cursor look at, `reply` what it adds to the page. */
export interface ScanItem {
  readonly id: string;
  readonly reply: readonly string[];
}

/**
 * One page of an embedded SCAN-family iteration.
 * @param items every element of the collection (keys, hash fields, members), in any order
 * @param cursor the cursor the caller sent (decimal, `0` to start); host.ts checked it is an unsigned 64-bit integer
 * @param count how many elements to visit (COUNT, default 10); more when several share a hash
 * @param match a Redis glob over `id`, or `null` for all
 * @returns `[next cursor, flat reply of the matching visited elements]`; the cursor is `'0'` at the end
 */
export function scanPage(items: readonly ScanItem[], cursor: string, count: number, match: string | null): [string, string[]] {
  const from = BigInt(cursor) === 0n ? 0 : Number(BigInt(cursor) - 1n);
  const ordered = items
    .map((item) => ({ item, hash: fnv1a(item.id) }))
    .filter(({ hash }) => hash >= from)
    .sort((a, b) => a.hash - b.hash || (a.item.id < b.item.id ? -1 : a.item.id > b.item.id ? 1 : 0));
  let end = Math.min(count, ordered.length);
  while (end < ordered.length && end > 0 && ordered[end].hash === ordered[end - 1].hash) end++;
  const page = ordered.slice(0, end).filter(({ item }) => match === null || globMatch(match, item.id));
  const next = end < ordered.length ? String(ordered[end].hash + 1) : '0';
  return [next, page.flatMap(({ item }) => item.reply)];
}
