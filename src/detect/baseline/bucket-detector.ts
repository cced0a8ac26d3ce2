import { HolterError } from '../../errors.js';
import { compileFieldPath } from '../../event.js';
import type { FieldReader, HolterEvent } from '../../event.js';
import type { Detection, RuleInfo } from '../types.js';
import { firstOpenBucket, historyDays, isLearned, learnBucket, newHistory, newSeries, openBucket, openBucketCount, restoreHistory, restoreSeries, shiftFirstBucket, snapshotHistory, snapshotSeries, ValueCounts } from './buckets.js';
import type { BucketOptions, History, HistorySnapshot, OpenBucket, Series, SeriesSnapshot } from './buckets.js';
import { bucketDetection } from './bucket-explain.js';
import type { Evidence } from './evidence.js';
import type { BucketJudgement } from './bucket-explain.js';
import { NO_DETECTIONS, compareCodeUnits, readEntityOrSkip, readTimeOrSkip, roundTo, scalarText } from './detector.js';
import type { BaselineDetector } from './detector.js';
import { EntityMap } from './entities.js';
import type { EntityKeys } from './entities.js';
import { Exclusions } from './exclusions.js';
import { LocalClock } from './local-time.js';
import { PeerGroupReader } from './peer-group.js';
import { SeasonalSlots, seasonalModeOf } from './seasonal.js';
import { PATIENT_TOKEN_FIELD, TriggerFacts } from './trigger.js';
import { DEFAULTS, durationMs, unitOf } from './schema.js';
import type { CountConfig, CountFunction } from './schema.js';
import { judgeValue } from './stats.js';
import type { Side } from './stats.js';
import { compileWhere } from './where.js';
import type { EventFilter } from './where.js';

/**
 * The bucket functions in one engine: `count`, `high_count` and `low_count` count events,
 * `distinct_count` and `high_distinct_count` count distinct values of `field`, `sum` and `low_sum`
 * sum it. Each bucket of `bucket_span` (aligned to the epoch, in event time) per series (the `by`
 * entity, and the `partition_field` value when set) gets one value. When the watermark passes the
 * bucket's end, the value is judged against the series' typical value, then learned. With
 * `seasonality` the typical value is that of the bucket's local hour or weekday (seasonal.ts),
 * else the decayed mean and variance of all earlier buckets. While the series is still learning,
 * its peer group's decayed mean and variance are the basis.
 *
 * Empty buckets are values of 0 and are learned too, in one step per gap. A function that judges
 * the low side also judges the first empty bucket after activity, because silence is what it
 * looks for. Every series is then visited at each bucket boundary the watermark passes. After a
 * low detection, further low buckets of the series raise nothing until a bucket is usual again.
 *
 * A bucket that raised a detection is learned at a quarter of the weight, so a lasting change of
 * behaviour is learned in a few buckets while one burst barely moves the typical value.
 */

const DAY_MS = 86_400_000;
const ANOMALY_WEIGHT = 0.25;

const SIDES: Record<CountFunction, readonly Side[]> = {
  count: ['high', 'low'],
  high_count: ['high'],
  low_count: ['low'],
  distinct_count: ['high', 'low'],
  high_distinct_count: ['high'],
  sum: ['high', 'low'],
  low_sum: ['low'],
};

type Aggregate = 'count' | 'distinct' | 'sum';

function aggregateOf(fn: CountFunction): Aggregate {
  if (fn === 'distinct_count' || fn === 'high_distinct_count') return 'distinct';
  if (fn === 'sum' || fn === 'low_sum') return 'sum';
  return 'count';
}

interface BucketSnapshot {
  series: Array<[string, SeriesSnapshot]>;
  peers: Array<[string, HistorySnapshot]>;
  scannedUntilMs: number | null;
  counters: Record<string, number>;
}

