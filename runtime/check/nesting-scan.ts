/**
 * The cheap pre-parse guard against parse bombs. @babel/parser is a recursive-descent parser:
 * each nested `[`, `(` or `{` costs it several stack frames, and about 470 nested array literals
 * already exhaust Node's default stack. So before parsing, one linear pass counts bracket depth
 * and stops at the first bracket that goes past the limit — 100,000 nested `[` are refused after
 * reading about 200 characters.
 *
 * The scan is a tokenizer-lite: it skips strings, comments, template text and regular
 * expression literals so brackets inside them do not count, and counts `${` as one level. A
 * regex is told from a division by the previous token (the classic heuristic); a wrong guess
 * only shifts the count for that one literal, and the syntax-tree depth check after parsing
 * (`walk.ts`) is exact. Nesting without brackets (`!!!!x`, `a = b = c`, `if (a) if (b) …`) is
 * not counted here: `parse.ts` turns the parser's stack overflow into a `nesting-depth`
 * diagnostic, and the tree depth check refuses it below that.
 */

/** Result of `scanNesting`: fine, or where the limit was first passed. */
export type NestingScanResult =
  | { readonly ok: true; /** deepest bracket nesting seen */ readonly maxDepth: number }
  | { readonly ok: false; /** offset (UTF-16 code units) of the first bracket past the limit */ readonly offset: number; readonly depth: number };

/** Words after which a `/` starts a regular expression rather than a division. */
const REGEX_AFTER_WORD = new Set([
  'return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await',
]);

/** Kinds of entries on the nesting stack: a bracket, or a template substitution `${`. */
const BRACKET = 0;
const SUBSTITUTION = 1;

function isLineTerminator(code: number): boolean {
  return code === 10 || code === 13 || code === 0x2028 || code === 0x2029;
}

function isWordChar(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57) ||
    code === 36 || code === 95 || code === 92 || (code > 127 && !isLineTerminator(code) && code !== 0xa0 && code !== 0xfeff);
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 11 || code === 12 || code === 0xa0 || code === 0xfeff || isLineTerminator(code);
}

/** Offset just past a string literal opened at `start` (ends at its quote, a line end, or EOF). */
function skipString(source: string, start: number): number {
  const quote = source.charCodeAt(start);
  let i = start + 1;
  while (i < source.length) {
    const code = source.charCodeAt(i);
    if (code === 92) {
      i += source.charCodeAt(i + 1) === 13 && source.charCodeAt(i + 2) === 10 ? 3 : 2;
      continue;
    }
    if (code === quote) return i + 1;
    if (code === 10 || code === 13) return i;
    i++;
  }
  return i;
}

/** Offset just past a regex literal body opened at `start` (flags are read later as a word). */
function skipRegex(source: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < source.length) {
    const code = source.charCodeAt(i);
    if (code === 92) { i += 2; continue; }
    if (isLineTerminator(code)) return i;
    if (code === 91) inClass = true;
    else if (code === 93) inClass = false;
    else if (code === 47 && !inClass) return i + 1;
    i++;
  }
  return i;
}

/**
 * Read template text from `start` (just after a backtick or a substitution's `}`).
 * @returns the offset past the closing backtick (`substitution: false`) or past `${` (`true`)
 */
function skipTemplateText(source: string, start: number): { end: number; substitution: boolean } {
  let i = start;
  while (i < source.length) {
    const code = source.charCodeAt(i);
    if (code === 92) { i += 2; continue; }
    if (code === 96) return { end: i + 1, substitution: false };
    if (code === 36 && source.charCodeAt(i + 1) === 123) return { end: i + 2, substitution: true };
    i++;
  }
  return { end: i, substitution: false };
}

/**
 * Find the first bracket nested deeper than `maxDepth`, in one pass and without recursion.
 * Counts `(`, `[`, `{` and template `${`; ignores brackets in strings, comments, template text
 * and regex literals. Unbalanced closers are ignored (the parser reports them).
 * @param source module text (any size; time is linear, memory is O(maxDepth))
 * @param maxDepth deepest accepted nesting, a positive integer
 * @returns `{ ok: true, maxDepth }` or `{ ok: false, offset, depth }` for the first bracket past the limit
 */
export function scanNesting(source: string, maxDepth: number): NestingScanResult {
  const stack: number[] = [];
  let deepest = 0;
  let regexAllowed = true;
  let i = 0;
  const n = source.length;
  if (source.startsWith('#!')) {
    while (i < n && !isLineTerminator(source.charCodeAt(i))) i++;
  }

  const open = (kind: number, at: number): NestingScanResult | null => {
    stack.push(kind);
    if (stack.length > deepest) deepest = stack.length;
    return stack.length > maxDepth ? { ok: false, offset: at, depth: stack.length } : null;
  };
  /** Skip template text from `from`; a `${` that follows opens a substitution. */
  const templateText = (from: number): NestingScanResult | null => {
    const text = skipTemplateText(source, from);
    i = text.end;
    regexAllowed = text.substitution;
    return text.substitution ? open(SUBSTITUTION, text.end - 2) : null;
  };

  while (i < n) {
    const code = source.charCodeAt(i);
    if (isSpace(code)) { i++; continue; }

    if (code === 47) { // '/'
      const next = source.charCodeAt(i + 1);
      if (next === 47) { // line comment
        i += 2;
        while (i < n && !isLineTerminator(source.charCodeAt(i))) i++;
        continue;
      }
      if (next === 42) { // block comment
        const end = source.indexOf('*/', i + 2);
        i = end === -1 ? n : end + 2;
        continue;
      }
      if (regexAllowed) { i = skipRegex(source, i); regexAllowed = false; continue; }
      i++;
      regexAllowed = true;
      continue;
    }

    if (code === 39 || code === 34) { i = skipString(source, i); regexAllowed = false; continue; }

    if (code === 96) { // '`'
      const over = templateText(i + 1);
      if (over) return over;
      continue;
    }

    if (code === 40 || code === 91 || code === 123) { // ( [ {
      const over = open(BRACKET, i);
      if (over) return over;
      regexAllowed = true;
      i++;
      continue;
    }

    if (code === 41 || code === 93 || code === 125) { // ) ] }
      const kind = stack.pop();
      i++;
      if (code === 125 && kind === SUBSTITUTION) {
        const over = templateText(i);
        if (over) return over;
        continue;
      }
      regexAllowed = false;
      continue;
    }

    if (isWordChar(code)) {
      const start = i;
      while (i < n && isWordChar(source.charCodeAt(i))) i++;
      regexAllowed = i - start <= 10 && REGEX_AFTER_WORD.has(source.slice(start, i));
      continue;
    }

    // Any other punctuator: an operand may follow, so a `/` would start a regex.
    regexAllowed = true;
    i++;
  }
  return { ok: true, maxDepth: deepest };
}
