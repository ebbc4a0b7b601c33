/**
 * The control plane's gRPC contract as TypeScript: loads `proto/control_plane.proto` with
 * @grpc/proto-loader, names its messages as wire types (snake_case, `keepCase`), converts them
 * to and from the domain types of `control-plane/core/types.ts`, and maps `PlatformError`s to
 * gRPC statuses and back. Shared by the server (`control-plane/grpc/server.ts`) and the runtime's
 * client (`runtime/remote/control-plane-client.ts`), so both sides agree by construction.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type {
  AppSettings, AuthMode, ChangeEvent, FunctionConfig, FunctionLimits, GrpcServiceConfig, LogLine,
  ResolvedTarget, SigningKey, VersionWithCode,
} from '../core/types.ts';
import { isPlatformError, PlatformError, runtimeError } from '../../runtime/errors.ts';

/** Path of the `.proto` file (the contract; see proto/README.md). */
export const PROTO_PATH = fileURLToPath(new URL('../../proto/control_plane.proto', import.meta.url));
/** Fully-qualified service name. */
export const SERVICE_NAME = 'faas.controlplane.v1.ControlPlane';

// --- wire messages (keepCase: field names as in the .proto) -----------------------------------

export interface WireLimits { memory_limit_mib: number; cpu_time_ms: number; wall_time_ms: number; max_body_bytes: number; max_response_bytes: number }
export interface WireGetVersionRequest { app: string; function: string; version_id: string }
export interface WireVersion { app: string; function: string; id: string; size: number; message: string; author: string; created_at: string; limits: WireLimits | null; auth: string; code: string }
export interface WireResolveAliasRequest { app: string; function: string; alias: string }
export interface WireCanary { version_id: string; weight: number; limits: WireLimits | null; auth: string }
export interface WireResolvedTarget { app: string; function: string; alias: string; version_id: string; limits: WireLimits | null; auth: string; canary: WireCanary | null }
export interface WireFunctionRef { app: string; function: string }
export interface WireAppRef { app: string }
export interface WireFunctionConfig { values: Record<string, string>; secrets: Record<string, string> }
export interface WireAppSettings { fetch_allowlist: string[]; grpc_services_json: string }
export interface WireSigningKey { kid: string; secret: string; created_at: string; retired_at: string }
export interface WireSigningKeys { keys: WireSigningKey[] }
export interface WireAppExistsResponse { exists: boolean }
export interface WireLogLine { app: string; function: string; version_id: string; request_id: string; level: string; message: string; time_ms: number; trace_id: string }
export interface WireAppendLogsRequest { lines: WireLogLine[] }
export interface WireAppendLogsResponse { accepted: number }
export interface WireWatchDeploysRequest { epoch: string; from_sequence: number }
/** A stream message. Exactly one of the event fields is set; `event` names it (proto-loader `oneofs`). */
export interface WireChangeEvent {
  epoch: string;
  sequence: number;
  time_ms: number;
  event?: 'hello' | 'reset' | 'alias' | 'config' | 'settings' | 'keys';
  hello?: { resumed: boolean } | null;
  reset?: { reason: string } | null;
  alias?: { app: string; function: string; alias: string; version_id: string } | null;
  config?: { app: string; function: string } | null;
  settings?: { app: string } | null;
  keys?: { app: string } | null;
}

/** Request and response types of each RPC, keyed by the method name in the .proto. */
export interface ControlPlaneMethods {
  GetVersion: [WireGetVersionRequest, WireVersion];
  ResolveAlias: [WireResolveAliasRequest, WireResolvedTarget];
  GetFunctionConfig: [WireFunctionRef, WireFunctionConfig];
  GetAppSettings: [WireAppRef, WireAppSettings];
  GetSigningKeys: [WireAppRef, WireSigningKeys];
  AppExists: [WireAppRef, WireAppExistsResponse];
  AppendLogs: [WireAppendLogsRequest, WireAppendLogsResponse];
  WatchDeploys: [WireWatchDeploysRequest, WireChangeEvent];
}
export type MethodName = keyof ControlPlaneMethods;
export const UNARY_METHODS = ['GetVersion', 'ResolveAlias', 'GetFunctionConfig', 'GetAppSettings', 'GetSigningKeys', 'AppExists', 'AppendLogs'] as const satisfies readonly MethodName[];
export type UnaryMethodName = (typeof UNARY_METHODS)[number];

