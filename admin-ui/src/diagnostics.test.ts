import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnosticsFromDeployError, lineStarts, offsetOf, placeDiagnostics } from './diagnostics.ts';
import type { CheckDiagnostic } from './types.ts';

const diag = (line: number, column: number, extra: Partial<CheckDiagnostic> = {}): CheckDiagnostic => ({ rule: 'syntax', severity: 'error', message: 'Unexpected token', line, column, ...extra });

describe('placing checker diagnostics in the editor text', () => {
  it('maps a 1-based line and UTF-16 column to the offset of that character', () => {
    const source = 'const a = 1;\nconst b = ;\n';
    const [placed] = placeDiagnostics(source, [diag(2, 11)]);
    assert.equal(source[placed!.from], ';');
    assert.deepEqual([placed!.from, placed!.to], [23, 24]);
  });

  it('counts U+2028, U+2029, CR and CRLF as line ends, as JavaScript (and the checker) does', () => {
    const source = "a('x\u2028y');\r\nb();\rc(\u2029);\nd = ;";
    assert.deepEqual(lineStarts(source), [0, 5, 11, 16, 19, 22]);
    const [placed] = placeDiagnostics(source, [diag(6, 5)]);
    assert.equal(source[placed!.from], ';');
  });

  it('counts columns in UTF-16 code units, so astral characters take two', () => {
    const source = "const s = '😀'; x = ;";
    const at = source.lastIndexOf(';');
    assert.equal(offsetOf(source, 1, at + 1), at);
  });

  it('covers the whole word at the position, or one character', () => {
    const source = 'export default eval(x);';
    const [word] = placeDiagnostics(source, [diag(1, 16, { rule: 'no-eval' })]);
    assert.equal(source.slice(word!.from, word!.to), 'eval');
    const [punct] = placeDiagnostics(source, [diag(1, 20)]);
    assert.equal(source.slice(punct!.from, punct!.to), '(');
  });

  it('uses endLine/endColumn when the checker sends them', () => {
    const source = 'with (o) {\n  x;\n}';
    const [placed] = placeDiagnostics(source, [diag(1, 1, { endLine: 3, endColumn: 2 })]);
    assert.equal(source.slice(placed!.from, placed!.to), source);
  });

  it('clamps positions past the end of a line or of the text (e.g. unexpected end of input) to a point', () => {
    const source = 'export default function (';
    const [end] = placeDiagnostics(source, [diag(1, 26)]);
    assert.deepEqual([end!.from, end!.to], [source.length, source.length]);
    const [past] = placeDiagnostics(source, [diag(9, 99)]);
    assert.deepEqual([past!.from, past!.to], [source.length, source.length]);
    const [zero] = placeDiagnostics('abc\ndef', [diag(0, 0)]);
    assert.equal(zero!.from, 0);
  });

  it('puts the rule, message and hint in the tooltip text', () => {
    const [placed] = placeDiagnostics('x', [diag(1, 1, { hint: 'remove it' })]);
    assert.equal(placed!.message, 'syntax: Unexpected token\nHow to fix: remove it');
    assert.equal(placed!.severity, 'error');
  });
});

describe('diagnostics carried by a refused deploy', () => {
  it('E_CHECK carries its diagnostics list', () => {
    const list = [diag(3, 5, { rule: 'no-eval' })];
    assert.deepEqual(diagnosticsFromDeployError('E_CHECK', 'no-eval at 3:5', { diagnostics: [...list, { junk: true }] }), list);
  });

  it('E_SYNTAX becomes one syntax diagnostic from line, column, hint and frame', () => {
    const [d] = diagnosticsFromDeployError('E_SYNTAX', 'Unexpected token', { line: 2, column: 7, hint: 'fix it', frame: '> 2 | x' });
    assert.deepEqual(d, { rule: 'syntax', severity: 'error', message: 'Unexpected token', line: 2, column: 7, hint: 'fix it', frame: '> 2 | x' });
  });

  it('other errors carry none', () => {
    assert.deepEqual(diagnosticsFromDeployError('E_CODE_TOO_LARGE', 'too large', {}), []);
  });
});
