/**
 * Turning what comes out of an isolate into what the platform sends. The reply envelope is built
 * by isolate-bootstrap.js, but user code runs in the same realm and can tamper with it (patched
 * prototypes, toJSON, huge strings), so every field is checked and bounded here as if hostile.
 */
import { BUILTIN_ERRORS } from '../../builtins/errors.ts';
import { RUNTIME_ERRORS, runtimeError, type PlatformError } from '../errors.ts';
import type { UserMetricSample } from './interface.ts';

/** Bounds on what a function's answer may carry besides the body (the body has `maxResponseBytes`). */
export const REPLY_LIMITS = Object.freeze({
  /** Characters kept of an error message. */
  maxMessageChars: 4096,
  /** Characters kept of the user stack frames written to the logs. */
  maxStackChars: 4096,
  /** Response headers a function may set. */
  maxHeaders: 64,
  /** Total bytes of header names and values (the same order as common proxies' 16–64 KiB caps). */
  maxHeaderBytes: 16 * 1024,
  /** Builtin calls one invocation may make (each is served even if not awaited). */
  maxCalls: 10_000,
  /** `ctx.metrics` samples kept per invocation. */
  maxMetricSamples: 1000,
  /** Labels per `ctx.metrics` sample, and characters per label value. */
  maxMetricLabels: 5,
  maxMetricLabelChars: 128,
});

const METRIC_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const LABEL_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const METRIC_KINDS = new Set(['counter', 'gauge', 'histogram']);

/**
 * Keep the well-formed `ctx.metrics` samples: a known kind, a metric name and label names of
 * lower-case letters, digits and `_` (label `app` is the platform's), at most 5 labels, finite
 * values (counters: ≥ 0). Malformed samples are dropped (counted by the caller as dropped).
 */
export function decodeMetricSamples(raw: unknown): { samples: UserMetricSample[]; dropped: number } {
  if (!Array.isArray(raw)) return { samples: [], dropped: 0 };
  const samples: UserMetricSample[] = [];
  let dropped = Math.max(0, raw.length - REPLY_LIMITS.maxMetricSamples);
  for (const item of raw.slice(0, REPLY_LIMITS.maxMetricSamples) as unknown[]) {
    const s = item as { kind?: unknown; name?: unknown; value?: unknown; labels?: unknown };
    const labels = s.labels !== null && typeof s.labels === 'object' && !Array.isArray(s.labels) ? Object.entries(s.labels as Record<string, unknown>) : null;
    const ok = typeof s.kind === 'string' && METRIC_KINDS.has(s.kind) && typeof s.name === 'string' && METRIC_NAME.test(s.name)
      && typeof s.value === 'number' && Number.isFinite(s.value) && !(s.kind === 'counter' && s.value < 0)
      && labels !== null && labels.length <= REPLY_LIMITS.maxMetricLabels
      && labels.every(([k, v]) => LABEL_NAME.test(k) && k !== 'app' && typeof v === 'string' && v.length <= REPLY_LIMITS.maxMetricLabelChars);
    if (!ok) { dropped++; continue; }
    samples.push({ kind: s.kind as UserMetricSample['kind'], name: s.name as string, value: s.value as number, labels: Object.fromEntries(labels as Array<[string, string]>) });
  }
  return { samples, dropped };
}

/** Headers the platform owns; a function cannot set them. */
const RESERVED_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'trailer', 'te', 'proxy-connection', 'x-faas-request-id', 'x-faas-version', 'x-faas-cold-start', 'x-faas-trace-id', 'server-timing']);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
const USER_CODE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const ENCODINGS = new Set(['json', 'text', 'base64', 'none']);

/** A failure decoded from a reply, with the HTTP status to answer. */
export interface DecodedFailure {
  ok: false;
  status: number;
  error: { code: string; message: string; [detail: string]: unknown };
  calls: number;
  metrics: UserMetricSample[];
  /** The function's own stack frames, for the logs (never sent to the client). */
  stack?: string;
}

/** A decoded reply: a response to send, or a failure with its HTTP status. */
export type DecodedReply =
  | { ok: true; status: number; headers: Record<string, string>; body: string | null; encoding: 'json' | 'text' | 'base64' | 'none'; calls: number; metrics: UserMetricSample[] }
  | DecodedFailure;

/** HTTP status of a builtin or runtime catalog code, or undefined for codes of neither catalog. */
export function catalogStatus(code: string): number | undefined {
  const spec = (BUILTIN_ERRORS as Record<string, { status: number }>)[code] ?? (RUNTIME_ERRORS as Record<string, { status: number }>)[code];
  return spec?.status;
}

const text = (value: unknown, max: number): string => (typeof value === 'string' ? value : String(value ?? '')).slice(0, max);

function failure(error: PlatformError, calls: number, metrics: UserMetricSample[] = []): DecodedFailure {
  return { ok: false, status: error.status, error: error.toJSON().error, calls, metrics };
}

/**
 * Decode and validate the bootstrap's reply JSON.
 * @param replyJson the string returned by `dispatch` in the isolate
 * @param maxResponseBytes the version's response limit, in bytes
 * @returns the response, or a failure carrying a catalog (or the function's own HttpError) code
 */
