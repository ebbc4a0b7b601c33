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
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Actor, AppSettings, AuthMode, CanarySplit, ControlPlane, FunctionLimits, Role } from '../core/types.ts';
import { cpError } from '../errors.ts';

/** Per-function invocation figures over the last hour (see `runtime/stats.ts`). */
export interface FunctionStats {
  invocations: number;
  errors: number;
  /** p95 latency in ms, null when there were no invocations. */
  p95Ms: number | null;
}

/** Options of the `apiRoutes` plugin. */
export interface ApiRoutesOptions {
  /** The control plane every route calls. */
  controlPlane: ControlPlane;
  /** Invocation figures per function of an app over the last hour, from the gateway in this process; absent in `faas control-plane`. */
  stats?: (app: string) => Record<string, FunctionStats>;
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

const str = { type: 'string' } as const;
const strOrNull = { type: ['string', 'null'] } as const;
const limitsOut = { type: 'object', additionalProperties: { type: 'integer' } } as const;
const canaryOut = { type: 'object', properties: { versionId: str, weight: { type: 'integer' } } } as const;
const versionOut = {
  type: 'object',
  properties: { app: str, function: str, id: str, size: { type: 'integer' }, message: str, author: str, createdAt: str, limits: limitsOut, auth: str },
} as const;
const functionOut = {
  type: 'object',
  properties: {
    app: str, name: str, createdAt: str, limits: limitsOut,
    aliases: { type: 'object', additionalProperties: str },
    canaries: { type: 'object', additionalProperties: canaryOut },
  },
} as const;
const aliasOut = { type: 'object', properties: { name: str, versionId: str, previousVersionId: strOrNull, canary: { ...canaryOut, nullable: true } } } as const;
const keyOut = {
  type: 'object',
  properties: { id: str, name: str, role: str, apps: { anyOf: [{ type: 'string', enum: ['*'] }, { type: 'array', items: str }] }, createdAt: str, revokedAt: strOrNull },
} as const;
const errorOut = { type: 'object', properties: { error: { type: 'object', properties: { code: str, message: str }, additionalProperties: true } } } as const;
const settingsSchema = {
  type: 'object',
  properties: {
    fetchAllowlist: { type: 'array', items: str, maxItems: 100 },
    grpcServices: { type: 'array', maxItems: 100, items: { type: 'object', additionalProperties: true } },
  },
  additionalProperties: NO_OTHER_FIELDS,
} as const;
const configNameParams = { type: 'object', required: ['app', 'fn', 'name'], properties: { app: nameParam, fn: nameParam, name: nameParam } } as const;
const valueBody = { type: 'object', required: ['value'], properties: { value: { type: 'string' } }, additionalProperties: NO_OTHER_FIELDS } as const;

/** Responses every authenticated route may give, for the OpenAPI document. */
function responses(ok: Record<number, unknown>): Record<number | string, unknown> {
  return { ...ok, '4xx': errorOut, '5xx': errorOut };
}

/**
 * The `/api` routes (mount with `fastify.register(apiRoutes, { prefix: '/api', controlPlane })`).
 * The OpenAPI 3 document is generated from these route schemas by @fastify/swagger and served at
 * `/api/docs` (UI, @fastify/swagger-ui) and `/api/docs/json`; both need no key. See
 * `control-plane/README.md` for the table of routes and the role each needs.
 *
 * Every other route needs an API key (`Authorization: Bearer <key>` or `x-api-key`); a missing or
 * unknown key answers 401 E_UNAUTHORIZED before the body is read; a key whose role or apps do not
 * allow the action answers 403 E_FORBIDDEN.
 */
export async function apiRoutes(fastify: FastifyInstance, opts: ApiRoutesOptions): Promise<void> {
  const cp = opts.controlPlane;
  if (cp === undefined || cp === null) throw new TypeError('apiRoutes: the controlPlane option is required');
  registerErrorHandler(fastify);

  await fastify.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'FaaS control plane', version: '1', description: 'Apps, functions, versions, aliases, config, secrets, keys and audit. Authenticate with `Authorization: Bearer <API key>`.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
  });
  await fastify.register(swaggerUi, { routePrefix: '/docs' });

  fastify.setNotFoundHandler((request, reply) => {
    const error = cpError('E_ROUTE_NOT_FOUND', `no API route for ${request.method} ${request.url.split('?')[0]}; see /api/docs`);
    return reply.code(error.status).send(error.toJSON());
  });

  const docsPrefix = `${fastify.prefix}/docs`;
  fastify.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url ?? '';
    if (route === docsPrefix || route.startsWith(`${docsPrefix}/`)) return;
    const key = keyFrom(request);
    if (key === null) throw cpError('E_UNAUTHORIZED', `missing API key: ${KEY_HINT}`);
    const actor = await cp.authenticate(key);
    if (actor === null) throw cpError('E_UNAUTHORIZED', `unknown or revoked API key: ${KEY_HINT}`);
    actors.set(request, actor);
  });

  type P<T> = { Params: T };
  type AppP = { app: string };
  type FnP = { app: string; fn: string };

  fastify.get('/whoami', { schema: { tags: ['keys'], summary: 'The calling key: name, role and apps', response: responses({ 200: { type: 'object', properties: { actor: { type: 'object', properties: { keyId: str, name: str, role: str, apps: keyOut.properties.apps } } } } }) } }, async (request) => ({
    actor: actorOf(request),
  }));

  fastify.get('/apps', { schema: { tags: ['apps'], summary: 'Apps the key may see', response: responses({ 200: { type: 'object', properties: { apps: { type: 'array', items: { type: 'object', properties: { name: str, createdAt: str } } } } } }) } }, async (request) => ({
    apps: await cp.listApps(actorOf(request)),
  }));

  fastify.post<{ Body: { name: string } }>(
    '/apps',
    { schema: { tags: ['apps'], summary: 'Create an app (admin)', body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } }, additionalProperties: NO_OTHER_FIELDS }, response: responses({ 201: { type: 'object', properties: { app: { type: 'object', properties: { name: str, createdAt: str } } } } }) } },
    async (request, reply) => reply.code(201).send({ app: await cp.createApp(actorOf(request), request.body.name) }),
  );

  fastify.get<P<AppP>>('/apps/:app/functions', { schema: { tags: ['functions'], summary: 'Functions of an app with their aliases and canaries', params: appParams, response: responses({ 200: { type: 'object', properties: { functions: { type: 'array', items: functionOut } } } }) } }, async (request) => ({
    functions: await cp.listFunctions(actorOf(request), request.params.app),
  }));

  fastify.get<P<AppP>>('/apps/:app/stats', { schema: { tags: ['functions'], summary: 'Invocations, errors and p95 latency per function over the last hour (from this process\'s gateway)', params: appParams } }, async (request) => {
    const actor = actorOf(request);
    await cp.listFunctions(actor, request.params.app); // authorizes and 404s a missing app
    return { functions: opts.stats?.(request.params.app) ?? {}, windowS: 3600, source: opts.stats === undefined ? 'none' : 'gateway' };
  });

  fastify.get<P<FnP>>('/apps/:app/functions/:fn', { schema: { tags: ['functions'], params: fnParams, response: responses({ 200: { type: 'object', properties: { function: functionOut } } }) } }, async (request) => ({
    function: await cp.getFunction(actorOf(request), request.params.app, request.params.fn),
  }));

  fastify.post<{ Params: FnP; Body: { code: string; message?: string; alias?: string; limits?: Partial<FunctionLimits>; auth?: AuthMode } }>(
    '/apps/:app/functions/:fn/deploy',
    {
      bodyLimit: CODE_BODY_LIMIT_BYTES,
      schema: {
        tags: ['functions'],
        summary: 'Check and store a version (content-addressed) and move an alias (default prod) to it',
        params: fnParams,
        body: {
          type: 'object',
          required: ['code'],
          properties: { code: { type: 'string' }, message: { type: 'string' }, alias: { type: 'string' }, limits: limitsSchema, auth: { type: 'string', enum: ['none', 'required'] } },
          additionalProperties: NO_OTHER_FIELDS,
        },
      },
    },
    async (request, reply) => {
      const { code, message, alias, limits, auth } = request.body;
      const result = await cp.deploy(actorOf(request), { app: request.params.app, function: request.params.fn, code, message, alias, limits, auth });
      return reply.code(result.created ? 201 : 200).send(result);
    },
  );

  fastify.get<P<FnP>>('/apps/:app/functions/:fn/versions', { schema: { tags: ['versions'], summary: 'Versions, newest first (without code)', params: fnParams, response: responses({ 200: { type: 'object', properties: { versions: { type: 'array', items: versionOut } } } }) } }, async (request) => ({
    versions: await cp.listVersions(actorOf(request), request.params.app, request.params.fn),
  }));

  fastify.get<P<FnP & { versionId: string }>>(
    '/apps/:app/functions/:fn/versions/:versionId',
    { schema: { tags: ['versions'], summary: 'One version with its code', params: { type: 'object', required: ['app', 'fn', 'versionId'], properties: { app: nameParam, fn: nameParam, versionId: nameParam } }, response: responses({ 200: { type: 'object', properties: { version: { ...versionOut, properties: { ...versionOut.properties, code: str } } } } }) } },
    async (request) => ({ version: await cp.readVersion(actorOf(request), request.params.app, request.params.fn, request.params.versionId) }),
  );

  fastify.put<{ Params: FnP & { alias: string }; Body: { versionId: string; canary?: CanarySplit | null } }>(
    '/apps/:app/functions/:fn/aliases/:alias',
    {
      schema: {
        tags: ['versions'],
        summary: 'Move an alias; `canary` sends `weight` percent (1–99) of its traffic to another version, null clears it',
        params: aliasParams,
        body: {
          type: 'object',
          required: ['versionId'],
          properties: {
            versionId: { type: 'string', minLength: 1 },
            canary: { type: ['object', 'null'], required: ['versionId', 'weight'], properties: { versionId: { type: 'string', minLength: 1 }, weight: { type: 'integer' } }, additionalProperties: NO_OTHER_FIELDS },
          },
          additionalProperties: NO_OTHER_FIELDS,
        },
        response: responses({ 200: { type: 'object', properties: { alias: aliasOut } } }),
      },
    },
    async (request) => ({
      alias: await cp.setAlias(actorOf(request), request.params.app, request.params.fn, request.params.alias, request.body.versionId, { canary: request.body.canary }),
    }),
  );

  fastify.post<{ Params: FnP; Body: { alias?: string; to?: string } | undefined }>(
    '/apps/:app/functions/:fn/rollback',
    { schema: { tags: ['versions'], summary: 'Move an alias back to its previous version (or `to`), dropping any canary', params: fnParams, body: { type: ['object', 'null'], properties: { alias: { type: 'string' }, to: { type: 'string', minLength: 1 } }, additionalProperties: NO_OTHER_FIELDS }, response: responses({ 200: { type: 'object', properties: { alias: aliasOut } } }) } },
    async (request) => ({
      alias: await cp.rollback(actorOf(request), request.params.app, request.params.fn, { alias: request.body?.alias, to: request.body?.to }),
    }),
  );

  fastify.get<{ Params: FnP; Querystring: { limit?: number; since?: number; after?: number; requestId?: string; level?: 'debug' | 'info' | 'warn' | 'error' } }>(
    '/apps/:app/functions/:fn/logs',
    {
      schema: {
        tags: ['logs'],
        summary: 'Captured ctx.log lines, oldest first; `level` keeps that level and above',
        description: 'Without `after`: the newest `limit` lines, oldest first by (time, id). With `after` (the `id` of the last line seen): '
          + 'the oldest `limit` lines appended after it, in append order — poll with it to follow a function without missing or repeating a line.',
        params: fnParams,
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 100_000 },
            since: { type: 'integer', minimum: 0, description: 'epoch milliseconds: only lines at or after this time' },
            after: { type: 'integer', minimum: 0, description: 'a line `id`: only lines appended after it' },
            requestId: { type: 'string', maxLength: 1024 },
            level: { type: 'string', enum: ['debug', 'info', 'warn', 'error'] },
          },
          additionalProperties: NO_OTHER_FIELDS,
        },
      },
    },
    async (request) => ({
      lines: await cp.readLogs(actorOf(request), request.params.app, request.params.fn, {
        limit: request.query.limit, sinceMs: request.query.since, afterId: request.query.after, requestId: request.query.requestId, level: request.query.level,
      }),
    }),
  );

  fastify.get<P<FnP>>('/apps/:app/functions/:fn/config', { schema: { tags: ['config'], summary: 'Config values and secret names (secret values are never returned)', params: fnParams } }, async (request) =>
    cp.readConfig(actorOf(request), request.params.app, request.params.fn));

  for (const [segment, kind] of [['config', 'value'], ['secrets', 'secret']] as const) {
    fastify.put<{ Params: FnP & { name: string }; Body: { value: string } }>(
      `/apps/:app/functions/:fn/${segment}/:name`,
      { schema: { tags: ['config'], summary: kind === 'secret' ? 'Set a secret (write-only, encrypted at rest)' : 'Set a config value', params: configNameParams, body: valueBody } },
      async (request, reply) => {
        await cp.setConfig(actorOf(request), request.params.app, request.params.fn, kind, request.params.name, request.body.value);
        return reply.code(204).send();
      },
    );
    fastify.delete<{ Params: FnP & { name: string } }>(
      `/apps/:app/functions/:fn/${segment}/:name`,
      { schema: { tags: ['config'], summary: kind === 'secret' ? 'Unset a secret' : 'Unset a config value', params: configNameParams } },
      async (request, reply) => {
        await cp.unsetConfig(actorOf(request), request.params.app, request.params.fn, kind, request.params.name);
        return reply.code(204).send();
      },
    );
  }

  fastify.get<P<FnP>>('/apps/:app/functions/:fn/secrets', { schema: { tags: ['config'], summary: 'Secret names and when each was set', params: fnParams } }, async (request) => ({
    secrets: (await cp.readConfig(actorOf(request), request.params.app, request.params.fn)).secrets,
  }));

  fastify.get<P<AppP>>('/apps/:app/settings', { schema: { tags: ['apps'], summary: 'Builtin settings: fetch allowlist, gRPC services', params: appParams } }, async (request) => ({
    settings: await cp.readAppSettings(actorOf(request), request.params.app),
  }));

  fastify.put<{ Params: AppP; Body: Partial<AppSettings> }>('/apps/:app/settings', { schema: { tags: ['apps'], summary: 'Replace the given settings fields', params: appParams, body: settingsSchema } }, async (request) => ({
    settings: await cp.updateAppSettings(actorOf(request), request.params.app, request.body),
  }));

  fastify.post<P<AppP>>('/apps/:app/auth/rotate', { schema: { tags: ['apps'], summary: 'Rotate the signing key of the app\'s player tokens (previous key keeps verifying)', params: appParams } }, async (request) =>
    cp.rotateSigningKey(actorOf(request), request.params.app));

  fastify.get('/keys', { schema: { tags: ['keys'], summary: 'API keys (admin)', response: responses({ 200: { type: 'object', properties: { keys: { type: 'array', items: keyOut } } } }) } }, async (request) => ({
    keys: await cp.listKeys(actorOf(request)),
  }));

  fastify.post<{ Body: { name: string; role: Role; apps?: string[] | '*' } }>(
    '/keys',
    {
      schema: {
        tags: ['keys'],
        summary: 'Create an API key (admin); the secret is in the answer only',
        body: { type: 'object', required: ['name', 'role'], properties: { name: { type: 'string' }, role: { type: 'string', enum: ['admin', 'developer', 'viewer'] }, apps: { anyOf: [{ type: 'string', enum: ['*'] }, { type: 'array', items: { type: 'string' } }] } }, additionalProperties: NO_OTHER_FIELDS },
        response: responses({ 201: { type: 'object', properties: { key: keyOut, secret: str } } }),
      },
    },
    async (request, reply) => reply.code(201).send(await cp.createKey(actorOf(request), request.body)),
  );

  fastify.delete<P<{ id: string }>>('/keys/:id', { schema: { tags: ['keys'], summary: 'Revoke an API key (admin)', params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } }, response: responses({ 200: { type: 'object', properties: { key: keyOut } } }) } }, async (request) => ({
    key: await cp.revokeKey(actorOf(request), request.params.id),
  }));

  fastify.get<{ Querystring: { app?: string; limit?: number; before?: number } }>(
    '/audit',
    { schema: { tags: ['audit'], summary: 'Audit records, newest first; page with `before` = the last id seen', querystring: { type: 'object', properties: { app: nameParam, limit: { type: 'integer', minimum: 1, maximum: 1000 }, before: { type: 'integer', minimum: 1 } }, additionalProperties: NO_OTHER_FIELDS } } },
    async (request) => ({ entries: await cp.listAudit(actorOf(request), { app: request.query.app, limit: request.query.limit, beforeId: request.query.before }) }),
  );

  fastify.post<{ Body: { code: string } }>(
    '/check',
    { bodyLimit: CODE_BODY_LIMIT_BYTES, schema: { tags: ['functions'], summary: 'Run the deploy checks without storing (200 even when not ok)', body: { type: 'object', required: ['code'], properties: { code: { type: 'string' } }, additionalProperties: NO_OTHER_FIELDS } } },
    async (request) => {
      actorOf(request);
      return cp.check(request.body.code);
    },
  );
}
