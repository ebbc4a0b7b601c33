/**
 * Argument and option parsers of the `faas` commands. Each throws commander's
 * `InvalidArgumentError`, which commander prints as a usage error (exit 2) naming the argument.
 */
import { InvalidArgumentError } from 'commander';

/** A function target given as `app/function`. */
export interface Target {
  app: string;
  fn: string;
}

/** `app/fn` → parts. @throws InvalidArgumentError when not exactly two non-empty segments */
export function parseTarget(value: string): Target {
  const match = /^([^/\s]+)\/([^/\s]+)$/.exec(value);
  if (match === null) throw new InvalidArgumentError(`expected <app>/<function>, e.g. demo/live-stream (got "${value}")`);
  return { app: match[1], fn: match[2] };
}

/** A decimal integer >= 1. @throws InvalidArgumentError */
export function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

/**
 * A canary weight: the percent of an alias's traffic sent to the canary, an integer 1–99
 * (`10` or `10%`). The range is the control plane's (`setAlias`): 0 or 100 is not a split.
 * @throws InvalidArgumentError
 */
export function parseWeight(value: string): number {
  const match = /^(\d{1,3})%?$/.exec(value.trim());
  const weight = match === null ? Number.NaN : Number(match[1]);
  if (!Number.isInteger(weight) || weight < 1 || weight > 99) {
    throw new InvalidArgumentError(`expected the percent of traffic for the canary, an integer from 1 to 99 (got "${value}"); to send everything to one version, use \`faas alias set\` without --weight`);
  }
  return weight;
}

/** JSON text → value. @throws InvalidArgumentError with the parser's message and a quoting hint */
export function parseJson(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw new InvalidArgumentError(`not valid JSON (${(error as Error).message}); quote it for your shell, e.g. --data '{"a":1}'`);
  }
}

/**
 * Epoch ms, an ISO date, or a relative duration like `10m`, `2h`, `30s` (ms, s, m, h, d) → epoch ms.
 * @throws InvalidArgumentError
 */
export function parseSince(value: string, now: number = Date.now()): number {
  const relative = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (relative !== null) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return now - Number(relative[1]) * unit;
  }
  if (/^\d+$/.test(value)) return Number(value);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new InvalidArgumentError('expected epoch milliseconds, an ISO date, or a duration like 10m');
  return parsed;
}

/** Collect a repeatable option (`--app a --app b,c`) into a list; commas split too. */
export function collectList(value: string, previous: string[] | undefined): string[] {
  const items = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (items.length === 0) throw new InvalidArgumentError('expected a name (or several, comma-separated)');
  return [...(previous ?? []), ...items];
}

/** The platform URL as typed: must be absolute http(s). @throws InvalidArgumentError */
export function parseUrl(value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new InvalidArgumentError(`expected an absolute URL like http://127.0.0.1:8080 (got "${value}")`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InvalidArgumentError(`only http and https URLs are supported (got "${value}")`);
  return value.replace(/\/+$/, '');
}
