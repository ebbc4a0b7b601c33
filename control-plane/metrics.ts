/**
 * The control plane's own Prometheus metrics (prom-client): its REST API, its gRPC service for
 * runtimes and its change feed. In `faas control-plane` they are served at `/metrics` with the
 * process's Node.js default metrics (label `process="control-plane"`); in `faas all` they join the
 * gateway's registry, so one scrape sees both.
 *
 * Cardinality is bounded by construction: `route` is the route template fastify matched (e.g.
 * `/api/apps/:app/functions/:function/deploy`, or `(unmatched)` for a 404), `method` an HTTP or
 * gRPC method of a fixed set, `status`/`code` a status class or gRPC code name; no label carries
 * an app, a key or a user-supplied string.
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ChangeEvent } from './core/types.ts';

/** Buckets of API and gRPC durations, in seconds: 0.5 ms … 10 s. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** HTTP methods that keep their own label value; any other is counted as `OTHER`. */
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** See the module comment. */
export class ControlPlaneMetrics {
  /**
   * The prom-client `Registry` these metrics are registered in (every name starts with
   * `faas_control_plane_`): the one given to the constructor (the gateway's in `faas all`), or a
   * registry of its own that also holds the Node.js default metrics labelled
   * `process="control-plane"`. `render()` and `contentType` read from it; it is exposed so a caller
   * can serve it or merge it with another (`Registry.merge`). One registry takes one
   * `ControlPlaneMetrics`: prom-client throws when a metric name is registered twice.
   */
  readonly registry: Registry;
  private readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  private readonly httpDuration: Histogram<'route' | 'method'>;
  private readonly grpcCalls: Counter<'method' | 'code'>;
  private readonly grpcDuration: Histogram<'method'>;
  private readonly changes: Counter<'kind'>;
  private readonly streams: Gauge;
  private streamsNow: () => number = () => 0;

  /**
   * @param registry register into this registry (the gateway's in `faas all`); omitted → a new one
   *   with Node.js default metrics labelled `process="control-plane"`
   */
  constructor(registry?: Registry) {
    this.registry = registry ?? new Registry();
    if (registry === undefined) collectDefaultMetrics({ register: this.registry, labels: { process: 'control-plane' } });
    const registers = [this.registry];
    this.httpRequests = new Counter({ name: 'faas_control_plane_http_requests_total', help: 'Control-plane API requests by route template, method and status class (2xx, 4xx, 5xx).', labelNames: ['route', 'method', 'status'], registers });
    this.httpDuration = new Histogram({ name: 'faas_control_plane_http_duration_seconds', help: 'Control-plane API request time, by route template and method.', labelNames: ['route', 'method'], buckets: BUCKETS, registers });
    this.grpcCalls = new Counter({ name: 'faas_control_plane_grpc_calls_total', help: 'gRPC calls from runtimes by method and status code name (OK, UNAUTHENTICATED, NOT_FOUND …).', labelNames: ['method', 'code'], registers });
    this.grpcDuration = new Histogram({ name: 'faas_control_plane_grpc_duration_seconds', help: 'gRPC call time by method (WatchDeploys: the stream\'s lifetime).', labelNames: ['method'], buckets: BUCKETS, registers });
    this.changes = new Counter({ name: 'faas_control_plane_changes_total', help: 'Change events published to runtimes, by kind (alias, config, settings, keys).', labelNames: ['kind'], registers });
    const self = this;
    this.streams = new Gauge({
      name: 'faas_control_plane_watch_streams',
      help: 'Open WatchDeploys streams (runtimes connected to the change feed).',
      registers,
      collect() {
        this.set(self.streamsNow());
      },
    });
  }

  /**
   * Count every request of `scope` (register it in the API's encapsulated `/api` context, so the
   * gateway's `/fn` requests never run this hook): route template, method, status class, time.
   */
  instrumentHttp(scope: FastifyInstance): void {
    scope.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? '(unmatched)';
      const method = HTTP_METHODS.has(request.method) ? request.method : 'OTHER';
      this.httpRequests.inc({ route, method, status: `${Math.floor(reply.statusCode / 100)}xx` });
      this.httpDuration.observe({ route, method }, reply.elapsedTime / 1000);
      done();
    });
  }

  /**
   * Record one finished gRPC call (for `startControlPlaneGrpc`'s `onCall`).
   * @param method the RPC's name (`GetVersion`), @param code the status code's name, @param ms duration
   */
  observeGrpc(method: string, code: string, ms: number): void {
    this.grpcCalls.inc({ method, code });
    this.grpcDuration.observe({ method }, ms / 1000);
  }

  /** Count a change event (subscribe with `controlPlane.onChange`). */
  observeChange(event: ChangeEvent): void {
    this.changes.inc({ kind: event.kind });
  }

  /** Where `faas_control_plane_watch_streams` reads the number of open streams from. */
  watchStreams(count: () => number): void {
    this.streamsNow = count;
  }

  /** Exposition text of the registry. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Content type of `render()`'s output. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
