/**
 * Rules both store backends apply to captured `ctx.log` lines (table `log_lines`, migration
 * `003-log-lines`): what a line may hold (the column sizes), how many bytes it counts for, how a
 * batch is grouped, and the SQL of reads. Which old lines go when an app is over its byte budget
 * is in `log-budget.ts`. Kept here so SQLite and MySQL behave the same.
 */
import { cpError } from '../errors.ts';
import { isValidName, NAME_PATTERN } from '../core/names.ts';
import type { LogLine } from '../core/types.ts';
import type { LogBounds, LogReadQuery, StoredLogLine } from './store.ts';

/** The levels, lowest first; a `minLevel` filter keeps its own level and those after it. */
export const LOG_LEVELS: readonly LogLine['level'][] = Object.freeze(['debug', 'info', 'warn', 'error']);

/**
 * Size limits of one stored line, in characters (UTF-16 units). They follow the columns of
 * migration 003 and leave room above what the runtime produces: request ids are at most 128
 * characters plus `>function` per RPC hop (8 hops), messages at most 4 KiB (the sandbox's
 * `maxLogLineChars`), W3C trace ids 32 hex digits.
 */
export const LOG_LINE_LIMITS = Object.freeze({
  versionIdChars: 64,
  requestIdChars: 1024,
  traceIdChars: 64,
  messageChars: 65_536,
});

/** Most lines one `Store.appendLogs` call takes (a runtime sends at most 500 per gRPC call). */
export const MAX_LOG_LINES_PER_APPEND = 10_000;

/** Largest `ringSize` / `appMaxBytes` a store accepts. */
const MAX_RING_SIZE = 1_000_000;
const MAX_APP_BYTES = 2 ** 40;

/** The fixed part of `logLineBytes`. */
export const MIN_LINE_BYTES = 200;

/**
 * Bytes a line counts for in the per-app budget: its message (UTF-16 units × 2) plus a fixed
 * 200-byte overhead for the other fields and the row (the estimate runtime/remote/log-shipper.ts
 * also uses). Never below 200, so freeing `n` bytes never takes more than `ceil(n / 200)` lines.
 */
export function logLineBytes(line: Pick<LogLine, 'message'>): number {
  return line.message.length * 2 + MIN_LINE_BYTES;
}

/** The bytes of a batch of one app's lines (`logLineBytes` each): in total and per function. */
export function batchBytes(lines: readonly Pick<LogLine, 'function' | 'message'>[]): { total: number; byFunction: Map<string, number> } {
  let total = 0;
  const byFunction = new Map<string, number>();
  for (const line of lines) {
    const bytes = logLineBytes(line);
    total += bytes;
    byFunction.set(line.function, (byFunction.get(line.function) ?? 0) + bytes);
  }
  return { total, byFunction };
}

/** A short description of a refused value for an error message. */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number') return String(value);
  return `a value of type ${value === null ? 'null' : typeof value}`;
}

function invalid(index: number, field: string, rule: string, got: string): never {
  throw cpError('E_VALIDATION', `log line ${index}: ${field} ${rule}, got ${got}`, { field: `lines[${index}].${field}` });
}

function checkText(index: number, field: string, value: unknown, max: number, allowEmpty = false): void {
  if (typeof value !== 'string' || (!allowEmpty && value === '') || value.length > max) {
    invalid(index, field, `must be a ${allowEmpty ? '' : 'non-empty '}string of at most ${max} characters`, typeof value === 'string' ? `${value.length} characters` : shown(value));
  }
}

/**
 * Check a batch of log lines before anything is written.
 * @param lines what `appendLogs` was given
 * @throws PlatformError E_VALIDATION (400) naming the line and field (details `{ field: 'lines[3].level' }`)
 *   when `lines` is not an array of at most `MAX_LOG_LINES_PER_APPEND` lines, a name is not an
 *   app/function name, `level` is not one of `LOG_LEVELS`, `time` is not a non-negative integer of
 *   epoch milliseconds, or a text field is over `LOG_LINE_LIMITS`
 */
