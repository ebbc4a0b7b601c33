/**
 * Checking and converting the message a function passes to `ctx.rpc.grpc` against the request
 * type of the method, before anything is sent.
 *
 * protobufjs's `fromObject` (what proto-loader's serializer calls) is lenient: it drops unknown
 * fields, turns `"abc"` into 0 for an int, `"false"` into true for a bool map key. A function
 * author would then see a wrong request reach the server and no error. So every field is checked
 * here and a fresh object is built that `fromObject` converts exactly; anything else is an
 * `E_GRPC_BAD_ARGUMENTS` naming the field path (`message.items[2].rarity`).
 *
 * JSON input forms (the proto3 JSON mapping, with field names as written in the proto):
 * - int32/uint32/sint32/fixed32/sfixed32: an integer number, or a decimal string, in range;
 * - int64/uint64/sint64/fixed64/sfixed64: a decimal string (any 64-bit value) or a safe integer number;
 * - float/double: a finite number, or `"NaN"`, `"Infinity"`, `"-Infinity"`;
 * - bool: `true`/`false`; string: a string; bytes: a base64 string (standard or URL-safe alphabet);
 * - enum: the value's name (`"RARE"`) or its number; it must be a declared value;
 * - message: an object; repeated: an array; map: an object (keys as strings);
 * - `null` for a field means "not set".
 */
import type * as Protobuf from 'protobufjs';
import { builtinError } from '../errors.ts';
import { protobuf } from './proto.ts';

/** Deepest message nesting accepted in a request (protobufjs decodes at most 100 levels). */
export const MAX_MESSAGE_DEPTH = 64;

const INT32: Readonly<Record<string, readonly [number, number]>> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  sint32: [-(2 ** 31), 2 ** 31 - 1],
  sfixed32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  fixed32: [0, 2 ** 32 - 1],
};

const INT64: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

const DECIMAL = /^-?\d{1,20}$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** A short description of a value for messages: `"abc"`, `12`, `an array`, `an object`, `null`. */
function shown(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function bad(path: string, message: string): never {
  throw builtinError('E_GRPC_BAD_ARGUMENTS', `${path}: ${message}`, { field: path });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An object whose keys are data, never prototype setters (`__proto__` is an own property). */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Check and convert one scalar or enum value of protobuf type `type`. */
function convertScalar(type: string, resolved: Protobuf.ReflectionObject | null, value: unknown, path: string): unknown {
  if (resolved instanceof protobuf.Enum) {
    const name = resolved.fullName.slice(1);
    if (typeof value === 'string') {
      if (Object.hasOwn(resolved.values, value)) return resolved.values[value];
    } else if (typeof value === 'number' && Number.isInteger(value)) {
      if (Object.hasOwn(resolved.valuesById, value)) return value;
    }
    return bad(path, `${shown(value)} is not a value of enum ${name}; use one of ${Object.keys(resolved.values).map((v) => JSON.stringify(v)).join(', ')} (or its number)`);
  }
  const int32 = INT32[type];
  if (int32 !== undefined) {
    const n = typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value;
    if (typeof n === 'number' && Number.isInteger(n) && n >= int32[0] && n <= int32[1]) return n;
    return bad(path, `expected ${type} (an integer from ${int32[0]} to ${int32[1]}), got ${shown(value)}`);
  }
  const int64 = INT64[type];
  if (int64 !== undefined) {
    let n: bigint | null = null;
    if (typeof value === 'string' && DECIMAL.test(value)) n = BigInt(value);
    else if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value);
    if (n !== null && n >= int64[0] && n <= int64[1]) return n.toString();
    const hint = typeof value === 'number' && Number.isInteger(value) ? ' (integers past 2^53 lose precision as JS numbers: pass a decimal string)' : '';
    return bad(path, `expected ${type} (a decimal string or a safe integer from ${int64[0]} to ${int64[1]}), got ${shown(value)}${hint}`);
  }
  switch (type) {
    case 'double':
    case 'float':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      if (value === 'NaN') return Number.NaN;
      if (value === 'Infinity') return Number.POSITIVE_INFINITY;
      if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
      return bad(path, `expected ${type} (a number, or "NaN", "Infinity", "-Infinity"), got ${shown(value)}`);
    case 'bool':
      if (typeof value === 'boolean') return value;
      return bad(path, `expected bool (true or false), got ${shown(value)}`);
    case 'string':
      if (typeof value === 'string') return value;
      return bad(path, `expected string, got ${shown(value)}`);
    case 'bytes': {
      if (typeof value === 'string' && BASE64.test(value) && value.replace(/=+$/, '').length % 4 !== 1) return Buffer.from(value, 'base64');
      return bad(path, `expected bytes as a base64 string, got ${shown(value)}`);
    }
    default:
      return bad(path, `has type ${type}, which this builtin cannot send`);
  }
}

/** Check and convert a value of a field's element type (a message, an enum or a scalar). */
function convertElement(field: Protobuf.FieldBase, value: unknown, path: string, depth: number): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    if (!isPlainObject(value)) return bad(path, `expected a ${resolved.fullName.slice(1)} message (an object), got ${shown(value)}`);
    return convertMessage(resolved, value, path, depth + 1);
  }
  return convertScalar(field.type, resolved, value, path);
}

