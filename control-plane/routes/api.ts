/**
 * The control plane's REST API, a fastify plugin the server mounts under `/api`. Thin on purpose:
 * authenticate the API key, validate the request shape with JSON schemas, call one
 * `ControlPlane` method, send its result. Every error leaves as `{ error: { code, message, … } }`
 * through `registerErrorHandler`, which the gateway reuses.
 *
 * Fastify's default Ajv options coerce scalar types (`"5"` → 5 in query strings) and drop nothing
 * here: unknown body fields are refused (`additionalProperties: { not: {} }`, since Ajv's
 * `removeAdditional` would silently drop fields declared `false`).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isPlatformError, PlatformError, runtimeError } from '../../runtime/errors.ts';
import type { Actor, ControlPlane, FunctionLimits } from '../core/types.ts';
import { cpError } from '../errors.ts';

/** Options of the `apiRoutes` plugin. */
export interface ApiRoutesOptions {
  /** The control plane every route calls. */
  controlPlane: ControlPlane;
}

/** Body limit of the routes that carry code (deploy, check), in bytes: room for a 1 MiB module after JSON escaping. */
export const CODE_BODY_LIMIT_BYTES = 8 * 1024 * 1024;

const KEY_HINT = 'send it as `Authorization: Bearer <key>` or `x-api-key: <key>`; the first admin key is written to $FAAS_DATA_DIR/admin.key when the control plane starts on an empty store';

/** Refuse any property not listed (see the file comment for why not `false`). */
const NO_OTHER_FIELDS = { not: {} } as const;

const nameParam = { type: 'string', minLength: 1, maxLength: 200 } as const;
const appParams = { type: 'object', required: ['app'], properties: { app: nameParam } } as const;
const fnParams = { type: 'object', required: ['app', 'fn'], properties: { app: nameParam, fn: nameParam } } as const;
const aliasParams = { type: 'object', required: ['app', 'fn', 'alias'], properties: { app: nameParam, fn: nameParam, alias: nameParam } } as const;
const limitsSchema = {
  type: 'object',
  properties: {
    memoryLimitMiB: { type: 'integer' },
    cpuTimeMs: { type: 'integer' },
    wallTimeMs: { type: 'integer' },
    maxBodyBytes: { type: 'integer' },
    maxResponseBytes: { type: 'integer' },
  },
  // Unknown limit names reach validateLimits, which lists the known ones.
} as const;

const actors = new WeakMap<FastifyRequest, Actor>();

function actorOf(request: FastifyRequest): Actor {
  const actor = actors.get(request);
  if (actor === undefined) throw cpError('E_UNAUTHORIZED', `an API key is required: ${KEY_HINT}`);
  return actor;
}

/** The raw key from `Authorization: Bearer <key>` or `x-api-key`, or null. */
function keyFrom(request: FastifyRequest): string | null {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string' && authorization !== '') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match === null ? null : (match[1] as string);
  }
  const header = request.headers['x-api-key'];
  const value = Array.isArray(header) ? header[0] : header;
  return typeof value === 'string' && value !== '' ? value.trim() : null;
}

/** Ajv's first finding as one sentence naming the field, e.g. `body/code must be string`. */
function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (first === undefined) return error.message;
  const where = `${error.validationContext ?? 'request'}${first.instancePath}`;
  if (first.schemaPath.includes('/additionalProperties')) {
    return `${where} is not a known field`;
  }
  if (first.keyword === 'required') {
    return `${where} must have the field ${String((first.params as { missingProperty?: unknown }).missingProperty)}`;
  }
  return `${where} ${first.message ?? 'is invalid'}`;
}

