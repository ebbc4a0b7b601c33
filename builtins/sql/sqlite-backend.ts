/**
 * The embedded `ctx.sql` backend: one SQLite file per app (`<dir>/<app>.sqlite`, WAL mode), run in
 * one executor process per active app (`sqlite-executor.ts`), because a SQLite statement cannot be
 * interrupted from JavaScript: the only bound is to SIGKILL the process running it.
 *
 * Per executor, requests run one at a time in arrival order. Each request carries its deadline;
 * when one overruns it, the executor is killed (its statement fails with E_SQL_TIMEOUT; other
 * open transactions of the app are rolled back and report E_SQL_TX), and the next request starts
 * a fresh one (about 50 ms). Requests that waited past their deadline behind others fail with
 * E_SQL_TIMEOUT without running. `SQLITE_BUSY` (another transaction of the app holds the write
 * lock) is retried with backoff for up to the request's `timeoutMs` from the first busy answer
 * (never past its deadline), then fails with E_SQL_TIMEOUT; the executor's thread is free
 * meanwhile — including for the COMMIT that will release the lock.
 *
 * At most `maxExecutors` processes run (about 45 MB each); an idle one (no request, no open
 * transaction) closes after `idleCloseMs`, or sooner when its slot is needed for another app.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlatformError } from '../../runtime/errors.ts';
import { builtinError } from '../errors.ts';
import { lostTxError, overflowError, stepDeadline, timeoutError, unavailableError, type SqlBackend, type SqlBackendTx, type SqlRunRequest } from './backend.ts';
import { checkAppName } from './names.ts';
import type { ExecutorError, ExecutorEvent, ExecutorInit, ExecutorReply, ExecutorRequest } from './sqlite-executor.ts';
import type { SqlExecResult, SqlRow } from './values.ts';

/** Options of `createSqliteSqlBackend`. */
export interface SqliteSqlBackendOptions {
  /** Directory holding one `<app>.sqlite` file per app (created when missing). */
  dir: string;
  /** Most executor processes at once (one per active app). @default 8 */
  maxExecutors?: number;
  /** An executor with no request and no open transaction for this long closes, in ms. @default 30000 */
  idleCloseMs?: number;
  /** Largest database file per app, in bytes (`PRAGMA max_page_count`); past it writes fail with SQLITE_FULL. @default 1073741824 (1 GiB) */
  maxDatabaseBytes?: number;
  /** SQLite heap limit per executor, in bytes (`PRAGMA hard_heap_limit`); past it statements fail with SQLITE_NOMEM. @default 268435456 (256 MiB) */
  maxMemoryBytes?: number;
  /** Longest string or blob value, in bytes (SQLITE_LIMIT_LENGTH). @default 16777216 (16 MiB) */
  maxValueBytes?: number;
  /** Longest SQL text, in bytes (SQLITE_LIMIT_SQL_LENGTH); the host's own limit is lower. @default 1048576 */
  maxTextBytes?: number;
  /** Most `?` parameters (SQLITE_LIMIT_VARIABLE_NUMBER); the host's own limit is lower. @default 32766 */
  maxParams?: number;
  /** Called with executor faults (crash, stderr output, kill) for logging. */
  onError?: (err: Error) => void;
}

interface ResolvedOptions {
  readonly dir: string;
  readonly maxExecutors: number;
  readonly idleCloseMs: number;
  readonly maxDatabaseBytes: number;
  readonly maxMemoryBytes: number;
  readonly maxValueBytes: number;
  readonly maxTextBytes: number;
  readonly maxParams: number;
  readonly onError: (err: Error) => void;
}

const EXECUTOR_PATH = fileURLToPath(new URL('./sqlite-executor.ts', import.meta.url));
/** How long `close()` waits for an executor to exit before SIGKILL, in ms. */
const CLOSE_GRACE_MS = 2000;
/** How long a new executor may take to open its database, in ms. */
const STARTUP_TIMEOUT_MS = 10_000;
/** Backoff of SQLITE_BUSY retries: 2, 4, 8, … ms, at most this. */
const MAX_BUSY_BACKOFF_MS = 50;

