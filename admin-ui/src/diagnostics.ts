/**
 * Map the platform checker's diagnostics (1-based `line`, 1-based `column` in UTF-16 code units;
 * see runtime/check/types.ts) to document offsets for the editor.
 *
 * Why not `doc.line(n)`: the checker counts lines the ECMAScript way (`\n`, `\r\n`, `\r`, U+2028,
 * U+2029 end a line — ECMA-262 §12.3 LineTerminator), while CodeMirror splits only on `\n`, `\r\n`
 * and `\r`. A U+2028 in a string before the error would put every later diagnostic one line off.
 * So positions are computed on the exact text that was sent to `/api/check`; CodeMirror offsets
 * are UTF-16 indices into that same text (`doc.toString()`), so they line up.
 */
import type { CheckDiagnostic } from './types.ts';

/** A diagnostic placed in the text: `from`/`to` are UTF-16 offsets, `to >= from`. */
export interface PlacedDiagnostic {
  from: number;
  to: number;
  severity: 'error' | 'warning';
  /** `rule: message` plus the hint, as shown in the editor tooltip. */
  message: string;
  diagnostic: CheckDiagnostic;
}

/** Offsets where each line starts (index 0 = line 1), with ECMAScript line terminators. */
export function lineStarts(source: string): number[] {
  const starts = [0];
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x0d) {
      if (source.charCodeAt(i + 1) === 0x0a) i++;
      starts.push(i + 1);
    } else if (c === 0x0a || c === 0x2028 || c === 0x2029) {
      starts.push(i + 1);
    }
  }
  return starts;
}

/** End offset of the line starting at `starts[index]` (before its terminator). */
function lineEnd(source: string, starts: readonly number[], index: number): number {
  const next = starts[index + 1];
  if (next === undefined) return source.length;
  let end = next - 1;
  if (source.charCodeAt(end) === 0x0a && source.charCodeAt(end - 1) === 0x0d) end--;
  return end;
}

/**
 * Offset of a 1-based line/column in `source`, clamped into the text (a line past the end maps to
 * the end; a column past the line's end maps to the line's end).
 * @param starts the result of `lineStarts(source)`, when already computed
 */
export function offsetOf(source: string, line: number, column: number, starts: readonly number[] = lineStarts(source)): number {
  const index = Math.min(Math.max(1, Math.floor(line || 1)), starts.length) - 1;
  const start = starts[index] as number;
  const end = lineEnd(source, starts, index);
  return Math.min(start + Math.max(1, Math.floor(column || 1)) - 1, end);
}

const WORD = /[\p{L}\p{N}_$]/u;

/**
 * Place checker diagnostics in `source` for inline display. Without `endLine`/`endColumn` a
 * diagnostic covers the word at its position (or one character; a position at the end of a line,
 * e.g. "unexpected end of input", becomes a zero-width point).
 */
export function placeDiagnostics(source: string, diagnostics: readonly CheckDiagnostic[]): PlacedDiagnostic[] {
  const starts = lineStarts(source);
  return diagnostics.map((d) => {
    const from = offsetOf(source, d.line, d.column, starts);
    let to: number;
    if (d.endLine !== undefined && d.endColumn !== undefined) {
      to = Math.max(from, offsetOf(source, d.endLine, d.endColumn, starts));
    } else {
      const lineIndex = Math.min(Math.max(1, d.line), starts.length) - 1;
      const end = lineEnd(source, starts, lineIndex);
      to = from;
      while (to < end && WORD.test(source[to] as string)) to++;
      if (to === from && from < end) to = from + 1;
    }
    const hint = d.hint !== undefined && d.hint !== '' ? `\nHow to fix: ${d.hint}` : '';
    return { from, to, severity: d.severity === 'warning' ? 'warning' : 'error', message: `${d.rule}: ${d.message}${hint}`, diagnostic: d };
  });
}

/** The diagnostics an error from deploy carries: `E_CHECK` → `details.diagnostics`, `E_SYNTAX` → one built from `line`/`column`. */
export function diagnosticsFromDeployError(code: string, message: string, details: Readonly<Record<string, unknown>>): CheckDiagnostic[] {
  if (Array.isArray(details.diagnostics)) {
    return (details.diagnostics as unknown[]).filter(isCheckDiagnostic);
  }
  if (code === 'E_SYNTAX' && typeof details.line === 'number' && typeof details.column === 'number') {
    return [{
      rule: 'syntax', severity: 'error', message, line: details.line, column: details.column,
      hint: typeof details.hint === 'string' ? details.hint : undefined,
      frame: typeof details.frame === 'string' ? details.frame : undefined,
    }];
  }
  return [];
}

function isCheckDiagnostic(value: unknown): value is CheckDiagnostic {
  const d = value as Partial<CheckDiagnostic> | null;
  return typeof d === 'object' && d !== null && typeof d.line === 'number' && typeof d.column === 'number' && typeof d.message === 'string';
}
