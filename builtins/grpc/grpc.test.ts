/**
 * `ctx.rpc.grpc` host side against a real gRPC server on 127.0.0.1 (grpc-js, `test-server.ts`):
 * round trips and conversions, refusals before anything is sent, statuses, retries, deadlines,
 * cancellation, and the circuit breaker through a server that stops and comes back.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import type { GrpcServiceConfig } from '../../control-plane/core/types.ts';
import type { BuiltinCall } from '../../runtime/sandbox/interface.ts';
import { createGrpcHost, type GrpcHost, type GrpcHostOptions } from './host.ts';
import { INVENTORY_PROTO, startInventoryServer, type InventoryServer } from './test-server.ts';

const LOOPBACK = ['127.0.0.1/32'];

function inventory(port: number, extra: Partial<GrpcServiceConfig> = {}): GrpcServiceConfig {
  return { name: 'inventory', target: `127.0.0.1:${port}`, proto: INVENTORY_PROTO, service: 'game.Inventory', idempotentMethods: ['GetItem'], ...extra };
}

function invocation(app = 'game1', opts: { deadlineInMs?: number; signal?: AbortSignal } = {}): BuiltinCall {
  return { app, function: 'shop', versionId: 'v1', requestId: 'req-1', deadline: Date.now() + (opts.deadlineInMs ?? 10_000), signal: opts.signal ?? new AbortController().signal };
}

/** Everything a test started, stopped in afterEach. */
const hosts: GrpcHost[] = [];
const servers: InventoryServer[] = [];

async function setup(opts: { services?: (port: number) => GrpcServiceConfig[]; options?: GrpcHostOptions } = {}): Promise<{ host: GrpcHost; server: InventoryServer }> {
  const server = await startInventoryServer();
  servers.push(server);
  const services = opts.services?.(server.port) ?? [inventory(server.port)];
  const host = createGrpcHost({ servicesFor: async () => services, options: { privateNetworkAllowlist: LOOPBACK, ...opts.options } });
  hosts.push(host);
  return { host, server };
}

/** The rejection of `promise`, asserting it rejects. */
async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (err) {
    return err as { code: string; message: string; details: Record<string, unknown> };
  }
  assert.fail('expected the call to fail');
}

afterEach(async () => {
  for (const server of servers.splice(0)) server.stop();
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});

