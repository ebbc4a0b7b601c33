/**
 * Rule `no-eval`: any reference to `eval` — `eval(code)`, `(0, eval)(code)`, `const e = eval`,
 * `globalThis.eval`, `window['eval']`. Property names that merely spell `eval` (`{ eval: 1 }`,
 * `engine.eval(x)`, `class { eval() {} }`) are not references and pass.
 *
 * Like every rule here, this gives an early, clear error at deploy time; it is not the security
 * boundary. The isolate itself disables code generation from strings, so a disguised `eval`
 * (`globalThis[name]`) still fails at run time.
 */
import type { File } from '@babel/types';
import type { Diagnostic, Rule, RuleContext } from '../types.ts';
import { isGlobalObject, isReference, staticMemberName } from '../walk.ts';

const NAME = 'no-eval';
const WHY = 'Functions run in a sandbox that forbids compiling code from strings at run time, so `eval` is not available.';
const HINT = 'Parse data with `JSON.parse`, and write logic as ordinary functions (for a table of operations, use an object of functions keyed by name).';

/** Rule: no reference to `eval`. */
export const noEval: Rule = {
  name: NAME,
  description: 'Refuses any reference to `eval`, direct or through the global object.',
  check(_ast: File, ctx: RuleContext): Diagnostic[] {
    const found: Diagnostic[] = [];
    for (const visit of ctx.nodes) {
      if (ctx.full(found)) break;
      const node = visit.node;
      if (node.type === 'Identifier' && node.name === 'eval' && isReference(visit)) {
        const called = (visit.parent?.node.type === 'CallExpression' || visit.parent?.node.type === 'OptionalCallExpression') && visit.key === 'callee';
        found.push(ctx.report(NAME, node, `Found ${called ? 'a call to `eval(...)`' : 'a reference to `eval`'}. ${WHY}`, HINT));
      } else if ((node.type === 'MemberExpression' || node.type === 'OptionalMemberExpression') && staticMemberName(node) === 'eval' && isGlobalObject(node.object)) {
        found.push(ctx.report(NAME, node.property, `Found \`eval\` read from the global object. ${WHY}`, HINT));
      }
    }
    return found;
  },
};
