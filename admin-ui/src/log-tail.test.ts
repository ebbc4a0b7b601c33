import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filterLevel, mergeTail, type TailState } from './log-tail.ts';
import type { LogLine } from './types.ts';

const line = (time: number, message: string, level: LogLine['level'] = 'info', requestId = 'r1'): LogLine => ({ app: 'a', function: 'f', versionId: 'v', requestId, level, message, time });
const empty: TailState = { lines: [], since: null };

describe('merging polled log batches', () => {
  it('the inclusive `since` boundary re-sends lines already shown; they are not repeated', () => {
    const first = mergeTail(empty, [line(1, 'a'), line(2, 'b')]);
    assert.equal(first.since, 2);
    const second = mergeTail(first, [line(2, 'b'), line(3, 'c')]);
    assert.deepEqual(second.lines.map((l) => l.message), ['a', 'b', 'c']);
    assert.equal(mergeTail(second, [line(3, 'c')]), second, 'nothing new → same state');
  });

  it('a new line in the boundary millisecond is kept, and identical lines are counted, not collapsed', () => {
    const first = mergeTail(empty, [line(5, 'same'), line(5, 'same')]);
    assert.equal(first.lines.length, 2);
    const second = mergeTail(first, [line(5, 'same'), line(5, 'same'), line(5, 'same'), line(5, 'other')]);
    assert.deepEqual(second.lines.map((l) => l.message), ['same', 'same', 'same', 'other']);
  });

  it('keeps at most `max` lines, dropping the oldest', () => {
    const state = mergeTail(empty, [line(1, 'a'), line(2, 'b'), line(3, 'c')], 2);
    assert.deepEqual(state.lines.map((l) => l.message), ['b', 'c']);
  });
});

describe('level filter', () => {
  it('keeps the chosen level and above', () => {
    const lines = [line(1, 'd', 'debug'), line(2, 'i', 'info'), line(3, 'w', 'warn'), line(4, 'e', 'error')];
    assert.deepEqual(filterLevel(lines, 'warn').map((l) => l.message), ['w', 'e']);
    assert.equal(filterLevel(lines, 'all').length, 4);
    assert.deepEqual(filterLevel(lines, 'error').map((l) => l.message), ['e']);
  });
});
