import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from '@babel/parser';
import { checkModule, resolveCheckOptions, DEFAULT_CHECK_OPTIONS, RULES, RULE_NAMES, PLATFORM_MODULES } from './index.ts';
import type { CheckResult, Diagnostic } from './index.ts';
import { parseModule } from '../parse.ts';
import { codeFrame, indexLines, locate } from './frame.ts';
import { scanNesting } from './nesting-scan.ts';
import { collectNodes } from './walk.ts';
import { createRuleContext } from './context.ts';
import { noWith } from './rules/no-with.ts';

const HANDLER = 'export default async function handler(req, ctx) {\n  return { ok: true };\n}\n';

/** The diagnostics of `source` for one rule. */
function findings(source: string, rule: string): Diagnostic[] {
  return checkModule(source).diagnostics.filter((d) => d.rule === rule);
}

/** Assert `source` is refused by exactly one diagnostic of `rule` at `line`:`column`; returns it. */
function refusedOnceAt(source: string, rule: string, line: number, column: number): Diagnostic {
  const result = checkModule(source);
  assert.equal(result.ok, false, `expected ${rule} to refuse:\n${source}`);
  const mine = result.diagnostics.filter((d) => d.rule === rule);
  assert.equal(mine.length, 1, `expected one ${rule} diagnostic, got ${JSON.stringify(result.diagnostics, null, 1)}`);
  assert.deepEqual({ line: mine[0].line, column: mine[0].column }, { line, column });
  assert.equal(mine[0].severity, 'error');
  assert.ok(mine[0].message.length > 0 && mine[0].hint.length > 0);
  assert.match(mine[0].frame, new RegExp(`^> +${line} \\|`, 'm'));
  return mine[0];
}

function assertPasses(source: string): CheckResult {
  const result = checkModule(source);
  assert.deepEqual(result.diagnostics, [], `expected no findings for:\n${source}`);
  assert.equal(result.ok, true);
  return result;
}

/** A valid handler module, then `extra` code at the top level. */
const withHandler = (extra: string): string => HANDLER + extra;

describe('parseModule', () => {
  test('a valid module parses to an AST with locations', () => {
    const parsed = parseModule(HANDLER);
    assert.equal(parsed.ok, true);
    if (!parsed.ok) return;
    assert.equal(parsed.ast.program.body[0].type, 'ExportDefaultDeclaration');
    const start = parsed.ast.program.body[0].loc?.start;
    assert.deepEqual([start?.line, start?.column], [1, 0]);
  });

  test('a syntax error becomes one syntax diagnostic with 1-based line and column, a clean message and a frame', () => {
    const source = 'export default function handler(req, ctx) {\n  const a = 1;\n  return a +;\n}\n';
    const parsed = parseModule(source);
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    const d = parsed.diagnostic;
    assert.equal(d.rule, 'syntax');
    assert.equal(d.line, 3);
    assert.equal(d.column, 13);
    assert.equal(d.message, 'Unexpected token');
    assert.doesNotMatch(d.message, /\(\d+:\d+\)/);
    assert.equal(d.frame, [
      '  1 | export default function handler(req, ctx) {',
      '  2 |   const a = 1;',
      '> 3 |   return a +;',
      '    |             ^',
      '  4 | }',
      '  5 |',
    ].join('\n'));
  });

  test('a with statement is a syntax error whose message names `with` and says modules are strict', () => {
    const d = refusedOnceAt(withHandler('with (Math) { max(1, 2); }\n'), 'syntax', 4, 1);
    assert.match(d.message, /'with'/);
    assert.match(d.message, /strict/);
    assert.match(d.hint, /obj\.x/);
  });

  test('JSX is refused as syntax with a hint to compile it to plain JavaScript', () => {
    const d = refusedOnceAt('export default () => <div/>;\n', 'syntax', 1, 22);
    assert.match(d.hint, /TypeScript or JSX/);
  });

  test('nesting without brackets that exhausts the parser stack is a nesting-depth diagnostic, not a thrown RangeError', () => {
    const parsed = parseModule('x = ' + '!'.repeat(100_000) + '1;');
    assert.equal(parsed.ok, false);
    if (!parsed.ok) assert.equal(parsed.diagnostic.rule, 'nesting-depth');
    refusedOnceAt('if (a) '.repeat(50_000) + ';', 'nesting-depth', 1, 1);
  });
});

