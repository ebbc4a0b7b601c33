/**
 * A throwaway redis-server on a free loopback port, no persistence, for the leaderboard workload.
 */
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort, startServer, type ServerProcess } from './proc.ts';

/** A running throwaway Redis. */
export interface ThrowawayRedis {
  url: string;
  version: string;
  server: ServerProcess;
  /** Delete every key (between workloads). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/** Whether `redis-server` is on the PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Start `redis-server --port <free> --bind 127.0.0.1 --save '' --appendonly no` (pinned to `cpus`
 * when given) and wait until it answers PING.
 * @throws Error with the server's output when it does not answer within 10 s.
 */
export async function startRedis(cpus?: string): Promise<ThrowawayRedis> {
  const port = await freePort();
  const server = startServer({
    name: 'redis-server',
    command: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
    cpus,
  });
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {}); // connection refused until the server listens; handled by the retry loop
  const until = Date.now() + 10_000;
  let version = '?';
  for (;;) {
    try {
      await client.connect();
      await client.ping();
      version = /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? '?';
      break;
    } catch {
      client.disconnect();
      if (Date.now() > until) {
        await server.stop();
        throw new Error(`redis-server did not answer on ${url}:\n${server.output()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    version,
    server,
    flush: async () => { await client.flushall(); },
    stop: async () => {
      client.disconnect();
      await server.stop();
    },
  };
}
