/**
 * A real gRPC server on 127.0.0.1 for the builtin's tests and `bench/grpc-overhead.ts`: the
 * `game.Inventory` service of `INVENTORY_PROTO` on @grpc/grpc-js, with knobs to make a method fail
 * its next N calls, answer slowly, and counters of the calls it received. Not used in production.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials, status, type GrpcObject, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream, type ServiceDefinition, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';

/** The proto every test declares: nested messages, enums, 64-bit integers, maps, bytes, a oneof. */
export const INVENTORY_PROTO = `
syntax = "proto3";
package game;

enum Rarity {
  RARITY_UNSPECIFIED = 0;
  COMMON = 1;
  RARE = 2;
  LEGENDARY = 3;
}

message Stat {
  string name = 1;
  int32 value = 2;
}

message Item {
  int64 id = 1;
  string name = 2;
  Rarity rarity = 3;
  repeated Stat stats = 4;
  map<string, int64> prices = 5;
  bytes icon = 6;
  uint64 owner_id = 7;
  double weight = 8;
  bool tradable = 9;
  oneof source {
    string shop = 10;
    string quest = 11;
  }
  Item parent = 12;
  optional int32 level = 13;
}

message GetItemRequest {
  int64 id = 1;
}

message PutItemRequest {
  Item item = 1;
}

message PutItemReply {
  Item item = 1;
  int32 version = 2;
}

service Inventory {
  // Answers the item with the requested id; id 404 answers NOT_FOUND.
  rpc GetItem (GetItemRequest) returns (Item);
  // Echoes the item with version 1.
  rpc PutItem (PutItemRequest) returns (PutItemReply);
  rpc Watch (GetItemRequest) returns (stream Item);
}
`;

/** A started fixture server. */
export interface InventoryServer {
  readonly port: number;
  /** Calls received per method name (`GetItem`), including the ones made to fail. */
  readonly calls: Map<string, number>;
  /** Calls the client cancelled (or whose deadline passed) while the handler waited. */
  cancelled: number;
  /** Metadata of the last call received. */
  lastMetadata: Record<string, unknown>;
  /** `:authority` of the last call received. */
  lastAuthority: string;
  /** Make the next `count` calls of `method` fail with `code` and `details`. */
  failNext(method: string, count: number, code?: status, details?: string): void;
  /** Delay every answer of `method` by `ms` (0 to stop). */
  delay(method: string, ms: number): void;
  /** Sum of `calls`. */
  total(): number;
  /** Stop at once (connections are closed, calls in flight fail). */
  stop(): void;
}

let cached: PackageDefinition | null = null;

/** The service definition of `INVENTORY_PROTO`, loaded the ordinary way (a file and `loadSync`). */
export function inventoryDefinition(): PackageDefinition {
  if (cached !== null) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'faas-grpc-fixture-'));
  try {
    const file = join(dir, 'inventory.proto');
    writeFileSync(file, INVENTORY_PROTO);
    cached = loadSync(file, { keepCase: true, longs: String, enums: String, bytes: String, defaults: true, oneofs: false, json: true });
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The grpc-js generic client constructor of `game.Inventory` (for a raw client, e.g. in the bench). */
export function inventoryClientConstructor(): GrpcObject[string] {
  const pkg = loadPackageDefinition(inventoryDefinition());
  return (pkg.game as GrpcObject).Inventory;
}

type Unary = (call: ServerUnaryCall<Record<string, unknown>, unknown>, callback: sendUnaryData<unknown>) => void;

/**
 * Start the fixture on a loopback address.
 * @param port a port to bind (e.g. to restart on the same one); 0 picks a free one
 * @param host `127.0.0.1`, or `localhost` to listen on every address the name resolves to
 * @throws the bind error (e.g. the port is taken)
 */
export async function startInventoryServer(port = 0, host: '127.0.0.1' | 'localhost' = '127.0.0.1'): Promise<InventoryServer> {
  const definition = inventoryDefinition()['game.Inventory'] as ServiceDefinition;
  const server = new Server();
  const failures = new Map<string, { remaining: number; code: status; details: string }>();
  const delays = new Map<string, number>();
  const state: InventoryServer = {
    port: 0,
    calls: new Map(),
    cancelled: 0,
    lastMetadata: {},
    lastAuthority: '',
    failNext(method, count, code = status.UNAVAILABLE, details = 'fixture: failing on purpose') {
      failures.set(method, { remaining: count, code, details });
    },
    delay(method, ms) {
      delays.set(method, ms);
    },
    total() {
      let sum = 0;
      for (const n of state.calls.values()) sum += n;
      return sum;
    },
    stop() {
      server.forceShutdown();
    },
  };

  const wrap = (name: string, impl: Unary): Unary => (call, callback) => {
    state.calls.set(name, (state.calls.get(name) ?? 0) + 1);
    state.lastMetadata = call.metadata.getMap();
    state.lastAuthority = call.getHost();
    const failure = failures.get(name);
    if (failure !== undefined && failure.remaining > 0) {
      failure.remaining--;
      callback({ code: failure.code, details: failure.details });
      return;
    }
    const ms = delays.get(name) ?? 0;
    if (ms === 0) {
      impl(call, callback);
      return;
    }
    const timer = setTimeout(() => impl(call, callback), ms);
    call.on('cancelled', () => {
      state.cancelled++;
      clearTimeout(timer);
    });
  };

  server.addService(definition, {
    GetItem: wrap('GetItem', (call, callback) => {
      const id = String(call.request.id);
      if (id === '404') {
        callback({ code: status.NOT_FOUND, details: `item ${id} does not exist` });
        return;
      }
      callback(null, { id, name: `item ${id}`, rarity: 'RARE' });
    }),
    PutItem: wrap('PutItem', (call, callback) => {
      callback(null, { item: call.request.item, version: 1 });
    }),
    Watch: (call: ServerWritableStream<unknown, unknown>) => {
      state.calls.set('Watch', (state.calls.get('Watch') ?? 0) + 1);
      call.end();
    },
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, actual) => (err ? reject(err) : resolve(actual)));
  });
  return Object.assign(state, { port: bound });
}
