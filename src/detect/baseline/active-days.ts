/**
 * Decayed count of the distinct local dates on which an entity was active at each hour of the day,
 * or at a neighbouring hour of the same date. A rotating worker whose one night a week moves
 * between weekdays has little share at any hour of the week, yet has worked 02:00 on several
 * dates. This count lets such an hour look usual while a user who never worked it keeps alerting.
 *
 * A date is counted once a later date begins, so judging an hour only counts earlier dates: a
 * burst cannot make its own night look usual. Each date adds 1 to every hour it marked, and the
 * counts halve every half-life in event time.
 *
 * Size: 24 float64 counts (192 bytes) and five numbers, about 300 bytes per entity (an estimate
 * from the field sizes, not a heap measurement).
 */

const HOURS_PER_DAY = 24;
/** Bits 0 to 23. */
const ALL_HOURS = 0xffffff;

export interface OpenDate {
  /** Local date as days since 1970-01-01. */
  day: number;
  /** Bit h set: the entity was active at hour h, or at hour h - 1 or h + 1 of the same date. */
  hours: number;
  /** Latest event time learned on this date. */
  lastMs: number;
}

export interface ActiveDaysSnapshot {
  counts: number[];
  referenceMs: number | null;
  open: OpenDate | null;
}

export class ActiveDays {
  private readonly halfLifeMs: number;
  private readonly counts = new Float64Array(HOURS_PER_DAY);
  /** Event time to which all counts are decayed. */
  private referenceMs = Number.NaN;
  /** The date being marked, in fields rather than an object per date; NaN when none. */
  private openDay = Number.NaN;
  private openHours = 0;
  private openLastMs = 0;

  constructor(halfLifeMs: number) {
    this.halfLifeMs = halfLifeMs;
  }

  /**
   * Marks `hour` (0-23) of local date `day` and its neighbours on the same date as active.
   * Neighbours do not wrap past midnight, because the other side belongs to another date and
   * would count one night twice.
   */
  mark(ms: number, day: number, hour: number): void {
    // NOTE: an out-of-order event from a date already counted is not counted, so a late event
    // can only make an hour look less usual.
    if (day < this.openDay) return;
    this.settleBefore(day);

    if (Number.isNaN(this.openDay)) {
      this.openDay = day;
      this.openHours = 0;
      this.openLastMs = ms;
    }
    // Bits hour - 1, hour and hour + 1, cut to the 24 hours of the date.
    this.openHours |= ((0b111 << hour) >>> 1) & ALL_HOURS;
    this.openLastMs = Math.max(this.openLastMs, ms);
  }

  /** Counts the open date when `day` is a later date. */
  settleBefore(day: number): void {
    if (!(this.openDay < day)) return;
    const hours = this.openHours;
    const lastMs = this.openLastMs;
    this.openDay = Number.NaN;

    this.decayTo(lastMs);
    const weight = Math.pow(2, -(this.referenceMs - lastMs) / this.halfLifeMs);
    for (let hour = 0; hour < HOURS_PER_DAY; hour += 1) {
      if ((hours & (1 << hour)) !== 0) this.counts[hour] = (this.counts[hour] as number) + weight;
    }
  }

  /** Returns the decayed number of earlier dates active at or next to `hour`, as seen at `ms`. */
  countAt(hour: number, ms: number): number {
    const count = this.counts[hour] as number;
    if (Number.isNaN(this.referenceMs) || ms <= this.referenceMs) return count;
    return count * Math.pow(2, -(ms - this.referenceMs) / this.halfLifeMs);
  }

  snapshot(): ActiveDaysSnapshot {
    return {
      counts: Array.from(this.counts),
      referenceMs: Number.isNaN(this.referenceMs) ? null : this.referenceMs,
      open: Number.isNaN(this.openDay) ? null : { day: this.openDay, hours: this.openHours, lastMs: this.openLastMs },
    };
  }

  static restore(snapshot: ActiveDaysSnapshot, halfLifeMs: number): ActiveDays {
    const days = new ActiveDays(halfLifeMs);
    days.counts.set(snapshot.counts.slice(0, HOURS_PER_DAY));
    days.referenceMs = snapshot.referenceMs ?? Number.NaN;
    if (snapshot.open !== null) {
      days.openDay = snapshot.open.day;
      days.openHours = snapshot.open.hours;
      days.openLastMs = snapshot.open.lastMs;
    }
    return days;
  }

  /** An empty count, for state saved before the counts existed. */
  static emptySnapshot(): ActiveDaysSnapshot {
    return { counts: new Array<number>(HOURS_PER_DAY).fill(0), referenceMs: null, open: null };
  }

  private decayTo(ms: number): void {
    if (Number.isNaN(this.referenceMs)) {
      this.referenceMs = ms;
      return;
    }
    if (ms <= this.referenceMs) return;
    const factor = Math.pow(2, -(ms - this.referenceMs) / this.halfLifeMs);
    for (let hour = 0; hour < HOURS_PER_DAY; hour += 1) this.counts[hour] = (this.counts[hour] as number) * factor;
    this.referenceMs = ms;
  }
}
