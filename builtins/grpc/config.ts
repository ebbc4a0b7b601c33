/**
 * An app's declared gRPC services (`AppSettings.grpcServices`): validation when the settings are
 * set (`validateGrpcServices`, called by the control plane) and the defaults applied per call.
 */
import ipaddr from 'ipaddr.js';
import type { GrpcServiceConfig } from '../../control-plane/core/types.ts';
import { loadService, ProtoError, type ServiceShape } from './proto.ts';

/** Service names as functions write them: `^[a-z][a-z0-9-]{0,62}$`. */
export const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
/** Most services one app may declare. */
export const MAX_SERVICES = 32;
/** Default per-call deadline, ms (also capped by the invocation's remaining time). */
export const DEFAULT_DEADLINE_MS = 2000;
/** Largest accepted `deadlineMs`, ms. */
export const MAX_DEADLINE_MS = 60_000;
/** Default retries of an idempotent method. */
export const DEFAULT_MAX_RETRIES = 2;
/** Largest accepted `maxRetries`. */
export const MAX_RETRIES_LIMIT = 5;

const FIELDS: readonly (keyof GrpcServiceConfig)[] = ['name', 'target', 'proto', 'service', 'idempotentMethods', 'deadlineMs', 'maxRetries', 'tls'];
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** A refused `grpcServices` value: `field` is the path of the offending field (`grpcServices[1].target`). */
export class GrpcConfigError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'GrpcConfigError';
    this.field = field;
  }
}

/** A `host:port` target split into its parts. */
export interface ParsedTarget {
  /** Host name (lower-case) or IP literal (IPv6 without brackets). */
  host: string;
  port: number;
  /** 4 or 6 for an IP literal, 0 for a DNS name. */
  family: 0 | 4 | 6;
}

/**
 * Parse a gRPC target written as `host:port`: a DNS name, an IPv4 address or a bracketed IPv6
 * address, and a port 1–65535. Schemes (`dns:///`, `unix:`, `ipv4:`) are not accepted: the host
 * resolves and checks addresses itself.
 * @returns the parts, or a reason string when the target is malformed
 */
export function parseTarget(target: string): ParsedTarget | string {
  const match = /^(\[[^\]]*\]|[^:[\]]+):(\d{1,5})$/.exec(target);
  if (match === null) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target) || /^(unix|dns|ipv4|ipv6|xds):/i.test(target)) return 'must be "host:port" without a scheme, e.g. "inventory.example.com:443"';
    return 'must be "host:port", e.g. "inventory.example.com:443" or "[2001:db8::1]:50051"';
  }
  const [, rawHost, rawPort] = match as unknown as [string, string, string];
  const port = Number(rawPort);
  if (port < 1 || port > 65535) return `port ${rawPort} is out of range (1–65535)`;
  if (rawHost.startsWith('[')) {
    const ip = rawHost.slice(1, -1);
    if (!ipaddr.IPv6.isValid(ip) || ip.includes('%')) return `"${rawHost}" is not an IPv6 address`;
    return { host: ip.toLowerCase(), port, family: 6 };
  }
  if (IPV4.test(rawHost)) return { host: rawHost, port, family: 4 };
  const host = rawHost.toLowerCase().replace(/\.$/, '');
  if (host.length > 253 || !host.split('.').every((label) => LABEL.test(label)) || /^[\d.]+$/.test(host)) return `"${rawHost}" is not a valid host name`;
  return { host, port, family: 0 };
}

