/**
 * Which of an app's oldest log lines go when the app is over its byte budget — the rule of the
 * in-memory ring the `log_lines` table replaced: while the app is over budget, drop the oldest line
 * of the function holding the most lines (ties: the name that sorts first). So one chatty function
 * gives way before its quiet neighbours lose anything.
 *
 * The planner runs that rule on the functions' line counts and reads only the rows it needs: it
 * asks for a function's oldest rows in chunks sized from the app's average line bytes, so freeing
 * a few lines' worth of bytes reads a few rows per function, not whole rings. Both backends drive
 * it the same way (SQLite synchronously, MySQL with awaits):
 *
 *     const planner = new BudgetTrimPlanner(counts, excessBytes, avgLineBytes);
 *     for (let want = planner.next(); want !== null; want = planner.next()) planner.feed(read(want));
 *     for (const step of planner.steps()) deleteUpTo(step);
 */
import { MIN_LINE_BYTES } from './log-lines.ts';

/** Line count of one function of an app (from the usage table). */
export interface FunctionLineCount {
  function: string;
  lines: number;
}

/** A request for a function's oldest rows: `id > afterId`, in id order, at most `limit`. */
export interface RowsWanted {
  function: string;
  afterId: number;
  limit: number;
}

/** Rows read for a `RowsWanted`, oldest first: ids and counted bytes. */
export interface OldestRows {
  ids: number[];
  bytes: number[];
}

/** What the trim deletes from one function: every row with `id <= lastId`. */
export interface TrimStep {
  function: string;
  lastId: number;
  lines: number;
  bytes: number;
}

/** Fewest rows asked for at once. */
const MIN_CHUNK = 8;

interface FunctionState {
  function: string;
  /** Lines left after the drops planned so far. */
  lines: number;
  ids: number[];
  bytes: number[];
  /** Rows of `ids` planned for deletion. */
  used: number;
  freed: number;
  /** No more rows to read (the table had fewer than the count said). */
  exhausted: boolean;
}

/** See the module comment. */
export class BudgetTrimPlanner {
  readonly #state: FunctionState[];
  readonly #avgLineBytes: number;
  #excess: number;
  #pending: FunctionState | null = null;

  /**
   * @param counts line counts of the app's functions
   * @param excessBytes bytes over the budget (nothing is planned when <= 0)
   * @param avgLineBytes the app's bytes / lines, to size reads (at least `MIN_LINE_BYTES`)
   */
  constructor(counts: readonly FunctionLineCount[], excessBytes: number, avgLineBytes: number) {
    this.#state = counts
      .filter((c) => c.lines > 0)
      .map((c) => ({ function: c.function, lines: c.lines, ids: [], bytes: [], used: 0, freed: 0, exhausted: false }))
      .sort((a, b) => (a.function < b.function ? -1 : a.function > b.function ? 1 : 0));
    this.#excess = excessBytes;
    this.#avgLineBytes = Math.max(MIN_LINE_BYTES, avgLineBytes);
  }

  /**
   * Advance the plan with the rows read so far.
   * @returns the rows needed to go on, or null when the plan is complete (within budget, or no
   *   line left to drop)
   * @throws Error when called again before `feed` answered the previous request
   */
  next(): RowsWanted | null {
    if (this.#pending !== null) throw new Error('BudgetTrimPlanner: feed() the rows of the previous request first');
    while (this.#excess > 0) {
      let pick: FunctionState | undefined;
      for (const s of this.#state) if (!s.exhausted && s.lines > 0 && (pick === undefined || s.lines > pick.lines)) pick = s;
      if (pick === undefined) return null;
      if (pick.used === pick.ids.length) {
        this.#pending = pick;
        return { function: pick.function, afterId: pick.ids.at(-1) ?? 0, limit: this.#chunk(pick) };
      }
      const freed = pick.bytes[pick.used] as number;
      pick.used += 1;
      pick.freed += freed;
      pick.lines -= 1;
      this.#excess -= freed;
    }
    return null;
  }

  /** Answer the last `next()` request with the rows read (fewer than asked, or none, is fine). */
  feed(rows: OldestRows): void {
    const s = this.#pending;
    if (s === null) throw new Error('BudgetTrimPlanner: feed() without a pending request');
    this.#pending = null;
    if (rows.ids.length === 0) s.exhausted = true;
    s.ids.push(...rows.ids);
    s.bytes.push(...rows.bytes);
  }

  /** What to delete, per function that loses lines. */
  steps(): TrimStep[] {
    return this.#state.filter((s) => s.used > 0).map((s) => ({ function: s.function, lastId: s.ids[s.used - 1] as number, lines: s.used, bytes: s.freed }));
  }

  /**
   * Rows to read for `pick`: about its share of the lines still to drop among the functions that
   * may give some (those within that many lines of it), plus a margin.
   */
  #chunk(pick: FunctionState): number {
    const drops = Math.ceil(this.#excess / this.#avgLineBytes);
    const sharing = this.#state.filter((s) => !s.exhausted && s.lines > 0 && s.lines >= pick.lines - drops).length;
    return Math.min(pick.lines, Math.max(MIN_CHUNK, Math.ceil(drops / Math.max(1, sharing)) + MIN_CHUNK));
  }
}
