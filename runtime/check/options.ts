/**
 * Check options: validated once into a frozen, fully defaulted object (CONVENTIONS.md, habit 5).
 * Options are programmer input, so bad ones throw; user code never does.
 */
import type { CheckOptions, ResolvedCheckOptions } from './types.ts';

/** Defaults for every check option (see `CheckOptions` for meanings and units). */
export const DEFAULT_CHECK_OPTIONS: ResolvedCheckOptions = Object.freeze({
  maxCodeBytes: 1_048_576,
  maxNestingDepth: 200,
  maxDiagnostics: 100,
});

const KNOWN = new Set(Object.keys(DEFAULT_CHECK_OPTIONS));
const resolved = new WeakSet<object>();

function invalid(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

/**
 * Validate and default check options.
 * @param options partial options, or an object already returned by this function (returned as is)
 * @returns a frozen object with every field set (`maxCodeBytes` in bytes, `maxNestingDepth` in
 *   levels, `maxDiagnostics` a count)
 * @throws TypeError (code `ERR_INVALID_ARG_VALUE`) when `options` is not a plain object, has an
 *   unknown key, or a value that is not a positive safe integer
 * @example resolveCheckOptions({ maxCodeBytes: 512 * 1024 })
 */
export function resolveCheckOptions(options: CheckOptions | ResolvedCheckOptions = {}): ResolvedCheckOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalid(`check options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  }
  if (resolved.has(options)) return options as ResolvedCheckOptions;
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw invalid(`unknown check option "${key}"; known options: ${[...KNOWN].join(', ')}`);
  }
  const result = { ...DEFAULT_CHECK_OPTIONS };
  for (const key of Object.keys(DEFAULT_CHECK_OPTIONS) as (keyof CheckOptions)[]) {
    const value: unknown = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw invalid(`check option "${key}" must be a positive integer, got ${typeof value === 'number' ? value : typeof value}`);
    }
    result[key] = value;
  }
  const frozen = Object.freeze(result);
  resolved.add(frozen);
  return frozen;
}
