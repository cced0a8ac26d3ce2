import { ActiveDays } from './active-days.js';
import type { ActiveDaysSnapshot } from './active-days.js';
import { HOUR_MS, HOURS_PER_WEEK } from './local-time.js';
import type { LocalHour } from './local-time.js';

/**
 * Activity of one entity (a user or a peer group) by local hour of week, with exponential decay
 * in event time so that old behaviour fades.
 *
 * Size: 168 float64 weights and their 48 weekday and weekend sums in one array (1,728 bytes),
 * fifteen numbers and the active-day counts (about 300 bytes), about 2.2 KB per profile with
 * object overhead: an estimate from the field sizes. `npm run bench:detectors` measures the heap.
 *
 * Events of the current local hour are held back and added when a later hour begins. A burst of
 * unusual events therefore cannot make its own hour look usual while it is still being judged.
 */

/**
 * A weekday or weekend profile with less than this fraction of all weight is too thin to judge
 * by, so the hour is judged against all days pooled. A Monday-to-Friday day worker opening a
 * record on Saturday morning is then judged by their weekday mornings.
 */
const MIN_DAY_TYPE_FRACTION = 0.1;

/** Below this total weight a profile is treated as empty (decay never reaches exactly 0). */
const EMPTY_WEIGHT = 1e-9;

/** Days whose hours an hour is judged against; a weekday's name for `time_of_week`. */
export type DayType = 'weekdays' | 'weekends' | 'all days' | (typeof WEEKDAY_NAMES)[number];

/** Plural names of the days of the week, Monday first as in the hour-of-week index. */
const WEEKDAY_NAMES = ['Mondays', 'Tuesdays', 'Wednesdays', 'Thursdays', 'Fridays', 'Saturdays', 'Sundays'] as const;

export interface HourShare {
  /** Smoothed share of activity in this local hour, 0 to 1. */
  share: number;
  /** True when the hour itself (before smoothing) has any weight. */
  seen: boolean;
  dayType: DayType;
}

/** The events of one local hour, held back until a later hour begins, as saved in a snapshot. */
interface PendingHour {
  startMs: number;
  hourOfWeek: number;
  /** Local date; null for an hour restored from state saved before dates were kept. */
  day: number | null;
  lastMs: number;
  count: number;
}

export interface HourProfileSnapshot {
  /** Decayed weights at referenceMs, by hour of week. */
  weights: number[];
  referenceMs: number | null;
  firstMs: number | null;
  lastMs: number | null;
  events: number;
  pending: PendingHour | null;
  activeDays: ActiveDaysSnapshot;
}

/** Offsets into a profile's one array of numbers: the hour-of-week weights, then their sums by hour of day. */
const WEEKDAY_POOL = HOURS_PER_WEEK;
const WEEKEND_POOL = HOURS_PER_WEEK + 24;
const CELLS = HOURS_PER_WEEK + 48;
/** First hour of week of Saturday: Monday is day 0. */
const WEEKEND_START = 5 * 24;
/**
 * Half-lives after the scale's base at which the scaled weights are rescaled. 2^512 times any
 * realistic count stays far below the largest double (about 2^1024).
 */
const MAX_SCALE_HALF_LIVES = 512;

export class HourProfile {
  private readonly halfLifeMs: number;
  /**
   * Weights by hour of week (0-167), then their sums over weekdays (168-191) and weekend days
   * (192-215) by hour of day, all scaled. An event at time t adds 2^((t - scaleBaseMs) / half-life)
   * instead of decaying all 168 weights to each new event's time, which costs a pass over the
   * array per hour of activity. The decayed weight at referenceMs is the scaled one times
   * 2^((scaleBaseMs - referenceMs) / half-life). Shares are ratios, so the scale cancels in them.
   */
  private readonly cells = new Float64Array(CELLS);
  private weekdayTotal = 0;
  private weekendTotal = 0;
  private scaleBaseMs = Number.NaN;
  /** Latest event time added: the time at which the decayed weights are read. */
  private referenceMs = Number.NaN;
  firstMs = Number.NaN;
  lastMs = Number.NaN;
  /** Events added so far (not decayed). */
  events = 0;
  /** Peer group of the latest event, for describe; not part of the snapshot. */
  peer: string | undefined;
  /** The held-back hour, in fields rather than an object per hour; NaN start when none. */
  private pendingStartMs = Number.NaN;
  private pendingHourOfWeek = 0;
  /** Local date of the held-back hour; NaN for an hour restored from state saved before dates were kept. */
  private pendingDay = Number.NaN;
  private pendingLastMs = 0;
  private pendingCount = 0;
  private activeDays: ActiveDays;

