import { randomBytes } from 'node:crypto';
import { HolterError } from '../errors.js';
import type { Logger } from '../log.js';
import type { KafkaAdminClient, KafkaClient, KafkaConsumerClient, KafkaProducerClient } from '../sources/kafka/client.js';
import {
  chunkTombstones,
  decodeCheckpoint,
  DEFAULT_MAX_CHUNK_BYTES,
  encodeCheckpointInBackground,
  orphanChunkTombstones,
  type ChangelogLookup,
  type ChangelogRecord,
  type Checkpoint,
  type EncodedCheckpoint,
  type Manifest,
} from './checkpoint.js';

/** Storage of checkpoints: `holter run` uses the Kafka changelog topic, and tests may keep them in memory. */
export interface CheckpointStore {
  /** Returns the latest complete checkpoint of a partition, seeing every checkpoint acknowledged before the call. */
  read(topic: string, partition: number): Promise<{ checkpoint: Checkpoint; manifest: Manifest } | undefined>;
  /**
   * Encodes a checkpoint into its changelog records. The state is serialised before the call
   * returns, so the records keep it as it was at the call while detection goes on.
   */
  encode(checkpoint: Checkpoint): Promise<EncodedCheckpoint>;
  /**
   * Writes an encoded checkpoint, manifest last, and resolves once the broker acknowledged it.
   * Then removes the chunks of `replaced`, the partition's previous checkpoint, with tombstones.
   */
  write(encoded: EncodedCheckpoint, replaced?: Manifest): Promise<Manifest>;
}

/** The latest value of each key of a compacted topic, as compaction would leave it. */
export class ChangelogTable implements ChangelogLookup {
  private readonly values = new Map<string, { value: Buffer; headers: Record<string, string> }>();

  apply(record: ChangelogRecord): void {
    if (record.value === null) this.values.delete(record.key);
    else this.values.set(record.key, { value: record.value, headers: record.headers });
  }

  get(key: string): { value: Buffer; headers: Record<string, string> } | undefined {
    return this.values.get(key);
  }

  get size(): number {
    return this.values.size;
  }

  keys(): IterableIterator<string> {
    return this.values.keys();
  }
}

export interface KafkaChangelogOptions {
  client: KafkaClient;
  /** Shared with the dead-letter topic; acknowledged by all in-sync replicas. */
  producer: KafkaProducerClient;
  topic: string;
  /** The consumer group of `holter run`; the changelog reader uses a private group derived from it. */
  groupId: string;
  /** Partitions of a changelog topic that Holter creates: the maximum partition count of the topics it consumes. */
  partitions: number;
  sessionTimeoutMs: number;
  maxChunkBytes?: number;
  /** How long a restore waits for the reader to reach the end of the changelog. */
  catchUpTimeoutMs?: number;
  /**
   * Fingerprint of the configured patient token key: stored in each checkpoint, and a checkpoint
   * stored with another one is not restored (HOLTER_STATE_KEY).
   */
  tokenKeyFingerprint: string;
  logger: Logger;
}

const DEFAULT_CATCH_UP_TIMEOUT_MS = 300_000;
const CATCH_UP_POLL_MS = 25;
const END_OFFSETS_RETRY_MS = 1000;

/**
 * The changelog topic of detection state: a compacted topic with one manifest key per source
 * partition and the chunks its manifest names. A reader in a consumer group of its own follows the
 * whole topic from the beginning and keeps the latest value of every key in memory. A restore on
 * assignment then waits only until the reader reaches the end offsets read at that moment.
 *
 * NOTE: every member keeps the compressed checkpoints of all partitions in memory, not only of
 * those it owns, because kafkajs 2.2.4 cannot read a chosen partition outside a consumer group.
 */
export class KafkaChangelog implements CheckpointStore {
  readonly table = new ChangelogTable();
  private readonly admin: KafkaAdminClient;
  private readonly reader: KafkaConsumerClient;
  /** A group of its own per start, because kafkajs reads only through a group; deleted at stop. */
  private readonly readerGroupId: string;
  /** Next offset the reader will read, by changelog partition. */
  private readonly positions = new Map<number, bigint>();
  private partitionCount = 1;
  private failure: Error | undefined;
  private started = false;

