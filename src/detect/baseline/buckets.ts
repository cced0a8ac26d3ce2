import type { HolterEvent } from '../../event.js';
import { Evidence } from './evidence.js';
import { DecayedStats } from './stats.js';
import type { DecayedStatsSnapshot } from './stats.js';
import { SeasonalProfile } from './seasonal.js';
import type { SeasonalProfileSnapshot, SeasonalSlots } from './seasonal.js';
import { TriggerFacts } from './trigger.js';

/**
 * State of the bucket functions (count, distinct_count, sum and their high_ and low_ forms): the
 * open buckets of one series (an entity, or an entity and a partition value) and the decayed
 * statistics of its closed buckets.
 */

/** Distinct values counted per bucket; more are not counted, so the actual can be capped here. */
export const MAX_DISTINCT_PER_BUCKET = 10_000;
/** Values counted per influencer field and bucket; the rest are not counted. */
const MAX_INFLUENCER_VALUES = 100;

/** Distinct values kept in a list before a Set takes over. */
const DISTINCT_LIST_MAX = 16;

/**
 * Distinct values of one bucket, at most MAX_DISTINCT_PER_BUCKET, in order of their first event.
 * The first DISTINCT_LIST_MAX values are kept in a list, and a Set is made only beyond them,
 * because most buckets see a few values and a Set per bucket is several objects more to allocate.
 */
export class DistinctValues {
  /** The first `count` entries are the values; later slots are left over from a cleared bucket. */
  private readonly list: string[] = [];
  private count = 0;
  private set: Set<string> | null = null;

  get size(): number {
    return this.set === null ? this.count : this.set.size;
  }

  /** Adds a value. A new value past the cap is not counted. */
  add(value: string): void {
    const set = this.set;
    if (set !== null) {
      if (set.size < MAX_DISTINCT_PER_BUCKET) set.add(value);
      return;
    }
    const list = this.list;
    const count = this.count;
    for (let index = 0; index < count; index += 1) {
      if (list[index] === value) return;
    }
    if (count < DISTINCT_LIST_MAX) {
      // Slots of a cleared bucket are overwritten, so refilling allocates no new backing store.
      if (count < list.length) list[count] = value;
      else list.push(value);
      this.count = count + 1;
      return;
    }
    this.set = new Set(list);
    this.set.add(value);
    this.clearList();
  }

  /** Returns the values in order of their first event. */
  values(): string[] {
    return this.set === null ? this.list.slice(0, this.count) : [...this.set];
  }

  /** Removes every value, keeping the list's storage for the next bucket. */
  clear(): void {
    this.clearList();
    this.set = null;
  }

  private clearList(): void {
    // Empty strings in place of the values, so a cleared list does not keep them alive.
    for (let index = 0; index < this.count; index += 1) this.list[index] = '';
    this.count = 0;
  }

  static from(values: readonly string[]): DistinctValues {
    const distinct = new DistinctValues();
    if (values.length > DISTINCT_LIST_MAX) distinct.set = new Set(values);
    else for (const value of values) distinct.add(value);
    return distinct;
  }
}

/** Settings of a detector's buckets: distinct values or not, the evidence cap, and whether the trigger keeps patient facts. */
export interface BucketOptions {
  distinct: boolean;
  evidenceLimit: number;
  patientFacts: boolean;
}

