import type { HolterEvent } from '../../event.js';
import { Evidence } from './evidence.js';
import { DecayedStats } from './stats.js';
import type { DecayedStatsSnapshot } from './stats.js';
import { SeasonalProfile } from './seasonal.js';
import type { SeasonalProfileSnapshot, SeasonalSlots } from './seasonal.js';

/**
 * State of the bucket functions (count, distinct_count, sum and their high_ and low_ forms): the
 * open buckets of one series (an entity, or an entity and a partition value) and the decayed
 * statistics of its closed buckets.
 */

/** Distinct values counted per bucket; more are not counted, so the actual can be capped here. */
export const MAX_DISTINCT_PER_BUCKET = 10_000;
/** Values counted per influencer field and bucket; the rest are not counted. */
const MAX_INFLUENCER_VALUES = 100;

/** One bucket that the watermark has not passed yet. */
export interface OpenBucket {
  startMs: number;
  /** Events for the count functions, the sum for the sum functions. */
  value: number;
  /** Distinct values of `field` for the distinct functions; null for the others. */
  distinct: Set<string> | null;
  events: number;
  evidence: Evidence;
  /** The latest event of the bucket in event time. */
  trigger: HolterEvent;
  triggerMs: number;
  /** Events per value of each influencer field, or null until an event has an influencer value. */
  influencers: ValueCounts[] | null;
}

/** Learned history of a series or a peer group. */
export interface History {
  stats: DecayedStats;
  /** Start of the first and the last learned bucket with events. */
  firstMs: number;
  lastMs: number;
  /** Events in the learned buckets (not decayed). */
  learnedEvents: number;
}

export interface Series extends History {
  entity: string;
  partition: string | undefined;
  /** Peer group of the series' latest event. */
  peer: string | undefined;
  /** Open buckets, oldest first; usually none or one. */
  open: OpenBucket[];
  /** End of the latest closed bucket; events before it are late. -Infinity before the first. */
  closedUntilMs: number;
  /** True after a low detection, until a bucket of the series is judged usual again. */
  lowRaised: boolean;
  /** IANA time zone of the series' latest event, for its local slots; undefined before the first. */
  zone: string | undefined;
  /** Learned slots; undefined without seasonality or before the first learned bucket. */
  seasonal: SeasonalProfile | undefined;
}

export function newHistory(): History {
  return { stats: new DecayedStats(), firstMs: Number.NaN, lastMs: Number.NaN, learnedEvents: 0 };
}

export function newSeries(entity: string, partition: string | undefined): Series {
  return { ...newHistory(), entity, partition, peer: undefined, open: [], closedUntilMs: Number.NEGATIVE_INFINITY, lowRaised: false, zone: undefined, seasonal: undefined };
}

/** Days between the first and the last learned bucket with events. */
export function historyDays(history: History): number {
  return Number.isNaN(history.firstMs) ? 0 : (history.lastMs - history.firstMs) / 86_400_000;
}

export function isLearned(history: History, minDays: number, minEvents: number): boolean {
  return history.learnedEvents >= minEvents && history.learnedEvents > 0 && historyDays(history) >= minDays;
}

/** Learns one closed bucket with `events` events at weight `weight` (1 for a usual bucket). */
export function learnBucket(history: History, startMs: number, value: number, events: number, halfLifeMs: number, weight = 1): void {
  history.stats.add(startMs, value, halfLifeMs, weight);
  if (events === 0) return;
  history.learnedEvents += events;
  history.firstMs = Number.isNaN(history.firstMs) ? startMs : Math.min(history.firstMs, startMs);
  history.lastMs = Number.isNaN(history.lastMs) ? startMs : Math.max(history.lastMs, startMs);
}

/** Returns the open bucket starting at `startMs`, creating it in start order. */
export function openBucket(series: Series, startMs: number, event: HolterEvent, ms: number, options: { distinct: boolean; evidenceLimit: number }): OpenBucket {
  let index = series.open.length;
  while (index > 0 && (series.open[index - 1] as OpenBucket).startMs > startMs) index -= 1;
  const existing = series.open[index - 1];
  if (existing !== undefined && existing.startMs === startMs) return existing;

  const bucket: OpenBucket = {
    startMs,
    value: 0,
    distinct: options.distinct ? new Set() : null,
    events: 0,
    evidence: new Evidence(options.evidenceLimit),
    trigger: event,
    triggerMs: ms,
    influencers: null,
  };
  if (index === series.open.length) series.open.push(bucket);
  else series.open.splice(index, 0, bucket);
  return bucket;
}

/**
 * Events per value of one influencer field in one bucket, at most MAX_INFLUENCER_VALUES values.
 * The first value is kept in two fields, and a Map is made only for a second value. Most buckets
 * see one source address and one action, and a Map per field and bucket caused about 8% of the
 * young-generation collections of `daily-record-volume` in bench/detectors.ts.
 */
