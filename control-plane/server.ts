/**
 * Composition roots of the platform's roles (started by `cli/roles.ts`):
 *
 * - `startPlatform` — `faas all`: every role in one OS process tree: the control plane (`/api`),
 *   the gateway (`/fn`), health checks, the supervisor with its isolate-host worker processes, and
 *   the control plane's gRPC server when FAAS_GRPC_PORT is set.
 * - `startControlPlaneRole` — `faas control-plane`: store, REST API and the gRPC server runtimes
 *   connect to; no gateway, no workers.
 * - `startRuntimeRole` — `faas runtime`: gateway, supervisor and workers, getting code, aliases,
 *   config and keys from a control plane over gRPC (`runtime/remote/`).
 *
 * The runtime side (`mountRuntime`) only needs a `RuntimeControlPlane`: the `ControlPlane` itself in
 * `faas all`, a `RemoteControlPlane` in `faas runtime`. Each piece wired here lives in its own folder.
 *
 * Configuration (environment, documented in README): PORT (8080), HOST (127.0.0.1),
 * FAAS_DATA_DIR (./data), REDIS_URL, MYSQL_URL, FAAS_WORKERS (cores), FAAS_DEPLOY_SAMPLES (1),
 * FAAS_SAMPLE_APP (demo), FAAS_LOG_LEVEL (info); gRPC: FAAS_GRPC_PORT, FAAS_GRPC_HOST (HOST),
 * FAAS_GRPC_TOKEN, FAAS_GRPC_TOKEN_FILE, FAAS_CONTROL_PLANE_GRPC, FAAS_GRPC_RECONNECT_MAX_MS (5000).
 */
import { createHmac } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { createRedisHost } from '../builtins/redis/host.ts';
import { createEmbeddedBackend, type RedisBackend } from '../builtins/redis/backend.ts';
import { runtimeError } from '../runtime/errors.ts';
import { createRpcInvoker, gatewayRoutes, type GatewayDeps } from '../runtime/gateway.ts';
import { createGatewayBuiltins } from '../runtime/gateway-builtins.ts';
import { adminUi } from '../admin-ui/plugin.ts';
import { createSqlHost, type SqlHost } from '../builtins/sql/host.ts';
import { validateGrpcServices } from '../builtins/grpc/config.ts';
import { createMysqlSqlBackend } from '../builtins/sql/mysql-backend.ts';
import { createSqliteSqlBackend } from '../builtins/sql/sqlite-backend.ts';
import { InvocationStats } from '../runtime/stats.ts';
import { PlatformMetrics } from '../runtime/metrics.ts';
import type { Registry } from 'prom-client';
import { RemoteControlPlane } from '../runtime/remote/control-plane-client.ts';
import { Tracing, tracingFromEnv, type TracingConfig } from '../runtime/tracing.ts';
import { Resolver } from '../runtime/resolver.ts';
import { WorkerSupervisor, type SupervisedResult } from '../runtime/supervisor.ts';
import { createControlPlane } from './core/control-plane.ts';
import { ControlPlaneMetrics } from './metrics.ts';
import { ensureAdminKey } from './core/keys.ts';
import { loadSecretKey } from './core/secrets.ts';
import type { Actor, AuthMode, ControlPlane, LogLine, RuntimeControlPlane } from './core/types.ts';
import { startControlPlaneGrpc, type ControlPlaneGrpcServer } from './grpc/server.ts';
import { configError, controlPlaneToken, runtimeToken } from './grpc/token.ts';
import { gatewayShape, type GatewayShape } from './gateway-shape.ts';
import { apiRoutes, registerErrorHandler } from './routes/api.ts';
import { openStore } from './store/open.ts';
import type { Store } from './store/store.ts';

