/** Small statistics and formatting helpers for the benchmark tables. */

/** The `p`-th percentile (0–100) of `values` by nearest rank; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** Median of `values` (percentile 50 by nearest rank). */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** `12,345` style integer. */
export function int(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

/** Milliseconds with two decimals, `'n/a'` for NaN. */
export function ms(n: number, digits = 2): string {
  return Number.isFinite(n) ? `${n.toFixed(digits)} ms` : 'n/a';
}

/** Bytes as MiB or GiB. */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  const mib = n / (1024 * 1024);
  return mib >= 1024 ? `${(mib / 1024).toFixed(2)} GiB` : `${mib.toFixed(1)} MiB`;
}

/** A median with its spread: `12,345 (11,900–12,600)`. */
export function spread(values: readonly number[], format: (n: number) => string = int): string {
  if (values.length === 0) return 'n/a';
  return `${format(median(values))} (${format(Math.min(...values))}–${format(Math.max(...values))})`;
}

/** A markdown table. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * A benchmark knob from the environment: `fallback` when unset or empty.
 * @throws Error naming the variable when it is not a finite non-negative number.
 */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return n;
}
