/**
 * `RemoteControlPlane`: the `RuntimeControlPlane` of `faas runtime`, over gRPC
 * (proto/control_plane.proto) with caches that keep a runtime serving while the control plane is
 * away. How it behaves (caches, the change stream, reconnects, logs): runtime/remote/README.md.
 */
import * as grpc from '@grpc/grpc-js';
import type {
  AppSettings, ChangeEvent, FunctionConfig, LogLine, ResolvedTarget, RuntimeControlPlane, SigningKey, VersionWithCode,
} from '../../control-plane/core/types.ts';
import {
  changeFromWire, configFromWire, ERROR_CODE_KEY, fromGrpcError, keysFromWire, logLineToWire, methodDefinition, settingsFromWire, targetFromWire, versionFromWire,
  type ControlPlaneMethods, type UnaryMethodName, type WireChangeEvent,
} from '../../control-plane/grpc/proto.ts';
import { runtimeError } from '../errors.ts';
import { LogShipper, type LogShipperOptions, type LogShipperStats } from './log-shipper.ts';
import { LruMap } from './lru.ts';
import { RefreshingCache } from './refreshing-cache.ts';

/** Options of `RemoteControlPlane`; only `target` and `token` are required. */
export interface RemoteControlPlaneOptions {
  /** `host:port` of the control plane's gRPC server (FAAS_CONTROL_PLANE_GRPC). */
  target: string;
  /** The shared token (FAAS_GRPC_TOKEN). */
  token: string;
  /** Deadline of each unary call, in ms (GetVersion gets twice this). @default 3000 */
  deadlineMs?: number;
  /** Total code bytes of cached versions. @default 268_435_456 (256 MiB) */
  versionCacheBytes?: number;
  /** Cached versions. @default 10_000 */
  versionCacheEntries?: number;
  /** Cached alias resolutions, and separately config / settings / key entries. @default 100_000 */
  cacheEntries?: number;
  /** First reconnect delay of the change stream, in ms; doubles per failed attempt, with jitter. @default 100 */
  reconnectInitialMs?: number;
  /** Longest reconnect delay, in ms. @default 5000 */
  reconnectMaxMs?: number;
  /** Batching and bounds of shipped log lines. */
  logs?: Partial<LogShipperOptions>;
  /** Notified when the stream connects, resets or drops (e.g. to log it). */
  onStream?: (event: { type: 'connected'; resumed: boolean } | { type: 'reset'; reason: string } | { type: 'disconnected'; error: string }) => void;
}

/** Connection and cache state, for /readyz. */
export interface RemoteControlPlaneStatus {
  target: string;
  /** The change stream is open and synced: cached answers are current. */
  connected: boolean;
  /** The stream was synced at least once since start. */
  everConnected: boolean;
  /** Epoch ms of the last message on the stream (null before the first). */
  lastEventAt: number | null;
  epoch: string;
  lastSequence: number;
  /** Stream (re)connections that synced. */
  sessions: number;
  /** Resets received (the control plane restarted, or this runtime fell too far behind). */
  resets: number;
  lastError: string | null;
  cache: { versions: number; versionBytes: number; resolutions: number; servedStale: number };
  logs: LogShipperStats;
}

type Listener = (event: ChangeEvent) => void;

const positiveInt = (name: string, value: number | undefined, fallback: number): number => {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw Object.assign(new TypeError(`RemoteControlPlane: ${name} must be a positive integer, got ${v}`), { code: 'ERR_INVALID_ARG_VALUE' });
  return v;
};

/**
 * See the module comment. Construct, then `start()`; `close()` when done.
 * @example
 *   const cp = new RemoteControlPlane({ target: '10.0.0.5:9090', token });
 *   cp.start();
 *   await cp.waitUntilConnected(10_000);
 *   const target = await cp.resolve('game1', 'follow', 'prod');
 */
export class RemoteControlPlane implements RuntimeControlPlane {
  readonly #target: string;
  readonly #token: string;
  readonly #deadlineMs: number;
  readonly #reconnectInitialMs: number;
  readonly #reconnectMaxMs: number;
  readonly #client: grpc.Client;
  readonly #versions: LruMap<string, VersionWithCode>;
  readonly #versionFlights = new Map<string, Promise<VersionWithCode | null>>();
  readonly #resolutions: RefreshingCache<ResolvedTarget>;
  readonly #configs: RefreshingCache<FunctionConfig>;
  readonly #settings: RefreshingCache<AppSettings>;
  readonly #keys: RefreshingCache<SigningKey[]>;
  readonly #knownApps = new LruMap<string, true>({ maxEntries: 10_000 });
  readonly #logs: LogShipper;
  readonly #listeners = new Set<Listener>();
  readonly #onStream: RemoteControlPlaneOptions['onStream'];
  readonly #connectWaiters = new Set<() => void>();

