/**
 * Code frames for diagnostics: a few lines around a position with a line-number gutter and a
 * caret under the column, in the style of @babel/code-frame (without colours):
 *
 *       1 | export default async function handler(req, ctx) {
 *     > 2 |   return eval(req.body);
 *         |          ^
 *       3 | }
 *
 * Lines end at `\n`, `\r\n`, `\r`, U+2028 and U+2029 — the ECMAScript line terminators, so line
 * numbers agree with @babel/parser's. Columns count UTF-16 code units. Very long lines (minified
 * code, a parse bomb on one line) are cut to a window around the column so a frame stays small.
 */

/** Where each line of a source starts; build once per module with `indexLines`. */
export interface LineIndex {
  readonly source: string;
  /** `starts[i]` is the offset (UTF-16 code units) of the first character of line `i + 1`. */
  readonly starts: readonly number[];
}

/** Options for `codeFrame`. */
export interface FrameOptions {
  /** Lines shown before the finding's line. @default 2 */
  linesAbove?: number;
  /** Lines shown after the finding's line. @default 2 */
  linesBelow?: number;
  /** Widest slice of a line shown, in UTF-16 code units; longer lines are cut around the column with `…`. @default 120 */
  maxLineChars?: number;
}

function isTerminator(code: number): boolean {
  return code === 10 || code === 13 || code === 0x2028 || code === 0x2029;
}

/**
 * Index the line starts of `source` in one pass.
 * @param source module text
 * @returns a LineIndex; `starts.length` is the number of lines (at least 1)
 */
export function indexLines(source: string): LineIndex {
  const starts = [0];
  for (let i = 0; i < source.length; i++) {
    const code = source.charCodeAt(i);
    if (code === 13 && source.charCodeAt(i + 1) === 10) i++;
    if (isTerminator(code)) starts.push(i + 1);
  }
  return { source, starts };
}

/**
 * The text of one line, without its terminator.
 * @param index from `indexLines`
 * @param line 1-based; out-of-range lines give `''`
 */
export function lineText(index: LineIndex, line: number): string {
  if (line < 1 || line > index.starts.length) return '';
  const start = index.starts[line - 1];
  let end = line < index.starts.length ? index.starts[line] : index.source.length;
  if (end - 2 >= start && index.source.charCodeAt(end - 2) === 13 && index.source.charCodeAt(end - 1) === 10) end -= 2;
  else if (end - 1 >= start && isTerminator(index.source.charCodeAt(end - 1))) end -= 1;
  return index.source.slice(start, end);
}

/**
 * Turn an offset into a 1-based line and column (binary search over the line starts).
 * @param index from `indexLines`
 * @param offset 0-based offset in UTF-16 code units; clamped to the source
 */
export function locate(index: LineIndex, offset: number): { line: number; column: number } {
  const at = Math.max(0, Math.min(offset, index.source.length));
  let lo = 0;
  let hi = index.starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (index.starts[mid] <= at) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: at - index.starts[lo] + 1 };
}

/**
 * Build a code frame around a position.
 * @param source module text, or its LineIndex when framing many positions of one module
 * @param line 1-based line; clamped to the source's lines
 * @param column 1-based column in UTF-16 code units; clamped to at least 1
 * @param options context lines and width (see FrameOptions)
 * @returns the frame, lines joined with `\n`, no trailing newline; never throws
 */
export function codeFrame(source: string | LineIndex, line: number, column: number, options: FrameOptions = {}): string {
  const index = typeof source === 'string' ? indexLines(source) : source;
  const above = options.linesAbove ?? 2;
  const below = options.linesBelow ?? 2;
  const width = Math.max(20, options.maxLineChars ?? 120);
  const target = Math.min(Math.max(1, Math.trunc(line) || 1), index.starts.length);
  const col = Math.max(1, Math.trunc(column) || 1);
  const first = Math.max(1, target - above);
  const last = Math.min(index.starts.length, target + below);
  const gutter = String(last).length;

  // One window for every shown line, so the context lines stay aligned with the caret.
  const targetText = lineText(index, target);
  let windowStart = 0;
  if (targetText.length > width) {
    windowStart = Math.max(0, Math.min(col - 1 - Math.floor(width / 2), targetText.length - width));
  }
  const cut = (text: string): string => {
    if (text.length <= width && windowStart === 0) return text;
    const slice = text.slice(windowStart, windowStart + width);
    return (windowStart > 0 ? '…' : '') + slice + (windowStart + width < text.length ? '…' : '');
  };

  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    const text = cut(lineText(index, n));
    const number = String(n).padStart(gutter);
    out.push(`${n === target ? '>' : ' '} ${number} |${text === '' ? '' : ' ' + text}`);
    if (n === target) {
      // Keep tabs so the caret lines up with what an editor shows.
      const before = targetText.slice(windowStart, Math.min(col - 1, windowStart + width)).replace(/[^\t]/g, ' ');
      out.push(`  ${' '.repeat(gutter)} | ${windowStart > 0 ? ' ' : ''}${before}^`);
    }
  }
  return out.join('\n');
}