export class BucketDetector implements BaselineDetector {
  readonly rule: RuleInfo;
  readonly config: CountConfig;
  private readonly filter: EventFilter;
  private readonly spanMs: number;
  private readonly halfLifeMs: number;
  private readonly evidenceLimit: number;
  private readonly sides: readonly Side[];
  private readonly judgesLow: boolean;
  private readonly aggregate: Aggregate;
  private readonly exclusions: Exclusions;
  private readonly readEntity: FieldReader;
  private readonly readValue: FieldReader | undefined;
  private readonly readPartition: FieldReader | undefined;
  private readonly readInfluencers: FieldReader[];
  private readonly peerGroup: PeerGroupReader | undefined;
  /** Local slots of the typical values; undefined when `seasonality` resolves to none. */
  private readonly slots: SeasonalSlots | undefined;
  private readonly clock: LocalClock;
  private readonly defaultTimeZone: string;
  /** Reader of the entity's time zone; undefined when every series uses the facility's zone. */
  private readonly readTimeZone: FieldReader | undefined;
  private readonly bucketOptions: BucketOptions;
  private readonly series: EntityMap<Series>;
  private readonly peers: EntityMap<History>;
  /** Series with open buckets, in the order their first bucket opened. */
  private readonly pending = new Set<Series>();
  /** No open bucket of a pending series ends before this. */
  private nextDueMs = Number.POSITIVE_INFINITY;
  /** Bucket boundary up to which every series was visited for empty buckets (low side only). */
  private scannedUntilMs = Number.NEGATIVE_INFINITY;
  private readonly counters = {
    events_matched: 0,
    events_late: 0,
    events_missing_entity: 0,
    events_missing_partition: 0,
    events_invalid_timestamp: 0,
    events_invalid_value: 0,
    events_invalid_time_zone: 0,
    buckets_judged: 0,
    buckets_learning: 0,
    buckets_excluded: 0,
    buckets_low_suppressed: 0,
    detections: 0,
  };

  constructor(config: CountConfig, rule: RuleInfo, options: { exclusions?: Exclusions; defaultTimeZone?: string; clock?: LocalClock; entityKeys?: EntityKeys } = {}) {
    this.config = config;
    this.rule = rule;
    this.filter = compileWhere(config.where);
    this.spanMs = durationMs(config.bucket_span ?? DEFAULTS.bucket_span);
    this.halfLifeMs = config.learning.half_life_days * DAY_MS;
    this.evidenceLimit = config.evidence_limit ?? DEFAULTS.evidence_limit;
    this.sides = SIDES[config.function];
    this.judgesLow = this.sides.includes('low');
    this.aggregate = aggregateOf(config.function);
    this.exclusions = options.exclusions ?? new Exclusions([]);
    this.readEntity = compileFieldPath(config.by);
    this.readValue = config.field === undefined ? undefined : compileFieldPath(config.field);
    this.readPartition = config.partition_field === undefined ? undefined : compileFieldPath(config.partition_field);
    this.readInfluencers = (config.influencers ?? []).map((field) => compileFieldPath(field));
    this.peerGroup = config.over === undefined ? undefined : new PeerGroupReader(config.over);
    this.clock = options.clock ?? new LocalClock();
    this.defaultTimeZone = options.defaultTimeZone ?? 'UTC';
    this.readTimeZone = zoneFieldOf(config) === undefined ? undefined : compileFieldPath(zoneFieldOf(config) as string);
    const resolved = seasonalModeOf(config.seasonality ?? DEFAULTS.seasonality, this.spanMs, config.bucket_span ?? DEFAULTS.bucket_span);
    if ('error' in resolved) throw new HolterError('HOLTER_RULE_INVALID', `detector ${config.id}: ${resolved.error}`);
    this.slots = resolved.mode === undefined ? undefined : new SeasonalSlots(resolved.mode, this.spanMs, this.halfLifeMs, this.clock);
    // Only a group keyed by the patient token copies patient facts into its alert (see buildAlert).
    const patientFacts = config.by === PATIENT_TOKEN_FIELD || config.partition_field === PATIENT_TOKEN_FIELD;
    this.bucketOptions = { distinct: this.aggregate === 'distinct', evidenceLimit: this.evidenceLimit, patientFacts };
    const maxEntities = config.max_entities ?? DEFAULTS.max_entities;
    this.series = new EntityMap(maxEntities, (_key, series) => {
      this.pending.delete(series);
      if (series.seasonal !== undefined) this.slots?.release(series.seasonal);
    }, options.entityKeys);
    this.peers = new EntityMap(maxEntities);
  }

  process(event: HolterEvent, watermarkMs: number): Detection[] {
    if (this.filter(event)) this.add(event);
    return this.advance(watermarkMs);
  }

