import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HolterEvent } from '../../../src/event.js';
import { EntryBuffer } from '../../../src/detect/baseline/high-sum-entries.js';
import type { SavedEntry } from '../../../src/detect/baseline/high-sum-entries.js';

function eventWithId(id: string): HolterEvent {
  return { '@timestamp': '2025-01-01T00:00:00.000Z', event: { id } } as HolterEvent;
}

function insertEntry(buffer: EntryBuffer, entry: SavedEntry): number {
  const index = buffer.insert(entry.ms, entry.value, entry.id, entry.evaluated, entry.event);
  entry.also.forEach((value, field) => buffer.setAlso(index, field, value));
  return index;
}

function savedEntries(buffer: EntryBuffer): SavedEntry[] {
  return Array.from({ length: buffer.count }, (_, index) => buffer.saved(index));
}

function entry(ms: number, id: string, also: number[] = [0, 0]): SavedEntry {
  return { ms, value: ms / 10, also, id, evaluated: false, event: eventWithId(id) };
}

/** Deterministic numbers in [0, 1), so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 4_294_967_296;
  };
}

describe('high_sum entry buffer', () => {
  it('inserts out of order by time', () => {
    const buffer = new EntryBuffer(2);
    const indices = [entry(30, 'a', [3, 300]), entry(10, 'b', [1, 100]), entry(20, 'c', [2, 200]), entry(10, 'd', [4, 400])].map((added) =>
      insertEntry(buffer, added),
    );

    // Each insert returns where the entry went: a tie goes after the entries already at its time.
    assert.deepEqual(indices, [0, 0, 1, 1]);
    assert.deepEqual(
      savedEntries(buffer).map((saved) => [saved.ms, saved.id, saved.value, saved.also, saved.event?.event.id]),
      [
        [10, 'b', 1, [1, 100], 'b'],
        [10, 'd', 1, [4, 400], 'd'],
        [20, 'c', 2, [2, 200], 'c'],
        [30, 'a', 3, [3, 300], 'a'],
      ],
    );
  });

  it('merges the oldest into the next', () => {
    const buffer = new EntryBuffer(2);
    insertEntry(buffer, entry(20, 'later', [2, 200]));
    insertEntry(buffer, entry(10, 'oldest', [1, 100]));
    insertEntry(buffer, entry(30, 'last', [3, 300]));
    buffer.markEvaluated(1);
    buffer.releaseEvent(1);

    buffer.mergeOldest();

    assert.equal(buffer.count, 2);
    // The next entry keeps its time, id, flag and event, and gains the value and also_sum values.
    assert.deepEqual(buffer.saved(0), { ms: 20, value: 3, also: [3, 300], id: 'later', evaluated: true, event: null });
    assert.equal(buffer.saved(1).id, 'last');
  });

  it('reuses its arrays after emptying', () => {
    const buffer = new EntryBuffer(1);
    for (let ms = 0; ms < 40; ms += 10) insertEntry(buffer, entry(ms, `old-${ms}`, [ms + 1]));
    buffer.markEvaluated(0);
    buffer.dropOldest(4);
    assert.equal(buffer.count, 0);
    assert.equal(buffer.firstUnevaluated(), -1);

    // The new entries take positions that old ones held. An event without an also_sum value
    // must read 0 there, not the old entry's value.
    insertEntry(buffer, entry(25, 'new-25', [7]));
    buffer.insert(5, 0.5, 'new-5', false, null);
    assert.deepEqual(savedEntries(buffer), [
      { ms: 5, value: 0.5, also: [0], id: 'new-5', evaluated: false, event: null },
      { ms: 25, value: 2.5, also: [7], id: 'new-25', evaluated: false, event: eventWithId('new-25') },
    ]);
  });

  it('matches a list of entry objects', () => {
    // Random inserts (often out of order, with ties), drops, merges and evaluations, checked after
    // each step against the list of objects that the buffer replaces. The buffer empties and moves
    // its entries to the start of its arrays many times.
    const next = random(7);
    const buffer = new EntryBuffer(2);
    const model: SavedEntry[] = [];
    for (let step = 0; step < 3000; step += 1) {
      const choice = next();
      if (choice < 0.5) {
        const added: SavedEntry = {
          ms: Math.floor(step / 2) + Math.floor(next() * 6),
          value: Math.floor(next() * 100),
          also: [Math.floor(next() * 10), next() * 1e6],
          id: `e-${step}`,
          evaluated: next() < 0.2,
          event: null,
        };
        if (!added.evaluated) added.event = eventWithId(added.id);
        const index = insertEntry(buffer, { ...added, also: [...added.also] });
        let position = model.length;
        while (position > 0 && (model[position - 1] as SavedEntry).ms > added.ms) position -= 1;
        model.splice(position, 0, added);
        assert.equal(index, position, `insert index at step ${step}`);
      } else if (choice < 0.8 && model.length > 0) {
        const dropped = 1 + Math.floor(next() * Math.min(model.length, 4));
        buffer.dropOldest(dropped);
        model.splice(0, dropped);
      } else if (choice < 0.9 && model.length >= 2) {
        buffer.mergeOldest();
        const [oldest, into] = model as [SavedEntry, SavedEntry];
        into.value += oldest.value;
        into.also = into.also.map((value, field) => value + (oldest.also[field] as number));
        model.shift();
      } else if (model.length > 0) {
        const index = Math.floor(next() * model.length);
        buffer.markEvaluated(index);
        buffer.releaseEvent(index);
        (model[index] as SavedEntry).evaluated = true;
        (model[index] as SavedEntry).event = null;
      }
      assert.deepEqual(savedEntries(buffer), model, `entries after step ${step}`);
      const firstUnevaluated = model.findIndex((saved) => !saved.evaluated);
      assert.equal(buffer.firstUnevaluated(), firstUnevaluated, `first unevaluated after step ${step}`);
    }
  });
});
