/**
 * Shapes of the control-plane REST API as the console reads them (see control-plane/README.md
 * and the API plan). Kept here rather than imported from `control-plane/core/types.ts` so the
 * browser bundle has no path into server code; fields marked "new" come from endpoints that may
 * not exist on an older server — the console checks for them before use. Times are ISO-8601
 * strings unless a field says epoch ms.
 */

export type Role = 'admin' | 'developer' | 'viewer';

/** Who the API key belongs to (`GET /api/whoami`, new). `apps: '*'` means every app. */
export interface Actor {
  keyId: string;
  name: string;
  role: Role;
  apps: string[] | '*';
}

export interface AppInfo {
  name: string;
  createdAt: string;
}

/** Per-function limits (ms, MiB, bytes as the names say). */
export interface FunctionLimits {
  memoryLimitMiB: number;
  cpuTimeMs: number;
  wallTimeMs: number;
  maxBodyBytes: number;
  maxResponseBytes: number;
}

/** A canary split: `weight` percent (1–99) of an alias's traffic goes to `versionId`. */
export interface CanarySplit {
  versionId: string;
  weight: number;
}

export interface FunctionInfo {
  app: string;
  name: string;
  createdAt: string;
  limits: FunctionLimits;
  /** alias name → version id */
  aliases: Record<string, string>;
  /** alias name → canary split (new; absent on older servers). */
  canaries?: Record<string, CanarySplit>;
}

export type AuthMode = 'none' | 'required';

export interface VersionInfo {
  app: string;
  function: string;
  id: string;
  /** Code size in bytes (UTF-8). */
  size: number;
  message: string;
  /** Name of the API key that deployed it. */
  author: string;
  createdAt: string;
  limits: FunctionLimits;
  auth?: AuthMode;
}

export interface VersionWithCode extends VersionInfo {
  code: string;
}

/** One finding of the platform's checker (runtime/check): 1-based line, 1-based UTF-16 column. */
export interface CheckDiagnostic {
  rule: string;
  severity: 'error' | 'warning';
  message: string;
  hint?: string;
  line: number;
  column: number;
  endLine?: number;
  endColumn?: number;
  frame?: string;
}

export interface CheckReport {
  ok: boolean;
  diagnostics: CheckDiagnostic[];
  truncated?: boolean;
}

export interface AliasMove {
  name: string;
  versionId: string;
  previousVersionId: string | null;
  canary?: CanarySplit | null;
}

export interface DeployResult {
  version: VersionInfo;
  alias: AliasMove;
  created: boolean;
}

export interface DeployInput {
  code: string;
  message?: string;
  alias?: string;
  limits?: Partial<FunctionLimits>;
  auth?: AuthMode;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogLine {
  app: string;
  function: string;
  versionId: string;
  requestId: string;
  level: LogLevel;
  message: string;
  /** Epoch milliseconds. */
  time: number;
  traceId?: string;
}

/** Last hour of one function, from the gateway's own counters (new). */
export interface FunctionStats {
  invocations: number;
  errors: number;
  p95Ms: number | null;
}

export interface FunctionConfigView {
  values: Record<string, string>;
  /** Secret names only: values are write-only. */
  secrets: Array<{ name: string; updatedAt: string }>;
}

export interface GrpcServiceConfig {
  name: string;
  target: string;
  proto: string;
  service: string;
  idempotentMethods: string[];
  deadlineMs?: number;
  maxRetries?: number;
  tls?: boolean;
}

export interface AppSettings {
  fetchAllowlist: string[];
  grpcServices: GrpcServiceConfig[];
}

export interface ApiKeyInfo {
  id: string;
  name: string;
  role: Role;
  apps: string[] | '*';
  createdAt: string;
  revokedAt: string | null;
}

export interface AuditEntry {
  id: number | string;
  at: string;
  actor: string;
  action: string;
  app: string | null;
  function: string | null;
  target: string | null;
  before: unknown;
  after: unknown;
}