export function decodeReply(replyJson: unknown, maxResponseBytes: number): DecodedReply & { metricsDropped: number } {
  let reply: Record<string, unknown>;
  try {
    const parsed: unknown = typeof replyJson === 'string' ? JSON.parse(replyJson) : null;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    reply = parsed as Record<string, unknown>;
  } catch {
    return { ...failure(runtimeError('E_BAD_RESPONSE', 'the function\'s answer could not be read'), 0), metricsDropped: 0 };
  }
  const { samples, dropped } = decodeMetricSamples(reply.metrics);
  return { ...decodeFields(reply, maxResponseBytes), metrics: samples, metricsDropped: dropped };
}

/** The answer's fields other than `metrics` (returned with `metrics: []`). */
function decodeFields(reply: Record<string, unknown>, maxResponseBytes: number): DecodedReply {
  const calls = typeof reply.calls === 'number' && Number.isInteger(reply.calls) && reply.calls >= 0 ? Math.min(reply.calls, REPLY_LIMITS.maxCalls) : 0;
  const bad = (message: string) => failure(runtimeError('E_BAD_RESPONSE', message), calls);

  if (reply.t === 'ok') {
    const { status, body, encoding } = reply;
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
      return bad(`the function returned an invalid status ${JSON.stringify(status)?.slice(0, 40)}: use an integer from 200 to 599`);
    }
    if (typeof encoding !== 'string' || !ENCODINGS.has(encoding)) return bad('the function\'s answer has an unknown body encoding');
    if (!(body === null || typeof body === 'string') || (encoding === 'none') !== (body === null)) return bad('the function\'s answer has an invalid body');
    const rawHeaders = reply.headers;
    if (rawHeaders === null || typeof rawHeaders !== 'object' || Array.isArray(rawHeaders)) return bad('the function\'s answer has invalid headers');
    const entries = Object.entries(rawHeaders as Record<string, unknown>);
    if (entries.length > REPLY_LIMITS.maxHeaders) return bad(`the function set ${entries.length} headers; at most ${REPLY_LIMITS.maxHeaders} are allowed`);
    const headers: Record<string, string> = {};
    let headerBytes = 0;
    for (const [name, value] of entries) {
      if (typeof value !== 'string' || !HEADER_NAME.test(name) || /[\r\n\0]/.test(value)) {
        return bad(`the function returned an invalid header ${JSON.stringify(name.slice(0, 64))}: names are tokens and values are strings without line breaks`);
      }
      headerBytes += name.length + Buffer.byteLength(value);
      if (headerBytes > REPLY_LIMITS.maxHeaderBytes) return bad(`the function's headers exceed ${REPLY_LIMITS.maxHeaderBytes} bytes`);
      const lower = name.toLowerCase();
      if (!RESERVED_HEADERS.has(lower)) headers[lower] = value;
    }
    const bytes = body === null ? 0 : Buffer.byteLength(body, encoding === 'base64' ? 'base64' : 'utf8');
    if (bytes + headerBytes > maxResponseBytes) return tooLarge(bytes + headerBytes, maxResponseBytes, calls);
    return { ok: true, status, headers, body, encoding: encoding as 'json' | 'text' | 'base64' | 'none', calls, metrics: [] };
  }
  if (reply.t !== 'error') return bad('the function\'s answer could not be read');
  const message = text(reply.message, REPLY_LIMITS.maxMessageChars);
  switch (reply.kind) {
    case 'http': {
      const status = typeof reply.status === 'number' && Number.isInteger(reply.status) && reply.status >= 400 && reply.status <= 599 ? reply.status : 500;
      const code = typeof reply.code === 'string' && USER_CODE.test(reply.code) ? reply.code : `HTTP_${status}`;
      return { ok: false, status, error: { code, message }, calls, metrics: [] };
    }
    case 'function':
      return { ...failure(runtimeError('E_FUNCTION_ERROR', message), calls), stack: text(reply.stack, REPLY_LIMITS.maxStackChars) };
    case 'builtin': {
      // An uncaught builtin error keeps its code and its catalog's status (e.g. 503 when Redis is down).
      const code = typeof reply.code === 'string' ? reply.code : '';
      const status = catalogStatus(code);
      if (status === undefined) return failure(runtimeError('E_FUNCTION_ERROR', message), calls);
      return { ok: false, status, error: { code, message }, calls, metrics: [] };
    }
    case 'bad-request':
      return failure(runtimeError('E_BAD_REQUEST', message), calls);
    case 'too-large':
      return tooLarge(null, maxResponseBytes, calls);
    case 'response':
      return bad(message);
    default:
      return bad('the function\'s answer could not be read');
  }
}

function tooLarge(bytes: number | null, limit: number, calls: number): DecodedReply {
  return failure(runtimeError('E_RESPONSE_TOO_LARGE', `the response${bytes === null ? '' : ` (${bytes} bytes with headers)`} exceeds the function's maxResponseBytes limit of ${limit} bytes`, { limitBytes: limit }), calls);
}
