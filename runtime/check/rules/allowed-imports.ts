/**
 * Rule `allowed-imports`: static `import … from` and `export … from` may only name the
 * platform's own modules. A function is deployed as one self-contained file into a sandbox with
 * no file system, no `node_modules` and no network loader: Node built-ins, npm packages,
 * relative files and URLs cannot be resolved there.
 *
 * An early, clear error, not the security boundary: the isolate's module resolver only knows
 * the platform modules either way.
 */
import { builtinModules } from 'node:module';
import type { File, StringLiteral } from '@babel/types';
import type { Diagnostic, Rule, RuleContext } from '../types.ts';

/**
 * Modules a function may import. `faas` is provided by the runtime and exports
 * `response(body, init)` and `HttpError`.
 */
export const PLATFORM_MODULES = ['faas'] as const;

/** A module name a function may import. */
export type PlatformModule = (typeof PLATFORM_MODULES)[number];

const NAME = 'allowed-imports';
const ALLOWED: ReadonlySet<string> = new Set(PLATFORM_MODULES);
const NODE_BUILTINS: ReadonlySet<string> = new Set(builtinModules);
const ALLOWED_TEXT = PLATFORM_MODULES.map((name) => `"${name}"`).join(', ');

/** Whether a specifier names a platform module. */
export function isPlatformModule(specifier: string): specifier is PlatformModule {
  return ALLOWED.has(specifier);
}

/** A fix suited to the kind of specifier that was refused. */
function hintFor(specifier: string): string {
  if (specifier.startsWith('node:') || NODE_BUILTINS.has(specifier)) {
    return 'Node built-ins are not available in the sandbox: use the builtins on `ctx` instead (`ctx.sql`, `ctx.redis`, `ctx.fetch`, `ctx.rpc`, `ctx.log`, `ctx.config`).';
  }
  if (specifier.startsWith('.') || specifier.startsWith('/')) {
    return 'Bundle your local files into this one module before upload (e.g. `esbuild index.js --bundle --format=esm --external:faas`).';
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) {
    return 'Code cannot be loaded from a URL: bundle it into this module, or fetch data at run time with `ctx.fetch`.';
  }
  return 'Bundle the package into this module before upload (e.g. `esbuild index.js --bundle --format=esm --external:faas`).';
}

/** Rule: imports only from platform modules. */
export const allowedImports: Rule = {
  name: NAME,
  description: `Refuses static imports and re-exports from anything but the platform modules (${ALLOWED_TEXT}).`,
  check(ast: File, ctx: RuleContext): Diagnostic[] {
    const found: Diagnostic[] = [];
    for (const statement of ast.program.body) {
      if (ctx.full(found)) break;
      let source: StringLiteral | null | undefined = null;
      let verb = 'an import';
      if (statement.type === 'ImportDeclaration') source = statement.source;
      else if (statement.type === 'ExportNamedDeclaration' || statement.type === 'ExportAllDeclaration') {
        source = statement.source;
        verb = 'a re-export';
      }
      if (!source || isPlatformModule(source.value)) continue;
      found.push(ctx.report(NAME, source,
        `Found ${verb} from "${source.value}". Functions run in a sandbox that provides only the platform's modules (${ALLOWED_TEXT}); Node built-ins, packages, local files and URLs cannot be loaded there.`,
        hintFor(source.value)));
    }
    return found;
  },
};
