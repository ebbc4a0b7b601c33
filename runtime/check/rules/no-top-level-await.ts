/**
 * Rule `no-top-level-await`: `await`, `for await` and `await using` outside any function.
 *
 * Decision: the parser accepts top-level await (it is standard ES module syntax), the platform
 * refuses it. Module code runs once per isolate at cold start, before any request and without a
 * `ctx`, so there is no builtin it could await; and a pending top-level await would stall the
 * cold start of every request routed to that isolate, outside any invocation's time limit.
 */
import type { File } from '@babel/types';
import type { Diagnostic, Rule, RuleContext } from '../types.ts';
import { enclosingFunction } from '../walk.ts';

const NAME = 'no-top-level-await';
const WHY = 'Module code runs once when an isolate starts, before any request and without `ctx`, so there is nothing to wait for, and a pending top-level await would stall every cold start.';
const HINT = 'Move the await into the handler (`export default async function handler(req, ctx) { const x = await …; }`); to compute something once, cache it in a module variable on first use.';

/** Rule: no `await` at module level. */
export const noTopLevelAwait: Rule = {
  name: NAME,
  description: 'Refuses `await`, `for await` and `await using` at the top level of the module.',
  check(_ast: File, ctx: RuleContext): Diagnostic[] {
    const found: Diagnostic[] = [];
    for (const visit of ctx.nodes) {
      if (ctx.full(found)) break;
      const node = visit.node;
      let what: string | null = null;
      if (node.type === 'AwaitExpression') what = '`await`';
      else if (node.type === 'ForOfStatement' && node.await) what = '`for await`';
      else if (node.type === 'VariableDeclaration' && node.kind === 'await using') what = '`await using`';
      if (what === null || enclosingFunction(visit) !== null) continue;
      found.push(ctx.report(NAME, node, `Found ${what} at the top level of the module. ${WHY}`, HINT));
    }
    return found;
  },
};
