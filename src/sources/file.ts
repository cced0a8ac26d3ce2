import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { SizedRawRecord } from '../decoders/index.js';
import { HolterError } from '../errors.js';
import { DEFAULT_MAX_RECORD_BYTES, RecordSplitter } from './record-splitter.js';

export interface ReadRecordsOptions {
  /** Format set for the input; copied onto every record so the decoder skips detection. */
  format?: string;
  /** Records above this size are cut and flagged `oversizeBytes` (default 1 MiB). */
  maxRecordBytes?: number;
}

/**
 * Streams a file (or stdin for `-`) as raw records: one per line for line-oriented input,
 * one per document for JSON and XML documents (see RecordSplitter for the rules). Every
 * record carries the input name, its first line (1-based) and its byte offset.
 */
export async function* readRecords(filePath: string, options: ReadRecordsOptions = {}): AsyncIterable<SizedRawRecord> {
  const isStdin = filePath === '-';
  const input = isStdin ? 'stdin' : filePath;
  if (!isStdin) await assertReadableFile(filePath);

  const stream: Readable = isStdin ? process.stdin : createReadStream(filePath);
  const splitter = new RecordSplitter(input, options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES);

  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    for (const record of splitter.push(buffer)) yield withFormat(record, options.format);
  }
  for (const record of splitter.end()) yield withFormat(record, options.format);
}

async function assertReadableFile(filePath: string): Promise<void> {
  try {
    const info = await stat(filePath);
    if (!info.isFile() && !info.isFIFO()) {
      throw new HolterError('HOLTER_INPUT_NOT_FOUND', `Input "${filePath}" is not a file; name a file, or - for standard input.`);
    }
  } catch (error) {
    if (error instanceof HolterError) throw error;
    throw new HolterError('HOLTER_INPUT_NOT_FOUND', `Input file "${filePath}" cannot be read; check the path and its permissions.`, {
      cause: error,
    });
  }
}

function withFormat(record: SizedRawRecord, format: string | undefined): SizedRawRecord {
  if (format !== undefined) record.format = format;
  return record;
}
