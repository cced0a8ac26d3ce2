import type { SizedRawRecord } from '../../decoders/index.js';
import { HolterError, isHolterError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { setRecordText } from '../encoding.js';
import type { BatchControl, ConsumedBatch, ConsumedMessage, KafkaConsumerClient, PartitionAssignment, TopicPartitionOffset } from './client.js';
import type { OriginalRecord } from './dead-letter-topic.js';
import { sourcePositionOf, type Repartitioner } from './repartition.js';
import { kafkaConnectError } from './settings.js';
import type { CapturedCheckpoints, PartitionTasks } from './tasks.js';

export interface KafkaSourceOptions {
  consumer: KafkaConsumerClient;
  groupId: string;
  topics: { name: string; format?: string }[];
  /** Start of a group with no committed offset: the oldest record kept, or new records only. */
  fromBeginning: boolean;
  /** Values above this size are cut and flagged `oversizeBytes`, so the pipeline dead-letters them as too_large. */
  maxRecordBytes: number;
  /** Detection tasks of the assigned partitions; their checkpoints decide which offsets are committed. */
  tasks: PartitionTasks;
  /** How often the tasks are checkpointed and their offsets committed, in milliseconds. */
  checkpointIntervalMs: number;
  /**
   * With repartitioning, records of every topic but the repartition topic go to it instead of to
   * a task, and their offsets are committed once the repartition topic acknowledged their events.
   */
  repartitioner?: Repartitioner;
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
  /** Batches dropped because the restored state of their partition starts at another offset. */
  seeks: number;
  /** Checkpoint writes that failed on a retriable error and were tried again. */
  checkpointRetries: number;
}

/**
 * Group membership of the consumer, for the readiness probe. Outside the group, `status` is the
 * cause as a code and `reason` explains it to the operator.
 */
export type KafkaMembership = { member: true } | { member: false; status: 'starting' | 'rebalancing' | 'restarting' | 'stopped'; reason: string };

/** An owned partition and the offset of the next record to process, when this member has read or sought it. */
export interface OwnedPartition {
  topic: string;
  partition: number;
  nextOffset?: string;
}

/**
 * Kafka error types that mean this member's generation ended: a rebalance moved or may move the
 * partition, so retrying the commit cannot succeed. NOT_COORDINATOR is not here, because the
 * coordinator moving (a broker restart) leaves the generation valid and a retry can succeed.
 * GROUP_NOT_JOINED is the client's own: the consumer restarts and will join a new generation.
 */
const GENERATION_ENDED_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID', 'GROUP_NOT_JOINED']);

const DEFAULT_COMMIT_INITIAL_BACKOFF_MS = 500;
const DEFAULT_COMMIT_MAX_BACKOFF_MS = 5000;

/**
 * Consumes topics in a consumer group and pushes each record into the detection task of its
 * partition, one at a time. Every `checkpointIntervalMs` it checkpoints, at the end of the batch
 * in hand or while idle: it snapshots every task that changed, waits for the alerts raised so far
 * to be delivered, writes the checkpoints, and only then commits the offsets they reflect.
 *
 * After a batch, the waiting and writing go on in the background while later batches are
 * detected, and at most one checkpoint is in flight: the next one due waits for it. When it stops
 * or notices a rebalance, it checkpoints and commits before going on. A slow sink or changelog
 * therefore blocks the handler, and so the fetching, of the whole consumer, one checkpoint
 * interval later. That is the back-pressure.
 */
export class KafkaSource {
  private membershipState: KafkaMembership;
  /** The partitions of the latest assignment, kept while the consumer is out of the group. */
  private assignment: PartitionAssignment = {};
  /** Offset of the next record to process, by `topic/partition`, for the lag metric. */
  private readonly nextOffsets = new Map<string, bigint>();
  readonly stats: KafkaSourceStats = { recordsFetched: 0, tombstonesSkipped: 0, oversizedRecords: 0, commits: 0, commitRetries: 0, seeks: 0, checkpointRetries: 0 };
  private readonly formats: Map<string, string | undefined>;
  private readonly sleep: (ms: number) => Promise<void>;
  private failure: HolterError | undefined;
  /** Set by `stop` before the client stops, so the batch in hand ends and commits while the client still commits. */
  private stopRequested = false;
  /**
   * Batch handlers, checkpoints and assignments run one at a time, in order: each waits for this
   * chain. kafkajs calls one handler at a time, but the idle checkpoint timer and the assignment
   * event come from outside the handler.
   */
  private exclusive: Promise<void> = Promise.resolve();
  /** A heartbeat reported a rebalance in progress: the batch in hand ends and checkpoints. */
  private rebalanceNoticed = false;
  private lastCheckpointAt = Date.now();
  /** The checkpoint being written and committed while batches go on; settles without rejecting. */
  private checkpointInFlight: Promise<void> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private resolveStopped: () => void = () => {};
  private readonly stopped = new Promise<void>((resolve) => {
    this.resolveStopped = resolve;
  });

  constructor(private readonly options: KafkaSourceOptions) {
    this.formats = new Map(options.topics.map((topic) => [topic.name, topic.format]));
    this.membershipState = { member: false, status: 'starting', reason: `The consumer has not joined group ${options.groupId} yet.` };
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

    await consumer.run((batch, control) => this.runExclusive(() => this.handleBatch(batch, control)), {
      onCrash: (error) =>
        this.fail(new HolterError('HOLTER_KAFKA_CONSUME', `The Kafka consumer of group ${groupId} crashed: ${error.message}. Restart holter run; uncommitted records are processed again.`, { cause: error, retriable: true })),
      onAssignment: (assignment) => this.onAssignment(assignment),
      onMembershipLost: (cause, error) => this.onMembershipLost(cause, error),
    });
    logger.info({ groupId, topics }, 'kafka source started');
    this.idleTimer = setInterval(() => this.checkpointWhileIdle(), Math.max(100, Math.floor(this.options.checkpointIntervalMs / 2)));

    await this.stopped;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Stops fetching, lets the batch in hand finish, checkpoints and commits what was processed, and leaves the group. */
  stop(): Promise<void> {
    this.stopRequested = true;
    this.membershipState = { member: false, status: 'stopped', reason: `holter run is stopping and leaves group ${this.options.groupId}.` };
    clearInterval(this.idleTimer);
    this.stopping ??= (async () => {
      try {
        // The last checkpoint and commit run before the client stops: kafkajs skips commits once
        // stopping. A failure stops from inside the handler, which must not wait for itself, and
        // writes no checkpoint, because the record that failed may be half in the state.
        if (this.failure === undefined) await this.runExclusive(() => this.checkpointAndCommit(undefined));
        else await this.checkpointInFlight;
        await this.options.consumer.stop();
        await this.options.consumer.disconnect();
        this.options.logger.info({ groupId: this.options.groupId, ...this.stats }, 'kafka source stopped');
      } finally {
        this.resolveStopped();
      }
    })();
    return this.stopping;
  }

  private runExclusive(work: () => Promise<void>): Promise<void> {
    const run = this.exclusive.then(work);
    this.exclusive = run.catch(() => undefined);
    return run;
  }

  /** True while this member is in its group with its partitions assigned. */
  get joined(): boolean {
    return this.membershipState.member;
  }

  /** Whether the consumer is a member of its group now, and why not: what the readiness probe reports. */
  get membership(): KafkaMembership {
    return this.membershipState;
  }

  /** Partitions of the latest assignment, with the next offset to process where this member has read or sought the partition. */
  get ownedPartitions(): OwnedPartition[] {
    return Object.entries(this.assignment).flatMap(([topic, partitions]) =>
      partitions.map((partition) => {
        const nextOffset = this.nextOffsets.get(`${topic}/${partition}`);
        return nextOffset === undefined ? { topic, partition } : { topic, partition, nextOffset: nextOffset.toString() };
      }),
    );
  }

  private onAssignment(assignment: PartitionAssignment): void {
    this.membershipState = { member: true };
    this.assignment = assignment;
    // Another member may have moved a partition on meanwhile; its next batch sets the position again.
    this.nextOffsets.clear();
    this.rebalanceNoticed = false;
    this.options.logger.info({ groupId: this.options.groupId, assignment }, 'kafka partitions assigned');
    void this.runExclusive(async () => {
      // A partition assigned again is restored from the store, which must contain its latest checkpoint.
      await this.checkpointInFlight;
      this.options.tasks.assign(assignment);
      // With repartitioning, only the repartition topic's partitions have tasks.
      const repartitionTopic = this.options.repartitioner?.topic;
      const withTasks = repartitionTopic === undefined ? assignment : { [repartitionTopic]: assignment[repartitionTopic] ?? [] };
      this.options.tasks.restoreInBackground(withTasks);
    });
  }

  private onMembershipLost(cause: 'rebalancing' | 'restarting', error: Error | undefined): void {
    const { groupId } = this.options;
    if (this.stopRequested) return;
    if (cause === 'rebalancing') {
      this.membershipState = { member: false, status: 'rebalancing', reason: `Group ${groupId} is rebalancing; this member consumes again once it has rejoined.` };
      return;
    }
    const crash = error === undefined ? 'an error' : `${error.name}: ${error.message}`;
    this.membershipState = {
      member: false,
      status: 'restarting',
      reason: `The consumer crashed on ${crash} and the Kafka client is restarting it; it has not rejoined group ${groupId} yet.`,
    };
  }

  private recordPosition(topic: string, partition: number, nextOffset: bigint): void {
    this.nextOffsets.set(`${topic}/${partition}`, nextOffset);
  }

  /** Checkpoints and commits when no batch arrives for a while, so an idle partition's offsets are committed too. */
  private checkpointWhileIdle(): void {
    if (this.stopRequested || this.failure !== undefined || !this.checkpointDue()) return;
    void this.runExclusive(async () => {
      if (this.stopRequested || this.failure !== undefined || !this.checkpointDue()) return;
      await this.checkpointAndCommit(undefined);
    });
  }

  private checkpointDue(): boolean {
    return this.options.tasks.dirty && Date.now() - this.lastCheckpointAt >= this.options.checkpointIntervalMs;
  }

  private async handleBatch(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    const repartitioner = this.options.repartitioner;
    if (repartitioner !== undefined && batch.topic !== repartitioner.topic) return this.forwardBatch(batch, control, repartitioner);
    return this.detectBatch(batch, control);
  }

  private async detectBatch(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    const first = batch.messages[0];
    if (this.failure !== undefined || this.stopRequested || first === undefined) return;
    const { topic, partition } = batch;
    const input = `${topic}/${partition}`;
    const format = this.formats.get(topic);
    const heartbeat = setInterval(() => this.heartbeat(control, topic, partition), this.options.heartbeatIntervalMs);

    let lastProcessed: string | undefined;
    try {
      const outcome = await this.options.tasks.prepare(topic, partition, first.offset);
      if (outcome.action === 'seek') {
        this.stats.seeks++;
        this.options.consumer.seek(topic, partition, outcome.offset);
        this.recordPosition(topic, partition, BigInt(outcome.offset));
        clearInterval(heartbeat);
        return;
      }
      for (const message of batch.messages) {
        if (this.stopRequested || this.rebalanceNoticed || !control.isRunning() || control.isStale()) break;
        if (!this.options.tasks.contains(topic, partition, message.offset)) {
          if (this.isRepeatedForward(message, topic, partition)) await this.options.tasks.push(topic, partition, message.offset, undefined);
          else await this.process(message, input, format, topic, partition);
        }
        control.resolveOffset(message.offset);
        lastProcessed = message.offset;
        this.recordPosition(topic, partition, BigInt(message.offset) + 1n);
      }
    } catch (error) {
      clearInterval(heartbeat);
      this.fail(
        isHolterError(error) && error.code.startsWith('HOLTER_STATE_')
          ? error
          : new HolterError('HOLTER_KAFKA_CONSUME', `Processing ${input} failed after offset ${lastProcessed ?? 'none'}: ${(error as Error).message}. Later records are not committed and are processed again on restart.`, {
              cause: error,
              retriable: true,
            }),
      );
      return;
    }

    // Heartbeats go on while the alerts are delivered and the checkpoint written, which can take
    // long in an outage.
    try {
      const ending = this.stopRequested || this.rebalanceNoticed || control.isStale();
      if (ending) await this.checkpointAndCommit(control);
      else if (this.checkpointDue()) await this.checkpointInBackground(control);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Waits for the checkpoint in flight, then captures the next one and lets it be written and
   * committed while the following batches are detected.
   */
  private async checkpointInBackground(control: BatchControl): Promise<void> {
    await this.checkpointInFlight;
    const captured = this.capture();
    if (captured === undefined) return;
    this.checkpointInFlight = this.writeAndCommit(captured, control).catch((error: unknown) =>
      this.fail(new HolterError('HOLTER_KAFKA_CONSUME', `Checkpointing and committing failed: ${(error as Error).message}. Restart holter run; it resumes from the checkpoints.`, { cause: error })),
    );
  }

  private heartbeat(control: BatchControl, topic: string, partition: number): void {
    control.heartbeat().catch((error: unknown) => {
      // kafkajs rejoins after the handler returns; ending the batch now lets the checkpoint and
      // commit of this generation go out before the partitions move.
      if (this.options.consumer.describeError(error).type === 'REBALANCE_IN_PROGRESS') this.rebalanceNoticed = true;
      this.options.logger.debug({ topic, partition, err: error }, 'heartbeat failed');
    });
  }

  /** Returns true for an event of the repartition topic that its task's state already contains. */
  private isRepeatedForward(message: ConsumedMessage, topic: string, partition: number): boolean {
    if (topic !== this.options.repartitioner?.topic) return false;
    const position = sourcePositionOf(message.headers);
    return position !== undefined && !this.options.tasks.acceptForwarded(topic, partition, position);
  }

  private async process(message: ConsumedMessage, input: string, format: string | undefined, topic: string, partition: number): Promise<void> {
    await this.options.tasks.push(topic, partition, message.offset, this.toRecord(message, input, format));
  }

  /** Makes the raw record of a Kafka record, or returns undefined for a tombstone. */
  private toRecord(message: ConsumedMessage, input: string, format: string | undefined): SizedRawRecord | undefined {
    this.stats.recordsFetched++;
    const record = rawRecordOf(message, input, format, this.options.maxRecordBytes);
    if (record === undefined) {
      this.stats.tombstonesSkipped++;
      return undefined;
    }
    if (record.oversizeBytes !== undefined) this.stats.oversizedRecords++;
    this.options.remember?.(record, { key: message.key, value: message.value as Buffer });
    return record;
  }

  /**
   * Forwards a source batch's events to the repartition topic (the first step of repartitioning),
   * then commits the offset after the last record forwarded, once the broker acknowledged its events.
   */
  private async forwardBatch(batch: ConsumedBatch, control: BatchControl, repartitioner: Repartitioner): Promise<void> {
    if (this.failure !== undefined || this.stopRequested) return;
    const { topic, partition } = batch;
    const input = `${topic}/${partition}`;
    const format = this.formats.get(topic);
    const heartbeat = setInterval(() => this.heartbeat(control, topic, partition), this.options.heartbeatIntervalMs);

    let lastProcessed: string | undefined;
    try {
      for (const message of batch.messages) {
        if (this.stopRequested || this.rebalanceNoticed || !control.isRunning() || control.isStale()) break;
        const record = this.toRecord(message, input, format);
        if (record !== undefined) await repartitioner.add(record);
        control.resolveOffset(message.offset);
        lastProcessed = message.offset;
        this.recordPosition(topic, partition, BigInt(message.offset) + 1n);
      }
      await repartitioner.flush();
    } catch (error) {
      clearInterval(heartbeat);
      this.fail(
        isHolterError(error)
          ? error
          : new HolterError('HOLTER_KAFKA_CONSUME', `Forwarding ${input} failed after offset ${lastProcessed ?? 'none'}: ${(error as Error).message}. Later records are not committed and are processed again on restart.`, {
              cause: error,
              retriable: true,
            }),
      );
      return;
    }

    try {
      if (lastProcessed !== undefined) await this.commit([{ topic, partition, offset: (BigInt(lastProcessed) + 1n).toString() }], control);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Checkpoints every task with new records and commits the offsets the checkpoints reflect, after
   * the checkpoint in flight. A write that failed on a retriable error (the broker restarting) is
   * tried again with backoff, as commits are, while the caller waits. Any other failure stops the
   * run, and nothing past the previous checkpoint is committed.
   */
  private async checkpointAndCommit(control: BatchControl | undefined): Promise<void> {
    await this.checkpointInFlight;
    const captured = this.capture();
    if (captured !== undefined) await this.writeAndCommit(captured, control);
  }

  /** Captures the next checkpoints, or stops the run when a task's state cannot be serialised. */
  private capture(): CapturedCheckpoints | undefined {
    if (this.failure !== undefined) return undefined;
    try {
      const captured = this.options.tasks.capture();
      this.lastCheckpointAt = Date.now();
      return captured;
    } catch (error) {
      this.fail(new HolterError('HOLTER_STATE_CHANGELOG', `Taking a checkpoint failed: ${(error as Error).message}. Restart holter run; records after the last checkpoint are processed again.`, { cause: error }));
      return undefined;
    }
  }

  /**
   * Writes captured checkpoints and commits their offsets. A retriable failure writes the same
   * records again: a capture may be taken only between records, and in the background a record
   * can be half detected.
   */
  private async writeAndCommit(captured: CapturedCheckpoints, control: BatchControl | undefined): Promise<void> {
    const initialMs = this.options.commitInitialBackoffMs ?? DEFAULT_COMMIT_INITIAL_BACKOFF_MS;
    const maxMs = this.options.commitMaxBackoffMs ?? DEFAULT_COMMIT_MAX_BACKOFF_MS;
    let positions: TopicPartitionOffset[] | undefined;
    for (let attempt = 1; positions === undefined; attempt++) {
      try {
        positions = await this.options.tasks.persist(captured);
      } catch (error) {
        const holterError = isHolterError(error) ? error : new HolterError('HOLTER_STATE_CHANGELOG', `Writing checkpoints failed: ${(error as Error).message}. Restart holter run; records after the last checkpoint are processed again.`, { cause: error });
        const retriable = holterError.code === 'HOLTER_STATE_CHANGELOG' && this.options.consumer.describeError(holterError.cause).retriable;
        if (!retriable) {
          this.fail(holterError);
          return;
        }
        if (this.stopRequested) {
          this.options.logger.warn({ attempt, err: error }, 'checkpoint write failed while stopping; the next owner starts from the previous checkpoint');
          return;
        }
        const delayMs = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 20));
        if ((attempt & (attempt - 1)) === 0) {
          // Holter retries by itself, so the line carries the root cause only: the wrapped error's
          // advice to restart and its stack would mislead and repeat the cause.
          const cause = this.options.consumer.describeError(holterError.cause);
          this.options.logger.warn(
            { attempt, delayMs, errorType: cause.type, reason: rootMessage(error) },
            `checkpoint write failed: ${rootMessage(error)}; retrying in ${delayMs} ms`,
          );
        }
        this.stats.checkpointRetries++;
        await this.sleep(delayMs);
      }
    }
    if (positions.length > 0) await this.commit(positions, control);
  }

  /**
   * Commits offsets that a checkpoint reflects. A retriable failure, such as the broker restarting,
   * is tried again with backoff while the partitions stay ours: the handler waits meanwhile, so
   * fetching waits too. After a stop request one more failure ends the attempts, because the
   * records are only processed again, never lost, when the commit does not happen: the next owner
   * starts from the checkpoint.
   */
  private async commit(positions: TopicPartitionOffset[], control: BatchControl | undefined): Promise<void> {
    const initialMs = this.options.commitInitialBackoffMs ?? DEFAULT_COMMIT_INITIAL_BACKOFF_MS;
    const maxMs = this.options.commitMaxBackoffMs ?? DEFAULT_COMMIT_MAX_BACKOFF_MS;
    const offsets = positions.map((position) => `${position.topic}/${position.partition}@${position.offset}`).join(', ');

    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.consumer.commit(positions);
        this.stats.commits++;
        if (attempt > 1) this.options.logger.info({ offsets, attempt }, 'offset commit succeeded after retries');
        return;
      } catch (error) {
        const info = this.options.consumer.describeError(error);
        if (control?.isStale() === true || (info.type !== undefined && GENERATION_ENDED_ERRORS.has(info.type))) {
          // The partitions moved to another member, which restores the checkpoint just written and
          // starts from its offset, so the rejected commit loses and repeats nothing.
          this.options.logger.warn({ offsets, err: error }, 'offset commit rejected after a rebalance; the next owner starts from the checkpoint');
          return;
        }
        if (!info.retriable) {
          this.fail(new HolterError('HOLTER_KAFKA_CONSUME', `Committing offsets ${offsets} failed: ${(error as Error).message}. Restart holter run; it resumes from the checkpoints.`, { cause: error }));
          return;
        }
        if (this.stopRequested) {
          this.options.logger.warn({ offsets, attempt, err: error }, 'offset commit failed while stopping; the next owner starts from the checkpoint');
          return;
        }
        const delayMs = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 20));
        if ((attempt & (attempt - 1)) === 0) {
          this.options.logger.warn({ offsets, attempt, delayMs, err: error }, 'offset commit failed; retrying');
        }
        this.stats.commitRetries++;
        await this.sleep(delayMs);
      }
    }
  }

  private fail(error: HolterError): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    clearInterval(this.idleTimer);
    this.options.logger.error({ groupId: this.options.groupId, code: error.code, err: error }, 'kafka source failed; stopping');
    // Not awaited: stop() waits for the batch handler, which may be the caller.
    void this.stop();
  }
}

