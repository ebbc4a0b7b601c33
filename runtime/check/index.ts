/**
 * `checkModule`: decide whether an uploaded function module may be stored. Never throws on user
 * code; returns every finding as an actionable Diagnostic (CONVENTIONS.md, habit 6).
 *
 * Order, cheapest first, each step only when the previous passed:
 *   1. `code-size` — UTF-8 byte length against `maxCodeBytes`, before anything reads the code;
 *   2. `nesting-depth` — a linear bracket-depth scan, so a parse bomb never reaches the
 *      recursive parser (`nesting-scan.ts`);
 *   3. `syntax` — @babel/parser (`../parse.ts`);
 *   4. `nesting-depth` — the exact syntax-tree depth, from one iterative walk (`walk.ts`);
 *   5. the AST rules (`rules/index.ts`), all of them, so every finding is reported at once.
 *
 * These checks give early, clear errors at deploy time. They are not the security boundary:
 * the isolate also disables code generation from strings and resolves only platform modules.
 */
import { Buffer } from 'node:buffer';
import { parseModule } from '../parse.ts';
import { codeFrame, indexLines, locate } from './frame.ts';
import { resolveCheckOptions } from './options.ts';
import { scanNesting } from './nesting-scan.ts';
import { collectNodes } from './walk.ts';
import { createRuleContext, targetPosition } from './context.ts';
import { RULES } from './rules/index.ts';
import type { File } from '@babel/types';
import type { CheckOptions, CheckResult, Diagnostic, ResolvedCheckOptions, RuleContext } from './types.ts';

export { resolveCheckOptions, DEFAULT_CHECK_OPTIONS } from './options.ts';
export { RULES, RULE_NAMES, PLATFORM_MODULES, isPlatformModule } from './rules/index.ts';
export { codeFrame } from './frame.ts';
export type { CheckOptions, CheckResult, Diagnostic, ResolvedCheckOptions, Rule, RuleContext } from './types.ts';

const FLATTEN_HINT =
  'Flatten the code: move deeply nested parts into named functions or variables; for large nested data, ' +
  'keep it out of the code (e.g. in `ctx.config`) or split it into smaller constants.';

function refused(diagnostics: Diagnostic[], truncated = false): CheckResult {
  return { ok: !diagnostics.some((d) => d.severity === 'error'), diagnostics, truncated };
}

/**
 * Check one uploaded function module.
 * @param source the module text (an ES module, JavaScript only)
 * @param options limits (see CheckOptions; units: bytes, nesting levels, diagnostics), or an
 *   object from `resolveCheckOptions` to skip re-validation
 * @returns `{ ok, diagnostics, truncated }`: `ok` is false when any diagnostic is an error;
 *   diagnostics are sorted by line and column, at most `maxDiagnostics` of them
 * @throws TypeError (code `ERR_INVALID_ARG_VALUE`) for bad options or a non-string `source` —
 *   programmer errors; never for anything in the module's text
 * @example
 *   const result = checkModule(code);
 *   if (!result.ok) throw runtimeError('E_CHECK', 'module refused', { diagnostics: result.diagnostics });
 */
export function checkModule(source: string, options?: CheckOptions | ResolvedCheckOptions): CheckResult {
  const opts = resolveCheckOptions(options);
  if (typeof source !== 'string') {
    throw Object.assign(new TypeError(`checkModule: source must be a string, got ${typeof source}`), { code: 'ERR_INVALID_ARG_VALUE' });
  }

  const bytes = Buffer.byteLength(source, 'utf8');
  if (bytes > opts.maxCodeBytes) {
    return refused([{
      rule: 'code-size',
      severity: 'error',
      message: `The module is ${bytes} bytes, over the limit of ${opts.maxCodeBytes} bytes (UTF-8). Code is kept in memory by every isolate that runs it, so its size is bounded.`,
      hint: 'Make the module smaller: minify it, remove unused code and dependencies from the bundle, and move large data (tables, word lists) out of the code into `ctx.config`, SQL or Redis.',
      line: 1,
      column: 1,
      frame: codeFrame(source.slice(0, 4096), 1, 1),
    }]);
  }

  const lines = indexLines(source);
  const scan = scanNesting(source, opts.maxNestingDepth);
  if (!scan.ok) {
    const { line, column } = locate(lines, scan.offset);
    return refused([{
      rule: 'nesting-depth',
      severity: 'error',
      message: `Brackets are nested more than ${opts.maxNestingDepth} levels deep here. Deep nesting can exhaust the parser's stack, so it is refused before parsing.`,
      hint: FLATTEN_HINT,
      line,
      column,
      frame: codeFrame(lines, line, column),
    }]);
  }

  const parsed = parseModule(source);
  if (!parsed.ok) return refused([parsed.diagnostic]);

  const walk = collectNodes(parsed.ast.program, opts.maxNestingDepth);
  if (walk.tooDeep) {
    const { line, column } = targetPosition(walk.tooDeep.node);
    return refused([{
      rule: 'nesting-depth',
      severity: 'error',
      message: `The code is nested more than ${opts.maxNestingDepth} levels deep here (statements, expressions and blocks, counted in the syntax tree). Very deep code is refused so checking and compiling it stays bounded.`,
      hint: FLATTEN_HINT,
      line,
      column,
      frame: codeFrame(lines, line, column),
    }]);
  }

  return runRules(parsed.ast, createRuleContext(lines, opts, walk.nodes), opts);
}

function runRules(ast: File, ctx: RuleContext, opts: ResolvedCheckOptions): CheckResult {
  const all: Diagnostic[] = [];
  for (const rule of RULES) all.push(...rule.check(ast, ctx));
  all.sort((a, b) => a.line - b.line || a.column - b.column);
  const truncated = all.length > opts.maxDiagnostics;
  return refused(truncated ? all.slice(0, opts.maxDiagnostics) : all, truncated);
}
