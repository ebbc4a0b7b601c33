/**
 * Keeps docs/errors.md in step with the three error catalogs (CONVENTIONS.md, habit 3; the same
 * idea as fastify's test/internals/errors.test.js). The doc is written by hand; this test parses
 * its tables: one `## ` section per catalog, rows `| \`CODE\` | status | user or platform | … |`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { BUILTIN_ERRORS } from '../builtins/errors.ts';
import { CONTROL_PLANE_ERRORS } from '../control-plane/errors.ts';
import { RUNTIME_ERRORS, type ErrorSpec } from '../runtime/errors.ts';

type Catalog = Readonly<Record<string, ErrorSpec>>;

/** Each catalog and the heading its section in docs/errors.md starts with. */
const CATALOGS: ReadonlyArray<{ name: string; heading: string; catalog: Catalog }> = [
  { name: 'RUNTIME_ERRORS', heading: 'Runtime', catalog: RUNTIME_ERRORS },
  { name: 'CONTROL_PLANE_ERRORS', heading: 'Control plane', catalog: CONTROL_PLANE_ERRORS },
  { name: 'BUILTIN_ERRORS', heading: 'Builtins', catalog: BUILTIN_ERRORS },
];

/** One documented code: the section it is in, its status and fault columns, and its line. */
interface DocRow {
  section: string;
  code: string;
  status: number;
  fault: string;
  line: number;
}

const ROW = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|/;

/** Every table row whose first cell is a backticked code, with the `## ` section it is under. */
function parseErrorDoc(markdown: string): DocRow[] {
  const rows: DocRow[] = [];
  let section = '';
  markdown.split('\n').forEach((text, i) => {
    if (text.startsWith('## ')) section = text.slice(3).trim();
    const match = ROW.exec(text);
    if (match === null) return;
    const [, code, status, fault] = match;
    rows.push({ section, code, status: /^\d{3}$/.test(status) ? Number(status) : Number.NaN, fault, line: i + 1 });
  });
  return rows;
}

/**
 * Problems between one catalog and the rows of its section: codes missing from the doc, codes
 * the catalog lacks, codes listed twice, and status or fault columns that differ.
 */
function compareSection(catalog: Catalog, rows: readonly DocRow[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    if (seen.has(row.code)) problems.push(`${row.code} is listed twice (line ${row.line})`);
    seen.add(row.code);
    const spec = Object.hasOwn(catalog, row.code) ? catalog[row.code] : undefined;
    if (spec === undefined) {
      problems.push(`${row.code} (line ${row.line}) is not in this catalog`);
      continue;
    }
    if (row.status !== spec.status) problems.push(`${row.code} (line ${row.line}) has status ${row.status} in the doc, ${spec.status} in the catalog`);
    const fault = spec.user ? 'user' : 'platform';
    if (row.fault !== fault) problems.push(`${row.code} (line ${row.line}) is a "${row.fault}" fault in the doc, "${fault}" in the catalog`);
  }
  for (const code of Object.keys(catalog)) if (!seen.has(code)) problems.push(`${code} is missing from the doc`);
  return problems;
}

/** Codes defined by more than one catalog with different HTTP statuses. */
function statusConflicts(catalogs: ReadonlyArray<{ name: string; catalog: Catalog }>): string[] {
  const first = new Map<string, { name: string; status: number }>();
  const conflicts: string[] = [];
  for (const { name, catalog } of catalogs) {
    for (const [code, spec] of Object.entries(catalog)) {
      const earlier = first.get(code);
      if (earlier === undefined) first.set(code, { name, status: spec.status });
      else if (earlier.status !== spec.status) conflicts.push(`${code}: ${earlier.status} in ${earlier.name}, ${spec.status} in ${name}`);
    }
  }
  return conflicts;
}

const DOC_PATH = new URL('./errors.md', import.meta.url);
const rows = parseErrorDoc(readFileSync(DOC_PATH, 'utf8'));
const rowsUnder = (heading: string): DocRow[] => rows.filter((r) => r.section.startsWith(heading));

describe('docs/errors.md matches the error catalogs', () => {
  test('the doc has one section with a table of codes for each catalog', () => {
    for (const { heading } of CATALOGS) {
      const sections = new Set(rows.map((r) => r.section).filter((s) => s.startsWith(heading)));
      assert.equal(sections.size, 1, `expected one "## ${heading} …" section with code rows, found ${sections.size}`);
    }
  });

  for (const { name, heading, catalog } of CATALOGS) {
    test(`every ${name} code is documented under "${heading}" with the catalog's status and fault, and nothing else is`, () => {
      assert.deepEqual(compareSection(catalog, rowsUnder(heading)), []);
    });
  }

  test('the doc lists no code that no catalog defines', () => {
    const known = new Set(CATALOGS.flatMap(({ catalog }) => Object.keys(catalog)));
    assert.deepEqual(rows.filter((r) => !known.has(r.code)).map((r) => `${r.code} (line ${r.line})`), []);
  });

  test('no code is defined by two catalogs with different HTTP statuses', () => {
    assert.deepEqual(statusConflicts(CATALOGS), []);
  });
});

describe('the doc checks catch what they are meant to catch', () => {
  const catalog: Catalog = {
    E_A: { status: 404, user: true, summary: 'a' },
    E_B: { status: 503, user: false, summary: 'b' },
  };
  const doc = (body: string): DocRow[] => parseErrorDoc(`# t\n\n## Section\n\n| code | HTTP status | fault | when | what to do |\n| --- | --- | --- | --- | --- |\n${body}`);

  test('a doc that matches its catalog has no problems', () => {
    assert.deepEqual(compareSection(catalog, doc('| `E_A` | 404 | user | x | y |\n| `E_B` | 503 | platform | x | y |\n')), []);
  });

  test('a code missing from the doc is reported', () => {
    assert.deepEqual(compareSection(catalog, doc('| `E_A` | 404 | user | x | y |\n')), ['E_B is missing from the doc']);
  });

  test('a documented code the catalog lacks is reported', () => {
    const problems = compareSection(catalog, doc('| `E_A` | 404 | user | x | y |\n| `E_B` | 503 | platform | x | y |\n| `E_GONE` | 410 | user | x | y |\n'));
    assert.deepEqual(problems, ['E_GONE (line 9) is not in this catalog']);
  });

  test('a status or fault that differs from the catalog is reported', () => {
    const problems = compareSection(catalog, doc('| `E_A` | 400 | user | x | y |\n| `E_B` | 503 | user | x | y |\n'));
    assert.deepEqual(problems, [
      'E_A (line 7) has status 400 in the doc, 404 in the catalog',
      'E_B (line 8) is a "user" fault in the doc, "platform" in the catalog',
    ]);
  });

  test('a code listed twice is reported', () => {
    const problems = compareSection(catalog, doc('| `E_A` | 404 | user | x | y |\n| `E_B` | 503 | platform | x | y |\n| `E_A` | 404 | user | x | y |\n'));
    assert.deepEqual(problems, ['E_A is listed twice (line 9)']);
  });

  test('two catalogs giving one code different statuses is reported, the same status is not', () => {
    const other: Catalog = { E_A: { status: 404, user: true, summary: 'same' }, E_B: { status: 500, user: false, summary: 'other' } };
    assert.deepEqual(statusConflicts([{ name: 'ONE', catalog }, { name: 'TWO', catalog: other }]), ['E_B: 503 in ONE, 500 in TWO']);
  });
});
