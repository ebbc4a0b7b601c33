/**
 * Peer "bare fastify": the ceiling for our gateway. One fastify process serving the same handler
 * modules (`handlers/*.js`) natively — no isolate, no IPC, no alias resolution. Started as a child
 * process by `bench/run.ts`; not meant to be run by hand (but it can be:
 * `PORT=3000 node --no-node-snapshot bench/peers/fastify-server.ts`).
 *
 * Routes: `ANY /<workload>` → that handler. `req` is `{ method, path, query, headers, body }` with
 * the body parsed by fastify's own JSON parser (the platform parses JSON in its gateway too);
 * `ctx.redis` has the two sorted-set commands the leaderboard needs, on one ioredis connection to
 * `REDIS_URL` (absent → the leaderboard route answers 503).
 *
 * Environment: PORT (required), REDIS_URL (optional). Prints `listening <port>` when ready.
 */
import Fastify from 'fastify';
import { Redis } from 'ioredis';

type Handler = (req: unknown, ctx: unknown) => Promise<unknown>;
const handlers: Record<string, Handler> = {};
for (const name of ['hello', 'json', 'leaderboard']) {
  const mod = (await import(new URL(`./handlers/${name}.js`, import.meta.url).href)) as { default: Handler };
  handlers[name] = mod.default;
}

const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL, { lazyConnect: false }) : null;
const ctx = {
  redis: redis === null ? null : {
    zincrby: (key: string, n: number, member: string) => redis.zincrby(key, n, member),
    zrevrange: (key: string, start: number, stop: number, withScores: 'WITHSCORES') => redis.zrevrange(key, start, stop, withScores),
  },
};

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.all('/:name', async (request, reply) => {
  const handler = handlers[(request.params as { name: string }).name];
  if (handler === undefined) return reply.code(404).send({ error: 'no such workload' });
  if ((request.params as { name: string }).name === 'leaderboard' && ctx.redis === null) return reply.code(503).send({ error: 'REDIS_URL not set' });
  const req = { method: request.method, path: '/', query: request.query, headers: request.headers, body: request.body ?? null };
  return handler(req, ctx);
});

const port = Number(process.env.PORT);
await app.listen({ port, host: '127.0.0.1' });
process.stdout.write(`listening ${port}\n`);
const stop = () => { void app.close().then(() => redis?.quit()).finally(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
