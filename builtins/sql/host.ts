/**
 * Host side of `ctx.sql`. The isolate turns `await ctx.sql.query(text, params)` into one host call
 * `execute(call, 'query', [text, params])`; this module checks the arguments and the statement,
 * computes the time budget (query timeout capped by the invocation deadline), keeps each
 * invocation's transactions, and runs the statement on a `SqlBackend`. Every operation and its
 * exact argument and result shapes are listed in `README.md`.
 *
 * Transactions belong to the invocation that began them (its `requestId` and app): a `txId` from
 * any other invocation is refused. A transaction is rolled back automatically when its invocation's
 * `signal` aborts or its `deadline` passes, and its statements run one at a time in call order.
 */
import { randomBytes } from 'node:crypto';
import type { BuiltinCall } from '../../runtime/sandbox/interface.ts';
import { builtinError } from '../errors.ts';
import { unavailableError, type SqlBackend, type SqlBackendTx, type SqlExecResult, type SqlRow } from './backend.ts';
import { checkAppName } from './names.ts';
import { checkStatement } from './statement.ts';
import { convertParams, describe } from './values.ts';

/** Limits of `createSqlHost`; every field has a default. */
export interface SqlHostOptions {
  /** Longest one statement (or BEGIN/COMMIT) may run, in ms; capped by the time left before the invocation deadline. @default 2000 */
  queryTimeoutMs?: number;
  /** Most rows one query may return; more fails with E_SQL_TOO_MANY_ROWS (never a silent cut). @default 10000 */
  maxRows?: number;
  /** Most approximate JSON bytes one query may return; more fails with E_SQL_RESULT_TOO_LARGE. @default 8388608 (8 MiB) */
  maxResultBytes?: number;
  /** Longest SQL text, in UTF-8 bytes. @default 65536 (64 KiB) */
  maxTextBytes?: number;
  /** Most `?` parameters in one statement. @default 4096 */
  maxParams?: number;
  /** Most bytes of parameters in one statement (strings in UTF-8, 8 per number). @default 4194304 (4 MiB) */
  maxParamsBytes?: number;
  /** Most open transactions per invocation (a second `begin` before commit/rollback is refused: nested transactions would deadlock on SQLite). @default 1 */
  maxTransactionsPerInvocation?: number;
}

/** `SqlHostOptions` after defaults; frozen. */
export type ResolvedSqlHostOptions = Readonly<Required<SqlHostOptions>>;

/** The SQL builtin as bound by the runtime; one per process (the app is per call). */
export interface SqlHost {
  /**
   * Run one `ctx.sql` operation for the calling invocation.
   * @param call who is calling (app, requestId, deadline, signal) — from the platform, never from function code
   * @param op `query`, `execute`, `begin`, `commit` or `rollback`
   * @param args the operation's arguments as plain JSON (see README.md for each shape)
   * @returns `query`: rows (`SqlRow[]`); `execute`: `{ affectedRows, insertId }`; `begin`: `{ txId }`;
   *   `commit`/`rollback`: `null`
   * @throws PlatformError E_SQL_BAD_ARGUMENTS, E_SQL_REFUSED, E_SQL_ERROR, E_SQL_TIMEOUT,
   *   E_SQL_TOO_MANY_ROWS, E_SQL_RESULT_TOO_LARGE, E_SQL_TX, E_SQL_UNAVAILABLE; E_INTERNAL for an
   *   invalid app name (a platform bug)
   */
  execute(call: BuiltinCall, op: string, args: unknown[]): Promise<unknown>;
  /** Roll back every open transaction, then close the backend. Idempotent; later calls fail with E_SQL_UNAVAILABLE. */
  close(): Promise<void>;
  /** The options in force. */
  readonly options: ResolvedSqlHostOptions;
}

const DEFAULTS: ResolvedSqlHostOptions = Object.freeze({
  queryTimeoutMs: 2000,
  maxRows: 10_000,
  maxResultBytes: 8 * 1024 * 1024,
  maxTextBytes: 64 * 1024,
  maxParams: 4096,
  maxParamsBytes: 4 * 1024 * 1024,
  maxTransactionsPerInvocation: 1,
});