  advance(watermarkMs: number): Detection[] {
    const boundaryMs = Math.floor(watermarkMs / this.spanMs) * this.spanMs;
    if (this.judgesLow && boundaryMs > this.scannedUntilMs) {
      this.scannedUntilMs = boundaryMs;
      return this.close([...this.series].map(([, series]) => series), watermarkMs, true);
    }
    if (this.pending.size === 0 || watermarkMs < this.nextDueMs) return NO_DETECTIONS;
    return this.close(this.pending, watermarkMs, false);
  }

  flush(_watermarkMs: number): Detection[] {
    return this.close(this.pending, Number.POSITIVE_INFINITY, false);
  }

  stats(): Record<string, number> {
    return { ...this.counters, entities: this.series.size, entities_evicted: this.series.evicted, peer_groups: this.peers.size };
  }

  private add(event: HolterEvent): void {
    const entity = readEntityOrSkip(event, this.readEntity, this.counters);
    if (entity === undefined) return;
    const ms = readTimeOrSkip(event, this.counters);
    if (Number.isNaN(ms)) return;

    let partition: string | undefined;
    if (this.readPartition !== undefined) {
      partition = scalarText(this.readPartition(event));
      if (partition === undefined) {
        this.counters.events_missing_partition += 1;
        return;
      }
    }
    const value = this.valueOf(event);
    if (value === undefined) {
      this.counters.events_invalid_value += 1;
      return;
    }
    this.counters.events_matched += 1;

    const key = partition === undefined ? entity : `${entity}\u0000${partition}`;
    const series = this.series.touchKnown(key) ?? this.series.add(key, newSeries(entity, partition));
    // Equal texts are not stored again, so the series does not keep each event's own string.
    const peer = this.peerGroup?.labelOf(event);
    if (peer !== undefined && peer !== series.peer) series.peer = peer;
    if (this.slots !== undefined) {
      const zone = this.zoneOf(event);
      if (zone !== series.zone) series.zone = zone;
    }

    const startMs = Math.floor(ms / this.spanMs) * this.spanMs;
    if (startMs < series.closedUntilMs) {
      this.counters.events_late += 1;
      return;
    }
    const openBefore = openBucketCount(series);
    const bucket = openBucket(series, startMs, event, ms, this.bucketOptions);
    if (bucket === undefined) this.addToFirstBucket(series, event, ms, value);
    else this.addToBucket(bucket, event, ms, value);
    // A series with an open bucket is pending already, so only a new bucket needs the set.
    if (openBefore === 0) this.pending.add(series);
    if (openBucketCount(series) > openBefore) this.nextDueMs = Math.min(this.nextDueMs, startMs + this.spanMs);
  }

  /** Returns the entity's time zone when it is a valid IANA name, else the facility's, as time_of_day does. */
  private zoneOf(event: HolterEvent): string {
    if (this.readTimeZone === undefined) return this.defaultTimeZone;
    const zone = this.readTimeZone(event);
    if (typeof zone !== 'string' || zone === '') return this.defaultTimeZone;
    if (this.clock.isValidZone(zone)) return zone;
    this.counters.events_invalid_time_zone += 1;
    return this.defaultTimeZone;
  }

  /** Returns what the event adds to its bucket: 1, the summed number, or the distinct value as text. */
  private valueOf(event: HolterEvent): number | string | undefined {
    if (this.aggregate === 'count') return 1;
    const raw = (this.readValue as FieldReader)(event);
    if (this.aggregate === 'distinct') return scalarText(raw);
    return typeof raw === 'number' && Number.isFinite(raw) && raw >= 0 ? raw : undefined;
  }

  /** Adds an event to the series' oldest open bucket, kept in the series' own fields. */
  private addToFirstBucket(series: Series, event: HolterEvent, ms: number, value: number | string): void {
    series.bucketEvents += 1;
    if (typeof value === 'number') series.bucketValue += value;
    else series.bucketDistinct?.add(value);
    (series.bucketEvidence as Evidence).add(ms, event.event.id);
    if (ms >= series.bucketTriggerMs) {
      series.bucketTrigger = TriggerFacts.next(series.bucketTrigger, event, this.bucketOptions.patientFacts);
      series.bucketTriggerMs = ms;
      series.bucketTriggerId = event.event.id;
    }
    const readInfluencers = this.readInfluencers;
    for (let index = 0; index < readInfluencers.length; index += 1) {
      const influencer = scalarText((readInfluencers[index] as FieldReader)(event));
      if (influencer === undefined) continue;
      if (!series.bucketHasInfluencers) {
        series.bucketInfluencers ??= readInfluencers.map(() => new ValueCounts());
        series.bucketHasInfluencers = true;
      }
      ((series.bucketInfluencers as ValueCounts[])[index] as ValueCounts).add(influencer);
    }
  }

