import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DecodeResult } from '../../src/decoders/types.js';
import { decodedRecord, mergeByEventTime, type DecodedRecord } from '../../src/sources/merge.js';
import { eventAt } from '../helpers/detections.js';

function decoded(input: string, timestamps: string[]): DecodedRecord {
  const result: DecodeResult = timestamps.length === 0
    ? { ok: false, reason: 'invalid_json', message: 'bad' }
    : { ok: true, events: timestamps.map((time) => eventAt(time)) };
  return decodedRecord({ input, text: '' }, result);
}

async function* from(items: DecodedRecord[]): AsyncGenerator<DecodedRecord> {
  yield* items;
}

async function collect(sources: AsyncIterable<DecodedRecord>[]): Promise<string[]> {
  const order: string[] = [];
  for await (const item of mergeByEventTime(sources)) order.push(`${item.record.input}@${item.timeMs}`);
  return order;
}

test('merge orders inputs by event time', async () => {
  const later = [decoded('later', ['2026-03-02T00:00:00Z']), decoded('later', ['2026-03-03T00:00:00Z'])];
  const earlier = [decoded('earlier', ['2026-03-01T00:00:00Z']), decoded('earlier', ['2026-03-02T12:00:00Z'])];
  const order = await collect([from(later), from(earlier)]);
  assert.deepEqual(order.map((entry) => entry.split('@')[0]), ['earlier', 'later', 'earlier', 'later']);
});

test('merge keeps each input order and ties by rank', async () => {
  const a = [decoded('a', ['2026-03-02T00:00:00Z']), decoded('a', ['2026-03-01T00:00:00Z'])];
  const b = [decoded('b', ['2026-03-02T00:00:00Z'])];
  const order = await collect([from(a), from(b)]);
  assert.deepEqual(order, [`a@${Date.parse('2026-03-02T00:00:00Z')}`, `a@${Date.parse('2026-03-01T00:00:00Z')}`, `b@${Date.parse('2026-03-02T00:00:00Z')}`]);
});

test('merge passes dead letters first', async () => {
  const a = [decoded('a', ['2026-03-02T00:00:00Z'])];
  const b = [decoded('b', []), decoded('b', ['2026-03-01T00:00:00Z'])];
  const order = await collect([from(a), from(b)]);
  assert.deepEqual(order.map((entry) => entry.split('@')[0]), ['b', 'b', 'a']);
  assert.equal(order[0], 'b@-Infinity');
});

test('merged record sorts by earliest event', () => {
  const bundle = decoded('bundle', ['2026-03-02T00:00:00Z', '2026-03-01T00:00:00Z']);
  assert.equal(bundle.timeMs, Date.parse('2026-03-01T00:00:00Z'));
});

test('merge of no inputs yields nothing', async () => {
  assert.deepEqual(await collect([]), []);
});
