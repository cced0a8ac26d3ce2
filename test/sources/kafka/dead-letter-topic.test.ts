import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import type { KafkaProducerClient, OutgoingMessage } from '../../../src/sources/kafka/client.js';
import { DEAD_LETTER_HEADERS, DeadLetterTopic } from '../../../src/sources/kafka/dead-letter-topic.js';

/** Returns a producer that rejects values above `limit` bytes as the broker does, and keeps what it accepted. */
function limitedProducer(limit: number): KafkaProducerClient & { accepted: OutgoingMessage[]; refused: number } {
  const producer = {
    accepted: [] as OutgoingMessage[],
    refused: 0,
    connect: async () => undefined,
    disconnect: async () => undefined,
    send: async (_topic: string, messages: OutgoingMessage[]) => {
      for (const message of messages) {
        if ((message.value?.length ?? 0) > limit) {
          producer.refused++;
          throw Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { type: 'MESSAGE_TOO_LARGE', code: 10 });
        }
        producer.accepted.push(message);
      }
    },
  };
  return producer;
}

function deadLetter(producer: KafkaProducerClient, value: Buffer): { topic: DeadLetterTopic; record: { input: string; offset: number; text: string } } {
  const topic = new DeadLetterTopic(producer, 'holter.dead-letter', silentLogger);
  const record = { input: 'ehr.audit/3', offset: 42, text: value.subarray(0, 2_000_000).toString('utf8') };
  topic.originals.set(record, { key: Buffer.from('u-7'), value });
  return { topic, record };
}

describe('DeadLetterTopic', () => {
  it('writes a record that fits whole', async () => {
    const producer = limitedProducer(1_048_576);
    const { topic, record } = deadLetter(producer, Buffer.from('{"resourceType":"AuditEvent"'));
    await topic.write(record, 'invalid_record', 'bad JSON');

    assert.equal(producer.accepted.length, 1);
    assert.equal(producer.accepted[0]?.headers?.[DEAD_LETTER_HEADERS.truncated], undefined);
    assert.equal(producer.accepted[0]?.headers?.[DEAD_LETTER_HEADERS.sourceOffset], '42');
  });

  it('writes a prefix below the default broker limit', async () => {
    const producer = limitedProducer(1_048_576);
    const { topic, record } = deadLetter(producer, Buffer.alloc(1_500_000, 'x'));
    await topic.write(record, 'too_large', 'record larger than 1048576 bytes');

    assert.equal(producer.refused, 1);
    assert.equal(producer.accepted.length, 1);
    assert.equal(producer.accepted[0]?.value?.length, 900_000);
    assert.equal(producer.accepted[0]?.headers?.[DEAD_LETTER_HEADERS.truncated], 'true');
    assert.equal(producer.accepted[0]?.headers?.[DEAD_LETTER_HEADERS.originalBytes], '1500000');
  });

  it('writes the headers alone when no prefix fits', async () => {
    const producer = limitedProducer(1000);
    const { topic, record } = deadLetter(producer, Buffer.alloc(50_000, 'x'));
    await topic.write(record, 'too_large', 'record larger than 1048576 bytes');

    assert.equal(producer.refused, 1);
    assert.equal(producer.accepted[0]?.value?.length, 0);
    assert.equal(producer.accepted[0]?.headers?.[DEAD_LETTER_HEADERS.truncated], 'true');
    assert.equal(producer.accepted[0]?.headers?.[DEAD_LETTER_HEADERS.reason], 'too_large');
  });

  it('fails on errors other than size', async () => {
    const producer = limitedProducer(1_048_576);
    producer.send = async () => {
      throw new Error('topic authorization failed');
    };
    const { topic, record } = deadLetter(producer, Buffer.from('{}'));
    await assert.rejects(topic.write(record, 'invalid_record', 'bad'), /Writing the record at ehr\.audit\/3 offset 42 to dead-letter topic holter\.dead-letter failed: topic authorization failed/);
  });
});
