/**
 * A small reader of the Prometheus text exposition format (0.0.4) for tests: one sample per line
 * `name{label="value",…} number`, comments skipped. Enough for asserting on `/metrics`.
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample line of `text` (HELP/TYPE comments and blank lines skipped). */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k as string] = v as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the first sample named `name` whose labels include `labels`, or undefined. */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there is none). */
export function sampleSum(samples: Sample[], name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const s of samples) if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  return sum;
}

/** Metric family names that have more than one `# HELP` line (Prometheus refuses such a scrape). */
export function duplicateFamilies(text: string): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const m of text.matchAll(/^# HELP (\S+) /gm)) {
    const name = m[1] as string;
    if (seen.has(name)) dup.add(name);
    seen.add(name);
  }
  return [...dup];
}
