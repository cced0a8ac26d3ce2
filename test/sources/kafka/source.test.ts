import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRecord } from '../../../src/decoders/index.js';
import { createEnricher } from '../../../src/enrich/index.js';
import { silentLogger } from '../../../src/log.js';
import { Pipeline } from '../../../src/pipeline.js';
import type { BatchControl, BatchHandler, ConsumerEvents, KafkaConsumerClient, KafkaProducerClient, OutgoingMessage, TopicPartitionOffset } from '../../../src/sources/kafka/client.js';
import { DEAD_LETTER_HEADERS, DeadLetterTopic } from '../../../src/sources/kafka/dead-letter-topic.js';
import { KafkaSource } from '../../../src/sources/kafka/source.js';
import { PartitionTasks } from '../../../src/sources/kafka/tasks.js';
import { MemoryCheckpointStore } from '../../state/memory-store.js';

const TOPIC = 'okta.system';
const DEAD_LETTER_TOPIC = 'holter.dead-letter';

/** A consumer that hands the test its batch handler instead of fetching. */
class FakeConsumer implements KafkaConsumerClient {
  handler: BatchHandler | undefined;
  events: ConsumerEvents | undefined;
  readonly commits: TopicPartitionOffset[][] = [];

  async connect(): Promise<void> {}
  async subscribe(): Promise<void> {}
  async run(handler: BatchHandler, events: ConsumerEvents): Promise<void> {
    this.handler = handler;
    this.events = events;
  }
  seek(): void {
    throw new Error('seek was not expected: the partition has no checkpoint');
  }
  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    this.commits.push(offsets);
  }
  describeError(): { retriable: boolean } {
    return { retriable: false };
  }
  async stop(): Promise<void> {}
  async disconnect(): Promise<void> {}
}

class FakeProducer implements KafkaProducerClient {
  readonly sent: { topic: string; message: OutgoingMessage }[] = [];

  async connect(): Promise<void> {}
  async send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    for (const message of messages) this.sent.push({ topic, message });
  }
  async disconnect(): Promise<void> {}
}

const CONTROL: BatchControl = { isRunning: () => true, isStale: () => false, heartbeat: async () => {}, resolveOffset: () => {} };

const OKTA_LOGIN = JSON.stringify({
  uuid: '00000000-0000-4000-8000-000000000008',
  published: '2026-11-03T09:00:00.000Z',
  eventType: 'user.session.start',
  actor: { id: '00u1', type: 'User', alternateId: 'jdoe@example.org', displayName: 'Test User' },
  client: { ipAddress: '198.51.100.7' },
  outcome: { result: 'SUCCESS' },
});

test('kafka invalid UTF-8 reaches dead-letter topic', async () => {
  const producer = new FakeProducer();
  const deadLetter = new DeadLetterTopic(producer, DEAD_LETTER_TOPIC, silentLogger);
  const pipeline = new Pipeline({
    decode: decodeRecord,
    decodeContext: { defaultTimeZone: 'UTC', now: new Date('2026-12-01T00:00:00Z') },
    enrich: createEnricher({ tokenKey: 'source-test-key-0123456789' }),
    stages: [],
    createStages: async () => ({ stages: [] }),
    sinks: [],
    deadLetter,
    allowedLatenessMs: 60_000,
    logger: silentLogger,
  });
  const tasks = new PartitionTasks(
    { createTask: () => pipeline.createTask(), retireTask: (task) => pipeline.retireTask(task), push: (record, task) => pipeline.push(record, task), deliveredSoFar: () => pipeline.deliveredSoFar() },
    new MemoryCheckpointStore(),
    silentLogger,
  );
  const consumer = new FakeConsumer();
  const source = new KafkaSource({
    consumer,
    groupId: 'holter-test',
    topics: [{ name: TOPIC }],
    fromBeginning: true,
    maxRecordBytes: 1024,
    tasks,
    checkpointIntervalMs: 60_000,
    remember: (record, original) => deadLetter.originals.set(record, original),
    heartbeatIntervalMs: 1000,
    logger: silentLogger,
  });

  const running = source.run();
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(consumer.handler !== undefined, 'the source started the consumer');
  assert.ok(consumer.events?.onAssignment !== undefined, 'the source listens for assignments');
  consumer.events.onAssignment({ [TOPIC]: [0] });
  const invalidValue = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0xff]);
  await consumer.handler(
    {
      topic: TOPIC,
      partition: 0,
      messages: [
        { offset: '7', key: Buffer.from('k7'), value: invalidValue, headers: {} },
        { offset: '8', key: Buffer.from('k8'), value: Buffer.from(OKTA_LOGIN), headers: {} },
      ],
    },
    CONTROL,
  );
  await source.stop();
  await running;
  const summary = await pipeline.finish({ closeWindows: false });

  assert.equal(producer.sent.length, 1);
  const [sent] = producer.sent;
  assert.equal(sent?.topic, DEAD_LETTER_TOPIC);
  assert.deepEqual(sent?.message.value, invalidValue, 'the original value, byte for byte');
  assert.deepEqual(sent?.message.key, Buffer.from('k7'));
  assert.equal(sent?.message.headers?.[DEAD_LETTER_HEADERS.reason], 'invalid_utf8');
  assert.equal(sent?.message.headers?.[DEAD_LETTER_HEADERS.sourceOffset], '7');
  assert.match(sent?.message.headers?.[DEAD_LETTER_HEADERS.message] ?? '', /starts at byte 3 of the record/);
  assert.deepEqual(summary.deadLetteredByReason, { invalid_utf8: 1 });
  assert.equal(summary.eventsDecoded, 1);
  assert.deepEqual(consumer.commits.at(-1), [{ topic: TOPIC, partition: 0, offset: '9' }]);
});