describe('ctx.rpc.grpc against a real gRPC server', () => {
  test('a unary call round-trips nested messages, enums, 64-bit integers, maps, bytes and a oneof as plain JSON', async () => {
    const { host, server } = await setup();
    const item = {
      id: '9223372036854775807',
      name: 'sword',
      rarity: 'LEGENDARY',
      stats: [{ name: 'atk', value: 12 }, { name: 'def', value: -3 }],
      prices: { gold: '18000000000000000', gems: 40 },
      icon: Buffer.from([0, 1, 2, 250, 255]).toString('base64'),
      owner_id: '18446744073709551615',
      weight: 2.5,
      tradable: true,
      quest: 'dragon',
      parent: { id: 1, rarity: 2 },
    };
    const reply = await host.execute(invocation(), 'call', ['inventory', 'PutItem', { item }]);
    assert.deepEqual(reply, {
      item: {
        id: '9223372036854775807',
        name: 'sword',
        rarity: 'LEGENDARY',
        stats: [{ name: 'atk', value: 12 }, { name: 'def', value: -3 }],
        prices: { gold: '18000000000000000', gems: '40' },
        icon: 'AAEC+v8=',
        owner_id: '18446744073709551615',
        weight: 2.5,
        tradable: true,
        quest: 'dragon',
        parent: { id: '1', name: '', rarity: 'RARE', stats: [], prices: {}, icon: '', owner_id: '0', weight: 0, tradable: false, parent: null },
      },
      version: 1,
    });
    assert.equal(JSON.stringify(JSON.parse(JSON.stringify(reply))), JSON.stringify(reply), 'the reply is plain JSON');
    assert.equal(server.calls.get('PutItem'), 1);
  });

  test('the server sees the caller in metadata, with the function\'s own metadata', async () => {
    const { host, server } = await setup();
    await host.execute(invocation('game1'), 'call', ['inventory', 'GetItem', { id: 7 }, { metadata: { 'x-trace': 'abc', authorization: 'Bearer t' } }]);
    assert.equal(server.lastMetadata['x-faas-app'], 'game1');
    assert.equal(server.lastMetadata['x-faas-function'], 'shop');
    assert.equal(server.lastMetadata['x-faas-request-id'], 'req-1');
    assert.equal(server.lastMetadata['x-trace'], 'abc');
    assert.equal(server.lastMetadata.authorization, 'Bearer t');
    assert.equal(server.lastAuthority, `127.0.0.1:${server.port}`);
  });

  test('a missing message is an empty request, and unset response fields come back with their defaults', async () => {
    const { host } = await setup();
    assert.deepEqual(await host.execute(invocation(), 'call', ['inventory', 'GetItem']), {
      id: '0', name: 'item 0', rarity: 'RARE', stats: [], prices: {}, icon: '', owner_id: '0', weight: 0, tradable: false, parent: null,
    });
  });

  test('a service the app has not declared is refused, naming the declared ones and how to declare it', async () => {
    const { host, server } = await setup();
    const err = await failure(host.execute(invocation(), 'call', ['inventry', 'GetItem', {}]));
    assert.equal(err.code, 'E_GRPC_UNKNOWN_SERVICE');
    assert.match(err.message, /no gRPC service "inventry" is declared for app "game1" \(declared: inventory\)/);
    assert.match(err.message, /grpcServices/);
    assert.equal(server.total(), 0);
  });

  test('an unknown method is refused with a suggestion, a streaming method because only unary calls are supported', async () => {
    const { host, server } = await setup();
    const unknown = await failure(host.execute(invocation(), 'call', ['inventory', 'getItem', {}]));
    assert.equal(unknown.code, 'E_GRPC_UNKNOWN_METHOD');
    assert.match(unknown.message, /has no method "getItem" \(did you mean "GetItem"\?/);
    assert.match(unknown.message, /GetItem, PutItem, Watch/);
    const streaming = await failure(host.execute(invocation(), 'call', ['inventory', 'Watch', {}]));
    assert.equal(streaming.code, 'E_GRPC_UNKNOWN_METHOD');
    assert.match(streaming.message, /server-streaming method; only unary methods can be called/);
    assert.equal(server.total(), 0);
  });

  test('a message that does not fit the request type is refused before sending, naming the field', async () => {
    const { host, server } = await setup();
    const cases: Array<[unknown, string, RegExp]> = [
      [{ item: { nmae: 'x' } }, 'message.item.nmae', /unknown field of game\.Item \(did you mean "name"\?/],
      [{ item: { id: 'abc' } }, 'message.item.id', /expected int64/],
      [{ item: { id: 2 ** 60 } }, 'message.item.id', /pass a decimal string/],
      [{ item: { rarity: 'EPIC' } }, 'message.item.rarity', /not a value of enum game\.Rarity; use one of "RARITY_UNSPECIFIED", "COMMON", "RARE", "LEGENDARY"/],
      [{ item: { stats: [{ value: 2 ** 31 }] } }, 'message.item.stats[0].value', /expected int32/],
      [{ item: { stats: {} } }, 'message.item.stats', /expected an array/],
      [{ item: { icon: 'not base64!' } }, 'message.item.icon', /base64/],
      [{ item: { tradable: 'yes' } }, 'message.item.tradable', /expected bool/],
      [{ item: { shop: 'a', quest: 'b' } }, 'message.item.quest', /only one field of oneof "source"/],
      [{ item: { prices: { gold: 'lots' } } }, 'message.item.prices["gold"]', /expected int64/],
      [{ item: [] }, 'message.item', /expected a game\.Item message/],
      [[], 'message', /message must be an object/],
    ];
    for (const [message, field, pattern] of cases) {
      const err = await failure(host.execute(invocation(), 'call', ['inventory', 'PutItem', message]));
      assert.equal(err.code, 'E_GRPC_BAD_ARGUMENTS', JSON.stringify(message));
      assert.equal(err.details.field, field, JSON.stringify(message));
      assert.match(err.message, pattern);
      assert.ok(err.message.startsWith(`ctx.rpc.grpc inventory.PutItem: ${field}: `) || field === 'message', err.message);
    }
    assert.equal(server.total(), 0);
  });

  test('bad service, method and option arguments are refused', async () => {
    const { host, server } = await setup();
    const cases: Array<[unknown[], RegExp]> = [
      [[1, 'GetItem'], /service must be the name of a declared gRPC service/],
      [['inventory', null], /method must be a method name/],
      [['inventory', 'GetItem', {}, { timeout: 5 }], /unknown option "timeout"/],
      [['inventory', 'GetItem', {}, { deadlineMs: 0 }], /deadlineMs must be an integer from 1 to 60000/],
      [['inventory', 'GetItem', {}, { metadata: { 'grpc-timeout': '1' } }], /reserved/],
      [['inventory', 'GetItem', {}, { metadata: { 'x-faas-app': 'other' } }], /reserved/],
      [['inventory', 'GetItem', {}, { metadata: { 'x-a': 'caf\u00e9' } }], /printable ASCII/],
      [['inventory', 'GetItem', {}, { metadata: { 'X-Upper': 'a' } }], /lower-case/],
    ];
    for (const [args, pattern] of cases) {
      const err = await failure(host.execute(invocation(), 'call', args));
      assert.equal(err.code, 'E_GRPC_BAD_ARGUMENTS', JSON.stringify(args));
      assert.match(err.message, pattern);
    }
    assert.equal(server.total(), 0);
  });

  test('a request over maxMessageBytes is refused unsent; a response over it fails with E_GRPC_STATUS', async () => {
    const { host, server } = await setup({ options: { maxMessageBytes: 1024 } });
    const big = await failure(host.execute(invocation(), 'call', ['inventory', 'PutItem', { item: { name: 'x'.repeat(2000) } }]));
    assert.equal(big.code, 'E_GRPC_BAD_ARGUMENTS');
    assert.match(big.message, /request is \d+ bytes encoded; the limit is 1024 bytes/);
    assert.equal(server.total(), 0);
    // The request encodes to 1023 bytes; the echoed reply (with its version field) to 1025.
    const echo = await failure(host.execute(invocation(), 'call', ['inventory', 'PutItem', { item: { name: 'x'.repeat(1017) } }]));
    assert.equal(echo.code, 'E_GRPC_STATUS');
    assert.match(echo.message, /the response is larger than the builtin's message size limit/);
    assert.equal(server.calls.get('PutItem'), 1);
  });

  test('a non-OK status from the server becomes E_GRPC_STATUS with the status name and the server\'s details', async () => {
    const { host, server } = await setup();
    const err = await failure(host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 404 }]));
    assert.equal(err.code, 'E_GRPC_STATUS');
    assert.match(err.message, /inventory\.GetItem failed: the server answered NOT_FOUND: item 404 does not exist/);
    assert.equal(err.details.status, 'NOT_FOUND');
    assert.equal(err.details.grpcDetails, 'item 404 does not exist');
    assert.equal(server.calls.get('GetItem'), 1, 'NOT_FOUND is not retried, even for an idempotent method');
  });

  test('an idempotent method is retried after transient UNAVAILABLE answers and succeeds', async () => {
    const { host, server } = await setup();
    server.failNext('GetItem', 2, status.UNAVAILABLE, 'warming up');
    const reply = await host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 5 }]) as { id: string };
    assert.equal(reply.id, '5');
    assert.equal(server.calls.get('GetItem'), 3);
  });

  test('RESOURCE_EXHAUSTED is retried too, but at most maxRetries times', async () => {
    const { host, server } = await setup({ services: (port) => [inventory(port, { maxRetries: 1 })] });
    server.failNext('GetItem', 5, status.RESOURCE_EXHAUSTED, 'slow down');
    const err = await failure(host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 5 }]));
    assert.equal(err.code, 'E_GRPC_STATUS');
    assert.match(err.message, /RESOURCE_EXHAUSTED: slow down/);
    assert.equal(err.details.attempts, 2);
    assert.equal(server.calls.get('GetItem'), 2);
  });

  test('a method not listed as idempotent is tried once', async () => {
    const { host, server } = await setup();
    server.failNext('PutItem', 1, status.UNAVAILABLE, 'restarting');
    const err = await failure(host.execute(invocation(), 'call', ['inventory', 'PutItem', { item: { id: 1 } }]));
    assert.equal(err.code, 'E_GRPC_UNAVAILABLE');
    assert.match(err.message, /gRPC service "inventory" at 127\.0\.0\.1:\d+ is unavailable \(inventory\.PutItem, 1 attempt\): restarting/);
    assert.equal(server.calls.get('PutItem'), 1);
    await host.execute(invocation(), 'call', ['inventory', 'PutItem', { item: { id: 1 } }]);
    assert.equal(server.calls.get('PutItem'), 2);
  });

  test('a slow handler fails with E_GRPC_DEADLINE at the service\'s deadline, and is not retried past it', async () => {
    const { host, server } = await setup({ services: (port) => [inventory(port, { deadlineMs: 200 })] });
    server.delay('GetItem', 3000);
    const started = Date.now();
    const err = await failure(host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 1 }]));
    assert.equal(err.code, 'E_GRPC_DEADLINE');
    assert.match(err.message, /did not answer within its deadline of 200 ms/);
    assert.ok(Date.now() - started < 2500, 'the call ended at its deadline, not when the handler answered');
    assert.equal(server.calls.get('GetItem'), 1);
  });

  test('the invocation\'s remaining time caps the deadline, and a call with no time left is not sent', async () => {
    const { host, server } = await setup();
    server.delay('GetItem', 3000);
    const err = await failure(host.execute(invocation('game1', { deadlineInMs: 150 }), 'call', ['inventory', 'GetItem', { id: 1 }]));
    assert.equal(err.code, 'E_GRPC_DEADLINE');
    assert.match(err.message, /deadline of 1[0-5]\d ms/);
    const late = await failure(host.execute(invocation('game1', { deadlineInMs: -5 }), 'call', ['inventory', 'GetItem', { id: 1 }]));
    assert.equal(late.code, 'E_GRPC_DEADLINE');
    assert.match(late.message, /was not sent/);
    assert.equal(server.calls.get('GetItem'), 1);
  });

  test('the call option deadlineMs shortens the deadline', async () => {
    const { host, server } = await setup();
    server.delay('GetItem', 3000);
    const err = await failure(host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 1 }, { deadlineMs: 100 }]));
    assert.equal(err.code, 'E_GRPC_DEADLINE');
    assert.match(err.message, /deadline of 100 ms/);
  });

  test('when the invocation ends, the call is cancelled at the server', async () => {
    const { host, server } = await setup();
    server.delay('GetItem', 5000);
    const controller = new AbortController();
    const pending = failure(host.execute(invocation('game1', { signal: controller.signal }), 'call', ['inventory', 'GetItem', { id: 1 }]));
    while (server.calls.get('GetItem') !== 1) await sleep(5);
    controller.abort();
    const err = await pending;
    assert.equal(err.code, 'E_CTX_REVOKED');
    assert.match(err.message, /invocation ended while inventory\.GetItem was in flight/);
    for (let i = 0; i < 200 && server.cancelled === 0; i++) await sleep(10);
    assert.equal(server.cancelled, 1, 'the server saw the cancellation');
    assert.equal(server.calls.get('GetItem'), 1, 'not retried');
  });

  test('a call from an invocation that already ended is not sent', async () => {
    const { host, server } = await setup();
    const controller = new AbortController();
    controller.abort();
    const err = await failure(host.execute(invocation('game1', { signal: controller.signal }), 'call', ['inventory', 'GetItem', {}]));
    assert.equal(err.code, 'E_CTX_REVOKED');
    assert.equal(server.total(), 0);
  });

  test('a stopped server gives E_GRPC_UNAVAILABLE; repeated failures open the circuit; after the reset timeout a trial call closes it', async () => {
    const breaker: GrpcHostOptions = { breakerVolumeThreshold: 3, breakerResetTimeoutMs: 400, maxReconnectBackoffMs: 50, retryBaseDelayMs: 5 };
    const { host, server } = await setup({ options: breaker });
    const port = server.port;
    await host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 1 }]);
    server.stop();

    const down = await failure(host.execute(invocation(), 'call', ['inventory', 'PutItem', { item: {} }]));
    assert.equal(down.code, 'E_GRPC_UNAVAILABLE');
    assert.match(down.message, new RegExp(`gRPC service "inventory" at 127\\.0\\.0\\.1:${port} is unavailable`));
    assert.equal(down.details.status, 'UNAVAILABLE');

    let open: Awaited<ReturnType<typeof failure>> | null = null;
    for (let i = 0; i < 10 && open === null; i++) {
      const err = await failure(host.execute(invocation(), 'call', ['inventory', 'PutItem', { item: {} }]));
      assert.equal(err.code, 'E_GRPC_UNAVAILABLE');
      if (err.details.circuit === 'open') open = err;
    }
    assert.ok(open !== null, 'the circuit opened');
    assert.match(open.message, /circuit breaker is open after repeated failures \(\d+ failed calls in the last 10 s\), so inventory\.PutItem failed at once without being sent; one trial call will be let through in about 0\.\d s/);

    const back = await startInventoryServer(port);
    servers.push(back);
    const fast = await failure(host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 2 }]));
    assert.equal(fast.details.circuit, 'open');
    assert.equal(back.total(), 0, 'an open circuit sends nothing');

    let reply: unknown = null;
    for (let i = 0; i < 100 && reply === null; i++) {
      await sleep(50);
      reply = await host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 3 }]).catch((err: { code: string }) => {
        assert.equal(err.code, 'E_GRPC_UNAVAILABLE');
        return null;
      });
    }
    assert.deepEqual((reply as { id: string } | null)?.id, '3', 'calls succeed again once the server is back');
    await host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 4 }]);
    assert.ok((back.calls.get('GetItem') ?? 0) >= 2);
  });

  test('one app\'s open circuit does not open another app\'s circuit to the same target', async () => {
    const { host, server } = await setup({ options: { breakerVolumeThreshold: 2, breakerResetTimeoutMs: 60_000, maxReconnectBackoffMs: 50 } });
    const port = server.port;
    server.stop();
    let opened = false;
    for (let i = 0; i < 10 && !opened; i++) {
      const err = await failure(host.execute(invocation('game-a'), 'call', ['inventory', 'PutItem', {}]));
      opened = err.details.circuit === 'open';
    }
    assert.ok(opened, 'game-a\'s circuit opened');
    const back = await startInventoryServer(port);
    servers.push(back);
    const reply = await host.execute(invocation('game-b'), 'call', ['inventory', 'GetItem', { id: 9 }]) as { id: string };
    assert.equal(reply.id, '9');
    const still = await failure(host.execute(invocation('game-a'), 'call', ['inventory', 'GetItem', { id: 9 }]));
    assert.equal(still.details.circuit, 'open');
    assert.equal(back.calls.get('GetItem'), 1);
  });

  test('an open circuit stays open across a settings reload that keeps its target', async () => {
    const server = await startInventoryServer();
    servers.push(server);
    const port = server.port;
    let services = [inventory(port)];
    const host = createGrpcHost({ servicesFor: async () => services, options: { privateNetworkAllowlist: LOOPBACK, breakerVolumeThreshold: 2, breakerResetTimeoutMs: 60_000, maxReconnectBackoffMs: 50 } });
    hosts.push(host);
    server.stop();
    let opened = false;
    for (let i = 0; i < 10 && !opened; i++) opened = (await failure(host.execute(invocation(), 'call', ['inventory', 'PutItem', {}]))).details.circuit === 'open';
    assert.ok(opened);
    const back = await startInventoryServer(port);
    servers.push(back);
    services = [inventory(port, { deadlineMs: 3000 })];
    host.invalidate('game1');
    const still = await failure(host.execute(invocation(), 'call', ['inventory', 'GetItem', {}]));
    assert.equal(still.details.circuit, 'open', 'same target: the breaker kept its state');
    assert.equal(back.total(), 0);
    const other = await startInventoryServer();
    servers.push(other);
    services = [inventory(other.port)];
    host.invalidate('game1');
    await host.execute(invocation(), 'call', ['inventory', 'GetItem', {}]);
    assert.equal(other.calls.get('GetItem'), 1, 'a new target has its own, closed breaker');
  });

  test('statuses chosen by the server do not open the circuit', async () => {
    const { host, server } = await setup({ options: { breakerVolumeThreshold: 2 } });
    for (let i = 0; i < 6; i++) {
      const err = await failure(host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 404 }]));
      assert.equal(err.code, 'E_GRPC_STATUS');
    }
    await host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 1 }]);
    assert.equal(server.calls.get('GetItem'), 7);
  });

  test('invalidate(app) drops the cached client: the next call uses the new settings', async () => {
    const first = await startInventoryServer();
    const second = await startInventoryServer();
    servers.push(first, second);
    let services = [inventory(first.port)];
    const host = createGrpcHost({ servicesFor: async () => services, options: { privateNetworkAllowlist: LOOPBACK } });
    hosts.push(host);
    await host.execute(invocation(), 'call', ['inventory', 'GetItem', {}]);
    services = [inventory(second.port)];
    await host.execute(invocation(), 'call', ['inventory', 'GetItem', {}]);
    assert.equal(first.calls.get('GetItem'), 2, 'settings are cached until invalidated');
    host.invalidate('game1');
    await host.execute(invocation(), 'call', ['inventory', 'GetItem', {}]);
    assert.equal(second.calls.get('GetItem'), 1);
  });

  test('invalidate(app) during a call lets the call finish on its old client, and later calls work', async () => {
    const { host, server } = await setup();
    server.delay('GetItem', 200);
    const pending = host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 11 }]);
    while (server.calls.get('GetItem') !== 1) await sleep(5);
    host.invalidate('game1');
    assert.equal(((await pending) as { id: string }).id, '11');
    server.delay('GetItem', 0);
    assert.equal(((await host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 12 }])) as { id: string }).id, '12');
  });

  test('a target on a non-public address is refused unless the operator allows its network', async () => {
    const server = await startInventoryServer();
    servers.push(server);
    const host = createGrpcHost({ servicesFor: async () => [inventory(server.port), inventory(server.port, { name: 'local', target: `localhost:${server.port}` })] });
    hosts.push(host);
    const literal = await failure(host.execute(invocation(), 'call', ['inventory', 'GetItem', {}]));
    assert.equal(literal.code, 'E_GRPC_TARGET_REFUSED');
    assert.match(literal.message, /127\.0\.0\.1 is a loopback address; functions may only reach public addresses/);
    const named = await failure(host.execute(invocation(), 'call', ['local', 'GetItem', {}]));
    assert.equal(named.code, 'E_GRPC_TARGET_REFUSED');
    assert.match(named.message, /"localhost" resolves to/);
    assert.equal(server.total(), 0);
  });

  test('a host name is resolved, checked and re-resolved after dnsRefreshMs; calls keep working', async () => {
    const server = await startInventoryServer(0, 'localhost');
    servers.push(server);
    const host = createGrpcHost({ servicesFor: async () => [inventory(server.port, { target: `localhost:${server.port}` })], options: { privateNetworkAllowlist: ['127.0.0.0/8', '::1/128'], dnsRefreshMs: 1 } });
    hosts.push(host);
    for (let i = 0; i < 3; i++) {
      await host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: i }]);
      await sleep(5);
    }
    assert.equal(server.calls.get('GetItem'), 3);
    assert.equal(server.lastAuthority, `localhost:${server.port}`, 'the declared host is the authority, not the pinned address');
  });

  test('a declared host name that does not resolve gives E_GRPC_UNAVAILABLE', async () => {
    const { host } = await setup({ services: () => [inventory(1, { target: 'no-such-host.invalid:443' })] });
    const err = await failure(host.execute(invocation(), 'call', ['inventory', 'GetItem', {}]));
    assert.equal(err.code, 'E_GRPC_UNAVAILABLE');
    assert.match(err.message, /"no-such-host\.invalid" does not resolve/);
  });

  test('a stored declaration that no longer validates is reported as such', async () => {
    const { host } = await setup({ services: (port) => [inventory(port, { service: 'game.Shop' })] });
    const err = await failure(host.execute(invocation(), 'call', ['inventory', 'GetItem', {}]));
    assert.equal(err.code, 'E_GRPC_UNKNOWN_SERVICE');
    assert.match(err.message, /declared but its declaration is invalid .*declares no service "game\.Shop" \(services it declares: game\.Inventory/);
  });

  test('after close() calls are refused and close() resolves (twice)', async () => {
    const { host } = await setup();
    await host.execute(invocation(), 'call', ['inventory', 'GetItem', {}]);
    await host.close();
    await host.close();
    const err = await failure(host.execute(invocation(), 'call', ['inventory', 'GetItem', {}]));
    assert.equal(err.code, 'E_GRPC_UNAVAILABLE');
    assert.match(err.message, /shutting down/);
  });

  test('close() waits for a call in flight, which completes', async () => {
    const { host, server } = await setup();
    server.delay('GetItem', 200);
    const pending = host.execute(invocation(), 'call', ['inventory', 'GetItem', { id: 8 }]);
    while (server.calls.get('GetItem') !== 1) await sleep(5);
    await host.close();
    assert.equal(((await pending) as { id: string }).id, '8');
  });

  test('invalid host options are refused', () => {
    const servicesFor = async (): Promise<GrpcServiceConfig[]> => [];
    assert.throws(() => createGrpcHost({ servicesFor, options: { breakerResetTimeoutMs: 0 } }), /breakerResetTimeoutMs must be an integer from 1/);
    assert.throws(() => createGrpcHost({ servicesFor, options: { breakerErrorThresholdPercentage: 101 } }), /from 1 to 100/);
    assert.throws(() => createGrpcHost({ servicesFor, options: { privateNetworkAllowlist: ['10.0.0.0'] } }), /privateNetworkAllowlist\[0\] must be a CIDR/);
  });
});
