/**
 * The platform's Prometheus metrics (prom-client), served at `/metrics`. All series are recorded in
 * the gateway process: workers report what only they see (cold-start time, pool state, builtin
 * calls) with each result and with their heartbeats, so one scrape sees the whole runtime.
 *
 * Node.js process metrics (prom-client's defaults: GC, event loop lag, heap, CPU, RSS …) come from
 * every process of the role: the gateway's own carry `process="gateway"`, each worker's (sent
 * every 2 s over IPC) `process="worker", worker="<index>"`.
 *
 * Cardinality is bounded: series are only created for a target the control plane resolved (an
 * unknown app or function never creates one), and each function keeps the series of at most
 * `MAX_VERSIONS_PER_FUNCTION` versions (the newest invoked). The cap is documented in README.
 */
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ResolvedTarget } from '../control-plane/core/types.ts';
import { catalogStatus } from './sandbox/marshal.ts';
import type { InvocationResult, UserMetricSample } from './sandbox/interface.ts';
import type { BuiltinSample, NodeMetricsSample, PoolSample, ResultTimings } from './worker/protocol.ts';

interface UserFamily {
  kind: UserMetricSample['kind'];
  labelNames: string[];
  metric: Counter<string> | Gauge<string> | Histogram<string>;
}

/** `ctx.metrics` families (names) per app, and series (label combinations) per app. */
export const USER_METRIC_LIMITS = Object.freeze({ familiesPerApp: 50, seriesPerApp: 1000 });

/** Versions per function that keep their own `faas_invocations_total` series. */
export const MAX_VERSIONS_PER_FUNCTION = 5;

/** Histogram buckets for invocation duration, in seconds: 0.5 ms … 30 s. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Buckets for CPU time and builtin calls, in seconds: 0.1 ms … 5 s. */
const FINE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

/** What the gateway reports per invocation. */
export interface InvocationSample {
  /** HTTP status answered. */
  status: number;
  /** Catalog code of a failure, undefined on success. */
  errorCode?: string;
  durationMs: number;
  cpuTimeMs: number;
  coldStart: boolean;
  /** Time of the cold start (isolate + compile + top-level code), ms; 0 when warm. */
  coldStartMs: number;
  /** Time waiting for a free isolate slot, ms. */
  queueMs: number;
  builtins: BuiltinSample[];
}

/** See the module comment. One instance per gateway process. */
export class PlatformMetrics {
  readonly registry = new Registry();
  /** app/function → version → `status|code` pairs with a series (insertion order = age). */
  private readonly versions = new Map<string, Map<string, Set<string>>>();
  private readonly invocations: Counter<'app' | 'function' | 'version' | 'status' | 'code'>;
  private readonly duration: Histogram<'app' | 'function'>;
  private readonly cpu: Histogram<'app' | 'function'>;
  private readonly coldStarts: Counter<'app' | 'function'>;
  private readonly coldStartDuration: Histogram<'app' | 'function'>;
  private readonly queueWait: Histogram<'app'>;
  private readonly builtinDuration: Histogram<'app' | 'function' | 'builtin' | 'operation' | 'outcome'>;
  private readonly builtinErrors: Counter<'app' | 'function' | 'builtin' | 'operation' | 'code'>;
  private readonly isolates: Gauge<'app' | 'state'>;
  private readonly evictions: Gauge<'reason'>;
  private readonly heap: Gauge<'app'>;
  private readonly workersUp: Gauge;
  private readonly workerRestarts: Gauge;
  private readonly quarantined: Gauge;
  private readonly quarantinedVersion: Gauge<'app' | 'function' | 'version'>;
  private readonly pools = new Map<number, PoolSample>();
  private readonly nodeMetrics = new Map<number, NodeMetricsSample>();
  private readonly userMetricsDropped: Counter<'app' | 'reason'>;
  /** app → metric name → its family; plus the series keys seen per app (for the cap). */
  private readonly userFamilies = new Map<string, Map<string, UserFamily>>();
  private readonly userSeries = new Map<string, Set<string>>();

