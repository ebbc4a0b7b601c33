/**
 * The registry of AST rules, run in this order on every parsed module. Limits (`code-size`,
 * `nesting-depth`) and `syntax` are not rules: `../index.ts` applies them before parsing or
 * walking. Add a rule: one file here exporting a `Rule`, an entry below, a row in README.md.
 */
import type { Rule } from '../types.ts';
import { defaultExport } from './default-export.ts';
import { noEval } from './no-eval.ts';
import { noNewFunction } from './no-new-function.ts';
import { noWith } from './no-with.ts';
import { noDynamicImport } from './no-dynamic-import.ts';
import { allowedImports } from './allowed-imports.ts';
import { noTopLevelAwait } from './no-top-level-await.ts';

export { PLATFORM_MODULES, isPlatformModule } from './allowed-imports.ts';
export type { PlatformModule } from './allowed-imports.ts';

/** Every AST rule, frozen; names are unique. */
export const RULES: readonly Rule[] = Object.freeze([
  defaultExport,
  noEval,
  noNewFunction,
  noWith,
  noDynamicImport,
  allowedImports,
  noTopLevelAwait,
]);

/** Rule names, including the limit and syntax checks that are not AST rules. */
export const RULE_NAMES: readonly string[] = Object.freeze(['code-size', 'nesting-depth', 'syntax', ...RULES.map((rule) => rule.name)]);