export function checkLogLines(lines: unknown): asserts lines is LogLine[] {
  if (!Array.isArray(lines)) throw cpError('E_VALIDATION', `log lines must be an array, got ${lines === null ? 'null' : typeof lines}`, { field: 'lines' });
  if (lines.length > MAX_LOG_LINES_PER_APPEND) throw cpError('E_VALIDATION', `at most ${MAX_LOG_LINES_PER_APPEND} log lines per append, got ${lines.length}; send smaller batches`, { field: 'lines' });
  for (let i = 0; i < lines.length; i++) {
    const line: unknown = lines[i];
    if (typeof line !== 'object' || line === null) invalid(i, 'line', 'must be an object', shown(line));
    const l = line as Record<string, unknown>;
    if (!isValidName(l.app)) invalid(i, 'app', `must be an app name (${NAME_PATTERN.source})`, shown(l.app));
    if (!isValidName(l.function)) invalid(i, 'function', `must be a function name (${NAME_PATTERN.source})`, shown(l.function));
    checkText(i, 'versionId', l.versionId, LOG_LINE_LIMITS.versionIdChars);
    checkText(i, 'requestId', l.requestId, LOG_LINE_LIMITS.requestIdChars);
    if (!LOG_LEVELS.includes(l.level as LogLine['level'])) invalid(i, 'level', `must be one of ${LOG_LEVELS.join(', ')}`, shown(l.level));
    checkText(i, 'message', l.message, LOG_LINE_LIMITS.messageChars, true);
    if (!Number.isSafeInteger(l.time) || (l.time as number) < 0) invalid(i, 'time', 'must be epoch milliseconds (a non-negative integer)', shown(l.time));
    if (l.traceId !== undefined) checkText(i, 'traceId', l.traceId, LOG_LINE_LIMITS.traceIdChars);
  }
}

/**
 * Check the bounds of `appendLogs`.
 * @throws TypeError (code ERR_INVALID_ARG_VALUE) when `ringSize` is not an integer in 1..1_000_000
 *   or `appMaxBytes` not an integer in 1..2^40
 */
export function checkLogBounds(bounds: LogBounds): void {
  const bad = (message: string) => Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
  if (typeof bounds !== 'object' || bounds === null) throw bad('appendLogs: bounds { ringSize, appMaxBytes } are required');
  if (!Number.isInteger(bounds.ringSize) || bounds.ringSize < 1 || bounds.ringSize > MAX_RING_SIZE) throw bad(`appendLogs: ringSize must be an integer from 1 to ${MAX_RING_SIZE}, got ${bounds.ringSize}`);
  if (!Number.isInteger(bounds.appMaxBytes) || bounds.appMaxBytes < 1 || bounds.appMaxBytes > MAX_APP_BYTES) throw bad(`appendLogs: appMaxBytes must be an integer from 1 to ${MAX_APP_BYTES}, got ${bounds.appMaxBytes}`);
}

/**
 * Check a `readLogs` query; field names are those of the REST API (`since`, `after`, `level`).
 * @throws PlatformError E_VALIDATION naming the field
 */
export function checkLogReadQuery(query: LogReadQuery): void {
  const bad = (field: string, message: string) => cpError('E_VALIDATION', message, { field });
  if (typeof query !== 'object' || query === null) throw bad('query', 'readLogs needs a query { limit, … }');
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_RING_SIZE) throw bad('limit', `limit must be an integer from 1 to ${MAX_RING_SIZE}, got ${query.limit}`);
  if (query.sinceMs !== undefined && (!Number.isFinite(query.sinceMs) || query.sinceMs < 0)) throw bad('since', `since must be epoch milliseconds (a number >= 0), got ${query.sinceMs}`);
  if (query.afterId !== undefined && (!Number.isSafeInteger(query.afterId) || query.afterId < 0)) throw bad('after', `after must be a log line id (an integer >= 0, the \`id\` of the last line seen), got ${query.afterId}`);
  if (query.requestId !== undefined && (typeof query.requestId !== 'string' || query.requestId.length > LOG_LINE_LIMITS.requestIdChars)) throw bad('requestId', `requestId must be a string of at most ${LOG_LINE_LIMITS.requestIdChars} characters`);
  if (query.minLevel !== undefined && !LOG_LEVELS.includes(query.minLevel)) throw bad('level', `level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(query.minLevel)}`);
}