/** A map key, given as an object key (always a string), checked against the key type. */
function checkMapKey(keyType: string, key: string, path: string): void {
  if (key === '__proto__') bad(path, 'a map key cannot be "__proto__" (protobufjs cannot carry it)');
  if (keyType === 'string') return;
  if (keyType === 'bool') {
    if (key === 'true') return;
    if (key === 'false') bad(path, 'map<bool, …> key "false" cannot be sent (protobufjs encodes every bool map key as true); use another key type');
    bad(path, `a map<bool, …> key must be "true", got ${shown(key)}`);
  }
  convertScalar(keyType, null, key, path);
}

/** Edit distance with transpositions (optimal string alignment), for "did you mean" hints. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** A field name close to `key`: the same ignoring case and `_` (itemId → item_id), or one or two typos away. */
function suggestion(type: Protobuf.Type, key: string): string {
  const squash = (s: string): string => s.replaceAll('_', '').toLowerCase();
  const match = type.fieldsArray.find((f) => squash(f.name) === squash(key))
    ?? (key.length <= 64 ? type.fieldsArray.find((f) => distance(squash(f.name), squash(key)) <= (key.length > 4 ? 2 : 1)) : undefined);
  return match === undefined ? '' : ` (did you mean "${match.name}"? field names are written as in the proto)`;
}

/**
 * Check `value` against message type `type` and build the object proto-loader's serializer
 * encodes exactly (64-bit integers as decimal strings, enums as numbers, bytes as Buffers).
 * @param type the request type (resolved protobufjs reflection)
 * @param value the function's message (JSON data)
 * @param path where `value` is, for messages (`message`, `message.items[2]`)
 * @param depth nesting level of `value` (0 for the request itself)
 * @returns a fresh object with only known fields, null-prototype, safe to encode
 * @throws PlatformError E_GRPC_BAD_ARGUMENTS (details `field`): unknown field, wrong type,
 *   out-of-range number, undeclared enum value, bad base64, two members of one oneof, nesting
 *   deeper than `MAX_MESSAGE_DEPTH`
 */
export function convertMessage(type: Protobuf.Type, value: Record<string, unknown>, path = 'message', depth = 0): Record<string, unknown> {
  if (depth > MAX_MESSAGE_DEPTH) bad(path, `messages nest deeper than ${MAX_MESSAGE_DEPTH} levels`);
  const out: Record<string, unknown> = Object.create(null);
  const oneofSeen = new Map<string, string>();
  for (const key of Object.keys(value)) {
    const at = `${path}.${key}`;
    if (!Object.hasOwn(type.fields, key)) {
      const names = type.fieldsArray.map((f) => f.name);
      bad(at, `unknown field of ${type.fullName.slice(1)}${suggestion(type, key)}; its fields are ${names.length === 0 ? '(none)' : names.join(', ')}`);
    }
    const field = type.fields[key];
    const raw = value[key];
    if (raw === null || raw === undefined) continue;
    const oneof = field.partOf;
    if (oneof !== null && oneof.fieldsArray.length > 1) {
      const other = oneofSeen.get(oneof.name);
      if (other !== undefined) bad(at, `set only one field of oneof "${oneof.name}" (${oneof.oneof.join(', ')}); got "${other}" and "${key}"`);
      oneofSeen.set(oneof.name, key);
    }
    if (field instanceof protobuf.MapField) {
      if (!isPlainObject(raw)) bad(at, `expected map<${field.keyType}, ${field.type}> (an object), got ${shown(raw)}`);
      const map: Record<string, unknown> = Object.create(null);
      for (const k of Object.keys(raw)) {
        const entryPath = `${at}[${JSON.stringify(k)}]`;
        checkMapKey(field.keyType, k, entryPath);
        const entry = raw[k];
        if (entry === null || entry === undefined) bad(entryPath, 'a map value cannot be null');
        define(map, k, convertElement(field, entry, entryPath, depth));
      }
      define(out, key, map);
    } else if (field.repeated) {
      if (!Array.isArray(raw)) bad(at, `expected an array (repeated ${field.type}), got ${shown(raw)}`);
      define(out, key, raw.map((item, i) => {
        if (item === null || item === undefined) bad(`${at}[${i}]`, 'an element of a repeated field cannot be null');
        return convertElement(field, item, `${at}[${i}]`, depth);
      }));
    } else {
      define(out, key, convertElement(field, raw, at, depth));
    }
  }
  return out;
}
