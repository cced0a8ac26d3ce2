import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MAX_MEMO_LENGTH, memoizable, MIN_MEMO_LENGTH, ValueMemo } from '../../../src/detect/sigma/value-memo.js';

test('memo returns cached results', () => {
  const memo = new ValueMemo<readonly number[]>({ maxEntries: 10, maxChars: 4_096 });
  assert.equal(memo.get('C:\\Windows\\System32\\cmd.exe'), undefined);
  memo.set('C:\\Windows\\System32\\cmd.exe', [3, 7]);
  assert.deepEqual(memo.get('C:\\Windows\\System32\\cmd.exe'), [3, 7]);
  assert.equal(memo.get('C:\\Windows\\System32\\CMD.EXE'), undefined);
});

test('memo stays bounded for unique values', () => {
  const limits = { maxEntries: 100, maxChars: 4_096 };
  const memo = new ValueMemo<readonly number[]>(limits);
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let index = 0; index < 20_000; index++) {
    // Unique values of 8 to 400 code units, like process GUIDs and one-off command lines.
    const value = `${index.toString(16).padStart(8, '0')}${'x'.repeat(Math.floor(random() * 392))}`;
    memo.set(value, [index]);
    assert.ok(memo.entries <= 2 * limits.maxEntries, `${memo.entries} entries after ${index + 1} values`);
    assert.ok(memo.chars <= 2 * limits.maxChars, `${memo.chars} code units after ${index + 1} values`);
  }
  assert.ok(memo.entries > 0);
});

test('memo keeps recently read values', () => {
  const memo = new ValueMemo<readonly number[]>({ maxEntries: 4, maxChars: 4_096 });
  memo.set('C:\\Windows\\explorer.exe', [1]);
  for (let round = 0; round < 50; round++) {
    memo.set(`unique-value-${round}`, []);
    // Read as often as a common image path: each read moves it to the newer generation.
    assert.deepEqual(memo.get('C:\\Windows\\explorer.exe'), [1], `round ${round}`);
  }
  assert.equal(memo.get('unique-value-0'), undefined);
});

test('memo skips values over maximum length', () => {
  const memo = new ValueMemo<readonly number[]>({ maxEntries: 10, maxChars: MAX_MEMO_LENGTH });
  memo.set('x'.repeat(MAX_MEMO_LENGTH + 1), [1]);
  assert.equal(memo.get('x'.repeat(MAX_MEMO_LENGTH + 1)), undefined);
  assert.equal(memo.entries, 0);
  assert.equal(memo.chars, 0);
});

test('memo rejects invalid limits', () => {
  assert.throws(() => new ValueMemo<readonly number[]>({ maxEntries: 0, maxChars: 4_096 }), /maxEntries must be at least 1/);
  assert.throws(() => new ValueMemo<readonly number[]>({ maxEntries: 10, maxChars: 100 }), /maxChars at least 4096/);
  assert.throws(() => new ValueMemo<readonly number[]>({ maxEntries: Number.NaN, maxChars: 4_096 }), /invalid value memo limits/);
});

test('memo length range', () => {
  assert.equal(memoizable('x'.repeat(MIN_MEMO_LENGTH - 1)), false);
  assert.equal(memoizable('x'.repeat(MIN_MEMO_LENGTH)), true);
  assert.equal(memoizable('x'.repeat(MAX_MEMO_LENGTH)), true);
  assert.equal(memoizable('x'.repeat(MAX_MEMO_LENGTH + 1)), false);
});