/** The levels a `minLevel` filter keeps (all when undefined). */
export function levelsFrom(minLevel: LogLine['level'] | undefined): readonly LogLine['level'][] {
  return minLevel === undefined ? LOG_LEVELS : LOG_LEVELS.slice(LOG_LEVELS.indexOf(minLevel));
}

/** Columns `toStoredLogLine` reads, in the order of `SELECT`s. */
export const LOG_COLUMNS = 'id, app, function, version_id, request_id, trace_id, level, message, time_ms';

/**
 * The `SELECT` of a `readLogs` query, up to its `ORDER BY` (each backend appends `LIMIT`): every
 * shape filters on (app, function) first, so it is served by an index of migration 003.
 * @returns the SQL, its `?` parameters, and whether rows come newest first (to be reversed)
 */
export function logReadSql(app: string, fn: string, query: LogReadQuery): { sql: string; params: Array<string | number>; newestFirst: boolean } {
  const where = ['app = ?', 'function = ?'];
  const params: Array<string | number> = [app, fn];
  if (query.sinceMs !== undefined) {
    where.push('time_ms >= ?');
    params.push(query.sinceMs);
  }
  if (query.requestId !== undefined) {
    where.push('request_id = ?');
    params.push(query.requestId);
  }
  if (query.minLevel !== undefined) {
    const levels = levelsFrom(query.minLevel);
    where.push(`level IN (${levels.map(() => '?').join(', ')})`);
    params.push(...levels);
  }
  if (query.afterId !== undefined) {
    where.push('id > ?');
    params.push(query.afterId);
  }
  const newestFirst = query.afterId === undefined;
  const order = newestFirst ? 'time_ms DESC, id DESC' : 'id';
  return { sql: `SELECT ${LOG_COLUMNS} FROM log_lines WHERE ${where.join(' AND ')} ORDER BY ${order}`, params, newestFirst };
}

/** A `log_lines` row (either driver) as a `StoredLogLine`; `traceId` only when the line had one. */
export function toStoredLogLine(row: Record<string, unknown>): StoredLogLine {
  const line: StoredLogLine = {
    id: Number(row.id),
    app: String(row.app),
    function: String(row.function),
    versionId: String(row.version_id),
    requestId: String(row.request_id),
    level: String(row.level) as LogLine['level'],
    message: String(row.message),
    time: Number(row.time_ms),
  };
  if (row.trace_id !== null && row.trace_id !== undefined) line.traceId = String(row.trace_id);
  return line;
}

/** The lines of one app in a batch. */
export interface AppBatch {
  app: string;
  /** The lines to insert, in batch order: of each function only its newest `ringSize` lines of the batch. */
  lines: LogLine[];
  /** function → how many of `lines` are its. */
  counts: Map<string, number>;
}

/**
 * Group a batch by app, sorted by name (the order apps are locked in, so concurrent batches
 * cannot deadlock). Of a function's lines only the newest `ringSize` are kept: older ones of the
 * same batch would be trimmed at once.
 */
export function groupLogBatch(lines: readonly LogLine[], ringSize: number): AppBatch[] {
  const byApp = new Map<string, Map<string, number[]>>();
  lines.forEach((line, index) => {
    let fns = byApp.get(line.app);
    if (fns === undefined) byApp.set(line.app, (fns = new Map()));
    let list = fns.get(line.function);
    if (list === undefined) fns.set(line.function, (list = []));
    list.push(index);
  });
  const out: AppBatch[] = [];
  for (const app of [...byApp.keys()].sort()) {
    const kept: number[] = [];
    const counts = new Map<string, number>();
    for (const [fn, indexes] of byApp.get(app) as Map<string, number[]>) {
      const tail = indexes.slice(Math.max(0, indexes.length - ringSize));
      counts.set(fn, tail.length);
      kept.push(...tail);
    }
    out.push({ app, counts, lines: kept.sort((a, b) => a - b).map((i) => lines[i] as LogLine) });
  }
  return out;
}
