import { DateTime } from 'luxon';
import { getField, setField, type HolterEvent } from '../event.js';
import { DecodeError } from './decode-error.js';
import { addRelatedIp, addRelatedUser, createEvent } from './event-builder.js';
import type { JsonObject } from './json.js';
import { parseAnyIso, parseEpochMillis, parseEpochSeconds } from './time.js';
import type { DecodeContext, GenericMapping, RawRecord } from './types.js';

/**
 * The generic JSON decoder: a user-named format driven by a `GenericMapping` (time stamp
 * path and format, target path <- source path, constants). It is never chosen by detection,
 * only by the input's configured format.
 */

/** Paths that would reach Object.prototype through setField. */
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

export function decodeGeneric(
  format: string,
  mapping: GenericMapping,
  value: JsonObject,
  record: RawRecord,
  context: DecodeContext,
): HolterEvent[] {
  const rawTimestamp = getField(value, mapping.timestamp);
  if (rawTimestamp === undefined || rawTimestamp === null || rawTimestamp === '') {
    throw new DecodeError('missing_field', `The record has no time stamp at "${mapping.timestamp}", the path set by format "${format}".`);
  }
  const timestamp = parseTimestamp(rawTimestamp, mapping.timestampFormat ?? 'iso', context.defaultTimeZone);
  if (timestamp === undefined) {
    throw new DecodeError(
      'invalid_timestamp',
      `The value at "${mapping.timestamp}" is not a time stamp in the "${mapping.timestampFormat ?? 'iso'}" format set by format "${format}".`,
    );
  }

  const event = createEvent(record, format, {
    timestamp,
    category: [],
    type: ['info'],
    action: format,
    outcome: 'unknown',
    module: format,
    dataset: 'generic',
  });
  const target = event as unknown as Record<string, unknown>;

  for (const [targetPath, constant] of Object.entries(mapping.constants ?? {})) {
    assertSafePath(format, targetPath);
    setField(target, targetPath, constant);
  }
  for (const [targetPath, sourcePath] of Object.entries(mapping.fields)) {
    assertSafePath(format, targetPath);
    const fieldValue = getField(value, sourcePath);
    if (fieldValue !== undefined) setField(target, targetPath, fieldValue);
  }

  addRelatedUser(event, event.user?.name);
  addRelatedIp(event, event.source?.ip);
  return [event];
}

function parseTimestamp(value: unknown, timestampFormat: string, zone: string): string | undefined {
  switch (timestampFormat) {
    case 'iso':
      return parseAnyIso(value, zone);
    case 'epoch_seconds':
      return parseEpochSeconds(value);
    case 'epoch_millis':
      return parseEpochMillis(value);
    default: {
      if (typeof value !== 'string') return undefined;
      const parsed = DateTime.fromFormat(value, timestampFormat, { zone, setZone: true });
      return parsed.isValid ? (parsed.toUTC().toISO() ?? undefined) : undefined;
    }
  }
}

function assertSafePath(format: string, path: string): void {
  if (path.split('.').some((segment) => FORBIDDEN_SEGMENTS.has(segment))) {
    throw new DecodeError('invalid_record', `Format "${format}" maps to the path "${path}", which is not allowed; rename the target field.`);
  }
}