  constructor(halfLifeMs: number) {
    this.halfLifeMs = halfLifeMs;
    this.activeDays = new ActiveDays(halfLifeMs);
  }

  /** Start of the held-back hour, NaN when none is held back. */
  get heldStartMs(): number {
    return this.pendingStartMs;
  }

  /** Days between the first and the last event added. */
  historyDays(): number {
    return Number.isNaN(this.firstMs) ? 0 : (this.lastMs - this.firstMs) / 86_400_000;
  }

  isLearned(minDays: number, minEvents: number): boolean {
    if (!(this.events >= minEvents && this.events > 0)) return false;
    // historyDays is written out, because a call that V8 leaves out of line boxes the returned
    // double, and time_of_day calls isLearned for a peer group's profile on every event.
    const historyDays = Number.isNaN(this.firstMs) ? 0 : (this.lastMs - this.firstMs) / 86_400_000;
    return historyDays >= minDays;
  }

  /**
   * Adds the held-back hour when `hour` starts later, and counts the active dates before the date
   * of `hour`, so that judging `hour` uses every earlier hour and every earlier date.
   */
  settleBefore(hour: LocalHour): void {
    if (this.pendingStartMs < hour.startMs) this.addPending();
    this.activeDays.settleBefore(hour.day);
  }

  /**
   * Returns the decayed number of earlier local dates on which the entity was active at the hour
   * of day of `hour` or a neighbouring hour, as seen at `ms`.
   */
  activeDaysAt(hour: LocalHour, ms: number): number {
    return this.activeDays.countAt(hour.hour, ms);
  }

  /** Decayed active dates at hour `hour` of the day, as seen at `ms`. */
  activeDaysAtHour(hour: number, ms: number): number {
    return this.activeDays.countAt(hour, ms);
  }

  /** Share of the decayed weight in each hour of the week, without the held-back hour. */
  hourOfWeekShares(): number[] {
    const total = this.weekdayTotal + this.weekendTotal;
    return Array.from(this.cells.subarray(0, HOURS_PER_WEEK), (weight) => (total > 0 ? weight / total : 0));
  }

  /**
   * Takes back `count` events of the local hour `hour` from what was learned, whether they are
   * still held back or already added. Used when those events raised a detection.
   */
  discount(hour: LocalHour, count: number): void {
    if (count <= 0) return;
    if (this.pendingStartMs === hour.startMs) {
      this.pendingCount = Math.max(0, this.pendingCount - count);
      return;
    }
    if (Number.isNaN(this.referenceMs)) return;
    // The events count as of the end of their hour, or of the reference time if that is earlier.
    const atMs = Math.min(this.referenceMs, hour.startMs + HOUR_MS - 1);
    const index = hour.hourOfWeek;
    this.cells[index] = Math.max(0, (this.cells[index] as number) - count * this.scaleAt(atMs));
    // Summed again rather than subtracted, so an hour taken back to 0 leaves no rounding residue in
    // the pools. Detections are rare, so the pass costs little.
    this.sumPools();
  }

  /** Records one event. Call after judging it. */
  observe(ms: number, hour: LocalHour): void {
    if (this.pendingStartMs === hour.startMs) {
      this.pendingCount += 1;
      this.pendingLastMs = Math.max(this.pendingLastMs, ms);
      return;
    }
    if (hour.startMs < this.pendingStartMs) {
      // An out-of-order event from an earlier hour: that hour is over, so add it at once.
      this.add(ms, hour.hourOfWeek, hour.day, 1);
      return;
    }
    this.addPending();
    this.pendingStartMs = hour.startMs;
    this.pendingHourOfWeek = hour.hourOfWeek;
    this.pendingDay = hour.day;
    this.pendingLastMs = ms;
    this.pendingCount = 1;
  }