function positiveInt(value: unknown, field: string, max: number, min = 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new GrpcConfigError(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Check one entry; returns a clean copy (known fields only) and its loaded service. */
function validateOne(value: unknown, at: string): { config: GrpcServiceConfig; shape: ServiceShape } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new GrpcConfigError(at, 'must be an object { name, target, proto, service, idempotentMethods, deadlineMs?, maxRetries?, tls? }');
  const entry = value as Record<string, unknown>;
  for (const key of Object.keys(entry)) {
    if (!(FIELDS as readonly string[]).includes(key)) throw new GrpcConfigError(`${at}.${key}`, `unknown field; the fields are ${FIELDS.join(', ')}`);
  }
  const { name, target, proto, service, idempotentMethods } = entry;
  if (typeof name !== 'string' || !SERVICE_NAME.test(name)) throw new GrpcConfigError(`${at}.name`, `must match ${SERVICE_NAME.source} (lower-case letters, digits, "-"; what functions pass to ctx.rpc.grpc), got ${JSON.stringify(name)}`);
  if (typeof target !== 'string') throw new GrpcConfigError(`${at}.target`, 'must be a string "host:port"');
  const parsed = parseTarget(target);
  if (typeof parsed === 'string') throw new GrpcConfigError(`${at}.target`, `${parsed}; got ${JSON.stringify(target.slice(0, 300))}`);
  if (typeof proto !== 'string' || proto.trim() === '') throw new GrpcConfigError(`${at}.proto`, 'must be the .proto source text declaring the service');
  if (typeof service !== 'string' || service === '' || service.length > 512) throw new GrpcConfigError(`${at}.service`, 'must be the fully-qualified service name in the proto (at most 512 characters), e.g. "game.Inventory"');
  let shape: ServiceShape;
  try {
    shape = loadService(proto, service);
  } catch (err) {
    if (err instanceof ProtoError) throw new GrpcConfigError(err.message.startsWith('declares no service') ? `${at}.service` : `${at}.proto`, `the proto ${err.message}`);
    throw err;
  }
  if (!Array.isArray(idempotentMethods)) throw new GrpcConfigError(`${at}.idempotentMethods`, 'must be an array of method names (use [] when no method is safe to retry)');
  const seen = new Set<string>();
  idempotentMethods.forEach((method: unknown, i) => {
    const field = `${at}.idempotentMethods[${i}]`;
    if (typeof method !== 'string') throw new GrpcConfigError(field, `must be a method name, got ${JSON.stringify(method)}`);
    const found = shape.methods.get(method);
    if (found === undefined) throw new GrpcConfigError(field, `${service} has no method "${method}"; its methods are ${[...shape.methods.keys()].join(', ') || '(none)'}`);
    if (found.requestStream || found.responseStream) throw new GrpcConfigError(field, `"${method}" is a streaming method; only unary methods are supported`);
    if (seen.has(method)) throw new GrpcConfigError(field, `"${method}" is listed twice`);
    seen.add(method);
  });
  const config: GrpcServiceConfig = { name, target, proto, service, idempotentMethods: [...seen] };
  if (entry.deadlineMs !== undefined) config.deadlineMs = positiveInt(entry.deadlineMs, `${at}.deadlineMs`, MAX_DEADLINE_MS);
  if (entry.maxRetries !== undefined) config.maxRetries = positiveInt(entry.maxRetries, `${at}.maxRetries`, MAX_RETRIES_LIMIT, 0);
  if (entry.tls !== undefined) {
    if (typeof entry.tls !== 'boolean') throw new GrpcConfigError(`${at}.tls`, `must be true or false, got ${JSON.stringify(entry.tls)}`);
    config.tls = entry.tls;
  }
  return { config, shape };
}

/**
 * Validate an app's `grpcServices` setting, as the control plane receives it. Each proto text is
 * parsed with protobufjs and loaded with @grpc/proto-loader (see `proto.ts`); the service and
 * every idempotent method must exist, and idempotent methods must be unary.
 * @param value the untrusted setting (should be an array of `GrpcServiceConfig`)
 * @returns a clean copy: known fields only, `idempotentMethods` without duplicates, optional
 *   fields present only when given (defaults: `deadlineMs` 2000, `maxRetries` 2, `tls` false)
 * @throws GrpcConfigError (`.field` names the path, e.g. `grpcServices[1].target`) for: not an
 *   array or more than 32 entries; an unknown field; a name not matching `^[a-z][a-z0-9-]{0,62}$`
 *   or used twice; a target that is not `host:port`; a proto that does not parse, imports
 *   anything but the well-known `google/protobuf/*.proto`, exceeds 128 KiB, or lacks the
 *   service; an idempotent method that does not exist or streams; `deadlineMs` outside
 *   1–60000, `maxRetries` outside 0–5, a non-boolean `tls`
 * @example validateGrpcServices([{ name: 'inventory', target: 'inv.example.com:443', proto, service: 'game.Inventory', idempotentMethods: ['GetItem'], tls: true }])
 */
export function validateGrpcServices(value: unknown): GrpcServiceConfig[] {
  if (!Array.isArray(value)) throw new GrpcConfigError('grpcServices', 'must be an array of service declarations');
  if (value.length > MAX_SERVICES) throw new GrpcConfigError('grpcServices', `declares ${value.length} services; at most ${MAX_SERVICES} are allowed`);
  const names = new Set<string>();
  return value.map((item: unknown, i) => {
    const { config } = validateOne(item, `grpcServices[${i}]`);
    if (names.has(config.name)) throw new GrpcConfigError(`grpcServices[${i}].name`, `"${config.name}" is declared twice; names must be unique`);
    names.add(config.name);
    return config;
  });
}

/** A declared service with its defaults applied and its proto loaded, as the host uses it. */
export interface ResolvedService {
  name: string;
  target: ParsedTarget;
  /** The target as declared (`host:port`), for messages. */
  targetText: string;
  service: ServiceShape;
  idempotent: ReadonlySet<string>;
  deadlineMs: number;
  maxRetries: number;
  tls: boolean;
}

/**
 * Validate one stored declaration again and apply the defaults (the host does not trust that
 * stored settings passed today's rules).
 * @throws GrpcConfigError as `validateGrpcServices`
 */
export function resolveService(config: GrpcServiceConfig): ResolvedService {
  const { config: clean, shape } = validateOne(config, `grpcServices["${String((config as { name?: unknown }).name)}"]`);
  return Object.freeze({
    name: clean.name,
    target: parseTarget(clean.target) as ParsedTarget,
    targetText: clean.target,
    service: shape,
    idempotent: new Set(clean.idempotentMethods),
    deadlineMs: clean.deadlineMs ?? DEFAULT_DEADLINE_MS,
    maxRetries: clean.maxRetries ?? DEFAULT_MAX_RETRIES,
    tls: clean.tls ?? false,
  });
}
