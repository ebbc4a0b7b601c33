/**
 * Rule `no-with`: `with` statements. Modules are strict-mode code, where the parser already
 * rejects `with` (reported under rule `syntax`, with a note that modules are strict); this rule
 * keeps the refusal explicit should the parser ever accept it (e.g. a script-mode parse).
 */
import type { File } from '@babel/types';
import type { Diagnostic, Rule, RuleContext } from '../types.ts';

const NAME = 'no-with';

/** Rule: no `with` statements. */
export const noWith: Rule = {
  name: NAME,
  description: 'Refuses `with` statements.',
  check(_ast: File, ctx: RuleContext): Diagnostic[] {
    const found: Diagnostic[] = [];
    for (const visit of ctx.nodes) {
      if (ctx.full(found)) break;
      if (visit.node.type !== 'WithStatement') continue;
      found.push(ctx.report(NAME, visit.node,
        'Found a `with` statement. Function modules are strict-mode code, where `with` does not exist, and it hides which names reach the sandbox\'s globals.',
        'Replace `with (obj) { x }` with explicit property access (`obj.x`) or destructuring (`const { x } = obj;`).'));
    }
    return found;
  },
};