/** gRPC settings of the control plane and of runtimes. */
export interface GrpcConfig {
  /** FAAS_GRPC_PORT: the control plane's gRPC port. null → `faas all` starts no gRPC server, `faas control-plane` uses 9090. */
  port: number | null;
  /** FAAS_GRPC_HOST: the gRPC listen address. @default HOST */
  host: string;
  /** FAAS_GRPC_TOKEN: the shared token. Control plane: unset → `$FAAS_DATA_DIR/grpc.token` (generated 0600 at first start). */
  token?: string;
  /** FAAS_GRPC_TOKEN_FILE: runtime only, a file holding the token (e.g. a mounted secret). */
  tokenFile?: string;
  /** FAAS_CONTROL_PLANE_GRPC: `host:port` a runtime connects to (required by `faas runtime`). */
  controlPlaneTarget?: string;
  /** FAAS_GRPC_RECONNECT_MAX_MS: longest delay between reconnect attempts of a runtime's change stream. @default 5000 */
  reconnectMaxMs: number;
}

/** Platform configuration; `configFromEnv()` builds it from the environment. */
export interface PlatformConfig {
  /** TCP port; 0 picks a free one. @default 8080 */
  port: number;
  /** Listen address. @default 127.0.0.1 (set 0.0.0.0 in containers) */
  host: string;
  /** Directory for the SQLite store, admin.key, secret.key and grpc.token. @default ./data */
  dataDir: string;
  /** Real Redis for `ctx.redis`; unset → the embedded in-process store. */
  redisUrl?: string;
  /** MySQL/MariaDB for control-plane metadata; unset → SQLite under dataDir. */
  mysqlUrl?: string;
  /**
   * MySQL/MariaDB account for `ctx.sql` (creates a database and a user per app, so it needs
   * CREATE, CREATE USER, GRANT OPTION and PROCESS/CONNECTION ADMIN for KILL): `FAAS_SQL_URL`,
   * else `MYSQL_URL`; unset → one SQLite file per app under `$FAAS_DATA_DIR/sql/`.
   */
  sqlUrl?: string;
  /** Isolate-host worker processes. @default os.availableParallelism() */
  workers: number;
  /**
   * FAAS_GATEWAY: who serves `/fn` (DESIGN.md, Processes). `process` (default) — shape (a): this
   * process's gateway forwards each invocation to a worker over IPC; `workers` — shape (b): the
   * workers take the connections and run the gateway in front of their own pools (no IPC hop per
   * invocation; a dying worker drops the connections it was serving).
   */
  gateway: GatewayShape;
  /** Deploy `functions/*` into `sampleApp` at start. @default true */
  deploySamples: boolean;
  /** App the samples are deployed to. @default demo */
  sampleApp: string;
  /** Log level of the platform's own logs (pino levels). @default info */
  logLevel: string;
  /** Traces: OTEL_EXPORTER_OTLP_ENDPOINT, FAAS_TRACES=console, FAAS_TRACE_SAMPLE_RATIO. */
  tracing: TracingConfig;
  /** gRPC between control plane and runtimes. */
  grpc: GrpcConfig;
  /** FAAS_GRPC_PRIVATE_NETWORKS (comma-separated CIDRs): networks ctx.rpc.grpc targets may resolve to although not public. @default [] */
  grpcPrivateNetworks: string[];
  /** FAAS_FETCH_ALLOW_ADDRESSES (comma-separated `ip:port`, tests only): private addresses ctx.fetch may reach. @default [] */
  fetchAllowAddresses: string[];
}

/** Default gRPC port of `faas control-plane`. */
export const DEFAULT_GRPC_PORT = 9090;

