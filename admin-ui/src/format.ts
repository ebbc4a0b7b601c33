/** Small display formatters shared by the pages. Pure; never throw on odd input. */

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** A duration in ms: `0.42 ms`, `12.3 ms`, `1.20 s`. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** `errors / total` as a percentage, `—` when there were no invocations. */
export function formatRate(errors: number, total: number): string {
  if (!Number.isFinite(total) || total <= 0) return '—';
  const pct = (100 * errors) / total;
  return `${pct === 0 ? '0' : pct < 0.1 ? '<0.1' : pct < 10 ? pct.toFixed(1) : Math.round(pct)}%`;
}

/** Relative time for recent moments (`12 s ago`, `3 h ago`), a date past a week. */
export function formatAgo(iso: string | number, now = Date.now()): string {
  const t = typeof iso === 'number' ? iso : Date.parse(iso);
  if (!Number.isFinite(t)) return String(iso);
  const s = Math.round((now - t) / 1000);
  if (s < 0) return new Date(t).toLocaleString();
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 7 * 86400) return `${Math.floor(s / 86400)} d ago`;
  return new Date(t).toLocaleDateString();
}

/** Full local timestamp for tooltips. */
export function formatTime(iso: string | number): string {
  const t = typeof iso === 'number' ? iso : Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toLocaleString() : String(iso);
}

/** Clock time with milliseconds for log lines: `14:03:07.123`. */
export function formatClock(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** First 8 characters of a version id (ids are 20 hex characters). */
export function shortId(id: string | null | undefined): string {
  return id === null || id === undefined ? '—' : id.slice(0, 8);
}

/** App, function and alias names (control-plane/core/names.ts). */
export const NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
export const NAME_RULE = 'lower-case letters, digits and dashes, starting with a letter, at most 63 characters';
