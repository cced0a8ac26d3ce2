import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../../src/sim/random.js';

describe('Random', () => {
  it('repeats the sequence for a seed', () => {
    const first = new Random(42, 7);
    const second = new Random(42, 7);
    for (let k = 0; k < 1000; k++) assert.equal(first.nextUint32(), second.nextUint32());
  });

  it('diverges for neighbouring seeds', () => {
    const first = new Random(42);
    const second = new Random(43);
    let equal = 0;
    for (let k = 0; k < 1000; k++) if (first.nextUint32() === second.nextUint32()) equal++;
    assert.ok(equal < 3, `${equal} equal draws`);
  });

  it('keeps int within inclusive bounds', () => {
    const random = new Random(1);
    const seen = new Set<number>();
    for (let k = 0; k < 5000; k++) {
      const value = random.int(3, 7);
      assert.ok(value >= 3, `value ${value}`);
      assert.ok(value <= 7, `value ${value}`);
      seen.add(value);
    }
    assert.deepEqual([...seen].sort(), [3, 4, 5, 6, 7]);
  });

  it('draws uniform floats with mean near half', () => {
    const random = new Random(9);
    let sum = 0;
    for (let k = 0; k < 20_000; k++) sum += random.next();
    assert.ok(Math.abs(sum / 20_000 - 0.5) < 0.01, `mean ${sum / 20_000}`);
  });

  it('formats version 4 uuids', () => {
    const random = new Random(5);
    for (let k = 0; k < 100; k++) assert.match(random.uuid(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('rejects picking from an empty list', () => {
    assert.throws(() => new Random(1).pick([]), RangeError);
  });
});
