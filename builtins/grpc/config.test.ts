/**
 * What the control plane's `validateGrpcServices` accepts and refuses, reading protos from text
 * only; and the JSON forms the request converter accepts (no server needed: the converter's output
 * is encoded and decoded with the service's own proto-loader serializers).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { GrpcServiceConfig } from '../../control-plane/core/types.ts';
import { GrpcConfigError, MAX_SERVICES, parseTarget, resolveService, validateGrpcServices } from './config.ts';
import { convertMessage } from './message.ts';
import { loadService, RESPONSE_CONVERSION } from './proto.ts';
import { INVENTORY_PROTO } from './test-server.ts';

const valid = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'inventory', target: 'inventory.example.com:443', proto: INVENTORY_PROTO, service: 'game.Inventory', idempotentMethods: ['GetItem'], ...extra,
});

/** The GrpcConfigError `validateGrpcServices(value)` throws. */
function refusal(value: unknown): GrpcConfigError {
  try {
    validateGrpcServices(value);
  } catch (err) {
    assert.ok(err instanceof GrpcConfigError, `expected a GrpcConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(value).slice(0, 200)} to be refused`);
}

describe('validateGrpcServices', () => {
  test('a valid list comes back as a clean copy: known fields only, optional fields only when given', () => {
    const out = validateGrpcServices([valid({ idempotentMethods: ['GetItem', 'PutItem'], deadlineMs: 500, maxRetries: 0, tls: true }), valid({ name: 'shop', target: '[2001:db8::1]:50051' })]);
    assert.deepEqual(out, [
      { name: 'inventory', target: 'inventory.example.com:443', proto: INVENTORY_PROTO, service: 'game.Inventory', idempotentMethods: ['GetItem', 'PutItem'], deadlineMs: 500, maxRetries: 0, tls: true },
      { name: 'shop', target: '[2001:db8::1]:50051', proto: INVENTORY_PROTO, service: 'game.Inventory', idempotentMethods: ['GetItem'] },
    ]);
    assert.deepEqual(validateGrpcServices([]), []);
  });

  test('a proto may import the bundled well-known types', () => {
    const proto = `syntax = "proto3"; package t;
      import "google/protobuf/timestamp.proto"; import "google/protobuf/empty.proto"; import "google/protobuf/api.proto";
      message Ping { google.protobuf.Timestamp at = 1; google.protobuf.Api api = 2; }
      service Clock { rpc Now (google.protobuf.Empty) returns (Ping); }`;
    assert.equal(validateGrpcServices([valid({ proto, service: 't.Clock', idempotentMethods: ['Now'] })]).length, 1);
  });

  const cases: Array<[string, unknown, string, RegExp]> = [
    ['not an array', { inventory: {} }, 'grpcServices', /must be an array/],
    ['an entry that is not an object', ['inventory'], 'grpcServices[0]', /must be an object/],
    ['an unknown field', [valid({ retries: 3 })], 'grpcServices[0].retries', /unknown field; the fields are name, target, proto/],
    ['a bad name', [valid({ name: 'Inventory' })], 'grpcServices[0].name', /must match/],
    ['a duplicate name', [valid(), valid()], 'grpcServices[1].name', /declared twice/],
    ['a target with a scheme', [valid({ target: 'dns:///inv.example.com:443' })], 'grpcServices[0].target', /without a scheme/],
    ['a target without a port', [valid({ target: 'inv.example.com' })], 'grpcServices[0].target', /must be "host:port"/],
    ['a target with port 0', [valid({ target: 'inv.example.com:0' })], 'grpcServices[0].target', /port 0 is out of range/],
    ['a target with a bad host', [valid({ target: 'inv_1.example.com:443' })], 'grpcServices[0].target', /not a valid host name/],
    ['a target with a bad IPv6 address', [valid({ target: '[fe80::zz]:443' })], 'grpcServices[0].target', /not an IPv6 address/],
    ['an empty proto', [valid({ proto: ' ' })], 'grpcServices[0].proto', /must be the .proto source text/],
    ['a proto that does not parse', [valid({ proto: 'syntax = "proto3";\nmessage A {\n  int32 a = 1\n}' })], 'grpcServices[0].proto', /does not parse: illegal token '}', ';' expected \(line 4\)/],
    ['a proto importing a file', [valid({ proto: `import "/etc/passwd";\n${INVENTORY_PROTO}` })], 'grpcServices[0].proto', /imports "\/etc\/passwd"; a service proto must be self-contained/],
    ['a proto importing a relative file', [valid({ proto: `syntax = "proto3"; import weak "../secrets.proto"; service S {}` })], 'grpcServices[0].proto', /imports "\.\.\/secrets\.proto"/],
    ['a proto with an unresolved type', [valid({ proto: 'syntax = "proto3"; package p; message A { Missing m = 1; } service S { rpc M (A) returns (A); }', service: 'p.S', idempotentMethods: [] })], 'grpcServices[0].proto', /does not resolve: no such Type or Enum 'Missing' in Type .p.A/],
    ['a proto over 128 KiB', [valid({ proto: `${INVENTORY_PROTO}\n//${'x'.repeat(130 * 1024)}` })], 'grpcServices[0].proto', /larger than 131072 bytes/],
    ['a service the proto lacks', [valid({ service: 'Inventory' })], 'grpcServices[0].service', /declares no service "Inventory" \(services it declares: game\.Inventory; use the fully-qualified name/],
    ['a message named as the service', [valid({ service: 'game.Item' })], 'grpcServices[0].service', /declares no service "game\.Item"/],
    ['idempotentMethods missing', [valid({ idempotentMethods: undefined })], 'grpcServices[0].idempotentMethods', /must be an array of method names/],
    ['an idempotent method the service lacks', [valid({ idempotentMethods: ['GetItem', 'DeleteItem'] })], 'grpcServices[0].idempotentMethods[1]', /game\.Inventory has no method "DeleteItem"; its methods are GetItem, PutItem, Watch/],
    ['a streaming idempotent method', [valid({ idempotentMethods: ['Watch'] })], 'grpcServices[0].idempotentMethods[0]', /"Watch" is a streaming method; only unary methods are supported/],
    ['an idempotent method listed twice', [valid({ idempotentMethods: ['GetItem', 'GetItem'] })], 'grpcServices[0].idempotentMethods[1]', /listed twice/],
    ['deadlineMs 0', [valid({ deadlineMs: 0 })], 'grpcServices[0].deadlineMs', /integer from 1 to 60000/],
    ['deadlineMs as text', [valid({ deadlineMs: '2000' })], 'grpcServices[0].deadlineMs', /integer from 1 to 60000/],
    ['maxRetries 6', [valid({ maxRetries: 6 })], 'grpcServices[0].maxRetries', /integer from 0 to 5/],
    ['tls as text', [valid({ tls: 'yes' })], 'grpcServices[0].tls', /true or false/],
    ['too many services', Array.from({ length: MAX_SERVICES + 1 }, (_, i) => valid({ name: `s${i}` })), 'grpcServices', /at most 32/],
  ];
  for (const [what, value, field, pattern] of cases) {
    test(`refuses ${what}, naming ${field}`, () => {
      const err = refusal(value);
      assert.equal(err.field, field);
      assert.ok(err.message.startsWith(`${field}: `), err.message);
      assert.match(err.message, pattern);
    });
  }

  test('parseTarget splits host names, IPv4 and bracketed IPv6', () => {
    assert.deepEqual(parseTarget('Inv.Example.com:443'), { host: 'inv.example.com', port: 443, family: 0 });
    assert.deepEqual(parseTarget('10.1.2.3:50051'), { host: '10.1.2.3', port: 50051, family: 4 });
    assert.deepEqual(parseTarget('[::1]:1'), { host: '::1', port: 1, family: 6 });
    assert.equal(typeof parseTarget('1.2.3:80'), 'string');
    assert.equal(typeof parseTarget('unix:/tmp/s'), 'string');
  });

  test('resolveService applies the defaults', () => {
    const spec = resolveService(valid() as unknown as GrpcServiceConfig);
    assert.equal(spec.deadlineMs, 2000);
    assert.equal(spec.maxRetries, 2);
    assert.equal(spec.tls, false);
    assert.deepEqual([...spec.idempotent], ['GetItem']);
  });
});

describe('request messages: the JSON forms accepted and what reaches the wire', () => {
  const put = loadService(INVENTORY_PROTO, 'game.Inventory').methods.get('PutItem');
  assert.ok(put !== undefined);
  /** Convert `item`, encode it with proto-loader's serializer, decode it the way responses are. */
  const roundTrip = (item: Record<string, unknown>): Record<string, unknown> => {
    const bytes = put.serialize(convertMessage(put.requestType, { item }));
    const type = put.requestType;
    return (type.toObject(type.decode(bytes), RESPONSE_CONVERSION) as { item: Record<string, unknown> }).item;
  };

  test('64-bit integers accept decimal strings at both ends of their range and safe integer numbers', () => {
    const out = roundTrip({ id: '-9223372036854775808', owner_id: '18446744073709551615', prices: { a: 5, b: '-1' } });
    assert.equal(out.id, '-9223372036854775808');
    assert.equal(out.owner_id, '18446744073709551615');
    assert.deepEqual(out.prices, { a: '5', b: '-1' });
    assert.throws(() => roundTrip({ id: '9223372036854775808' }), { code: 'E_GRPC_BAD_ARGUMENTS' });
    assert.throws(() => roundTrip({ owner_id: '-1' }), { code: 'E_GRPC_BAD_ARGUMENTS' });
    assert.throws(() => roundTrip({ id: 1.5 }), { code: 'E_GRPC_BAD_ARGUMENTS' });
  });

  test('enums accept names and declared numbers; doubles accept "NaN" and "Infinity"; bytes accept URL-safe base64', () => {
    const out = roundTrip({ rarity: 3, weight: 'Infinity', icon: '-_8', stats: [{ value: '7' }] });
    assert.equal(out.rarity, 'LEGENDARY');
    assert.equal(out.weight, 'Infinity');
    assert.equal(out.icon, Buffer.from('-_8', 'base64url').toString('base64'));
    assert.deepEqual(out.stats, [{ name: '', value: 7 }]);
    assert.throws(() => roundTrip({ rarity: 9 }), /not a value of enum game\.Rarity/);
  });

  test('null means "not set"; a proto3 optional field is sent only when given', () => {
    const out = roundTrip({ name: null, parent: null, level: 0 });
    assert.equal(out.name, '');
    assert.equal(out.parent, null);
    assert.equal(out.level, 0);
    assert.equal('level' in roundTrip({}), false);
  });

  test('keys that would reach a prototype are plain data or refused', () => {
    assert.throws(() => roundTrip({ prices: JSON.parse('{"__proto__": 1}') }), /cannot be "__proto__"/);
    assert.throws(() => roundTrip(JSON.parse('{"__proto__": {"id": 1}}')), /unknown field of game\.Item/);
    assert.throws(() => roundTrip({ constructor: 1 }), /unknown field of game\.Item/);
  });

  test('messages nested deeper than 64 levels are refused', () => {
    let item: Record<string, unknown> = {};
    for (let i = 0; i < 70; i++) item = { parent: item };
    assert.throws(() => roundTrip(item), /nest deeper than 64 levels/);
  });
});