  #started = false;
  #closed = false;
  #call: grpc.ClientReadableStream<WireChangeEvent> | null = null;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #attempt = 0;
  /** Session number while the stream is synced, else null. */
  #session: number | null = null;
  #sessions = 0;
  #resets = 0;
  #epoch = '';
  #sequence = 0;
  #lastEventAt: number | null = null;
  #lastError: string | null = null;
  #unauthenticated = false;

  /** @throws TypeError (ERR_INVALID_ARG_VALUE) for a malformed target, a short token or an invalid option */
  constructor(options: RemoteControlPlaneOptions) {
    const invalid = (message: string) => Object.assign(new TypeError(`RemoteControlPlane: ${message}`), { code: 'ERR_INVALID_ARG_VALUE' });
    if (typeof options.target !== 'string' || !/^(\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):\d{1,5}$/.test(options.target)) {
      throw invalid(`target must be host:port of the control plane's gRPC server (FAAS_CONTROL_PLANE_GRPC), got ${JSON.stringify(options.target)}`);
    }
    if (typeof options.token !== 'string' || options.token.length < 16) throw invalid('token must be the control plane\'s gRPC token (FAAS_GRPC_TOKEN, at least 16 characters)');
    this.#target = options.target;
    this.#token = options.token;
    this.#deadlineMs = positiveInt('deadlineMs', options.deadlineMs, 3000);
    this.#reconnectInitialMs = positiveInt('reconnectInitialMs', options.reconnectInitialMs, 100);
    this.#reconnectMaxMs = Math.max(this.#reconnectInitialMs, positiveInt('reconnectMaxMs', options.reconnectMaxMs, 5000));
    const cacheEntries = positiveInt('cacheEntries', options.cacheEntries, 100_000);
    this.#versions = new LruMap({
      maxEntries: positiveInt('versionCacheEntries', options.versionCacheEntries, 10_000),
      maxWeight: positiveInt('versionCacheBytes', options.versionCacheBytes, 256 * 1024 * 1024),
      weigh: (v) => Buffer.byteLength(v.code),
    });
    const session = () => this.#session;
    this.#resolutions = new RefreshingCache(cacheEntries, session);
    this.#configs = new RefreshingCache(cacheEntries, session);
    this.#settings = new RefreshingCache(cacheEntries, session);
    this.#keys = new RefreshingCache(cacheEntries, session);
    this.#logs = new LogShipper(async (lines) => { await this.#unary('AppendLogs', { lines: lines.map(logLineToWire) }); }, options.logs);
    this.#onStream = options.onStream;
    this.#client = new grpc.Client(this.#target, grpc.credentials.createInsecure(), {
      // Find a dead connection within ~15 s even when no packet says so (a partition, not a crash).
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': this.#reconnectInitialMs,
      'grpc.max_reconnect_backoff_ms': this.#reconnectMaxMs,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 16 * 1024 * 1024,
    });
  }

  /** Open the change stream (and keep it open, reconnecting with backoff, until `close()`). Idempotent. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#openStream();
  }

  /**
   * Wait until the change stream is synced.
   * @returns true when connected, false when `timeoutMs` passed first
   * @throws Error (code ERR_FAAS_CONFIG) when the control plane refused the token (no point in waiting)
   */
  async waitUntilConnected(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#session === null) {
      if (this.#unauthenticated) {
        throw Object.assign(new Error(`the control plane at ${this.#target} refused this runtime's gRPC token: set FAAS_GRPC_TOKEN to the control plane's token ($FAAS_DATA_DIR/grpc.token there)`), { code: 'ERR_FAAS_CONFIG' });
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.#closed) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#connectWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 250));
        this.#connectWaiters.add(done);
      });
    }
    return true;
  }

  // --- RuntimeControlPlane ---------------------------------------------------------------------

  async resolve(app: string, fn: string, alias: string): Promise<ResolvedTarget | null> {
    return this.#resolutions.get(`${app}/${fn}@${alias}`, () => this.#fetchResolution(app, fn, alias));
  }

  /** Versions are immutable: cached by app/function/id (LRU by bytes), one call per id however many ask at once. */
  async getVersion(app: string, fn: string, versionId: string): Promise<VersionWithCode | null> {
    const key = `${app}/${fn}#${versionId}`;
    const hit = this.#versions.get(key);
    if (hit !== undefined) return hit;
    const running = this.#versionFlights.get(key);
    if (running !== undefined) return running;
    const flight = (async () => {
      try {
        const wire = await this.#unary('GetVersion', { app, function: fn, version_id: versionId }, this.#deadlineMs * 2, true);
        if (wire === null) return null;
        const version = versionFromWire(wire);
        this.#versions.set(key, version);
        return version;
      } finally {
        this.#versionFlights.delete(key);
      }
    })();
    this.#versionFlights.set(key, flight);
    return flight;
  }

  /** Queue lines for the control plane's log store (batched; dropped and counted when it is away). Never rejects. */
  async appendLogs(lines: LogLine[]): Promise<void> {
    this.#logs.push(lines);
  }

  async getFunctionConfig(app: string, fn: string): Promise<FunctionConfig> {
    const config = await this.#configs.get(`${app}/${fn}`, async () => configFromWire(await this.#unary('GetFunctionConfig', { app, function: fn })));
    return config === null ? { values: {}, secrets: {} } : { values: { ...config.values }, secrets: { ...config.secrets } };
  }

  async getAppSettings(app: string): Promise<AppSettings> {
    const settings = await this.#settings.get(app, async () => settingsFromWire(await this.#unary('GetAppSettings', { app })));
    return settings === null ? { fetchAllowlist: [], grpcServices: [] } : structuredClone(settings);
  }

  async getSigningKeys(app: string): Promise<SigningKey[]> {
    const keys = await this.#keys.get(app, async () => keysFromWire(await this.#unary('GetSigningKeys', { app })));
    return keys === null ? [] : keys.map((k) => ({ ...k }));
  }

  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Whether an app exists (only to word a 404). Positive answers are cached; when the control plane
   * cannot be reached the answer is true (the 404 then says "function not found").
   */
  async appExists(app: string): Promise<boolean> {
    if (this.#knownApps.has(app)) return true;
    try {
      const { exists } = await this.#unary('AppExists', { app });
      if (exists) this.#knownApps.set(app, true);
      return exists;
    } catch {
      return true;
    }
  }

  status(): RemoteControlPlaneStatus {
    return {
      target: this.#target,
      connected: this.#session !== null,
      everConnected: this.#sessions > 0,
      lastEventAt: this.#lastEventAt,
      epoch: this.#epoch,
      lastSequence: this.#sequence,
      sessions: this.#sessions,
      resets: this.#resets,
      lastError: this.#lastError,
      cache: {
        versions: this.#versions.size,
        versionBytes: this.#versions.weight,
        resolutions: this.#resolutions.size,
        servedStale: this.#resolutions.servedStale + this.#configs.servedStale + this.#settings.servedStale + this.#keys.servedStale,
      },
      logs: this.#logs.stats(),
    };
  }

  /** Send buffered log lines, end the stream and close the channel. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#logs.close();
    this.#closed = true;
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#call?.cancel();
    this.#call = null;
    this.#session = null;
    for (const wake of this.#connectWaiters) wake();
    this.#listeners.clear();
    this.#client.close();
  }

  // --- internals -------------------------------------------------------------------------------

  #metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${this.#token}`);
    return metadata;
  }

  /** One unary call with a deadline; NOT_FOUND answers null when `nullOnNotFound`. Rejects with a PlatformError. */
  #unary<M extends UnaryMethodName>(name: M, request: ControlPlaneMethods[M][0]): Promise<ControlPlaneMethods[M][1]>;
  #unary<M extends UnaryMethodName>(name: M, request: ControlPlaneMethods[M][0], deadlineMs: number, nullOnNotFound: true): Promise<ControlPlaneMethods[M][1] | null>;
  #unary<M extends UnaryMethodName>(name: M, request: ControlPlaneMethods[M][0], deadlineMs = this.#deadlineMs, nullOnNotFound = false): Promise<ControlPlaneMethods[M][1] | null> {
    if (this.#closed) return Promise.reject(runtimeError('E_CONTROL_PLANE_UNAVAILABLE', `${name}: the runtime is shutting down`));
    const def = methodDefinition(name);
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, this.#metadata(), { deadline: Date.now() + deadlineMs }, (err, value) => {
        if (err) {
          if (nullOnNotFound && err.code === grpc.status.NOT_FOUND && (err.metadata?.get(ERROR_CODE_KEY) ?? []).length === 0) resolve(null);
          else reject(fromGrpcError(err, name));
          return;
        }
        resolve(value ?? null);
      });
    });
  }

  async #fetchResolution(app: string, fn: string, alias: string): Promise<ResolvedTarget | null> {
    const wire = await this.#unary('ResolveAlias', { app, function: fn, alias }, this.#deadlineMs, true);
    return wire === null ? null : targetFromWire(wire);
  }

  #openStream(): void {
    if (this.#closed) return;
    const def = methodDefinition('WatchDeploys');
    const call = this.#client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, { epoch: this.#epoch, from_sequence: this.#sequence }, this.#metadata(), {});
    this.#call = call;
    let ended = false;
    const end = (error: string) => {
      if (ended) return;
      ended = true;
      if (this.#call === call) this.#call = null;
      const wasSynced = this.#session !== null;
      this.#session = null;
      if (this.#closed) return;
      this.#lastError = error;
      if (wasSynced) this.#onStream?.({ type: 'disconnected', error });
      this.#scheduleReconnect();
    };
    call.on('data', (message: WireChangeEvent) => this.#onMessage(message));
    call.on('error', (err: grpc.ServiceError) => {
      this.#unauthenticated = err.code === grpc.status.UNAUTHENTICATED;
      end(`${grpc.status[err.code] ?? err.code}: ${err.details}`);
    });
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) end('the control plane ended the stream (shutting down?)');
    });
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer !== null) return;
    // Exponential backoff with "equal jitter": half the step fixed, half random, so a fleet of
    // runtimes does not reconnect in lockstep after a control-plane restart.
    const step = Math.min(this.#reconnectMaxMs, this.#reconnectInitialMs * 2 ** Math.min(this.#attempt, 20));
    const delay = this.#unauthenticated ? this.#reconnectMaxMs : step / 2 + Math.random() * (step / 2);
    this.#attempt++;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#openStream();
    }, delay);
    this.#reconnectTimer.unref();
  }

  #onMessage(message: WireChangeEvent): void {
    this.#lastEventAt = Date.now();
    if (message.hello) {
      if (!message.hello.resumed) this.#sequence = message.sequence;
      this.#epoch = message.epoch;
      this.#synced({ type: 'connected', resumed: message.hello.resumed });
      return;
    }
    if (message.reset) {
      this.#epoch = message.epoch;
      this.#sequence = message.sequence;
      this.#resets++;
      this.#synced({ type: 'reset', reason: message.reset.reason });
      this.#reconcile();
      return;
    }
    if (message.epoch !== this.#epoch || message.sequence <= this.#sequence) return; // a duplicate
    this.#sequence = message.sequence;
    const change = changeFromWire(message);
    if (change !== null) this.#apply(change);
  }

  #synced(event: { type: 'connected'; resumed: boolean } | { type: 'reset'; reason: string }): void {
    this.#session = ++this.#sessions;
    this.#attempt = 0;
    this.#unauthenticated = false;
    this.#lastError = null;
    this.#onStream?.(event);
    for (const wake of this.#connectWaiters) wake();
    this.#connectWaiters.clear();
  }

  /** A change from the stream: mark what it touches stale, refresh an alias this runtime serves at once, tell listeners. */
  #apply(change: ChangeEvent): void {
    switch (change.kind) {
      case 'alias': {
        const key = `${change.app}/${change.function}@${change.alias}`;
        const served = this.#resolutions.has(key);
        this.#resolutions.invalidate(key);
        if (served) {
          // Warm both the resolution and the new code, so the next request pays no round trip.
          void this.#resolutions.refresh(key, () => this.#fetchResolution(change.app, change.function, change.alias)).catch(() => {});
          void this.getVersion(change.app, change.function, change.versionId).catch(() => {});
        }
        break;
      }
      case 'config':
        this.#configs.invalidate(`${change.app}/${change.function}`);
        break;
      case 'settings':
        this.#settings.invalidate(change.app);
        break;
      case 'keys':
        this.#keys.invalidate(change.app);
        break;
    }
    this.#emit(change);
  }

  /**
   * After a reset nothing cached is known to be current: mark everything stale, tell listeners
   * about every cached config/settings/keys entry at once, and re-resolve every cached alias
   * (16 at a time) before telling listeners where it points now.
   */
  #reconcile(): void {
    for (const cache of [this.#resolutions, this.#configs, this.#settings, this.#keys]) cache.invalidateAll();
    for (const key of this.#configs.keys()) {
      const [app, fn] = key.split('/');
      this.#emit({ kind: 'config', app, function: fn });
    }
    for (const app of this.#settings.keys()) this.#emit({ kind: 'settings', app });
    for (const app of this.#keys.keys()) this.#emit({ kind: 'keys', app });
    const queue = this.#resolutions.keys();
    const worker = async () => {
      for (let key = queue.shift(); key !== undefined && !this.#closed; key = queue.shift()) {
        const match = /^([^/]+)\/([^@]+)@(.+)$/.exec(key);
        if (match === null) continue;
        const [, app, fn, alias] = match;
        let versionId = '';
        try {
          versionId = (await this.#resolutions.refresh(key, () => this.#fetchResolution(app, fn, alias)))?.versionId ?? '';
        } catch { /* unreachable again: listeners still drop their copy and will ask again */ }
        this.#emit({ kind: 'alias', app, function: fn, alias, versionId });
      }
    };
    for (let i = 0; i < 16; i++) void worker();
  }

  #emit(change: ChangeEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener({ ...change });
      } catch (error) {
        process.emitWarning(`onChange listener threw: ${error instanceof Error ? error.message : String(error)}`, 'FaasRemoteControlPlaneWarning');
      }
    }
  }
}
