/**
 * The options a function may pass to `ctx.rpc.grpc(service, method, message, options)`, checked
 * before anything is sent.
 */
import type { PlatformError } from '../../runtime/errors.ts';
import { builtinError } from '../errors.ts';
import { MAX_DEADLINE_MS } from './config.ts';

/** Per-call options the function may pass as the 4th argument, checked. */
export interface CallOptions {
  /** Shortens the service's deadline for this call, ms (null: not given). */
  deadlineMs: number | null;
  /** Extra request metadata, `[key, value]` pairs in the function's order. */
  metadata: ReadonlyArray<readonly [string, string]>;
}

const OPT_KEYS = ['deadlineMs', 'metadata'];
const METADATA_KEY = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const METADATA_VALUE = /^[\x20-\x7e]{0,4096}$/;
const RESERVED_HEADERS = new Set(['content-type', 'te', 'user-agent', 'host', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'authority']);
const MAX_METADATA_ENTRIES = 32;
const MAX_METADATA_BYTES = 8192;

/** An `E_GRPC_BAD_ARGUMENTS` error. */
export function badArgs(message: string, details: Record<string, unknown> = {}): PlatformError {
  return builtinError('E_GRPC_BAD_ARGUMENTS', message, details);
}

/** `null`, `an array`, `an object`, or the `typeof` of a value, for messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * Check the function's 4th argument: `{ deadlineMs?: integer 1–60000, metadata?: { key: value } }`.
 * Metadata keys: lower-case `[a-z0-9][a-z0-9_.-]{0,63}`, not `grpc-*`, `x-faas-*`, HTTP/2
 * connection headers or `-bin`; values printable ASCII up to 4096 characters; at most 32 entries
 * and 8192 bytes in all (gRPC servers commonly refuse more than 8 KiB of headers).
 * @throws PlatformError E_GRPC_BAD_ARGUMENTS (details `field`)
 */
export function parseCallOptions(value: unknown): CallOptions {
  if (value === undefined || value === null) return { deadlineMs: null, metadata: [] };
  if (typeof value !== 'object' || Array.isArray(value)) throw badArgs(`ctx.rpc.grpc: options (4th argument) must be an object { deadlineMs?, metadata? }, got ${describeValue(value)}`);
  const opts = value as Record<string, unknown>;
  for (const key of Object.keys(opts)) {
    if (!OPT_KEYS.includes(key)) throw badArgs(`ctx.rpc.grpc: unknown option "${key}"; the options are deadlineMs, metadata`, { field: `options.${key}` });
  }
  let deadlineMs: number | null = null;
  if (opts.deadlineMs !== undefined) {
    const d = opts.deadlineMs;
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 1 || d > MAX_DEADLINE_MS) throw badArgs(`ctx.rpc.grpc: options.deadlineMs must be an integer from 1 to ${MAX_DEADLINE_MS} (ms), got ${JSON.stringify(d)}`, { field: 'options.deadlineMs' });
    deadlineMs = d;
  }
  const metadata: [string, string][] = [];
  if (opts.metadata !== undefined) {
    const md = opts.metadata;
    if (typeof md !== 'object' || md === null || Array.isArray(md)) throw badArgs(`ctx.rpc.grpc: options.metadata must be an object of header names to string values, got ${describeValue(md)}`, { field: 'options.metadata' });
    let bytes = 0;
    for (const [key, v] of Object.entries(md as Record<string, unknown>)) {
      const field = `options.metadata.${key}`;
      if (!METADATA_KEY.test(key) || key.endsWith('-bin')) throw badArgs(`ctx.rpc.grpc: metadata key "${key.slice(0, 80)}" must be lower-case letters, digits, "-", "_", "." (1–64 characters, no "-bin" suffix)`, { field });
      if (key.startsWith('grpc-') || key.startsWith('x-faas-') || RESERVED_HEADERS.has(key)) throw badArgs(`ctx.rpc.grpc: metadata key "${key}" is reserved (grpc-*, x-faas-* and HTTP/2 connection headers are set by the platform)`, { field });
      if (typeof v !== 'string' || !METADATA_VALUE.test(v)) throw badArgs(`ctx.rpc.grpc: metadata "${key}" must be a string of printable ASCII, at most 4096 characters`, { field });
      bytes += key.length + v.length;
      metadata.push([key, v]);
    }
    if (metadata.length > MAX_METADATA_ENTRIES || bytes > MAX_METADATA_BYTES) throw badArgs(`ctx.rpc.grpc: metadata may have at most ${MAX_METADATA_ENTRIES} entries and ${MAX_METADATA_BYTES} bytes`, { field: 'options.metadata' });
  }
  return { deadlineMs, metadata };
}
