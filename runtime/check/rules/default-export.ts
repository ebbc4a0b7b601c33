/**
 * Rule `default-export`: the module must `export default` the handler function — the one thing
 * the runtime calls for every request. Accepted: a function declaration or expression (async or
 * not, named or anonymous), an arrow function, or an identifier bound at the top level to one of
 * those (`function handler…` / `const handler = async () => …`), also via `export { handler as default }`.
 */
import type { File, Node, Statement } from '@babel/types';
import type { Diagnostic, Rule, RuleContext } from '../types.ts';

const NAME = 'default-export';

/** The expected module shape, shown in hints. */
export const HANDLER_EXAMPLE = 'export default async function handler(req, ctx) {\n  return { ok: true };\n}';

const HINT = `Export the handler as the module's default export:\n${HANDLER_EXAMPLE}`;

type FunctionLike = Extract<Node, { type: 'FunctionDeclaration' | 'FunctionExpression' | 'ArrowFunctionExpression' }>;

function isFunctionLike(node: Node | null | undefined): node is FunctionLike {
  return !!node && (node.type === 'FunctionDeclaration' || node.type === 'FunctionExpression' || node.type === 'ArrowFunctionExpression');
}

/** The function (if any) a top-level name is bound to: a function declaration or a declarator initialised with a function. */
function topLevelFunction(body: readonly Statement[], name: string): FunctionLike | 'other' | null {
  for (const statement of body) {
    const declaration =
      (statement.type === 'ExportNamedDeclaration' || statement.type === 'ExportDefaultDeclaration') && statement.declaration
        ? statement.declaration
        : statement;
    if (declaration.type === 'FunctionDeclaration' && declaration.id?.name === name) return declaration;
    if (declaration.type === 'VariableDeclaration') {
      for (const declarator of declaration.declarations) {
        if (declarator.id.type === 'Identifier' && declarator.id.name === name) return isFunctionLike(declarator.init) ? declarator.init : 'other';
      }
    }
    if (declaration.type === 'ClassDeclaration' && declaration.id?.name === name) return 'other';
  }
  return null;
}

/** A short description of what a non-function default export is, for the message. */
function describe(node: Node): string {
  switch (node.type) {
    case 'ClassDeclaration':
    case 'ClassExpression':
      return 'a class';
    case 'ObjectExpression':
      return 'an object';
    case 'CallExpression':
    case 'NewExpression':
      return 'the result of a call';
    case 'StringLiteral':
    case 'NumericLiteral':
    case 'BooleanLiteral':
    case 'NullLiteral':
    case 'TemplateLiteral':
      return 'a literal value';
    default:
      return `a ${node.type}`;
  }
}

function checkFunction(fn: FunctionLike, at: Node, ctx: RuleContext): Diagnostic[] {
  if (fn.generator) {
    return [ctx.report(NAME, at,
      'The default export is a generator function. The runtime calls the handler and awaits its return value as the response, so it must be a plain or async function.',
      HINT)];
  }
  return [];
}

function checkIdentifier(body: readonly Statement[], name: string, at: Node, ctx: RuleContext): Diagnostic[] {
  const bound = topLevelFunction(body, name);
  if (bound === null) {
    return [ctx.report(NAME, at,
      `The default export \`${name}\` is not a function declared in this module. The runtime calls the default export for every request, so it must be the handler function itself.`,
      `Declare \`${name}\` at the top level of this module as a function, or export the function directly:\n${HANDLER_EXAMPLE}`)];
  }
  if (bound === 'other') {
    return [ctx.report(NAME, at,
      `The default export \`${name}\` is bound to a value that is not a function. The runtime calls the default export for every request, so it must be the handler function.`,
      HINT)];
  }
  return checkFunction(bound, at, ctx);
}

/** Rule: the module's default export is the handler function. */
export const defaultExport: Rule = {
  name: NAME,
  description: 'The module must `export default` its handler function.',
  check(ast: File, ctx: RuleContext): Diagnostic[] {
    const body = ast.program.body;
    for (const statement of body) {
      if (statement.type === 'ExportDefaultDeclaration') {
        const declaration = statement.declaration;
        if (isFunctionLike(declaration)) return checkFunction(declaration, statement, ctx);
        if (declaration.type === 'Identifier') return checkIdentifier(body, declaration.name, declaration, ctx);
        return [ctx.report(NAME, declaration,
          `The default export is ${describe(declaration)}, not a function. The runtime calls the default export for every request, so it must be the handler function.`,
          HINT)];
      }
      if (statement.type === 'ExportNamedDeclaration') {
        for (const specifier of statement.specifiers) {
          const exported = specifier.exported;
          const exportedName = exported.type === 'Identifier' ? exported.name : exported.value;
          if (exportedName !== 'default') continue;
          if (statement.source || specifier.type !== 'ExportSpecifier') {
            return [ctx.report(NAME, specifier,
              'The default export is re-exported from another module. The handler must be written in this module, since a function is deployed as one self-contained file.',
              HINT)];
          }
          const local = specifier.local;
          return checkIdentifier(body, local.type === 'Identifier' ? local.name : local.value, specifier, ctx);
        }
      }
    }
    return [ctx.report(NAME, { line: 1, column: 1 },
      'The module has no default export. The runtime calls the module\'s default export for every request, so a function module must export its handler as default.',
      HINT)];
  },
};
