import { setField } from '../../event.js';
import type { HolterEvent } from '../../event.js';
import { summaries } from '../pager.js';
import type { ShowValue } from '../pager.js';
import type { Detection, RuleInfo } from '../types.js';
import type { OpenBucket, Series, ValueCounts } from './buckets.js';
import { compareCodeUnits, roundTo, spanText } from './detector.js';
import { DEFAULTS, durationMs, unitOf } from './schema.js';
import type { CountConfig } from './schema.js';
import { thresholdFor } from './stats.js';
import type { Side } from './stats.js';

/** Judgement of a closed bucket; `raise` is true when its score reached `min_score`. */
export interface BucketJudgement {
  basis: 'own' | 'peer_group';
  /** The side judged; undefined when the value was on neither side of the typical value. */
  side: Side | undefined;
  mean: number;
  variance: number;
  historyDays: number;
  historyEvents: number;
  /** Decayed number of buckets behind the mean. */
  weight: number;
  /** The peer group's typical value, given beside the entity's own. */
  peerTypical: number | undefined;
  /** The local slot whose typical value was the basis; undefined without seasonality. */
  seasonal: { slot: string; zone: string; weeks: number; flatMean: number } | undefined;
  probability: number;
  score: number;
  raise: boolean;
}

/** Influencer values reported per field. */
const TOP_INFLUENCERS = 3;

/** Builds the detection of a bucket judged unusual, with the one-sentence explanation. */
export function bucketDetection(
  detector: { rule: RuleInfo; config: CountConfig },
  series: Series,
  bucket: Pick<OpenBucket, 'startMs' | 'value' | 'events'> & Partial<OpenBucket>,
  actual: number,
  judgement: BucketJudgement,
): Detection {
  const { config, rule } = detector;
  const side = judgement.side as Side;
  const spanMs = durationMs(config.bucket_span ?? DEFAULTS.bucket_span);
  const unit = unitOf(config);
  const start = new Date(bucket.startMs).toISOString();
  const influencers = topInfluencers(config.influencers ?? [], bucket.influencers ?? [], bucket.events);
  const threshold = thresholdFor(config.thresholds.min_score, judgement.mean, judgement.variance, side, !config.function.endsWith('sum'));

  const groupKey: Record<string, string> = { [config.by]: series.entity };
  if (config.partition_field !== undefined && series.partition !== undefined) groupKey[config.partition_field] = series.partition;

  return {
    rule,
    severity: config.severity,
    riskScore: config.risk_score,
    groupKey,
    window: { start, end: new Date(bucket.startMs + spanMs).toISOString() },
    explanation: {
      ...summaries((show) => summaryOf(config, series, actual, judgement, spanMs, start, influencers, bucket.events, show)),
      actual: roundTo(actual, 2),
      typical: roundTo(judgement.mean, 2),
      threshold: roundTo(Math.max(0, threshold), 2),
      unit,
      details: {
        function: config.function,
        side,
        score: judgement.score,
        probability: Number(Math.max(judgement.probability, Number.MIN_VALUE).toPrecision(3)),
        basis: judgement.basis,
        typical_sd: roundTo(Math.sqrt(judgement.variance), 2),
        bucket_span_minutes: spanMs / 60_000,
        events: bucket.events,
        history_days: Math.floor(judgement.historyDays),
        history_events: judgement.historyEvents,
        history_buckets: roundTo(judgement.weight, 1),
        ...(series.partition === undefined ? {} : { partition: series.partition }),
        ...(series.peer === undefined ? {} : { peer_group: series.peer }),
        ...(judgement.peerTypical === undefined ? {} : { peer_typical: roundTo(judgement.peerTypical, 2) }),
        ...(judgement.seasonal === undefined ? {} : seasonalDetails(judgement.seasonal)),
        ...(influencers.length === 0 ? {} : { influencers }),
      },
    },
    evidence: bucket.evidence?.ids() ?? [],
    trigger:
      bucket.trigger === undefined
        ? emptyBucketTrigger(config, series, groupKey, bucket.startMs, spanMs)
        : bucket.trigger.toEvent(bucket.triggerMs as number, bucket.triggerId as string, groupKey),
    tags: config.tags,
  };
}

interface Influencer {
  field: string;
  value: string;
  events: number;
}

