/**
 * The HTTP gateway for functions: `ANY /fn/:app/:function[/*]`.
 *
 * Per request: resolve the alias (header `x-faas-alias`, default `prod`) or a pinned version
 * (header `x-faas-version`) → read the body up to the version's `maxBodyBytes` (413 past it,
 * checked on `content-length` before reading) → build `req` → run it in a worker → send the result,
 * with `x-faas-request-id` and `x-faas-version` headers. Captured `ctx.log` lines go to the log sink.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LogLine, ResolvedTarget } from '../control-plane/core/types.ts';
import { isPlatformError, runtimeError, type PlatformError } from './errors.ts';
import type { Resolver } from './resolver.ts';
import type { FunctionRequest } from './sandbox/interface.ts';
import type { SupervisedResult, WorkerSupervisor } from './supervisor.ts';
import type { Tracing } from './tracing.ts';

/** What the gateway needs from the rest of the platform. */
export interface GatewayDeps {
  resolver: Pick<Resolver, 'resolveAlias' | 'resolveVersion'>;
  supervisor: Pick<WorkerSupervisor, 'invoke'>;
  /** Receives the captured log lines of every invocation (fire and forget). */
  appendLogs: (lines: LogLine[]) => void;
  /** Whether an app exists; used only on the 404 path to tell E_APP_NOT_FOUND from E_FUNCTION_NOT_FOUND. */
  appExists?: (app: string) => Promise<boolean>;
  /** Traces (a span per invocation); absent or disabled → none. */
  tracing?: Pick<Tracing, 'startInvocation'>;
  /** Called after every invocation (metrics hook). */
  onInvocation?: (target: ResolvedTarget, result: SupervisedResult, durationMs: number) => void;
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const VERSION_ID = /^[0-9a-f]{20}$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const DEFAULT_MAX_BODY = 1024 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    faasTarget?: ResolvedTarget;
    faasRequestId?: string;
  }
}

/**
 * Register the function routes on `fastify` (an encapsulated plugin: its body parser applies only
 * to `/fn`). Errors answer `{ error: { code, message } }` with the catalog status.
 */
