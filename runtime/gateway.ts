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
import { builtinError } from '../builtins/errors.ts';
import { bearerChallenge } from '../builtins/auth/host.ts';
import type { InvocationRegistry, InvocationUser, RpcInvoke } from './builtin-dispatch.ts';
import type { AuthMode } from '../control-plane/core/types.ts';
import { NAME_PATTERN } from '../control-plane/core/names.ts';

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
  /** Live invocations, so forwarded builtin calls find their caller (see builtin-dispatch.ts); absent → builtins beyond Redis are not served. */
  registry?: Pick<InvocationRegistry, 'begin'>;
  /**
   * Verify the request's `Authorization` header for an app before any isolate runs (ctx.auth's
   * `verifyRequest`): resolves `{ user }` (null without a Bearer token when `mode` is `none`),
   * rejects with 401 E_AUTH_REQUIRED / E_AUTH_INVALID. Absent → `ctx.user` is always null and
   * versions with `auth: required` are refused with E_AUTH_REQUIRED.
   */
  verifyUser?: (app: string, authorization: string | undefined, mode: AuthMode) => Promise<{ user: InvocationUser | null }>;
  /** Remove a function's secret values from text it produced (log lines, error messages). */
  redact?: (app: string, fn: string, text: string) => string;
  /** Random source for canary splits, in [0, 1). @default Math.random */
  random?: () => number;
}

/** What one invocation needs beyond its target and request. */
interface InvocationInput {
  requestId: string;
  user: InvocationUser | null;
  chain: readonly string[];
  /** Headers carrying the caller's `traceparent`, if any. */
  traceHeaders: Record<string, string | string[] | undefined>;
  method: string;
  /** Epoch ms the invocation must end by (the caller's deadline for ctx.rpc.call). */
  deadline?: number;
}

/** The outcome of `runInvocation`. */
interface InvocationRun {
  result: SupervisedResult;
  traceId: string;
  requestId: string;
}

/** The version an alias sends this invocation to: the canary with probability `weight`%, else the main version. */
export function pickRoute(target: ResolvedTarget, random: () => number = Math.random): ResolvedTarget {
  const canary = target.canary;
  if (canary === null || !(random() * 100 < canary.weight)) return target;
  return { ...target, versionId: canary.versionId, limits: canary.limits, auth: canary.auth, canary: null };
}

/** Run one invocation through the supervisor with its registry entry, span, logs and metrics. */
async function runInvocation(deps: GatewayDeps, target: ResolvedTarget, fnRequest: FunctionRequest, input: InvocationInput): Promise<InvocationRun> {
  const started = performance.now();
  const span = deps.tracing?.startInvocation(input.traceHeaders, { app: target.app, function: target.function, requestId: input.requestId, method: input.method });
  const deadline = Math.min(Date.now() + target.limits.wallTimeMs, input.deadline ?? Number.POSITIVE_INFINITY);
  const live = deps.registry?.begin({
    app: target.app, function: target.function, versionId: target.versionId, requestId: input.requestId,
    deadline, user: input.user, chain: input.chain, traceparent: span?.traceparent ?? '',
  });
  const requestId = live?.context.requestId ?? input.requestId;
  let result: SupervisedResult;
  try {
    result = await deps.supervisor.invoke(
      { key: `${target.app}/${target.function}@${target.versionId}`, app: target.app, function: target.function, versionId: target.versionId, limits: target.limits },
      fnRequest,
      { app: target.app, function: target.function, version: target.versionId, alias: target.alias, requestId, deadline, user: input.user },
    );
  } finally {
    live?.end();
  }
  const traceId = span?.traceId ?? '';
  span?.end({
    target, status: result.status, errorCode: result.ok ? undefined : result.error.code,
    coldStart: result.coldStart, coldStartAt: result.coldStart ? result.acquiredFrom : undefined, coldStartMs: result.coldStartMs,
    builtins: result.builtins, workerPid: result.workerPid,
  });
  if (deps.redact !== undefined) {
    const redact = deps.redact;
    if (!result.ok) result.error.message = redact(target.app, target.function, result.error.message);
    for (const line of result.logs) line.message = redact(target.app, target.function, line.message);
  }
  if (result.logs.length > 0) {
    deps.appendLogs(result.logs.map((l) => ({ ...l, app: target.app, function: target.function, versionId: target.versionId, requestId, ...(traceId === '' ? {} : { traceId }) })));
  }
  deps.onInvocation?.(target, result, performance.now() - started);
  return { result, traceId, requestId };
}

/**
 * `ctx.rpc.call` through the pool (no HTTP): resolve `fn@alias` in the caller's app, pick the
 * canary split, run it with the caller's user, chain, trace and deadline, and return what the
 * callee returned (JSON parsed; text as a string; null for no body).
 * @throws E_RPC_NOT_FOUND, E_RPC_FAILED (callee error status, or the caller's deadline passed)
 */