/** Map any error to the platform's error body and status. */
function toPlatformError(error: unknown): PlatformError {
  if (isPlatformError(error)) return error;
  const fastifyError = error as Partial<FastifyError> | null;
  if (fastifyError !== null && typeof fastifyError === 'object') {
    if (Array.isArray(fastifyError.validation)) return cpError('E_VALIDATION', validationMessage(fastifyError as FastifyError));
    if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return runtimeError('E_BODY_TOO_LARGE', 'the request body is larger than this route accepts; a module may be at most 1 MiB (deploy and check accept bodies up to 8 MiB)');
    }
    const status = fastifyError.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return new PlatformError('E_BAD_REQUEST', status, `the request could not be read: ${fastifyError.message ?? 'bad request'}`);
    }
  }
  return runtimeError('E_INTERNAL', 'internal error');
}

/**
 * Install the platform's error mapping on a fastify instance (or an encapsulated plugin scope):
 * PlatformError → its `status` and `toJSON()`; schema validation failures → 400 `E_VALIDATION`;
 * fastify's body-too-large → 413 `E_BODY_TOO_LARGE`; other fastify 4xx (bad JSON, media type)
 * → that status with `E_BAD_REQUEST`; anything else → 500 `E_INTERNAL` with no stack in the
 * response (the stack goes to `request.log.error`). 5xx platform errors are logged too.
 * @param fastify the instance whose routes (and child plugins) get the handler
 */
export function registerErrorHandler(fastify: FastifyInstance): void {
  fastify.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const mapped = toPlatformError(error);
    if (mapped.status >= 500) request.log.error({ err: error }, `request failed with ${mapped.code}`);
    if (mapped.code === 'E_UNAUTHORIZED') void reply.header('www-authenticate', 'Bearer');
    return reply.code(mapped.status).send(mapped.toJSON());
  });
}

/**
 * The `/api` routes (mount with `fastify.register(apiRoutes, { prefix: '/api', controlPlane })`):
 *
 * | method | path | body / query | answer |
 * | --- | --- | --- | --- |
 * | GET | /apps | | `{ apps }` |
 * | POST | /apps | `{ name }` | 201 `{ app }` |
 * | GET | /apps/:app/functions | | `{ functions }` |
 * | GET | /apps/:app/functions/:fn | | `{ function }` |
 * | POST | /apps/:app/functions/:fn/deploy | `{ code, message?, alias?, limits? }` | 201 (200 when the version existed) `DeployResult` |
 * | GET | /apps/:app/functions/:fn/versions | | `{ versions }` |
 * | PUT | /apps/:app/functions/:fn/aliases/:alias | `{ versionId }` | `{ alias }` |
 * | POST | /apps/:app/functions/:fn/rollback | `{ alias?, to? }` | `{ alias }` |
 * | GET | /apps/:app/functions/:fn/logs | `?limit=&since=&requestId=` | `{ lines }` |
 * | POST | /check | `{ code }` | `CheckReport` (200 even when not ok) |
 *
 * Every route needs an API key (`Authorization: Bearer <key>` or `x-api-key`); a missing or
 * unknown key answers 401 E_UNAUTHORIZED before the body is read.
 */