describe('code frames', () => {
  test('a frame shows two lines of context each side, a gutter as wide as the last number and a caret under the column', () => {
    const source = Array.from({ length: 12 }, (_, i) => `line${i + 1}`).join('\n');
    assert.equal(codeFrame(source, 10, 3), [
      '   8 | line8',
      '   9 | line9',
      '> 10 | line10',
      '     |   ^',
      '  11 | line11',
      '  12 | line12',
    ].join('\n'));
  });

  test('the caret keeps tabs so it lines up with the code', () => {
    assert.equal(codeFrame('\t\tx = 1', 1, 3), '> 1 | \t\tx = 1\n    | \t\t^');
  });

  test('a very long line is cut to a window around the column', () => {
    const frame = codeFrame('a'.repeat(5000) + 'X' + 'b'.repeat(5000), 1, 5001, { maxLineChars: 40 });
    const [code, caret] = frame.split('\n');
    assert.ok(code.length < 60, code);
    assert.equal(code.indexOf('X'), caret.indexOf('^'));
  });

  test('lines end at \\r\\n, \\r, U+2028 and U+2029 like the parser counts them', () => {
    const source = 'a\r\nb\rc\u2028d\u2029e\nf';
    const index = indexLines(source);
    assert.equal(index.starts.length, 6);
    assert.deepEqual(locate(index, source.indexOf('e')), { line: 5, column: 1 });
    const parsed = parseModule('x = 1;\r\ny = 2;\u2028z = ;');
    assert.equal(parsed.ok, false);
    if (!parsed.ok) assert.deepEqual([parsed.diagnostic.line, parsed.diagnostic.column], [3, 5]);
  });
});

describe('limits', () => {
  const LIMIT = DEFAULT_CHECK_OPTIONS.maxCodeBytes;
  /** A valid module padded with a comment to exactly `bytes` UTF-8 bytes. */
  const moduleOfBytes = (bytes: number): string => {
    const head = HANDLER + '// ';
    return head + 'x'.repeat(bytes - Buffer.byteLength(head));
  };

  test('the default code size limit is 1 MiB', () => {
    assert.equal(LIMIT, 1_048_576);
  });

  test('a module of 1 MiB + 1 byte is refused with code-size before it is parsed', () => {
    const source = moduleOfBytes(LIMIT + 1) + '\n((( not even valid';
    const oversize = moduleOfBytes(LIMIT + 1);
    assert.equal(Buffer.byteLength(oversize), LIMIT + 1);
    const d = refusedOnceAt(oversize, 'code-size', 1, 1);
    assert.match(d.message, /1048577 bytes/);
    assert.match(d.message, /1048576/);
    assert.deepEqual(checkModule(source).diagnostics.map((x) => x.rule), ['code-size']);
  });

  test('a valid module of exactly 1 MiB is accepted', () => {
    const source = moduleOfBytes(LIMIT);
    assert.equal(Buffer.byteLength(source), LIMIT);
    assertPasses(source);
  });

  test('code size is counted in UTF-8 bytes, not characters', () => {
    const source = HANDLER + '// ' + 'é'.repeat(300); // 300 characters, 600 bytes
    assert.equal(checkModule(source, { maxCodeBytes: source.length + 10 }).diagnostics[0]?.rule, 'code-size');
    assert.equal(checkModule(source, { maxCodeBytes: Buffer.byteLength(source) }).ok, true);
  });

  test('a 100,000-deep [[[ bomb is refused with nesting-depth quickly and without throwing', () => {
    const source = 'export default () => ' + '['.repeat(100_000) + ']'.repeat(100_000) + ';';
    const started = performance.now();
    const d = refusedOnceAt(source, 'nesting-depth', 1, 22 + 200);
    assert.ok(performance.now() - started < 500, 'took too long');
    assert.match(d.message, /200/);
  });

  test('a 100,000-deep (((( bomb is refused with nesting-depth quickly and without throwing', () => {
    const source = HANDLER + 'x = ' + '('.repeat(100_000) + '1' + ')'.repeat(100_000) + ';';
    const started = performance.now();
    refusedOnceAt(source, 'nesting-depth', 4, 5 + 200);
    assert.ok(performance.now() - started < 500, 'took too long');
  });

  test('{ and template ${ bombs are refused with nesting-depth', () => {
    assert.equal(findings('x = ' + '{'.repeat(100_000), 'nesting-depth').length, 1);
    assert.equal(findings('x = ' + '`${'.repeat(100_000), 'nesting-depth').length, 1);
  });

  test('brackets inside strings, comments, template text and regular expressions do not count as nesting', () => {
    const many = '(['.repeat(1000);
    assertPasses(withHandler([
      `const s = '${many}';`,
      `const d = "${many}";`,
      `// ${many}`,
      `/* ${many} */`,
      `const t = \`${many}\${s}${many}\`;`,
      `const r = /[(]{2}${'\\('.repeat(1000)}/.test(s);`,
      `const q = s.length / 2 / (1);`,
      '',
    ].join('\n')));
    assert.equal(scanNesting('a = [[(x)]]', 10).ok, true);
    assert.deepEqual(scanNesting('a = [[(x)]]', 2), { ok: false, offset: 6, depth: 3 });
  });

  test('code nested deeper than the limit in the syntax tree is refused after parsing, at the first too-deep node', () => {
    const source = withHandler('if (a)\n' + 'if (a) '.repeat(250) + 'f();\n');
    // Program is depth 1, the line-4 `if` depth 2, so the 198th `if` on line 5 is at depth 200
    // and its test `a` is the first node at depth 201.
    const d = refusedOnceAt(source, 'nesting-depth', 5, 1 + 7 * 197 + 4);
    assert.match(d.message, /syntax tree/);
  });

  test('nesting within the limit is accepted, and maxNestingDepth lowers the limit', () => {
    const source = withHandler('const deep = ' + '['.repeat(150) + ']'.repeat(150) + ';\n');
    assertPasses(source);
    assert.equal(checkModule(source, { maxNestingDepth: 50 }).diagnostics[0]?.rule, 'nesting-depth');
  });

  test('at most maxDiagnostics findings are returned, the first ones by position, with truncated set', () => {
    const source = withHandler('eval(1);\n'.repeat(150));
    const result = checkModule(source);
    assert.equal(result.diagnostics.length, 100);
    assert.equal(result.truncated, true);
    assert.equal(result.diagnostics[0].line, 4);
    assert.equal(result.diagnostics[99].line, 103);
    assert.equal(checkModule(source, { maxDiagnostics: 500 }).diagnostics.length, 150);
    assert.equal(checkModule(source, { maxDiagnostics: 500 }).truncated, false);
  });
});