  /**
   * Returns the share of activity in the local hour, smoothed with its neighbours: each
   * neighbouring hour's share counts `smoothing` times as much as the hour itself. Returns
   * undefined when the profile is empty. The share is written to `into` when given, else to a new
   * object.
   */
  shareOf(hour: LocalHour, smoothing: number, into?: HourShare): HourShare | undefined {
    const cells = this.cells;
    const { weekdayTotal, weekendTotal } = this;
    const total = weekdayTotal + weekendTotal;
    const scale = this.decayedScale();
    if (total * scale < EMPTY_WEIGHT) return undefined;

    const before = (hour.hour + 23) % 24;
    const after = (hour.hour + 25) % 24;
    let dayTotal = hour.weekend ? weekendTotal : weekdayTotal;
    let dayType: DayType = hour.weekend ? 'weekends' : 'weekdays';
    let weightBefore: number;
    let weightAt: number;
    let weightAfter: number;
    if (dayTotal < MIN_DAY_TYPE_FRACTION * total) {
      weightBefore = (cells[WEEKDAY_POOL + before] as number) + (cells[WEEKEND_POOL + before] as number);
      weightAt = (cells[WEEKDAY_POOL + hour.hour] as number) + (cells[WEEKEND_POOL + hour.hour] as number);
      weightAfter = (cells[WEEKDAY_POOL + after] as number) + (cells[WEEKEND_POOL + after] as number);
      dayTotal = total;
      dayType = 'all days';
    } else {
      const pool = hour.weekend ? WEEKEND_POOL : WEEKDAY_POOL;
      weightBefore = cells[pool + before] as number;
      weightAt = cells[pool + hour.hour] as number;
      weightAfter = cells[pool + after] as number;
    }

    const at = weightAt / dayTotal;
    const share = (smoothing * (weightBefore / dayTotal) + at + smoothing * (weightAfter / dayTotal)) / (1 + 2 * smoothing);
    return writeShare(into, share, weightAt * scale > EMPTY_WEIGHT, dayType);
  }

  /**
   * Returns the share of the week's activity in this hour of the week, smoothed with the hours
   * before and after it (across midnight too), for `time_of_week`. Returns undefined when the
   * profile is empty. The share is written to `into` when given, else to a new object.
   */
  weekShareOf(hour: LocalHour, smoothing: number, into?: HourShare): HourShare | undefined {
    const cells = this.cells;
    const total = this.weekdayTotal + this.weekendTotal;
    const scale = this.decayedScale();
    if (total * scale < EMPTY_WEIGHT) return undefined;
    const weightAt = cells[hour.hourOfWeek] as number;
    const at = weightAt / total;
    const before = (cells[(hour.hourOfWeek + HOURS_PER_WEEK - 1) % HOURS_PER_WEEK] as number) / total;
    const after = (cells[(hour.hourOfWeek + 1) % HOURS_PER_WEEK] as number) / total;
    const share = (smoothing * before + at + smoothing * after) / (1 + 2 * smoothing);
    return writeShare(into, share, weightAt * scale > EMPTY_WEIGHT, WEEKDAY_NAMES[Math.floor(hour.hourOfWeek / 24)] as DayType);
  }

  snapshot(): HourProfileSnapshot {
    const scale = this.decayedScale();
    return {
      weights: Array.from(this.cells.subarray(0, HOURS_PER_WEEK), (weight) => weight * scale),
      referenceMs: nullable(this.referenceMs),
      firstMs: nullable(this.firstMs),
      lastMs: nullable(this.lastMs),
      events: this.events,
      pending: Number.isNaN(this.pendingStartMs)
        ? null
        : { startMs: this.pendingStartMs, hourOfWeek: this.pendingHourOfWeek, day: nullable(this.pendingDay), lastMs: this.pendingLastMs, count: this.pendingCount },
      activeDays: this.activeDays.snapshot(),
    };
  }

  static restore(snapshot: HourProfileSnapshot, halfLifeMs: number): HourProfile {
    const profile = new HourProfile(halfLifeMs);
    profile.cells.set(snapshot.weights.slice(0, HOURS_PER_WEEK));
    profile.sumPools();
    profile.referenceMs = snapshot.referenceMs ?? Number.NaN;
    // The saved weights are decayed to referenceMs, so that is where their scale is 1.
    profile.scaleBaseMs = profile.referenceMs;
    profile.firstMs = snapshot.firstMs ?? Number.NaN;
    profile.lastMs = snapshot.lastMs ?? Number.NaN;
    profile.events = snapshot.events;
    const pending = snapshot.pending;
    if (pending !== null) {
      profile.pendingStartMs = pending.startMs;
      profile.pendingHourOfWeek = pending.hourOfWeek;
      profile.pendingDay = pending.day ?? Number.NaN;
      profile.pendingLastMs = pending.lastMs;
      profile.pendingCount = pending.count;
    }
    profile.activeDays = ActiveDays.restore(snapshot.activeDays, halfLifeMs);
    return profile;
  }

