import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { isHolterError } from '../../src/errors.js';
import { ChangelogTable } from '../../src/state/changelog.js';
import {
  CHECKPOINT_ID_HEADER,
  CHECKPOINT_VERSION,
  chunkTombstones,
  decodeCheckpoint,
  encodeCheckpoint,
  encodeCheckpointInBackground,
  manifestKey,
  orphanChunkTombstones,
  type ChangelogRecord,
  type Checkpoint,
} from '../../src/state/checkpoint.js';

function checkpointAt(offset: string, payload: unknown = { count: Number(offset) }): Checkpoint {
  return { version: CHECKPOINT_VERSION, topic: 'ehr.audit', partition: 2, offset, task: { maxEventTimeMs: 1_700_000_000_000, riskAdvancedMs: null, stages: { counter: payload } } };
}

function tableOf(...records: ChangelogRecord[]): ChangelogTable {
  const table = new ChangelogTable();
  for (const record of records) table.apply(record);
  return table;
}

/** Random text does not compress, so it splits into a known number of chunks. */
function incompressible(bytes: number): string {
  return randomBytes(bytes).toString('base64');
}

function rejectsWith(code: string, pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isHolterError(error), `expected a HolterError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  };
}

test('checkpoint round-trips with manifest last', () => {
  const checkpoint = checkpointAt('1042');
  const { manifest, records } = encodeCheckpoint(checkpoint);

  assert.equal(records.length, 2);
  assert.equal(records.at(-1)?.key, manifestKey('ehr.audit', 2));
  assert.equal(manifest.chunks, 1);
  assert.equal(manifest.offset, '1042');
  for (const record of records) assert.equal(record.headers[CHECKPOINT_ID_HEADER], manifest.id);
  assert.deepEqual(decodeCheckpoint(tableOf(...records), 'ehr.audit', 2)?.checkpoint, checkpoint);
});

test('background encoding keeps state at call', async () => {
  const state = { count: 1, users: ['u-1042'] };
  const checkpoint = checkpointAt('1042', state);
  const now = new Date('2026-12-05T04:00:00Z');
  const expected = encodeCheckpoint(checkpoint, { id: 'fixed', now, maxChunkBytes: 1000 });

  const encoding = encodeCheckpointInBackground(checkpoint, { id: 'fixed', now, maxChunkBytes: 1000 });
  state.count = 2;
  state.users.push('u-2077');
  const encoded = await encoding;

  assert.deepEqual(encoded, expected);
  assert.deepEqual(decodeCheckpoint(tableOf(...encoded.records), 'ehr.audit', 2)?.checkpoint.task.stages, { counter: { count: 1, users: ['u-1042'] } });
});

test('partition without manifest has no checkpoint', () => {
  const { records } = encodeCheckpoint(checkpointAt('7'));
  assert.equal(decodeCheckpoint(tableOf(...records), 'ehr.audit', 3), undefined);
  assert.equal(decodeCheckpoint(tableOf(...records), 'pacs.audit', 2), undefined);
});

test('large checkpoint splits into bounded chunks', () => {
  const checkpoint = checkpointAt('5', { text: incompressible(10_000) });
  const { manifest, records } = encodeCheckpoint(checkpoint, { maxChunkBytes: 1000 });

  assert.ok(manifest.chunks >= 10, `${manifest.chunks} chunks`);
  assert.equal(records.length, manifest.chunks + 1);
  for (const record of records.slice(0, -1)) assert.ok((record.value?.length ?? 0) <= 1000, `chunk of ${record.value?.length} bytes`);
  assert.equal(records.slice(0, -1).reduce((total, record) => total + (record.value?.length ?? 0), 0), manifest.bytes);
  assert.deepEqual(decodeCheckpoint(tableOf(...records), 'ehr.audit', 2)?.checkpoint, checkpoint);
});

test('half-written checkpoint leaves previous one', () => {
  const previous = encodeCheckpoint(checkpointAt('100', { text: incompressible(3000) }), { maxChunkBytes: 1000 });
  const next = encodeCheckpoint(checkpointAt('200', { text: incompressible(3000) }), { maxChunkBytes: 1000 });
  const table = tableOf(...previous.records);

  // A crash after some of the new chunks and before the new manifest.
  for (const record of next.records.slice(0, 2)) table.apply(record);
  assert.equal(decodeCheckpoint(table, 'ehr.audit', 2)?.checkpoint.offset, '100');

  for (const record of next.records.slice(2)) table.apply(record);
  assert.equal(decodeCheckpoint(table, 'ehr.audit', 2)?.checkpoint.offset, '200');
});

test('tombstones remove replaced chunks only', () => {
  const previous = encodeCheckpoint(checkpointAt('100', { text: incompressible(3000) }), { maxChunkBytes: 1000 });
  const next = encodeCheckpoint(checkpointAt('200'), { maxChunkBytes: 1000 });
  const table = tableOf(...previous.records, ...next.records, ...chunkTombstones(previous.manifest));

  assert.equal(table.size, next.records.length, 'only the new chunks and the manifest remain');
  assert.equal(decodeCheckpoint(table, 'ehr.audit', 2)?.checkpoint.offset, '200');
});

test('chunks without a manifest are orphans', () => {
  const complete = encodeCheckpoint(checkpointAt('100', { text: incompressible(3000) }), { maxChunkBytes: 1000 });
  // A writer that crashed after two chunks of its next checkpoint, before the manifest.
  const crashed = encodeCheckpoint(checkpointAt('200', { text: incompressible(3000) }), { maxChunkBytes: 1000 });
  const otherPartition = encodeCheckpoint({ ...checkpointAt('300', { text: incompressible(3000) }), partition: 12 }, { maxChunkBytes: 1000 });
  const table = tableOf(...complete.records, ...crashed.records.slice(0, 2), ...otherPartition.records.slice(0, 1));

  const tombstones = orphanChunkTombstones(table.keys(), 'ehr.audit', 2, decodeCheckpoint(table, 'ehr.audit', 2)?.manifest);
  assert.deepEqual(
    tombstones.map((record) => record.key),
    crashed.records.slice(0, 2).map((record) => record.key),
  );
  assert.ok(tombstones.every((record) => record.value === null));

  const cleaned = tableOf(...complete.records, ...crashed.records.slice(0, 2), ...tombstones);
  assert.equal(decodeCheckpoint(cleaned, 'ehr.audit', 2)?.checkpoint.offset, '100', 'the complete checkpoint is untouched');
});

test('every chunk is an orphan without a manifest', () => {
  const crashed = encodeCheckpoint(checkpointAt('200', { text: incompressible(3000) }), { maxChunkBytes: 1000 });
  const chunks = crashed.records.slice(0, -1);

  assert.equal(orphanChunkTombstones(tableOf(...chunks).keys(), 'ehr.audit', 2, undefined).length, chunks.length);
});

test('other layout version is rejected', () => {
  const { records } = encodeCheckpoint(checkpointAt('9'));
  const manifestRecord = records.at(-1) as ChangelogRecord;
  const manifest = JSON.parse((manifestRecord.value as Buffer).toString('utf8')) as Record<string, unknown>;
  const future = { ...manifestRecord, value: Buffer.from(JSON.stringify({ ...manifest, version: CHECKPOINT_VERSION + 1 })) };

  assert.throws(() => decodeCheckpoint(tableOf(...records.slice(0, -1), future), 'ehr.audit', 2), rejectsWith('HOLTER_STATE_VERSION', /ehr\.audit\/2 .*version 2.*tombstone/));
});

test('missing chunk is reported as corrupt', () => {
  const { records } = encodeCheckpoint(checkpointAt('9', { text: incompressible(3000) }), { maxChunkBytes: 1000 });
  const withoutSecond = records.filter((_, index) => index !== 1);

  assert.throws(() => decodeCheckpoint(tableOf(...withoutSecond), 'ehr.audit', 2), rejectsWith('HOLTER_STATE_CORRUPT', /ehr\.audit\/2 .*chunk 2 of \d+ is missing/));
});

test('altered chunk fails the checksum', () => {
  const { records } = encodeCheckpoint(checkpointAt('9', { text: incompressible(3000) }), { maxChunkBytes: 1000 });
  const first = records[0] as ChangelogRecord;
  const altered = Buffer.from(first.value as Buffer);
  altered[0] = (altered[0] ?? 0) ^ 0xff;

  assert.throws(() => decodeCheckpoint(tableOf(...records, { ...first, value: altered }), 'ehr.audit', 2), rejectsWith('HOLTER_STATE_CORRUPT', /SHA-256/));
});

test('chunk size must be positive', () => {
  assert.throws(() => encodeCheckpoint(checkpointAt('1'), { maxChunkBytes: 0 }), /maxChunkBytes must be a whole number above 0, got 0/);
});
