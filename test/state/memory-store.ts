import { ChangelogTable, type CheckpointStore } from '../../src/state/changelog.js';
import { chunkTombstones, decodeCheckpoint, encodeCheckpoint, type ChangelogRecord, type Checkpoint, type EncodedCheckpoint, type Manifest } from '../../src/state/checkpoint.js';

/**
 * A checkpoint store that applies the changelog records straight to a table, as the changelog
 * reader does with records read back from Kafka. `records` keeps every record in write order.
 */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly table = new ChangelogTable();
  readonly records: ChangelogRecord[] = [];

  constructor(private readonly maxChunkBytes?: number) {}

  async read(topic: string, partition: number): Promise<{ checkpoint: Checkpoint; manifest: Manifest } | undefined> {
    return decodeCheckpoint(this.table, topic, partition);
  }

  /** Encodes at once, so tests see a checkpoint written within the same turn of the event loop. */
  encode(checkpoint: Checkpoint): Promise<EncodedCheckpoint> {
    return Promise.resolve(encodeCheckpoint(checkpoint, this.maxChunkBytes === undefined ? {} : { maxChunkBytes: this.maxChunkBytes }));
  }

  async write({ manifest, records }: EncodedCheckpoint, replaced?: Manifest): Promise<Manifest> {
    const tombstones = replaced === undefined ? [] : chunkTombstones(replaced);
    for (const record of [...records, ...tombstones]) {
      this.records.push(record);
      this.table.apply(record);
    }
    return manifest;
  }
}