  constructor(private readonly options: KafkaChangelogOptions) {
    this.admin = options.client.admin();
    this.readerGroupId = `${options.groupId}-changelog-reader-${randomBytes(4).toString('hex')}`;
    this.reader = options.client.consumer({
      groupId: this.readerGroupId,
      sessionTimeoutMs: options.sessionTimeoutMs,
      maxBytesPerPartition: 2 * (options.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES),
    });
  }

  get topic(): string {
    return this.options.topic;
  }

  /** Creates the topic when missing (cleanup.policy=compact) and starts following it from the beginning. */
  async start(): Promise<void> {
    const { topic, logger } = this.options;
    try {
      await this.admin.connect();
      await this.admin.createTopics([{ name: topic, partitions: this.options.partitions, config: { 'cleanup.policy': 'compact' } }]);
      this.partitionCount = Math.max(1, (await this.admin.fetchEndOffsets(topic)).length);
      await this.reader.connect();
      await this.reader.subscribe([topic], true);
      await this.reader.run(
        async (batch, control) => {
          for (const message of batch.messages) {
            const key = message.key?.toString('utf8');
            // Copies, because the fetched buffers would otherwise keep whole fetch responses alive.
            if (key !== undefined) this.table.apply({ key, value: message.value === null ? null : Buffer.from(message.value), headers: message.headers });
            this.positions.set(batch.partition, BigInt(message.offset) + 1n);
            control.resolveOffset(message.offset);
          }
        },
        {
          onCrash: (error) => {
            this.failure = error;
            logger.error({ topic, err: error }, 'changelog reader stopped');
          },
        },
      );
    } catch (error) {
      throw changelogError(`Opening the changelog topic ${topic} failed`, error);
    }
    this.started = true;
    logger.info({ topic, partitions: this.partitionCount }, 'changelog reader started');
  }

  async read(topic: string, partition: number): Promise<{ checkpoint: Checkpoint; manifest: Manifest } | undefined> {
    await this.catchUp();
    const found = decodeCheckpoint(this.table, topic, partition);
    const saved = found?.checkpoint.tokenKeyFingerprint;
    if (saved !== undefined && saved !== this.options.tokenKeyFingerprint) {
      throw new HolterError(
        'HOLTER_STATE_KEY',
        `The checkpoint of ${topic}/${partition} in changelog topic ${this.options.topic} was written with another patient token key, so its patient tokens would not match new ones. ` +
          'Start with the key the state was written with (identity.token_key_file), or use a new kafka.group_id or kafka.changelog_topic to start with empty state.',
      );
    }
    await this.removeOrphans(topic, partition, found?.manifest);
    return found;
  }

  /**
   * Tombstones the chunks that a crash mid-write left without a manifest. The restore runs right
   * after the partition was assigned, so no other member writes its checkpoints by then. A failure
   * only leaves the chunks for the next restore.
   */
  private async removeOrphans(topic: string, partition: number, current: Manifest | undefined): Promise<void> {
    const tombstones = orphanChunkTombstones(this.table.keys(), topic, partition, current);
    if (tombstones.length === 0) return;
    const target = partition % this.partitionCount;
    try {
      await this.options.producer.send(this.options.topic, tombstones.map((record) => ({ ...record, partition: target })));
      this.options.logger.info({ topic, partition, chunks: tombstones.length }, 'removed checkpoint chunks that no manifest names');
    } catch (error) {
      this.options.logger.warn({ topic, partition, chunks: tombstones.length, err: error }, 'removing checkpoint chunks that no manifest names failed');
    }
  }

  encode(checkpoint: Checkpoint): Promise<EncodedCheckpoint> {
    return encodeCheckpointInBackground({ ...checkpoint, tokenKeyFingerprint: this.options.tokenKeyFingerprint }, { maxChunkBytes: this.options.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES });
  }