function resolveOptions(opts: SqlHostOptions): ResolvedSqlHostOptions {
  const resolved = { ...DEFAULTS };
  for (const name of Object.keys(DEFAULTS) as (keyof SqlHostOptions)[]) {
    const value = opts[name];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`createSqlHost: ${name} must be a positive integer, got ${String(value)}`);
    resolved[name] = value;
  }
  return Object.freeze(resolved);
}

/** Keep a finished transaction's record this long at most when its invocation's signal never aborts, in ms. */
const TOMBSTONE_MS = 60_000;
const OPS = 'query, execute, begin, commit, rollback';

interface TxRecord {
  readonly id: string;
  readonly app: string;
  readonly requestId: string;
  readonly handle: SqlBackendTx;
  /** Null while open; else why it can no longer be used. */
  ended: string | null;
  /** Operations of this transaction run one after another. */
  chain: Promise<unknown>;
  deadlineTimer: NodeJS.Timeout | null;
  signal: AbortSignal;
  onAbort: () => void;
}

/**
 * Create the SQL builtin's host side.
 * @param backend where statements run (`createSqliteSqlBackend` or `createMysqlSqlBackend`); the host owns it and closes it in `close()`
 * @param opts limits (validated once, frozen; see `SqlHostOptions` for units and defaults)
 * @throws TypeError for an option that is not a positive integer
 * @example
 *   const host = createSqlHost(createSqliteSqlBackend({ dir: './data/sql' }));
 *   await host.execute(call, 'execute', ['CREATE TABLE IF NOT EXISTS scores (user TEXT PRIMARY KEY, points INTEGER)']);
 *   await host.execute(call, 'query', ['SELECT points FROM scores WHERE user = ?', ['alice']]); // [{ points: 12 }]
 */