export async function apiRoutes(fastify: FastifyInstance, opts: ApiRoutesOptions): Promise<void> {
  const cp = opts.controlPlane;
  if (cp === undefined || cp === null) throw new TypeError('apiRoutes: the controlPlane option is required');
  registerErrorHandler(fastify);

  fastify.setNotFoundHandler((request, reply) => {
    const error = cpError('E_ROUTE_NOT_FOUND', `no API route for ${request.method} ${request.url.split('?')[0]}; see control-plane/README.md`);
    return reply.code(error.status).send(error.toJSON());
  });

  fastify.addHook('onRequest', async (request) => {
    const key = keyFrom(request);
    if (key === null) throw cpError('E_UNAUTHORIZED', `missing API key: ${KEY_HINT}`);
    const actor = await cp.authenticate(key);
    if (actor === null) throw cpError('E_UNAUTHORIZED', `unknown or revoked API key: ${KEY_HINT}`);
    actors.set(request, actor);
  });

  fastify.get('/apps', async (request) => ({ apps: await cp.listApps(actorOf(request)) }));

  fastify.post<{ Body: { name: string } }>(
    '/apps',
    { schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } }, additionalProperties: NO_OTHER_FIELDS } } },
    async (request, reply) => reply.code(201).send({ app: await cp.createApp(actorOf(request), request.body.name) }),
  );

  fastify.get<{ Params: { app: string } }>('/apps/:app/functions', { schema: { params: appParams } }, async (request) => ({
    functions: await cp.listFunctions(actorOf(request), request.params.app),
  }));

  fastify.get<{ Params: { app: string; fn: string } }>('/apps/:app/functions/:fn', { schema: { params: fnParams } }, async (request) => ({
    function: await cp.getFunction(actorOf(request), request.params.app, request.params.fn),
  }));

  fastify.post<{ Params: { app: string; fn: string }; Body: { code: string; message?: string; alias?: string; limits?: Partial<FunctionLimits> } }>(
    '/apps/:app/functions/:fn/deploy',
    {
      bodyLimit: CODE_BODY_LIMIT_BYTES,
      schema: {
        params: fnParams,
        body: {
          type: 'object',
          required: ['code'],
          properties: { code: { type: 'string' }, message: { type: 'string' }, alias: { type: 'string' }, limits: limitsSchema },
          additionalProperties: NO_OTHER_FIELDS,
        },
      },
    },
    async (request, reply) => {
      const { code, message, alias, limits } = request.body;
      const result = await cp.deploy(actorOf(request), { app: request.params.app, function: request.params.fn, code, message, alias, limits });
      return reply.code(result.created ? 201 : 200).send(result);
    },
  );

  fastify.get<{ Params: { app: string; fn: string } }>('/apps/:app/functions/:fn/versions', { schema: { params: fnParams } }, async (request) => ({
    versions: await cp.listVersions(actorOf(request), request.params.app, request.params.fn),
  }));

  fastify.put<{ Params: { app: string; fn: string; alias: string }; Body: { versionId: string } }>(
    '/apps/:app/functions/:fn/aliases/:alias',
    { schema: { params: aliasParams, body: { type: 'object', required: ['versionId'], properties: { versionId: { type: 'string', minLength: 1 } }, additionalProperties: NO_OTHER_FIELDS } } },
    async (request) => ({
      alias: await cp.setAlias(actorOf(request), request.params.app, request.params.fn, request.params.alias, request.body.versionId),
    }),
  );

  fastify.post<{ Params: { app: string; fn: string }; Body: { alias?: string; to?: string } | undefined }>(
    '/apps/:app/functions/:fn/rollback',
    { schema: { params: fnParams, body: { type: ['object', 'null'], properties: { alias: { type: 'string' }, to: { type: 'string', minLength: 1 } }, additionalProperties: NO_OTHER_FIELDS } } },
    async (request) => ({
      alias: await cp.rollback(actorOf(request), request.params.app, request.params.fn, { alias: request.body?.alias, to: request.body?.to }),
    }),
  );

  fastify.get<{ Params: { app: string; fn: string }; Querystring: { limit?: number; since?: number; requestId?: string } }>(
    '/apps/:app/functions/:fn/logs',
    {
      schema: {
        params: fnParams,
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 100_000 }, since: { type: 'integer', minimum: 0 }, requestId: { type: 'string', maxLength: 200 } },
          additionalProperties: NO_OTHER_FIELDS,
        },
      },
    },
    async (request) => ({
      lines: await cp.readLogs(actorOf(request), request.params.app, request.params.fn, { limit: request.query.limit, sinceMs: request.query.since, requestId: request.query.requestId }),
    }),
  );

  fastify.post<{ Body: { code: string } }>(
    '/check',
    { bodyLimit: CODE_BODY_LIMIT_BYTES, schema: { body: { type: 'object', required: ['code'], properties: { code: { type: 'string' } }, additionalProperties: NO_OTHER_FIELDS } } },
    async (request) => {
      actorOf(request);
      return cp.check(request.body.code);
    },
  );
}
