/**
 * Values crossing `ctx.sql`: parameters coming in from a function (checked here), and column values
 * going back out (converted here to plain JSON data, the same on both backends).
 *
 * This module has no dependency on the error catalog so the SQLite executor process can use it.
 */

/** A parameter as the backends bind it (booleans were turned into 1/0). */
export type SqlParam = string | number | null;

/** A column value as the function receives it. */
export type SqlValue = string | number | null;

/** One result row: column name → value; a column named `__proto__` is an ordinary own property. */
export type SqlRow = { [column: string]: SqlValue };

/** What `execute` returns. */
export interface SqlExecResult {
  /** Rows inserted, updated or deleted (matched rows for UPDATE on MySQL, as on SQLite). */
  affectedRows: number;
  /** The AUTO_INCREMENT id / rowid of the last row this INSERT or REPLACE added; null for other statements. Past 2^53 it is a decimal string. */
  insertId: number | string | null;
}

/** Why a parameter list was refused: a message naming the parameter. */
export type ParamProblem = { problem: string; index?: number };

/**
 * Check and convert the `params` of a call.
 * @param params what the function passed (undefined/null mean no parameters)
 * @param maxParams most parameters allowed
 * @param maxParamsBytes most UTF-8 bytes of string parameters together (numbers count 8)
 * @returns the converted list, or a problem describing the first bad parameter
 */
export function convertParams(params: unknown, maxParams: number, maxParamsBytes: number): SqlParam[] | ParamProblem {
  if (params === undefined || params === null) return [];
  if (!Array.isArray(params)) return { problem: `params must be an array of values for the ? placeholders, got ${describe(params)}` };
  if (params.length > maxParams) return { problem: `${params.length} params; at most ${maxParams} are allowed in one statement (split it, e.g. insert in batches)` };
  const out: SqlParam[] = new Array(params.length);
  let bytes = 0;
  for (let i = 0; i < params.length; i++) {
    const value: unknown = params[i];
    if (value === null) {
      out[i] = null;
    } else if (typeof value === 'boolean') {
      out[i] = value ? 1 : 0;
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return { problem: `params[${i}] is ${value}; only finite numbers can be stored (use null for "no value")`, index: i };
      out[i] = value;
      bytes += 8;
    } else if (typeof value === 'string') {
      if (!value.isWellFormed()) return { problem: `params[${i}] contains a lone UTF-16 surrogate, which UTF-8 cannot store`, index: i };
      bytes += Buffer.byteLength(value, 'utf8');
      out[i] = value;
    } else {
      const hint = value === undefined ? ' (use null for SQL NULL)' : typeof value === 'object' ? ' (pass objects as JSON.stringify(value))' : '';
      return { problem: `params[${i}] is ${describe(value)}; a parameter must be a string, number, boolean or null${hint}`, index: i };
    }
    if (bytes > maxParamsBytes) return { problem: `params exceed ${maxParamsBytes} bytes together (at params[${i}]); store large data elsewhere or split the statement`, index: i };
  }
  return out;
}

/** A short description of a value's type for messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'binary data';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value)}`;
  return `${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}`;
}

/**
 * One column value from a driver as plain JSON data: integers past 2^53 and DECIMALs as decimal
 * strings, binary values as base64 strings, ±Infinity as the strings "Infinity"/"-Infinity",
 * dates (never produced with the drivers' settings here) as ISO strings.
 */
export function toSqlValue(value: unknown): SqlValue {
  switch (typeof value) {
    case 'string': return value;
    case 'number': return Number.isFinite(value) ? value : String(value);
    case 'bigint': return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
    case 'boolean': return value ? 1 : 0;
    case 'undefined': return null;
    default:
      if (value === null) return null;
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      if (value instanceof Date) return value.toISOString();
      return JSON.stringify(value) ?? null;
  }
}

/** Why a result was cut: more rows than allowed, or more bytes. */
export type ResultOverflow = 'rows' | 'bytes';

/** Collects converted rows up to the caps; see `createRowCollector`. */
export interface RowCollector {
  /** Add a driver row; returns false once a cap is exceeded (then `overflow` says which). */
  push(row: Record<string, unknown>): boolean;
  readonly rows: SqlRow[];
  readonly overflow: ResultOverflow | null;
}

/**
 * Collect rows into plain objects while counting them and their approximate JSON size (string
 * lengths, 8 per number, plus the column names).
 * @param maxRows most rows; one more marks the overflow
 * @param maxResultBytes most approximate bytes of the whole result
 */
export function createRowCollector(maxRows: number, maxResultBytes: number): RowCollector {
  const rows: SqlRow[] = [];
  let bytes = 2;
  let overflow: ResultOverflow | null = null;
  return {
    rows,
    get overflow() { return overflow; },
    push(row: Record<string, unknown>): boolean {
      if (overflow !== null) return false;
      if (rows.length >= maxRows) {
        overflow = 'rows';
        return false;
      }
      const out: SqlRow = {};
      bytes += 2;
      for (const column of Object.keys(row)) {
        const value = toSqlValue(row[column]);
        Object.defineProperty(out, column, { value, enumerable: true, writable: true, configurable: true });
        bytes += column.length + 4 + (typeof value === 'string' ? value.length + 2 : value === null ? 4 : 8);
      }
      if (bytes > maxResultBytes) {
        overflow = 'bytes';
        return false;
      }
      rows.push(out);
      return true;
    },
  };
}
