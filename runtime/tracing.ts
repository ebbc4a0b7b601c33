/**
 * Traces (OpenTelemetry): a span per invocation, with the cold start and every builtin call as
 * child spans, exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (to the console
 * with `FAAS_TRACES=console`, else off). W3C `traceparent`/`tracestate` on the way in are honoured.
 *
 * All spans are created in the gateway process. Workers measure what happens inside them (cold
 * start, each builtin call) with epoch timestamps and send them with the result; the gateway turns
 * them into child spans with those times, so no tracing SDK runs next to the isolates.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, ParentBasedSampler, SimpleSpanProcessor, TraceIdRatioBasedSampler, type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { ResolvedTarget } from '../control-plane/core/types.ts';
import type { BuiltinCallSample } from './sandbox/interface.ts';

/** Tracing configuration (from the environment, see `tracingFromEnv`). */
export interface TracingConfig {
  /** OTLP/HTTP base URL (`/v1/traces` is appended), e.g. `http://127.0.0.1:4318`. */
  otlpEndpoint?: string;
  /** Print spans to stdout instead (development). */
  console?: boolean;
  /** Share of root traces kept, 0..1 (parent decisions are honoured). @default 1 */
  sampleRatio: number;
  /** `service.name` of the spans. @default faas */
  serviceName: string;
}

/** Read OTEL_EXPORTER_OTLP_ENDPOINT, FAAS_TRACES=console, FAAS_TRACE_SAMPLE_RATIO, OTEL_SERVICE_NAME. @throws Error on a ratio outside 0..1. */
export function tracingFromEnv(env: NodeJS.ProcessEnv = process.env): TracingConfig {
  const ratio = env.FAAS_TRACE_SAMPLE_RATIO === undefined || env.FAAS_TRACE_SAMPLE_RATIO === '' ? 1 : Number(env.FAAS_TRACE_SAMPLE_RATIO);
  if (!(ratio >= 0 && ratio <= 1)) throw new Error(`FAAS_TRACE_SAMPLE_RATIO must be a number from 0 to 1, got ${JSON.stringify(env.FAAS_TRACE_SAMPLE_RATIO)}`);
  return {
    otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined,
    console: env.FAAS_TRACES === 'console',
    sampleRatio: ratio,
    serviceName: env.OTEL_SERVICE_NAME || 'faas',
  };
}

/** What the gateway reports when an invocation ends. */
export interface InvocationOutcome {
  target: ResolvedTarget;
  status: number;
  errorCode?: string;
  coldStart: boolean;
  /** Epoch ms when the cold start began, and how long it took (ms). */
  coldStartAt?: number;
  coldStartMs: number;
  builtins: BuiltinCallSample[];
  workerPid: number;
}

/** One invocation's span. `traceId` is '' when tracing is off or the trace is not sampled. */
export interface InvocationTrace {
  readonly traceId: string;
  /** W3C `traceparent` naming this invocation's span, for outbound calls (ctx.fetch, ctx.rpc); '' when not sampled. */
  readonly traceparent: string;
  end(outcome: InvocationOutcome): void;
}

const NOOP_TRACE: InvocationTrace = Object.freeze({ traceId: '', traceparent: '', end: () => {} });

const headerGetter: TextMapGetter<Record<string, string | string[] | undefined>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()],
};

/** See the module comment. `close()` flushes pending spans. */
export class Tracing {
  private readonly tracer: Tracer | null;
  private readonly provider: BasicTracerProvider | null;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(config: TracingConfig) {
    const processors: SpanProcessor[] = [];
    if (config.otlpEndpoint !== undefined) {
      processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${config.otlpEndpoint.replace(/\/$/, '')}/v1/traces` }), { scheduledDelayMillis: 500 }));
    }
    if (config.console === true) processors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
    if (processors.length === 0) {
      this.tracer = null;
      this.provider = null;
      return;
    }
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': config.serviceName }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
      spanProcessors: processors,
    });
    this.tracer = this.provider.getTracer('faas-runtime');
  }

  /** True when spans are recorded and exported. */
  get enabled(): boolean {
    return this.tracer !== null;
  }

  /**
   * Start the span of one invocation, as a child of the caller's `traceparent` when it has one.
   * @param headers the request's headers (lower-case names)
   */
  startInvocation(headers: Record<string, string | string[] | undefined>, info: { app: string; function: string; requestId: string; method: string }): InvocationTrace {
    const tracer = this.tracer;
    if (tracer === null) return NOOP_TRACE;
    const parent: Context = this.propagator.extract(context.active(), headers, headerGetter);
    const span = tracer.startSpan(`invoke ${info.app}/${info.function}`, {
      kind: SpanKind.SERVER,
      attributes: { 'faas.app': info.app, 'faas.function': info.function, 'faas.request_id': info.requestId, 'http.request.method': info.method },
    }, parent);
    const sampled = span.isRecording();
    const spanContext = trace.setSpan(parent, span);
    const { traceId, spanId } = span.spanContext();
    return {
      traceId: sampled ? traceId : '',
      traceparent: sampled ? `00-${traceId}-${spanId}-01` : '',
      end: (outcome) => finish(tracer, span, spanContext, outcome),
    };
  }

  /** Flush and stop; idempotent. */
  async close(): Promise<void> {
    await this.provider?.shutdown().catch(() => {});
  }
}

function finish(tracer: Tracer, span: Span, parent: Context, outcome: InvocationOutcome): void {
  const { target } = outcome;
  span.setAttributes({
    'faas.version': target.versionId,
    'faas.alias': target.alias,
    'faas.coldstart': outcome.coldStart,
    'faas.worker.pid': outcome.workerPid,
    'http.response.status_code': outcome.status,
  });
  if (outcome.errorCode !== undefined) {
    span.setAttribute('faas.error.code', outcome.errorCode);
    if (outcome.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.errorCode });
  }
  const common = { 'faas.app': target.app, 'faas.function': target.function };
  if (outcome.coldStart && outcome.coldStartAt !== undefined) {
    tracer.startSpan('cold start', { startTime: outcome.coldStartAt, attributes: { ...common, 'faas.version': target.versionId } }, parent)
      .end(outcome.coldStartAt + outcome.coldStartMs);
  }
  for (const call of outcome.builtins) {
    const child = tracer.startSpan(`${call.builtin} ${call.op}`, {
      kind: SpanKind.CLIENT,
      startTime: call.startedAt,
      attributes: { ...common, 'faas.builtin': call.builtin, 'faas.operation': call.op, 'faas.outcome': call.code === undefined ? 'ok' : 'error' },
    }, parent);
    if (call.code !== undefined) {
      child.setAttribute('faas.error.code', call.code);
      child.setStatus({ code: SpanStatusCode.ERROR, message: call.code });
    }
    child.end(call.startedAt + call.ms);
  }
  span.end();
}

// Keep the global propagation API consistent for any library that reads it.
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