export class ValueCounts {
  private firstValue: string | undefined;
  private firstCount = 0;
  /** Values after the first, in order of their first event. */
  private others: Map<string, number> | null = null;

  /** Counts one event with `value`. A new value past the cap is not counted. */
  add(value: string): void {
    if (this.firstValue === undefined || value === this.firstValue) {
      this.firstValue = value;
      this.firstCount += 1;
      return;
    }
    const others = (this.others ??= new Map());
    const known = others.get(value);
    if (known !== undefined) others.set(value, known + 1);
    else if (others.size + 1 < MAX_INFLUENCER_VALUES) others.set(value, 1);
  }

  /** Values and their events, in order of each value's first event. */
  entries(): Array<[string, number]> {
    const entries: Array<[string, number]> = [];
    if (this.firstValue !== undefined) entries.push([this.firstValue, this.firstCount]);
    if (this.others !== null) entries.push(...this.others);
    return entries;
  }

  static fromEntries(entries: Array<[string, number]>): ValueCounts {
    const counts = new ValueCounts();
    for (const [value, events] of entries) {
      if (counts.firstValue === undefined) {
        counts.firstValue = value;
        counts.firstCount = events;
      } else {
        (counts.others ??= new Map()).set(value, events);
      }
    }
    return counts;
  }
}

export interface HistorySnapshot {
  stats: DecayedStatsSnapshot;
  firstMs: number | null;
  lastMs: number | null;
  learnedEvents: number;
}

export interface OpenBucketSnapshot {
  startMs: number;
  value: number;
  distinct: string[] | null;
  events: number;
  evidence: Array<[number, string]>;
  trigger: HolterEvent;
  triggerMs: number;
  influencers: Array<Array<[string, number]>> | null;
}

export interface SeriesSnapshot extends HistorySnapshot {
  entity: string;
  partition: string | null;
  peer: string | null;
  open: OpenBucketSnapshot[];
  closedUntilMs: number | null;
  lowRaised: boolean;
  /** Absent in snapshots taken before seasonality; such a series restores with empty slots. */
  zone?: string | null;
  seasonal?: SeasonalProfileSnapshot | null;
}

export function snapshotHistory(history: History): HistorySnapshot {
  return {
    stats: history.stats.snapshot(),
    firstMs: Number.isNaN(history.firstMs) ? null : history.firstMs,
    lastMs: Number.isNaN(history.lastMs) ? null : history.lastMs,
    learnedEvents: history.learnedEvents,
  };
}

export function restoreHistory(snapshot: HistorySnapshot): History {
  return {
    stats: DecayedStats.restore(snapshot.stats),
    firstMs: snapshot.firstMs ?? Number.NaN,
    lastMs: snapshot.lastMs ?? Number.NaN,
    learnedEvents: snapshot.learnedEvents,
  };
}

export function snapshotSeries(series: Series, slots: SeasonalSlots | undefined): SeriesSnapshot {
  return {
    ...snapshotHistory(series),
    entity: series.entity,
    partition: series.partition ?? null,
    peer: series.peer ?? null,
    // JSON writes -Infinity as null.
    closedUntilMs: Number.isFinite(series.closedUntilMs) ? series.closedUntilMs : null,
    lowRaised: series.lowRaised,
    zone: series.zone ?? null,
    seasonal: series.seasonal === undefined || slots === undefined ? null : series.seasonal.snapshot(slots),
    open: series.open.map((bucket) => ({
      startMs: bucket.startMs,
      value: bucket.value,
      distinct: bucket.distinct === null ? null : [...bucket.distinct],
      events: bucket.events,
      evidence: bucket.evidence.toJSON(),
      trigger: bucket.trigger,
      triggerMs: bucket.triggerMs,
      influencers: bucket.influencers === null ? null : bucket.influencers.map((counts) => counts.entries()),
    })),
  };
}

/**
 * Restores a series. Its slots start empty when the snapshot has none (taken before seasonality,
 * or with another seasonality), so it is judged on its flat mean until the slots have learned.
 */
export function restoreSeries(snapshot: SeriesSnapshot, evidenceLimit: number, slots: SeasonalSlots | undefined): Series {
  return {
    ...restoreHistory(snapshot),
    entity: snapshot.entity,
    partition: snapshot.partition ?? undefined,
    peer: snapshot.peer ?? undefined,
    closedUntilMs: snapshot.closedUntilMs ?? Number.NEGATIVE_INFINITY,
    lowRaised: snapshot.lowRaised,
    zone: snapshot.zone ?? undefined,
    seasonal: slots === undefined ? undefined : SeasonalProfile.restore(snapshot.seasonal, slots),
    open: snapshot.open.map((bucket) => ({
      ...bucket,
      distinct: bucket.distinct === null ? null : new Set(bucket.distinct),
      evidence: new Evidence(evidenceLimit, bucket.evidence),
      influencers: bucket.influencers === null ? null : bucket.influencers.map((entries) => ValueCounts.fromEntries(entries)),
    })),
  };
}
