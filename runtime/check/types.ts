/**
 * Shapes shared by the parser and the checker. The checker never throws on user code: it
 * returns diagnostics (CONVENTIONS.md, habit 6).
 */
import type { File, Node } from '@babel/types';

/** One finding about an uploaded module: what, where, why, and how to fix it. */
export interface Diagnostic {
  /**
   * Rule name: `syntax`, `code-size`, `nesting-depth`, or one of the AST rules in
   * `rules/index.ts` (`default-export`, `no-eval`, `no-new-function`, `no-with`,
   * `no-dynamic-import`, `allowed-imports`, `no-top-level-await`).
   */
  rule: string;
  /** `error` refuses the deploy; `warning` is reported but does not. */
  severity: 'error' | 'warning';
  /** What was found and why it is refused, in one or two sentences. */
  message: string;
  /** How to fix it. */
  hint: string;
  /** 1-based line of the finding. Lines end at `\n`, `\r\n`, `\r`, U+2028 and U+2029 (as in ECMAScript). */
  line: number;
  /** 1-based column of the finding, counted in UTF-16 code units (as JavaScript string indices are). */
  column: number;
  /** A code frame: a few lines around the finding with a caret under the column (see `frame.ts`). */
  frame: string;
}

/** Options for checking one module; every field has a default. */
export interface CheckOptions {
  /** Largest accepted source, in bytes (UTF-8). @default 1_048_576 (1 MiB) */
  maxCodeBytes?: number;
  /**
   * Deepest accepted nesting. Checked twice: bracket depth (`(`, `[`, `{`, `${`) before parsing,
   * and syntax-tree depth (statements, expressions, blocks; `Program` is depth 1) after it.
   * @default 200
   */
  maxNestingDepth?: number;
  /**
   * Most diagnostics returned for one module (the first ones by position); more set
   * `CheckResult.truncated`. Bounds the response for a module with thousands of findings.
   * @default 100
   */
  maxDiagnostics?: number;
}

/** CheckOptions after validation: every field present, object frozen. */
export type ResolvedCheckOptions = Readonly<Required<CheckOptions>>;

/** Result of checking one module. `ok` is false when any diagnostic has severity `error`. */
export interface CheckResult {
  ok: boolean;
  /** Findings sorted by line, then column; at most `maxDiagnostics` of them. */
  diagnostics: Diagnostic[];
  /** True when more findings existed than `maxDiagnostics`; only the first ones are listed. */
  truncated?: boolean;
}

/** One node met by the iterative walk (`walk.ts`), with the way back to its ancestors. */
export interface NodeVisit {
  readonly node: Node;
  /** The visit of the node that holds this one; `null` for the root (`Program`). */
  readonly parent: NodeVisit | null;
  /** The property of the parent node that holds this node (e.g. `callee`, `body`); `null` for the root. */
  readonly key: string | null;
  /** 1 for the root, parent's depth + 1 below it. */
  readonly depth: number;
}

/** Where a diagnostic points: a node (its start) or an explicit 1-based position. */
export type DiagnosticTarget = Node | { readonly line: number; readonly column: number };

/** What every rule receives besides the AST; built once per module by `context.ts`. */
export interface RuleContext {
  /** The module's source text. */
  readonly source: string;
  /** The validated options. */
  readonly options: ResolvedCheckOptions;
  /** Every node of the program in pre-order (document order), computed once without recursion. */
  readonly nodes: readonly NodeVisit[];
  /**
   * Build an `error` diagnostic at `target` with its code frame.
   * @param rule rule name
   * @param target node (its start position) or 1-based line/column
   * @param message what was found and why it is refused
   * @param hint how to fix it
   */
  report(rule: string, target: DiagnosticTarget, message: string, hint: string): Diagnostic;
  /** True once `list` holds more than `maxDiagnostics` entries: a rule may stop looking. */
  full(list: readonly Diagnostic[]): boolean;
}

/** One AST rule: a name and a pure check over the parsed module. */
export interface Rule {
  /** Stable rule name, reported in `Diagnostic.rule` and documented in README.md. */
  readonly name: string;
  /** One line: what the rule refuses. */
  readonly description: string;
  /** Return every finding (stopping early once `ctx.full()`); never throws on user code. */
  check(ast: File, ctx: RuleContext): Diagnostic[];
}
