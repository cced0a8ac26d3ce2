import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EntityKeys, EntityMap } from '../../../src/detect/baseline/entities.js';

const keysOf = (map: EntityMap<number>): string[] => [...map].map(([key]) => key);

describe('EntityMap', () => {
  it('orders entities by last touch', () => {
    const map = new EntityMap<number>(10);
    for (const key of ['a', 'b', 'c']) map.touch(key, () => 0);
    map.touch('a', () => 99);
    assert.deepEqual(keysOf(map), ['b', 'c', 'a']);
    map.touch('a', () => 99);
    assert.deepEqual(keysOf(map), ['b', 'c', 'a']);
    map.touch('b', () => 99);
    assert.deepEqual(keysOf(map), ['c', 'a', 'b']);
  });

  it('keeps state across touches', () => {
    const map = new EntityMap<{ count: number }>(10);
    map.touch('a', () => ({ count: 0 })).count += 1;
    map.touch('a', () => ({ count: 0 })).count += 1;
    assert.equal(map.get('a')?.count, 2);
    assert.equal(map.size, 1);
  });

  it('evicts the least recently touched', () => {
    const evicted: Array<[string, number]> = [];
    const map = new EntityMap<number>(2, (key, state) => evicted.push([key, state]));
    map.touch('a', () => 1);
    map.touch('b', () => 2);
    map.touch('a', () => 0);
    map.touch('c', () => 3);
    assert.deepEqual(evicted, [['b', 2]]);
    assert.deepEqual(keysOf(map), ['a', 'c']);
    assert.equal(map.evicted, 1);
    assert.equal(map.get('b'), undefined);
  });

  it('set keeps the place of a known entity', () => {
    const map = new EntityMap<number>(10);
    map.set('a', 1);
    map.set('b', 2);
    map.set('a', 3);
    assert.deepEqual([...map], [['a', 3], ['b', 2]]);
  });

  it('trims restored excess one per touch', () => {
    const map = new EntityMap<number>(2);
    for (const key of ['a', 'b', 'c', 'd']) map.set(key, 0);
    assert.equal(map.size, 4);
    map.touch('c', () => 0);
    assert.deepEqual(keysOf(map), ['b', 'd', 'c']);
    map.touch('e', () => 0);
    assert.deepEqual(keysOf(map), ['d', 'c', 'e']);
    assert.equal(map.evicted, 2);
  });

  it('touchKnown leaves unknown entities out', () => {
    const map = new EntityMap<number>(10);
    map.add('a', 1);
    map.add('b', 2);
    assert.equal(map.touchKnown('x'), undefined);
    assert.equal(map.size, 2);
    assert.equal(map.touchKnown('a'), 1);
    assert.deepEqual(keysOf(map), ['b', 'a']);
  });

  it('add evicts past the bound', () => {
    const evicted: Array<[string, number]> = [];
    const map = new EntityMap<number>(2, (key, state) => evicted.push([key, state]));
    map.add('a', 1);
    map.add('b', 2);
    assert.equal(map.add('c', 3), 3);
    assert.deepEqual(evicted, [['a', 1]]);
    assert.deepEqual(keysOf(map), ['b', 'c']);
    assert.equal(map.evicted, 1);
  });

  it('touchKnown trims restored excess', () => {
    const map = new EntityMap<number>(2);
    for (const key of ['a', 'b', 'c']) map.set(key, 0);
    map.touchKnown('b');
    assert.deepEqual(keysOf(map), ['c', 'b']);
    assert.equal(map.evicted, 1);
  });

  it('clear empties it', () => {
    const map = new EntityMap<number>(3);
    map.touch('a', () => 1);
    map.clear();
    assert.equal(map.size, 0);
    assert.deepEqual(keysOf(map), []);
    map.touch('b', () => 2);
    assert.deepEqual(keysOf(map), ['b']);
  });
});

/** Returns a key table and two maps of `maxEntities` that share it. */
function twoMaps(maxEntities: number): [EntityKeys, EntityMap<number>, EntityMap<number>] {
  const keys = new EntityKeys();
  return [keys, new EntityMap<number>(maxEntities, undefined, keys), new EntityMap<number>(maxEntities, undefined, keys)];
}

describe('EntityMap with shared keys', () => {
  it('keeps each map apart', () => {
    const keys = new EntityKeys();
    const counts = new EntityMap<number>(10, undefined, keys);
    const names = new EntityMap<string>(10, undefined, keys);
    counts.touch('u-1', () => 1);
    names.touch('u-2', () => 'second');
    names.touch('u-1', () => 'first');

    assert.equal(counts.get('u-1'), 1);
    assert.equal(counts.get('u-2'), undefined);
    assert.equal(names.get('u-1'), 'first');
    assert.equal(names.get('u-2'), 'second');
    assert.equal(counts.size, 1);
    assert.equal(names.size, 2);
    assert.deepEqual(keysOf(counts), ['u-1']);
  });

  it('eviction in one map spares the other', () => {
    const keys = new EntityKeys();
    const small = new EntityMap<number>(1, undefined, keys);
    const large = new EntityMap<number>(10, undefined, keys);
    for (const key of ['a', 'b']) {
      small.touch(key, () => 1);
      large.touch(key, () => 2);
    }

    assert.equal(small.get('a'), undefined);
    assert.equal(small.evicted, 1);
    assert.equal(large.get('a'), 2);
    assert.equal(large.get('b'), 2);
  });

  it('forgets a key no map holds', () => {
    const [keys, first, second] = twoMaps(1);
    first.touch('a', () => 1);
    second.touch('a', () => 2);
    first.touch('b', () => 3);
    second.touch('b', () => 4);
    assert.equal(keys.find('a'), undefined);

    // A key dropped from the table and added again keeps its new state after other lookups.
    assert.equal(first.touch('a', () => 5), 5);
    first.get('b');
    assert.equal(first.get('a'), 5);
    assert.equal(second.get('a'), undefined);
  });

  it('clear leaves the other map whole', () => {
    const [, cleared, kept] = twoMaps(10);
    cleared.touch('a', () => 1);
    kept.touch('a', () => 2);
    cleared.clear();

    assert.equal(cleared.get('a'), undefined);
    assert.equal(cleared.size, 0);
    assert.equal(kept.get('a'), 2);
    cleared.set('a', 3);
    assert.equal(cleared.get('a'), 3);
  });
});