  private addToBucket(bucket: OpenBucket, event: HolterEvent, ms: number, value: number | string): void {
    bucket.events += 1;
    if (typeof value === 'number') bucket.value += value;
    else bucket.distinct?.add(value);
    bucket.evidence.add(ms, event.event.id);
    if (ms >= bucket.triggerMs) {
      bucket.trigger = TriggerFacts.next(bucket.trigger, event, this.bucketOptions.patientFacts);
      bucket.triggerMs = ms;
      bucket.triggerId = event.event.id;
    }
    for (let index = 0; index < this.readInfluencers.length; index += 1) {
      const influencer = scalarText((this.readInfluencers[index] as FieldReader)(event));
      if (influencer === undefined) continue;
      bucket.influencers ??= this.readInfluencers.map(() => new ValueCounts());
      (bucket.influencers[index] as ValueCounts).add(influencer);
    }
  }

  /** Closes the buckets of `keys` that end at or before the watermark, and fills empty buckets when `fillEmpty`. */
  /**
   * Closes the buckets of `seriesList` that end at or before the watermark, and fills empty
   * buckets when `fillEmpty`. `seriesList` may be the pending set itself: deleting the current
   * entry of a Set while iterating it is safe.
   */
  private close(seriesList: Iterable<Series>, watermarkMs: number, fillEmpty: boolean): Detection[] {
    const detections: Detection[] = [];
    for (const series of seriesList) {
      while (!Number.isNaN(series.bucketStartMs) && series.bucketStartMs + this.spanMs <= watermarkMs) {
        const startMs = series.bucketStartMs;
        this.fillEmptyBuckets(series, startMs, detections);
        const value = series.bucketDistinct !== null ? series.bucketDistinct.size : series.bucketValue;
        this.closeBucket(series, startMs, value, series.bucketEvents, detections, 'first');
        shiftFirstBucket(series);
      }
      if (fillEmpty) this.fillEmptyBuckets(series, Math.floor(watermarkMs / this.spanMs) * this.spanMs, detections);

      if (Number.isNaN(series.bucketStartMs)) this.pending.delete(series);
    }
    this.nextDueMs = Number.POSITIVE_INFINITY;
    for (const series of this.pending) this.nextDueMs = Math.min(this.nextDueMs, series.bucketStartMs + this.spanMs);

    detections.sort((a, b) => compareCodeUnits(a.window.start, b.window.start) || compareCodeUnits(groupText(a), groupText(b)));
    this.counters.detections += detections.length;
    return detections;
  }

  /**
   * Learns the empty buckets between the series' last closed bucket and `untilMs`. On the low
   * side the first of them is judged, unless a low detection is still standing.
   */
  private fillEmptyBuckets(series: Series, untilMs: number, detections: Detection[]): void {
    let fromMs = series.closedUntilMs;
    if (!Number.isFinite(fromMs) || untilMs <= fromMs) return;

    if (this.judgesLow && !series.lowRaised) {
      this.closeBucket(series, fromMs, 0, 0, detections, 'empty');
      fromMs += this.spanMs;
    }
    const excluded = this.exclusions.isEmpty ? 0 : this.exclusions.countBuckets(fromMs, untilMs, this.spanMs);
    const empty = (untilMs - fromMs) / this.spanMs - excluded;
    const lastMs = untilMs - this.spanMs;
    series.stats.addZeros(lastMs, empty, this.spanMs, this.halfLifeMs);
    const peer = this.peerOf(series);
    peer?.stats.addZeros(lastMs, empty, this.spanMs, this.halfLifeMs);
    if (this.slots !== undefined) {
      series.seasonal ??= this.slots.allocate();
      const excluded = (startMs: number): boolean => !this.exclusions.isEmpty && this.exclusions.overlaps(startMs, startMs + this.spanMs);
      series.seasonal.learnZeros(this.slots, fromMs, untilMs, this.spanMs, this.zoneOfSeries(series), excluded);
    }
    series.closedUntilMs = untilMs;
  }

