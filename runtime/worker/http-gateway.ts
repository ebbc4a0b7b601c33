/**
 * Shape (b) of DESIGN.md (Processes): a worker process that serves `/fn` itself. The gateway
 * process accepts each TCP connection and hands its socket to a worker (`ConnectionMessage`); the
 * worker runs the same gateway code as shape (a) (`runtime/gateway.ts`: alias resolution, auth,
 * body limits, limits, logs, traces, metrics) in front of its own isolate pool, so an invocation
 * costs no IPC round trip. Everything else on the port (`/api`, `/admin`, `/metrics`, `/readyz`)
 * is forwarded to the gateway process over a private Unix socket (@fastify/reply-from).
 *
 * What stays in the gateway process, reached over IPC: control-plane reads (cached here by the
 * same `Resolver`, auth key cache and `ConfigCache`, dropped on the change events it relays), log
 * lines, `ctx.metrics` samples, and every builtin the worker does not serve itself (all but
 * `ctx.redis` with REDIS_URL): the first forwarded call of an invocation carries its user, chain
 * and trace, and the gateway process keeps a record of it until this worker says it ended.
 *
 * A version this worker does not own (rendezvous over the live workers) and that is not hot here
 * (fewer than `HOT_PER_SECOND` invocations here in the previous second) runs on its owner through the
 * gateway process, so rarely used versions keep one isolate in one worker (density) and a burst on
 * a new version cold-starts it once; a hot version warms an isolate in every worker that serves it.
 */
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import replyFrom from '@fastify/reply-from';
import type { ChangeEvent, ResolvedTarget, RuntimeControlPlane } from '../../control-plane/core/types.ts';
import { createAuthHost } from '../../builtins/auth/host.ts';
import { ConfigCache, InvocationRegistry, serveConfig } from '../builtin-dispatch.ts';
import { runtimeError } from '../errors.ts';
import { gatewayRoutes, type GatewayDeps } from '../gateway.ts';
import { PlatformMetrics } from '../metrics.ts';
import { Resolver } from '../resolver.ts';
import type { FunctionRequest, InvocationMeta, InvocationResult } from '../sandbox/interface.ts';
import { LATENCY_BUCKETS_MS, latencyBucket } from '../stats.ts';
import type { SupervisedResult } from '../supervisor.ts';
import { Tracing, type TracingConfig } from '../tracing.ts';
import { ownerOf } from './routing.ts';
import type { ControlPlaneRead, ForwardedCall, FromWorker, HttpSample, ResultTimings, TargetSpec, ToWorker } from './protocol.ts';

/** Invocations per second of one version in one worker from which it runs there even when another worker owns it. */
export const HOT_PER_SECOND = 16;

/** What the worker process gives its HTTP gateway. */
export interface WorkerHttpDeps {
  /** This worker's index (rendezvous identity, stable across restarts). */
  index: number;
  /** The gateway process's private HTTP socket (everything but `/fn` goes there). */
  upstreamSocket: string;
  tracing: TracingConfig;
  /** Ask the gateway process and wait for its `reply`. */
  ask: (build: (reqId: number) => FromWorker) => Promise<unknown>;
  /** Queue a message for the next batched IPC write. */
  send: (msg: FromWorker) => void;
  /** Write a message now (unbatched): used before running a version, so a crash right after is blamed on it. */
  sendNow: (msg: FromWorker) => void;
  /** Run one invocation in this worker's pool. Never rejects. */
  runLocal: (target: TargetSpec, request: FunctionRequest, meta: InvocationMeta) => Promise<{ result: InvocationResult; timings: ResultTimings }>;
}

/** The running HTTP side of a worker. */
export interface WorkerHttp {
  /** Serve a connection handed over by the gateway process. */
  accept(socket: Socket): void;
  /** Handle a shape-(b) message from the gateway process; false when it is not one. */
  onMessage(msg: ToWorker): boolean;
  /** The builtin call forwarded for an invocation, completed with what the gateway process needs to adopt it. */
  describe(call: ForwardedCall): ForwardedCall;
  /**
   * Serve `ctx.config` here for an invocation this worker's gateway runs (its config is cached
   * here, and the secrets it read are what this gateway redacts from its logs and errors);
   * undefined for any other invocation (forward it).
   */
  config(call: ForwardedCall, op: string, args: unknown[]): Promise<unknown> | undefined;
  /** The heartbeat's HTTP part (and reset the per-beat figures). */
  sample(): HttpSample;
  close(): Promise<void>;
}

