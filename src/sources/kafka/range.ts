import { randomUUID } from 'node:crypto';
import { HolterError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ConsumedMessage, KafkaAdminClient, KafkaClient, PartitionAssignment } from './client.js';
import { kafkaConnectError } from './settings.js';

/**
 * Reading a bounded range of Kafka topics once, for backtests (`holter replay --kafka`). The
 * reader joins a consumer group of its own, so the production group's members and committed
 * offsets are untouched. It commits nothing, and it deletes its group when it is done.
 */

/** Bound of a range in every partition: its start (`--from`) or its end (`--to`). */
export type RangeBound = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'time'; ms: number; text: string } | { kind: 'offset'; offset: bigint };

/** The records of one partition to read: offsets from `start` up to `end`, `end` excluded. */
export interface PartitionRange {
  topic: string;
  partition: number;
  start: bigint;
  end: bigint;
}

/** Matches an ISO 8601 date and time with a zone, as `@timestamp` values are written. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses `--from` or `--to`: `earliest`, `latest`, an ISO 8601 time with a zone (compared with
 * the records' Kafka timestamps), or an offset that applies to every partition.
 */
export function parseRangeBound(text: string, option: '--from' | '--to'): RangeBound {
  const value = text.trim();
  if (value === 'earliest') return { kind: 'earliest' };
  if (value === 'latest') return { kind: 'latest' };
  if (/^\d+$/.test(value)) return { kind: 'offset', offset: BigInt(value) };
  if (ISO_TIME.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return { kind: 'time', ms, text: value };
  }
  throw new HolterError(
    'HOLTER_CONFIG_INVALID',
    `Invalid ${option} value ${JSON.stringify(text)}. Use earliest, latest, an offset (a whole number, for every partition) or a time with its zone such as 2026-12-01T08:00:00Z.`,
  );
}

/**
 * Resolves the bounds to offsets in every partition of `topics`. Offsets are clamped to what the
 * partition keeps, and a range whose start is not before its end is empty. A time bound is the
 * first record at or after that time, so `--to` excludes records from that time on.
 */
export async function resolveRanges(admin: KafkaAdminClient, topics: string[], from: RangeBound, to: RangeBound): Promise<PartitionRange[]> {
  const inverted = (from.kind === 'offset' && to.kind === 'offset' && from.offset > to.offset) || (from.kind === 'time' && to.kind === 'time' && from.ms > to.ms);
  if (inverted || from.kind === 'latest' || to.kind === 'earliest') {
    throw new HolterError('HOLTER_CONFIG_INVALID', `The range from ${boundText(from)} to ${boundText(to)} is empty in every partition, because its start is not before its end. Swap --from and --to, or move one of them.`);
  }
  const known = new Set(await admin.listTopics());
  const missing = topics.filter((topic) => !known.has(topic));
  if (missing.length > 0) {
    throw new HolterError('HOLTER_INPUT_NOT_FOUND', `Topic ${missing.map((topic) => JSON.stringify(topic)).join(', ')} not found on the brokers. Check the name against the topics the brokers list (kafka-topics.sh --list).`);
  }

  const ranges: PartitionRange[] = [];
  for (const topic of topics) {
    const retained = await admin.fetchOffsetRange(topic);
    const starts = await offsetsAt(admin, topic, from);
    const ends = await offsetsAt(admin, topic, to);
    for (const { partition, low, high } of retained) {
      const lowest = BigInt(low);
      const highest = BigInt(high);
      const clamp = (offset: bigint): bigint => {
        if (offset < lowest) return lowest;
        return offset > highest ? highest : offset;
      };
      const start = clamp(starts.get(partition) ?? lowest);
      const end = clamp(ends.get(partition) ?? highest);
      ranges.push({ topic, partition, start, end: end < start ? start : end });
    }
  }
  return ranges;
}

/** Offsets by partition for a time or offset bound; empty for earliest and latest, which the caller takes from the kept range. */
async function offsetsAt(admin: KafkaAdminClient, topic: string, bound: RangeBound): Promise<Map<number, bigint>> {
  const offsets = new Map<number, bigint>();
  if (bound.kind === 'time') {
    for (const { partition, offset } of await admin.fetchOffsetsAtTime(topic, bound.ms)) offsets.set(partition, BigInt(offset));
  } else if (bound.kind === 'offset') {
    for (const { partition } of await admin.fetchOffsetRange(topic)) offsets.set(partition, bound.offset);
  }
  return offsets;
}

export interface RangeReaderOptions {
  client: KafkaClient;
  /** Prefix of the reader's own consumer group; a random suffix keeps each run apart. */
  groupPrefix: string;
  ranges: PartitionRange[];
  /** Called with each record of a range, in offset order within its partition. */
  onMessage: (range: PartitionRange, message: ConsumedMessage) => Promise<void>;
  /**
   * How long the reader waits without a new record before it ends with the partitions it has not
   * finished. Compacted and transactional topics can end a range with offsets that hold no record.
   */
  idleTimeoutMs: number;
  logger: Logger;
}

/** Result of a range read, for the run summary. */
export interface RangeReadResult {
  recordsRead: number;
  /** Reason the read ended early when the consumer gave up, such as brokers that went away. */
  failure?: string;
  /** Ranges that ended on the idle timeout or a stop before their last offset: where each stopped. */
  unfinished: { topic: string; partition: number; next: bigint; end: bigint }[];
}

