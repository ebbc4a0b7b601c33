/**
 * Rule `no-new-function`: the `Function` constructor and its siblings (`AsyncFunction`,
 * `GeneratorFunction`, `AsyncGeneratorFunction`) compile strings to code. Refused: calling or
 * constructing them (`new Function('a', 'return a')`, `Function('…')()`, `globalThis.Function(…)`),
 * passing them around (`const F = Function`, `Reflect.construct(Function, …)`), and calling the
 * `.constructor` of a function literal (`(async () => {}).constructor('…')`).
 * Allowed: `x instanceof Function`, `typeof Function`, `Function.prototype…`, and names that
 * only contain the word (`isFunction`, `{ Function: 1 }`, `obj.Function`).
 *
 * An early, clear error, not the security boundary: the isolate disables code generation.
 */
import type { File, Node } from '@babel/types';
import type { Diagnostic, NodeVisit, Rule, RuleContext } from '../types.ts';
import { isGlobalObject, isReference, staticMemberName } from '../walk.ts';

const NAME = 'no-new-function';
const CONSTRUCTORS: ReadonlySet<string> = new Set(['Function', 'AsyncFunction', 'GeneratorFunction', 'AsyncGeneratorFunction']);
const WHY = 'Functions run in a sandbox that forbids compiling code from strings at run time.';
const HINT = 'Write the code as an ordinary function (arrow or `function`) instead of building it from a string; for data, use `JSON.parse`.';

const FUNCTION_LITERALS = new Set(['FunctionExpression', 'ArrowFunctionExpression', 'ClassExpression']);

/** How `node` (which denotes a code-compiling constructor) is used, or null when the use is harmless. */
function describeUse(visit: NodeVisit, name: string): string | null {
  const parent = visit.parent?.node;
  if (!parent) return `a reference to \`${name}\``;
  if (parent.type === 'NewExpression' && visit.key === 'callee') return `\`new ${name}(...)\``;
  if ((parent.type === 'CallExpression' || parent.type === 'OptionalCallExpression') && visit.key === 'callee') return `a call to \`${name}(...)\``;
  if (parent.type === 'BinaryExpression' && parent.operator === 'instanceof' && visit.key === 'right') return null;
  if (parent.type === 'UnaryExpression' && parent.operator === 'typeof') return null;
  if ((parent.type === 'MemberExpression' || parent.type === 'OptionalMemberExpression') && visit.key === 'object' && staticMemberName(parent) === 'prototype') return null;
  return `a reference to \`${name}\` (it can be called later to compile code)`;
}

/** `<function literal>.constructor` or `<Constructor>.prototype.constructor`, as a callee. */
function isConstructorOfFunction(callee: Node): boolean {
  if (staticMemberName(callee) !== 'constructor') return false;
  const object = (callee as { object: Node }).object;
  if (FUNCTION_LITERALS.has(object.type)) return true;
  if (staticMemberName(object) !== 'prototype') return false;
  const owner = (object as { object: Node }).object;
  return owner.type === 'Identifier' && CONSTRUCTORS.has(owner.name);
}

/** Rule: no `Function` constructor (or its async/generator siblings). */
export const noNewFunction: Rule = {
  name: NAME,
  description: 'Refuses `new Function(...)`, `Function(...)` and their async/generator siblings.',
  check(_ast: File, ctx: RuleContext): Diagnostic[] {
    const found: Diagnostic[] = [];
    for (const visit of ctx.nodes) {
      if (ctx.full(found)) break;
      const node = visit.node;
      let name: string | null = null;
      if (node.type === 'Identifier' && CONSTRUCTORS.has(node.name) && isReference(visit)) name = node.name;
      else if (node.type === 'MemberExpression' || node.type === 'OptionalMemberExpression') {
        const member = staticMemberName(node);
        if (member !== null && CONSTRUCTORS.has(member) && isGlobalObject(node.object)) name = member;
      } else if ((node.type === 'CallExpression' || node.type === 'NewExpression' || node.type === 'OptionalCallExpression') && isConstructorOfFunction(node.callee)) {
        found.push(ctx.report(NAME, node.callee,
          `Found a call to a function's \`.constructor\`, which is the \`Function\` constructor and compiles a string to code. ${WHY}`, HINT));
        continue;
      }
      if (name === null) continue;
      const use = describeUse(visit, name);
      if (use !== null) found.push(ctx.report(NAME, node, `Found ${use}. ${WHY}`, HINT));
    }
    return found;
  },
};
