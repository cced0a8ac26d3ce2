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
      { text: '{"resourceType": "AuditEvent", "recorded": ', reason: 'invalid_json' },
      { text: 'this line is in no known format', reason: 'format_unknown' },
      { text: oversized, reason: 'too_large' },
    ];
    // Bad records first, in the middle and last, so a stalled partition would hold back good ones.
    const texts = [bad[0]!.text, ...good.slice(0, 100), bad[1]!.text, ...good.slice(100), bad[2]!.text];
    const badOffsets = [0, 101, texts.length - 1];

    const expected = await expectedAlerts(configFile, good);
    assert.ok(expected.ids.size > 0, 'the good records raise alerts');
    await createTopic(topic, 1);
    await setupDataStream(configFile);
    await produce(topic, texts.map((text, index) => ({ key: `record-${index}`, value: text })));

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
      assert.equal(record.value?.toString(), entry.text, 'the original value, whole');
      assert.equal(record.headers[DEAD_LETTER_HEADERS.truncated], undefined);
    }
    assert.equal(deadLetters[2]!.headers[DEAD_LETTER_HEADERS.originalBytes], String(Buffer.byteLength(oversized)));
  });
});