/** Read the configuration from `env`. @throws Error (code ERR_FAAS_CONFIG) naming the variable when a value is invalid. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): PlatformConfig {
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw configError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const list = (name: string): string[] => (env[name] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  // The workers read FAAS_POOL_* themselves (they inherit the environment); a bad value there would
  // make every worker fail at start, so it is refused here, before anything starts.
  for (const name of ['FAAS_POOL_MAX_ISOLATES', 'FAAS_POOL_MAX_CONCURRENCY', 'FAAS_POOL_IDLE_TIMEOUT_MS', 'FAAS_POOL_QUEUE_TIMEOUT_MS']) int(name, 1, 1);
  int('FAAS_POOL_SPARE', 2, 0, 16); // spare isolates each worker keeps ready (runtime/pool/pool.ts, spareCount)
  const host = env.HOST || '127.0.0.1';
  const target = env.FAAS_CONTROL_PLANE_GRPC || undefined;
  if (target !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(target)) {
    throw configError(`FAAS_CONTROL_PLANE_GRPC must be host:port of the control plane's gRPC server (e.g. control-plane:9090), got ${JSON.stringify(target)}`);
  }
  return {
    port: int('PORT', 8080, 0, 65535),
    host,
    dataDir: resolve(env.FAAS_DATA_DIR || './data'),
    redisUrl: env.REDIS_URL || undefined,
    mysqlUrl: env.MYSQL_URL || undefined,
    sqlUrl: env.FAAS_SQL_URL || env.MYSQL_URL || undefined,
    workers: int('FAAS_WORKERS', Math.max(1, availableParallelism()), 1),
    gateway: gatewayShape(env.FAAS_GATEWAY),
    deploySamples: !['0', 'false', 'no'].includes(String(env.FAAS_DEPLOY_SAMPLES ?? '1').toLowerCase()),
    sampleApp: env.FAAS_SAMPLE_APP || 'demo',
    logLevel: env.FAAS_LOG_LEVEL || 'info',
    tracing: tracingFromEnv(env),
    grpc: {
      port: env.FAAS_GRPC_PORT === undefined || env.FAAS_GRPC_PORT === '' ? null : int('FAAS_GRPC_PORT', DEFAULT_GRPC_PORT, 0, 65535),
      host: env.FAAS_GRPC_HOST || host,
      token: env.FAAS_GRPC_TOKEN || undefined,
      tokenFile: env.FAAS_GRPC_TOKEN_FILE || undefined,
      controlPlaneTarget: target,
      reconnectMaxMs: int('FAAS_GRPC_RECONNECT_MAX_MS', 5000, 100, 600_000),
    },
    grpcPrivateNetworks: list('FAAS_GRPC_PRIVATE_NETWORKS'),
    fetchAllowAddresses: list('FAAS_FETCH_ALLOW_ADDRESSES'),
  };
}


/** A running `faas all`. `close()` stops accepting requests, drains workers and closes the store; idempotent. */
export interface RunningPlatform {
  url: string;
  app: FastifyInstance;
  controlPlane: ControlPlane;
  supervisor: WorkerSupervisor;
  /** The gRPC server, when FAAS_GRPC_PORT is set. */
  grpc: ControlPlaneGrpcServer | null;
  /** The admin key when this start created it (printed once), else null. */
  createdAdminKey: string | null;
  close(): Promise<void>;
}

/** A running `faas control-plane`. `close()` ends gRPC streams, stops HTTP and closes the store; idempotent. */
export interface RunningControlPlane {
  url: string;
  app: FastifyInstance;
  controlPlane: ControlPlane;
  grpc: ControlPlaneGrpcServer;
  /** Where the gRPC token came from: `FAAS_GRPC_TOKEN` or the token file's path. */
  grpcTokenSource: string;
  createdAdminKey: string | null;
  close(): Promise<void>;
}

/** A running `faas runtime`. `close()` stops HTTP, drains workers, ships buffered logs and closes the channel; idempotent. */
export interface RunningRuntime {
  url: string;
  app: FastifyInstance;
  remote: RemoteControlPlane;
  supervisor: WorkerSupervisor;
  close(): Promise<void>;
}

const SYSTEM_ACTOR: Actor = Object.freeze({ keyId: 'system', name: 'system', role: 'admin', apps: '*' });
const SAMPLES_DIR = new URL('../functions/', import.meta.url);

/**
 * `faas all` — start every role: store → control plane → admin key → workers → samples → HTTP
 * (→ gRPC when `config.grpc.port` is set).
 * @throws Error when the store cannot be opened, a worker cannot start or a port cannot be bound (nothing is left running).
 */