  private addPending(): void {
    if (Number.isNaN(this.pendingStartMs)) return;
    this.pendingStartMs = Number.NaN;
    this.add(this.pendingLastMs, this.pendingHourOfWeek, Number.isNaN(this.pendingDay) ? null : this.pendingDay, this.pendingCount);
  }

  private add(ms: number, hourOfWeek: number, day: number | null, count: number): void {
    if (day !== null) this.activeDays.mark(ms, day, hourOfWeek % 24);

    if (Number.isNaN(this.scaleBaseMs)) this.scaleBaseMs = ms;
    if (ms - this.scaleBaseMs > MAX_SCALE_HALF_LIVES * this.halfLifeMs) this.rescale(ms);
    this.referenceMs = Number.isNaN(this.referenceMs) ? ms : Math.max(this.referenceMs, ms);
    this.changeWeight(hourOfWeek, count * this.scaleAt(ms));

    this.events += count;
    this.firstMs = Number.isNaN(this.firstMs) ? ms : Math.min(this.firstMs, ms);
    this.lastMs = Number.isNaN(this.lastMs) ? ms : Math.max(this.lastMs, ms);
  }

  /** Adds `delta` (scaled, may be negative) to one hour-of-week weight and to its pool and total. */
  private changeWeight(hourOfWeek: number, delta: number): void {
    const cells = this.cells;
    cells[hourOfWeek] = (cells[hourOfWeek] as number) + delta;
    const hour = hourOfWeek % 24;
    if (hourOfWeek < WEEKEND_START) {
      cells[WEEKDAY_POOL + hour] = (cells[WEEKDAY_POOL + hour] as number) + delta;
      this.weekdayTotal += delta;
    } else {
      cells[WEEKEND_POOL + hour] = (cells[WEEKEND_POOL + hour] as number) + delta;
      this.weekendTotal += delta;
    }
  }

  /** Sets the weekday and weekend pools and their totals from the hour-of-week weights. */
  private sumPools(): void {
    const cells = this.cells;
    cells.fill(0, HOURS_PER_WEEK);
    for (let hourOfWeek = 0; hourOfWeek < HOURS_PER_WEEK; hourOfWeek += 1) {
      const pool = hourOfWeek < WEEKEND_START ? WEEKDAY_POOL : WEEKEND_POOL;
      cells[pool + (hourOfWeek % 24)] = (cells[pool + (hourOfWeek % 24)] as number) + (cells[hourOfWeek] as number);
    }
    this.weekdayTotal = 0;
    this.weekendTotal = 0;
    for (let hour = 0; hour < 24; hour += 1) {
      this.weekdayTotal += cells[WEEKDAY_POOL + hour] as number;
      this.weekendTotal += cells[WEEKEND_POOL + hour] as number;
    }
  }

  /** Scaled weight of one event at `ms`. */
  private scaleAt(ms: number): number {
    return Math.pow(2, (ms - this.scaleBaseMs) / this.halfLifeMs);
  }

  /** Factor from scaled weights to weights decayed to referenceMs; 1 for an empty profile. */
  private decayedScale(): number {
    if (Number.isNaN(this.referenceMs)) return 1;
    return Math.pow(2, (this.scaleBaseMs - this.referenceMs) / this.halfLifeMs);
  }

  /** Moves the scale's base to `ms`, so scaled weights stay far from the largest double. */
  private rescale(ms: number): void {
    const factor = Math.pow(2, (this.scaleBaseMs - ms) / this.halfLifeMs);
    const cells = this.cells;
    for (let index = 0; index < CELLS; index += 1) cells[index] = (cells[index] as number) * factor;
    this.weekdayTotal *= factor;
    this.weekendTotal *= factor;
    this.scaleBaseMs = ms;
  }
}

/** Returns a new share, or `into` with its fields set when given. */
function writeShare(into: HourShare | undefined, share: number, seen: boolean, dayType: DayType): HourShare {
  if (into === undefined) return { share, seen, dayType };
  into.share = share;
  into.seen = seen;
  into.dayType = dayType;
  return into;
}

function nullable(value: number): number | null {
  return Number.isNaN(value) ? null : value;
}
