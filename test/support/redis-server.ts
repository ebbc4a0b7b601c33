/**
 * A throwaway `redis-server` for tests: a free loopback port, no persistence, a temporary
 * working directory, and helpers to stop, SIGKILL, freeze and restart it on the same port (for
 * fault tests). Debian's `redis-server` package provides the binary; CI's `.ci/run` installs it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

/** A running throwaway Redis server. */
export interface TestRedis {
  /** `redis://127.0.0.1:<port>`, ready for `createIoredisBackend`. */
  readonly url: string;
  /** The loopback TCP port; the same across `restart()`. */
  readonly port: number;
  /** Stop the server gracefully (SIGTERM) and remove its temporary directory. Idempotent. */
  stop(): Promise<void>;
  /** Kill the server with SIGKILL (simulates a crash) and wait until the process is gone. */
  kill(): Promise<void>;
  /** Start a new (empty) server on the same port after `kill()` or `stop()`; waits for PING. */
  restart(): Promise<void>;
  /** Freeze the server with SIGSTOP: connections stay open but nothing is answered (a hung server). */
  pause(): void;
  /** Let a paused server run again (SIGCONT). */
  resume(): void;
}

/** How long `startRedis`/`restart` wait for the server to answer PING. */
const READY_TIMEOUT_MS = 10_000;

const REDIS_SERVER = '/usr/bin/redis-server';

function findRedisServer(): string {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error === undefined && probe.status === 0) return 'redis-server';
  const direct = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  if (direct.error === undefined && direct.status === 0) return REDIS_SERVER;
  throw new Error("redis-server is not installed: apt-get install redis-server (CI's .ci/run does this)");
}


/** Send a raw RESP PING; resolves true on `+PONG`, false on any error. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
    socket.once('connect', () => socket.write('PING\r\n'));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Start `redis-server --port <free> --bind 127.0.0.1 --save '' --appendonly no --dir <tmp>` and
 * wait until it answers PING.
 * @returns the server handle; call `stop()` in an `after` hook.
 * @throws Error "redis-server is not installed: …" when the binary is missing;
 *   Error "redis-server did not answer PING on port N within 10000 ms: <stderr/stdout tail>"
 *   when it fails to start.
 */
export async function startRedis(): Promise<TestRedis> {
  const binary = findRedisServer();
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'faas-redis-'));
  let child: ChildProcess | null = null;
  let stopped = false;

  const launch = async (): Promise<void> => {
    let output = '';
    const proc = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-2000);
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) break;
      if (await ping(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    proc.kill('SIGKILL');
    await exited(proc);
    throw new Error(`redis-server did not answer PING on port ${port} within ${READY_TIMEOUT_MS} ms: ${output.trim() || '(no output)'}`);
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc: ChildProcess | null = child;
    child = null;
    if (proc === null) return;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGCONT');
      proc.kill(signal);
    }
    await exited(proc);
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
    async kill() {
      await terminate('SIGKILL');
    },
    pause() {
      (child as ChildProcess | null)?.kill('SIGSTOP');
    },
    resume() {
      (child as ChildProcess | null)?.kill('SIGCONT');
    },
    async restart() {
      if (stopped) throw new Error('redis-server was stopped for good; start a new one with startRedis()');
      await terminate('SIGTERM');
      await launch();
    },
  };
}