  async write({ manifest, records }: EncodedCheckpoint, replaced?: Manifest): Promise<Manifest> {
    const maxChunkBytes = this.options.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES;
    const partition = manifest.partition % this.partitionCount;
    const toMessage = (record: ChangelogRecord): { key: string; value: Buffer | null; headers: Record<string, string>; partition: number } => ({ ...record, partition });
    const totalBytes = records.reduce((total, record) => total + (record.value?.length ?? 0), 0);

    try {
      if (totalBytes <= maxChunkBytes) {
        // One produce request to one partition is appended as one record batch, all or nothing.
        await this.options.producer.send(this.options.topic, records.map(toMessage));
      } else {
        for (const record of records) await this.options.producer.send(this.options.topic, [toMessage(record)]);
      }
      if (replaced !== undefined && replaced.id !== manifest.id) {
        await this.options.producer.send(this.options.topic, chunkTombstones(replaced).map(toMessage));
      }
    } catch (error) {
      throw changelogError(`Writing the checkpoint of ${manifest.topic}/${manifest.partition} at offset ${manifest.offset} to ${this.options.topic} failed`, error);
    }
    return manifest;
  }

  async stop(): Promise<void> {
    if (this.started) {
      await this.reader.stop().catch((error: unknown) => this.options.logger.warn({ topic: this.options.topic, err: error }, 'stopping the changelog reader failed'));
    }
    await this.reader.disconnect().catch(() => undefined);
    // Kafka keeps an empty group without offsets, so each start would leave one behind. After a
    // crash the group stays until deleted by hand (docs/kafka.md).
    if (this.started) {
      await this.admin.deleteGroups([this.readerGroupId]).catch((error: unknown) => this.options.logger.warn({ groupId: this.readerGroupId, err: error }, 'deleting the changelog reader group failed'));
    }
    await this.admin.disconnect().catch(() => undefined);
  }

  /**
   * Waits until the reader has read every record written to the changelog before this call. Reading
   * the end offsets is tried again until the deadline, so a restore outlasts a broker restart.
   */
  private async catchUp(): Promise<void> {
    const deadline = Date.now() + (this.options.catchUpTimeoutMs ?? DEFAULT_CATCH_UP_TIMEOUT_MS);
    let ends: { partition: number; offset: string }[] | undefined;
    while (ends === undefined) {
      try {
        ends = await this.admin.fetchEndOffsets(this.options.topic);
      } catch (error) {
        if (Date.now() > deadline) throw changelogError(`Reading the end offsets of ${this.options.topic} failed`, error);
        this.options.logger.warn({ topic: this.options.topic, err: error }, 'reading changelog end offsets failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, END_OFFSETS_RETRY_MS));
      }
    }
    for (;;) {
      if (this.failure !== undefined) throw changelogError(`The reader of ${this.options.topic} stopped`, this.failure);
      const behind = ends.filter((end) => BigInt(end.offset) > 0n && (this.positions.get(end.partition) ?? 0n) < BigInt(end.offset));
      if (behind.length === 0) return;
      if (Date.now() > deadline) {
        const detail = behind.map((end) => `partition ${end.partition} at ${String(this.positions.get(end.partition) ?? 0n)} of ${end.offset}`).join(', ');
        throw new HolterError('HOLTER_STATE_CHANGELOG', `Reading the changelog topic ${this.options.topic} to its end timed out (${detail}). Check the brokers, then restart holter run.`, { retriable: true });
      }
      await new Promise((resolve) => setTimeout(resolve, CATCH_UP_POLL_MS));
    }
  }
}

function changelogError(failedAction: string, error: unknown): HolterError {
  if (error instanceof HolterError) return error;
  return new HolterError('HOLTER_STATE_CHANGELOG', `${failedAction}: ${(error as Error).message}. Check that Holter may create, read and write the changelog topic (kafka.changelog_topic) and that the brokers are up, then restart holter run.`, {
    cause: error,
    retriable: true,
  });
}
