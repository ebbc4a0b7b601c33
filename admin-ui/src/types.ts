/**
 * Shapes of the control-plane REST API as the console reads them (see control-plane/README.md).
 * Those the control plane defines are re-exported from `control-plane/core/types.ts` (type-only,
 * erased by the build, so no server code reaches the bundle and the console cannot drift from the
 * API); the ones below differ on purpose: fields marked "new" come from endpoints that may not
 * exist on an older server — the console checks for them before use. Times are ISO-8601 strings
 * unless a field says epoch ms.
 */
import type { AuthMode, CanarySplit, FunctionLimits, LogLine } from '../../control-plane/core/types.ts';
export type {
  Actor, ApiKeyInfo, AppInfo, AppSettings, AuthMode, CanarySplit, FunctionLimits, GrpcServiceConfig, LogLine, Role,
} from '../../control-plane/core/types.ts';
export type { AuditEntry } from '../../control-plane/store/store.ts';

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

export type LogLevel = LogLine['level'];

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

