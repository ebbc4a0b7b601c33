/** Starts the bare-fastify peer (`fastify-server.ts`) as a child process. */
import { fileURLToPath } from 'node:url';
import { freePort, startServer, waitHttp, type ServerProcess } from '../harness/proc.ts';

/** A running bare-fastify peer. */
export interface FastifyPeer {
  base: string;
  server: ServerProcess;
  stop(): Promise<void>;
}

/**
 * Start `fastify-server.ts` with this Node (pinned to `cpus` when given; `REDIS_URL` enables the
 * leaderboard route) and wait until `/hello` answers.
 * @throws Error with the server's output when it does not start within 30 s.
 */
export async function startFastify(redisUrl: string | undefined, cpus?: string): Promise<FastifyPeer> {
  const port = await freePort();
  const server = startServer({
    name: 'bare fastify',
    command: process.execPath,
    args: ['--no-node-snapshot', fileURLToPath(new URL('./fastify-server.ts', import.meta.url))],
    env: { PORT: String(port), REDIS_URL: redisUrl, NODE_OPTIONS: undefined },
    cpus,
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitHttp(server, `${base}/hello`);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { base, server, stop: () => server.stop() };
}