/** Reads every record of the ranges once and stops; see the module comment. */
export class KafkaRangeReader {
  private readonly ranges = new Map<string, PartitionRange & { next: bigint }>();
  private readonly groupId: string;
  private recordsRead = 0;
  private lastProgressAt = Date.now();
  private finish: () => void = () => undefined;
  private readonly finished = new Promise<void>((resolve) => {
    this.finish = resolve;
  });

  constructor(private readonly options: RangeReaderOptions) {
    this.groupId = `${options.groupPrefix}-backtest-${randomUUID()}`;
    for (const range of options.ranges) {
      if (range.start < range.end) this.ranges.set(keyOf(range.topic, range.partition), { ...range, next: range.start });
    }
  }

  /** Resolves once every range is read, the reader was idle for the idle timeout, or `stop` was called. */
  async run(): Promise<RangeReadResult> {
    if (this.ranges.size === 0) return { recordsRead: 0, unfinished: [] };
    const { client, logger } = this.options;
    const consumer = client.consumer({ groupId: this.groupId, sessionTimeoutMs: 30_000, maxBytesPerPartition: 1_048_576, restartOnFailure: false });
    const topics = [...new Set([...this.ranges.values()].map((range) => range.topic))];
    try {
      await consumer.connect();
      await consumer.subscribe(topics, true);
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw kafkaConnectError(`Reading ${topics.join(', ')} for the backtest`, error);
    }

    let crash: Error | undefined;
    await consumer.run(
      async (batch, control) => {
        const range = this.ranges.get(keyOf(batch.topic, batch.partition));
        if (range === undefined) return;
        for (const message of batch.messages) {
          if (!control.isRunning() || control.isStale()) return;
          const offset = BigInt(message.offset);
          // A fetch made before the seek below took effect starts at the partition's oldest record.
          if (offset < range.next) continue;
          if (offset >= range.end) {
            this.complete(range);
            return;
          }
          await this.options.onMessage(range, message);
          control.resolveOffset(message.offset);
          this.recordsRead++;
          this.lastProgressAt = Date.now();
          range.next = offset + 1n;
          if (range.next >= range.end) {
            this.complete(range);
            return;
          }
        }
      },
      {
        onCrash: (error) => {
          crash = error;
          this.finish();
        },
        onAssignment: (assignment) => this.seekAssigned(assignment, (topic, partition, offset) => consumer.seek(topic, partition, offset)),
      },
    );

    const idleCheck = setInterval(() => {
      if (Date.now() - this.lastProgressAt >= this.options.idleTimeoutMs) this.finish();
    }, Math.min(1000, this.options.idleTimeoutMs));
    try {
      await this.finished;
    } finally {
      clearInterval(idleCheck);
      await consumer.stop().catch(() => undefined);
      await consumer.disconnect().catch(() => undefined);
      await this.deleteGroup();
    }
    const unfinished = [...this.ranges.values()].map(({ topic, partition, next, end }) => ({ topic, partition, next, end }));
    logger.debug({ groupId: this.groupId, recordsRead: this.recordsRead, unfinished: unfinished.length }, 'backtest read ended');
    const result: RangeReadResult = { recordsRead: this.recordsRead, unfinished };
    if (crash !== undefined) result.failure = crash.message;
    return result;
  }

  /** Ends the read after the record in hand; the ranges not read to the end are reported as unfinished. */
  stop(): void {
    this.finish();
  }

  private complete(range: PartitionRange): void {
    this.ranges.delete(keyOf(range.topic, range.partition));
    if (this.ranges.size === 0) this.finish();
  }

  private seekAssigned(assignment: PartitionAssignment, seek: (topic: string, partition: number, offset: string) => void): void {
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const range = this.ranges.get(keyOf(topic, partition));
        if (range !== undefined) seek(topic, partition, range.next.toString());
      }
    }
  }

  /**
   * Deletes the reader's group, which has no offsets and no members left, so backtests stay out
   * of the broker's group list. Brokers that went away would hold the exit for the client's
   * retries, so the attempt is bounded.
   */
  private async deleteGroup(): Promise<void> {
    const admin = this.options.client.admin();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${DELETE_GROUP_TIMEOUT_MS / 1000} s`)), DELETE_GROUP_TIMEOUT_MS);
    });
    try {
      await Promise.race([
        (async () => {
          await admin.connect();
          await admin.deleteGroups([this.groupId]);
        })(),
        deadline,
      ]);
    } catch (error) {
      this.options.logger.warn({ groupId: this.groupId, err: error }, 'deleting the backtest consumer group failed; it contains no offsets, and the broker removes it once it expires');
    } finally {
      clearTimeout(timer);
      await admin.disconnect().catch(() => undefined);
    }
  }
}

const DELETE_GROUP_TIMEOUT_MS = 10_000;

function keyOf(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/** Names a bound as the command line gives it: `earliest`, `offset 10`, or the time as typed. */
export function boundText(bound: RangeBound): string {
  if (bound.kind === 'time') return bound.text;
  if (bound.kind === 'offset') return `offset ${bound.offset}`;
  return bound.kind;
}