export async function gatewayRoutes(fastify: FastifyInstance, deps: GatewayDeps): Promise<void> {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (request: FastifyRequest, payload, done) => {
    const limit = request.faasTarget?.limits.maxBodyBytes ?? DEFAULT_MAX_BODY;
    const tooLarge = () => runtimeError('E_BODY_TOO_LARGE', `the request body exceeds this function's maxBodyBytes limit of ${limit} bytes`, { limitBytes: limit });
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      done(tooLarge(), undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const finish = (err: Error | null, body?: Buffer) => {
      if (finished) return;
      finished = true;
      done(err, body);
    };
    payload.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        finish(tooLarge());
        payload.resume();
        return;
      }
      if (!finished) chunks.push(chunk);
    });
    payload.on('end', () => finish(null, Buffer.concat(chunks, size)));
    payload.on('error', (err: Error) => finish(err));
  });

  fastify.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
    if (isPlatformError(err)) return sendError(reply, err, request);
    if (typeof err.statusCode === 'number' && err.statusCode < 500) {
      return sendError(reply, runtimeError('E_BAD_REQUEST', err.message), request);
    }
    request.log.error({ err }, 'gateway fault');
    return sendError(reply, runtimeError('E_INTERNAL', 'internal error'), request);
  });

  fastify.addHook('onRequest', async (request: FastifyRequest<{ Params: { app: string; function: string } }>, reply: FastifyReply) => {
    const requestId = requestIdOf(request);
    request.faasRequestId = requestId;
    reply.header('x-faas-request-id', requestId);
    const { app, function: fn } = request.params;
    if (!NAME.test(app)) throw runtimeError('E_APP_NOT_FOUND', `no app named ${JSON.stringify(app)}: app names are lower-case letters, digits and dashes`);
    if (!NAME.test(fn)) throw runtimeError('E_FUNCTION_NOT_FOUND', `no function named ${JSON.stringify(fn)} in app ${app}`);
    const pinned = header(request, 'x-faas-version');
    const alias = header(request, 'x-faas-alias') ?? 'prod';
    // Checked before any lookup, so junk header values never reach the store or the cache.
    if (pinned !== undefined && !VERSION_ID.test(pinned)) throw runtimeError('E_BAD_REQUEST', 'x-faas-version must be a version id (20 hex characters, see `faas versions`)');
    if (!NAME.test(alias)) throw runtimeError('E_BAD_REQUEST', 'x-faas-alias must be an alias name (lower-case letters, digits and dashes)');
    const target = pinned !== undefined
      ? await deps.resolver.resolveVersion(app, fn, pinned)
      : await deps.resolver.resolveAlias(app, fn, alias);
    if (target === null) {
      if (deps.appExists !== undefined && !(await deps.appExists(app))) {
        throw runtimeError('E_APP_NOT_FOUND', `no app named ${app}: create it by deploying a function (faas deploy <file> --app ${app})`);
      }
      throw runtimeError('E_FUNCTION_NOT_FOUND', pinned !== undefined
        ? `no version ${pinned} of ${app}/${fn}`
        : `no function ${app}/${fn} with alias ${alias}: deploy it first (faas deploy <file> --app ${app} --name ${fn})`);
    }
    request.faasTarget = target;
  });

  const handler = async (request: FastifyRequest<{ Params: { app: string; function: string; '*'?: string } }>, reply: FastifyReply) => {
    const target = request.faasTarget as ResolvedTarget;
    const requestId = request.faasRequestId as string;
    const started = performance.now();
    const span = deps.tracing?.startInvocation(request.headers, { app: target.app, function: target.function, requestId, method: request.method });
    const fnRequest: FunctionRequest = {
      method: request.method,
      path: '/' + (request.params['*'] ?? ''),
      query: request.query as Record<string, string | string[]>,
      headers: plainHeaders(request),
      ...bodyOf(request),
    };
    const result = await deps.supervisor.invoke(
      { key: `${target.app}/${target.function}@${target.versionId}`, app: target.app, function: target.function, versionId: target.versionId, limits: target.limits },
      fnRequest,
      { app: target.app, function: target.function, version: target.versionId, alias: target.alias, requestId, deadline: Date.now() + target.limits.wallTimeMs },
    );
    const traceId = span?.traceId ?? '';
    span?.end({
      target, status: result.status, errorCode: result.ok ? undefined : result.error.code,
      coldStart: result.coldStart, coldStartAt: result.coldStart ? result.acquiredFrom : undefined, coldStartMs: result.coldStartMs,
      builtins: result.builtins, workerPid: result.workerPid,
    });
    if (result.logs.length > 0) {
      deps.appendLogs(result.logs.map((l) => ({ ...l, app: target.app, function: target.function, versionId: target.versionId, requestId, ...(traceId === '' ? {} : { traceId }) })));
    }
    if (traceId !== '') reply.header('x-faas-trace-id', traceId);
    deps.onInvocation?.(target, result, performance.now() - started);
    if (result.ok) reply.headers(result.headers); // reserved names were already dropped by the sandbox
    reply.header('x-faas-version', target.versionId);
    if (result.coldStart) reply.header('x-faas-cold-start', '1');
    reply.header('server-timing', `cpu;dur=${result.cpuTimeMs.toFixed(2)}`);
    if (!result.ok) return reply.code(result.status).send({ error: result.error });
    reply.code(result.status);
    switch (result.encoding) {
      case 'none':
        return reply.send();
      case 'json':
        if (!result.headers['content-type']) reply.type('application/json; charset=utf-8');
        return reply.send(result.body);
      case 'text':
        if (!result.headers['content-type']) reply.type('text/plain; charset=utf-8');
        return reply.send(result.body);
      case 'base64':
        if (!result.headers['content-type']) reply.type('application/octet-stream');
        return reply.send(Buffer.from(result.body ?? '', 'base64'));
    }
  };
  fastify.all('/fn/:app/:function', handler);
  fastify.all('/fn/:app/:function/*', handler);
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function requestIdOf(request: FastifyRequest): string {
  const given = header(request, 'x-request-id');
  return given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
}

function plainHeaders(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The body as text, flagged as JSON for `application/json` and `+json` (parsed in the isolate). */
function bodyOf(request: FastifyRequest): { body: string | null; bodyIsJson: boolean } {
  const raw = request.body;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return { body: null, bodyIsJson: false };
  const type = String(request.headers['content-type'] ?? '').toLowerCase();
  return { body: raw.toString('utf8'), bodyIsJson: /^application\/([a-z0-9.+-]*\+)?json\b/.test(type) };
}

function sendError(reply: FastifyReply, err: PlatformError, request: FastifyRequest): FastifyReply {
  if (request.faasTarget !== undefined) reply.header('x-faas-version', request.faasTarget.versionId);
  return reply.code(err.status).send(err.toJSON());
}
