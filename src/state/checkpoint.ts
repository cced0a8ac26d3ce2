import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { deflate, deflateSync, inflateSync } from 'node:zlib';
import { HolterError } from '../errors.js';
import type { TaskState } from './task.js';

/**
 * Layout version of a checkpoint. A reader rejects any other version with HOLTER_STATE_VERSION,
 * because stage snapshots inside it cannot be trusted to mean the same thing.
 */
export const CHECKPOINT_VERSION = 1;

/**
 * Largest chunk value written to the changelog. Kafka's default `max.message.bytes` is 1048588
 * bytes for a whole record batch (Kafka 4.x topic configuration). This leaves room for the key,
 * the headers and the batch overhead.
 */
export const DEFAULT_MAX_CHUNK_BYTES = 900_000;

/** Header of a chunk record: the id of the checkpoint it belongs to. */
export const CHECKPOINT_ID_HEADER = 'holter.checkpoint.id';

const deflateAsync = promisify(deflate);

/** The state of one task and the input position it reflects. */
export interface Checkpoint {
  version: number;
  topic: string;
  partition: number;
  /** Offset of the next record to read: every record before it is in the state. */
  offset: string;
  task: TaskState;
  /**
   * For a repartition topic's partition: per source partition (`topic/partition`), the offset and
   * event index of the last forwarded event in the state, so events forwarded twice count once.
   */
  forwarded?: Record<string, [string, number]>;
  /**
   * Fingerprint of the patient token key the state's tokens were made with (keyFingerprint).
   * Absent in checkpoints written before it was stored.
   */
  tokenKeyFingerprint?: string;
}

/**
 * The record written last for a checkpoint, under the partition's manifest key. It names the
 * chunks, so a checkpoint whose manifest is missing was never completed and is never read.
 */
export interface Manifest {
  version: number;
  id: string;
  topic: string;
  partition: number;
  offset: string;
  chunks: number;
  /** Size of the compressed checkpoint, in bytes. */
  bytes: number;
  /** SHA-256 of the compressed checkpoint, hex. */
  sha256: string;
  compression: 'deflate';
  /** Processing time the checkpoint was written, ISO 8601. */
  written: string;
}

