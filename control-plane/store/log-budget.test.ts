/**
 * The byte-budget rule on its own: which functions give lines, how many rows it reads, and its
 * edge cases (a count the table does not back, nothing to drop, misuse).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { BudgetTrimPlanner, type OldestRows, type RowsWanted, type TrimStep } from './log-budget.ts';

/** A function's rows: ids `base + 1 …` with the given bytes, oldest first. */
function table(spec: Record<string, { base: number; bytes: number[] }>): (want: RowsWanted) => OldestRows {
  return (want) => {
    const { base, bytes } = spec[want.function] as { base: number; bytes: number[] };
    const rows = bytes.map((b, i) => ({ id: base + i + 1, bytes: b })).filter((row) => row.id > want.afterId).slice(0, want.limit);
    return { ids: rows.map((r) => r.id), bytes: rows.map((r) => r.bytes) };
  };
}

function run(planner: BudgetTrimPlanner, read: (want: RowsWanted) => OldestRows): { steps: TrimStep[]; wants: RowsWanted[] } {
  const wants: RowsWanted[] = [];
  for (let want = planner.next(); want !== null; want = planner.next()) {
    wants.push(want);
    planner.feed(read(want));
  }
  return { steps: planner.steps(), wants };
}

describe('BudgetTrimPlanner', () => {
  it('takes lines from the function holding the most until the excess is freed, never from a quiet one', () => {
    const read = table({ chatty: { base: 0, bytes: Array(10).fill(300) }, busy: { base: 100, bytes: Array(7).fill(300) }, quiet: { base: 200, bytes: [300, 300] } });
    const planner = new BudgetTrimPlanner([{ function: 'chatty', lines: 10 }, { function: 'busy', lines: 7 }, { function: 'quiet', lines: 2 }], 300 * 5, 300);
    const { steps } = run(planner, read);
    // chatty 10 → 7 (3 lines), then chatty and busy alternate: busy first by name at 7 each → busy 6, chatty 6.
    assert.deepEqual(steps, [
      { function: 'busy', lastId: 101, lines: 1, bytes: 300 },
      { function: 'chatty', lastId: 4, lines: 4, bytes: 1200 },
    ]);
  });

  it('frees at least the excess even when the oldest lines are small, and stops as soon as it is freed', () => {
    const read = table({ fn: { base: 0, bytes: [200, 200, 5000, 200] } });
    const { steps } = run(new BudgetTrimPlanner([{ function: 'fn', lines: 4 }], 401, 200), read);
    assert.deepEqual(steps, [{ function: 'fn', lastId: 3, lines: 3, bytes: 5400 }]);
  });

  it('reads rows in chunks sized from the average line, not whole functions', () => {
    const spec: Record<string, { base: number; bytes: number[] }> = {};
    const counts = Array.from({ length: 20 }, (_, i) => {
      spec[`fn-${i}`] = { base: i * 10_000, bytes: Array(1000).fill(1200) };
      return { function: `fn-${i}`, lines: 1000 };
    });
    const { steps, wants } = run(new BudgetTrimPlanner(counts, 1200 * 100, 1200), table(spec));
    assert.equal(steps.reduce((sum, s) => sum + s.lines, 0), 100, '100 lines free the excess');
    assert.ok(steps.every((s) => s.lines === 5), 'spread evenly over the 20 equally full functions');
    const read = wants.reduce((sum, w) => sum + w.limit, 0);
    assert.ok(read <= 20 * 16, `read ${read} rows for 100 drops`);
  });

  it('a count the table does not back (fewer rows than counted) ends the plan instead of looping', () => {
    const read = table({ ghost: { base: 0, bytes: [] }, real: { base: 10, bytes: [500, 500] } });
    const { steps } = run(new BudgetTrimPlanner([{ function: 'ghost', lines: 50 }, { function: 'real', lines: 2 }], 10_000, 500), read);
    assert.deepEqual(steps, [{ function: 'real', lastId: 12, lines: 2, bytes: 1000 }], 'what exists is dropped; the plan ends');
  });

  it('plans nothing within budget, and refuses misuse with a clear message', () => {
    const planner = new BudgetTrimPlanner([{ function: 'fn', lines: 3 }], 0, 300);
    assert.equal(planner.next(), null);
    assert.deepEqual(planner.steps(), []);
    const busy = new BudgetTrimPlanner([{ function: 'fn', lines: 3 }], 100, 300);
    assert.notEqual(busy.next(), null);
    assert.throws(() => busy.next(), /feed\(\) the rows of the previous request first/);
    assert.throws(() => new BudgetTrimPlanner([], 10, 10).feed({ ids: [], bytes: [] }), /feed\(\) without a pending request/);
  });
});
