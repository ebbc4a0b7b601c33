import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { InvocationStats } from './stats.ts';

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
});