/** One changelog record. A null value is a tombstone: compaction removes the key. */
export interface ChangelogRecord {
  key: string;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Latest value of each changelog key, as compaction leaves them. */
export interface ChangelogLookup {
  get(key: string): { value: Buffer; headers: Record<string, string> } | undefined;
}

/** Key of a partition's manifest. Topic names cannot contain `/`, so keys do not collide. */
export function manifestKey(topic: string, partition: number): string {
  return `${topic}/${partition}/manifest`;
}

/** Key of one chunk. Each checkpoint has its own chunk keys, so writing one never touches another's chunks. */
export function chunkKey(topic: string, partition: number, id: string, index: number): string {
  return `${topic}/${partition}/chunk/${id}/${index}`;
}

/** Returns a new checkpoint id: processing time first, so ids sort roughly by age. */
export function newCheckpointId(now: Date = new Date()): string {
  return `${now.getTime().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** A checkpoint as changelog records, the manifest last; the manifest names the partition and offset. */
export interface EncodedCheckpoint {
  manifest: Manifest;
  records: ChangelogRecord[];
}

/**
 * Encodes a checkpoint as changelog records: compressed, split into chunks of at most
 * `maxChunkBytes`, and the manifest last. Write them in this order and wait for each to be
 * acknowledged before the next, so a crash part-way leaves the previous manifest in force.
 */
export function encodeCheckpoint(checkpoint: Checkpoint, options: EncodeOptions = {}): EncodedCheckpoint {
  checkMaxChunkBytes(options);
  return checkpointRecords(checkpoint, deflateSync(Buffer.from(JSON.stringify(checkpoint), 'utf8')), options);
}

/**
 * Encodes a checkpoint as `encodeCheckpoint` does, but compresses on the thread pool. The state is
 * serialised before the call returns, so the records reflect it as it was at the call.
 */
export function encodeCheckpointInBackground(checkpoint: Checkpoint, options: EncodeOptions = {}): Promise<EncodedCheckpoint> {
  checkMaxChunkBytes(options);
  const serialised = Buffer.from(JSON.stringify(checkpoint), 'utf8');
  return deflateAsync(serialised).then((compressed) => checkpointRecords(checkpoint, compressed, options));
}

interface EncodeOptions {
  id?: string;
  maxChunkBytes?: number;
  now?: Date;
}

function checkMaxChunkBytes(options: EncodeOptions): void {
  const maxChunkBytes = options.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES;
  if (!Number.isInteger(maxChunkBytes) || maxChunkBytes < 1) throw new RangeError(`maxChunkBytes must be a whole number above 0, got ${maxChunkBytes}`);
}

function checkpointRecords(checkpoint: Checkpoint, compressed: Buffer, options: EncodeOptions): EncodedCheckpoint {
  const maxChunkBytes = options.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES;
  const id = options.id ?? newCheckpointId(options.now);

  const records: ChangelogRecord[] = [];
  for (let start = 0, index = 0; start < compressed.length || index === 0; start += maxChunkBytes, index++) {
    records.push({
      key: chunkKey(checkpoint.topic, checkpoint.partition, id, index),
      value: compressed.subarray(start, start + maxChunkBytes),
      headers: { [CHECKPOINT_ID_HEADER]: id },
    });
  }

  const manifest: Manifest = {
    version: CHECKPOINT_VERSION,
    id,
    topic: checkpoint.topic,
    partition: checkpoint.partition,
    offset: checkpoint.offset,
    chunks: records.length,
    bytes: compressed.length,
    sha256: createHash('sha256').update(compressed).digest('hex'),
    compression: 'deflate',
    written: (options.now ?? new Date()).toISOString(),
  };
  records.push({ key: manifestKey(checkpoint.topic, checkpoint.partition), value: Buffer.from(JSON.stringify(manifest), 'utf8'), headers: { [CHECKPOINT_ID_HEADER]: id } });
  return { manifest, records };
}

/** Tombstones for the chunks of a checkpoint that a newer one replaced, so compaction can drop them. */
export function chunkTombstones(manifest: Manifest): ChangelogRecord[] {
  const records: ChangelogRecord[] = [];
  for (let index = 0; index < manifest.chunks; index++) {
    records.push({ key: chunkKey(manifest.topic, manifest.partition, manifest.id, index), value: null, headers: {} });
  }
  return records;
}

/**
 * Returns tombstones for the chunks of a partition that `current`, its manifest, does not
 * name: chunks of a checkpoint whose writer crashed before its manifest. Call it only while no
 * other member writes the partition's checkpoints, that is right after a restore.
 */
export function orphanChunkTombstones(keys: Iterable<string>, topic: string, partition: number, current: Manifest | undefined): ChangelogRecord[] {
  const prefix = `${topic}/${partition}/chunk/`;
  const records: ChangelogRecord[] = [];
  for (const key of keys) {
    if (!key.startsWith(prefix)) continue;
    const id = key.slice(prefix.length, key.lastIndexOf('/'));
    if (id !== current?.id) records.push({ key, value: null, headers: {} });
  }
  return records;
}

/**
 * Reads the latest complete checkpoint of a partition, or undefined when it has none. Throws
 * HOLTER_STATE_VERSION for a checkpoint of another layout version, and HOLTER_STATE_CORRUPT when
 * its chunks are missing or do not match the manifest.
 */
export function decodeCheckpoint(lookup: ChangelogLookup, topic: string, partition: number): { checkpoint: Checkpoint; manifest: Manifest } | undefined {
  const where = `${topic}/${partition}`;
  const entry = lookup.get(manifestKey(topic, partition));
  if (entry === undefined) return undefined;

  const manifest = parseManifest(entry.value, where);
  if (manifest.version !== CHECKPOINT_VERSION) {
    throw new HolterError(
      'HOLTER_STATE_VERSION',
      `The checkpoint of ${where} in the changelog has layout version ${JSON.stringify(manifest.version)}, but this Holter reads version ${CHECKPOINT_VERSION}. ` +
        'Run the Holter version that wrote it, or start this partition with empty state by writing a tombstone (null value) for the key ' +
        `${JSON.stringify(manifestKey(topic, partition))} to the changelog topic.`,
    );
  }

  const parts: Buffer[] = [];
  for (let index = 0; index < manifest.chunks; index++) {
    const chunk = lookup.get(chunkKey(topic, partition, manifest.id, index));
    if (chunk === undefined || chunk.headers[CHECKPOINT_ID_HEADER] !== manifest.id) {
      throw corrupt(where, manifest, `chunk ${index + 1} of ${manifest.chunks} is missing`);
    }
    parts.push(chunk.value);
  }
  const compressed = Buffer.concat(parts);
  const sha256 = createHash('sha256').update(compressed).digest('hex');
  if (compressed.length !== manifest.bytes || sha256 !== manifest.sha256) {
    throw corrupt(where, manifest, `its chunks hold ${compressed.length} bytes with SHA-256 ${sha256}, not the ${manifest.bytes} bytes with SHA-256 ${manifest.sha256} the manifest names`);
  }

  let checkpoint: Checkpoint;
  try {
    checkpoint = JSON.parse(inflateSync(compressed).toString('utf8')) as Checkpoint;
  } catch (error) {
    throw corrupt(where, manifest, `it does not decompress to JSON (${(error as Error).message})`);
  }
  if (checkpoint.version !== CHECKPOINT_VERSION) {
    throw new HolterError('HOLTER_STATE_VERSION', `The checkpoint of ${where} has layout version ${JSON.stringify(checkpoint.version)} inside a version ${CHECKPOINT_VERSION} manifest. Start this partition with empty state by writing a tombstone for its manifest key.`);
  }
  if (checkpoint.topic !== topic || checkpoint.partition !== partition || checkpoint.offset !== manifest.offset) {
    throw corrupt(where, manifest, `it names ${checkpoint.topic}/${checkpoint.partition} at offset ${checkpoint.offset}`);
  }
  return { checkpoint, manifest };
}

/** Reads a manifest record; a malformed one is reported as corrupt. */
export function parseManifest(value: Buffer, where: string): Manifest {
  let manifest: Partial<Manifest>;
  try {
    manifest = JSON.parse(value.toString('utf8')) as Partial<Manifest>;
  } catch (error) {
    throw new HolterError('HOLTER_STATE_CORRUPT', `The checkpoint manifest of ${where} is not JSON (${(error as Error).message}). ${corruptAdvice(where)}`);
  }
  const complete =
    typeof manifest.id === 'string' &&
    Number.isInteger(manifest.chunks) &&
    Number.isInteger(manifest.bytes) &&
    typeof manifest.sha256 === 'string' &&
    typeof manifest.offset === 'string' &&
    /^\d+$/.test(manifest.offset);
  if (typeof manifest.version !== 'number') {
    throw new HolterError('HOLTER_STATE_VERSION', `The checkpoint manifest of ${where} has no layout version; it was not written by this Holter. ${corruptAdvice(where)}`);
  }
  if (manifest.version === CHECKPOINT_VERSION && !complete) {
    throw new HolterError('HOLTER_STATE_CORRUPT', `The checkpoint manifest of ${where} lacks its id, chunk count, size, checksum or offset. ${corruptAdvice(where)}`);
  }
  return manifest as Manifest;
}

function corruptAdvice(where: string): string {
  const slash = where.lastIndexOf('/');
  const key = manifestKey(where.slice(0, slash), Number(where.slice(slash + 1)));
  return `To start this partition with empty state, write a tombstone (null value) for the key ${JSON.stringify(key)} to the changelog topic.`;
}

function corrupt(where: string, manifest: Manifest, problem: string): HolterError {
  return new HolterError('HOLTER_STATE_CORRUPT', `The checkpoint ${manifest.id} of ${where} (offset ${manifest.offset}) cannot be read: ${problem}. ${corruptAdvice(where)}`);
}
