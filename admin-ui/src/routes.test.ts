import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, formatMs, formatRate, shortId } from './format.ts';
import { hrefOf, parseRoute, type Route } from './routes.ts';
import { parseServerTiming } from './server-timing.ts';

describe('console routes', () => {
  it('every route survives a round trip through its URL', () => {
    const routes: Route[] = [
      { page: 'apps' },
      { page: 'app', app: 'demo', tab: 'functions' },
      { page: 'app', app: 'demo', tab: 'settings' },
      { page: 'new-function', app: 'demo' },
      { page: 'function', app: 'demo', fn: 'live-stream', tab: 'code' },
      { page: 'function', app: 'demo', fn: 'live-stream', tab: 'versions' },
      { page: 'function', app: 'demo', fn: 'live-stream', tab: 'try' },
      { page: 'function', app: 'demo', fn: 'live-stream', tab: 'logs' },
      { page: 'function', app: 'demo', fn: 'live-stream', tab: 'config' },
      { page: 'keys' },
      { page: 'audit' },
    ];
    for (const route of routes) assert.deepEqual(parseRoute(hrefOf(route)), route, hrefOf(route));
  });

  it('accepts the base with or without a trailing slash', () => {
    assert.deepEqual(parseRoute('/admin'), { page: 'apps' });
    assert.deepEqual(parseRoute('/admin/apps/demo/'), { page: 'app', app: 'demo', tab: 'functions' });
  });

  it('unknown paths, tabs and bad escapes are "not found", never an exception', () => {
    for (const path of ['/admin/nope', '/admin/apps/demo/functions/x/bogus', '/admin/apps/%E0%A4%A/functions', '/admin/apps/demo/functions/x/logs/extra']) {
      assert.equal(parseRoute(path).page, 'not-found', path);
    }
  });
});

describe('display formats', () => {
  it('bytes, durations, rates and ids read naturally', () => {
    assert.equal(formatBytes(196), '196 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(5 * 1024 * 1024), '5.0 MiB');
    assert.equal(formatMs(0.421), '0.42 ms');
    assert.equal(formatMs(12.34), '12.3 ms');
    assert.equal(formatMs(1200), '1.20 s');
    assert.equal(formatMs(null), '—');
    assert.equal(formatRate(0, 0), '—');
    assert.equal(formatRate(1, 3), '33%');
    assert.equal(formatRate(1, 2000), '<0.1%');
    assert.equal(shortId('0123456789abcdef0123'), '01234567');
  });
});

describe('server-timing', () => {
  it('reads the gateway\'s cpu metric and ignores the rest', () => {
    assert.equal(parseServerTiming('cpu;dur=1.25').get('cpu'), 1.25);
    const many = parseServerTiming('db;desc="query";dur=3, CPU;dur="0.5", total');
    assert.deepEqual([...many], [['db', 3], ['cpu', 0.5]]);
  });

  it('a missing or malformed header gives no metrics', () => {
    assert.equal(parseServerTiming(null).size, 0);
    assert.equal(parseServerTiming(';;,cpu;dur=abc,cpu;dur=-1').size, 0);
  });
});
