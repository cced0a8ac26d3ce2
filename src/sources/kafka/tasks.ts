import type { SizedRawRecord } from '../../decoders/index.js';
import { HolterError, isHolterError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { CheckpointStore } from '../../state/changelog.js';
import { CHECKPOINT_VERSION, type Checkpoint, type EncodedCheckpoint, type Manifest } from '../../state/checkpoint.js';
import type { DetectionTask } from '../../state/task.js';
import type { PartitionAssignment, TopicPartitionOffset } from './client.js';
import type { SourcePosition } from './repartition.js';

/** The pipeline's part: fresh tasks, detection in a task, and delivery of the alerts. */
export interface TaskHost {
  createTask(): Promise<DetectionTask>;
  retireTask(task: DetectionTask): void;
  push(record: SizedRawRecord, task: DetectionTask): Promise<void>;
  /** Resolves once every alert raised before the call was given to every sink; later alerts are not waited for. */
  deliveredSoFar(): Promise<void>;
}

/** Checkpoints taken at one moment and not yet written: see `PartitionTasks.capture`. */
export interface CapturedCheckpoints {
  pending: { entry: TaskEntry; encoded: Promise<EncodedCheckpoint> }[];
  /** Settles once the alerts raised before the capture are delivered. */
  delivered: Promise<void>;
}

/** The action for a fetched batch: process it, or seek to the offset the restored state reflects. */
export type BatchOutcome = { action: 'process' } | { action: 'seek'; offset: string };

interface TaskEntry {
  topic: string;
  partition: number;
  task: DetectionTask;
  /** Offset after the last record in the task's state. */
  nextOffset: bigint;
  /** False after a rebalance until a batch shows that no other member moved the partition on. */
  trusted: boolean;
  /** Records were added since the last checkpoint. */
  dirty: boolean;
  /** The latest checkpoint written or restored, whose chunks the next checkpoint replaces. */
  manifest?: Manifest;
  /** Repartition topics only: the last forwarded event in the state, by source partition. */
  forwarded: Map<string, { offset: bigint; event: number }>;
}

export interface PartitionTaskStats {
  restores: number;
  restoredEmpty: number;
  checkpoints: number;
  /** Forwarded events dropped because the state already contains them (forwarded again after a crash or a rebalance). */
  forwardedDuplicates: number;
}

/**
 * The detection tasks of the partitions this member owns, one per partition, with the offset each
 * task's state reflects. A task is restored from its latest checkpoint when its partition is
 * assigned (in the background, see `restoreInBackground`) or at the latest on its first batch, and
 * checkpointed on request. The positions a checkpoint returns are the only offsets
 * that may be committed, so a committed offset never runs ahead of a checkpoint.
 */
export class PartitionTasks {
  readonly stats: PartitionTaskStats = { restores: 0, restoredEmpty: 0, checkpoints: 0, forwardedDuplicates: 0 };
  private readonly entries = new Map<string, TaskEntry>();
  /** Partitions of the latest assignment, as `topic/partition`. */
  private assigned = new Set<string>();
  /** Restores started on assignment and not finished yet, by `topic/partition`; they never reject. */
  private readonly restoring = new Map<string, Promise<void>>();

  constructor(
    private readonly host: TaskHost,
    private readonly store: CheckpointStore,
    private readonly logger: Logger,
  ) {}

  /**
   * Applies the assignment of a completed rebalance. Tasks of partitions no longer assigned are
   * retired without closing their windows, because the new owner restores them. Tasks that stay
   * are trusted again only if their partition's next batch starts where their state ends.
   */
  assign(assignment: PartitionAssignment): void {
    const assigned = new Set(Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((partition) => taskKey(topic, partition))));
    this.assigned = assigned;
    for (const [key, entry] of this.entries) {
      if (assigned.has(key)) {
        entry.trusted = false;
        continue;
      }
      this.host.retireTask(entry.task);
      this.entries.delete(key);
    }
  }

  /**
   * Starts restoring the latest checkpoint of each given partition that has no task yet, so its
   * state (such as the baselines the API serves) is back before its first batch arrives, which may
   * be much later on a quiet topic. The restored task is not trusted: `prepare` keeps it only if
   * the first batch starts at its offset, and otherwise restores again from the store. A restore
   * that fails here is only logged, because `prepare` tries again and reports the failure.
   */
  restoreInBackground(assignment: PartitionAssignment): void {
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const key = taskKey(topic, partition);
        if (this.entries.has(key) || this.restoring.has(key)) continue;
        const restore = this.restoreAssigned(topic, partition).finally(() => this.restoring.delete(key));
        this.restoring.set(key, restore);
      }
    }
  }

  /** Partitions (`topic/partition`) whose restore started on assignment and has not finished. */
  get partitionsRestoring(): string[] {
    return [...this.restoring.keys()];
  }

  private async restoreAssigned(topic: string, partition: number): Promise<void> {
    const key = taskKey(topic, partition);
    let task: DetectionTask | undefined;
    try {
      const stored = await this.store.read(topic, partition);
      // A partition without a checkpoint gets its empty task on its first batch, as before.
      if (stored === undefined || this.entries.has(key) || !this.assigned.has(key)) return;
      task = await this.host.createTask();
      task.restore(stored.checkpoint.task);
      const entry: TaskEntry = { topic, partition, task, nextOffset: BigInt(stored.checkpoint.offset), trusted: false, dirty: false, manifest: stored.manifest, forwarded: new Map() };
      for (const [input, [offset, event]] of Object.entries(stored.checkpoint.forwarded ?? {})) entry.forwarded.set(input, { offset: BigInt(offset), event });
      this.entries.set(key, entry);
      this.stats.restores++;
      // The same message as a restore on a partition's first batch, which log searches and tests look for.
      this.logger.info({ topic, partition, offset: stored.checkpoint.offset, checkpointId: stored.manifest.id, restoredOn: 'assignment' }, 'detection state restored from checkpoint');
    } catch (error) {
      if (task !== undefined) this.host.retireTask(task);
      this.logger.warn({ topic, partition, err: error }, 'restoring detection state on assignment failed; the partition restores again on its first batch');
    }
  }

  /**
   * Readies the task of a partition for a batch that starts at `firstOffset`. A partition without a
   * trusted task is restored from its latest checkpoint. When the checkpoint reflects another
   * offset than the batch starts at, the caller must seek there and drop the batch.
   */
  async prepare(topic: string, partition: number, firstOffset: string): Promise<BatchOutcome> {
    const key = taskKey(topic, partition);
    await this.restoring.get(key);
    const existing = this.entries.get(key);
    if (existing !== undefined && existing.trusted) return { action: 'process' };
    if (existing !== undefined && existing.nextOffset === BigInt(firstOffset)) {
      existing.trusted = true;
      return { action: 'process' };
    }
    if (existing !== undefined) {
      this.host.retireTask(existing.task);
      this.entries.delete(key);
    }

    const stored = await this.store.read(topic, partition);
    const task = await this.host.createTask();
    const entry: TaskEntry = { topic, partition, task, nextOffset: BigInt(firstOffset), trusted: true, dirty: false, forwarded: new Map() };
    if (stored === undefined) {
      this.stats.restoredEmpty++;
      this.entries.set(key, entry);
      this.logger.info({ topic, partition, offset: firstOffset }, 'no checkpoint for partition; detection state starts empty');
      return { action: 'process' };
    }

    try {
      task.restore(stored.checkpoint.task);
    } catch (error) {
      this.host.retireTask(task);
      if (!isHolterError(error)) throw error;
      throw new HolterError(error.code, `Restoring the checkpoint of ${topic}/${partition} at offset ${stored.checkpoint.offset} failed: ${error.message}`, { cause: error });
    }
    entry.nextOffset = BigInt(stored.checkpoint.offset);
    entry.manifest = stored.manifest;
    for (const [input, [offset, event]] of Object.entries(stored.checkpoint.forwarded ?? {})) entry.forwarded.set(input, { offset: BigInt(offset), event });
    this.entries.set(key, entry);
    this.stats.restores++;
    this.logger.info({ topic, partition, offset: stored.checkpoint.offset, fetchedOffset: firstOffset, checkpointId: stored.manifest.id }, 'detection state restored from checkpoint');
    if (entry.nextOffset === BigInt(firstOffset)) return { action: 'process' };
    if (entry.nextOffset < BigInt(firstOffset)) {
      // The committed offset is past the checkpoint, which only a member that lost its partition
      // while writing can cause. Reading again from the checkpoint keeps state and input in step.
      this.logger.warn({ topic, partition, offset: stored.checkpoint.offset, fetchedOffset: firstOffset }, 'checkpoint is behind the committed offset; reading again from the checkpoint');
    }
    return { action: 'seek', offset: stored.checkpoint.offset };
  }

  /** Returns true when the record at `offset` is already in the task's state, as after a restore ahead of the committed offset. */
  contains(topic: string, partition: number, offset: string): boolean {
    const entry = this.entries.get(taskKey(topic, partition));
    return entry !== undefined && BigInt(offset) < entry.nextOffset;
  }

  /**
   * Returns false for a forwarded event that the task's state already contains: one at or before the
   * last event taken from the same source partition. The first step forwards each source partition
   * in order, so a lower position can only be a repeat after a crash or a rebalance.
   */
  acceptForwarded(topic: string, partition: number, position: SourcePosition): boolean {
    const entry = this.entries.get(taskKey(topic, partition));
    if (entry === undefined) throw new Error(`No detection task for ${topic}/${partition}; prepare must run first.`);
    const last = entry.forwarded.get(position.input);
    if (last !== undefined && (position.offset < last.offset || (position.offset === last.offset && position.event <= last.event))) {
      this.stats.forwardedDuplicates++;
      return false;
    }
    entry.forwarded.set(position.input, { offset: position.offset, event: position.event });
    return true;
  }

  /** Detects a record in its partition's task, which `prepare` readied. */
  async push(topic: string, partition: number, offset: string, record: SizedRawRecord | undefined): Promise<void> {
    const entry = this.entries.get(taskKey(topic, partition));
    if (entry === undefined) throw new Error(`No detection task for ${topic}/${partition}; prepare must run first.`);
    if (record !== undefined) await this.host.push(record, entry.task);
    entry.nextOffset = BigInt(offset) + 1n;
    entry.dirty = true;
  }

  /**
   * Marks every task as changed, for a change of state that no record made, such as a rules
   * reload that dropped or restored detector state: the next checkpoint saves it even when no
   * record arrives.
   */
  markChanged(): void {
    for (const entry of this.entries.values()) entry.dirty = true;
  }

  /** True when some task has records or changes that no checkpoint contains yet. */
  get dirty(): boolean {
    for (const entry of this.entries.values()) if (entry.dirty) return true;
    return false;
  }

  /** Partitions with a task, as `topic/partition`. */
  get partitions(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Writes a checkpoint of every task with records since its last one, after the alerts raised so
   * far are delivered, and returns the positions those checkpoints reflect, for the offset commit.
   */
  async checkpoint(): Promise<TopicPartitionOffset[]> {
    return this.persist(this.capture());
  }

  /**
   * Snapshots and serialises every task with records since its last checkpoint, at once, so each
   * checkpoint reflects exactly its offset while later records go on being detected. `persist`
   * writes them. Write one capture at a time and in order: each replaces the one before.
   */
  capture(): CapturedCheckpoints {
    const pending = [...this.entries.values()]
      .filter((entry) => entry.dirty)
      .map((entry) => {
        const checkpoint: Checkpoint = { version: CHECKPOINT_VERSION, topic: entry.topic, partition: entry.partition, offset: entry.nextOffset.toString(), task: entry.task.snapshot() };
        if (entry.forwarded.size > 0) {
          checkpoint.forwarded = Object.fromEntries([...entry.forwarded].map(([input, last]) => [input, [last.offset.toString(), last.event]]));
        }
        entry.dirty = false;
        const encoded = this.store.encode(checkpoint);
        // `persist` awaits it later, and an encoding failure must not count as unhandled meanwhile.
        encoded.catch(() => undefined);
        return { entry, encoded };
      });
    return { pending, delivered: pending.length === 0 ? Promise.resolve() : this.host.deliveredSoFar() };
  }

  /**
   * Writes captured checkpoints once the alerts raised before the capture are delivered, because a
   * restore starts after the checkpoint's offset and would never raise an undelivered alert again.
   * Returns the positions the checkpoints reflect. On failure their tasks count as changed again.
   */
  async persist(captured: CapturedCheckpoints): Promise<TopicPartitionOffset[]> {
    const { pending, delivered } = captured;
    if (pending.length === 0) return [];
    try {
      await delivered;
      await Promise.all(
        pending.map(async ({ entry, encoded }) => {
          entry.manifest = await this.store.write(await encoded, entry.manifest);
          this.stats.checkpoints++;
        }),
      );
    } catch (error) {
      for (const { entry } of pending) entry.dirty = true;
      throw error;
    }
    const written = await Promise.all(pending.map(({ encoded }) => encoded));
    return written.map(({ manifest }) => ({ topic: manifest.topic, partition: manifest.partition, offset: manifest.offset }));
  }
}

function taskKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}
