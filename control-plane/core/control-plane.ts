/**
 * The control plane's core: every operation REST routes, the runtime IPC bridge and (later) gRPC
 * perform, implemented once over a `Store`. Transports stay thin: they authenticate, parse, call
 * one method here and serialise the result or the PlatformError.
 */
import { randomBytes } from 'node:crypto';
import { checkModule, resolveCheckOptions } from '../../runtime/check/index.ts';
import type { CheckOptions, Diagnostic, ResolvedCheckOptions } from '../../runtime/check/types.ts';
import { runtimeError } from '../../runtime/errors.ts';
import { cpError } from '../errors.ts';
import type { Store, StoredApiKey } from '../store/store.ts';
import { API_KEY_PREFIX, createApiKey, hashApiKey } from './keys.ts';
import { SecretBox } from './secrets.ts';
import { defaultLimits, validateLimits } from './limits.ts';
import { checkLogLines } from '../store/log-lines.ts';
import { LogWriter } from './logs.ts';
import { CONFIG_NAME_PATTERN, isValidName, validateName } from './names.ts';
import type {
  Actor, AliasState, ApiKeyInfo, AppInfo, AppSettings, AuditRecord, AuthMode, CanarySplit, ChangeEvent, CheckReport, ConfigView, ControlPlane,
  DeployRequest, DeployResult, FunctionConfig, FunctionInfo, GrpcServiceConfig, LogLine, ResolvedTarget, Role, SigningKey, VersionInfo, VersionWithCode,
} from './types.ts';
import { computeVersionId, VERSION_ID_PATTERN } from './versions.ts';

/** Options of `createControlPlane`. */
export interface ControlPlaneOptions {
  /** The metadata store, already migrated. Owned by the caller: `ControlPlane.close()` does not close it. */
  store: Store;
  /**
   * Captured log lines kept per app/function in the store (1..1_000_000); older ones are deleted
   * when new ones are appended. @default 1000
   */
  logRingSize?: number;
  /**
   * Bytes of captured log lines kept per app (a line counts as its message × 2 + 200); an app over
   * it loses the oldest lines of its function holding the most lines. @default 8 MiB (8_388_608)
   */
  logAppMaxBytes?: number;
  /** Options for the deploy-time checks (code size, nesting depth, diagnostics count). @default runtime defaults */
  checkOptions?: CheckOptions;
  /**
   * 32-byte key encrypting secrets and signing keys at rest (see `secrets.ts` `loadSecretKey`).
   * @default a random key for this process only (secrets then do not survive a restart — tests only)
   */
  secretKey?: Buffer;
  /** Validates `grpcServices` of app settings (the gRPC builtin's validator); throws an Error naming the field. @default structural checks only */
  validateGrpcServices?: (value: unknown) => GrpcServiceConfig[];
}

/** Default of `logAppMaxBytes`: captured log bytes kept per app. */
export const DEFAULT_LOG_APP_MAX_BYTES = 8 * 1024 * 1024;

/** The alias a deploy moves, a rollback moves back, and the gateway resolves by default. */
export const DEFAULT_ALIAS = 'prod';
/** Longest deploy message, in characters. */
export const MAX_MESSAGE_CHARS = 1000;
/** Largest config value or secret, in UTF-8 bytes. */
export const MAX_CONFIG_VALUE_BYTES = 32 * 1024;
/** Most config values plus secrets per function. */
export const MAX_CONFIG_ENTRIES = 100;
/** Most entries of `fetchAllowlist` and of `grpcServices`. */
export const MAX_SETTINGS_ENTRIES = 100;

/** What an actor is about to do; `authorize` decides by role and app. */
export type Action =
  | 'apps:list' | 'apps:create' | 'functions:read' | 'functions:deploy' | 'aliases:write' | 'logs:read'
  | 'config:read' | 'config:write' | 'settings:read' | 'settings:write' | 'authkeys:rotate'
  | 'keys:manage' | 'audit:read';

/** Actions a `viewer` may perform (on its apps). */
const VIEWER_ACTIONS: ReadonlySet<Action> = new Set(['apps:list', 'functions:read', 'logs:read', 'config:read', 'settings:read', 'audit:read']);
/** Actions only an `admin` may perform. */
const ADMIN_ONLY: ReadonlySet<Action> = new Set(['apps:create', 'keys:manage']);

