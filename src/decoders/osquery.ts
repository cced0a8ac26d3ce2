import type { HolterEvent } from '../event.js';
import { DecodeError } from './decode-error.js';
import { createEvent, isPresent } from './event-builder.js';
import type { FormatDecoder } from './format-decoder.js';
import { asObject, compact, isObject, nonEmpty, objectsOf, type JsonObject } from './json.js';
import { parseEpochSeconds } from './time.js';
import type { RawRecord } from './types.js';

/**
 * osquery results log lines: differential (one row with `action` added/removed and
 * `columns`), batched differential (`diffResults.added/removed`) and snapshot (`snapshot`
 * rows). Each row becomes one event. Column values stay exactly as osquery wrote them
 * (strings), so 64-bit values such as `9223372036854775807` keep every digit.
 */

const FORMAT = 'osquery';

export const osqueryDecoder: FormatDecoder = {
  format: FORMAT,

  matchesJson(value) {
    return typeof value.name === 'string' && 'unixTime' in value && ('columns' in value || 'snapshot' in value || 'diffResults' in value);
  },

  decodeJson(value, record) {
    const timestamp = parseEpochSeconds(value.unixTime);
    if (timestamp === undefined) {
      throw new DecodeError('invalid_timestamp', 'The osquery result has no numeric "unixTime".');
    }

    if (isObject(value.columns)) return [buildEvent(value, value.columns, String(value.action ?? 'added'), timestamp, record, 0)];

    const rows: { columns: JsonObject; action: string }[] = [];
    for (const columns of objectsOf(value.snapshot)) rows.push({ columns, action: 'snapshot' });
    const diff = asObject(value.diffResults);
    for (const columns of objectsOf(diff?.added)) rows.push({ columns, action: 'added' });
    for (const columns of objectsOf(diff?.removed)) rows.push({ columns, action: 'removed' });
    return rows.map((row, index) => buildEvent(value, row.columns, row.action, timestamp, record, index));
  },
};

function buildEvent(
  value: JsonObject,
  columns: JsonObject,
  action: string,
  timestamp: string,
  record: RawRecord,
  index: number,
): HolterEvent {
  const event = createEvent(
    record,
    FORMAT,
    {
      timestamp,
      category: ['host'],
      type: ['info'],
      action,
      outcome: 'unknown',
      module: 'osquery',
      dataset: 'result',
    },
    index,
  );

  const hostIdentifier = nonEmpty(value.hostIdentifier);
  if (isPresent(hostIdentifier)) event.host = { name: hostIdentifier };

  event.osquery = compact({
    name: String(value.name),
    action,
    columns,
    host_identifier: hostIdentifier,
    calendar_time: nonEmpty(value.calendarTime),
    unix_time: nonEmpty(value.unixTime),
    epoch: nonEmpty(value.epoch),
    counter: nonEmpty(value.counter),
    decorations: asObject(value.decorations),
  });
  return event;
}