/** Returns the most frequent values of each influencer field, those with the most events first. */
function topInfluencers(fields: readonly string[], counts: readonly ValueCounts[], events: number): Influencer[] {
  const found: Influencer[] = [];
  fields.forEach((field, index) => {
    const sorted = (counts[index]?.entries() ?? []).sort((a, b) => b[1] - a[1] || compareCodeUnits(a[0], b[0]));
    for (const [value, count] of sorted.slice(0, TOP_INFLUENCERS)) found.push({ field, value, events: count });
  });
  return found.filter((influencer) => influencer.events > 0 && events > 0).sort((a, b) => b.events - a.events);
}

function summaryOf(
  config: CountConfig,
  series: Series,
  actual: number,
  judgement: BucketJudgement,
  spanMs: number,
  start: string,
  influencers: Influencer[],
  events: number,
  show: ShowValue,
): string {
  const unit = unitOf(config);
  const entity = show(config.by, series.entity);
  const who = series.partition === undefined ? entity : `${entity} (${config.partition_field ?? 'partition'} ${show(config.partition_field ?? '', series.partition)})`;
  let amount = formatAmount(actual);
  if (judgement.side === 'low') amount = actual === 0 ? 'no' : `only ${amount}`;
  const span = spanText(spanMs);
  const odds = `score ${judgement.score}, probability ${formatProbability(judgement.probability)}`;
  const what = `${who} had ${amount} ${unit} in the ${span} from ${start}`;

  let basis: string;
  if (judgement.basis === 'peer_group') {
    const typical = judgement.mean < 0.05 ? 'have none in a typical' : `average ${formatAmount(judgement.mean)} per`;
    basis =
      `${entity} is still learning (${Math.floor(historyDaysOfSeries(series))} days, ${series.learnedEvents} events of history), ` +
      `so it was judged against its peer group ${series.peer ?? ''}, whose members ${typical} ${span} (${odds})`;
  } else if (judgement.seasonal !== undefined) {
    const { slot, zone } = judgement.seasonal;
    basis = `against a usual ${formatAmount(judgement.mean)} per ${span} on ${slot} (${zone}) for ${entity} (${odds})`;
    if (judgement.peerTypical !== undefined) basis += `; its peer group ${series.peer ?? ''} averages ${formatAmount(judgement.peerTypical)} per ${span} over the whole week`;
  } else {
    basis = `against an average of ${formatAmount(judgement.mean)} per ${span} for ${entity} (${odds})`;
    if (judgement.peerTypical !== undefined) basis += `; its peer group ${series.peer ?? ''} averages ${formatAmount(judgement.peerTypical)}`;
  }

  const top = influencers[0];
  const influence = top === undefined ? '' : `; ${top.events} of its ${events} events had ${top.field} ${show(top.field, top.value)}`;
  return `${what}, ${basis}${influence}`;
}

function seasonalDetails(seasonal: NonNullable<BucketJudgement['seasonal']>): Record<string, unknown> {
  return { seasonal_slot: seasonal.slot, time_zone: seasonal.zone, seasonal_weeks: seasonal.weeks, typical_all_buckets: roundTo(seasonal.flatMean, 2) };
}

function historyDaysOfSeries(series: Series): number {
  return Number.isNaN(series.firstMs) ? 0 : (series.lastMs - series.firstMs) / 86_400_000;
}

function formatAmount(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** Score 100 stands for every probability at or below 1e-10, so smaller ones are not told apart. */
function formatProbability(probability: number): string {
  if (probability <= 1e-10) return 'at most 1e-10';
  return probability < 0.001 ? probability.toExponential(1) : probability.toFixed(3);
}

/**
 * Builds the trigger of a detection for an empty bucket. No event made it, so a minimal event
 * names the entity (and the partition) for the alert's entity fields.
 */
function emptyBucketTrigger(config: CountConfig, series: Series, groupKey: Record<string, string>, startMs: number, spanMs: number): HolterEvent {
  const event: HolterEvent = {
    '@timestamp': new Date(startMs + spanMs - 1).toISOString(),
    event: {
      id: `${config.id}:${series.entity}:${startMs}`,
      kind: 'event',
      category: [],
      type: [],
      action: 'empty-bucket',
      outcome: 'unknown',
      dataset: 'holter.detector',
      module: 'holter',
    },
    holter: { source: { input: 'detector', format: 'holter' } },
  };
  for (const [field, value] of Object.entries(groupKey)) setField(event, field, value);
  return event;
}

