/**
 * Parse a `Server-Timing` header (W3C Server Timing, §3: `metric;dur=123.4;desc="…"`, metrics
 * separated by commas) into metric name → duration in ms. The gateway sends `cpu;dur=<ms>`.
 * Metrics without a numeric `dur` are left out; a malformed header gives an empty map, never throws.
 *
 * @param header the header value, or null when absent
 * @returns name (lower-cased) → duration in milliseconds
 * @example parseServerTiming('cpu;dur=1.25, db;desc="x";dur=3') // Map { cpu → 1.25, db → 3 }
 */
export function parseServerTiming(header: string | null | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (header === null || header === undefined) return out;
  for (const metric of header.split(',')) {
    const [rawName, ...params] = metric.split(';');
    const name = rawName?.trim().toLowerCase();
    if (name === undefined || name === '') continue;
    for (const param of params) {
      const eq = param.indexOf('=');
      if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'dur') continue;
      const value = Number(param.slice(eq + 1).trim().replace(/^"|"$/g, ''));
      if (Number.isFinite(value) && value >= 0) out.set(name, value);
    }
  }
  return out;
}
