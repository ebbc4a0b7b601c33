import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { InvocationStats, LATENCY_BUCKETS_MS, latencyBucket } from './stats.ts';

describe('InvocationStats', () => {
  it('counts invocations and errors per function and reports the p95 latency bucket', () => {
    let now = 1_000_000_000_000;
    const stats = new InvocationStats({ now: () => now });
    for (let i = 0; i < 100; i++) stats.record('a', 'fast', i < 95 ? 0.8 : 40, i % 10 === 0);
    stats.record('a', 'slow', 3000, false);
    stats.record('b', 'other', 1, false);
    const a = stats.forApp('a');
    assert.deepEqual(a.fast, { invocations: 100, errors: 10, p95Ms: 1 });
    assert.deepEqual(a.slow, { invocations: 1, errors: 0, p95Ms: 5000 });
    assert.deepEqual(Object.keys(stats.forApp('b')), ['other'], 'apps are kept apart');
    assert.deepEqual(stats.forApp('missing'), {});
    now += 61 * 60_000;
    assert.deepEqual(stats.forApp('a'), {}, 'figures older than the window drop out');
  });

  it('keeps at most maxFunctions functions, dropping the least recently used', () => {
    const stats = new InvocationStats({ maxFunctions: 2 });
    stats.record('a', 'one', 1, false);
    stats.record('a', 'two', 1, false);
    stats.record('a', 'one', 1, false);
    stats.record('a', 'three', 1, false);
    assert.deepEqual(Object.keys(stats.forApp('a')).sort(), ['one', 'three']);
  });

  it('adds figures counted elsewhere (a worker\'s heartbeat) to the same window, and ignores malformed ones', () => {
    const now = 1_000_000_000_000;
    const stats = new InvocationStats({ now: () => now });
    const latency = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
    latency[latencyBucket(0.8)] = 9;
    latency[latencyBucket(40)] = 1;
    stats.add('a', 'f', 10, 2, latency);
    stats.record('a', 'f', 40, true);
    assert.deepEqual(stats.forApp('a'), { f: { invocations: 11, errors: 3, p95Ms: 50 } });
    stats.add('a', 'f', 5, 0, latency.slice(1)); // wrong length
    stats.add('a', 'f', -1, 0, latency);
    stats.add('a', 'f', 1.5, 0, latency);
    stats.add('a', 'g', 0, 0, latency); // nothing counted: no entry
    assert.deepEqual(stats.forApp('a'), { f: { invocations: 11, errors: 3, p95Ms: 50 } });
  });

  it('puts a duration in the first bucket whose bound holds it, and past the last bound in the overflow bucket', () => {
    assert.equal(latencyBucket(0), 0);
    assert.equal(latencyBucket(0.5), 0);
    assert.equal(latencyBucket(0.51), 1);
    assert.equal(latencyBucket(30_000), LATENCY_BUCKETS_MS.length - 1);
    assert.equal(latencyBucket(30_001), LATENCY_BUCKETS_MS.length);
  });
});
