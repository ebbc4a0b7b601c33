/**
 * configFromEnv: values are read and bad ones refused with the variable's name before anything starts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configFromEnv } from './server.ts';

test('operator lists are read through the config (not from process.env at use)', () => {
  const config = configFromEnv({ FAAS_GRPC_PRIVATE_NETWORKS: ' 10.0.0.0/8, 127.0.0.1/32 ,', FAAS_FETCH_ALLOW_ADDRESSES: '127.0.0.1:9000' });
  assert.deepEqual(config.grpcPrivateNetworks, ['10.0.0.0/8', '127.0.0.1/32']);
  assert.deepEqual(config.fetchAllowAddresses, ['127.0.0.1:9000']);
  assert.deepEqual(configFromEnv({}).grpcPrivateNetworks, []);
});

test('bad FAAS_POOL_* values are refused at start, naming the variable', () => {
  for (const [name, value] of [['FAAS_POOL_MAX_ISOLATES', 'lots'], ['FAAS_POOL_MAX_CONCURRENCY', '0'], ['FAAS_POOL_IDLE_TIMEOUT_MS', '1.5'], ['FAAS_POOL_QUEUE_TIMEOUT_MS', '-1'], ['FAAS_POOL_SPARE', 'yes'], ['FAAS_POOL_SPARE', '17'], ['FAAS_POOL_SPARE', '-1'], ['FAAS_POOL_SPARE', '1.5']]) {
    assert.throws(() => configFromEnv({ [name as string]: value }), (err: Error & { code?: string }) => err.code === 'ERR_FAAS_CONFIG' && err.message.startsWith(`${name} must be`), `${name}=${value}`);
  }
  for (const value of ['0', '1', '2', '16', '']) assert.doesNotThrow(() => configFromEnv({ FAAS_POOL_SPARE: value, FAAS_POOL_MAX_ISOLATES: '2500' }));
});

test('FAAS_GATEWAY picks who serves /fn (process by default) and a bad value is refused, naming the variable and the choices', () => {
  assert.equal(configFromEnv({}).gateway, 'process');
  assert.equal(configFromEnv({ FAAS_GATEWAY: '' }).gateway, 'process');
  assert.equal(configFromEnv({ FAAS_GATEWAY: 'workers' }).gateway, 'workers');
  for (const value of ['worker', 'WORKERS', 'b']) {
    assert.throws(() => configFromEnv({ FAAS_GATEWAY: value }), (err: Error & { code?: string }) => err.code === 'ERR_FAAS_CONFIG' && /^FAAS_GATEWAY must be workers .* or process /.test(err.message), value);
  }
});