describe('options', () => {
  test('options are defaulted and frozen, and a resolved object is reused as is', () => {
    const options = resolveCheckOptions({ maxCodeBytes: 10 });
    assert.deepEqual(options, { maxCodeBytes: 10, maxNestingDepth: 200, maxDiagnostics: 100 });
    assert.ok(Object.isFrozen(options));
    assert.equal(resolveCheckOptions(options), options);
    assert.ok(Object.isFrozen(DEFAULT_CHECK_OPTIONS));
  });

  for (const [label, bad, pattern] of [
    ['zero', { maxCodeBytes: 0 }, /maxCodeBytes.*positive integer/],
    ['a negative number', { maxNestingDepth: -1 }, /maxNestingDepth.*positive integer/],
    ['a fraction', { maxDiagnostics: 1.5 }, /maxDiagnostics.*positive integer/],
    ['a string', { maxCodeBytes: '1024' }, /maxCodeBytes.*positive integer, got string/],
    ['NaN', { maxCodeBytes: Number.NaN }, /positive integer/],
    ['an unknown key', { maxCodeSize: 5 }, /unknown check option "maxCodeSize"/],
    ['null', null, /must be an object, got null/],
  ] as const) {
    test(`an option object with ${label} is refused with a TypeError naming the problem`, () => {
      assert.throws(() => checkModule(HANDLER, bad as never), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.equal((error as { code?: string }).code, 'ERR_INVALID_ARG_VALUE');
        assert.match(error.message, pattern);
        return true;
      });
    });
  }

  test('a source that is not a string is a TypeError, not a diagnostic', () => {
    assert.throws(() => checkModule(42 as never), TypeError);
  });
});

describe('rule default-export', () => {
  test('a module without a default export is refused at line 1, column 1 with the expected shape in the hint', () => {
    const d = refusedOnceAt('export async function handler(req, ctx) {\n  return 1;\n}\n', 'default-export', 1, 1);
    assert.match(d.message, /no default export/);
    assert.match(d.hint, /export default async function handler\(req, ctx\)/);
  });

  test('a default export that is not a function is refused where it is exported', () => {
    refusedOnceAt('const x = 1;\nexport default { handler() {} };\n', 'default-export', 2, 16);
    refusedOnceAt('export default class Handler {}\n', 'default-export', 1, 16);
    refusedOnceAt('const handler = 42;\nexport default handler;\n', 'default-export', 2, 16);
    refusedOnceAt('export default missing;\n', 'default-export', 1, 16);
    refusedOnceAt('export default function* handler() {}\n', 'default-export', 1, 1);
  });

  test('every accepted handler shape passes', () => {
    assertPasses(HANDLER);
    assertPasses('export default function (req, ctx) { return 1; }\n');
    assertPasses('export default async (req, ctx) => ({ ok: true });\n');
    assertPasses('export default (async function named(req) { return 1; });\n');
    assertPasses('async function handler(req, ctx) { return 1; }\nexport default handler;\n');
    assertPasses('const handler = async (req, ctx) => 1;\nexport default handler;\n');
    assertPasses('function handler() { return 1; }\nexport { handler as default };\n');
  });
});

