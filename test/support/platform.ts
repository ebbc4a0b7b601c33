/**
 * Start the real platform for a test: every role (`faas all`) in this process tree, on a free
 * loopback port, with a fresh data dir and its own worker processes. Samples are deployed into
 * app `demo` as on `npm start`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromEnv, startPlatform as start, type RunningPlatform } from '../../control-plane/server.ts';

/** A started platform; `stop()` closes it and removes its data dir (idempotent). */
export interface TestPlatform {
  url: string;
  apiKey: string;
  dataDir: string;
  platform: RunningPlatform;
  stop(): Promise<void>;
}

/**
 * @param opts.redisUrl real Redis for ctx.redis (default: the embedded store)
 * @param opts.mysqlUrl MySQL/MariaDB for the control plane (default: SQLite in the data dir)
 * @param opts.env more configuration, as environment variables (e.g. FAAS_WORKERS)
 * @throws Error when the platform cannot start (its resources are released)
 */
export async function startPlatform(opts: { redisUrl?: string; mysqlUrl?: string; env?: Record<string, string> } = {}): Promise<TestPlatform> {
  const dataDir = await mkdtemp(join(tmpdir(), 'faas-test-'));
  const config = configFromEnv({
    PORT: '0',
    HOST: '127.0.0.1',
    FAAS_DATA_DIR: dataDir,
    FAAS_WORKERS: '2',
    FAAS_LOG_LEVEL: 'warn',
    ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
    ...(opts.mysqlUrl ? { MYSQL_URL: opts.mysqlUrl } : {}),
    ...opts.env,
  });
  const platform = await start(config);
  const apiKey = (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim();
  let stopped: Promise<void> | null = null;
  return {
    url: platform.url,
    apiKey,
    dataDir,
    platform,
    stop: () => {
      stopped ??= platform.close().finally(() => rm(dataDir, { recursive: true, force: true }));
      return stopped;
    },
  };
}
