/**
 * `faas all`: every role in one OS process tree — the control plane (`/api`), the gateway (`/fn`),
 * health checks, and the supervisor with its isolate-host worker processes. This is the
 * composition root; each piece it wires lives in its own folder.
 *
 * Configuration (environment, documented in README): PORT (8080), HOST (127.0.0.1),
 * FAAS_DATA_DIR (./data), REDIS_URL, MYSQL_URL, FAAS_WORKERS (cores), FAAS_DEPLOY_SAMPLES (1),
 * FAAS_SAMPLE_APP (demo).
 */
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { createRedisHost } from '../builtins/redis/host.ts';
import { createEmbeddedBackend, type RedisBackend } from '../builtins/redis/backend.ts';
import { runtimeError } from '../runtime/errors.ts';
import { gatewayRoutes } from '../runtime/gateway.ts';
import { PlatformMetrics } from '../runtime/metrics.ts';
import { Tracing, tracingFromEnv, type TracingConfig } from '../runtime/tracing.ts';
import { Resolver } from '../runtime/resolver.ts';
import { WorkerSupervisor } from '../runtime/supervisor.ts';
import { createControlPlane } from './core/control-plane.ts';
import { ensureAdminKey } from './core/keys.ts';
import { loadSecretKey } from './core/secrets.ts';
import type { Actor, ControlPlane } from './core/types.ts';
import { apiRoutes, registerErrorHandler } from './routes/api.ts';
import { openStore } from './store/open.ts';
import type { Store } from './store/store.ts';

/** Platform configuration; `configFromEnv()` builds it from the environment. */
export interface PlatformConfig {
  /** TCP port; 0 picks a free one. @default 8080 */
  port: number;
  /** Listen address. @default 127.0.0.1 (set 0.0.0.0 in containers) */
  host: string;
  /** Directory for the SQLite store and admin.key. @default ./data */
  dataDir: string;
  /** Real Redis for `ctx.redis`; unset → the embedded in-process store. */
  redisUrl?: string;
  /** MySQL/MariaDB for control-plane metadata; unset → SQLite under dataDir. */
  mysqlUrl?: string;
  /** Isolate-host worker processes. @default os.availableParallelism() */
  workers: number;
  /** Deploy `functions/*` into `sampleApp` at start. @default true */
  deploySamples: boolean;
  /** App the samples are deployed to. @default demo */
  sampleApp: string;
  /** Log level of the platform's own logs (pino levels). @default info */
  logLevel: string;
  /** Traces: OTEL_EXPORTER_OTLP_ENDPOINT, FAAS_TRACES=console, FAAS_TRACE_SAMPLE_RATIO. */
  tracing: TracingConfig;
}

/** Read the configuration from `env`. @throws Error naming the variable when a value is invalid. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): PlatformConfig {
  const int = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  return {
    port: int('PORT', 8080, 0),
    host: env.HOST || '127.0.0.1',
    dataDir: resolve(env.FAAS_DATA_DIR || './data'),
    redisUrl: env.REDIS_URL || undefined,
    mysqlUrl: env.MYSQL_URL || undefined,
    workers: int('FAAS_WORKERS', Math.max(1, availableParallelism()), 1),
    deploySamples: !['0', 'false', 'no'].includes(String(env.FAAS_DEPLOY_SAMPLES ?? '1').toLowerCase()),
    sampleApp: env.FAAS_SAMPLE_APP || 'demo',
    logLevel: env.FAAS_LOG_LEVEL || 'info',
    tracing: tracingFromEnv(env),
  };
}

/** A running platform. `close()` stops accepting requests, drains workers and closes the store; idempotent. */
export interface RunningPlatform {
  url: string;
  app: FastifyInstance;
  controlPlane: ControlPlane;
  supervisor: WorkerSupervisor;
  /** The admin key when this start created it (printed once), else null. */
  createdAdminKey: string | null;
  close(): Promise<void>;
}

const SYSTEM_ACTOR: Actor = Object.freeze({ keyId: 'system', name: 'system', role: 'admin', apps: '*' });
const SAMPLES_DIR = new URL('../functions/', import.meta.url);

/**
 * Start every role: store → control plane → admin key → workers → samples → HTTP.
 * @throws Error when the store cannot be opened or a worker cannot start (nothing is left running).
 */
