/**
 * Messages between the supervisor (the gateway process) and its isolate-host worker processes,
 * over Node's IPC channel with JSON serialization (measured ~205k round trips/s on this machine's
 * 2 cores vs ~132k/s for `advanced` serialization, so JSON it is). Everything is plain data.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { FunctionLimits } from '../../control-plane/core/types.ts';
import type { BuiltinCallSample, FunctionRequest, InvocationMeta, InvocationResult } from '../sandbox/interface.ts';

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
}

/** One builtin call, as measured by the sandbox (defined with the sandbox interface). */
export type BuiltinSample = BuiltinCallSample;

/** A worker's pool state, sent with every heartbeat (heap sampled about once a second). */
export interface PoolSample {
  apps: Record<string, { idle: number; busy: number; heapBytes: number }>;
  evictions: Record<string, number>;
}

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
  | { type: 'shutdown' };

export type FromWorker =
  | { type: 'ready'; pid: number }
  | { type: 'result'; id: number; result: InvocationResult; timings: ResultTimings }
  | { type: 'get-code'; reqId: number; app: string; function: string; versionId: string }
  | { type: 'builtin'; reqId: number; call: ForwardedCall; builtin: string; op: string; args: unknown[] }
  | { type: 'heartbeat'; pool: PoolSample }
  | { type: 'node-metrics'; metrics: NodeMetricsSample };
