/**
 * Load generation with autocannon's programmatic API, in the bench process (the servers are child
 * processes, so the load generator never shares their event loop). Fixed concurrency and duration;
 * a warm-up run precedes every measured run and is discarded.
 */
import { createRequire } from 'node:module';

/** One HTTP request shape for autocannon. */
export interface LoadTarget {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Called per request to vary it (e.g. a random player); returns the body to send. */
  makeBody?: () => string;
}

/** Result of one measured run. */
export interface LoadResult {
  /** Mean requests per second over the run (autocannon's `requests.average`, all responses). */
  rps: number;
  /** Latency percentiles in ms (autocannon records whole milliseconds; 2xx responses only). */
  p50Ms: number;
  p99Ms: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** Options of `measure`. */
export interface LoadOptions {
  connections: number;
  /** Measured seconds. */
  durationS: number;
  /** Discarded warm-up seconds before the measured run (0 → none). */
  warmupS: number;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

const require = createRequire(import.meta.url);
const autocannon = require('autocannon') as Autocannon;

function options(target: LoadTarget, connections: number, durationS: number): Record<string, unknown> {
  const opts: Record<string, unknown> = {
    url: target.url,
    method: target.method ?? 'GET',
    headers: target.headers ?? {},
    connections,
    duration: durationS,
    pipelining: 1,
    timeout: 10,
  };
  if (target.body !== undefined) opts.body = target.body;
  if (target.makeBody !== undefined) {
    const makeBody = target.makeBody;
    opts.requests = [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, body: makeBody() }) }];
  }
  return opts;
}

/**
 * One warm-up run (discarded) and one measured run against `target`.
 * @throws Error when autocannon itself fails (bad URL).
 */
export async function measure(target: LoadTarget, load: LoadOptions): Promise<LoadResult> {
  if (load.warmupS > 0) await autocannon(options(target, load.connections, load.warmupS));
  const r = await autocannon(options(target, load.connections, load.durationS));
  return {
    rps: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}
