import type { SizedRawRecord } from '../../decoders/index.js';
import { HolterError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { BatchControl, ConsumedBatch, ConsumedMessage, KafkaConsumerClient, PartitionAssignment } from './client.js';
import type { OriginalRecord } from './dead-letter-topic.js';

export interface KafkaSourceOptions {
  consumer: KafkaConsumerClient;
  groupId: string;
  topics: { name: string; format?: string }[];
  /** Start of a group with no committed offset: the oldest record kept, or new records only. */
  fromBeginning: boolean;
  /** Values above this size are cut and flagged `oversizeBytes`, so the pipeline dead-letters them as too_large. */
  maxRecordBytes: number;
  /** The pipeline's push: resolves once the record is detected; its alerts may still be in delivery. */
  push: (record: SizedRawRecord) => Promise<void>;
  /** Resolves once every alert raised so far was given to every sink; awaited before each commit. */
  drain: () => Promise<void>;
  /** Called with each record and the bytes it came from, before it is pushed (the dead-letter topic keeps them). */
  remember?: (record: SizedRawRecord, original: OriginalRecord) => void;
  /** How often to heartbeat while one record waits on a slow sink; below the session timeout. */
  heartbeatIntervalMs: number;
  /** First and longest wait between attempts of an offset commit that failed on a retriable error. */
  commitInitialBackoffMs?: number;
  commitMaxBackoffMs?: number;
  /** Injected by tests; defaults to a real timer. */
  sleep?: (ms: number) => Promise<void>;
  logger: Logger;
}

/** Counts for the end-of-run summary. */
export interface KafkaSourceStats {
  recordsFetched: number;
  tombstonesSkipped: number;
  oversizedRecords: number;
  commits: number;
  /** Commit attempts that failed on a retriable error and were tried again. */
  commitRetries: number;
}

/**
 * Kafka error types that mean this member's generation ended: a rebalance moved or may move the
 * partition, so retrying the commit cannot succeed. NOT_COORDINATOR is not here, because the
 * coordinator moving (a broker restart) leaves the generation valid and a retry can succeed.
 */
const GENERATION_ENDED_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);

const DEFAULT_COMMIT_INITIAL_BACKOFF_MS = 500;
const DEFAULT_COMMIT_MAX_BACKOFF_MS = 5000;

/**
 * Consumes topics in a consumer group and pushes each record through the pipeline, one at a time.
 * After each batch it commits, per partition, the offset after the last record whose push
 * resolved, so a committed offset never runs ahead of the alerts delivered. A slow sink blocks the
 * handler, and so the fetching, of the whole consumer. That is the back-pressure.
 */
export class KafkaSource {
  readonly stats: KafkaSourceStats = { recordsFetched: 0, tombstonesSkipped: 0, oversizedRecords: 0, commits: 0, commitRetries: 0 };
  private readonly formats: Map<string, string | undefined>;
  private readonly sleep: (ms: number) => Promise<void>;
  private failure: HolterError | undefined;
  /** Set by `stop` before the client stops, so the batch in hand ends and commits while the client still commits. */
  private stopRequested = false;
  /** The batch handler in progress, if any. */
  private handling: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private resolveStopped: () => void = () => {};
  private readonly stopped = new Promise<void>((resolve) => {
    this.resolveStopped = resolve;
  });

