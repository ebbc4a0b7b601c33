/**
 * gRPC statuses as the builtin sees them: which ones are retried, which ones count against a
 * target's circuit breaker, and how a failed call becomes a catalog error the function can read.
 */
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import type { PlatformError } from '../../runtime/errors.ts';
import { builtinError } from '../errors.ts';

/**
 * Statuses retried for idempotent methods: the server (or the way to it) was unavailable,
 * overloaded, or too slow; the gRPC retry design (A6) names the same transient set.
 */
export const RETRYABLE: ReadonlySet<Status> = new Set([Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.RESOURCE_EXHAUSTED]);

/** Longest server `details` text carried into an error message, in characters. */
const MAX_DETAILS_CHARS = 1000;

/** The status name of a code (`NOT_FOUND`), or `STATUS_<n>` for a code grpc-js does not know. */
export function statusName(code: number): string {
  const name = (Status as unknown as Record<number, string | undefined>)[code];
  return typeof name === 'string' ? name : `STATUS_${code}`;
}

/** A grpc-js call error (`ServiceError`): a numeric `code` and a `details` string. */
export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && typeof (err as { details?: unknown }).details === 'string';
}

/**
 * True for a RESOURCE_EXHAUSTED raised by our own client because a message exceeded the size
 * limit (grpc-js's text): retrying cannot help and the target is healthy.
 */
export function isLocalSizeLimit(err: ServiceError): boolean {
  return err.code === Status.RESOURCE_EXHAUSTED && /message larger than max/i.test(err.details);
}

/**
 * Whether a failure says something about the target's health (counts for its breaker):
 * UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (not our own size limit). A status the
 * server chose (NOT_FOUND, INVALID_ARGUMENT, …) proves the target is up.
 */
export function isTargetFailure(err: unknown): boolean {
  return isServiceError(err) && RETRYABLE.has(err.code) && !isLocalSizeLimit(err);
}

/** What a failed call was, for messages. */
export interface CallSite {
  /** Declared service name (`inventory`). */
  service: string;
  method: string;
  /** Declared target `host:port`. */
  target: string;
  attempts: number;
  /** The call's whole time budget, ms. */
  budgetMs: number;
  /** The service's `deadlineMs`. */
  deadlineMs: number;
}

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_DETAILS_CHARS ? `${oneLine.slice(0, MAX_DETAILS_CHARS)}…` : oneLine;
}

/**
 * Turn a grpc-js call error into the catalog error the function receives.
 * - UNAVAILABLE → `E_GRPC_UNAVAILABLE` (target down or unreachable; the server's or grpc-js's text);
 * - DEADLINE_EXCEEDED → `E_GRPC_DEADLINE`;
 * - any other status → `E_GRPC_STATUS` with the status name and the server's details text.
 * Details: `service`, `method`, `target`, `status` (name), `grpcCode`, `grpcDetails`, `attempts`.
 */
export function toCallError(err: ServiceError, site: CallSite): PlatformError {
  const name = statusName(err.code);
  const details = clip(err.details);
  const tries = site.attempts === 1 ? '1 attempt' : `${site.attempts} attempts`;
  const fields = { service: site.service, method: site.method, target: site.target, status: name, grpcCode: err.code, grpcDetails: details, attempts: site.attempts };
  const where = `${site.service}.${site.method}`;
  if (err.code === Status.UNAVAILABLE) {
    return builtinError('E_GRPC_UNAVAILABLE', `gRPC service "${site.service}" at ${site.target} is unavailable (${where}, ${tries}): ${details || 'no details'}. The server may be down or unreachable; retry later.`, fields);
  }
  if (err.code === Status.DEADLINE_EXCEEDED) {
    return builtinError('E_GRPC_DEADLINE', `${where} at ${site.target} did not answer within its deadline of ${site.budgetMs} ms (${tries}; the deadline is the service's deadlineMs ${site.deadlineMs} ms or the invocation's remaining time, whichever is shorter)${details ? `: ${details}` : ''}`, fields);
  }
  if (isLocalSizeLimit(err)) {
    return builtinError('E_GRPC_STATUS', `${where}: the response is larger than the builtin's message size limit (${details}); ask for less data per call`, fields);
  }
  return builtinError('E_GRPC_STATUS', `${where} failed: the server answered ${name}${details ? `: ${details}` : ' (no details)'}`, fields);
}