describe('rule no-eval', () => {
  test('a direct eval call is refused at the identifier', () => {
    const d = refusedOnceAt(withHandler('const v = eval("1 + 1");\n'), 'no-eval', 4, 11);
    assert.match(d.message, /eval/);
    assert.match(d.message, /sandbox/);
    assert.match(d.hint, /JSON\.parse/);
  });

  test('eval reached through the global object, an indirect call or an alias is refused', () => {
    refusedOnceAt(withHandler('globalThis.eval("1");\n'), 'no-eval', 4, 12);
    refusedOnceAt(withHandler('window["eval"]("1");\n'), 'no-eval', 4, 8);
    refusedOnceAt(withHandler('(0, eval)("1");\n'), 'no-eval', 4, 5);
    refusedOnceAt(withHandler('const e = eval;\n'), 'no-eval', 4, 11);
    refusedOnceAt(withHandler('const o = { eval };\n'), 'no-eval', 4, 13);
  });

  test('properties and methods merely named eval are not refused', () => {
    assertPasses(withHandler([
      'const o = { eval: 1, ["x"]: 2 };',
      'const { eval: e2 } = o;',
      'engine.eval("1 + 1");',
      'class Calc { eval() { return 1; } #eval = 2; }',
      'const evaluate = (x) => x;',
      '',
    ].join('\n')));
  });
});

describe('rule no-new-function', () => {
  test('new Function is refused at the constructor name', () => {
    const d = refusedOnceAt(withHandler('const f = new Function("a", "return a");\n'), 'no-new-function', 4, 15);
    assert.match(d.message, /new Function/);
  });

  test('calling Function, its siblings, a global alias or a function literal\'s constructor is refused', () => {
    refusedOnceAt(withHandler('Function("return 1")();\n'), 'no-new-function', 4, 1);
    refusedOnceAt(withHandler('new AsyncFunction("await 1");\n'), 'no-new-function', 4, 5);
    refusedOnceAt(withHandler('globalThis.Function("x");\n'), 'no-new-function', 4, 1);
    refusedOnceAt(withHandler('const F = Function;\n'), 'no-new-function', 4, 11);
    refusedOnceAt(withHandler('(async () => {}).constructor("await 1");\n'), 'no-new-function', 4, 1);
  });

  test('code that only mentions Function harmlessly is not refused', () => {
    assertPasses(withHandler([
      'const isFunction = (x) => x instanceof Function || typeof x === "function";',
      'const o = { Function: 1 };',
      'o.Function;',
      'const src = Function.prototype.toString.call(isFunction);',
      'const kind = typeof Function;',
      '',
    ].join('\n')));
  });
});

describe('rule no-with', () => {
  test('the rule refuses a with statement wherever the parser accepts one', () => {
    const ast = parse('var o = {};\nwith (o) { x; }\n', { sourceType: 'script' });
    const source = 'var o = {};\nwith (o) { x; }\n';
    const ctx = createRuleContext(indexLines(source), DEFAULT_CHECK_OPTIONS, collectNodes(ast.program, 200).nodes);
    const found = noWith.check(ast, ctx);
    assert.equal(found.length, 1);
    assert.deepEqual([found[0].rule, found[0].line, found[0].column], ['no-with', 2, 1]);
  });

  test('an object property named with is not refused', () => {
    assertPasses(withHandler('const o = { with: 1 };\no.with;\n'));
  });
});

describe('rule no-dynamic-import', () => {
  test('import() inside the handler is refused at the import', () => {
    const d = refusedOnceAt('export default async function handler(req, ctx) {\n  const m = await import("./x.js");\n}\n', 'no-dynamic-import', 2, 19);
    assert.match(d.message, /import\(\.\.\.\)/);
  });

  test('a static import of a platform module and a property named import are not refused', () => {
    assertPasses('import { response } from "faas";\nexport default async function handler(req, ctx) {\n  return response(ctx.import);\n}\n');
  });
});

