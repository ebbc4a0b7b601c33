/**
 * A throwaway MariaDB server for tests: a fresh data directory in a temporary folder, a free
 * loopback port, root without a password over TCP (grants kept), and `stop()` that kills the
 * server and removes the folder. Debian's `mariadb-server` package provides `mariadbd` and
 * `mariadb-install-db`; CI's `.ci/run` installs it.
 *
 * Share one server per test file (start in `before`, stop in `after`) and give each suite its own
 * database with `createTestDatabase()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort } from './free-port.ts';

/** A running throwaway MariaDB server. */
export interface TestMariaDb {
  /** `mysql://root@127.0.0.1:<port>/` (no database selected). */
  readonly url: string;
  /** The loopback TCP port. */
  readonly port: number;
  /** Kill the server (SIGTERM, then SIGKILL after 10 s) and remove its temporary folder. Idempotent. */
  stop(): Promise<void>;
}

/** How long `startMariaDb` waits for the server to accept a connection, in ms. */
const READY_TIMEOUT_MS = 30_000;

const CANDIDATE_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];

function findBinary(name: string): string | null {
  for (const dir of CANDIDATE_DIRS) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  const probe = spawnSync('which', [name], { encoding: 'utf8' });
  const found = probe.status === 0 ? probe.stdout.trim() : '';
  return found === '' ? null : found;
}


function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function tail(file: string, chars = 3000): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.slice(-chars).trim() || '(empty)';
  } catch {
    return '(no log)';
  }
}

async function canConnect(port: number): Promise<boolean> {
  try {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * Initialise a data directory with `mariadb-install-db --no-defaults
 * --auth-root-authentication-method=normal --skip-test-db`, start `mariadbd` on a free
 * 127.0.0.1 port and wait until root can connect over TCP.
 * @returns the server handle; call `stop()` in an `after` hook.
 * @throws Error "mariadb-server is not installed: …" when the binaries are missing;
 *   Error "mariadb-install-db failed: <output tail>" when initialisation fails;
 *   Error "mariadbd did not accept connections on port N within 30000 ms: <log tail>".
 */
export async function startMariaDb(): Promise<TestMariaDb> {
  const mariadbd = findBinary('mariadbd');
  const installDb = findBinary('mariadb-install-db');
  if (mariadbd === null || installDb === null) {
    throw new Error("mariadb-server is not installed: apt-get install mariadb-server (CI's .ci/run does this)");
  }
  const dir = await mkdtemp(join(tmpdir(), 'faas-mariadb-'));
  const dataDir = join(dir, 'data');
  const errorLog = join(dir, 'error.log');
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const userArgs = asRoot ? ['--user=root'] : [];

  const install = spawnSync(
    installDb,
    ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve', ...userArgs],
    { encoding: 'utf8', timeout: READY_TIMEOUT_MS },
  );
  if (install.error !== undefined || install.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    const output = `${install.stdout ?? ''}${install.stderr ?? ''}`.slice(-3000).trim();
    throw new Error(`mariadb-install-db failed (${install.error?.message ?? `exit ${install.status}`}): ${output || '(no output)'}`);
  }

  const port = await freePort();
  const child = spawn(
    mariadbd,
    [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--socket=${join(dir, 'mariadb.sock')}`,
      `--pid-file=${join(dir, 'mariadb.pid')}`,
      `--log-error=${errorLog}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--skip-name-resolve',
      '--skip-log-bin',
      '--innodb-buffer-pool-size=64M',
      // Throwaway data: trade durability for speed.
      '--innodb-flush-log-at-trx-commit=0',
      '--innodb-doublewrite=0',
      ...userArgs,
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        await exited(child);
      } finally {
        clearTimeout(killer);
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await canConnect(port)) {
      return { url: `mysql://root@127.0.0.1:${port}/`, port, stop };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const log = await tail(errorLog);
  const why = child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode})` : `did not accept connections on port ${port} within ${READY_TIMEOUT_MS} ms`;
  await stop();
  throw new Error(`mariadbd ${why}; log tail:\n${log}`);
}

/**
 * Create a fresh database `t_<random hex>` on the server and return its URL
 * (`mysql://root@127.0.0.1:<port>/t_…`), so each suite starts from an empty schema.
 * @throws the driver's error when the server refuses the statement.
 */
export async function createTestDatabase(server: Pick<TestMariaDb, 'port'>): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: server.port, user: 'root' });
  try {
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await conn.end();
  }
  return `mysql://root@127.0.0.1:${server.port}/${name}`;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Stop and start the throwaway MariaDB's process on the same data directory and port. */
export interface RestartableServer {
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP the server and wait until it is stopped. */
  freeze(): Promise<void>;
  thaw(): void;
  dispose(): Promise<void>;
}

/**
 * Control the server's process behind `server` for fault tests: stop (SIGTERM, waits until gone),
 * start again on the same data directory and port, freeze (SIGSTOP) and thaw.
 * @throws Error when the server does not go down/up within 30 s
 */
export async function restartable(server: TestMariaDb): Promise<RestartableServer> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: server.port, user: 'root' });
  const [rows] = await conn.query('SELECT @@datadir AS datadir, @@socket AS socket, @@pid_file AS pidFile, @@log_error AS logError');
  await conn.end();
  const vars = (rows as Array<{ datadir: string; socket: string; pidFile: string; logError: string }>)[0];
  let pid = Number(readFileSync(vars.pidFile, 'utf8').trim());
  let child: ChildProcess | null = null;
  const waitFor = async (up: boolean): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while ((await canConnect(server.port)) !== up) {
      if (Date.now() > deadline) throw new Error(`MariaDB did not go ${up ? 'up' : 'down'} within 30 s`);
      await delay(100);
    }
  };
  return {
    async stop() {
      process.kill(pid, 'SIGTERM');
      await waitFor(false);
      // Wait for the process itself, so the next start does not meet its lock on the data directory.
      while (existsSync(vars.pidFile)) await delay(50);
    },
    async start() {
      const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
      child = spawn(findBinary('mariadbd') ?? '/usr/sbin/mariadbd', [
        '--no-defaults', `--datadir=${vars.datadir}`, `--socket=${vars.socket}`, `--pid-file=${vars.pidFile}`, `--log-error=${vars.logError}`,
        `--port=${server.port}`, '--bind-address=127.0.0.1', '--skip-name-resolve', '--skip-log-bin', '--innodb-buffer-pool-size=64M',
        '--innodb-flush-log-at-trx-commit=0', '--innodb-doublewrite=0', ...(asRoot ? ['--user=root'] : []),
      ], { stdio: 'ignore' });
      pid = child.pid ?? 0;
      await waitFor(true);
    },
    async freeze() {
      process.kill(pid, 'SIGSTOP');
      // kill() returns before every thread has stopped: a running thread could still answer.
      while (!/^T/.test(spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim())) await delay(10);
      await delay(100);
    },
    thaw: () => process.kill(pid, 'SIGCONT'),
    async dispose() {
      const running = child;
      if (running !== null && running.exitCode === null) {
        running.kill('SIGKILL');
        await new Promise((resolve) => running.once('exit', resolve));
      }
    },
  };
}
