import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFieldPath, getField } from '../src/event.js';

const flatAndNested = {
  'event.outcome': 'failure',
  event: { category: ['database'], outcome: 'success' },
  a: { 'b.c': { d: 1 }, b: { x: 2 } },
  'a.b': { c: { d: 3 } },
  x: { y: null, z: 0, e: '' },
  list: [{ id: 'first' }],
  text: 'plain',
};

const cases: Array<[path: string, expected: unknown]> = [
  ['event.outcome', 'success'],
  ['event.category', ['database']],
  ['a.b.x', 2],
  ['a.b.c.d', 1],
  ['a.b.c', { d: 1 }],
  ['a.b.c.d.e', undefined],
  ['x.y', null],
  ['x.z', 0],
  ['x.e', ''],
  ['x.y.z', undefined],
  ['list.0.id', 'first'],
  ['text.length', undefined],
  ['missing', undefined],
  ['missing.deeper.still', undefined],
  ['', undefined],
  ['.x', undefined],
  ['x.', undefined],
];

test('compiled reader matches expected values', () => {
  for (const [path, expected] of cases) {
    assert.deepEqual(compileFieldPath(path)(flatAndNested), expected, `path "${path}"`);
    assert.deepEqual(getField(flatAndNested, path), expected, `getField "${path}"`);
  }
});

test('compiled reader prefers nested over dotted', () => {
  const event = { 'user.name': 'flat', user: { name: 'nested' } };
  assert.equal(compileFieldPath('user.name')(event), 'nested');
  assert.equal(compileFieldPath('user.name')({ 'user.name': 'flat', user: {} }), 'flat');
});

test('compiled reader tries shortest head first', () => {
  // Both splits lead to a value: the one found through the shorter literal key wins.
  const event = { a: { 'b.c': 'through a' }, 'a.b': { c: 'through a.b' } };
  assert.equal(compileFieldPath('a.b.c')(event), 'through a');
  assert.equal(compileFieldPath('a.b.c')({ a: { 'b.c': undefined }, 'a.b': { c: 'through a.b' } }), 'through a.b');
});

test('compiled reader on non-objects', () => {
  const reader = compileFieldPath('a.b');
  assert.equal(reader(null), undefined);
  assert.equal(reader(undefined), undefined);
  assert.equal(reader('a.b'), undefined);
  assert.equal(reader(42), undefined);
  assert.equal(compileFieldPath('length')('text'), undefined);
});

test('compiled reader handles many dots', () => {
  const path = Array.from({ length: 24 }, (_, index) => `k${index}`).join('.');
  const nested: Record<string, unknown> = {};
  let node = nested;
  for (let index = 0; index < 23; index++) node = node[`k${index}`] = {};
  node.k23 = 'deep';
  assert.equal(compileFieldPath(path)(nested), 'deep');
  assert.equal(compileFieldPath(path)({ [path]: 'flat' }), 'flat');
  assert.equal(compileFieldPath(path)({ k0: { k1: {} } }), undefined);
});

test('reader sees later changes to the event', () => {
  const reader = compileFieldPath('holter.patient.token');
  const event: Record<string, unknown> = { holter: {} };
  assert.equal(reader(event), undefined);
  event.holter = { patient: { token: 'pt_1' } };
  assert.equal(reader(event), 'pt_1');
});
