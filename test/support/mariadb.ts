/**
 * A throwaway MariaDB server for tests: a fresh data directory in a temporary folder, a free
 * loopback port, root without a password over TCP (grants kept), and `stop()` that kills the
 * server and removes the folder. Debian's `mariadb-server` package provides `mariadbd` and
 * `mariadb-install-db`; CI's `.ci/run` installs it.
 *
 * Share one server per test file (start in `before`, stop in `after`) and give each suite its own
 * database with `createTestDatabase()`. Fault tests can `halt()` and `restart()` it on the same data
 * directory and port, or `freeze()` and `thaw()` it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
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
  /** Fault tests: stop the server process (SIGTERM, SIGKILL after 10 s) and wait until it has exited; the data stays. */
  halt(): Promise<void>;
  /**
   * Fault tests: start the server again on the same data directory and port after `halt()`.
   * @throws Error with the log tail when it does not accept connections within 30 s
   */
  restart(): Promise<void>;
  /** Fault tests: SIGSTOP the server and wait until every thread is stopped (it then answers nothing). */
  freeze(): Promise<void>;
  /** Fault tests: SIGCONT a frozen server. */
  thaw(): void;
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
  const args = [
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
  ];
  const launch = (): ChildProcess => spawn(mariadbd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
  let child = launch();

  /** SIGTERM the current process, SIGKILL after 10 s; resolves once it has exited. */
  const halt = async (): Promise<void> => {
    const current = child;
    if (current.exitCode !== null || current.signalCode !== null) return;
    current.kill('SIGTERM');
    const killer = setTimeout(() => current.kill('SIGKILL'), 10_000);
    try {
      await exited(current);
    } finally {
      clearTimeout(killer);
    }
  };
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGCONT'); // a frozen server would ignore SIGTERM
    await halt();
    await rm(dir, { recursive: true, force: true });
  };
  /** Wait until root can connect; throws with the log tail when the process exits or 30 s pass. */
  const ready = async (): Promise<void> => {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (await canConnect(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const why = child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode})` : `did not accept connections on port ${port} within ${READY_TIMEOUT_MS} ms`;
    throw new Error(`mariadbd ${why}; log tail:\n${await tail(errorLog)}`);
  };
  const restart = async (): Promise<void> => {
    if (stopped) throw new Error('restart() after stop(): the data directory is gone');
    await halt();
    child = launch();
    await ready();
  };
  const freeze = async (): Promise<void> => {
    const pid = child.pid;
    if (pid === undefined || child.exitCode !== null) throw new Error('freeze(): the server is not running');
    child.kill('SIGSTOP');
    // kill() returns before every thread has stopped: a running thread could still answer.
    while (!/^T/.test(spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim())) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
  };
  const thaw = (): void => { child.kill('SIGCONT'); };

  try {
    await ready();
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `mysql://root@127.0.0.1:${port}/`, port, stop, halt, restart, freeze, thaw };
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
