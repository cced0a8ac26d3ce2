import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEAD_LETTER_HEADERS } from '../../src/sources/kafka/dead-letter-topic.js';
import {
  INTEGRATION_SKIP,
  consumeRecords,
  createTopic,
  expectedAlerts,
  groupLag,
  HolterProcess,
  pollUntil,
  produce,
  requireServices,
  sampleRecords,
  setupDataStream,
  storedAlerts,
  testSettings,
  writeConfig,
} from './helpers.js';

/** Above every sample record (the largest is about 7 KB), so only the planted record is oversized. */
const MAX_RECORD_BYTES = 16_384;

describe('kafka dead-letter topic', { skip: INTEGRATION_SKIP }, () => {
  let holter: HolterProcess | undefined;

  before(requireServices);

  after(async () => {
    await holter?.stop('SIGKILL');
  });

  test('bad records go to dead-letter topic', async () => {
    const settings = testSettings('bad', {
      maxRecordBytes: MAX_RECORD_BYTES,
    });
    const topic = settings.topic;
    const configFile = writeConfig(settings);
    const good = await sampleRecords();
    const oversized = JSON.stringify({ resourceType: 'AuditEvent', padding: 'x'.repeat(3 * MAX_RECORD_BYTES) });
    const bad = [
      { value: Buffer.from('{"resourceType": "AuditEvent", "recorded": '), reason: 'invalid_json' },
      { value: Buffer.from('this line is in no known format'), reason: 'format_unknown' },
      // "Café" in Latin-1: the é byte is not valid UTF-8.
      { value: Buffer.concat([Buffer.from('{"actor": {"alternateId": "Caf'), Buffer.from([0xe9]), Buffer.from('"}}')]), reason: 'invalid_utf8' },
      { value: Buffer.from(oversized), reason: 'too_large' },
    ];
    // Bad records first, in the middle and last, so a stalled partition would hold back good ones.
    const goodValues = good.map((text) => Buffer.from(text));
    const values = [bad[0]!.value, ...goodValues.slice(0, 100), bad[1]!.value, ...goodValues.slice(100, 150), bad[2]!.value, ...goodValues.slice(150), bad[3]!.value];
    const badOffsets = bad.map((entry) => values.indexOf(entry.value));

    const expected = await expectedAlerts(configFile, good);
    assert.ok(expected.ids.size > 0, 'the good records raise alerts');
    await createTopic(topic, 1);
    await setupDataStream(configFile);
    await produce(topic, values.map((value, index) => ({ key: `record-${index}`, value })));

    holter = new HolterProcess(configFile);
    await pollUntil('the group to commit past every record', async () => ((await groupLag(settings.groupId, topic)) === 0 ? true : undefined));
    assert.equal(await holter.stop('SIGTERM'), 0, holter.stderr);

    const stored = await storedAlerts(settings.dataStream);
    assert.deepEqual(new Set(stored.ids), expected.ids, holter.stderr);

    const deadLetters = await consumeRecords(settings.deadLetterTopic, bad.length);
    assert.equal(deadLetters.length, bad.length);
    for (const [index, entry] of bad.entries()) {
      const record = deadLetters[index]!;
      assert.equal(record.headers[DEAD_LETTER_HEADERS.reason], entry.reason);
      assert.equal(record.headers[DEAD_LETTER_HEADERS.sourceTopic], topic);
      assert.equal(record.headers[DEAD_LETTER_HEADERS.sourcePartition], '0');
      assert.equal(record.headers[DEAD_LETTER_HEADERS.sourceOffset], String(badOffsets[index]));
      assert.equal(record.key?.toString(), `record-${badOffsets[index]}`);
      assert.ok(record.value?.equals(entry.value), `the original bytes of the ${entry.reason} record, whole`);
      assert.equal(record.headers[DEAD_LETTER_HEADERS.truncated], undefined);
    }
    assert.equal(deadLetters[3]!.headers[DEAD_LETTER_HEADERS.originalBytes], String(Buffer.byteLength(oversized)));
  });
});
