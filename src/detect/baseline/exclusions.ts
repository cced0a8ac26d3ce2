import { DateTime } from 'luxon';
import type { ExclusionConfig } from './schema.js';

/**
 * Periods left out of learning and judging (`exclude`), such as a planned migration that moves
 * every record once. Each period includes its start and excludes its end. A date without a time
 * is local midnight in the facility's zone.
 */
export class Exclusions {
  /** [start ms, end ms) ranges, sorted and merged. */
  private readonly ranges: Array<[number, number]>;

  constructor(ranges: Array<[number, number]>) {
    this.ranges = mergeRanges(ranges);
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  /** True when [startMs, endMs) overlaps an excluded period. */
  overlaps(startMs: number, endMs: number): boolean {
    for (const [from, to] of this.ranges) {
      if (from < endMs && startMs < to) return true;
    }
    return false;
  }

  /**
   * Counts the buckets of `spanMs` aligned to the epoch with starts in [fromMs, toMs) that
   * overlap an excluded period.
   */
  countBuckets(fromMs: number, toMs: number, spanMs: number): number {
    let count = 0;
    for (const [from, to] of this.ranges) {
      // Buckets that overlap [from, to) start in (from - span, to).
      const first = Math.max(fromMs, Math.floor(from / spanMs) * spanMs);
      const last = Math.min(toMs, to);
      if (last > first) count += Math.ceil((last - first) / spanMs);
    }
    return count;
  }
}

/** Parses one `exclude` entry in the zone; returns the range, or a message naming the bad value. */
export function parseExclusion(entry: ExclusionConfig, zone: string): [number, number] | { key: 'start' | 'end'; message: string } {
  const start = DateTime.fromISO(entry.start, { zone });
  if (!start.isValid) return { key: 'start', message: `exclude start '${entry.start}' is not an ISO 8601 date or date-time; write it as 2026-12-24 or 2026-12-24T18:00` };
  const end = DateTime.fromISO(entry.end, { zone });
  if (!end.isValid) return { key: 'end', message: `exclude end '${entry.end}' is not an ISO 8601 date or date-time; write it as 2026-12-27 or 2026-12-27T06:00` };
  if (end.toMillis() <= start.toMillis()) {
    return { key: 'end', message: `exclude end '${entry.end}' must be after its start '${entry.start}'; the end is excluded from the period` };
  }
  return [start.toMillis(), end.toMillis()];
}

function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [from, to] of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && from <= last[1]) last[1] = Math.max(last[1], to);
    else merged.push([from, to]);
  }
  return merged;
}