/** True when `actor` may act on `app` (its key lists the app or `*`). */
export function actorCoversApp(actor: Actor, app: string): boolean {
  return actor.role === 'admin' || actor.apps === '*' || actor.apps.includes(app);
}

/**
 * Decide whether `actor` may perform `action` on `app` (null: platform-level). `admin` may do
 * everything; `developer` everything but creating apps and managing keys, on the apps its key
 * lists; `viewer` only the read actions, on the apps its key lists.
 * @throws PlatformError E_UNAUTHORIZED when there is no actor, E_FORBIDDEN (403, details
 *   `{ action, app }`) when the role or the key's apps do not allow it
 */
export function authorize(actor: Actor | null | undefined, action: Action, app: string | null): void {
  if (actor === null || actor === undefined || typeof actor !== 'object') {
    throw cpError('E_UNAUTHORIZED', 'an API key is required; the first admin key is in $FAAS_DATA_DIR/admin.key');
  }
  if (actor.role === 'admin') return;
  const where = app === null ? '' : ` in app ${app}`;
  const details = { action, ...(app === null ? {} : { app }) };
  if (ADMIN_ONLY.has(action) || (actor.role === 'viewer' && !VIEWER_ACTIONS.has(action))) {
    throw cpError('E_FORBIDDEN', `API key "${actor.name}" (role ${actor.role}) may not ${action}${where}; ask an admin for a key with that right`, details);
  }
  if (app !== null && !actorCoversApp(actor, app)) {
    throw cpError('E_FORBIDDEN', `API key "${actor.name}" (role ${actor.role}) is not granted app ${app}; its apps are ${actor.apps === '*' ? 'all' : actor.apps.join(', ') || 'none'}`, details);
  }
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
  readonly #logs: LogWriter;
  readonly #checkOptions: ResolvedCheckOptions;
  readonly #box: SecretBox;
  readonly #validateGrpc: (value: unknown) => GrpcServiceConfig[];
  readonly #listeners = new Set<(event: ChangeEvent) => void>();

  constructor(store: Store, logs: LogWriter, checkOptions: ResolvedCheckOptions, box: SecretBox, validateGrpc: (value: unknown) => GrpcServiceConfig[]) {
    this.#store = store;
    this.#logs = logs;
    this.#checkOptions = checkOptions;
    this.#box = box;
    this.#validateGrpc = validateGrpc;
  }

  /** Publish a committed change; a throwing listener is reported as a process warning and does not affect others. */
  #emit(event: ChangeEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener({ ...event });
      } catch (error) {
        process.emitWarning(`onChange listener threw: ${error instanceof Error ? error.message : String(error)}`, 'FaasControlPlaneWarning');
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

  /** Validate names, authorize, and require the function to exist. */
  async #fnAccess(actor: Actor, action: Action, app: string, fn: string): Promise<FunctionInfo> {
    validateName('app', app);
    validateName('function', fn);
    authorize(actor, action, app);
    return this.#requireFunction(app, fn);
  }

  async authenticate(apiKey: string): Promise<Actor | null> {
    if (typeof apiKey !== 'string' || !apiKey.startsWith(API_KEY_PREFIX) || apiKey.length > 200) return null;
    const stored = await this.#store.findApiKeyByHash(hashApiKey(apiKey));
    if (stored === null || stored.revokedAt !== null) return null;
    return { keyId: stored.id, name: stored.name, role: stored.role, apps: stored.role === 'admin' ? '*' : stored.apps };
  }

  async listApps(actor: Actor): Promise<AppInfo[]> {
    authorize(actor, 'apps:list', null);
    const apps = await this.#store.listApps();
    return apps.filter((app) => actorCoversApp(actor, app.name));
  }

  async createApp(actor: Actor, name: string): Promise<AppInfo> {
    const app = validateName('app', name);
    authorize(actor, 'apps:create', app);
    if ((await this.#store.getApp(app)) !== null) throw cpError('E_APP_EXISTS', `app ${app} already exists`, { app });
    return this.#store.ensureApp(app, { actor: actor.name, action: 'app.create', app, function: null, target: null });
  }

  async listFunctions(actor: Actor, app: string): Promise<FunctionInfo[]> {
    validateName('app', app);
    authorize(actor, 'functions:read', app);
    await this.#requireApp(app);
    return this.#store.listFunctions(app);
  }

  async getFunction(actor: Actor, app: string, fn: string): Promise<FunctionInfo> {
    return this.#fnAccess(actor, 'functions:read', app, fn);
  }

  async check(code: string): Promise<CheckReport> {
    const result = checkModule(validateCode(code), this.#checkOptions);
    return { ok: result.ok, diagnostics: result.diagnostics };
  }

  async deploy(actor: Actor, input: DeployRequest): Promise<DeployResult> {
    const app = validateName('app', input.app);
    const fn = validateName('function', input.function);
    const alias = validateName('alias', input.alias ?? DEFAULT_ALIAS);
    authorize(actor, 'functions:deploy', app);
    const message = validateMessage(input.message);
    const code = validateCode(input.code);
    if (input.auth !== undefined && input.auth !== 'none' && input.auth !== 'required') {
      throw cpError('E_VALIDATION', `auth must be "none" or "required", got ${JSON.stringify(input.auth)}`, { field: 'auth' });
    }
    const checked = checkModule(code, this.#checkOptions);
    if (!checked.ok) throw checkFailure(checked.diagnostics);

    // Limits and auth not given keep the function's current ones (a code change does not reset them).
    const current = await this.#store.getFunction(app, fn);
    const limits = validateLimits(input.limits, current?.limits ?? defaultLimits());
    let auth: AuthMode = input.auth ?? 'none';
    if (input.auth === undefined && current !== null) {
      const currentId = current.aliases[alias] ?? current.aliases[DEFAULT_ALIAS];
      const currentVersion = currentId === undefined ? null : await this.#store.getVersion(app, fn, currentId);
      auth = currentVersion?.auth ?? 'none';
    }
    const versionId = computeVersionId(code, limits, auth);
    const stored = await this.#store.deploy({
      app, function: fn, versionId, code, message, author: actor.name, limits, alias, auth,
      audit: { actor: actor.name, action: 'function.deploy', app, function: fn, target: alias },
    });
    this.#emit({ kind: 'alias', app, function: fn, alias, versionId });
    return { version: stored.version, alias: { name: alias, versionId, previousVersionId: stored.previousVersionId }, created: stored.created };
  }

  async listVersions(actor: Actor, app: string, fn: string): Promise<VersionInfo[]> {
    await this.#fnAccess(actor, 'functions:read', app, fn);
    return this.#store.listVersions(app, fn);
  }

  async readVersion(actor: Actor, app: string, fn: string, versionId: string): Promise<VersionWithCode> {
    await this.#fnAccess(actor, 'functions:read', app, fn);
    const version = VERSION_ID_PATTERN.test(validateVersionId(versionId, 'versionId')) ? await this.#store.getVersion(app, fn, versionId) : null;
    if (version === null) throw cpError('E_VERSION_NOT_FOUND', `version ${versionId} does not exist for ${app}/${fn}; list versions with GET /api/apps/${app}/functions/${fn}/versions`, { versionId });
    return version;
  }

  async setAlias(actor: Actor, app: string, fn: string, alias: string, versionId: string, opts: { canary?: CanarySplit | null } = {}): Promise<AliasState> {
    validateName('alias', alias);
    validateVersionId(versionId, 'versionId');
    await this.#fnAccess(actor, 'aliases:write', app, fn);
    let canary: CanarySplit | null = null;
    if (opts.canary !== undefined && opts.canary !== null) {
      const { versionId: canaryId, weight } = opts.canary;
      validateVersionId(canaryId, 'canary.versionId');
      if (!Number.isInteger(weight) || weight < 1 || weight > 99) {
        throw cpError('E_VALIDATION', `canary.weight is the percent of traffic sent to the canary: an integer from 1 to 99, got ${JSON.stringify(weight)} (0 or 100 means no canary: move the alias instead)`, { field: 'canary.weight' });
      }
      if (canaryId === versionId) throw cpError('E_VALIDATION', 'canary.versionId must differ from versionId (the alias already sends all traffic there)', { field: 'canary.versionId' });
      canary = { versionId: canaryId, weight };
    } else if (opts.canary === undefined) {
      // Moving the main version without mentioning the canary keeps it, unless it is the new main version.
      const current = await this.#store.getAliasRoute(app, fn, alias);
      canary = current?.canary !== null && current?.canary !== undefined && current.canary.versionId !== versionId ? current.canary : null;
    }
    const previous = await this.#store.setAlias(app, fn, alias, { versionId, canary }, { actor: actor.name, action: 'alias.set', app, function: fn, target: alias });
    this.#emit({ kind: 'alias', app, function: fn, alias, versionId });
    return { name: alias, versionId, previousVersionId: previous?.versionId ?? null, canary };
  }

  async rollback(actor: Actor, app: string, fn: string, opts: { alias?: string; to?: string }): Promise<AliasState> {
    const alias = validateName('alias', opts.alias ?? DEFAULT_ALIAS);
    await this.#fnAccess(actor, 'aliases:write', app, fn);
    const current = await this.#store.getAliasRoute(app, fn, alias);
    if (current === null) throw cpError('E_ALIAS_NOT_FOUND', `alias ${alias} of ${app}/${fn} does not exist, so there is nothing to roll back`, { alias });
    let target: string;
    if (opts.to !== undefined) {
      target = validateVersionId(opts.to, 'to');
    } else {
      // The newest history entry that differs from the current target. Rolling back twice
      // therefore alternates between the last two versions (the rollback itself is history).
      const history = await this.#store.aliasHistory(app, fn, alias);
      const previous = history.findLast((move) => move.versionId !== current.versionId);
      if (previous === undefined) {
        if (current.canary !== null) {
          target = current.versionId; // roll back a canary: drop the split, keep the main version
        } else {
          throw cpError('E_NO_PREVIOUS_VERSION', `alias ${alias} of ${app}/${fn} has only ever pointed at ${current.versionId}; pass "to" with a version id to move it elsewhere`, { alias, versionId: current.versionId });
        }
      } else {
        target = current.canary !== null ? current.versionId : previous.versionId;
      }
    }
    const previous = await this.#store.setAlias(app, fn, alias, { versionId: target, canary: null }, { actor: actor.name, action: 'alias.rollback', app, function: fn, target: alias });
    this.#emit({ kind: 'alias', app, function: fn, alias, versionId: target });
    return { name: alias, versionId: target, previousVersionId: previous?.versionId ?? null, canary: null };
  }

  async readLogs(actor: Actor, app: string, fn: string, opts: { limit?: number; sinceMs?: number; afterId?: number; requestId?: string; level?: LogLine['level'] }): Promise<LogLine[]> {
    validateName('app', app);
    validateName('function', fn);
    authorize(actor, 'logs:read', app);
    const { limit, sinceMs, afterId, requestId, level } = opts;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw cpError('E_VALIDATION', `limit must be a positive integer, got ${limit}`, { field: 'limit' });
    if (sinceMs !== undefined && (!Number.isFinite(sinceMs) || sinceMs < 0)) throw cpError('E_VALIDATION', `since must be epoch milliseconds, got ${sinceMs}`, { field: 'since' });
    if (afterId !== undefined && (!Number.isSafeInteger(afterId) || afterId < 0)) throw cpError('E_VALIDATION', `after must be the id of a log line (an integer >= 0), got ${afterId}`, { field: 'after' });
    if (requestId !== undefined && typeof requestId !== 'string') throw cpError('E_VALIDATION', 'requestId must be a string', { field: 'requestId' });
    if (level !== undefined && !LOG_LEVELS.includes(level)) throw cpError('E_VALIDATION', `level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`, { field: 'level' });
    await this.#requireFunction(app, fn);
    // Lines appended in this process before the read (e.g. by the invocation that just answered) are visible.
    await this.#logs.flushed();
    // The store keeps at most ringSize lines per function, so a larger limit changes nothing.
    return this.#store.readLogs(app, fn, { limit: Math.min(limit ?? this.#logs.bounds.ringSize, this.#logs.bounds.ringSize), sinceMs, afterId, requestId, minLevel: level });
  }

  // --- config, secrets, settings, signing keys ----------------------------------------------

  async readConfig(actor: Actor, app: string, fn: string): Promise<ConfigView> {
    await this.#fnAccess(actor, 'config:read', app, fn);
    const view: ConfigView = { values: {}, secrets: [] };
    for (const entry of await this.#store.listConfig(app, fn)) {
      if (entry.kind === 'value') view.values[entry.name] = entry.value;
      else view.secrets.push({ name: entry.name, updatedAt: entry.updatedAt });
    }
    return view;
  }

  async setConfig(actor: Actor, app: string, fn: string, kind: 'value' | 'secret', name: string, value: string): Promise<void> {
    await this.#fnAccess(actor, 'config:write', app, fn);
    validateConfigName(name);
    if (typeof value !== 'string') throw cpError('E_VALIDATION', `${kind} ${name} must be a string`, { field: 'value' });
    if (Buffer.byteLength(value, 'utf8') > MAX_CONFIG_VALUE_BYTES) throw cpError('E_VALIDATION', `${kind} ${name} is ${Buffer.byteLength(value, 'utf8')} bytes; the limit is ${MAX_CONFIG_VALUE_BYTES} bytes`, { field: 'value' });
    const existing = await this.#store.listConfig(app, fn);
    if (existing.length >= MAX_CONFIG_ENTRIES && !existing.some((e) => e.kind === kind && e.name === name)) {
      throw cpError('E_VALIDATION', `${app}/${fn} already has ${existing.length} config values and secrets, the most a function may have (${MAX_CONFIG_ENTRIES}); unset some first`, { field: 'name' });
    }
    const stored = kind === 'secret' ? this.#box.seal(value, secretOwner(app, fn, name)) : value;
    const before = existing.find((e) => e.kind === kind && e.name === name);
    // Secrets are audited by name only: their values never reach the audit log.
    const audit = kind === 'secret'
      ? { actor: actor.name, action: 'secret.set', app, function: fn, target: name, before: before === undefined ? null : { set: true }, after: { set: true } }
      : { actor: actor.name, action: 'config.set', app, function: fn, target: name, before: before === undefined ? null : { value: before.value }, after: { value } };
    await this.#store.putConfig(app, fn, { kind, name, value: stored }, audit);
    this.#emit({ kind: 'config', app, function: fn });
  }

  async unsetConfig(actor: Actor, app: string, fn: string, kind: 'value' | 'secret', name: string): Promise<void> {
    await this.#fnAccess(actor, 'config:write', app, fn);
    validateConfigName(name);
    const before = (await this.#store.listConfig(app, fn)).find((e) => e.kind === kind && e.name === name);
    const audit = { actor: actor.name, action: kind === 'secret' ? 'secret.unset' : 'config.unset', app, function: fn, target: name, before: kind === 'secret' ? { set: true } : { value: before?.value ?? null }, after: null };
    if (!(await this.#store.deleteConfig(app, fn, kind, name, audit))) {
      throw cpError('E_CONFIG_NOT_FOUND', `${kind === 'secret' ? 'secret' : 'config value'} ${name} is not set for ${app}/${fn}`, { name });
    }
    this.#emit({ kind: 'config', app, function: fn });
  }

  async readAppSettings(actor: Actor, app: string): Promise<AppSettings> {
    validateName('app', app);
    authorize(actor, 'settings:read', app);
    await this.#requireApp(app);
    return this.getAppSettings(app);
  }

  async updateAppSettings(actor: Actor, app: string, patch: Partial<AppSettings>): Promise<AppSettings> {
    validateName('app', app);
    authorize(actor, 'settings:write', app);
    await this.#requireApp(app);
    if (typeof patch !== 'object' || patch === null) throw cpError('E_VALIDATION', 'settings must be an object with fetchAllowlist and/or grpcServices', { field: 'settings' });
    const current = await this.getAppSettings(app);
    const next: AppSettings = {
      fetchAllowlist: patch.fetchAllowlist === undefined ? current.fetchAllowlist : validateAllowlist(patch.fetchAllowlist),
      grpcServices: current.grpcServices,
    };
    if (patch.grpcServices !== undefined) {
      if (!Array.isArray(patch.grpcServices) || patch.grpcServices.length > MAX_SETTINGS_ENTRIES) throw cpError('E_VALIDATION', `grpcServices must be an array of at most ${MAX_SETTINGS_ENTRIES} services`, { field: 'grpcServices' });
      try {
        next.grpcServices = this.#validateGrpc(patch.grpcServices);
      } catch (error) {
        throw cpError('E_VALIDATION', `grpcServices: ${error instanceof Error ? error.message : String(error)}`, { field: 'grpcServices' });
      }
    }
    await this.#store.putAppSettings(app, JSON.stringify(next), { actor: actor.name, action: 'settings.update', app, function: null, target: null });
    this.#emit({ kind: 'settings', app });
    return next;
  }

  async rotateSigningKey(actor: Actor, app: string): Promise<{ kid: string }> {
    validateName('app', app);
    authorize(actor, 'authkeys:rotate', app);
    await this.#requireApp(app);
    const all = await this.#store.listSigningKeys(app);
    const existing = all.filter((k) => k.retiredAt === null);
    const now = new Date().toISOString();
    // The newest key keeps verifying (tokens it signed stay valid); anything older is retired.
    const retire = existing.slice(1).map((k) => ({ kid: k.kid, at: now }));
    // Keys are ordered by creation time: a rotation in the same millisecond as the newest key's
    // creation must still sort after it (ties would fall back to the random kid).
    const newest = all.reduce((max, k) => Math.max(max, Date.parse(k.createdAt)), 0);
    const key = newSigningKey(new Date(Math.max(Date.now(), newest + 1)).toISOString());
    await this.#store.addSigningKey(app, { ...key, secret: this.#box.seal(key.secret, signingOwner(app, key.kid)) }, {
      retire, audit: { actor: actor.name, action: 'authkey.rotate', app, function: null, target: key.kid },
    });
    this.#emit({ kind: 'keys', app });
    return { kid: key.kid };
  }

  // --- API keys and audit ---------------------------------------------------------------------

  async listKeys(actor: Actor): Promise<ApiKeyInfo[]> {
    authorize(actor, 'keys:manage', null);
    return (await this.#store.listApiKeys()).map(keyInfo);
  }

  async createKey(actor: Actor, input: { name: string; role: Role; apps?: string[] | '*' }): Promise<{ key: ApiKeyInfo; secret: string }> {
    authorize(actor, 'keys:manage', null);
    if (typeof input !== 'object' || input === null) throw cpError('E_VALIDATION', 'body must be { name, role, apps? }', { field: 'body' });
    if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 100) throw cpError('E_VALIDATION', 'name must be a non-empty string of at most 100 characters (it is shown as the author of deploys)', { field: 'name' });
    if (!ROLES.includes(input.role)) throw cpError('E_VALIDATION', `role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(input.role)}`, { field: 'role' });
    let apps: string[] | '*' = input.apps ?? (input.role === 'admin' ? '*' : []);
    if (input.role === 'admin') apps = '*';
    if (apps !== '*') {
      if (!Array.isArray(apps) || apps.length > 1000) throw cpError('E_VALIDATION', 'apps must be "*" or an array of at most 1000 app names', { field: 'apps' });
      apps = [...new Set(apps.map((a) => validateName('app', a)))];
      if (apps.length === 0) throw cpError('E_VALIDATION', `a ${input.role} key needs at least one app (or "*" for all apps)`, { field: 'apps' });
    }
    const { key, record } = await createApiKey(this.#store, { name: input.name.trim(), role: input.role, apps }, { actor: actor.name, action: 'key.create', app: null, function: null, target: null });
    return { key: keyInfo(record), secret: key };
  }

  async revokeKey(actor: Actor, id: string): Promise<ApiKeyInfo> {
    authorize(actor, 'keys:manage', null);
    if (typeof id !== 'string' || id === '' || id.length > 64) throw cpError('E_VALIDATION', 'key id must be a string like key_0123abcd…', { field: 'id' });
    const revoked = await this.#store.revokeApiKey(id, { actor: actor.name, action: 'key.revoke', app: null, function: null, target: id });
    if (revoked === null) throw cpError('E_KEY_NOT_FOUND', `no API key has id ${id}; list them with GET /api/keys`, { id });
    return keyInfo(revoked);
  }

  async listAudit(actor: Actor, query: { app?: string; limit?: number; beforeId?: number }): Promise<AuditRecord[]> {
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw cpError('E_VALIDATION', `limit must be an integer from 1 to 1000, got ${limit}`, { field: 'limit' });
    if (query.beforeId !== undefined && (!Number.isInteger(query.beforeId) || query.beforeId < 1)) throw cpError('E_VALIDATION', 'before must be a positive audit record id', { field: 'before' });
    if (query.app !== undefined) {
      validateName('app', query.app);
      authorize(actor, 'audit:read', query.app);
      return this.#store.listAudit({ apps: [query.app], limit, beforeId: query.beforeId });
    }
    authorize(actor, 'audit:read', null);
    let apps: string[] | null = null;
    if (actor.role !== 'admin') apps = actor.apps === '*' ? (await this.#store.listApps()).map((a) => a.name) : actor.apps;
    return this.#store.listAudit({ apps, limit, beforeId: query.beforeId });
  }

  // --- runtime side -----------------------------------------------------------------------------

  async resolve(app: string, fn: string, alias: string): Promise<ResolvedTarget | null> {
    if (!isValidName(app) || !isValidName(fn) || !isValidName(alias)) return null;
    const route = await this.#store.getAliasRoute(app, fn, alias);
    if (route === null) return null;
    const version = await this.#store.getVersion(app, fn, route.versionId);
    if (version === null) return null;
    let canary: ResolvedTarget['canary'] = null;
    if (route.canary !== null) {
      const canaryVersion = await this.#store.getVersion(app, fn, route.canary.versionId);
      if (canaryVersion !== null) canary = { versionId: canaryVersion.id, limits: canaryVersion.limits, auth: canaryVersion.auth, weight: route.canary.weight };
    }
    return { app, function: fn, alias, versionId: version.id, limits: version.limits, auth: version.auth, canary };
  }

  async getVersion(app: string, fn: string, versionId: string): Promise<VersionWithCode | null> {
    if (!isValidName(app) || !isValidName(fn) || typeof versionId !== 'string' || !VERSION_ID_PATTERN.test(versionId)) return null;
    return this.#store.getVersion(app, fn, versionId);
  }

  /**
   * Validate the lines, then queue them for the store (group commit, see core/logs.ts). Resolves
   * once they are queued: a later `readLogs` in this process sees them. A write the store refuses
   * drops its lines (counted, warned) without failing anyone — logs never fail an invocation.
   * @throws PlatformError E_VALIDATION naming `lines[i].field` for a malformed line (none is kept)
   */
  async appendLogs(lines: LogLine[]): Promise<void> {
    checkLogLines(lines);
    this.#logs.append(lines);
  }

  async getFunctionConfig(app: string, fn: string): Promise<FunctionConfig> {
    const config: FunctionConfig = { values: {}, secrets: {} };
    if (!isValidName(app) || !isValidName(fn)) return config;
    for (const entry of await this.#store.listConfig(app, fn)) {
      if (entry.kind === 'value') config.values[entry.name] = entry.value;
      else config.secrets[entry.name] = this.#box.open(entry.value, secretOwner(app, fn, entry.name));
    }
    return config;
  }

  async getAppSettings(app: string): Promise<AppSettings> {
    const raw = isValidName(app) ? await this.#store.getAppSettings(app) : null;
    if (raw === null) return { fetchAllowlist: [], grpcServices: [] };
    const parsed = JSON.parse(raw) as Partial<AppSettings>;
    return { fetchAllowlist: parsed.fetchAllowlist ?? [], grpcServices: parsed.grpcServices ?? [] };
  }

  async getSigningKeys(app: string): Promise<SigningKey[]> {
    if (!isValidName(app)) return [];
    let stored = await this.#store.listSigningKeys(app);
    if (stored.length === 0) {
      if ((await this.#store.getApp(app)) === null) return [];
      const key = newSigningKey(new Date().toISOString());
      await this.#store.addSigningKey(app, { ...key, secret: this.#box.seal(key.secret, signingOwner(app, key.kid)) }, { onlyIfNone: true });
      stored = await this.#store.listSigningKeys(app);
    }
    return stored.map((k) => ({ kid: k.kid, secret: this.#box.open(k.secret, signingOwner(app, k.kid)), createdAt: k.createdAt, retiredAt: k.retiredAt }));
  }

  onChange(listener: (event: ChangeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#logs.close();
  }
}

const LOG_LEVELS: readonly LogLine['level'][] = ['debug', 'info', 'warn', 'error'];
const ROLES: readonly Role[] = ['admin', 'developer', 'viewer'];
/** Host names of the fetch allowlist: DNS names, optionally `*.` + a name of two labels or more. */
const HOST_PATTERN = /^(\*\.)?(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$|^\d{1,3}(\.\d{1,3}){3}$/;

function secretOwner(app: string, fn: string, name: string): string {
  return `secret:${app}/${fn}/${name}`;
}

function signingOwner(app: string, kid: string): string {
  return `signing-key:${app}/${kid}`;
}

/** A fresh HS256 signing key (32 random bytes); the secret is plaintext here, sealed before storing. */
function newSigningKey(now: string): SigningKey {
  return { kid: randomBytes(8).toString('hex'), secret: randomBytes(32).toString('base64url'), createdAt: now, retiredAt: null };
}

function validateConfigName(name: unknown): string {
  if (typeof name !== 'string' || !CONFIG_NAME_PATTERN.test(name)) {
    throw cpError('E_VALIDATION', `config name ${JSON.stringify(name)} is invalid: use a letter or _ first, then letters, digits or _ (1–63 characters, pattern ${CONFIG_NAME_PATTERN.source})`, { field: 'name' });
  }
  return name;
}

function validateAllowlist(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > MAX_SETTINGS_ENTRIES) throw cpError('E_VALIDATION', `fetchAllowlist must be an array of at most ${MAX_SETTINGS_ENTRIES} host names`, { field: 'fetchAllowlist' });
  return [...new Set(value.map((host, i) => {
    const h = typeof host === 'string' ? host.trim().toLowerCase() : '';
    if (!HOST_PATTERN.test(h)) throw cpError('E_VALIDATION', `fetchAllowlist[${i}] ${JSON.stringify(host)} is not a host name: use e.g. "api.example.com" or "*.example.com" (no scheme, port or path)`, { field: `fetchAllowlist[${i}]` });
    return h;
  }))];
}

/** Structural checks of `grpcServices` when no gRPC validator is wired (the builtin's validator also parses the proto). */
function basicGrpcValidation(value: unknown): GrpcServiceConfig[] {
  if (!Array.isArray(value)) throw new Error('must be an array');
  return value.map((service, i) => {
    const s = service as Partial<GrpcServiceConfig>;
    if (typeof s !== 'object' || s === null || !isValidName(s.name) || typeof s.target !== 'string' || typeof s.proto !== 'string' || typeof s.service !== 'string') {
      throw new Error(`[${i}] needs name (an app-style name), target ("host:port"), proto (the .proto text) and service (e.g. "game.Inventory")`);
    }
    return { ...s, idempotentMethods: Array.isArray(s.idempotentMethods) ? s.idempotentMethods.map(String) : [] } as GrpcServiceConfig;
  });
}

function keyInfo(record: StoredApiKey): ApiKeyInfo {
  return { id: record.id, name: record.name, role: record.role, apps: record.apps, createdAt: record.createdAt, revokedAt: record.revokedAt };
}

/**
 * Build the control plane over a store.
 * @param opts `store` (migrated, caller-owned), `logRingSize` (lines per function, default 1000),
 *   `logAppMaxBytes` (log bytes per app, default 8 MiB), `checkOptions` (deploy checks; validated here once)
 * @returns the `ControlPlane`; its `close()` drops listeners and writes queued log lines but leaves
 *   the store open (close the store after it)
 * @throws TypeError (code ERR_INVALID_ARG_VALUE) for a missing store, a `logRingSize` that is not
 *   an integer in 1..1_000_000, a `logAppMaxBytes` that is not an integer in 1..2^40, or invalid
 *   `checkOptions`
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
  const logAppMaxBytes = opts.logAppMaxBytes ?? DEFAULT_LOG_APP_MAX_BYTES;
  if (!Number.isSafeInteger(logAppMaxBytes) || logAppMaxBytes < 1 || logAppMaxBytes > 2 ** 40) {
    throw invalid(`createControlPlane: logAppMaxBytes must be an integer between 1 and 2^40 (bytes), got ${logAppMaxBytes}`);
  }
  if (opts.secretKey !== undefined && (!Buffer.isBuffer(opts.secretKey) || opts.secretKey.length !== 32)) throw invalid('createControlPlane: secretKey must be a 32-byte Buffer');
  const box = new SecretBox(opts.secretKey ?? randomBytes(32));
  const checkOptions = resolveCheckOptions(opts.checkOptions);
  const logs = new LogWriter(opts.store, { ringSize: logRingSize, appMaxBytes: logAppMaxBytes });
  return new CoreControlPlane(opts.store, logs, checkOptions, box, opts.validateGrpcServices ?? basicGrpcValidation);
}
