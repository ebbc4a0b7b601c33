/**
 * Shapes shared by the parser and the checker. The checker never throws on user code: it
 * returns diagnostics (CONVENTIONS.md, habit 6).
 */

/** One finding about an uploaded module: what, where, why, and how to fix it. */
export interface Diagnostic {
  /** Rule name, e.g. `syntax`, `no-eval`, `default-export`, `code-size`, `nesting-depth`. */
  rule: string;
  /** `error` refuses the deploy; `warning` is reported but does not. */
  severity: 'error' | 'warning';
  /** What was found and why it is refused, in one or two sentences. */
  message: string;
  /** How to fix it. */
  hint: string;
  /** 1-based line of the finding. */
  line: number;
  /** 1-based column of the finding. */
  column: number;
  /** A code frame: a few lines around the finding with a caret under the column. */
  frame: string;
}

/** Options for checking one module; every field has a default. */
export interface CheckOptions {
  /** Largest accepted source, in bytes (UTF-8). @default 1_048_576 (1 MiB) */
  maxCodeBytes?: number;
  /** Deepest accepted AST nesting (statements, expressions, blocks). @default 200 */
  maxNestingDepth?: number;
}

/** Result of checking one module. `ok` is false when any diagnostic has severity `error`. */
export interface CheckResult {
  ok: boolean;
  diagnostics: Diagnostic[];
}
