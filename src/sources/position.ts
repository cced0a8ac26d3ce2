import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import type { InputPosition } from '../state/local-store.js';

/** Bytes hashed to recognise a file again; enough to cover the first records of any format. */
const FINGERPRINT_MAX_BYTES = 4096;

/** Hashes the first bytes of a file (fewer when the file is shorter), for an InputPosition. */
export async function fingerprintFile(path: string, maxBytes = FINGERPRINT_MAX_BYTES): Promise<{ fingerprint: string; fingerprintBytes: number }> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(maxBytes);
    const { bytesRead } = await handle.read(buffer, 0, maxBytes, 0);
    return { fingerprint: createHash('sha256').update(buffer.subarray(0, bytesRead)).digest('hex'), fingerprintBytes: bytesRead };
  } finally {
    await handle.close();
  }
}

/** Hashes the up to FINGERPRINT_MAX_BYTES bytes of a file that end at `endOffset`, for InputPosition.tailFingerprint. */
export async function tailFingerprint(path: string, endOffset: number): Promise<string> {
  const start = Math.max(0, endOffset - FINGERPRINT_MAX_BYTES);
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(endOffset - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    return createHash('sha256').update(buffer.subarray(0, bytesRead)).digest('hex');
  } finally {
    await handle.close();
  }
}

/**
 * Returns the offset of the last record already processed from `path`. Returns undefined, so the
 * file is read from its start, in three cases. No position was saved. The file's first bytes, or
 * the bytes before that position, differ from those saved (rotated or replaced). The file is
 * shorter than that position (truncated). A file that only grew keeps its position.
 */
export async function resumeOffset(path: string, saved: InputPosition | undefined): Promise<number | undefined> {
  if (saved === undefined) return undefined;
  const current = await fingerprintFile(path, saved.fingerprintBytes);
  if (current.fingerprintBytes !== saved.fingerprintBytes || current.fingerprint !== saved.fingerprint) return undefined;
  // Cut back below the last record read, though it still begins with the same bytes.
  if ((await stat(path)).size <= saved.lastOffset) return undefined;
  // Replaced by a file that begins the same but differs before the resume point.
  if (saved.tailFingerprint !== undefined && (await tailFingerprint(path, saved.lastOffset)) !== saved.tailFingerprint) return undefined;
  return saved.lastOffset;
}

/**
 * Finds the saved position of a file that `path` continues under another name: a log rotated or
 * renamed since the last replay (`app.log` read, then renamed `app.log.1`). Its first bytes equal
 * those saved for the other name. Returns that position, or undefined when no saved file matches.
 * NOTE: a copy of a file already read matches too, so its records are skipped like the original's.
 */
export async function renamedPosition(path: string, saved: Iterable<InputPosition>): Promise<InputPosition | undefined> {
  const fingerprints = new Map<number, string>();
  for (const position of saved) {
    if (position.input === path) continue;
    let current = fingerprints.get(position.fingerprintBytes);
    if (current === undefined) {
      const read = await fingerprintFile(path, position.fingerprintBytes);
      // A file shorter than the saved prefix cannot continue it.
      current = read.fingerprintBytes === position.fingerprintBytes ? read.fingerprint : '';
      fingerprints.set(position.fingerprintBytes, current);
    }
    if (current === position.fingerprint && (await resumeOffset(path, { ...position, input: path })) !== undefined) return position;
  }
  return undefined;
}

/**
 * Returns the length of the file up to and including its last newline: the part whose last record
 * is complete. A writer may be in the middle of the line after it, so a resumable replay leaves
 * that line for the next run.
 */
export async function completeLength(path: string): Promise<number> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const chunk = Buffer.alloc(64 * 1024);
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await handle.read(chunk, 0, end - start, start);
      const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (newline >= 0) return start + newline + 1;
      end = start;
    }
    return 0;
  } finally {
    await handle.close();
  }
}