/** One bucket that the watermark has not passed yet, other than a series' oldest (see Series). */
export interface OpenBucket {
  startMs: number;
  /** Events for the count functions, the sum for the sum functions. */
  value: number;
  /** Distinct values of `field` for the distinct functions; null for the others. */
  distinct: DistinctValues | null;
  events: number;
  evidence: Evidence;
  /** Facts of the bucket's latest event in event time that its detection reads, with that event's time and id. */
  trigger: TriggerFacts;
  triggerMs: number;
  triggerId: string;
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

/**
 * The learned history and open buckets of one series. Nearly every series has at most one open
 * bucket, so the oldest open bucket is kept in the series' own `bucket` fields rather than in an
 * object of its own. Its distinct values, evidence and influencer counts are cleared and reused
 * for the next bucket. With a new bucket object, Set, Evidence and influencer counts per user and
 * day, `daily-record-volume` took about 7.5 µs of CPU per event on the events of
 * bench/detectors.ts at 100,000 users, and about 4 µs with this layout. Further open buckets,
 * after out-of-order events, are OpenBucket objects in `laterBuckets`.
 */
export interface Series extends History {
  entity: string;
  partition: string | undefined;
  /** Peer group of the series' latest event. */
  peer: string | undefined;
  /** Start of the oldest open bucket; NaN when no bucket is open. */
  bucketStartMs: number;
  bucketValue: number;
  bucketEvents: number;
  /** Trigger facts of the oldest open bucket's latest event; null when no bucket is open. */
  bucketTrigger: TriggerFacts | null;
  bucketTriggerMs: number;
  bucketTriggerId: string;
  /** Distinct values of the oldest open bucket; null for the other functions and before the first bucket. */
  bucketDistinct: DistinctValues | null;
  /** Evidence of the oldest open bucket; null before the first bucket. */
  bucketEvidence: Evidence | null;
  /** Influencer counts of the oldest open bucket, reused; they count only while bucketHasInfluencers. */
  bucketInfluencers: ValueCounts[] | null;
  /** True once an event of the oldest open bucket had an influencer value. */
  bucketHasInfluencers: boolean;
  /** Open buckets after the oldest one, oldest first; null or empty when there are none. */
  laterBuckets: OpenBucket[] | null;
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
  return {
    stats: new DecayedStats(),
    firstMs: Number.NaN,
    lastMs: Number.NaN,
    learnedEvents: 0,
    entity,
    partition,
    peer: undefined,
    bucketStartMs: Number.NaN,
    bucketValue: 0,
    bucketEvents: 0,
    bucketTrigger: null,
    bucketTriggerMs: 0,
    bucketTriggerId: '',
    bucketDistinct: null,
    bucketEvidence: null,
    bucketInfluencers: null,
    bucketHasInfluencers: false,
    laterBuckets: null,
    closedUntilMs: Number.NEGATIVE_INFINITY,
    lowRaised: false,
    zone: undefined,
    seasonal: undefined,
  };
}

/** Number of open buckets of the series. */
export function openBucketCount(series: Series): number {
  if (Number.isNaN(series.bucketStartMs)) return 0;
  return 1 + (series.laterBuckets === null ? 0 : series.laterBuckets.length);
}

/** Returns the oldest open bucket as an OpenBucket object that shares the series' structures, for a detection or a snapshot. */
export function firstOpenBucket(series: Series): OpenBucket {
  return {
    startMs: series.bucketStartMs,
    value: series.bucketValue,
    distinct: series.bucketDistinct,
    events: series.bucketEvents,
    evidence: series.bucketEvidence as Evidence,
    trigger: series.bucketTrigger as TriggerFacts,
    triggerMs: series.bucketTriggerMs,
    triggerId: series.bucketTriggerId,
    influencers: series.bucketHasInfluencers ? series.bucketInfluencers : null,
  };
}

/** Makes `bucket` the series' oldest open bucket, taking over its structures. */
function setFirstBucket(series: Series, bucket: OpenBucket): void {
  series.bucketStartMs = bucket.startMs;
  series.bucketValue = bucket.value;
  series.bucketEvents = bucket.events;
  series.bucketTrigger = bucket.trigger;
  series.bucketTriggerMs = bucket.triggerMs;
  series.bucketTriggerId = bucket.triggerId;
  series.bucketDistinct = bucket.distinct;
  series.bucketEvidence = bucket.evidence;
  if (bucket.influencers !== null) {
    series.bucketInfluencers = bucket.influencers;
    series.bucketHasInfluencers = true;
  } else {
    clearInfluencers(series);
  }
}

function clearInfluencers(series: Series): void {
  if (series.bucketHasInfluencers && series.bucketInfluencers !== null) {
    for (const counts of series.bucketInfluencers) counts.clear();
  }
  series.bucketHasInfluencers = false;
}

/**
 * Removes the oldest open bucket once it is closed. Its structures are cleared for the next
 * bucket, and the next open bucket, if any, takes its place.
 */
export function shiftFirstBucket(series: Series): void {
  const next = series.laterBuckets === null ? undefined : series.laterBuckets.shift();
  if (next !== undefined) {
    setFirstBucket(series, next);
    return;
  }
  series.bucketStartMs = Number.NaN;
  series.bucketValue = 0;
  series.bucketEvents = 0;
  series.bucketTrigger = null;
  series.bucketTriggerId = '';
  series.bucketDistinct?.clear();
  series.bucketEvidence?.clear();
  clearInfluencers(series);
}

/**
 * Returns the open bucket starting at `startMs`, creating it in start order: undefined when it is
 * the series' oldest open bucket, kept in the series' own fields, else its OpenBucket object.
 */
export function openBucket(series: Series, startMs: number, event: HolterEvent, ms: number, options: BucketOptions): OpenBucket | undefined {
  const firstMs = series.bucketStartMs;
  if (firstMs === startMs) return undefined;
  if (Number.isNaN(firstMs)) {
    startFirstBucket(series, startMs, event, ms, options);
    return undefined;
  }
  if (startMs < firstMs) {
    // An earlier bucket opens after a later one: the later one moves to an object of its own.
    const moved = firstOpenBucket(series);
    (series.laterBuckets ??= []).unshift(moved);
    series.bucketDistinct = null;
    series.bucketEvidence = null;
    series.bucketInfluencers = null;
    series.bucketHasInfluencers = false;
    startFirstBucket(series, startMs, event, ms, options);
    return undefined;
  }

  const later = (series.laterBuckets ??= []);
  let index = later.length;
  while (index > 0 && (later[index - 1] as OpenBucket).startMs > startMs) index -= 1;
  const existing = later[index - 1];
  if (existing !== undefined && existing.startMs === startMs) return existing;

  const bucket: OpenBucket = {
    startMs,
    value: 0,
    distinct: options.distinct ? new DistinctValues() : null,
    events: 0,
    evidence: new Evidence(options.evidenceLimit),
    trigger: TriggerFacts.of(event, options.patientFacts),
    triggerMs: ms,
    triggerId: event.event.id,
    influencers: null,
  };
  if (index === later.length) later.push(bucket);
  else later.splice(index, 0, bucket);
  return bucket;
}

/** Opens an empty oldest bucket in the series' fields, reusing its cleared structures. */
function startFirstBucket(series: Series, startMs: number, event: HolterEvent, ms: number, options: BucketOptions): void {
  series.bucketStartMs = startMs;
  series.bucketValue = 0;
  series.bucketEvents = 0;
  series.bucketTrigger = TriggerFacts.of(event, options.patientFacts);
  series.bucketTriggerMs = ms;
  series.bucketTriggerId = event.event.id;
  if (options.distinct) series.bucketDistinct ??= new DistinctValues();
  series.bucketEvidence ??= new Evidence(options.evidenceLimit);
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
    // The first value's string is kept, not each equal one: an event's own string would live on.
    if (this.firstValue === undefined) this.firstValue = value;
    if (value === this.firstValue) {
      this.firstCount += 1;
      return;
    }
    const others = (this.others ??= new Map());
    const known = others.get(value);
    if (known !== undefined) others.set(value, known + 1);
    else if (others.size + 1 < MAX_INFLUENCER_VALUES) others.set(value, 1);
  }