test('kafka membership follows consumer events', async () => {
  const pipeline = new Pipeline({
    decode: decodeRecord,
    decodeContext: { defaultTimeZone: 'UTC', now: new Date('2026-12-01T00:00:00Z') },
    enrich: createEnricher({ tokenKey: 'source-test-key-0123456789' }),
    stages: [],
    createStages: async () => ({ stages: [] }),
    sinks: [],
    deadLetter: new DeadLetterTopic(new FakeProducer(), DEAD_LETTER_TOPIC, silentLogger),
    allowedLatenessMs: 60_000,
    logger: silentLogger,
  });
  const tasks = new PartitionTasks(
    { createTask: () => pipeline.createTask(), retireTask: (task) => pipeline.retireTask(task), push: (record, task) => pipeline.push(record, task), deliveredSoFar: () => pipeline.deliveredSoFar() },
    new MemoryCheckpointStore(),
    silentLogger,
  );
  const consumer = new FakeConsumer();
  const source = new KafkaSource({
    consumer,
    groupId: 'holter-test',
    topics: [{ name: TOPIC }],
    fromBeginning: true,
    maxRecordBytes: 1024,
    tasks,
    checkpointIntervalMs: 60_000,
    heartbeatIntervalMs: 1000,
    logger: silentLogger,
  });

  const running = source.run();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(source.membership, { member: false, status: 'starting', reason: 'The consumer has not joined group holter-test yet.' });
  assert.ok(consumer.handler !== undefined, 'the source started the consumer');
  assert.ok(consumer.events?.onAssignment !== undefined, 'the source listens for assignments');
  assert.ok(consumer.events.onMembershipLost !== undefined, 'the source listens for lost membership');

  consumer.events.onAssignment({ [TOPIC]: [0, 2] });
  assert.deepEqual(source.membership, { member: true });
  assert.deepEqual(source.ownedPartitions, [
    { topic: TOPIC, partition: 0 },
    { topic: TOPIC, partition: 2 },
  ]);
  await consumer.handler({ topic: TOPIC, partition: 2, messages: [{ offset: '40', key: null, value: Buffer.from(OKTA_LOGIN), headers: {} }] }, CONTROL);
  assert.deepEqual(source.ownedPartitions[1], { topic: TOPIC, partition: 2, nextOffset: '41' });

  const crash = Object.assign(new Error('Number of retries exceeded'), { name: 'KafkaJSNumberOfRetriesExceeded' });
  consumer.events.onMembershipLost('restarting', crash);
  const restarting = source.membership;
  assert.equal(restarting.member, false);
  assert.equal(restarting.member === false && restarting.status, 'restarting');
  assert.match(restarting.member === false ? restarting.reason : '', /KafkaJSNumberOfRetriesExceeded: Number of retries exceeded.*not rejoined group holter-test/);
  assert.equal(source.ownedPartitions.length, 2, 'the last assignment stays for the lag metric');

  consumer.events.onAssignment({ [TOPIC]: [2] });
  assert.deepEqual(source.membership, { member: true });
  assert.deepEqual(source.ownedPartitions, [{ topic: TOPIC, partition: 2 }], 'a new generation forgets positions, which another member may have moved');

  consumer.events.onMembershipLost('rebalancing');
  assert.equal(source.membership.member === false && source.membership.status, 'rebalancing');

  await source.stop();
  await running;
  assert.equal(source.membership.member === false && source.membership.status, 'stopped');
});
