import assert from 'node:assert/strict';
import { test } from 'node:test';
import { duplicateFamilies, parseExposition, sampleSum, sampleValue } from './prometheus-text.ts';

const TEXT = [
  '# HELP a_total A counter.',
  '# TYPE a_total counter',
  'a_total{app="x",code="200"} 3',
  'a_total{app="x",code="500"} 2',
  'a_total{app="y",code="200"} 7',
  '# HELP b_seconds Escaped labels.',
  'b_seconds{path="say \\"hi\\""} 0.25',
  'c 1e3',
].join('\n');

test('samples are parsed with their labels; values are summed and looked up by label subset', () => {
  const s = parseExposition(TEXT);
  assert.equal(s.length, 5);
  assert.deepEqual(s[3], { name: 'b_seconds', labels: { path: 'say \\"hi\\"' }, value: 0.25 });
  assert.equal(sampleValue(s, 'c', {}), 1000);
  assert.equal(sampleValue(s, 'a_total', { app: 'y' }), 7);
  assert.equal(sampleValue(s, 'a_total', { app: 'z' }), undefined);
  assert.equal(sampleSum(s, 'a_total', { app: 'x' }), 5);
  assert.equal(sampleSum(s, 'a_total', {}), 12);
  assert.equal(sampleSum(s, 'a_total', { app: 'z' }), 0);
});

test('a family with two HELP lines is reported, once', () => {
  assert.deepEqual(duplicateFamilies(TEXT), []);
  assert.deepEqual(duplicateFamilies(`${TEXT}\n# HELP a_total Again.\n# HELP a_total And again.\na_total 1`), ['a_total']);
});