type Value = SqlRow[] | SqlExecResult | null;

interface SqliteTx extends SqlBackendTx {
  readonly key: string;
  lost: string | null;
}

interface Job {
  readonly request: ExecutorRequest;
  /** The invocation's deadline (epoch ms): the job may wait until then before it starts. */
  readonly deadline: number;
  /** Longest the request may run once sent, in ms. */
  readonly timeoutMs: number;
  /** When a SQLITE_BUSY retry loop started (epoch ms); the lock wait is bounded by `timeoutMs` from then. */
  lockWaitStart: number | null;
  readonly tx: SqliteTx | undefined;
  /** What the request is, for messages: `the statement`, `BEGIN`, … */
  readonly what: string;
  attempts: number;
  resolve(value: Value): void;
  reject(err: PlatformError): void;
}

interface Executor {
  readonly app: string;
  child: ChildProcess | null;
  state: 'down' | 'starting' | 'ready';
  readonly queue: Job[];
  current: { job: Job; id: number; timer: NodeJS.Timeout; runMs: number } | null;
  /** Transactions open in the current child process. */
  readonly txs: Set<SqliteTx>;
  /** Jobs waiting out a SQLITE_BUSY backoff (they count as activity). */
  retrying: number;
  lastUsed: number;
  idleTimer: NodeJS.Timeout | null;
  stderr: string;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`createSqliteSqlBackend: ${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/**
 * Create the embedded SQLite backend.
 * @param opts `dir` is required; limits in bytes and ms (validated once, frozen)
 * @throws TypeError for a missing `dir` or an invalid option
 * @example
 *   const backend = createSqliteSqlBackend({ dir: './data/sql' });
 *   const host = createSqlHost(backend);
 */
export function createSqliteSqlBackend(opts: SqliteSqlBackendOptions): SqlBackend {
  if (typeof opts?.dir !== 'string' || opts.dir === '') throw new TypeError('createSqliteSqlBackend: dir must be a directory path');
  const options: ResolvedOptions = Object.freeze({
    dir: resolve(opts.dir),
    maxExecutors: positiveInt('maxExecutors', opts.maxExecutors, 8),
    idleCloseMs: positiveInt('idleCloseMs', opts.idleCloseMs, 30_000),
    maxDatabaseBytes: positiveInt('maxDatabaseBytes', opts.maxDatabaseBytes, 1024 ** 3),
    maxMemoryBytes: positiveInt('maxMemoryBytes', opts.maxMemoryBytes, 256 * 1024 ** 2),
    maxValueBytes: positiveInt('maxValueBytes', opts.maxValueBytes, 16 * 1024 ** 2),
    maxTextBytes: positiveInt('maxTextBytes', opts.maxTextBytes, 1024 ** 2),
    maxParams: positiveInt('maxParams', opts.maxParams, 32_766),
    onError: opts.onError ?? (() => {}),
  });
  const executors = new Map<string, Executor>();
  const slotWaiters = new Set<() => void>();
  let dirReady: Promise<void> | null = null;
  let closed = false;
  let nextId = 0;

  const ensureDir = (): Promise<void> => {
    dirReady ??= mkdir(options.dir, { recursive: true }).then(() => undefined, (err: unknown) => {
      dirReady = null;
      throw unavailableError(`the SQL data directory ${options.dir} cannot be created (${(err as Error).message})`);
    });
    return dirReady;
  };

  const isIdle = (ex: Executor): boolean => ex.current === null && ex.queue.length === 0 && ex.txs.size === 0 && ex.retrying === 0;

  const wakeSlotWaiters = (): void => {
    for (const wake of [...slotWaiters]) wake();
  };

  /** Stop the child now (SIGKILL), failing its open transactions with `reason`. */
  const killChild = (ex: Executor, reason: string): void => {
    const child = ex.child;
    ex.child = null;
    ex.state = 'down';
    if (child !== null) {
      child.removeAllListeners('message');
      child.removeAllListeners('exit');
      child.on('exit', () => {});
      child.kill('SIGKILL');
    }
    for (const tx of ex.txs) tx.lost ??= reason;
    ex.txs.clear();
  };

  /** Close an idle executor gracefully and free its slot. */
  const retire = (ex: Executor): void => {
    if (ex.idleTimer !== null) clearTimeout(ex.idleTimer);
    ex.idleTimer = null;
    executors.delete(ex.app);
    const child = ex.child;
    ex.child = null;
    ex.state = 'down';
    if (child !== null && child.connected) {
      child.removeAllListeners('message');
      child.send({ type: 'close' }, () => {});
      const killer = setTimeout(() => child.kill('SIGKILL'), CLOSE_GRACE_MS);
      killer.unref();
      child.once('exit', () => clearTimeout(killer));
    }
    wakeSlotWaiters();
  };

  const scheduleIdle = (ex: Executor): void => {
    if (ex.idleTimer !== null) clearTimeout(ex.idleTimer);
    ex.idleTimer = null;
    if (!isIdle(ex)) return;
    wakeSlotWaiters();
    ex.idleTimer = setTimeout(() => {
      ex.idleTimer = null;
      if (isIdle(ex) && executors.get(ex.app) === ex) retire(ex);
    }, options.idleCloseMs);
    ex.idleTimer.unref();
  };

  const failAll = (ex: Executor, err: PlatformError): void => {
    for (const job of ex.queue.splice(0)) job.reject(err);
  };

  const settle = (ex: Executor, job: Job, reply: ExecutorReply): void => {
    if (reply.ok) {
      job.resolve(reply.value);
      return;
    }
    const error: ExecutorError = reply.error;
    switch (error.kind) {
      case 'busy': {
        // Another transaction of the app holds the write lock: wait off-thread, then queue again.
        const delay = Math.min(2 ** job.attempts, MAX_BUSY_BACKOFF_MS);
        job.attempts++;
        job.lockWaitStart ??= Date.now();
        if (Date.now() + delay >= stepDeadline(job.deadline, job.timeoutMs, job.lockWaitStart)) {
          job.reject(builtinError('E_SQL_TIMEOUT', `${job.what} waited ${job.timeoutMs} ms for the write lock held by an open transaction of the app and did not run; SQLite has one writer at a time: inside ctx.sql.transaction write through tx, and keep transactions short`, { timeoutMs: job.timeoutMs }));
          return;
        }
        ex.retrying++;
        setTimeout(() => {
          ex.retrying--;
          ex.queue.push(job);
          pump(ex);
        }, delay);
        return;
      }
      case 'refused':
        job.reject(builtinError('E_SQL_REFUSED', error.message));
        return;
      case 'sql': {
        if (error.txLost && job.tx !== undefined) job.tx.lost ??= `the database rolled it back after an error (${error.message})`;
        const details: Record<string, unknown> = { dbCode: error.dbCode };
        if (error.constraint !== null) details.constraint = error.constraint;
        job.reject(builtinError('E_SQL_ERROR', error.message, details));
        return;
      }
      case 'overflow': {
        const request = job.request as Extract<ExecutorRequest, { type: 'run' }>;
        job.reject(overflowError(error.overflow, request.maxRows, request.maxResultBytes));
        return;
      }
      case 'tx_missing':
        job.reject(lostTxError(job.tx?.lost ?? 'its connection was closed'));
        return;
      case 'internal':
        options.onError(new Error(`SQLite executor for app ${ex.app}: ${error.message}`));
        job.reject(unavailableError(`the embedded SQL executor failed (${error.message})`));
    }
  };

  /**
   * A child process handle that never keeps the parent alive on its own: while a request is in
   * flight (or the child is starting) a timer does, so a script that forgets `close()` still exits.
   */
  const forkExecutor = (): ChildProcess => {
    const child = fork(EXECUTOR_PATH, [], {
      execArgv: ['--max-old-space-size=256'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    child.unref();
    child.channel?.unref();
    (child.stderr as (NodeJS.ReadableStream & { unref?: () => void }) | null)?.unref?.();
    child.on('error', (err: Error) => options.onError(err));
    return child;
  };

  /** One started, not yet assigned process, so a new app (or a restart after a kill) skips Node's start-up. */
  let spare: ChildProcess | null = null;
  let spareTimer: NodeJS.Timeout | null = null;
  const dropSpare = (): void => {
    if (spareTimer !== null) clearTimeout(spareTimer);
    spareTimer = null;
    spare?.kill('SIGKILL');
    spare = null;
  };
  const refillSpare = (): void => {
    if (closed || spare !== null) return;
    let child: ChildProcess;
    try {
      child = forkExecutor();
    } catch {
      return;
    }
    spare = child;
    child.once('exit', () => {
      if (spare === child) spare = null;
    });
    // An unused spare goes away after the idle time, like an idle executor.
    spareTimer = setTimeout(dropSpare, options.idleCloseMs);
    spareTimer.unref();
  };
  const takeProcess = (): ChildProcess => {
    let child = spare;
    if (spareTimer !== null) clearTimeout(spareTimer);
    spare = null;
    spareTimer = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null || !child.connected) child = forkExecutor();
    child.removeAllListeners('exit');
    setImmediate(refillSpare);
    return child;
  };

  const spawnChild = (ex: Executor): void => {
    ex.state = 'starting';
    ex.stderr = '';
    let child: ChildProcess;
    try {
      child = takeProcess();
    } catch (err) {
      ex.state = 'down';
      failAll(ex, unavailableError(`the embedded SQL executor could not start (${(err as Error).message})`));
      return;
    }
    ex.child = child;
    const startTimer = setTimeout(() => {
      if (ex.child !== child || ex.state !== 'starting') return;
      options.onError(new Error(`SQLite executor for app ${ex.app} did not start within ${STARTUP_TIMEOUT_MS} ms`));
      killChild(ex, 'the embedded SQL executor did not start');
      failAll(ex, unavailableError(`the embedded SQL executor did not start within ${STARTUP_TIMEOUT_MS} ms`));
    }, STARTUP_TIMEOUT_MS);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      ex.stderr = (ex.stderr + chunk).slice(-2000);
    });
    child.on('message', (raw: unknown) => {
      const message = raw as ExecutorReply | ExecutorEvent;
      if ('type' in message) {
        clearTimeout(startTimer);
        if (message.type === 'ready') {
          ex.state = 'ready';
          pump(ex);
        } else {
          options.onError(new Error(`SQLite executor for app ${ex.app} could not open its database: ${message.message}`));
          killChild(ex, 'the embedded SQL executor failed');
          failAll(ex, unavailableError(`the app's SQL database cannot be opened (${message.message})`));
        }
        return;
      }
      const current = ex.current;
      if (current === null || current.id !== message.id) return;
      clearTimeout(current.timer);
      ex.current = null;
      ex.lastUsed = Date.now();
      if (message.ok && current.job.request.type === 'begin' && current.job.tx !== undefined) ex.txs.add(current.job.tx);
      if (current.job.request.type === 'commit' || current.job.request.type === 'rollback') {
        if (current.job.tx !== undefined && (message.ok || !(message.error.kind === 'busy'))) ex.txs.delete(current.job.tx);
      }
      settle(ex, current.job, message);
      pump(ex);
      scheduleIdle(ex);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(startTimer);
      if (ex.child !== child) return;
      const wasStarting = ex.state === 'starting';
      const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
      const stderr = ex.stderr.trim();
      options.onError(new Error(`SQLite executor for app ${ex.app} exited (${how})${stderr === '' ? '' : `: ${stderr}`}`));
      killChild(ex, `the app's SQL executor exited (${how})`);
      const current = ex.current;
      ex.current = null;
      if (current !== null) {
        clearTimeout(current.timer);
        current.job.reject(unavailableError(`the embedded SQL executor exited (${how})`));
      }
      // Crashing on start would crash again: fail what waits instead of looping.
      if (wasStarting) failAll(ex, unavailableError(`the embedded SQL executor exited while starting (${how})${stderr === '' ? '' : `: ${stderr.slice(-300)}`}`));
      pump(ex);
      scheduleIdle(ex);
    });
    const init: ExecutorInit = {
      type: 'init',
      file: join(options.dir, `${ex.app}.sqlite`),
      maxMemoryBytes: options.maxMemoryBytes,
      limits: {
        maxValueBytes: options.maxValueBytes,
        maxTextBytes: options.maxTextBytes,
        maxParams: options.maxParams,
        maxDatabaseBytes: options.maxDatabaseBytes,
      },
    };
    child.send(init);
  };

  const onTimeout = (ex: Executor): void => {
    const current = ex.current;
    if (current === null) return;
    ex.current = null;
    const job = current.job;
    const runMs = current.runMs;
    if (job.tx !== undefined) job.tx.lost ??= `${job.what} in it ran longer than ${runMs} ms`;
    options.onError(new Error(`SQLite executor for app ${ex.app} killed: ${job.what} ran longer than ${runMs} ms`));
    killChild(ex, `the app's SQL executor was restarted after another statement of the app ran longer than ${runMs} ms`);
    job.reject(timeoutError(runMs, job.what, job.tx === undefined ? '' : '; the transaction was rolled back'));
    pump(ex);
    scheduleIdle(ex);
  };

  function pump(ex: Executor): void {
    while (ex.current === null && ex.queue.length > 0) {
      if (ex.state === 'down') {
        spawnChild(ex);
        if (ex.state === 'down') continue;
      }
      if (ex.state !== 'ready' || ex.child === null) return;
      const job = ex.queue.shift() as Job;
      if (job.tx !== undefined && job.tx.lost !== null && job.request.type !== 'rollback') {
        job.reject(lostTxError(job.tx.lost));
        continue;
      }
      const now = Date.now();
      const runMs = stepDeadline(job.deadline, job.timeoutMs, now) - now;
      if (runMs <= 0) {
        job.reject(builtinError('E_SQL_TIMEOUT', `the invocation's deadline passed before ${job.what} could start (it waited for earlier statements of the app, or for the app's SQL executor to start); it did not run`, { timeoutMs: 0 }));
        continue;
      }
      const id = ++nextId;
      ex.current = { job, id, runMs, timer: setTimeout(() => onTimeout(ex), runMs) };
      if (ex.idleTimer !== null) clearTimeout(ex.idleTimer);
      ex.idleTimer = null;
      const child = ex.child;
      child.send({ id, ...job.request }, (err: Error | null) => {
        if (err === null || ex.current?.id !== id || ex.child !== child) return;
        // The channel closed under us (the child is exiting): fail this request now rather than at its timeout.
        clearTimeout(ex.current.timer);
        ex.current = null;
        killChild(ex, 'the app\'s SQL executor stopped');
        job.reject(unavailableError(`the embedded SQL executor stopped (${err.message})`));
        pump(ex);
        scheduleIdle(ex);
      });
    }
  }

  /** The app's executor, taking a slot (evicting the least recently used idle one, or waiting until `deadline`). */
  const acquire = async (app: string, deadline: number): Promise<Executor> => {
    for (;;) {
      if (closed) throw unavailableError('the SQL backend is closed');
      const existing = executors.get(app);
      if (existing !== undefined) return existing;
      if (executors.size >= options.maxExecutors) {
        let victim: Executor | null = null;
        for (const ex of executors.values()) if (isIdle(ex) && (victim === null || ex.lastUsed < victim.lastUsed)) victim = ex;
        if (victim !== null) retire(victim);
      }
      if (executors.size < options.maxExecutors) {
        const ex: Executor = { app, child: null, state: 'down', queue: [], current: null, txs: new Set(), retrying: 0, lastUsed: Date.now(), idleTimer: null, stderr: '' };
        executors.set(app, ex);
        return ex;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw unavailableError(`all ${options.maxExecutors} embedded SQL executors are busy with other apps`, { limit: options.maxExecutors });
      await new Promise<void>((resolveWait) => {
        const wake = (): void => {
          clearTimeout(timer);
          slotWaiters.delete(wake);
          resolveWait();
        };
        const timer = setTimeout(wake, remaining);
        slotWaiters.add(wake);
      });
    }
  };

  const submit = async (app: string, request: ExecutorRequest, deadline: number, timeoutMs: number, what: string, tx?: SqliteTx): Promise<Value> => {
    checkAppName(app);
    if (closed) throw unavailableError('the SQL backend is closed');
    await ensureDir();
    const ex = await acquire(app, deadline);
    return new Promise<Value>((resolveJob, rejectJob) => {
      ex.queue.push({ request, deadline, timeoutMs, tx, what, attempts: 0, lockWaitStart: null, resolve: resolveJob, reject: rejectJob });
      pump(ex);
    });
  };

  const asTx = (tx: SqlBackendTx): SqliteTx => {
    const candidate = tx as Partial<SqliteTx>;
    if (typeof candidate.key !== 'string') throw builtinError('E_SQL_TX', 'not a transaction of the SQLite backend');
    return tx as SqliteTx;
  };

  return {
    kind: 'sqlite',
    dialect: 'sqlite',
    databaseName: (app: string) => {
      checkAppName(app);
      return 'main';
    },
    async provisionApp(app: string): Promise<void> {
      await submit(app, { type: 'ping' }, Date.now() + 10_000, 10_000, 'opening the database');
    },
    async run(app: string, request: SqlRunRequest, tx?: SqlBackendTx): Promise<SqlRow[] | SqlExecResult> {
      const sqliteTx = tx === undefined ? undefined : asTx(tx);
      if (sqliteTx !== undefined && sqliteTx.lost !== null) throw lostTxError(sqliteTx.lost);
      const value = await submit(app, {
        type: 'run',
        tx: sqliteTx?.key,
        text: request.statement.text,
        params: [...request.params],
        mode: request.mode,
        inserts: request.statement.inserts,
        writesRows: request.statement.writesRows,
        maxRows: request.maxRows,
        maxResultBytes: request.maxResultBytes,
      }, request.deadline, request.timeoutMs, 'the statement', sqliteTx);
      return value as SqlRow[] | SqlExecResult;
    },
    async begin(app: string, deadline: number, timeoutMs: number): Promise<SqlBackendTx> {
      const tx: SqliteTx = { app, key: randomUUID(), lost: null };
      await submit(app, { type: 'begin', tx: tx.key }, deadline, timeoutMs, 'BEGIN', tx);
      return tx;
    },
    async commit(tx: SqlBackendTx, deadline: number, timeoutMs: number): Promise<void> {
      const sqliteTx = asTx(tx);
      if (sqliteTx.lost !== null) throw lostTxError(sqliteTx.lost);
      await submit(tx.app, { type: 'commit', tx: sqliteTx.key }, deadline, timeoutMs, 'COMMIT', sqliteTx);
    },
    async rollback(tx: SqlBackendTx): Promise<void> {
      const sqliteTx = asTx(tx);
      sqliteTx.lost ??= 'it was rolled back';
      // Only a transaction the current child still holds needs a ROLLBACK (a killed child took its
      // transactions with it); one the database already rolled back still frees its connection.
      const ex = executors.get(tx.app);
      if (closed || ex === undefined || !ex.txs.has(sqliteTx)) return;
      try {
        await submit(tx.app, { type: 'rollback', tx: sqliteTx.key }, Date.now() + 10_000, 5000, 'ROLLBACK', sqliteTx);
      } catch (err) {
        options.onError(err as Error);
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      dropSpare();
      wakeSlotWaiters();
      const exits: Promise<void>[] = [];
      for (const ex of [...executors.values()]) {
        const err = unavailableError('the SQL backend is closed');
        failAll(ex, err);
        if (ex.current !== null) {
          clearTimeout(ex.current.timer);
          ex.current.job.reject(err);
          ex.current = null;
        }
        for (const tx of ex.txs) tx.lost ??= 'the SQL backend was closed';
        ex.txs.clear();
        const child = ex.child;
        if (child !== null && child.exitCode === null && child.signalCode === null) {
          exits.push(new Promise<void>((resolveExit) => {
            // A referenced timer keeps this process alive until the child is gone (its handles are unreferenced).
            const killer = setTimeout(() => child.kill('SIGKILL'), CLOSE_GRACE_MS);
            child.once('exit', () => {
              clearTimeout(killer);
              resolveExit();
            });
          }));
        }
        retire(ex);
      }
      await Promise.all(exits);
    },
  };
}