let cached: grpc.ServiceDefinition | null = null;

/**
 * The service definition, loaded once from PROTO_PATH (snake_case fields, 64-bit integers as
 * numbers, unset message fields as null, oneof name in `event`).
 * @throws Error when the .proto file is missing or does not parse
 */
export function controlPlaneService(): grpc.ServiceDefinition {
  if (cached !== null) return cached;
  const definition = protoLoader.loadSync(PROTO_PATH, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
  const service = definition[SERVICE_NAME];
  if (service === undefined || !('GetVersion' in service)) throw new Error(`${PROTO_PATH} does not declare service ${SERVICE_NAME}`);
  cached = service as grpc.ServiceDefinition;
  return cached;
}

/** The typed definition of one method (path and (de)serialisers). */
export function methodDefinition<M extends MethodName>(name: M): grpc.MethodDefinition<ControlPlaneMethods[M][0], ControlPlaneMethods[M][1]> {
  return controlPlaneService()[name] as grpc.MethodDefinition<ControlPlaneMethods[M][0], ControlPlaneMethods[M][1]>;
}

// --- domain ↔ wire -----------------------------------------------------------------------------

export function limitsToWire(l: FunctionLimits): WireLimits {
  return { memory_limit_mib: l.memoryLimitMiB, cpu_time_ms: l.cpuTimeMs, wall_time_ms: l.wallTimeMs, max_body_bytes: l.maxBodyBytes, max_response_bytes: l.maxResponseBytes };
}

/** @throws PlatformError E_INTERNAL when the limits are missing (a malformed answer). */
export function limitsFromWire(l: WireLimits | null | undefined): FunctionLimits {
  if (l === null || l === undefined) throw runtimeError('E_INTERNAL', 'the control plane answered without limits (protocol mismatch between runtime and control plane?)');
  return { memoryLimitMiB: l.memory_limit_mib, cpuTimeMs: l.cpu_time_ms, wallTimeMs: l.wall_time_ms, maxBodyBytes: l.max_body_bytes, maxResponseBytes: l.max_response_bytes };
}

function authFromWire(auth: string): AuthMode {
  return auth === 'required' ? 'required' : 'none';
}

export function versionToWire(v: VersionWithCode): WireVersion {
  return { app: v.app, function: v.function, id: v.id, size: v.size, message: v.message, author: v.author, created_at: v.createdAt, limits: limitsToWire(v.limits), auth: v.auth ?? 'none', code: v.code };
}

export function versionFromWire(v: WireVersion): VersionWithCode {
  return { app: v.app, function: v.function, id: v.id, size: v.size, message: v.message, author: v.author, createdAt: v.created_at, limits: limitsFromWire(v.limits), auth: authFromWire(v.auth), code: v.code };
}

export function targetToWire(t: ResolvedTarget): WireResolvedTarget {
  return {
    app: t.app, function: t.function, alias: t.alias, version_id: t.versionId, limits: limitsToWire(t.limits), auth: t.auth ?? 'none',
    canary: t.canary ? { version_id: t.canary.versionId, weight: t.canary.weight, limits: limitsToWire(t.canary.limits), auth: t.canary.auth ?? 'none' } : null,
  };
}

export function targetFromWire(t: WireResolvedTarget): ResolvedTarget {
  return {
    app: t.app, function: t.function, alias: t.alias, versionId: t.version_id, limits: limitsFromWire(t.limits), auth: authFromWire(t.auth),
    canary: t.canary ? { versionId: t.canary.version_id, weight: t.canary.weight, limits: limitsFromWire(t.canary.limits), auth: authFromWire(t.canary.auth) } : null,
  };
}

export function configToWire(c: FunctionConfig): WireFunctionConfig {
  return { values: { ...c.values }, secrets: { ...c.secrets } };
}

export function configFromWire(c: WireFunctionConfig): FunctionConfig {
  return { values: { ...c.values }, secrets: { ...c.secrets } };
}

export function settingsToWire(s: AppSettings): WireAppSettings {
  return { fetch_allowlist: [...s.fetchAllowlist], grpc_services_json: JSON.stringify(s.grpcServices ?? []) };
}

/** @throws PlatformError E_INTERNAL when `grpc_services_json` is not a JSON array. */
export function settingsFromWire(s: WireAppSettings): AppSettings {
  let grpcServices: unknown;
  try {
    grpcServices = s.grpc_services_json === '' ? [] : JSON.parse(s.grpc_services_json);
  } catch {
    grpcServices = null;
  }
  if (!Array.isArray(grpcServices)) throw runtimeError('E_INTERNAL', 'the control plane sent app settings whose grpc_services_json is not a JSON array');
  return { fetchAllowlist: [...s.fetch_allowlist], grpcServices: grpcServices as GrpcServiceConfig[] };
}

export function keysToWire(keys: SigningKey[]): WireSigningKeys {
  return { keys: keys.map((k) => ({ kid: k.kid, secret: k.secret, created_at: k.createdAt, retired_at: k.retiredAt ?? '' })) };
}

export function keysFromWire(w: WireSigningKeys): SigningKey[] {
  return w.keys.map((k) => ({ kid: k.kid, secret: k.secret, createdAt: k.created_at, retiredAt: k.retired_at === '' ? null : k.retired_at }));
}

export function logLineToWire(l: LogLine): WireLogLine {
  return { app: l.app, function: l.function, version_id: l.versionId, request_id: l.requestId, level: l.level, message: l.message, time_ms: l.time, trace_id: l.traceId ?? '' };
}

const LEVELS = new Set(['debug', 'info', 'warn', 'error']);

/** @returns the line, or a string saying which field is wrong */
export function logLineFromWire(l: WireLogLine): LogLine | string {
  if (!LEVELS.has(l.level)) return `level must be one of debug, info, warn, error, got ${JSON.stringify(l.level)}`;
  if (l.app === '' || l.function === '') return 'app and function are required';
  if (!Number.isFinite(l.time_ms)) return 'time_ms must be epoch milliseconds';
  const line: LogLine = { app: l.app, function: l.function, versionId: l.version_id, requestId: l.request_id, level: l.level as LogLine['level'], message: l.message, time: l.time_ms };
  if (l.trace_id !== '') line.traceId = l.trace_id;
  return line;
}

/** The wire form of a change (the caller adds epoch, sequence and time). */
export function changeToWire(e: ChangeEvent): Pick<WireChangeEvent, 'alias' | 'config' | 'settings' | 'keys'> {
  switch (e.kind) {
    case 'alias': return { alias: { app: e.app, function: e.function, alias: e.alias, version_id: e.versionId } };
    case 'config': return { config: { app: e.app, function: e.function } };
    case 'settings': return { settings: { app: e.app } };
    case 'keys': return { keys: { app: e.app } };
  }
}

/** The domain change a stream message carries, or null for `hello` / `reset` / an unknown kind. */
export function changeFromWire(w: WireChangeEvent): ChangeEvent | null {
  if (w.alias) return { kind: 'alias', app: w.alias.app, function: w.alias.function, alias: w.alias.alias, versionId: w.alias.version_id };
  if (w.config) return { kind: 'config', app: w.config.app, function: w.config.function };
  if (w.settings) return { kind: 'settings', app: w.settings.app };
  if (w.keys) return { kind: 'keys', app: w.keys.app };
  return null;
}

// --- errors --------------------------------------------------------------------------------------

/** Trailer keys carrying a PlatformError across gRPC (so the client rebuilds the same error). */
export const ERROR_CODE_KEY = 'faas-error-code';
export const ERROR_STATUS_KEY = 'faas-error-status';
export const ERROR_DETAILS_KEY = 'faas-error-details-bin';
const MAX_DETAILS_BYTES = 8 * 1024;

/** Catalog codes whose gRPC status is not the one their HTTP status implies. */
const STATUS_BY_CODE: Readonly<Record<string, grpc.status>> = {
  E_APP_EXISTS: grpc.status.ALREADY_EXISTS,
  E_CONFLICT: grpc.status.ABORTED,
  E_NO_PREVIOUS_VERSION: grpc.status.FAILED_PRECONDITION,
};

/**
 * The gRPC status for an HTTP status (the mapping of https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md,
 * read in reverse, plus 409 → ABORTED and 413 → RESOURCE_EXHAUSTED as gRPC uses for oversized messages).
 */
export function grpcStatusForHttp(status: number): grpc.status {
  switch (status) {
    case 400: return grpc.status.INVALID_ARGUMENT;
    case 401: return grpc.status.UNAUTHENTICATED;
    case 403: return grpc.status.PERMISSION_DENIED;
    case 404: return grpc.status.NOT_FOUND;
    case 409: return grpc.status.ABORTED;
    case 413: case 429: return grpc.status.RESOURCE_EXHAUSTED;
    case 501: return grpc.status.UNIMPLEMENTED;
    case 502: case 503: return grpc.status.UNAVAILABLE;
    case 504: return grpc.status.DEADLINE_EXCEEDED;
    default: return status >= 400 && status < 500 ? grpc.status.FAILED_PRECONDITION : grpc.status.INTERNAL;
  }
}

/**
 * A PlatformError as a gRPC status with the code, HTTP status and details in trailers. Anything
 * else becomes INTERNAL "internal error" (the caller logs it; nothing of it is sent).
 */
export function toGrpcStatus(err: unknown): grpc.StatusObject {
  const metadata = new grpc.Metadata();
  if (!isPlatformError(err)) return { code: grpc.status.INTERNAL, details: 'internal error in the control plane (logged there)', metadata };
  metadata.set(ERROR_CODE_KEY, err.code);
  metadata.set(ERROR_STATUS_KEY, String(err.status));
  const details = Buffer.from(JSON.stringify(err.details));
  if (details.length <= MAX_DETAILS_BYTES) metadata.set(ERROR_DETAILS_KEY, details);
  return { code: STATUS_BY_CODE[err.code] ?? grpcStatusForHttp(err.status), details: err.message, metadata };
}

/**
 * True when the error means "the control plane could not answer" — unreachable, too slow, or its
 * own store is down — so a cached value may be served instead.
 */
export function isUnreachable(err: unknown): boolean {
  if (isPlatformError(err)) return err.code === 'E_CONTROL_PLANE_UNAVAILABLE' || err.code === 'E_STORE_UNAVAILABLE';
  const code = (err as { code?: unknown } | null)?.code;
  return code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED || code === grpc.status.CANCELLED;
}

/**
 * Rebuild the error a call ended with: the server's PlatformError when its trailers carry one;
 * E_CONTROL_PLANE_UNAVAILABLE (503) when the control plane could not be reached in time; E_INTERNAL
 * otherwise (a refused token says so).
 */
export function fromGrpcError(err: grpc.ServiceError, method: string): PlatformError {
  const code = err.metadata?.get(ERROR_CODE_KEY)[0];
  if (typeof code === 'string' && code !== '') {
    const status = Number(err.metadata.get(ERROR_STATUS_KEY)[0]);
    let details: Record<string, unknown> = {};
    const raw = err.metadata.get(ERROR_DETAILS_KEY)[0];
    if (Buffer.isBuffer(raw)) {
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) details = parsed as Record<string, unknown>;
      } catch { /* details are optional */ }
    }
    return new PlatformError(code, Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500, err.details, details);
  }
  switch (err.code) {
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
    case grpc.status.CANCELLED:
      return runtimeError('E_CONTROL_PLANE_UNAVAILABLE', `the control plane did not answer ${method} (${grpc.status[err.code]}: ${err.details}); functions this runtime has cached keep running, retry later`);
    case grpc.status.UNAUTHENTICATED:
      return runtimeError('E_INTERNAL', `the control plane refused this runtime's gRPC token on ${method}: set FAAS_GRPC_TOKEN to the control plane's token ($FAAS_DATA_DIR/grpc.token there)`);
    default:
      return runtimeError('E_INTERNAL', `${method} failed: ${grpc.status[err.code] ?? err.code}: ${err.details}`);
  }
}
