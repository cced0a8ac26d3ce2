import { ActiveDays } from './active-days.js';
import type { ActiveDaysSnapshot } from './active-days.js';
import { HOUR_MS, HOURS_PER_WEEK } from './local-time.js';
import type { LocalHour } from './local-time.js';

/**
 * Activity of one entity (a user or a peer group) by local hour of week, with exponential decay
 * in event time so that old behaviour fades.
 *
 * Size: 168 float64 weights (1,344 bytes), nine numbers and the active-day counts (about 300
 * bytes), about 1.8 KB per profile including object overhead. A profile that has been judged
 * also keeps its weekday and weekend pools (48 float64, about 0.5 KB). Both are estimates from
 * the field sizes, not heap measurements.
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

/** The events of one local hour, held back until a later hour begins. */
interface PendingHour {
  startMs: number;
  hourOfWeek: number;
  /** Local date; null for an hour restored from state saved before dates were kept. */
  day: number | null;
  lastMs: number;
  count: number;
}

export interface HourProfileSnapshot {
  weights: number[];
  referenceMs: number | null;
  firstMs: number | null;
  lastMs: number | null;
  events: number;
  pending: PendingHour | null;
  activeDays: ActiveDaysSnapshot;
}

export class HourProfile {
  private readonly halfLifeMs: number;
  private readonly weights = new Float64Array(HOURS_PER_WEEK);
  /** Event time to which all weights are decayed. */
  private referenceMs = Number.NaN;
  firstMs = Number.NaN;
  lastMs = Number.NaN;
  /** Events added so far (not decayed). */
  events = 0;
  /** Peer group of the latest event, for describe; not part of the snapshot. */
  peer: string | undefined;
  private pending: PendingHour | null = null;
  private activeDays: ActiveDays;
  /** Pools for shareOf, made on first use. */
  private pooled: PooledDays | null = null;

  constructor(halfLifeMs: number) {
    this.halfLifeMs = halfLifeMs;
    this.activeDays = new ActiveDays(halfLifeMs);
  }

  /** Days between the first and the last event added. */
  historyDays(): number {
    return Number.isNaN(this.firstMs) ? 0 : (this.lastMs - this.firstMs) / 86_400_000;
  }

  isLearned(minDays: number, minEvents: number): boolean {
    return this.events >= minEvents && this.events > 0 && this.historyDays() >= minDays;
  }

  /**
   * Adds the held-back hour when `hour` starts later, and counts the active dates before the date
   * of `hour`, so that judging `hour` uses every earlier hour and every earlier date.
   */
  settleBefore(hour: LocalHour): void {
    if (this.pending !== null && this.pending.startMs < hour.startMs) this.addPending();
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
    let total = 0;
    for (const weight of this.weights) total += weight;
    return Array.from(this.weights, (weight) => (total > 0 ? weight / total : 0));
  }

  /**
   * Takes back `count` events of the local hour `hour` from what was learned, whether they are
   * still held back or already added. Used when those events raised a detection.
   */
  discount(hour: LocalHour, count: number): void {
    if (count <= 0) return;
    const pending = this.pending;
    if (pending !== null && pending.startMs === hour.startMs) {
      pending.count = Math.max(0, pending.count - count);
      return;
    }
    if (Number.isNaN(this.referenceMs)) return;
    const ageMs = Math.max(0, this.referenceMs - (hour.startMs + HOUR_MS - 1));
    const weight = count * Math.pow(2, -ageMs / this.halfLifeMs);
    this.weights[hour.hourOfWeek] = Math.max(0, (this.weights[hour.hourOfWeek] as number) - weight);
    if (this.pooled !== null) this.pooled.stale = true;
  }

  /** Records one event. Call after judging it. */
  observe(ms: number, hour: LocalHour): void {
    const pending = this.pending;
    if (pending !== null && pending.startMs === hour.startMs) {
      pending.count += 1;
      pending.lastMs = Math.max(pending.lastMs, ms);
      return;
    }
    if (pending !== null && hour.startMs < pending.startMs) {
      // An out-of-order event from an earlier hour: that hour is over, so add it at once.
      this.add(ms, hour.hourOfWeek, hour.day, 1);
      return;
    }
    if (pending !== null) this.addPending();
    this.pending = { startMs: hour.startMs, hourOfWeek: hour.hourOfWeek, day: hour.day, lastMs: ms, count: 1 };
  }

  /**
   * Returns the share of activity in the local hour, smoothed with its neighbours: each
   * neighbouring hour's share counts `smoothing` times as much as the hour itself. Returns
   * undefined when the profile is empty.
   */
  shareOf(hour: LocalHour, smoothing: number): HourShare | undefined {
    const pooled = this.pooledDays();
    const { weekdays, weekends, weekdayTotal, weekendTotal } = pooled;
    const total = weekdayTotal + weekendTotal;
    if (total < EMPTY_WEIGHT) return undefined;

    const before = (hour.hour + 23) % 24;
    const after = (hour.hour + 25) % 24;
    let dayTotal = hour.weekend ? weekendTotal : weekdayTotal;
    let dayType: DayType = hour.weekend ? 'weekends' : 'weekdays';
    let weightBefore: number;
    let weightAt: number;
    let weightAfter: number;
    if (dayTotal < MIN_DAY_TYPE_FRACTION * total) {
      weightBefore = (weekdays[before] as number) + (weekends[before] as number);
      weightAt = (weekdays[hour.hour] as number) + (weekends[hour.hour] as number);
      weightAfter = (weekdays[after] as number) + (weekends[after] as number);
      dayTotal = total;
      dayType = 'all days';
    } else {
      const day = hour.weekend ? weekends : weekdays;
      weightBefore = day[before] as number;
      weightAt = day[hour.hour] as number;
      weightAfter = day[after] as number;
    }

    const at = weightAt / dayTotal;
    const share = (smoothing * (weightBefore / dayTotal) + at + smoothing * (weightAfter / dayTotal)) / (1 + 2 * smoothing);
    return { share, seen: at * dayTotal > EMPTY_WEIGHT, dayType };
  }