  /**
   * @param options.processMetrics collect this process's Node.js metrics (@default true; false in a
   *   worker serving HTTP, whose invocation series the gateway process merges at scrape time)
   */
  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, labels: { process: 'gateway' } });
    const registers = [this.registry];
    this.invocations = new Counter({ name: 'faas_invocations_total', help: 'Invocations by outcome; status is the HTTP status, code the error code (empty on success).', labelNames: ['app', 'function', 'version', 'status', 'code'], registers });
    this.duration = new Histogram({ name: 'faas_invocation_duration_seconds', help: 'Invocation time at the gateway, from routing to the answer.', labelNames: ['app', 'function'], buckets: DURATION_BUCKETS, registers });
    this.cpu = new Histogram({ name: 'faas_invocation_cpu_seconds', help: 'CPU time charged to the invocation inside its isolate.', labelNames: ['app', 'function'], buckets: FINE_BUCKETS, registers });
    this.coldStarts = new Counter({ name: 'faas_cold_starts_total', help: 'Invocations that waited for (or caused) a cold start.', labelNames: ['app', 'function'], registers });
    this.coldStartDuration = new Histogram({ name: 'faas_cold_start_duration_seconds', help: 'Isolate creation, compile and module evaluation.', labelNames: ['app', 'function'], buckets: DURATION_BUCKETS, registers });
    this.queueWait = new Histogram({ name: 'faas_pool_queue_wait_seconds', help: 'Time an invocation waited for a free isolate slot (0 for most).', labelNames: ['app'], buckets: DURATION_BUCKETS, registers });
    this.builtinDuration = new Histogram({ name: 'faas_builtin_duration_seconds', help: 'Builtin call duration by builtin, operation and outcome (ok | error).', labelNames: ['app', 'function', 'builtin', 'operation', 'outcome'], buckets: FINE_BUCKETS, registers });
    this.builtinErrors = new Counter({ name: 'faas_builtin_errors_total', help: 'Failed builtin calls by error code.', labelNames: ['app', 'function', 'builtin', 'operation', 'code'], registers });
    this.isolates = new Gauge({ name: 'faas_pool_isolates', help: 'Isolates alive in all workers, by app and state (idle | busy).', labelNames: ['app', 'state'], registers });
    this.evictions = new Gauge({ name: 'faas_pool_evictions', help: 'Isolates retired since the workers started, by reason (idle, lru, poisoned, heap, invocations, shutdown). A gauge because a restarted worker starts from 0.', labelNames: ['reason'], registers });
    this.heap = new Gauge({ name: 'faas_pool_heap_bytes', help: 'V8 heap used by the isolates of an app (sampled every second).', labelNames: ['app'], registers });
    this.workersUp = new Gauge({ name: 'faas_workers_up', help: 'Isolate-host worker processes ready.', registers });
    this.workerRestarts = new Gauge({ name: 'faas_worker_restarts', help: 'Worker restarts since the platform started.', registers });
    this.quarantined = new Gauge({ name: 'faas_quarantined_versions', help: 'Versions quarantined for crashing workers.', registers });
    this.quarantinedVersion = new Gauge({ name: 'faas_quarantined_version', help: '1 for each version quarantined now (crashed workers repeatedly); gone when the quarantine ends.', labelNames: ['app', 'function', 'version'], registers });
    this.userMetricsDropped = new Counter({ name: 'faas_app_metrics_dropped_total', help: 'ctx.metrics samples refused by the per-app caps or for changing a metric\'s kind or labels.', labelNames: ['app', 'reason'], registers });
  }

  /** Record one invocation of `target` from its result as the gateway got it (`durationMs` at the gateway). */
  observeResult(target: ResolvedTarget, result: InvocationResult & Pick<ResultTimings, 'coldStart' | 'coldStartMs' | 'queueMs'>, durationMs: number): void {
    this.observeInvocation(target, {
      status: result.status,
      errorCode: result.ok ? undefined : result.error.code,
      durationMs,
      cpuTimeMs: result.cpuTimeMs,
      coldStart: result.coldStart,
      coldStartMs: result.coldStartMs,
      queueMs: result.queueMs,
      builtins: result.builtins,
    });
  }

  /** Record one invocation of `target` (a resolved, existing function). */
  observeInvocation(target: ResolvedTarget, sample: InvocationSample): void {
    const labels = { app: target.app, function: target.function };
    const status = String(sample.status);
    // Only catalog codes become label values; a function's own HttpError codes are unbounded.
    const code = sample.errorCode === undefined ? '' : catalogStatus(sample.errorCode) !== undefined ? sample.errorCode : `HTTP_${status}`;
    this.invocations.inc({ ...labels, version: this.versionLabel(target, status, code), status, code });
    this.duration.observe(labels, sample.durationMs / 1000);
    this.cpu.observe(labels, sample.cpuTimeMs / 1000);
    if (sample.coldStart) {
      this.coldStarts.inc(labels);
      if (sample.coldStartMs > 0) this.coldStartDuration.observe(labels, sample.coldStartMs / 1000);
    }
    this.queueWait.observe({ app: target.app }, sample.queueMs / 1000);
    for (const b of sample.builtins) {
      this.builtinDuration.observe({ app: target.app, function: target.function, builtin: b.builtin, operation: b.op, outcome: b.code === undefined ? 'ok' : 'error' }, b.ms / 1000);
      if (b.code !== undefined) this.builtinErrors.inc({ app: target.app, function: target.function, builtin: b.builtin, operation: b.op, code: catalogStatus(b.code) === undefined ? 'other' : b.code });
    }
  }

  /**
   * Record an invocation's `ctx.metrics` samples (already validated by the sandbox's marshal).
   * Each app's metric `name` is exported as `faas_app_<app>_<name>` (dashes in the app become
   * underscores) with an `app` label, so apps never share or squat a family. A name keeps the
   * kind and label names of its first sample; at most USER_METRIC_LIMITS families and series per
   * app; anything else is dropped and counted in `faas_app_metrics_dropped_total`.
   */
  observeUserMetrics(app: string, samples: readonly UserMetricSample[]): void {
    if (samples.length === 0) return;
    let families = this.userFamilies.get(app);
    if (families === undefined) {
      families = new Map();
      this.userFamilies.set(app, families);
    }
    let series = this.userSeries.get(app);
    if (series === undefined) {
      series = new Set();
      this.userSeries.set(app, series);
    }
    for (const sample of samples) {
      const labelNames = Object.keys(sample.labels).sort();
      let family = families.get(sample.name);
      if (family === undefined) {
        if (families.size >= USER_METRIC_LIMITS.familiesPerApp) { this.userMetricsDropped.inc({ app, reason: 'families' }); continue; }
        family = this.createUserFamily(app, sample.name, sample.kind, labelNames);
        families.set(sample.name, family);
      }
      if (family.kind !== sample.kind || family.labelNames.join(',') !== labelNames.join(',')) { this.userMetricsDropped.inc({ app, reason: 'shape' }); continue; }
      const seriesKey = `${sample.name}|${labelNames.map((k) => sample.labels[k]).join('\u0000')}`;
      if (!series.has(seriesKey)) {
        if (series.size >= USER_METRIC_LIMITS.seriesPerApp) { this.userMetricsDropped.inc({ app, reason: 'series' }); continue; }
        series.add(seriesKey);
      }
      const labels = { ...sample.labels, app };
      if (family.metric instanceof Counter) family.metric.inc(labels, sample.value);
      else if (family.metric instanceof Gauge) family.metric.set(labels, sample.value);
      else family.metric.observe(labels, sample.value);
    }
  }

  private createUserFamily(app: string, name: string, kind: UserMetricSample['kind'], labelNames: string[]): UserFamily {
    const config = { name: `faas_app_${app.replaceAll('-', '_')}_${name}`, help: `ctx.metrics ${kind} ${name} of app ${app}`, labelNames: ['app', ...labelNames], registers: [this.registry] };
    const metric = kind === 'counter' ? new Counter(config) : kind === 'gauge' ? new Gauge(config) : new Histogram(config);
    return { kind, labelNames, metric };
  }

  /** A worker's pool state (sent with its heartbeat); `null` when the worker is gone. */
  observePool(worker: number, sample: PoolSample | null): void {
    if (sample === null) this.pools.delete(worker);
    else this.pools.set(worker, sample);
  }

  /** A worker's Node.js default metrics (`null` when the worker exited: its series go away). */
  observeNodeMetrics(worker: number, sample: NodeMetricsSample | null): void {
    if (sample === null) {
      this.nodeMetrics.delete(worker);
      return;
    }
    const labels = { process: 'worker', worker: String(worker) };
    // 'sum' for every family: the labels differ per process, so nothing is added up, and no
    // family is dropped (prom-client marks process_start_time_seconds 'omit' for cluster use).
    this.nodeMetrics.set(worker, sample.map((family) => ({ ...family, aggregator: 'sum', values: family.values.map((v) => ({ ...v, labels: { ...v.labels, ...labels } })) })));
  }

  /** Worker process state, set before each scrape. */
  observeWorkers(ready: number, restarts: number, quarantined: readonly string[]): void {
    this.workersUp.set(ready);
    this.workerRestarts.set(restarts);
    this.quarantined.set(quarantined.length);
    this.quarantinedVersion.reset();
    for (const key of quarantined) {
      const m = /^([^/]+)\/([^@]+)@(.+)$/.exec(key); // app/function@version
      if (m !== null) this.quarantinedVersion.set({ app: m[1] as string, function: m[2] as string, version: m[3] as string }, 1);
    }
  }

  /**
   * The exposition text for `/metrics` (Prometheus text format 0.0.4).
   * @param workerSeries invocation series of workers serving HTTP themselves (their registries'
   *   `getMetricsAsJSON()`, collected for this scrape): counters and histograms are added up
   */
  async render(workerSeries: readonly NodeMetricsSample[] = []): Promise<string> {
    this.isolates.reset();
    this.heap.reset();
    this.evictions.reset();
    const evictions = new Map<string, number>();
    for (const pool of this.pools.values()) {
      for (const [app, a] of Object.entries(pool.apps)) {
        this.isolates.inc({ app, state: 'idle' }, a.idle);
        this.isolates.inc({ app, state: 'busy' }, a.busy);
        this.heap.inc({ app }, a.heapBytes);
      }
      for (const [reason, n] of Object.entries(pool.evictions)) evictions.set(reason, (evictions.get(reason) ?? 0) + n);
    }
    for (const [reason, n] of evictions) this.evictions.set({ reason }, n);
    if (this.nodeMetrics.size === 0 && workerSeries.length === 0) return this.registry.metrics();
    const own = (await this.registry.getMetricsAsJSON()).map((family) => ({ ...family, aggregator: 'sum' as const }));
    const summed = workerSeries.map((sample) => sample.map((family) => ({ ...family, aggregator: 'sum' as const })));
    return AggregatorRegistry.aggregate([own, ...summed, ...this.nodeMetrics.values()]).metrics();
  }

  /** Content type of `render()`'s output. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The `version` label of a target: the newest MAX_VERSIONS_PER_FUNCTION versions of a function
   * that were invoked keep their own series; when a new one arrives, the oldest one's invocation
   * series are removed, so a function that is deployed often never grows without bound.
   */
  private versionLabel(target: ResolvedTarget, status: string, code: string): string {
    const key = `${target.app}/${target.function}`;
    let seen = this.versions.get(key);
    if (seen === undefined) {
      seen = new Map();
      this.versions.set(key, seen);
    }
    let outcomes = seen.get(target.versionId);
    if (outcomes === undefined) {
      if (seen.size >= MAX_VERSIONS_PER_FUNCTION) {
        const [oldest, oldOutcomes] = seen.entries().next().value as [string, Set<string>];
        for (const o of oldOutcomes) {
          const [st, cd] = o.split('|') as [string, string];
          this.invocations.remove({ app: target.app, function: target.function, version: oldest, status: st, code: cd });
        }
        seen.delete(oldest);
      }
      outcomes = new Set();
      seen.set(target.versionId, outcomes);
    }
    outcomes.add(`${status}|${code}`);
    return target.versionId;
  }
}
