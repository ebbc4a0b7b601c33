/**
 * Iterative syntax-tree walking for the checker. Nothing here recurses, so a deep but legal
 * module (or a hostile one just under the parser's limit) cannot overflow the host's stack.
 * Also the helpers rules share: is an identifier a reference, what is a member's static name,
 * does an expression denote the global object.
 */
import type { Node } from '@babel/types';
import type { NodeVisit } from './types.ts';

/** Node properties that hold positions, comments or parser extras — never child nodes. */
const NOT_CHILDREN = new Set([
  'type', 'loc', 'start', 'end', 'range', 'extra', 'comments', 'leadingComments', 'trailingComments', 'innerComments', 'errors', 'tokens',
]);

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

/** The result of `collectNodes`. */
export interface CollectedNodes {
  /** Every node in pre-order (document order); incomplete when `tooDeep` is set. */
  readonly nodes: readonly NodeVisit[];
  /** The first node (in pre-order) deeper than the limit, or `null`. */
  readonly tooDeep: NodeVisit | null;
}

/**
 * Walk a tree with an explicit stack, listing every node once in pre-order.
 * @param root usually `ast.program` (depth 1)
 * @param maxDepth stop at the first node deeper than this (a positive integer)
 * @returns the visits, and the first too-deep visit if any (the walk stops there)
 */
export function collectNodes(root: Node, maxDepth: number): CollectedNodes {
  const nodes: NodeVisit[] = [];
  const stack: NodeVisit[] = [{ node: root, parent: null, key: null, depth: 1 }];
  while (stack.length > 0) {
    const visit = stack.pop() as NodeVisit;
    if (visit.depth > maxDepth) return { nodes, tooDeep: visit };
    nodes.push(visit);
    const fields = visit.node as unknown as Record<string, unknown>;
    const depth = visit.depth + 1;
    const first = stack.length;
    for (const key in fields) {
      if (NOT_CHILDREN.has(key)) continue;
      const value = fields[key];
      if (typeof value !== 'object' || value === null) continue;
      if (Array.isArray(value)) {
        for (const item of value) if (isNode(item)) stack.push({ node: item, parent: visit, key, depth });
      } else if (isNode(value)) {
        stack.push({ node: value, parent: visit, key, depth });
      }
    }
    // Babel lists a node's fields in source order; reverse this node's children in place so the first pops first.
    for (let a = first, b = stack.length - 1; a < b; a++, b--) {
      const swap = stack[a];
      stack[a] = stack[b];
      stack[b] = swap;
    }
  }
  return { nodes, tooDeep: null };
}

/**
 * Whether an `Identifier` visit reads or writes a variable, as opposed to naming a property,
 * a label, or a binding of another module (`{ eval: 1 }`, `obj.eval`, `#eval`, `export { x as eval }`).
 * @param visit a visit whose node is an Identifier
 */
export function isReference(visit: NodeVisit): boolean {
  const parent = visit.parent?.node;
  if (!parent) return true;
  switch (parent.type) {
    case 'MemberExpression':
    case 'OptionalMemberExpression':
      return visit.key !== 'property' || parent.computed;
    case 'ObjectProperty':
    case 'ObjectMethod':
    case 'ClassProperty':
    case 'ClassMethod':
    case 'ClassAccessorProperty':
      return visit.key !== 'key' || parent.computed;
    case 'ClassPrivateProperty':
    case 'ClassPrivateMethod':
      return visit.key !== 'key';
    case 'LabeledStatement':
    case 'BreakStatement':
    case 'ContinueStatement':
    case 'MetaProperty':
    case 'PrivateName':
    case 'ImportAttribute':
      return false;
    case 'ImportSpecifier':
      return visit.key !== 'imported';
    case 'ExportNamespaceSpecifier':
    case 'ExportDefaultSpecifier':
      return false;
    case 'ExportSpecifier': {
      if (visit.key === 'exported') return false;
      const declaration = visit.parent?.parent?.node;
      return !(declaration?.type === 'ExportNamedDeclaration' && declaration.source);
    }
    default:
      return true;
  }
}

/**
 * The property name a member expression reads when it is known statically:
 * `a.b` → `b`, `a['b']` → `b`, ``a[`b`]`` → `b`; otherwise `null`.
 */
export function staticMemberName(node: Node): string | null {
  if (node.type !== 'MemberExpression' && node.type !== 'OptionalMemberExpression') return null;
  const property = node.property;
  if (!node.computed) return property.type === 'Identifier' ? property.name : null;
  if (property.type === 'StringLiteral') return property.value;
  if (property.type === 'TemplateLiteral' && property.expressions.length === 0) return property.quasis[0]?.value.cooked ?? null;
  return null;
}

/** Names under which the global object is reachable in browsers, Node or workers. */
export const GLOBAL_OBJECT_NAMES: ReadonlySet<string> = new Set(['globalThis', 'window', 'self', 'global', 'frames']);

/**
 * Whether an expression denotes the global object: `globalThis`, `window`, `self`, `global`,
 * `frames`, or a static member chain of them (`window.globalThis`).
 */
export function isGlobalObject(node: Node): boolean {
  let current: Node = node;
  for (;;) {
    if (current.type === 'Identifier') return GLOBAL_OBJECT_NAMES.has(current.name);
    const name = staticMemberName(current);
    if (name === null || !GLOBAL_OBJECT_NAMES.has(name)) return false;
    current = (current as { object: Node }).object;
  }
}

/** Node types that start a new function scope (where `await` stops being top-level). */
const FUNCTION_TYPES = new Set([
  'FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression', 'ObjectMethod', 'ClassMethod', 'ClassPrivateMethod',
]);

/** The nearest enclosing function's visit, or `null` when the node is at module level. */
export function enclosingFunction(visit: NodeVisit): NodeVisit | null {
  for (let up = visit.parent; up; up = up.parent) if (FUNCTION_TYPES.has(up.node.type)) return up;
  return null;
}
