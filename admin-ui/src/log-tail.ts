/**
 * Merge polled log batches without losing or repeating lines. The API's `since` is inclusive
 * (lines at or after that epoch ms), so each poll re-sends the lines at the newest time already
 * shown; those are skipped by counting identical lines at that boundary time (two identical lines
 * in the same millisecond are kept apart by the count, not collapsed).
 */
import type { LogLevel, LogLine } from './types.ts';

export interface TailState {
  lines: LogLine[];
  /** Newest time shown (epoch ms), the next poll's `since`; null before the first line. */
  since: number | null;
}

/** Most lines kept in view; older ones are dropped first. */
export const MAX_TAIL_LINES = 2000;

function keyOf(l: LogLine): string {
  return `${l.requestId}\u0000${l.level}\u0000${l.versionId}\u0000${l.message}`;
}

/**
 * Append a batch (oldest first, as the API sends it) to the tail.
 * @returns the new state (the input is not modified)
 */
export function mergeTail(state: TailState, batch: readonly LogLine[], max = MAX_TAIL_LINES): TailState {
  const boundary = new Map<string, number>();
  if (state.since !== null) {
    for (let i = state.lines.length - 1; i >= 0 && (state.lines[i] as LogLine).time === state.since; i--) {
      const k = keyOf(state.lines[i] as LogLine);
      boundary.set(k, (boundary.get(k) ?? 0) + 1);
    }
  }
  const fresh: LogLine[] = [];
  for (const line of batch) {
    if (state.since !== null && line.time < state.since) continue;
    if (state.since !== null && line.time === state.since) {
      const k = keyOf(line);
      const seen = boundary.get(k) ?? 0;
      if (seen > 0) {
        boundary.set(k, seen - 1);
        continue;
      }
    }
    fresh.push(line);
  }
  if (fresh.length === 0) return state;
  const lines = [...state.lines, ...fresh].slice(-max);
  const since = Math.max(state.since ?? 0, ...fresh.map((l) => l.time));
  return { lines, since };
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Lines at `min` level or above (`all` keeps every line). */
export function filterLevel(lines: readonly LogLine[], min: LogLevel | 'all'): LogLine[] {
  if (min === 'all') return [...lines];
  return lines.filter((l) => (RANK[l.level] ?? 0) >= RANK[min]);
}
