/**
 * Rule `no-dynamic-import`: `import(...)` expressions. A function is deployed as one
 * self-contained module and the sandbox has no module loader at run time, so a dynamic import
 * could never load anything. An early, clear error, not the security boundary.
 */
import type { File } from '@babel/types';
import type { Diagnostic, Rule, RuleContext } from '../types.ts';

const NAME = 'no-dynamic-import';

/** Rule: no `import(...)` expressions. */
export const noDynamicImport: Rule = {
  name: NAME,
  description: 'Refuses dynamic `import(...)` expressions.',
  check(_ast: File, ctx: RuleContext): Diagnostic[] {
    const found: Diagnostic[] = [];
    for (const visit of ctx.nodes) {
      if (ctx.full(found)) break;
      const node = visit.node;
      // Babel 8 builds ImportExpression; the CallExpression form is what `createImportExpressions: false` builds.
      const isDynamicImport = node.type === 'ImportExpression' || (node.type === 'CallExpression' && node.callee.type === 'Import');
      if (!isDynamicImport) continue;
      found.push(ctx.report(NAME, node,
        'Found a dynamic `import(...)`. A function is deployed as one self-contained module and the sandbox has no module loader at run time, so nothing can be imported dynamically.',
        'Import platform modules statically at the top of the file (`import { response } from \'faas\';`) and bundle your own code into this module (e.g. `esbuild --bundle --format=esm --external:faas`).'));
    }
    return found;
  },
};