export function createRpcInvoker(deps: GatewayDeps): RpcInvoke {
  return async (caller, fn, alias, payload, chain) => {
    const resolved = await deps.resolver.resolveAlias(caller.app, fn, alias);
    if (resolved === null) throw builtinError('E_RPC_NOT_FOUND', `ctx.rpc.call: no function ${fn} with alias ${alias} in app ${caller.app}`, { function: fn, alias });
    const target = pickRoute(resolved, deps.random);
    if (target.auth === 'required' && caller.user === null) {
      throw builtinError('E_RPC_FAILED', `ctx.rpc.call: ${fn} requires a signed-in player and this invocation has none`, { status: 401, code: 'E_AUTH_REQUIRED' });
    }
    const remaining = caller.deadline - Date.now();
    if (remaining <= 0) throw builtinError('E_RPC_FAILED', `ctx.rpc.call: no time left before the caller's deadline to call ${fn}`, { status: 504, code: 'E_TIMEOUT' });
    const request: FunctionRequest = {
      method: 'POST', path: '/', query: {},
      headers: { 'content-type': 'application/json', 'x-faas-caller': caller.function },
      body: JSON.stringify(payload), bodyIsJson: true,
    };
    const run = runInvocation(deps, target, request, {
      requestId: `${caller.requestId}>${fn}`, user: caller.user, chain,
      traceHeaders: caller.traceparent === '' ? {} : { traceparent: caller.traceparent }, method: 'POST', deadline: caller.deadline,
    });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(builtinError('E_RPC_FAILED', `ctx.rpc.call: ${fn} did not answer before the caller's deadline`, { status: 504, code: 'E_TIMEOUT' })), remaining);
    });
    try {
      const { result } = await Promise.race([run, expired]);
      if (!result.ok || result.status >= 400) {
        const code = result.ok ? `HTTP_${result.status}` : result.error.code;
        const message = result.ok ? `status ${result.status}` : result.error.message;
        throw builtinError('E_RPC_FAILED', `ctx.rpc.call: ${fn} answered ${result.status} ${code}: ${message}`, { status: result.status, code });
      }
      if (result.body === null || result.encoding === 'none') return null;
      if (result.encoding === 'json') return JSON.parse(result.body) as unknown;
      return result.body;
    } finally {
      clearTimeout(timer);
    }
  };
}

const VERSION_ID = /^[0-9a-f]{20}$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const DEFAULT_MAX_BODY = 1024 * 1024;
/** CSP sandbox on every function response: scripts, forms and popups run, but never with this origin. */
export const FUNCTION_SANDBOX_CSP = 'sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads';

declare module 'fastify' {
  interface FastifyRequest {
    faasTarget?: ResolvedTarget;
    faasRequestId?: string;
    faasUser?: InvocationUser | null;
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
    if (!NAME_PATTERN.test(app)) throw runtimeError('E_APP_NOT_FOUND', `no app named ${JSON.stringify(app)}: app names are lower-case letters, digits and dashes`);
    if (!NAME_PATTERN.test(fn)) throw runtimeError('E_FUNCTION_NOT_FOUND', `no function named ${JSON.stringify(fn)} in app ${app}`);
    const pinned = header(request, 'x-faas-version');
    const alias = header(request, 'x-faas-alias') ?? 'prod';
    // Checked before any lookup, so junk header values never reach the store or the cache.
    if (pinned !== undefined && !VERSION_ID.test(pinned)) throw runtimeError('E_BAD_REQUEST', 'x-faas-version must be a version id (20 hex characters, see `faas versions`)');
    if (!NAME_PATTERN.test(alias)) throw runtimeError('E_BAD_REQUEST', 'x-faas-alias must be an alias name (lower-case letters, digits and dashes)');
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
    const routed = pinned !== undefined ? target : pickRoute(target, deps.random);
    request.faasTarget = routed;
    // Auth before the body is read and before any isolate runs.
    const authorization = header(request, 'authorization');
    if (deps.verifyUser !== undefined) {
      request.faasUser = (await deps.verifyUser(app, authorization, routed.auth)).user;
    } else if (routed.auth === 'required') {
      throw builtinError('E_AUTH_REQUIRED', `${app}/${fn} requires a signed-in player, and player tokens are not configured on this gateway`);
    }
  });

  const handler = async (request: FastifyRequest<{ Params: { app: string; function: string; '*'?: string } }>, reply: FastifyReply) => {
    const target = request.faasTarget as ResolvedTarget;
    const fnRequest: FunctionRequest = {
      method: request.method,
      path: '/' + (request.params['*'] ?? ''),
      query: request.query as Record<string, string | string[]>,
      headers: plainHeaders(request),
      ...bodyOf(request),
    };
    const { result, traceId, requestId } = await runInvocation(deps, target, fnRequest, {
      requestId: request.faasRequestId as string, user: request.faasUser ?? null, chain: [target.function], traceHeaders: request.headers, method: request.method,
    });
    if (requestId !== request.faasRequestId) reply.header('x-faas-request-id', requestId);
    if (traceId !== '') reply.header('x-faas-trace-id', traceId);
    if (result.ok) reply.headers(result.headers); // reserved names were already dropped by the sandbox
    // Function responses share the origin with /admin and /api: a sandboxed (opaque) origin keeps
    // an HTML page a function serves from reading the console's session or calling the API as it.
    const csp = result.ok ? result.headers['content-security-policy'] : undefined;
    reply.header('content-security-policy', `${csp === undefined ? '' : `${csp}; `}${FUNCTION_SANDBOX_CSP}`);
    reply.header('x-faas-version', target.versionId);
    if (result.coldStart) reply.header('x-faas-cold-start', '1');
    // W3C Server Timing: the isolate's CPU time, and how long the cold start (isolate, code load) took.
    reply.header('server-timing', result.coldStart ? `cpu;dur=${result.cpuTimeMs.toFixed(2)}, cold;dur=${result.coldStartMs.toFixed(2)}` : `cpu;dur=${result.cpuTimeMs.toFixed(2)}`);
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

/** Headers only the platform sets on a function's request (a client's copies are dropped). */
const PLATFORM_REQUEST_HEADERS = new Set(['x-faas-caller']);

function plainHeaders(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || PLATFORM_REQUEST_HEADERS.has(name)) continue;
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
  if (err.status === 401) {
    const app = (request.params as { app?: string } | undefined)?.app ?? '';
    const challenge = bearerChallenge(app, err);
    if (challenge !== null) reply.header('www-authenticate', challenge);
  }
  return reply.code(err.status).send(err.toJSON());
}
