import path from 'node:path';
import { decodeRecord } from '../../src/decoders/index.js';
import type { DecodeContext, RawRecord } from '../../src/decoders/types.js';
import type { HolterEvent } from '../../src/event.js';
import { readRecords } from '../../src/sources/file.js';
import { REPO_ROOT, SAMPLES_DIR } from '../helpers/paths.js';

/** Fixed context: New York local time, and a "now" in mid-2024 for year-less syslog. */
export const CONTEXT: DecodeContext = {
  defaultTimeZone: 'America/New_York',
  now: new Date('2024-06-01T12:00:00Z'),
};

export function samplePath(relative: string): string {
  return path.join(SAMPLES_DIR, relative);
}

export function fixturePath(name: string): string {
  return path.join(REPO_ROOT, 'test', 'fixtures', name);
}

/** Reads a file through the file source and decodes every record; throws on a dead letter. */
export async function decodeFile(filePath: string, context: DecodeContext = CONTEXT): Promise<HolterEvent[]> {
  const events: HolterEvent[] = [];
  for await (const record of readRecords(filePath)) {
    const result = decodeRecord(record, context);
    if (!result.ok) throw new Error(`${filePath}:${record.line}: ${result.reason}: ${result.message}`);
    events.push(...result.events);
  }
  return events;
}

/** Decodes one in-memory record. */
export function decodeText(text: string, extra: Partial<RawRecord> = {}, context: DecodeContext = CONTEXT) {
  return decodeRecord({ input: 'test', text, line: 1, offset: 0, ...extra }, context);
}

/** Decodes one in-memory record and returns its events, failing with the dead-letter message otherwise. */
export function decodeOk(text: string, extra: Partial<RawRecord> = {}, context: DecodeContext = CONTEXT): HolterEvent[] {
  const result = decodeText(text, extra, context);
  if (!result.ok) throw new Error(`dead letter ${result.reason}: ${result.message}`);
  return result.events;
}
