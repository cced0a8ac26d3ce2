import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValueCounts } from '../../../src/detect/baseline/buckets.js';

describe('ValueCounts', () => {
  it('counts events per value', () => {
    const counts = new ValueCounts();
    for (const value of ['10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.3', '10.0.0.2']) counts.add(value);
    assert.deepEqual(counts.entries(), [
      ['10.0.0.1', 3],
      ['10.0.0.2', 2],
      ['10.0.0.3', 1],
    ]);
  });

  it('starts empty', () => {
    assert.deepEqual(new ValueCounts().entries(), []);
  });

  it('stops at 100 values', () => {
    const counts = new ValueCounts();
    for (let index = 0; index < 150; index += 1) counts.add(`value-${index}`);
    counts.add('value-0');
    counts.add('value-99');
    counts.add('value-100');
    const entries = counts.entries();
    assert.equal(entries.length, 100);
    assert.deepEqual(entries[0], ['value-0', 2]);
    assert.deepEqual(entries[99], ['value-99', 2]);
    assert.equal(entries.find(([value]) => value === 'value-100'), undefined);
  });

  it('restores from its entries', () => {
    const counts = new ValueCounts();
    for (const value of ['read', 'search', 'read']) counts.add(value);
    const restored = ValueCounts.fromEntries(counts.entries());
    restored.add('search');
    restored.add('export');
    assert.deepEqual(restored.entries(), [
      ['read', 2],
      ['search', 2],
      ['export', 1],
    ]);
  });
});