  /** Removes every value, for the series' next bucket. */
  clear(): void {
    this.firstValue = undefined;
    this.firstCount = 0;
    this.others = null;
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
  /** The trigger facts as an event with the latest event's id; snapshots before TriggerFacts hold the whole event. */
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
    open: openBuckets(series).map((bucket) => ({
      startMs: bucket.startMs,
      value: bucket.value,
      distinct: bucket.distinct === null ? null : bucket.distinct.values(),
      events: bucket.events,
      evidence: bucket.evidence.toJSON(),
      trigger: bucket.trigger.toEvent(bucket.triggerMs, bucket.triggerId, {}),
      triggerMs: bucket.triggerMs,
      influencers: bucket.influencers === null ? null : bucket.influencers.map((counts) => counts.entries()),
    })),
  };
}

/** Returns every open bucket of the series, oldest first. */
function openBuckets(series: Series): OpenBucket[] {
  if (Number.isNaN(series.bucketStartMs)) return [];
  return [firstOpenBucket(series), ...(series.laterBuckets ?? [])];
}

/**
 * Restores a series. Its slots start empty when the snapshot has none (taken before seasonality,
 * or with another seasonality), so it is judged on its flat mean until the slots have learned.
 */
export function restoreSeries(snapshot: SeriesSnapshot, options: BucketOptions, slots: SeasonalSlots | undefined): Series {
  const history = restoreHistory(snapshot);
  const series = newSeries(snapshot.entity, snapshot.partition ?? undefined);
  series.stats = history.stats;
  series.firstMs = history.firstMs;
  series.lastMs = history.lastMs;
  series.learnedEvents = history.learnedEvents;
  series.peer = snapshot.peer ?? undefined;
  series.closedUntilMs = snapshot.closedUntilMs ?? Number.NEGATIVE_INFINITY;
  series.lowRaised = snapshot.lowRaised;
  series.zone = snapshot.zone ?? undefined;
  series.seasonal = slots === undefined ? undefined : SeasonalProfile.restore(snapshot.seasonal, slots);

  const open = snapshot.open.map((bucket): OpenBucket => ({
    ...bucket,
    distinct: bucket.distinct === null ? null : DistinctValues.from(bucket.distinct),
    evidence: new Evidence(options.evidenceLimit, bucket.evidence),
    trigger: TriggerFacts.of(bucket.trigger, options.patientFacts),
    triggerId: bucket.trigger.event.id,
    influencers: bucket.influencers === null ? null : bucket.influencers.map((entries) => ValueCounts.fromEntries(entries)),
  }));
  const first = open.shift();
  if (first !== undefined) setFirstBucket(series, first);
  if (open.length > 0) series.laterBuckets = open;
  return series;
}
