/**
 * Per-function limits: defaults and validation. The bounds keep one function from starving a
 * worker: isolated-vm refuses heaps under 8 MiB, and 1 GiB is the most one isolate may take on a
 * shared worker; a CPU budget above 30 s or a wall clock above 5 min belongs in an async job,
 * not a request.
 */
import { cpError } from '../errors.ts';
import type { FunctionLimits } from './types.ts';

const MiB = 1024 * 1024;

/** Inclusive bounds of each limit, with its unit for messages. */
export const LIMIT_BOUNDS: Readonly<Record<keyof FunctionLimits, { readonly min: number; readonly max: number; readonly unit: string }>> = Object.freeze({
  memoryLimitMiB: { min: 8, max: 1024, unit: 'MiB' },
  cpuTimeMs: { min: 1, max: 30_000, unit: 'ms' },
  wallTimeMs: { min: 1, max: 300_000, unit: 'ms' },
  maxBodyBytes: { min: 0, max: 32 * MiB, unit: 'bytes' },
  maxResponseBytes: { min: 0, max: 32 * MiB, unit: 'bytes' },
});

/**
 * The default limits of a new function, as a fresh frozen object:
 * memoryLimitMiB 128, cpuTimeMs 200, wallTimeMs 5000, maxBodyBytes 1 MiB, maxResponseBytes 6 MiB.
 */
export function defaultLimits(): FunctionLimits {
  return Object.freeze({
    memoryLimitMiB: 128,
    cpuTimeMs: 200,
    wallTimeMs: 5000,
    maxBodyBytes: 1 * MiB,
    maxResponseBytes: 6 * MiB,
  });
}

/**
 * Merge a partial set of limits over `base` and check every field.
 * @param partial user input: an object whose keys are `FunctionLimits` fields with integer values;
 *   `undefined`/`null` means "no change"
 * @param base the limits to start from (the function's current limits, or `defaultLimits()`)
 * @returns a complete, frozen `FunctionLimits`
 * @throws PlatformError E_VALIDATION (400) with details `{ field }` when `partial` is not an object,
 *   has an unknown field, a non-integer value, a value outside `LIMIT_BOUNDS`, or
 *   `cpuTimeMs` above `wallTimeMs` (CPU time cannot exceed wall time).
 */
export function validateLimits(partial: unknown, base: FunctionLimits = defaultLimits()): FunctionLimits {
  if (partial === undefined || partial === null) return Object.freeze({ ...base });
  if (typeof partial !== 'object' || Array.isArray(partial)) {
    throw cpError('E_VALIDATION', 'limits must be an object such as { "memoryLimitMiB": 128, "cpuTimeMs": 200 }', { field: 'limits' });
  }
  const result: FunctionLimits = { ...base };
  for (const [key, value] of Object.entries(partial)) {
    if (!Object.hasOwn(LIMIT_BOUNDS, key)) {
      throw cpError('E_VALIDATION', `limits.${key} is not a known limit; known limits: ${Object.keys(LIMIT_BOUNDS).join(', ')}`, { field: `limits.${key}` });
    }
    if (value === undefined || value === null) continue;
    const field = key as keyof FunctionLimits;
    const { min, max, unit } = LIMIT_BOUNDS[field];
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw cpError('E_VALIDATION', `limits.${field} must be an integer number of ${unit}, got ${JSON.stringify(value)}`, { field: `limits.${field}` });
    }
    if (value < min || value > max) {
      throw cpError('E_VALIDATION', `limits.${field} must be between ${min} and ${max} ${unit}, got ${value}`, { field: `limits.${field}`, min, max });
    }
    result[field] = value;
  }
  if (result.cpuTimeMs > result.wallTimeMs) {
    throw cpError('E_VALIDATION', `limits.cpuTimeMs (${result.cpuTimeMs} ms) must not exceed limits.wallTimeMs (${result.wallTimeMs} ms): CPU time cannot exceed wall time`, { field: 'limits.cpuTimeMs' });
  }
  return Object.freeze(result);
}