/** Returns the message of the innermost `cause` of an error, which names what actually failed. */
function rootMessage(error: unknown): string {
  let current = error;
  for (let depth = 0; depth < 10 && current instanceof Error && current.cause instanceof Error; depth++) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}

function connectError(error: unknown, topics: string[]): HolterError {
  const type = (error as { type?: string }).type;
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION') {
    return new HolterError('HOLTER_KAFKA_CONNECT', `One of the topics ${topics.join(', ')} does not exist. Create it, or fix kafka.topics.`, { cause: error });
  }
  return kafkaConnectError(`Joining the consumer group for topics ${topics.join(', ')}`, error);
}

/**
 * Makes the raw record of a Kafka record named `input` (`topic/partition`), or returns undefined
 * for a tombstone. A value above `maxRecordBytes` is cut and flagged `oversizeBytes`, so the
 * pipeline dead-letters it as too_large.
 */
export function rawRecordOf(message: ConsumedMessage, input: string, format: string | undefined, maxRecordBytes: number): SizedRawRecord | undefined {
  if (message.value === null) return undefined;

  const record: SizedRawRecord = { input, offset: Number(message.offset), text: '' };
  if (format !== undefined) record.format = format;
  if (message.value.length > maxRecordBytes) {
    // The decoder gets only the prefix. The dead-letter topic still receives the whole value.
    record.oversizeBytes = message.value.length;
    record.maxRecordBytes = maxRecordBytes;
    setRecordText(record, message.value.subarray(0, maxRecordBytes));
  } else {
    setRecordText(record, message.value);
  }
  return record;
}
