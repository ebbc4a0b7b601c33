/**
 * The control plane's core: every operation REST routes, the runtime IPC bridge and (later) gRPC
 * perform, implemented once over a `Store`. Transports stay thin: they authenticate, parse, call
 * one method here and serialise the result or the PlatformError.
 */
import { checkModule, resolveCheckOptions } from '../../runtime/check/index.ts';
import type { CheckOptions, Diagnostic, ResolvedCheckOptions } from '../../runtime/check/types.ts';
import { runtimeError } from '../../runtime/errors.ts';
import { cpError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { API_KEY_PREFIX, hashApiKey } from './keys.ts';
import { defaultLimits, validateLimits } from './limits.ts';
import { LogRing } from './logs.ts';
import { isValidName, validateName } from './names.ts';
import type { Actor, AliasMovedEvent, AppInfo, CheckReport, ControlPlane, DeployResult, FunctionInfo, FunctionLimits, LogLine, ResolvedTarget, VersionInfo, VersionWithCode } from './types.ts';
import { computeVersionId, VERSION_ID_PATTERN } from './versions.ts';

/** Options of `createControlPlane`. */
export interface ControlPlaneOptions {
  /** The metadata store, already migrated. Owned by the caller: `ControlPlane.close()` does not close it. */
  store: Store;
  /** Captured log lines kept in memory per app/function (1..1_000_000). @default 1000 */
  logRingSize?: number;
  /** Options for the deploy-time checks (code size, nesting depth, diagnostics count). @default runtime defaults */
  checkOptions?: CheckOptions;
}

/** The alias a deploy moves, a rollback moves back, and the gateway resolves by default. */
export const DEFAULT_ALIAS = 'prod';
/** Longest deploy message, in characters. */
export const MAX_MESSAGE_CHARS = 1000;

/** What an actor is about to do; `authorize` decides by role (and, later, by app). */
export type Action = 'apps:list' | 'apps:create' | 'functions:read' | 'functions:deploy' | 'aliases:write' | 'logs:read';

/**
 * Decide whether `actor` may perform `action` on `app`. The walking skeleton knows only the
 * `admin` role, which may do everything; every actor method calls this so per-app roles slot in.
 * @throws PlatformError E_UNAUTHORIZED when there is no actor, E_FORBIDDEN when the role may not
 */
export function authorize(actor: Actor | null | undefined, action: Action, app: string | null): void {
  if (actor === null || actor === undefined || typeof actor !== 'object') {
    throw cpError('E_UNAUTHORIZED', 'an API key is required; the first admin key is in $FAAS_DATA_DIR/admin.key');
  }
  if (actor.role === 'admin') return;
  throw cpError('E_FORBIDDEN', `API key "${actor.name}" (role ${actor.role}) may not ${action}${app === null ? '' : ` in app ${app}`}`, { action, ...(app === null ? {} : { app }) });
}

/** Turn the first refusing diagnostic of a failed check into the deploy error. */
function checkFailure(diagnostics: Diagnostic[]): Error {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const first = errors[0] as Diagnostic;
  if (first.rule === 'code-size') return runtimeError('E_CODE_TOO_LARGE', first.message, { hint: first.hint });
  if (first.rule === 'syntax') return runtimeError('E_SYNTAX', first.message, { line: first.line, column: first.column, frame: first.frame, hint: first.hint });
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})` : '';
  return runtimeError('E_CHECK', `${first.rule} at ${first.line}:${first.column}: ${first.message}${more}`, { diagnostics });
}

function validateMessage(message: unknown): string {
  if (message === undefined || message === null) return '';
  if (typeof message !== 'string') throw cpError('E_VALIDATION', 'message must be a string', { field: 'message' });
  if (message.length > MAX_MESSAGE_CHARS) throw cpError('E_VALIDATION', `message must be at most ${MAX_MESSAGE_CHARS} characters, got ${message.length}`, { field: 'message' });
  return message;
}

function validateCode(code: unknown): string {
  if (typeof code !== 'string') throw cpError('E_VALIDATION', 'code must be a string holding the module source', { field: 'code' });
  return code;
}

function validateVersionId(versionId: unknown, field: string): string {
  if (typeof versionId !== 'string' || versionId === '') throw cpError('E_VALIDATION', `${field} must be a version id string`, { field });
  return versionId;
}

class CoreControlPlane implements ControlPlane {
  readonly #store: Store;
  readonly #logs: LogRing;
  readonly #checkOptions: ResolvedCheckOptions;
  readonly #listeners = new Set<(event: AliasMovedEvent) => void>();

  constructor(store: Store, logRingSize: number, checkOptions: ResolvedCheckOptions) {
    this.#store = store;
    this.#logs = new LogRing(logRingSize);
    this.#checkOptions = checkOptions;
  }

  /** Publish a committed alias move; a throwing listener is reported as a process warning and does not affect others. */
  #emit(event: AliasMovedEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener({ ...event });
      } catch (error) {
        process.emitWarning(`onAliasMoved listener threw: ${error instanceof Error ? error.message : String(error)}`, 'FaasControlPlaneWarning');
      }
    }
  }

  async #requireApp(app: string): Promise<AppInfo> {
    const info = await this.#store.getApp(app);
    if (info === null) throw runtimeError('E_APP_NOT_FOUND', `app ${app} does not exist; create it with POST /api/apps or deploy a function to it`, { app });
    return info;
  }

  async #requireFunction(app: string, fn: string): Promise<FunctionInfo> {
    const info = await this.#store.getFunction(app, fn);
    if (info !== null) return info;
    await this.#requireApp(app);
    throw runtimeError('E_FUNCTION_NOT_FOUND', `function ${app}/${fn} does not exist; deploy it first`, { app, function: fn });
  }

  async authenticate(apiKey: string): Promise<Actor | null> {
    if (typeof apiKey !== 'string' || !apiKey.startsWith(API_KEY_PREFIX) || apiKey.length > 200) return null;
    const stored = await this.#store.findApiKeyByHash(hashApiKey(apiKey));
    if (stored === null || stored.revokedAt !== null) return null;
    return { keyId: stored.id, name: stored.name, role: stored.role };
  }

  async listApps(actor: Actor): Promise<AppInfo[]> {
    authorize(actor, 'apps:list', null);
    return this.#store.listApps();
  }

  async createApp(actor: Actor, name: string): Promise<AppInfo> {
    const app = validateName('app', name);
    authorize(actor, 'apps:create', app);
    if ((await this.#store.getApp(app)) !== null) throw cpError('E_APP_EXISTS', `app ${app} already exists`, { app });
    return this.#store.ensureApp(app);
  }

  async listFunctions(actor: Actor, app: string): Promise<FunctionInfo[]> {
    validateName('app', app);
    authorize(actor, 'functions:read', app);
    await this.#requireApp(app);
    return this.#store.listFunctions(app);
  }

  async getFunction(actor: Actor, app: string, fn: string): Promise<FunctionInfo> {
    validateName('app', app);
    validateName('function', fn);
    authorize(actor, 'functions:read', app);
    return this.#requireFunction(app, fn);
  }

  async check(code: string): Promise<CheckReport> {
    const result = checkModule(validateCode(code), this.#checkOptions);
    return { ok: result.ok, diagnostics: result.diagnostics };
  }

  async deploy(actor: Actor, input: { app: string; function: string; code: string; message?: string; alias?: string; limits?: Partial<FunctionLimits> }): Promise<DeployResult> {
    const app = validateName('app', input.app);
    const fn = validateName('function', input.function);
    const alias = validateName('alias', input.alias ?? DEFAULT_ALIAS);
    authorize(actor, 'functions:deploy', app);
    const message = validateMessage(input.message);
    const code = validateCode(input.code);
    const checked = checkModule(code, this.#checkOptions);
    if (!checked.ok) throw checkFailure(checked.diagnostics);

    // Limits not given keep the function's current ones (a code change does not reset them).
    const current = await this.#store.getFunction(app, fn);
    const limits = validateLimits(input.limits, current?.limits ?? defaultLimits());
    const versionId = computeVersionId(code, limits);
    const stored = await this.#store.deploy({ app, function: fn, versionId, code, message, author: actor.name, limits, alias });
    this.#emit({ app, function: fn, alias, versionId });
    return { version: stored.version, alias: { name: alias, versionId, previousVersionId: stored.previousVersionId }, created: stored.created };
  }

  async listVersions(actor: Actor, app: string, fn: string): Promise<VersionInfo[]> {
    validateName('app', app);
    validateName('function', fn);
    authorize(actor, 'functions:read', app);
    await this.#requireFunction(app, fn);
    return this.#store.listVersions(app, fn);
  }

  async setAlias(actor: Actor, app: string, fn: string, alias: string, versionId: string): Promise<{ name: string; versionId: string; previousVersionId: string | null }> {
    validateName('app', app);
    validateName('function', fn);
    validateName('alias', alias);
    validateVersionId(versionId, 'versionId');
    authorize(actor, 'aliases:write', app);
    await this.#requireFunction(app, fn);
    const previousVersionId = await this.#store.setAlias(app, fn, alias, versionId, actor.name);
    this.#emit({ app, function: fn, alias, versionId });
    return { name: alias, versionId, previousVersionId };
  }

  async rollback(actor: Actor, app: string, fn: string, opts: { alias?: string; to?: string }): Promise<{ name: string; versionId: string; previousVersionId: string | null }> {
    validateName('app', app);
    validateName('function', fn);
    const alias = validateName('alias', opts.alias ?? DEFAULT_ALIAS);
    authorize(actor, 'aliases:write', app);
    await this.#requireFunction(app, fn);
    const currentId = await this.#store.getAlias(app, fn, alias);
    if (currentId === null) throw cpError('E_ALIAS_NOT_FOUND', `alias ${alias} of ${app}/${fn} does not exist, so there is nothing to roll back`, { alias });
    let target: string;
    if (opts.to !== undefined) {
      target = validateVersionId(opts.to, 'to');
    } else {
      // The newest history entry that differs from the current target. Rolling back twice
      // therefore alternates between the last two versions (the rollback itself is history).
      const history = await this.#store.aliasHistory(app, fn, alias);
      const previous = history.findLast((move) => move.versionId !== currentId);
      if (previous === undefined) {
        throw cpError('E_NO_PREVIOUS_VERSION', `alias ${alias} of ${app}/${fn} has only ever pointed at ${currentId}; pass "to" with a version id to move it elsewhere`, { alias, versionId: currentId });
      }
      target = previous.versionId;
    }
    const previousVersionId = await this.#store.setAlias(app, fn, alias, target, actor.name);
    this.#emit({ app, function: fn, alias, versionId: target });
    return { name: alias, versionId: target, previousVersionId };
  }

  async readLogs(actor: Actor, app: string, fn: string, opts: { limit?: number; sinceMs?: number; requestId?: string }): Promise<LogLine[]> {
    validateName('app', app);
    validateName('function', fn);
    authorize(actor, 'logs:read', app);
    const { limit, sinceMs, requestId } = opts;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw cpError('E_VALIDATION', `limit must be a positive integer, got ${limit}`, { field: 'limit' });
    if (sinceMs !== undefined && (!Number.isFinite(sinceMs) || sinceMs < 0)) throw cpError('E_VALIDATION', `since must be epoch milliseconds, got ${sinceMs}`, { field: 'since' });
    if (requestId !== undefined && typeof requestId !== 'string') throw cpError('E_VALIDATION', 'requestId must be a string', { field: 'requestId' });
    await this.#requireFunction(app, fn);
    return this.#logs.read(app, fn, { limit, sinceMs, requestId });
  }

  async resolve(app: string, fn: string, alias: string): Promise<ResolvedTarget | null> {
    if (!isValidName(app) || !isValidName(fn) || !isValidName(alias)) return null;
    const versionId = await this.#store.getAlias(app, fn, alias);
    if (versionId === null) return null;
    const version = await this.#store.getVersion(app, fn, versionId);
    if (version === null) return null;
    return { app, function: fn, alias, versionId, limits: version.limits };
  }

  async getVersion(app: string, fn: string, versionId: string): Promise<VersionWithCode | null> {
    if (!isValidName(app) || !isValidName(fn) || typeof versionId !== 'string' || !VERSION_ID_PATTERN.test(versionId)) return null;
    return this.#store.getVersion(app, fn, versionId);
  }

  async appendLogs(lines: LogLine[]): Promise<void> {
    this.#logs.append(lines);
  }

  onAliasMoved(listener: (event: AliasMovedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    this.#logs.clear();
  }
}

/**
 * Build the control plane over a store.
 * @param opts `store` (migrated, caller-owned), `logRingSize` (lines per function, default 1000),
 *   `checkOptions` (deploy checks; validated here once)
 * @returns the `ControlPlane`; its `close()` drops listeners and logs but leaves the store open
 * @throws TypeError (code ERR_INVALID_ARG_VALUE) for a missing store, a `logRingSize` that is not
 *   an integer in 1..1_000_000, or invalid `checkOptions`
 * @example
 *   const store = await openStore({ dataDir });
 *   const cp = createControlPlane({ store });
 *   const actor = await cp.authenticate(key);
 */
export function createControlPlane(opts: ControlPlaneOptions): ControlPlane {
  const invalid = (message: string): TypeError => Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
  if (typeof opts !== 'object' || opts === null || typeof opts.store !== 'object' || opts.store === null) throw invalid('createControlPlane: store is required');
  const logRingSize = opts.logRingSize ?? 1000;
  if (!Number.isInteger(logRingSize) || logRingSize < 1 || logRingSize > 1_000_000) {
    throw invalid(`createControlPlane: logRingSize must be an integer between 1 and 1000000, got ${logRingSize}`);
  }
  return new CoreControlPlane(opts.store, logRingSize, resolveCheckOptions(opts.checkOptions));
}