/** Start the worker's gateway (not listening: connections arrive through `accept`). */
export async function startWorkerHttp(deps: WorkerHttpDeps): Promise<WorkerHttp> {
  const listeners = new Set<(event: ChangeEvent) => void>();
  const read = <T>(op: ControlPlaneRead, ...args: string[]): Promise<T> => deps.ask((reqId) => ({ type: 'cp', reqId, op, args })) as Promise<T>;
  const controlPlane: Pick<RuntimeControlPlane, 'resolve' | 'getVersion' | 'getFunctionConfig' | 'getSigningKeys' | 'onChange'> & { appExists(app: string): Promise<boolean> } = {
    resolve: (app, fn, alias) => read('resolve', app, fn, alias),
    getVersion: (app, fn, versionId) => read('getVersion', app, fn, versionId),
    getFunctionConfig: (app, fn) => read('getFunctionConfig', app, fn),
    getSigningKeys: (app) => read('getSigningKeys', app),
    appExists: (app) => read('appExists', app),
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  const resolver = new Resolver(controlPlane);
  const auth = createAuthHost({ keysFor: (app) => controlPlane.getSigningKeys(app) });
  const config = new ConfigCache(controlPlane);
  listeners.add((event) => {
    config.onChange(event);
    if (event.kind === 'keys') auth.invalidate(event.app);
  });
  const tracing = new Tracing(deps.tracing);
  const metrics = new PlatformMetrics({ processMetrics: false });
  const registry = new InvocationRegistry();
  /** Request ids of live local invocations that forwarded a builtin call (the gateway process holds a record for each). */
  const adopted = new Set<string>();

  let ready: number[] = [deps.index];
  let quarantined = new Set<string>();
  // Invocations per version in the current and the previous second: a version is hot here once the
  // previous second saw HOT_PER_SECOND, so a burst on a new version waits for one cold start on its
  // owner instead of one per worker.
  let perSecond = new Map<string, number>();
  let lastSecond = new Map<string, number>();
  const secondTimer = setInterval(() => { lastSecond = perSecond; perSecond = new Map(); }, 1000);
  secondTimer.unref();
  const inFlight = new Map<string, { count: number; cpuMs: number }>();
  const announced = new Set<string>();
  const stats = new Map<string, [string, string, number, number, number[]]>();

  const failure = (code: 'E_QUARANTINED', message: string): SupervisedResult => {
    const e = runtimeError(code, message);
    return { ok: false, status: e.status, error: e.toJSON().error, cpuTimeMs: 0, logs: [], builtins: [], metrics: [], coldStart: false, coldStartMs: 0, queueMs: 0, acquiredFrom: 0, workerPid: process.pid };
  };

  const invoke = async (target: TargetSpec, request: FunctionRequest, meta: InvocationMeta): Promise<SupervisedResult> => {
    if (quarantined.has(target.key)) {
      return failure('E_QUARANTINED', `version ${target.versionId} of ${target.app}/${target.function} crashed worker processes repeatedly and is quarantined; deploy a fixed version`);
    }
    perSecond.set(target.key, (perSecond.get(target.key) ?? 0) + 1);
    if (ready.length > 1 && (lastSecond.get(target.key) ?? 0) < HOT_PER_SECOND && ownerOf(target.key, ready) !== deps.index) {
      const live = registry.get(meta.requestId);
      const invocation = live === undefined ? undefined : { user: live.user, chain: [...live.chain], traceparent: live.traceparent };
      return await deps.ask((reqId) => ({ type: 'forward-invoke', reqId, target, request, meta, ...(invocation === undefined ? {} : { invocation }) })) as SupervisedResult;
    }
    if (!announced.has(target.key)) {
      announced.add(target.key);
      deps.sendNow({ type: 'running', key: target.key });
    }
    const running = inFlight.get(target.key);
    if (running === undefined) inFlight.set(target.key, { count: 1, cpuMs: target.limits.cpuTimeMs });
    else running.count++;
    try {
      const { result, timings } = await deps.runLocal(target, request, meta);
      return { ...result, ...timings, workerPid: process.pid };
    } finally {
      const r = inFlight.get(target.key);
      if (r !== undefined && --r.count === 0) inFlight.delete(target.key);
    }
  };

  const gatewayDeps: GatewayDeps = {
    resolver,
    supervisor: { invoke },
    appendLogs: (lines) => deps.send({ type: 'logs', lines }),
    appExists: (app) => controlPlane.appExists(app),
    tracing,
    registry: {
      begin: (context) => {
        const live = registry.begin(context);
        return {
          context: live.context,
          end: () => {
            live.end();
            if (adopted.delete(live.context.requestId)) deps.send({ type: 'ended', requestIds: [live.context.requestId] });
          },
        };
      },
    },
    verifyUser: (app, authorization, mode) => auth.verifyRequest(app, authorization, mode),
    redact: (app, fn, text) => config.redact(app, fn, text),
    onInvocation: (target: ResolvedTarget, result: SupervisedResult, durationMs: number) => {
      const key = `${target.app}/${target.function}`;
      let s = stats.get(key);
      if (s === undefined) {
        s = [target.app, target.function, 0, 0, new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0)];
        stats.set(key, s);
      }
      s[2]++;
      if (!result.ok && result.status >= 500) s[3]++;
      const i = latencyBucket(durationMs);
      s[4][i] = (s[4][i] as number) + 1;
      if (result.metrics.length > 0) deps.send({ type: 'user-metrics', app: target.app, samples: result.metrics });
      metrics.observeResult(target, result, durationMs);
    },
  };

  const app = Fastify({
    logger: { level: process.env.FAAS_LOG_LEVEL || 'info' },
    logController: new LogController({ disableRequestLogging: true }),
  });
  await app.register(gatewayRoutes, gatewayDeps);
  // Everything else is the gateway process's: forwarded as is over its private socket (the body
  // streams through unparsed; the gateway process applies its own limits; the Host header is kept).
  await app.register(async (proxy) => {
    proxy.removeAllContentTypeParsers();
    proxy.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    await proxy.register(replyFrom, { base: `unix+http://${encodeURIComponent(deps.upstreamSocket)}/`, disableRequestLogging: true });
    const forward = (request: FastifyRequest, reply: FastifyReply) => reply.from(request.url, {
      rewriteRequestHeaders: (original, headers) => (original.headers.host === undefined ? headers : { ...headers, host: original.headers.host }),
    });
    proxy.all('/', forward);
    proxy.all('/*', forward);
  });
  await app.ready();

  /** The live invocation this worker's gateway runs that `call` comes from, if any. */
  const localInvocation = (call: ForwardedCall) => {
    const live = registry.get(call.requestId);
    return live === undefined || live.app !== call.app || live.function !== call.function || live.versionId !== call.versionId ? undefined : live;
  };

  return {
    accept(socket) {
      app.server.emit('connection', socket);
      socket.resume();
    },
    onMessage(msg) {
      switch (msg.type) {
        case 'workers':
          ready = msg.ready;
          return true;
        case 'change':
          for (const listener of listeners) listener(msg.event);
          return true;
        case 'quarantined':
          quarantined = new Set(msg.keys);
          return true;
        case 'scrape':
          metrics.registry.getMetricsAsJSON().then(
            (json) => deps.send({ type: 'scraped', reqId: msg.reqId, metrics: json }),
            () => deps.send({ type: 'scraped', reqId: msg.reqId, metrics: [] }),
          );
          return true;
        default:
          return false;
      }
    },
    config(call, op, args) {
      if (localInvocation(call) === undefined) return undefined;
      return serveConfig(config, call, op, args);
    },
    describe(call) {
      const live = localInvocation(call);
      if (live === undefined) return call;
      adopted.add(live.requestId);
      return { ...call, invocation: { user: live.user, chain: [...live.chain], traceparent: live.traceparent } };
    },
    sample() {
      let maxCpuMs = 0;
      for (const r of inFlight.values()) maxCpuMs = Math.max(maxCpuMs, r.cpuMs);
      const out: HttpSample = { inFlight: [...inFlight.keys()], maxCpuMs, stats: [...stats.values()] };
      stats.clear();
      announced.clear();
      return out;
    },
    async close() {
      clearInterval(secondTimer);
      await app.close();
      resolver.close();
      await tracing.close();
    },
  };
}