  constructor(private readonly options: KafkaSourceOptions) {
    this.formats = new Map(options.topics.map((topic) => [topic.name, topic.format]));
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
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

    await consumer.run((batch, control) => this.trackHandling(this.handleBatch(batch, control)), {
      onCrash: (error) =>
        this.fail(new HolterError('HOLTER_KAFKA_CONSUME', `The Kafka consumer of group ${groupId} crashed: ${error.message}. Restart holter run; uncommitted records are processed again.`, { cause: error, retriable: true })),
      onAssignment: (assignment) => this.logAssignment(assignment),
    });
    logger.info({ groupId, topics }, 'kafka source started');

    await this.stopped;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Stops fetching, lets the batch in hand commit what it processed, and leaves the group. */
  stop(): Promise<void> {
    this.stopRequested = true;
    this.stopping ??= (async () => {
      try {
        // The batch in hand commits before the client stops: kafkajs skips commits once stopping.
        // A failure stops from inside the handler, which must not wait for itself.
        if (this.failure === undefined) await this.handling;
        await this.options.consumer.stop();
        await this.options.consumer.disconnect();
        this.options.logger.info({ groupId: this.options.groupId, ...this.stats }, 'kafka source stopped');
      } finally {
        this.resolveStopped();
      }
    })();
    return this.stopping;
  }

  private trackHandling(handling: Promise<void>): Promise<void> {
    this.handling = handling;
    return handling;
  }

  private logAssignment(assignment: PartitionAssignment): void {
    this.options.logger.info({ groupId: this.options.groupId, assignment }, 'kafka partitions assigned');
  }

  private async handleBatch(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    if (this.failure !== undefined || this.stopRequested) return;
    const input = `${batch.topic}/${batch.partition}`;
    const format = this.formats.get(batch.topic);
    const heartbeat = setInterval(() => {
      control.heartbeat().catch((error: unknown) => this.options.logger.debug({ topic: batch.topic, partition: batch.partition, err: error }, 'heartbeat failed'));
    }, this.options.heartbeatIntervalMs);

    let lastProcessed: string | undefined;
    try {
      for (const message of batch.messages) {
        if (this.stopRequested || !control.isRunning() || control.isStale()) break;
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
    }

    // Heartbeats go on while the batch's alerts are delivered, which can take long in an outage.
    try {
      if (lastProcessed !== undefined) {
        await this.options.drain();
        await this.commit(batch.topic, batch.partition, lastProcessed, control);
      }
    } finally {
      clearInterval(heartbeat);
    }
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

  /**
   * Commits the offset after `lastProcessed`. A retriable failure, such as the broker restarting,
   * is tried again with backoff while the partition stays ours: the handler waits meanwhile, so
   * fetching waits too. After a stop request one more failure ends the attempts, because the
   * records are only processed again, never lost, when the commit does not happen.
   */
  private async commit(topic: string, partition: number, lastProcessed: string, control: BatchControl): Promise<void> {
    const next = (BigInt(lastProcessed) + 1n).toString();
    const initialMs = this.options.commitInitialBackoffMs ?? DEFAULT_COMMIT_INITIAL_BACKOFF_MS;
    const maxMs = this.options.commitMaxBackoffMs ?? DEFAULT_COMMIT_MAX_BACKOFF_MS;

    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.consumer.commit([{ topic, partition, offset: next }]);
        this.stats.commits++;
        if (attempt > 1) this.options.logger.info({ topic, partition, offset: next, attempt }, 'offset commit succeeded after retries');
        return;
      } catch (error) {
        const info = this.options.consumer.describeError(error);
        if (control.isStale() || (info.type !== undefined && GENERATION_ENDED_ERRORS.has(info.type))) {
          // The partition moved to another member, which resumes from the previous commit. The alerts
          // raised again there carry the same ids, so the sinks report them as duplicates.
          this.options.logger.warn({ topic, partition, offset: next, err: error }, 'offset commit rejected after a rebalance; records since the last commit will be processed again');
          return;
        }
        if (!info.retriable) {
          this.fail(new HolterError('HOLTER_KAFKA_CONSUME', `Committing offset ${next} of ${topic}/${partition} failed: ${(error as Error).message}. Restart holter run; uncommitted records are processed again.`, { cause: error }));
          return;
        }
        if (this.stopRequested) {
          this.options.logger.warn({ topic, partition, offset: next, attempt, err: error }, 'offset commit failed while stopping; records since the last commit will be processed again');
          return;
        }
        const delayMs = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 20));
        if ((attempt & (attempt - 1)) === 0) {
          this.options.logger.warn({ topic, partition, offset: next, attempt, delayMs, err: error }, 'offset commit failed; retrying');
        }
        this.stats.commitRetries++;
        await this.sleep(delayMs);
      }
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
