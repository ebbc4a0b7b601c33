/**
 * Starts the platform (`node --no-node-snapshot cli/main.ts all`) as its own process tree — gateway
 * plus isolate-host workers — on a temp data dir, and talks to it over HTTP: deploy through
 * `POST /api/apps/<app>/functions/<fn>/deploy`, other admin API calls through `api`, invoke through
 * `/fn/<app>/<fn>`, `/readyz`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startServer, waitHttp, type ServerProcess } from '../harness/proc.ts';

/** What `/readyz` reports about one worker process. */
export interface WorkerInfo { index: number; pid: number; ready: boolean; inFlight: number; restarts: number }

/** A running platform. */
export interface PlatformPeer {
  base: string;
  dataDir: string;
  server: ServerProcess;
  /**
   * Deploy `code` as `app/fn` (limits optional) and return the version id.
   * @throws Error with the API's answer when the deploy is refused.
   */
  deploy(app: string, fn: string, code: string, limits?: Record<string, number>): Promise<string>;
  /**
   * `fetch(base + path, init)` as the admin: adds `authorization: Bearer <FAAS_DATA_DIR/admin.key>`,
   * and `content-type: application/json` when `init.body` is set and no content type is given.
   * `path` starts with `/` (e.g. `/api/apps/bench/functions/cfg/config/REGION`). Resolves with
   * the response whatever its status (the caller checks it); rejects only as `fetch` does.
   */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** The `workers` list of GET /readyz. */
  workers(): Promise<WorkerInfo[]>;
  /** SIGTERM (the platform drains its workers), then remove the data dir. */
  stop(): Promise<void>;
}

/** Options of `startPlatform`. */
export interface PlatformStartOptions {
  redisUrl?: string;
  cpus?: string;
  /** Extra environment (FAAS_POOL_*, NODE_OPTIONS for profiling, …). */
  env?: Record<string, string | undefined>;
}

/**
 * Start `faas all` with PORT (free), FAAS_DATA_DIR (temp), FAAS_LOG_LEVEL=warn,
 * FAAS_DEPLOY_SAMPLES=0 and REDIS_URL when given; wait for /readyz.
 * @throws Error with the platform's output when it is not ready within 60 s.
 */
export async function startPlatform(options: PlatformStartOptions = {}): Promise<PlatformPeer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'faas-bench-data-'));
  const port = await freePort();
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const server = startServer({
    name: 'platform (faas all)',
    command: process.execPath,
    args: ['--no-node-snapshot', join(root, 'cli/main.ts'), 'all'],
    cwd: root,
    env: {
      PORT: String(port),
      FAAS_DATA_DIR: dataDir,
      FAAS_LOG_LEVEL: 'warn',
      FAAS_DEPLOY_SAMPLES: '0',
      REDIS_URL: options.redisUrl,
      NODE_OPTIONS: undefined,
      ...options.env,
    },
    cpus: options.cpus,
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitHttp(server, `${base}/readyz`, 60_000);
  } catch (err) {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const key = (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim();
  const api = (path: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${key}`);
    if (init.body !== undefined && init.body !== null && !headers.has('content-type')) headers.set('content-type', 'application/json');
    return fetch(`${base}${path}`, { ...init, headers });
  };
  return {
    base,
    dataDir,
    server,
    api,
    deploy: async (app, fn, code, limits) => {
      const r = await api(`/api/apps/${app}/functions/${fn}/deploy`, { method: 'POST', body: JSON.stringify({ code, limits }) });
      const text = await r.text();
      if (r.status >= 300) throw new Error(`deploy ${app}/${fn}: ${r.status} ${text}`);
      return (JSON.parse(text) as { version: { id: string } }).version.id;
    },
    workers: async () => {
      const r = await fetch(`${base}/readyz`);
      return ((await r.json()) as { workers: WorkerInfo[] }).workers;
    },
    stop: async () => {
      await server.stop(20_000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