  /**
   * Returns the share of the week's activity in this hour of the week, smoothed with the hours
   * before and after it (across midnight too), for `time_of_week`. Returns undefined when the
   * profile is empty.
   */
  weekShareOf(hour: LocalHour, smoothing: number): HourShare | undefined {
    const total = sum(this.weights);
    if (total < EMPTY_WEIGHT) return undefined;
    const at = (this.weights[hour.hourOfWeek] as number) / total;
    const before = (this.weights[(hour.hourOfWeek + HOURS_PER_WEEK - 1) % HOURS_PER_WEEK] as number) / total;
    const after = (this.weights[(hour.hourOfWeek + 1) % HOURS_PER_WEEK] as number) / total;
    const share = (smoothing * before + at + smoothing * after) / (1 + 2 * smoothing);
    return { share, seen: at * total > EMPTY_WEIGHT, dayType: WEEKDAY_NAMES[Math.floor(hour.hourOfWeek / 24)] as DayType };
  }

  snapshot(): HourProfileSnapshot {
    return {
      weights: Array.from(this.weights),
      referenceMs: nullable(this.referenceMs),
      firstMs: nullable(this.firstMs),
      lastMs: nullable(this.lastMs),
      events: this.events,
      pending: this.pending === null ? null : { ...this.pending },
      activeDays: this.activeDays.snapshot(),
    };
  }

  static restore(snapshot: HourProfileSnapshot, halfLifeMs: number): HourProfile {
    const profile = new HourProfile(halfLifeMs);
    profile.weights.set(snapshot.weights.slice(0, HOURS_PER_WEEK));
    profile.referenceMs = snapshot.referenceMs ?? Number.NaN;
    profile.firstMs = snapshot.firstMs ?? Number.NaN;
    profile.lastMs = snapshot.lastMs ?? Number.NaN;
    profile.events = snapshot.events;
    profile.pending = snapshot.pending === null ? null : { ...snapshot.pending };
    profile.activeDays = ActiveDays.restore(snapshot.activeDays, halfLifeMs);
    return profile;
  }

  private addPending(): void {
    const pending = this.pending;
    if (pending === null) return;
    this.pending = null;
    this.add(pending.lastMs, pending.hourOfWeek, pending.day, pending.count);
  }

  private add(ms: number, hourOfWeek: number, day: number | null, count: number): void {
    if (day !== null) this.activeDays.mark(ms, day, hourOfWeek % 24);

    if (Number.isNaN(this.referenceMs)) this.referenceMs = ms;
    if (ms > this.referenceMs) {
      const factor = Math.pow(2, -(ms - this.referenceMs) / this.halfLifeMs);
      for (let index = 0; index < HOURS_PER_WEEK; index += 1) this.weights[index] = (this.weights[index] as number) * factor;
      this.referenceMs = ms;
    }
    const weight = count * Math.pow(2, -(this.referenceMs - ms) / this.halfLifeMs);
    this.weights[hourOfWeek] = (this.weights[hourOfWeek] as number) + weight;
    if (this.pooled !== null) this.pooled.stale = true;

    this.events += count;
    this.firstMs = Number.isNaN(this.firstMs) ? ms : Math.min(this.firstMs, ms);
    this.lastMs = Number.isNaN(this.lastMs) ? ms : Math.max(this.lastMs, ms);
  }

  /**
   * Returns the weights pooled into weekdays and weekends, summed again only after `add` changed
   * the weights: a user's many events within one hour are judged against the same pools.
   */
  private pooledDays(): PooledDays {
    let pooled = this.pooled;
    if (pooled === null) {
      pooled = { weekdays: new Float64Array(24), weekends: new Float64Array(24), weekdayTotal: 0, weekendTotal: 0, stale: true };
      this.pooled = pooled;
    }
    if (!pooled.stale) return pooled;

    poolDays(this.weights, 0, 5, pooled.weekdays);
    poolDays(this.weights, 5, 7, pooled.weekends);
    pooled.weekdayTotal = sum(pooled.weekdays);
    pooled.weekendTotal = sum(pooled.weekends);
    pooled.stale = false;
    return pooled;
  }
}

/** Weights of a profile summed over weekdays and over weekend days, hour by hour. */
interface PooledDays {
  weekdays: Float64Array;
  weekends: Float64Array;
  weekdayTotal: number;
  weekendTotal: number;
  /** True when the weights changed after the pools were summed. */
  stale: boolean;
}

/** Sums days [fromDay, toDay) of hour-of-week weights into one 24-hour profile. */
function poolDays(weights: Float64Array, fromDay: number, toDay: number, pooled: Float64Array): void {
  pooled.fill(0);
  for (let day = fromDay; day < toDay; day += 1) {
    for (let hour = 0; hour < 24; hour += 1) {
      pooled[hour] = (pooled[hour] as number) + (weights[day * 24 + hour] as number);
    }
  }
}

function sum(values: Float64Array): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

function nullable(value: number): number | null {
  return Number.isNaN(value) ? null : value;
}
