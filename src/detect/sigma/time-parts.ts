/**
 * Sigma time modifiers (`minute`, `hour`, `day`, `week`, `month`, `year`, modifiers appendix
 * 2.1): a number read from a date value, compared with the rule's numbers. Holter reads the
 * date in the facility's time zone, so `hour: 3` means 3 a.m. on the clock at the facility,
 * before and after a daylight-saving change.
 */
import { DateTime, IANAZone } from 'luxon';

export type TimePart = 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';

export const TIME_PARTS: ReadonlySet<string> = new Set<TimePart>(['minute', 'hour', 'day', 'week', 'month', 'year']);

/** Smallest and largest number each part can have; `week` is the ISO 8601 week, which reaches 53 in some years. */
export const TIME_PART_RANGES: Record<TimePart, [number, number]> = {
  minute: [0, 59],
  hour: [0, 23],
  day: [1, 31],
  week: [1, 53],
  month: [1, 12],
  year: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/**
 * Reads one part of a date written as ISO 8601 (`2024-03-10T07:30:00Z`) or as SQL
 * (`2024-03-10 07:30:00`), in the given time zone. A date without an offset is a local time in
 * that zone. Returns undefined for anything else, epoch numbers included, because an epoch number
 * does not say whether it counts seconds or milliseconds.
 */
export function readTimePart(text: string, part: TimePart, zone: string): number | undefined {
  const trimmed = text.trim();
  if (!/^\d{4}-\d{2}/.test(trimmed)) return undefined;
  let date = DateTime.fromISO(trimmed, { zone });
  if (!date.isValid) date = DateTime.fromSQL(trimmed, { zone });
  if (!date.isValid) return undefined;

  switch (part) {
    case 'minute':
      return date.minute;
    case 'hour':
      return date.hour;
    case 'day':
      return date.day;
    case 'week':
      return date.weekNumber;
    case 'month':
      return date.month;
    case 'year':
      return date.year;
  }
}

/**
 * Returns a reader of one part that remembers the last text it read: a rule compares one
 * event value with each of its numbers in turn, so the date is parsed once per value.
 */
export function cachedPartReader(part: TimePart, zone: string): (text: string) => number | undefined {
  let lastText: string | undefined;
  let lastPart: number | undefined;
  return (text) => {
    if (text !== lastText) {
      lastText = text;
      lastPart = readTimePart(text, part, zone);
    }
    return lastPart;
  };
}
