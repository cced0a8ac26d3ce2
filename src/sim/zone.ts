import { IANAZone } from 'luxon';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** A change of UTC offset: from `utcMs` on, local time is UTC plus `offsetMinutes`. */
interface OffsetChange {
  utcMs: number;
  offsetMinutes: number;
}

/**
 * Local time of one facility's time zone over a bounded range of days, with the UTC offset
 * precomputed, so converting a time stamp costs a short table scan instead of a zone look-up.
 * Day 0 is the first local calendar day of the range.
 */
export class ZoneClock {
  readonly timeZone: string;
  readonly days: number;
  private readonly firstDay: { year: number; month: number; day: number };
  private readonly changes: OffsetChange[];

  constructor(timeZone: string, startDate: string, days: number) {
    const zone = IANAZone.create(timeZone);
    if (!zone.isValid) throw new RangeError(`unknown IANA time zone "${timeZone}"`);

    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(startDate);
    if (!match) throw new RangeError(`start date "${startDate}" is not an ISO date (YYYY-MM-DD)`);
    this.timeZone = timeZone;
    this.days = days;
    this.firstDay = { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) };

    // Scan hourly from two days before to two days after the range: zone rules change offsets
    // only on whole minutes, so a binary search inside the changed hour finds the exact minute.
    const scanStart = Date.UTC(this.firstDay.year, this.firstDay.month - 1, this.firstDay.day) - 2 * DAY_MS;
    const scanEnd = scanStart + (days + 4) * DAY_MS;
    this.changes = [{ utcMs: -Infinity, offsetMinutes: zone.offset(scanStart) }];
    let previous = zone.offset(scanStart);
    for (let t = scanStart + HOUR_MS; t <= scanEnd; t += HOUR_MS) {
      const offset = zone.offset(t);
      if (offset === previous) continue;
      let low = t - HOUR_MS;
      let high = t;
      while (high - low > MINUTE_MS) {
        const middle = low + Math.floor((high - low) / 2 / MINUTE_MS) * MINUTE_MS;
        if (zone.offset(middle) === previous) low = middle;
        else high = middle;
      }
      this.changes.push({ utcMs: high, offsetMinutes: offset });
      previous = offset;
    }
  }

  /** UTC offset in minutes at an instant (-240 for EDT, -300 for EST). */
  offsetMinutesAt(utcMs: number): number {
    let offset = (this.changes[0] as OffsetChange).offsetMinutes;
    for (const change of this.changes) {
      if (change.utcMs > utcMs) break;
      offset = change.offsetMinutes;
    }
    return offset;
  }

  /**
   * Instant of a local wall-clock time on day `dayIndex`; `minuteOfDay` may exceed 1440 to reach
   * into the next day. A time in the repeated hour of a fall-back night maps to its first
   * occurrence, and a time skipped by a spring-forward gap maps to the instant one hour later.
   */
  toUtc(dayIndex: number, minuteOfDay: number): number {
    const wallMs = Date.UTC(this.firstDay.year, this.firstDay.month - 1, this.firstDay.day + dayIndex) + minuteOfDay * MINUTE_MS;

    let earliest = Infinity;
    for (const change of this.changes) {
      const candidate = wallMs - change.offsetMinutes * MINUTE_MS;
      if (this.offsetMinutesAt(candidate) === change.offsetMinutes) earliest = Math.min(earliest, candidate);
    }
    if (earliest !== Infinity) return earliest;

    // In a gap no offset fits; the offset in force before the gap moves the time forward past it.
    // Offsets never exceed 14 hours, so 18 hours before the wall time is before the gap.
    return wallMs - this.offsetMinutesAt(wallMs - 18 * HOUR_MS) * MINUTE_MS;
  }

  /** Local wall-clock hour (0-23) at an instant. */
  localHour(utcMs: number): number {
    const wallMs = utcMs + this.offsetMinutesAt(utcMs) * MINUTE_MS;
    return Math.floor((((wallMs % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS);
  }

  /** Local calendar date (YYYY-MM-DD) of day `dayIndex`. */
  localDate(dayIndex: number): string {
    return new Date(Date.UTC(this.firstDay.year, this.firstDay.month - 1, this.firstDay.day + dayIndex)).toISOString().slice(0, 10);
  }

  /** ISO weekday of day `dayIndex`: 1 is Monday, 7 is Sunday. */
  weekday(dayIndex: number): number {
    const day = new Date(Date.UTC(this.firstDay.year, this.firstDay.month - 1, this.firstDay.day + dayIndex)).getUTCDay();
    return day === 0 ? 7 : day;
  }

  /** Indexes of days inside the range whose local day has a repeated hour (the UTC offset falls). */
  fallBackDays(): number[] {
    const found: number[] = [];
    for (let day = 0; day < this.days; day++) {
      if (this.offsetMinutesAt(this.toUtc(day + 1, 0)) < this.offsetMinutesAt(this.toUtc(day, 0))) found.push(day);
    }
    return found;
  }

  /** ISO 8601 local time with milliseconds and the UTC offset, e.g. `2026-11-01T01:30:00.000-05:00`. */
  formatLocal(utcMs: number): string {
    const offset = this.offsetMinutesAt(utcMs);
    const wall = new Date(utcMs + offset * MINUTE_MS).toISOString();
    return wall.slice(0, 23) + formatOffset(offset);
  }
}

function formatOffset(offsetMinutes: number): string {
  if (offsetMinutes === 0) return 'Z';
  const sign = offsetMinutes < 0 ? '-' : '+';
  const absolute = Math.abs(offsetMinutes);
  const hours = String(Math.floor(absolute / 60)).padStart(2, '0');
  const minutes = String(absolute % 60).padStart(2, '0');
  return `${sign}${hours}:${minutes}`;
}