  private zoneOfSeries(series: Series): string {
    return series.zone ?? this.defaultTimeZone;
  }

  private peerOf(series: Series): History | undefined {
    if (series.peer === undefined) return undefined;
    const key = series.partition === undefined ? series.peer : `${series.peer}\u0000${series.partition}`;
    return this.peers.touch(key, newHistory);
  }

  /**
   * Judges one closed bucket with `value` (the count, sum or distinct values) and `events`, then
   * learns it. With `kind` 'first', the bucket is the series' oldest open bucket, whose fields
   * contain its evidence and trigger. With 'empty', it had no events. The OpenBucket object that
   * a detection needs is made only when the bucket raises one.
   */
  private closeBucket(series: Series, startMs: number, value: number, events: number, detections: Detection[], kind: 'first' | 'empty'): void {
    series.closedUntilMs = startMs + this.spanMs;
    if (!this.exclusions.isEmpty && this.exclusions.overlaps(startMs, startMs + this.spanMs)) {
      this.counters.buckets_excluded += 1;
      return;
    }

    const peer = this.peerOf(series);
    const judgement = this.judge(series, peer, value, startMs);
    let weight = 1;
    if (judgement === undefined) {
      this.counters.buckets_learning += 1;
    } else {
      this.counters.buckets_judged += 1;
      const lowStanding = judgement.raise && judgement.side === 'low' && series.lowRaised;
      if (lowStanding) this.counters.buckets_low_suppressed += 1;
      else if (judgement.raise) detections.push(bucketDetection(this, series, kind === 'first' ? firstOpenBucket(series) : { startMs, value: 0, events: 0 }, value, judgement));
      if (judgement.raise) weight = ANOMALY_WEIGHT;
      series.lowRaised = judgement.raise && judgement.side === 'low';
    }
    learnBucket(series, startMs, value, events, this.halfLifeMs, weight);
    if (this.slots !== undefined) {
      series.seasonal ??= this.slots.allocate();
      series.seasonal.learn(this.slots, startMs, this.zoneOfSeries(series), value, weight);
    }
    if (peer !== undefined) learnBucket(peer, startMs, value, events, this.halfLifeMs, weight);
  }

  private judge(series: Series, peer: History | undefined, value: number, startMs: number): BucketJudgement | undefined {
    const { min_days: minDays, min_events: minEvents } = this.config.learning;
    let basis: BucketJudgement['basis'];
    let history: History;
    if (isLearned(series, minDays, minEvents)) {
      basis = 'own';
      history = series;
    } else if (peer !== undefined && isLearned(peer, minDays, minEvents)) {
      basis = 'peer_group';
      history = peer;
    } else {
      return undefined;
    }

    let mean = history.stats.mean;
    let variance = history.stats.variance();
    let seasonal: BucketJudgement['seasonal'];
    if (basis === 'own' && this.slots !== undefined && series.seasonal !== undefined) {
      const zone = this.zoneOfSeries(series);
      const typical = series.seasonal.typical(this.slots, startMs, zone, mean, variance);
      // A slot with no week behind it has only the flat prior, so it is not named as the basis.
      if (typical.weeks > 0) {
        seasonal = { slot: this.slots.labelOf(typical.slot), zone, weeks: typical.weeks, flatMean: mean };
        mean = typical.mean;
        variance = typical.variance;
      }
    }
    variance = this.varianceFloor(variance, mean);
    const peerTypical = basis === 'own' && peer !== undefined && isLearned(peer, minDays, minEvents) ? peer.stats.mean : undefined;
    const base = { basis, mean, variance, historyDays: historyDays(history), historyEvents: history.learnedEvents, weight: history.stats.weightAt(startMs, this.halfLifeMs), peerTypical, seasonal };
    const { min_actual: minActual = 1, min_typical: minTypical = 1, min_score: minScore } = this.config.thresholds;

    for (const side of this.sides) {
      if (side === 'high' && (value <= mean || value < minActual)) continue;
      if (side === 'low' && (value >= mean || mean < minTypical)) continue;
      const judged = judgeValue(value, mean, variance, side, this.aggregate !== 'sum');
      return { ...base, side, ...judged, raise: judged.score >= minScore };
    }
    return { ...base, side: undefined, probability: 1, score: 0, raise: false };
  }

