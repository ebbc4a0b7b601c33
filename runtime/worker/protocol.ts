/**
 * Messages between the supervisor (the gateway process) and its isolate-host worker processes,
 * over Node's IPC channel with JSON serialization (measured ~205k round trips/s on this machine's
 * 2 cores vs ~132k/s for `advanced` serialization, so JSON it is). Everything is plain data.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { ChangeEvent, FunctionLimits, LogLine } from '../../control-plane/core/types.ts';
import type { BuiltinCallSample, FunctionRequest, InvocationMeta, InvocationResult, UserMetricSample } from '../sandbox/interface.ts';

/** A version to run, without its code (the worker fetches code once per version and caches it). */
export interface TargetSpec {
  key: string;
  app: string;
  function: string;
  versionId: string;
  limits: FunctionLimits;
}

/** Who makes a builtin call that a worker forwards to the gateway process (from the sandbox, never from function code). */
export interface ForwardedCall {
  app: string;
  function: string;
  versionId: string;
  requestId: string;
  /** Epoch ms by which the invocation must end. */
  deadline: number;
  /**
   * Present when the invocation came in over the worker's own HTTP server (shape (b)): the gateway
   * process has no record of it and adopts it on its first forwarded builtin call.
   */
  invocation?: { user: { id: string; claims: Record<string, unknown> } | null; chain: string[]; traceparent: string };
}

/** One builtin call, as measured by the sandbox (defined with the sandbox interface). */
export type BuiltinSample = BuiltinCallSample;

/** A worker's pool state, sent with every heartbeat (heap sampled about once a second). */
export interface PoolSample {
  apps: Record<string, { idle: number; busy: number; heapBytes: number }>;
  evictions: Record<string, number>;
}

/**
 * What a worker serving HTTP itself (shape (b)) adds to its heartbeat: the versions it runs now and
 * the largest CPU limit among them (for crash blame and hang detection), and the admin UI's
 * per-function figures since the last beat (`[app, function, invocations, errors, latency bucket counts]`,
 * buckets of `runtime/stats.ts`).
 */
export interface HttpSample {
  inFlight: string[];
  maxCpuMs: number;
  stats: Array<[string, string, number, number, number[]]>;
}

/** Control-plane reads a worker serving HTTP asks the gateway process for (`RuntimeControlPlane` methods). */
export type ControlPlaneRead = 'resolve' | 'getVersion' | 'getFunctionConfig' | 'getSigningKeys' | 'appExists';

/** A worker's Node.js default metrics (prom-client's `getMetricsAsJSON()`), sent every 2 s. */
export type NodeMetricsSample = MetricObjectWithValues<MetricValue<string>>[];

/** What a worker adds to an invocation result. */
export interface ResultTimings {
  coldStart: boolean;
  /** Cold start time (waiting for the single-flight creation included), ms; 0 when warm. */
  coldStartMs: number;
  /** Epoch ms when this invocation started waiting for its isolate (for the cold-start span). */
  acquiredFrom: number;
  /** Time waiting for a free isolate slot, ms. */
  queueMs: number;
}

export type ToWorker =
  /** `code` comes with the first invocation of a version a worker has not run (saves its get-code round trip). */
  | { type: 'invoke'; id: number; target: TargetSpec; request: FunctionRequest; meta: InvocationMeta; code?: string }
  | { type: 'code'; reqId: number; code: string | null }
  | { type: 'reply'; reqId: number; ok: true; value: unknown }
  | { type: 'reply'; reqId: number; ok: false; error: { code: string; message: string } }
  | { type: 'shutdown' }
  /** Shape (b): the live worker indexes (for rendezvous ownership), sent whenever the set changes. */
  | { type: 'workers'; ready: number[] }
  /** Shape (b): a control-plane change, so the worker's caches drop stale entries at once. */
  | { type: 'change'; event: ChangeEvent }
  /** Shape (b): version keys quarantined now. */
  | { type: 'quarantined'; keys: string[] }
  /** Shape (b): asks for the worker's invocation metrics (prom-client JSON) for a scrape. */
  | { type: 'scrape'; reqId: number };

/** Sent with a TCP socket handle (not batched): serve this connection (shape (b)). */
export interface ConnectionMessage { type: 'connection' }

export type FromWorker =
  | { type: 'ready'; pid: number }
  | { type: 'result'; id: number; result: InvocationResult; timings: ResultTimings }
  | { type: 'get-code'; reqId: number; app: string; function: string; versionId: string }
  | { type: 'builtin'; reqId: number; call: ForwardedCall; builtin: string; op: string; args: unknown[] }
  | { type: 'heartbeat'; pool: PoolSample }
  | { type: 'node-metrics'; metrics: NodeMetricsSample }
  // --- shape (b): a worker serving HTTP itself ---
  | { type: 'http-heartbeat'; http: HttpSample }
  | { type: 'cp'; reqId: number; op: ControlPlaneRead; args: string[] }
  | { type: 'logs'; lines: LogLine[] }
  | { type: 'user-metrics'; app: string; samples: UserMetricSample[] }
  /** Run this invocation on the version's owner (a cold or rarely used version is not warmed here). */
  | { type: 'forward-invoke'; reqId: number; target: TargetSpec; request: FunctionRequest; meta: InvocationMeta; invocation?: ForwardedCall['invocation'] }
  /** Sent at once (not batched) before the first invocation of a version in a heartbeat period: if this process dies now, blame it. */
  | { type: 'running'; key: string }
  /** Invocations that made forwarded builtin calls and have ended (the gateway process ends their records). */
  | { type: 'ended'; requestIds: string[] }
  | { type: 'scraped'; reqId: number; metrics: NodeMetricsSample };
