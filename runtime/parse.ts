/**
 * Parse one uploaded function module with @babel/parser. A syntax error becomes one
 * `syntax` Diagnostic with line, column and code frame; nothing here throws on user input.
 *
 * The module is read as an ES module (strict mode, `import`/`export`, top-level `await` is
 * syntax the parser accepts — the checker's `no-top-level-await` rule then refuses it) with the
 * parser's default, standard syntax: no JSX, TypeScript or Flow plugins, so those must be
 * compiled to JavaScript before upload. `errorRecovery` is off: the first error stops the parse.
 */
import { parse } from '@babel/parser';
import type { ParserOptions } from '@babel/parser';
import type { File } from '@babel/types';
import type { Diagnostic } from './check/types.ts';
import { codeFrame } from './check/frame.ts';

/** The result of `parseModule`. `ast.program.body` holds the top-level statements; every node has `loc`. */
export type ParseModuleResult =
  | { readonly ok: true; readonly ast: File }
  | { readonly ok: false; readonly diagnostic: Diagnostic };

/** @babel/parser options used for every module (see the file comment for why). */
export const PARSER_OPTIONS: Readonly<ParserOptions> = Object.freeze({
  sourceType: 'module',
  errorRecovery: false,
  locations: true,
  attachComment: false,
  tokens: false,
  createImportExpressions: true,
});

const GENERIC_HINT =
  'Fix the code at this position. Modules are parsed as standard ES modules (strict mode); ' +
  'TypeScript, JSX and Flow must be compiled to plain JavaScript before upload.';

/** Better hints for parser errors a function author is likely to meet, by Babel's `reasonCode`. */
const HINTS: Readonly<Record<string, { note?: string; hint: string }>> = {
  StrictWith: {
    note: 'Modules are strict-mode code, where `with` statements do not exist.',
    hint: 'Replace `with (obj) { x }` with explicit property access (`obj.x`) or destructuring (`const { x } = obj;`).',
  },
  MissingOneOfPlugins: {
    hint: 'Only standard JavaScript is accepted: compile TypeScript or JSX to a plain ES module (e.g. `esbuild --format=esm`) before upload.',
  },
  MissingPlugin: {
    hint: 'Only standard JavaScript is accepted: remove the experimental syntax or compile it away before upload.',
  },
  StrictEvalArgumentsBinding: {
    hint: '`eval` and `arguments` cannot be used as names in strict mode: rename the binding.',
  },
  ImportOutsideModule: { hint: 'Use `import` only at the top level of the module.' },
  UnexpectedImportExport: { hint: '`import` and `export` declarations must be at the top level of the module, not inside a block or function.' },
  DuplicateDefaultExport: { hint: 'Keep one `export default` — the handler the platform calls.' },
};

function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

/**
 * Parse an ES module source.
 * @param source the module text (size and bracket nesting should already be bounded by the
 *   checker; see `check/index.ts`)
 * @returns `{ ok: true, ast }` — a Babel `File` whose nodes carry `loc` (1-based lines,
 *   0-based columns) — or `{ ok: false, diagnostic }` with rule `syntax`, the parser's message
 *   without its `(line:col)` suffix, 1-based line and column, a hint and a code frame. If the
 *   parser runs out of stack on nesting the pre-scan does not count (e.g. thousands of chained
 *   `!` or `if`), the diagnostic has rule `nesting-depth` at line 1, column 1.
 *   Never throws.
 */
export function parseModule(source: string): ParseModuleResult {
  try {
    return { ok: true, ast: parse(source, { ...PARSER_OPTIONS }) };
  } catch (error) {
    return { ok: false, diagnostic: diagnosticFromParseError(source, error) };
  }
}

function diagnosticFromParseError(source: string, error: unknown): Diagnostic {
  if (isStackOverflow(error)) {
    return {
      rule: 'nesting-depth',
      severity: 'error',
      message:
        'The module is nested too deeply for the parser (for example thousands of chained `if`, unary operators, ' +
        'arrow functions or assignments); it is refused so that deep nesting cannot exhaust the platform\'s stack.',
      hint: 'Flatten the code: split deep chains into named functions or variables, or use a loop over data instead of generated nesting.',
      line: 1,
      column: 1,
      frame: codeFrame(source, 1, 1),
    };
  }
  const details = error as { message?: unknown; loc?: { line?: unknown; column?: unknown }; reasonCode?: unknown };
  const rawMessage = typeof details.message === 'string' ? details.message : String(error);
  const line = typeof details.loc?.line === 'number' ? details.loc.line : 1;
  const column = typeof details.loc?.column === 'number' ? details.loc.column + 1 : 1;
  const cleaned = rawMessage.replace(/\s*\(\d+:\d+\)\s*$/, '');
  const known = typeof details.reasonCode === 'string' ? HINTS[details.reasonCode] : undefined;
  const base = details.loc ? cleaned : `The parser could not read this module: ${cleaned}`;
  return {
    rule: 'syntax',
    severity: 'error',
    message: known?.note ? `${base} ${known.note}` : base,
    hint: known?.hint ?? GENERIC_HINT,
    line,
    column,
    frame: codeFrame(source, line, column),
  };
}