  /**
   * Counts vary at least as much as a Poisson count of the same mean, and at least by 1, so a
   * series that always had the same count does not alert on one more. Sums vary by at least a
   * tenth of their mean.
   */
  private varianceFloor(variance: number, mean: number): number {
    if (this.aggregate === 'sum') return Math.max(variance, (0.1 * mean) ** 2, Number.MIN_VALUE);
    return Math.max(variance, mean, 1);
  }

  /** Returns the learned profile of every series of `entity` (one per partition value) as plain data. */
  describe(entity: string): Record<string, unknown> | undefined {
    const profiles: Array<Record<string, unknown>> = [];
    for (const [, series] of this.series) {
      if (series.entity !== entity) continue;
      const peer = series.peer === undefined ? undefined : this.peers.get(series.partition === undefined ? series.peer : `${series.peer}\u0000${series.partition}`);
      profiles.push({
        ...(series.partition === undefined ? {} : { partition: series.partition }),
        typical: roundTo(series.stats.mean, 3),
        ...(this.slots === undefined ? {} : { seasonality: this.slots.mode, time_zone: this.zoneOfSeries(series), seasonal_weeks: series.seasonal === undefined ? 0 : Math.floor(this.slots.updatesBefore(series.seasonal, series.closedUntilMs) / this.slots.bucketsPerSlot) }),
        typical_sd: roundTo(Math.sqrt(series.stats.variance()), 3),
        learned: isLearned(series, this.config.learning.min_days, this.config.learning.min_events),
        history_days: Math.floor(historyDays(series)),
        history_events: series.learnedEvents,
        ...(series.peer === undefined ? {} : { peer_group: series.peer }),
        ...(peer === undefined ? {} : { peer_typical: roundTo(peer.stats.mean, 3), peer_typical_sd: roundTo(Math.sqrt(peer.stats.variance()), 3) }),
      });
    }
    if (profiles.length === 0) return undefined;
    return { function: this.config.function, unit: unitOf(this.config), bucket_span: this.config.bucket_span ?? DEFAULTS.bucket_span, series: profiles };
  }

  snapshot(): BucketSnapshot {
    return {
      series: [...this.series].map(([key, series]) => [key, snapshotSeries(series, this.slots)]),
      peers: [...this.peers].map(([key, history]) => [key, snapshotHistory(history)]),
      scannedUntilMs: Number.isFinite(this.scannedUntilMs) ? this.scannedUntilMs : null,
      counters: { ...this.counters },
    };
  }

  restore(snapshot: unknown): void {
    const state = snapshot as BucketSnapshot;
    this.series.clear();
    this.slots?.clear();
    this.peers.clear();
    this.pending.clear();
    for (const [key, series] of state.series) {
      const restored = restoreSeries(series, this.bucketOptions, this.slots);
      // A key listed twice keeps its last series, so the one it replaces must not stay pending.
      const replaced = this.series.get(key);
      if (replaced !== undefined) this.pending.delete(replaced);
      this.series.set(key, restored);
      if (openBucketCount(restored) > 0) this.pending.add(restored);
    }
    for (const [key, history] of state.peers) this.peers.set(key, restoreHistory(history));
    this.scannedUntilMs = state.scannedUntilMs ?? Number.NEGATIVE_INFINITY;
    // The next pass visits every restored series and sets the due time again.
    this.nextDueMs = Number.NEGATIVE_INFINITY;
    Object.assign(this.counters, state.counters);
  }
}

/**
 * Returns the field with the entity's time zone: `time_zone_field` when set, else the user's zone
 * for series of users. Other entities (log sources, hosts) serve users in many zones, so they
 * keep the facility's zone.
 */
function zoneFieldOf(config: CountConfig): string | undefined {
  if (config.time_zone_field !== undefined) return config.time_zone_field;
  return config.by.startsWith('holter.user.') || config.by.startsWith('user.') ? DEFAULTS.time_zone_field : undefined;
}

function groupText(detection: Detection): string {
  return Object.values(detection.groupKey).join('\u0000');
}

