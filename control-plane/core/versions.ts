/**
 * Version ids are content hashes, so uploading the same code with the same limits twice yields the
 * same version (deploys are idempotent and the id says what runs).
 */
import { createHash } from 'node:crypto';
import type { AuthMode, FunctionLimits } from './types.ts';

/** Shape of a version id: 20 lowercase hex characters (80 bits of SHA-256). */
export const VERSION_ID_PATTERN = /^[0-9a-f]{20}$/;

/**
 * JSON with object keys sorted at every depth, so equal values always serialise the same way.
 * @param value JSON-compatible data (no cycles, no functions, no bigint)
 * @returns the canonical JSON text
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/**
 * The version id of `code` deployed with `limits`: the first 20 hex characters of
 * SHA-256(canonicalJson(limits) + "\0" + code). JSON text never contains a raw NUL, so the
 * boundary between the two parts is unambiguous.
 * @param code the module source (hashed as UTF-8)
 * @param limits the complete limits the version runs with
 * @param auth the version's auth mode; `none` hashes exactly as before auth modes existed (ids of
 *   stored versions stay valid), `required` adds `"\0auth=required"` after the code
 * @returns 20 lowercase hex characters
 */
export function computeVersionId(code: string, limits: FunctionLimits, auth: AuthMode = 'none'): string {
  const hash = createHash('sha256').update(canonicalJson(limits)).update('\0').update(code, 'utf8');
  if (auth !== 'none') hash.update(`\0auth=${auth}`);
  return hash.digest('hex').slice(0, 20);
}
