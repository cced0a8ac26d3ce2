import type { SizedRawRecord } from '../../decoders/index.js';
import { HolterError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { BatchControl, ConsumedBatch, ConsumedMessage, KafkaConsumerClient } from './client.js';
import type { OriginalRecord } from './dead-letter-topic.js';

export interface KafkaSourceOptions {
  consumer: KafkaConsumerClient;
  groupId: string;
  topics: { name: string; format?: string }[];
  /** Start of a group with no committed offset: the oldest record kept, or new records only. */
  fromBeginning: boolean;
  /** Values above this size are cut and flagged `oversizeBytes`, so the pipeline dead-letters them as too_large. */
  maxRecordBytes: number;
  /** The pipeline's push: resolves once every alert the record raised was given to every sink. */
  push: (record: SizedRawRecord) => Promise<void>;
  /** Called with each record and the bytes it came from, before it is pushed (the dead-letter topic keeps them). */
  remember?: (record: SizedRawRecord, original: OriginalRecord) => void;
  /** How often to heartbeat while one record waits on a slow sink; below the session timeout. */
  heartbeatIntervalMs: number;
  logger: Logger;
}

/** Counts for the end-of-run summary. */
export interface KafkaSourceStats {
  recordsFetched: number;
  tombstonesSkipped: number;
  oversizedRecords: number;
  commits: number;
}

/** Kafka error types that mean a rebalance moved the partition, not that the commit is broken. */
const REBALANCE_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR']);

/**
 * Consumes topics in a consumer group and pushes each record through the pipeline, one at a time.
 * After each batch it commits, per partition, the offset after the last record whose push
 * resolved, so a committed offset never runs ahead of the alerts delivered. A slow sink blocks the
 * handler, and so the fetching, of the whole consumer. That is the back-pressure.
 */
export class KafkaSource {
  readonly stats: KafkaSourceStats = { recordsFetched: 0, tombstonesSkipped: 0, oversizedRecords: 0, commits: 0 };
  private readonly formats: Map<string, string | undefined>;
  private failure: HolterError | undefined;
  private stopping: Promise<void> | undefined;
  private resolveStopped: () => void = () => {};
  private readonly stopped = new Promise<void>((resolve) => {
    this.resolveStopped = resolve;
  });

  constructor(private readonly options: KafkaSourceOptions) {
    this.formats = new Map(options.topics.map((topic) => [topic.name, topic.format]));
  }

  /** Joins the group and consumes until `stop` is called or the consumer fails; rejects with the failure. */
  async run(): Promise<void> {
    const { consumer, logger, groupId } = this.options;
    const topics = this.options.topics.map((topic) => topic.name);
    try {
      await consumer.connect();
      await consumer.subscribe(topics, this.options.fromBeginning);
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw connectError(error, topics);
    }

    await consumer.run(
      (batch, control) => this.handleBatch(batch, control),
      (error) => this.fail(new HolterError('HOLTER_KAFKA_CONSUME', `The Kafka consumer of group ${groupId} crashed: ${error.message}. Restart holter run; uncommitted records are processed again.`, { cause: error, retriable: true })),
    );
    logger.info({ groupId, topics }, 'kafka source started');

    await this.stopped;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Stops fetching, lets the batch in hand commit what it processed, and leaves the group. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      try {
        await this.options.consumer.stop();
        await this.options.consumer.disconnect();
        this.options.logger.info({ groupId: this.options.groupId, ...this.stats }, 'kafka source stopped');
      } finally {
        this.resolveStopped();
      }
    })();
    return this.stopping;
  }

  private async handleBatch(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    if (this.failure !== undefined) return;
    const input = `${batch.topic}/${batch.partition}`;
    const format = this.formats.get(batch.topic);
    const heartbeat = setInterval(() => {
      control.heartbeat().catch((error: unknown) => this.options.logger.debug({ topic: batch.topic, partition: batch.partition, err: error }, 'heartbeat failed'));
    }, this.options.heartbeatIntervalMs);

    let lastProcessed: string | undefined;
    try {
      for (const message of batch.messages) {
        if (!control.isRunning() || control.isStale()) break;
        await this.process(message, input, format);
        control.resolveOffset(message.offset);
        lastProcessed = message.offset;
      }
    } catch (error) {
      this.fail(
        new HolterError('HOLTER_KAFKA_CONSUME', `Processing ${input} failed after offset ${lastProcessed ?? 'none'}: ${(error as Error).message}. Later records are not committed and are processed again on restart.`, {
          cause: error,
          retriable: true,
        }),
      );
    } finally {
      clearInterval(heartbeat);
    }

    if (lastProcessed !== undefined) await this.commit(batch.topic, batch.partition, lastProcessed, control.isStale());
  }

  private async process(message: ConsumedMessage, input: string, format: string | undefined): Promise<void> {
    this.stats.recordsFetched++;
    if (message.value === null) {
      this.stats.tombstonesSkipped++;
      return;
    }

    const record: SizedRawRecord = { input, offset: Number(message.offset), text: '' };
    if (format !== undefined) record.format = format;
    if (message.value.length > this.options.maxRecordBytes) {
      // The decoder gets only the prefix. The dead-letter topic still receives the whole value.
      this.stats.oversizedRecords++;
      record.oversizeBytes = message.value.length;
      record.text = message.value.subarray(0, this.options.maxRecordBytes).toString('utf8');
    } else {
      record.text = message.value.toString('utf8');
    }
    this.options.remember?.(record, { key: message.key, value: message.value });
    await this.options.push(record);
  }

  private async commit(topic: string, partition: number, lastProcessed: string, stale: boolean): Promise<void> {
    const next = (BigInt(lastProcessed) + 1n).toString();
    try {
      await this.options.consumer.commit([{ topic, partition, offset: next }]);
      this.stats.commits++;
    } catch (error) {
      const type = (error as { type?: string }).type;
      if (stale || (type !== undefined && REBALANCE_ERRORS.has(type))) {
        // The partition moved to another member, which resumes from the previous commit. The alerts
        // raised again there carry the same ids, so the sinks report them as duplicates.
        this.options.logger.warn({ topic, partition, offset: next, err: error }, 'offset commit rejected after a rebalance; records since the last commit will be processed again');
        return;
      }
      this.fail(new HolterError('HOLTER_KAFKA_CONSUME', `Committing offset ${next} of ${topic}/${partition} failed: ${(error as Error).message}. Restart holter run; uncommitted records are processed again.`, { cause: error, retriable: true }));
    }
  }

  private fail(error: HolterError): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.options.logger.error({ groupId: this.options.groupId, code: error.code, err: error }, 'kafka source failed; stopping');
    // Not awaited: stop() waits for the batch handler, which may be the caller.
    void this.stop();
  }
}

function connectError(error: unknown, topics: string[]): HolterError {
  const type = (error as { type?: string }).type;
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION') {
    return new HolterError('HOLTER_KAFKA_CONNECT', `One of the topics ${topics.join(', ')} does not exist. Create it, or fix kafka.topics.`, { cause: error });
  }
  return new HolterError('HOLTER_KAFKA_CONNECT', `Joining the consumer group for topics ${topics.join(', ')} failed: ${(error as Error).message}. Check kafka.brokers, TLS and SASL settings, and that the brokers are up.`, {
    cause: error,
    retriable: true,
  });
}
