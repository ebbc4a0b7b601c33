/**
 * Reading a service's `.proto` text: parse it from the string (never from disk), resolve its types,
 * and build the gRPC method definitions with @grpc/proto-loader.
 *
 * protobufjs's `parse` reads the text and lists its imports without loading them; we allow only
 * the well-known `google/protobuf/*.proto` files that protobufjs and proto-loader bundle, and add
 * them from memory. No other import is ever resolved, so a proto cannot make the platform read a
 * file (`import "/etc/passwd"`, `import "/dev/zero"`). proto-loader's `fromJSON` then builds the
 * definitions (paths, serializers) from the parsed root, the same ones `loadSync` would build.
 */
import { createRequire } from 'node:module';
import { fromJSON, type MethodDefinition, type Options as LoaderOptions } from '@grpc/proto-loader';
import type * as Protobuf from 'protobufjs';

/**
 * protobufjs as proto-loader itself resolves it (proto-loader's dependency, not ours): the same
 * instance holds the well-known types proto-loader registers (api, descriptor, type, source_context).
 */
const requireHere = createRequire(import.meta.url);
export const protobuf = createRequire(requireHere.resolve('@grpc/proto-loader'))('protobufjs') as typeof Protobuf;

/**
 * How responses are turned into plain JSON (proto-loader / protobufjs `toObject` options):
 * 64-bit integers as decimal strings, enums as their names (unknown numbers stay numbers), bytes
 * as base64, every field present with its default (unset message fields are `null`, unset oneof
 * members and proto3 `optional` fields are absent), NaN/±Infinity as strings, `Any` decoded.
 */
export const RESPONSE_CONVERSION: Readonly<LoaderOptions> = Object.freeze({
  longs: String,
  enums: String,
  bytes: String,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: false,
  json: true,
});

/** Longest accepted `.proto` text, in UTF-8 bytes. */
export const MAX_PROTO_BYTES = 128 * 1024;

/** Imports a proto may use (the well-known types bundled in memory), and what each one needs. */
const WELL_KNOWN: ReadonlyMap<string, readonly string[]> = new Map([
  ['google/protobuf/any.proto', []],
  ['google/protobuf/duration.proto', []],
  ['google/protobuf/empty.proto', []],
  ['google/protobuf/field_mask.proto', []],
  ['google/protobuf/struct.proto', []],
  ['google/protobuf/timestamp.proto', []],
  ['google/protobuf/wrappers.proto', []],
  ['google/protobuf/source_context.proto', []],
  ['google/protobuf/descriptor.proto', []],
  ['google/protobuf/type.proto', ['google/protobuf/any.proto', 'google/protobuf/source_context.proto']],
  ['google/protobuf/api.proto', ['google/protobuf/type.proto', 'google/protobuf/source_context.proto']],
]);

/** One unary or streaming method of the loaded service. */
export interface MethodShape {
  /** As written in the proto, e.g. `GetItem`. */
  name: string;
  /** `/game.Inventory/GetItem`. */
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  /** Reflection of the request type (used to check and convert the function's message). */
  requestType: Protobuf.Type;
  /** Encode a message already checked by `toWireMessage` (proto-loader's serializer). */
  serialize: (message: object) => Buffer;
  /** Decode a response into plain JSON per `RESPONSE_CONVERSION` (proto-loader's deserializer). */
  deserialize: (bytes: Buffer) => unknown;
}

/** A service read from a proto text. */
export interface ServiceShape {
  /** Fully-qualified name, e.g. `game.Inventory`. */
  fullName: string;
  methods: ReadonlyMap<string, MethodShape>;
}

/** Why a proto text was refused; `message` says what and where (line numbers come from protobufjs). */
export class ProtoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtoError';
  }
}