export async function startPlatform(config: PlatformConfig): Promise<RunningPlatform> {
  const store: Store = await openStore({ dataDir: config.dataDir, mysqlUrl: config.mysqlUrl });
  const controlPlane = createControlPlane({ store, secretKey: await loadSecretKey(config.dataDir) });
  const metrics = new PlatformMetrics();
  const tracing = new Tracing(config.tracing);
  let redisBackend: RedisBackend | null = null;
  let supervisor: WorkerSupervisor | null = null;
  const app = Fastify({
    logger: { level: config.logLevel },
    // Per-request access logs would cost more than an invocation; metrics and ctx.log cover it.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
  });
  try {
    const adminKey = await ensureAdminKey(store, config.dataDir);

    if (config.redisUrl === undefined) {
      redisBackend = createEmbeddedBackend();
      app.log.warn('REDIS_URL is not set: ctx.redis uses the embedded in-memory store (data is lost on restart; one store for all workers)');
    }
    const embeddedRedis = redisBackend === null ? null : createRedisHost(redisBackend);
    supervisor = new WorkerSupervisor({
      onPoolSample: (worker, sample) => metrics.observePool(worker, sample),
      workers: config.workers,
      env: { REDIS_URL: config.redisUrl },
      getCode: async (a, f, v) => (await controlPlane.getVersion(a, f, v))?.code ?? null,
      builtin: async (appName, builtin, op, args) => {
        if (builtin === 'redis' && embeddedRedis !== null) return embeddedRedis.execute(appName, op, args);
        throw runtimeError('E_INTERNAL', `builtin ${builtin} is not served by the supervisor`);
      },
    });
    await supervisor.start();

    if (config.deploySamples) await deploySamples(controlPlane, config.sampleApp, app);

    const resolver = new Resolver(controlPlane);
    registerErrorHandler(app);
    await app.register(apiRoutes, { prefix: '/api', controlPlane });
    await app.register(gatewayRoutes, {
      resolver,
      supervisor,
      appendLogs: (lines) => { void controlPlane.appendLogs(lines); },
      appExists: async (name) => (await store.getApp(name)) !== null,
      tracing,
      onInvocation: (target, result, durationMs) => {
        metrics.observeUserMetrics(target.app, result.metrics);
        metrics.observeInvocation(target, {
        status: result.status,
        errorCode: result.ok ? undefined : result.error.code,
        durationMs,
        cpuTimeMs: result.cpuTimeMs,
        coldStart: result.coldStart,
        coldStartMs: result.coldStartMs,
        queueMs: result.queueMs,
        builtins: result.builtins,
        });
      },
    });
    const sup = supervisor;
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/metrics', async (_request, reply) => {
      const workers = sup.workers();
      metrics.observeWorkers(workers.filter((w) => w.ready).length, workers.reduce((n, w) => n + w.restarts, 0), sup.quarantinedVersions());
      return reply.type(metrics.contentType).send(await metrics.render());
    });
    app.get('/readyz', async (_request, reply) => {
      const workers = sup.workers();
      let storeOk = true;
      try { await store.ping(); } catch { storeOk = false; }
      const ready = storeOk && workers.some((w) => w.ready);
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', store: { kind: store.kind, ok: storeOk }, redis: config.redisUrl ? 'redis' : 'embedded', workers, quarantined: sup.quarantinedVersions() });
    });

    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
    if (adminKey.created) {
      process.stdout.write(`\nAdmin API key (shown once; also written to ${adminKey.file}):\n  ${adminKey.key}\n\n`);
    }
    let closing: Promise<void> | null = null;
    return {
      url,
      app,
      controlPlane,
      supervisor,
      createdAdminKey: adminKey.created ? adminKey.key : null,
      close: () => {
        closing ??= (async () => {
          await app.close();
          await sup.close();
          resolver.close();
          await tracing.close();
          await controlPlane.close();
          await redisBackend?.close();
          await store.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await app.close().catch(() => {});
    await supervisor?.close().catch(() => {});
    await redisBackend?.close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
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
    let manifest: { name?: string; limits?: Record<string, number> } = {};
    try {
      manifest = JSON.parse(await readFile(join(base, 'function.json'), 'utf8')) as typeof manifest;
    } catch { /* no manifest: defaults */ }
    const name = manifest.name ?? dir.name;
    // Only on first start: a studio's later deploys of the same function are never overwritten.
    if (await controlPlane.resolve(appName, name, 'prod') !== null) continue;
    const result = await controlPlane.deploy(SYSTEM_ACTOR, { app: appName, function: name, code, message: 'sample deployed at start', limits: manifest.limits });
    app.log.info(`deployed sample ${appName}/${name} version ${result.version.id}`);
  }
}
