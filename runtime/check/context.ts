/**
 * The per-module context every rule receives: source, options, the node list from one
 * iterative walk, and a diagnostic builder that adds the code frame.
 */
import type { Diagnostic, DiagnosticTarget, NodeVisit, ResolvedCheckOptions, RuleContext } from './types.ts';
import { codeFrame } from './frame.ts';
import type { LineIndex } from './frame.ts';

/**
 * 1-based line and column of a diagnostic target (a node's start, or an explicit position).
 * Nodes without `loc` point at line 1, column 1.
 */
export function targetPosition(target: DiagnosticTarget): { line: number; column: number } {
  if ('type' in target) {
    const start = target.loc?.start;
    return start ? { line: start.line, column: start.column + 1 } : { line: 1, column: 1 };
  }
  return { line: target.line, column: target.column };
}

/**
 * Build the context for one parsed module.
 * @param lines the module's line index (its `source` is the module text)
 * @param options validated options
 * @param nodes every program node in pre-order, from `collectNodes`
 */
export function createRuleContext(lines: LineIndex, options: ResolvedCheckOptions, nodes: readonly NodeVisit[]): RuleContext {
  return Object.freeze({
    source: lines.source,
    options,
    nodes,
    report(rule: string, target: DiagnosticTarget, message: string, hint: string): Diagnostic {
      const { line, column } = targetPosition(target);
      return { rule, severity: 'error', message, hint, line, column, frame: codeFrame(lines, line, column) };
    },
    full(list: readonly Diagnostic[]): boolean {
      return list.length > options.maxDiagnostics;
    },
  });
}