/** Add a bundled well-known file (and what it needs) to `root`, skipping types already there. */
function addWellKnown(root: Protobuf.Root, file: string, added: Set<string>): void {
  if (added.has(file)) return;
  added.add(file);
  for (const dep of WELL_KNOWN.get(file) ?? []) addWellKnown(root, dep, added);
  type Json = { nested?: Record<string, Json> } & Protobuf.AnyNestedObject;
  const json = (protobuf.common as unknown as Record<string, Json | undefined>)[file];
  const nested = json?.nested?.google?.nested?.protobuf?.nested;
  if (nested === undefined) throw new ProtoError(`import "${file}" is not bundled with this platform`);
  const ns = root.define('google.protobuf');
  ns.addJSON(Object.fromEntries(Object.entries(nested).filter(([name]) => ns.get(name) === null)));
}

/** Fully-qualified names of every service in `ns` (for "did you mean" messages). */
export function listServices(ns: Protobuf.NamespaceBase): string[] {
  const names: string[] = [];
  for (const child of ns.nestedArray) {
    if (child instanceof protobuf.Service) names.push(child.fullName.slice(1));
    if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) names.push(...listServices(child));
  }
  return names;
}

/**
 * Parse a proto text and resolve all its types.
 * @param text the `.proto` source (at most `MAX_PROTO_BYTES`)
 * @returns the resolved protobufjs root (field names kept as written: `keepCase`)
 * @throws ProtoError for a syntax error (with its line), an import other than the bundled
 *   `google/protobuf/*.proto` files, or a type that does not resolve
 */
export function parseProto(text: string): Protobuf.Root {
  if (Buffer.byteLength(text, 'utf8') > MAX_PROTO_BYTES) throw new ProtoError(`is larger than ${MAX_PROTO_BYTES} bytes`);
  const root = new protobuf.Root();
  let parsed: Protobuf.IParserResult;
  try {
    // protobufjs names this global in its messages ("(file, line 3)"); there is no file.
    (protobuf.parse as unknown as { filename: string | null }).filename = null;
    parsed = protobuf.parse(text, root, { keepCase: true });
  } catch (err) {
    throw new ProtoError(`does not parse: ${(err as Error).message}`);
  }
  const added = new Set<string>();
  for (const file of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) {
    if (!WELL_KNOWN.has(file)) {
      throw new ProtoError(`imports "${file}"; a service proto must be self-contained: only the well-known ${[...WELL_KNOWN.keys()].map((f) => `"${f}"`).join(', ')} may be imported (paste the imported definitions into the proto instead)`);
    }
    addWellKnown(root, file, added);
  }
  try {
    root.resolveAll();
  } catch (err) {
    throw new ProtoError(`does not resolve: ${(err as Error).message}`);
  }
  return root;
}

/**
 * Read one service from a proto text: its methods with their paths, streaming flags, request
 * types and proto-loader serializers.
 * @param text the `.proto` source
 * @param serviceName fully-qualified service name, e.g. `game.Inventory`
 * @throws ProtoError as `parseProto`, or when `serviceName` is not a service of the proto (the
 *   message lists the services it has)
 */
export function loadService(text: string, serviceName: string): ServiceShape {
  const root = parseProto(text);
  const found = root.lookup(serviceName);
  if (!(found instanceof protobuf.Service) || found.fullName !== `.${serviceName}`) {
    const services = listServices(root);
    throw new ProtoError(`declares no service "${serviceName}" (services it declares: ${services.length === 0 ? 'none' : services.join(', ')}; use the fully-qualified name, package included)`);
  }
  let definition: ReturnType<typeof fromJSON>;
  try {
    definition = fromJSON(root.toJSON(), RESPONSE_CONVERSION);
  } catch (err) {
    throw new ProtoError(`cannot be loaded by @grpc/proto-loader: ${(err as Error).message}`);
  }
  const serviceDef = definition[serviceName] as Record<string, MethodDefinition<object, unknown>> | undefined;
  const methods = new Map<string, MethodShape>();
  for (const method of found.methodsArray) {
    const def = serviceDef?.[method.name];
    if (def === undefined || method.resolvedRequestType === null) throw new ProtoError(`method ${method.name} could not be loaded`);
    methods.set(method.name, {
      name: method.name,
      path: def.path,
      requestStream: def.requestStream,
      responseStream: def.responseStream,
      requestType: method.resolvedRequestType,
      serialize: def.requestSerialize,
      deserialize: def.responseDeserialize,
    });
  }
  return Object.freeze({ fullName: serviceName, methods });
}