export async function startPlatform(config: PlatformConfig): Promise<RunningPlatform> {
  const app = createHttp(config);
  let cp: OpenedControlPlane | null = null;
  let runtime: RuntimeSide | null = null;
  let grpc: StartedGrpc | null = null;
  // Close order: gRPC streams end first (runtimes fail over to their caches), then HTTP, workers, the store last.
  const close = once(() => closeInOrder([grpc?.server.close, () => app.close(), runtime?.close, cp?.close]));
  try {
    cp = await openControlPlane(config);
    const { store, controlPlane } = cp;
    runtime = await mountRuntime(app, {
      config,
      controlPlane,
      appExists: async (name) => (await store.getApp(name)) !== null,
      readiness: async () => {
        let ok = true;
        try { await store.ping(); } catch { ok = false; }
        return { ok, details: { store: { kind: store.kind, ok } } };
      },
    });
    const cpMetrics = instrumentControlPlane(controlPlane, runtime.registry);
    if (config.deploySamples) await deploySamples(controlPlane, config.sampleApp, app);
    registerErrorHandler(app);
    const stats = runtime.stats;
    await app.register(async (api) => {
      cpMetrics.instrumentHttp(api);
      await api.register(apiRoutes, { controlPlane, stats: (name) => stats.forApp(name) });
    }, { prefix: '/api' });
    await app.register(adminUi);
    const url = await listen(app, config, runtime);
    if (config.grpc.port !== null) grpc = await startGrpc(config, config.grpc.port, cp, app, cpMetrics);
    announceAdminKey(cp.adminKey);
    return { url, app, controlPlane, supervisor: runtime.supervisor, grpc: grpc?.server ?? null, createdAdminKey: cp.adminKey.created ? cp.adminKey.key : null, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

/**
 * `faas control-plane` — store, REST API (`/api`), health checks and the gRPC server for runtimes
 * (`config.grpc.port`, default 9090); no gateway and no workers.
 * @throws Error when the store cannot be opened, the token is invalid or a port cannot be bound (nothing is left running).
 */
export async function startControlPlaneRole(config: PlatformConfig): Promise<RunningControlPlane> {
  const app = createHttp(config);
  let cp: OpenedControlPlane | null = null;
  let grpc: StartedGrpc | null = null;
  const close = once(() => closeInOrder([grpc?.server.close, () => app.close(), cp?.close]));
  try {
    cp = await openControlPlane(config);
    const { store, controlPlane } = cp;
    const cpMetrics = instrumentControlPlane(controlPlane);
    if (config.deploySamples) await deploySamples(controlPlane, config.sampleApp, app);
    registerErrorHandler(app);
    await app.register(async (api) => {
      cpMetrics.instrumentHttp(api);
      await api.register(apiRoutes, { controlPlane });
    }, { prefix: '/api' });
    app.get('/metrics', async (_request, reply) => reply.type(cpMetrics.contentType).send(await cpMetrics.render()));
    await app.register(adminUi);
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      let storeOk = true;
      try { await store.ping(); } catch { storeOk = false; }
      const server = grpc?.server ?? null;
      const ready = storeOk && server !== null;
      return reply.code(ready ? 200 : 503).send({
        status: ready ? 'ready' : 'not ready',
        role: 'control-plane',
        store: { kind: store.kind, ok: storeOk },
        grpc: server === null ? null : { port: server.port, streams: server.streams(), epoch: server.feed.epoch, lastSequence: server.feed.lastSequence },
      });
    });
    const url = await listen(app, config);
    grpc = await startGrpc(config, config.grpc.port ?? DEFAULT_GRPC_PORT, cp, app, cpMetrics);
    announceAdminKey(cp.adminKey);
    return { url, app, controlPlane, grpc: grpc.server, grpcTokenSource: grpc.tokenSource, createdAdminKey: cp.adminKey.created ? cp.adminKey.key : null, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

/**
 * `faas runtime` — gateway (`/fn`), supervisor and workers, `/metrics`, `/healthz`, `/readyz`;
 * everything it needs from the control plane comes over gRPC from `config.grpc.controlPlaneTarget`.
 * Starts even when the control plane is down (`/readyz` answers 503 until the first connection).
 * @throws Error when FAAS_CONTROL_PLANE_GRPC or the token is missing, the control plane refuses
 *   the token, a worker cannot start or the port cannot be bound (nothing is left running).
 */
export async function startRuntimeRole(config: PlatformConfig): Promise<RunningRuntime> {
  const target = config.grpc.controlPlaneTarget;
  if (target === undefined) throw configError('faas runtime needs FAAS_CONTROL_PLANE_GRPC=host:port of the control plane\'s gRPC server (FAAS_GRPC_PORT there, default 9090)');
  const token = await runtimeToken({ token: config.grpc.token, file: config.grpc.tokenFile });
  const app = createHttp(config);
  const remote = new RemoteControlPlane({
    target,
    token,
    reconnectMaxMs: config.grpc.reconnectMaxMs,
    onStream: (event) => {
      if (event.type === 'connected') app.log.info({ target, resumed: event.resumed }, 'control plane connected');
      else if (event.type === 'reset') app.log.warn({ target, reason: event.reason }, 'control plane stream reset: every cached resolution is fetched again');
      else app.log.warn({ target, error: event.error }, 'control plane disconnected: serving from cache, reconnecting');
    },
  });
  let runtime: RuntimeSide | null = null;
  // Close order: HTTP, workers, then the channel (buffered log lines are sent on the way out).
  const close = once(() => closeInOrder([() => app.close(), runtime?.close, () => remote.close()]));
  try {
    remote.start();
    if (!(await remote.waitUntilConnected(5_000))) {
      app.log.warn({ target }, 'the control plane is not reachable yet: /readyz answers 503 until it is; retrying with backoff');
    }
    runtime = await mountRuntime(app, {
      config,
      controlPlane: remote,
      appExists: (name) => remote.appExists(name),
      readiness: async () => {
        const status = remote.status();
        // Once connected, an outage keeps the runtime ready: it serves what it has cached.
        return { ok: status.everConnected, details: { role: 'runtime', controlPlane: status } };
      },
    });
    const url = await listen(app, config, runtime);
    return { url, app, remote, supervisor: runtime.supervisor, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

// --- pieces ----------------------------------------------------------------------------------------

/** What the runtime side needs from its role. */
interface RuntimeDeps {
  config: PlatformConfig;
  /** Code, aliases, config, settings, keys, logs: the ControlPlane itself or a RemoteControlPlane. */
  controlPlane: RuntimeControlPlane;
  /** Whether an app exists (only to word a 404). */
  appExists: (app: string) => Promise<boolean>;
  /** The role's own readiness checks, merged into /readyz. */
  readiness: () => Promise<{ ok: boolean; details: Record<string, unknown> }>;
}

interface RuntimeSide {
  supervisor: WorkerSupervisor;
  /** Invocations, errors and p95 per function over the last hour (the admin UI's list). */
  stats: InvocationStats;
  /** The registry `/metrics` serves (the control plane's metrics join it in `faas all`). */
  registry: Registry;
  /** Shape (b): the private socket this process's HTTP server listens on (the workers take the public port); null in shape (a). */
  upstreamSocket: string | null;
  /** Stop the workers and what serves them (not the HTTP server). */
  close(): Promise<void>;
}

/**
 * The runtime side of a role on `app`: supervisor and workers, resolver, gateway (`/fn`),
 * `/healthz`, `/metrics`, `/readyz`. Nothing here knows whether the control plane is local or remote.
 * @throws Error when a worker cannot start (what was started is closed)
 */
async function mountRuntime(app: FastifyInstance, deps: RuntimeDeps): Promise<RuntimeSide> {
  const { config, controlPlane } = deps;
  const metrics = new PlatformMetrics();
  const tracing = new Tracing(config.tracing);
  const stats = new InvocationStats();
  let redisBackend: RedisBackend | null = null;
  if (config.redisUrl === undefined) {
    redisBackend = createEmbeddedBackend();
    app.log.warn('REDIS_URL is not set: ctx.redis uses the embedded in-memory store (data is lost on restart; one store per runtime process, not shared between runtimes)');
  }
  const embeddedRedis = redisBackend === null ? null : createRedisHost(redisBackend);
  // Shape (b): this process's HTTP server moves to a private Unix socket the workers forward to.
  const socketDir = config.gateway === 'workers' ? await mkdtemp(join(tmpdir(), 'faas-gateway-')) : null;
  const upstreamSocket = socketDir === null ? null : join(socketDir, 'gateway.sock');
  // ── BUILTINS ── served in this process for the workers (everything but ctx.redis with REDIS_URL).
  const builtins = createGatewayBuiltins({
    controlPlane,
    redis: embeddedRedis === null ? null : (appName, command, args) => embeddedRedis.execute(appName, command, args),
    sql: await openSqlHost(config, app),
    grpcPrivateNetworks: config.grpcPrivateNetworks,
    fetchAllowAddresses: config.fetchAllowAddresses,
  });
  const appendLogs = (lines: LogLine[]): void => {
    controlPlane.appendLogs(lines).catch((err: unknown) => app.log.warn({ err }, 'ctx.log lines were refused by the control plane'));
  };
  const supervisor: WorkerSupervisor = new WorkerSupervisor({
    onPoolSample: (worker, sample) => metrics.observePool(worker, sample),
    onNodeMetrics: (worker, sample) => metrics.observeNodeMetrics(worker, sample),
    workers: config.workers,
    env: { REDIS_URL: config.redisUrl },
    getCode: async (a, f, v) => (await controlPlane.getVersion(a, f, v))?.code ?? null,
    builtin: builtins.dispatch,
    ...(upstreamSocket === null ? {} : {
      http: {
        host: config.host,
        port: config.port,
        upstreamSocket,
        tracing: config.tracing,
        read: (op, args) => {
          const [a = '', b = '', c = ''] = args;
          switch (op) {
            case 'resolve': return controlPlane.resolve(a, b, c);
            case 'getVersion': return controlPlane.getVersion(a, b, c);
            case 'getFunctionConfig': return controlPlane.getFunctionConfig(a, b);
            case 'getSigningKeys': return controlPlane.getSigningKeys(a);
            case 'appExists': return deps.appExists(a);
          }
        },
        onLogs: (lines) => appendLogs(lines),
        onUserMetrics: (appName, samples) => metrics.observeUserMetrics(appName, samples),
        onStats: (rows) => { for (const [a, f, n, errors, latency] of rows) stats.add(a, f, n, errors, latency); },
        runForwarded: async (target, request, meta, invocation): Promise<SupervisedResult> => {
          const live = builtins.registry.begin({
            app: target.app, function: target.function, versionId: target.versionId, requestId: meta.requestId, deadline: meta.deadline,
            user: invocation?.user ?? null, chain: invocation?.chain ?? [target.function], traceparent: invocation?.traceparent ?? '',
          });
          try {
            const result = await supervisor.invoke(target, request, { ...meta, requestId: live.context.requestId });
            // Its ctx.config calls were served here: so were the secrets to keep out of its logs and error.
            if (!result.ok) result.error.message = builtins.redact(target.app, target.function, result.error.message);
            for (const line of result.logs) line.message = builtins.redact(target.app, target.function, line.message);
            return result;
          } finally {
            live.end();
          }
        },
        onEnded: (worker, requestIds) => builtins.ended(worker, requestIds),
      },
    }),
  });
  const unrelay = controlPlane.onChange((event) => supervisor.broadcast({ type: 'change', event }));
  const resolver = new Resolver(controlPlane);
  const close = async () => {
    unrelay();
    await supervisor.close();
    if (socketDir !== null) await rm(socketDir, { recursive: true, force: true });
    await builtins.close();
    resolver.close();
    await tracing.close();
    await redisBackend?.close();
  };
  try {
    await supervisor.start();
    const gatewayDeps: GatewayDeps = {
      resolver,
      supervisor,
      appendLogs,
      appExists: deps.appExists,
      tracing,
      registry: builtins.registry,
      verifyUser: builtins.verifyUser,
      redact: builtins.redact,
      onInvocation: (target, result, durationMs) => {
        stats.record(target.app, target.function, durationMs, !result.ok && result.status >= 500);
        metrics.observeUserMetrics(target.app, result.metrics);
        metrics.observeResult(target, result, durationMs);
      },
    };
    builtins.setRpc(createRpcInvoker(gatewayDeps));
    await app.register(gatewayRoutes, gatewayDeps);
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/metrics', async (_request, reply) => {
    const workers = supervisor.workers();
    metrics.observeWorkers(workers.filter((w) => w.ready).length, workers.reduce((n, w) => n + w.restarts, 0), supervisor.quarantinedVersions());
    return reply.type(metrics.contentType).send(await metrics.render(await supervisor.scrape()));
  });
  app.get('/readyz', async (_request, reply) => {
    const workers = supervisor.workers();
    const role = await deps.readiness();
    const ready = role.ok && workers.some((w) => w.ready);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', ...role.details, redis: config.redisUrl ? 'redis' : 'embedded', workers, quarantined: supervisor.quarantinedVersions() });
  });
  return { supervisor, stats, registry: metrics.registry, upstreamSocket, close };
}

/**
 * The ctx.sql host: MySQL/MariaDB when `config.sqlUrl` is set (app users' passwords derive from
 * the installation's secret key, so every runtime must share FAAS_SECRET_KEY), else one SQLite
 * file per app under `$FAAS_DATA_DIR/sql/` (per process tree: use MySQL with several runtimes).
 */
async function openSqlHost(config: PlatformConfig, app: FastifyInstance): Promise<SqlHost> {
  const onError = (err: Error): void => app.log.warn({ err }, 'ctx.sql backend fault');
  if (config.sqlUrl !== undefined) {
    const platformSecret = createHmac('sha256', await loadSecretKey(config.dataDir)).update('faas:sql-user-passwords').digest();
    return createSqlHost(createMysqlSqlBackend({ adminUrl: config.sqlUrl, platformSecret, onError }));
  }
  return createSqlHost(createSqliteSqlBackend({ dir: join(config.dataDir, 'sql'), onError }));
}

interface OpenedControlPlane {
  store: Store;
  controlPlane: ControlPlane;
  adminKey: Awaited<ReturnType<typeof ensureAdminKey>>;
  /** Close the control plane, then the store. */
  close(): Promise<void>;
}

/** Open the store, build the control plane over it and make sure an admin key exists. @throws Error (the store is closed again) */
async function openControlPlane(config: PlatformConfig): Promise<OpenedControlPlane> {
  const store = await openStore({ dataDir: config.dataDir, mysqlUrl: config.mysqlUrl });
  try {
    const controlPlane = createControlPlane({ store, secretKey: await loadSecretKey(config.dataDir), validateGrpcServices });
    const adminKey = await ensureAdminKey(store, config.dataDir);
    return { store, controlPlane, adminKey, close: () => closeInOrder([() => controlPlane.close(), () => store.close()]) };
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
}

interface StartedGrpc {
  server: ControlPlaneGrpcServer;
  /** `FAAS_GRPC_TOKEN` or the token file's path. */
  tokenSource: string;
}

/** Start the gRPC server on `port` with the token from FAAS_GRPC_TOKEN or the data dir, and say where it is. */
async function startGrpc(config: PlatformConfig, port: number, cp: OpenedControlPlane, app: FastifyInstance, metrics: ControlPlaneMetrics): Promise<StartedGrpc> {
  const token = await controlPlaneToken(config.grpc.token, config.dataDir);
  const server = await startControlPlaneGrpc({
    controlPlane: cp.controlPlane,
    host: config.grpc.host,
    port,
    token: token.token,
    appExists: async (name) => (await cp.store.getApp(name)) !== null,
    log: app.log,
    onCall: (method, code, ms) => metrics.observeGrpc(method, code, ms),
  });
  metrics.watchStreams(() => server.streams());
  const where = `${config.grpc.host}:${server.port}`;
  app.log.info({ grpc: where, token: token.source }, 'control plane gRPC listening');
  const tokenNote = token.source === 'FAAS_GRPC_TOKEN' ? 'the token in FAAS_GRPC_TOKEN' : `FAAS_GRPC_TOKEN from ${token.source}${token.created ? ' (generated now)' : ''}`;
  process.stdout.write(`faas: control plane gRPC on ${where}; runtimes need FAAS_CONTROL_PLANE_GRPC=${where} and ${tokenNote}\n`);
  return { server, tokenSource: token.source };
}

/** The control plane's metrics, counting its change events (into `registry` in `faas all`); API requests are counted by `instrumentHttp` in the `/api` scope. */
function instrumentControlPlane(controlPlane: ControlPlane, registry?: Registry): ControlPlaneMetrics {
  const metrics = new ControlPlaneMetrics(registry);
  controlPlane.onChange((event) => metrics.observeChange(event));
  return metrics;
}

function createHttp(config: PlatformConfig): FastifyInstance {
  return Fastify({
    logger: { level: config.logLevel },
    // Per-request access logs would cost more than an invocation; metrics and ctx.log cover it.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
  });
}

/**
 * Listen on `config.host:port`. Shape (b) (`runtime.upstreamSocket` set): this server listens on
 * the private socket and the supervisor takes the public address for the workers.
 */
async function listen(app: FastifyInstance, config: PlatformConfig, runtime?: RuntimeSide): Promise<string> {
  let port: number;
  if (runtime?.upstreamSocket) {
    await app.listen({ path: runtime.upstreamSocket });
    port = (await runtime.supervisor.listen()).port;
  } else {
    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    port = typeof address === 'object' && address !== null ? address.port : config.port;
  }
  return `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
}

function announceAdminKey(adminKey: Awaited<ReturnType<typeof ensureAdminKey>>): void {
  if (adminKey.created) process.stdout.write(`\nAdmin API key (shown once; also written to ${adminKey.file}):\n  ${adminKey.key}\n\n`);
}

/** Run the steps in order (skipping absent ones), all of them even when one fails; rejects with the first failure. */
async function closeInOrder(steps: ReadonlyArray<(() => Promise<unknown>) | undefined>): Promise<void> {
  let first: unknown = null;
  for (const step of steps) {
    if (step === undefined) continue;
    try {
      await step();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== null) throw first;
}

/** An idempotent wrapper: the first call runs `fn`, later calls get the same promise. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => (running ??= fn());
}

/** Deploy every `functions/<name>/` that has an `index.js` into `appName`, unless that function already has a `prod` alias. */
async function deploySamples(controlPlane: ControlPlane, appName: string, app: FastifyInstance): Promise<void> {
  const dirs = await readdir(SAMPLES_DIR, { withFileTypes: true });
  for (const dir of dirs) {
    if (!dir.isDirectory()) continue;
    const base = join(SAMPLES_DIR.pathname, dir.name);
    let code: string;
    try {
      code = await readFile(join(base, 'index.js'), 'utf8');
    } catch {
      continue;
    }
    let manifest: { name?: string; limits?: Record<string, number>; auth?: AuthMode } = {};
    try {
      manifest = JSON.parse(await readFile(join(base, 'function.json'), 'utf8')) as typeof manifest;
    } catch { /* no manifest: defaults */ }
    const name = manifest.name ?? dir.name;
    // Only on first start: a studio's later deploys of the same function are never overwritten.
    if (await controlPlane.resolve(appName, name, 'prod') !== null) continue;
    const auth = manifest.auth === 'required' || manifest.auth === 'none' ? manifest.auth : undefined;
    const result = await controlPlane.deploy(SYSTEM_ACTOR, { app: appName, function: name, code, message: 'sample deployed at start', limits: manifest.limits, ...(auth === undefined ? {} : { auth }) });
    app.log.info(`deployed sample ${appName}/${name} version ${result.version.id}`);
  }
}