describe('rule allowed-imports', () => {
  test('the allowlist is the platform module faas', () => {
    assert.deepEqual(PLATFORM_MODULES, ['faas']);
  });

  for (const [specifier, hint] of [
    ['fs', /ctx\.sql/],
    ['node:fs', /ctx\.sql/],
    ['./x.js', /Bundle your local files/],
    ['https://cdn.example.com/lib.js', /URL/],
    ['lodash', /Bundle the package/],
  ] as const) {
    test(`an import from "${specifier}" is refused naming the specifier and the allowed list`, () => {
      const d = refusedOnceAt(`import x from "${specifier}";\n${HANDLER}`, 'allowed-imports', 1, 15);
      assert.match(d.message, new RegExp(`"${specifier.replace(/[./]/g, '\\$&')}"`));
      assert.match(d.message, /"faas"/);
      assert.match(d.hint, hint);
    });
  }

  test('re-exports from other modules are refused too', () => {
    refusedOnceAt(`${HANDLER}export * from "fs";\n`, 'allowed-imports', 4, 15);
    refusedOnceAt(`${HANDLER}export { readFile } from "node:fs";\n`, 'allowed-imports', 4, 26);
  });

  test('imports and re-exports from faas are accepted', () => {
    assertPasses(`import { response, HttpError } from "faas";\nimport * as faas from "faas";\nexport { response } from "faas";\n${HANDLER}`);
  });
});

describe('rule no-top-level-await', () => {
  test('await, for await and await using at the top level are refused', () => {
    refusedOnceAt(withHandler('const config = await Promise.resolve(1);\n'), 'no-top-level-await', 4, 16);
    refusedOnceAt(withHandler('for await (const x of []) {}\n'), 'no-top-level-await', 4, 1);
    refusedOnceAt(withHandler('await using r = null;\n'), 'no-top-level-await', 4, 1);
  });

  test('await inside functions is accepted', () => {
    assertPasses(withHandler('const load = async () => { for await (const x of []) {} return await 1; };\nclass C { async m() { await 1; } }\n'));
  });
});

describe('whole modules', () => {
  test('a module with several problems reports all of them, sorted by position', () => {
    const source = [
      'import fs from "node:fs";',                  // 1 allowed-imports
      'const v = await 1;',                         // 2 no-top-level-await
      'export async function handler(req, ctx) {', // no default export → 1:1
      '  eval(req.body);',                          // 4 no-eval
      '  eval(req.query);',                         // 5 no-eval
      '  const f = new Function("x");',             // 6 no-new-function
      '  return import("./x.js");',                 // 7 no-dynamic-import
      '}',
    ].join('\n');
    const result = checkModule(source);
    assert.equal(result.ok, false);
    assert.deepEqual(result.diagnostics.map((d) => [d.rule, d.line, d.column]), [
      ['default-export', 1, 1],
      ['allowed-imports', 1, 16],
      ['no-top-level-await', 2, 11],
      ['no-eval', 4, 3],
      ['no-eval', 5, 3],
      ['no-new-function', 6, 17],
      ['no-dynamic-import', 7, 10],
    ]);
  });

  test('a realistic handler with modern syntax passes', () => {
    assertPasses(`
import { response, HttpError } from "faas";

const RARITIES = Object.freeze({ common: 0.8, rare: 0.18, legendary: 0.02 });

class Draw {
  static #count = 0;
  id = ++Draw.#count;
  constructor(rarity) { this.rarity = rarity; }
}

/** Gacha draw: spend tickets, roll, record. */
export default async function handler(req, ctx) {
  const { body: { count = 1, pool } = {}, headers } = req;
  const user = ctx.user?.id ?? headers?.["x-guest"];
  if (!user) throw new HttpError(401, "sign in first");
  const tickets = Number(await ctx.redis.get(\`tickets:\${user}\`)) || 0;
  if (tickets < count) return response({ error: "not enough tickets" }, { status: 409 });
  const draws = Array.from({ length: count }, () => {
    const roll = Math.random();
    let acc = 0;
    for (const [rarity, p] of Object.entries(RARITIES)) {
      acc += p;
      if (roll < acc) return new Draw(rarity);
    }
    return new Draw("common");
  });
  await ctx.sql.query("insert into draws (user, pool, n) values (?, ?, ?)", [user, pool ?? "default", count]);
  ctx.log.info("drew", { user, n: draws.length, legendary: draws.filter((d) => d.rarity === "legendary").length });
  return { ok: true, draws: draws.map(({ id, rarity }) => ({ id, rarity })), left: tickets - count, at: 2n ** 10n > 0n };
}
`);
  });
});

describe('registry and docs', () => {
  test('rule names are unique and each rule is documented in README.md', () => {
    const names = RULES.map((r) => r.name);
    assert.equal(new Set(names).size, names.length);
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    for (const name of RULE_NAMES) assert.match(readme, new RegExp(`\\| \`${name}\` \\|`), `${name} missing from README.md`);
  });
});
