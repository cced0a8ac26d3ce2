import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import type { DeadLetterReason, RawRecord } from '../../decoders/types.js';
import { HolterError } from '../../errors.js';

/**
 * One dead-letter entry: why the record was rejected, where it came from, and the record itself,
 * so nothing is lost and it can be fixed and replayed.
 */
export interface DeadLetter {
  '@timestamp': string;
  reason: DeadLetterReason;
  message: string;
  input: string;
  line?: number;
  offset?: number;
  format?: string;
  /** The record as text. For a record that is not valid UTF-8 it has U+FFFD in place of each invalid sequence. */
  original: string;
  /** The record's exact bytes in base64, set only when they are not valid UTF-8 and `original` cannot give them back. */
  original_base64?: string;
}

export function toDeadLetter(record: RawRecord, reason: DeadLetterReason, message: string): DeadLetter {
  const entry: DeadLetter = {
    '@timestamp': new Date().toISOString(),
    reason,
    message,
    input: record.input,
    line: record.line,
    offset: record.offset,
    format: record.format,
    original: record.text,
  };
  if (record.invalidUtf8 !== undefined) entry.original_base64 = record.invalidUtf8.bytes.toString('base64');
  return entry;
}

export interface DeadLetterSink {
  write(record: RawRecord, reason: DeadLetterReason, message: string): Promise<void>;
  close(): Promise<void>;
}

/** Appends dead letters to an NDJSON file, created on the first entry. */
export class DeadLetterFile implements DeadLetterSink {
  private stream: WriteStream | undefined;
  private failure: Error | undefined;

  constructor(readonly filePath: string) {}

  async write(record: RawRecord, reason: DeadLetterReason, message: string): Promise<void> {
    if (this.failure) throw this.failure;
    const stream = this.open();
    if (!stream.write(`${JSON.stringify(toDeadLetter(record, reason, message))}\n`)) await once(stream, 'drain');
  }

  async close(): Promise<void> {
    const stream = this.stream;
    if (stream === undefined) return;
    await new Promise<void>((resolve) => stream.end(resolve));
    if (this.failure) throw this.failure;
  }

  private open(): WriteStream {
    if (this.stream === undefined) {
      try {
        mkdirSync(path.dirname(path.resolve(this.filePath)), { recursive: true });
      } catch (error) {
        throw new HolterError('HOLTER_SINK_FAILED', `Cannot create the dead-letter file ${this.filePath}: ${(error as Error).message}. Check the path given to --dead-letter or dead_letter.path.`, { cause: error });
      }
      // Owner-only: dead letters keep whole records, patient identifiers included.
      this.stream = createWriteStream(this.filePath, { flags: 'a', mode: 0o600 });
      this.stream.on('error', (error) => {
        this.failure = error;
      });
    }
    return this.stream;
  }
}

/** Keeps dead letters in memory, for tests and for callers that report them themselves. */
export class DeadLetterMemory implements DeadLetterSink {
  readonly entries: DeadLetter[] = [];

  async write(record: RawRecord, reason: DeadLetterReason, message: string): Promise<void> {
    this.entries.push(toDeadLetter(record, reason, message));
  }

  async close(): Promise<void> {}
}