export function createSqlHost(backend: SqlBackend, opts: SqlHostOptions = {}): SqlHost {
  const options = resolveOptions(opts);
  const txs = new Map<string, TxRecord>();
  /** Open (or opening) transactions per invocation, keyed by requestId. */
  const openCount = new Map<string, number>();
  let closed = false;

  const changeCount = (requestId: string, delta: number): void => {
    const next = (openCount.get(requestId) ?? 0) + delta;
    if (next <= 0) openCount.delete(requestId);
    else openCount.set(requestId, next);
  };

  /** The time budget of one operation: the query timeout capped by the time left, and the invocation deadline. */
  const budget = (call: BuiltinCall): { deadline: number; timeoutMs: number } => {
    if (call.signal.aborted) throw builtinError('E_SQL_TIMEOUT', 'the invocation has ended; the statement was not run', { timeoutMs: 0 });
    const timeoutMs = Math.min(options.queryTimeoutMs, Math.floor(call.deadline - Date.now()));
    if (!(timeoutMs > 0)) throw builtinError('E_SQL_TIMEOUT', "the invocation's deadline has passed; the statement was not run", { timeoutMs: 0 });
    return { deadline: call.deadline, timeoutMs };
  };

  const serialize = <T>(rec: TxRecord, fn: () => Promise<T>): Promise<T> => {
    const result = rec.chain.then(fn, fn);
    rec.chain = result.catch(() => {});
    return result;
  };

  /** Mark a record finished, stop its timers, free its invocation's slot. `rollback` queues a backend rollback. */
  const finish = (rec: TxRecord, reason: string, rollback: boolean): void => {
    if (rec.ended !== null) return;
    rec.ended = reason;
    if (rec.deadlineTimer !== null) clearTimeout(rec.deadlineTimer);
    rec.deadlineTimer = null;
    changeCount(rec.requestId, -1);
    if (rollback) void serialize(rec, () => backend.rollback(rec.handle));
    // Forget the record when the invocation ends, or after a while if its signal never aborts.
    setTimeout(() => txs.delete(rec.id), TOMBSTONE_MS).unref();
  };

  const lookup = (call: BuiltinCall, txId: unknown, op: string): TxRecord => {
    if (typeof txId !== 'string' || txId === '') throw builtinError('E_SQL_BAD_ARGUMENTS', `${op}: txId must be the string returned by begin, got ${describe(txId)}`);
    const rec = txs.get(txId);
    if (rec === undefined) throw builtinError('E_SQL_TX', `${op}: no transaction has txId ${JSON.stringify(txId.slice(0, 64))}; a txId is valid from begin until its invocation ends`);
    if (rec.app !== call.app || rec.requestId !== call.requestId) {
      throw builtinError('E_SQL_TX', `${op}: the transaction ${JSON.stringify(txId.slice(0, 64))} belongs to another invocation; a transaction can only be used by the invocation that began it`);
    }
    return rec;
  };

  const endedError = (rec: TxRecord, op: string) => builtinError('E_SQL_TX', `${op}: the transaction is no longer open: ${rec.ended}; start a new transaction`);

  const statementArgs = (call: BuiltinCall, op: 'query' | 'execute', args: unknown[]) => {
    if (args.length < 1 || args.length > 3) throw builtinError('E_SQL_BAD_ARGUMENTS', `${op} takes (text, params?, options?), got ${args.length} arguments`);
    const [text, rawParams, rawOptions] = args;
    if (typeof text !== 'string') throw builtinError('E_SQL_BAD_ARGUMENTS', `${op}: the SQL text must be a string, got ${describe(text)}`);
    if (!text.isWellFormed()) throw builtinError('E_SQL_BAD_ARGUMENTS', `${op}: the SQL text contains a lone UTF-16 surrogate`);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > options.maxTextBytes) throw builtinError('E_SQL_BAD_ARGUMENTS', `${op}: the SQL text is ${bytes} bytes; at most ${options.maxTextBytes} are allowed (pass data as ? parameters)`, { limit: options.maxTextBytes });
    let txId: string | undefined;
    if (rawOptions !== undefined && rawOptions !== null) {
      if (typeof rawOptions !== 'object' || Array.isArray(rawOptions)) throw builtinError('E_SQL_BAD_ARGUMENTS', `${op}: options must be an object like { txId }, got ${describe(rawOptions)}`);
      for (const key of Object.keys(rawOptions)) {
        if (key !== 'txId') throw builtinError('E_SQL_BAD_ARGUMENTS', `${op}: unknown option ${JSON.stringify(key)}; the only option is txId`);
      }
      const value = (rawOptions as { txId?: unknown }).txId;
      if (value !== undefined) {
        if (typeof value !== 'string' || value === '') throw builtinError('E_SQL_BAD_ARGUMENTS', `${op}: txId must be the string returned by begin, got ${describe(value)}`);
        txId = value;
      }
    }
    const params = convertParams(rawParams, options.maxParams, options.maxParamsBytes);
    if (!Array.isArray(params)) {
      throw builtinError('E_SQL_BAD_ARGUMENTS', `${op}: ${params.problem}`, params.index === undefined ? {} : { index: params.index });
    }
    const statement = checkStatement(text, backend.dialect, backend.databaseName(call.app));
    if (statement.placeholders !== params.length) {
      throw builtinError('E_SQL_BAD_ARGUMENTS', `${op}: the statement has ${statement.placeholders} ? placeholder${statement.placeholders === 1 ? '' : 's'} but ${params.length} param${params.length === 1 ? ' was' : 's were'} given; pass one value per ?, in order`, { placeholders: statement.placeholders, params: params.length });
    }
    return { statement, params, txId };
  };

  const runStatement = async (call: BuiltinCall, mode: 'query' | 'execute', args: unknown[]): Promise<SqlRow[] | SqlExecResult> => {
    const { statement, params, txId } = statementArgs(call, mode, args);
    const rec = txId === undefined ? undefined : lookup(call, txId, mode);
    if (rec !== undefined && rec.ended !== null) throw endedError(rec, mode);
    const { deadline, timeoutMs } = budget(call);
    const request = { statement, params, mode, maxRows: options.maxRows, maxResultBytes: options.maxResultBytes, deadline, timeoutMs };
    if (rec === undefined) return backend.run(call.app, request);
    return serialize(rec, async () => {
      if (rec.ended !== null) throw endedError(rec, mode);
      try {
        return await backend.run(call.app, request, rec.handle);
      } catch (err) {
        if (rec.handle.lost !== null) finish(rec, `it was rolled back because ${rec.handle.lost}`, true);
        throw err;
      }
    });
  };

  const begin = async (call: BuiltinCall, args: unknown[]): Promise<{ txId: string }> => {
    if (args.length !== 0) throw builtinError('E_SQL_BAD_ARGUMENTS', `begin takes no arguments, got ${args.length}`);
    if ((openCount.get(call.requestId) ?? 0) >= options.maxTransactionsPerInvocation) {
      throw builtinError('E_SQL_TX', `begin: this invocation already has ${options.maxTransactionsPerInvocation === 1 ? 'an open transaction' : `${options.maxTransactionsPerInvocation} open transactions`}; commit or roll it back first (transactions cannot be nested)`, { limit: options.maxTransactionsPerInvocation });
    }
    const { deadline, timeoutMs } = budget(call);
    changeCount(call.requestId, +1);
    let handle: SqlBackendTx;
    try {
      handle = await backend.begin(call.app, deadline, timeoutMs);
    } catch (err) {
      changeCount(call.requestId, -1);
      throw err;
    }
    if (call.signal.aborted || closed || Date.now() >= call.deadline) {
      changeCount(call.requestId, -1);
      await backend.rollback(handle);
      throw builtinError('E_SQL_TX', 'begin: the invocation ended while the transaction was starting; it was rolled back');
    }
    const id = `tx_${randomBytes(18).toString('base64url')}`;
    const rec: TxRecord = {
      id, app: call.app, requestId: call.requestId, handle, ended: null, chain: Promise.resolve(), deadlineTimer: null, signal: call.signal,
      onAbort: () => {
        finish(rec, 'it was rolled back automatically because the invocation ended', true);
        txs.delete(id);
      },
    };
    rec.deadlineTimer = setTimeout(() => finish(rec, 'it was rolled back automatically because the invocation deadline passed', true), Math.max(0, call.deadline - Date.now()));
    rec.deadlineTimer.unref();
    call.signal.addEventListener('abort', rec.onAbort, { once: true });
    txs.set(id, rec);
    return { txId: id };
  };

  const commit = async (call: BuiltinCall, args: unknown[]): Promise<null> => {
    if (args.length !== 1) throw builtinError('E_SQL_BAD_ARGUMENTS', `commit takes (txId), got ${args.length} arguments`);
    const rec = lookup(call, args[0], 'commit');
    if (rec.ended !== null) throw endedError(rec, 'commit');
    const { deadline, timeoutMs } = budget(call);
    return serialize(rec, async () => {
      if (rec.ended !== null) throw endedError(rec, 'commit');
      finish(rec, 'it was committed', false);
      try {
        await backend.commit(rec.handle, deadline, timeoutMs);
      } catch (err) {
        rec.ended = 'COMMIT failed';
        await backend.rollback(rec.handle);
        throw err;
      }
      return null;
    });
  };

  const rollback = async (call: BuiltinCall, args: unknown[]): Promise<null> => {
    if (args.length !== 1) throw builtinError('E_SQL_BAD_ARGUMENTS', `rollback takes (txId), got ${args.length} arguments`);
    const rec = lookup(call, args[0], 'rollback');
    // Rolling back a transaction that already ended (e.g. after a timeout) is a no-op, so a
    // `transaction()` helper can always roll back in its catch without masking the first error.
    if (rec.ended !== null) return null;
    finish(rec, 'it was rolled back', false);
    await serialize(rec, () => backend.rollback(rec.handle));
    return null;
  };

  return {
    options,
    async execute(call: BuiltinCall, op: string, args: unknown[]): Promise<unknown> {
      checkAppName(call.app);
      if (closed) throw unavailableError('the SQL builtin is shutting down');
      if (!Array.isArray(args)) throw builtinError('E_SQL_BAD_ARGUMENTS', `${String(op)}: arguments must be an array, got ${describe(args)}`);
      switch (op) {
        case 'query': return runStatement(call, 'query', args);
        case 'execute': return runStatement(call, 'execute', args);
        case 'begin': return begin(call, args);
        case 'commit': return commit(call, args);
        case 'rollback': return rollback(call, args);
        default: throw builtinError('E_SQL_BAD_ARGUMENTS', `unknown ctx.sql operation ${JSON.stringify(String(op).slice(0, 40))}; the operations are ${OPS}`);
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const chains: Promise<unknown>[] = [];
      for (const rec of txs.values()) {
        finish(rec, 'it was rolled back because the platform is shutting down', true);
        rec.signal.removeEventListener('abort', rec.onAbort);
        chains.push(rec.chain);
      }
      await Promise.all(chains);
      txs.clear();
      await backend.close();
    },
  };
}
