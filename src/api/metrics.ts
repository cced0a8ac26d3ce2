import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { RunSummary } from '../pipeline.js';
import { isStageGauge } from '../state/task.js';

/** Live counters the metrics endpoint reads at each scrape. */
export interface MetricsSnapshot {
  summary: RunSummary;
  /** Counters per detection stage, e.g. `sigma` -> `events_late`; names are bounded (rule and detector ids). */
  stageStats: Record<string, Record<string, number>>;
  /** The source's own counters, e.g. Kafka's records fetched and commits; all only grow. */
  sourceStats?: Record<string, number>;
  reloads: { succeeded: number; rejected: number; fileErrors: number };
  /** Kafka consumer state; absent until the run has assembled its source. */
  kafka?: {
    /** True while the consumer is a member of its group, as the readiness probe reports. */
    member: boolean;
    /** Records not yet processed per owned partition, from the latest refresh. */
    lag: { topic: string; partition: number; lag: number }[];
    /** When the lag was last read from the brokers, in epoch milliseconds; undefined before the first success. */
    lagRefreshedAtMs?: number;
  };
  /** Alerts raised and handed to the sinks whose delivery has not settled yet. */
  pendingDeliveries?: number;
  /** Counters sinks keep of their own while running (a webhook's pages queued, retried, failed), by sink. */
  sinkStats?: Record<string, Record<string, number>>;
}

/** Sink statistics that are current values; the others are running counts. */
const SINK_GAUGE_NAMES = new Set(['pending']);

export interface HolterMetrics {
  registry: Registry;
  /** Reads the counters once and returns them in the Prometheus text format. */
  scrape(): Promise<string>;
}

/**
 * Builds the Prometheus registry. Values are read from `read` once per scrape, so the hot path
 * keeps its plain counters. Labels hold only bounded codes: reasons, rule and detector ids, sink
 * and stage names; never user ids, alert ids or messages.
 */
export function createMetrics(readSnapshot: () => MetricsSnapshot): HolterMetrics {
  const registry = new Registry();
  let current: MetricsSnapshot | undefined;
  const read = (): MetricsSnapshot => (current ??= readSnapshot());
  collectDefaultMetrics({ register: registry, prefix: 'holter_' });

  counter(registry, 'holter_records_read_total', 'Records read from the inputs.', [], () => [[{}, read().summary.recordsRead]]);
  counter(registry, 'holter_events_decoded_total', 'Records decoded into events.', [], () => [[{}, read().summary.eventsDecoded]]);
  counter(registry, 'holter_dead_letter_total', 'Records sent to the dead-letter sink, by reason.', ['reason'], () =>
    Object.entries(read().summary.deadLetteredByReason).map(([reason, count]) => [{ reason }, count]),
  );
  counter(registry, 'holter_alerts_total', 'Alerts raised, by rule or detector id.', ['rule_id'], () =>
    Object.entries(read().summary.alertsByRule).map(([ruleId, count]) => [{ rule_id: ruleId }, count]),
  );
  counter(registry, 'holter_alerts_duplicate_total', 'Alerts raised again with an id already raised in this run.', [], () => [[{}, read().summary.duplicateAlerts]]);
  counter(registry, 'holter_sink_deliveries_total', 'Alerts given to each sink, by outcome.', ['sink', 'outcome'], () =>
    Object.entries(read().summary.deliveryOutcomes).flatMap(([sink, outcomes]) => Object.entries(outcomes).map(([outcome, count]) => [{ sink, outcome }, count] as Sample)),
  );
  counter(registry, 'holter_sink_failures_total', 'Alerts a sink failed to deliver.', ['sink'], () =>
    Object.entries(read().summary.deliveryFailures).map(([sink, count]) => [{ sink }, count]),
  );
  counter(registry, 'holter_rule_reloads_total', 'Reloads of rules and detectors, by outcome.', ['outcome'], () => {
    const { reloads } = read();
    return [
      [{ outcome: 'succeeded' }, reloads.succeeded],
      [{ outcome: 'rejected' }, reloads.rejected],
    ];
  });
  gauge(registry, 'holter_rule_file_errors', 'Errors in the rule and detector files as last read, at start or by the last reload; 0 once every file loads.', [], () => [[{}, read().reloads.fileErrors]]);
  const stageSamples = (wantGauges: boolean): Sample[] =>
    Object.entries(read().stageStats).flatMap(([stage, stats]) =>
      Object.entries(stats)
        .filter(([name]) => isStageGauge(name) === wantGauges)
        .map(([name, value]) => [{ stage, name }, value] as Sample),
    );
  counter(registry, 'holter_stage_stat_total', 'Running counts of each detection stage (late events, matches, detections...).', ['stage', 'name'], () => stageSamples(false));
  gauge(registry, 'holter_stage_stat', 'Current values of each detection stage (rules and detectors loaded, entities tracked, open windows...).', ['stage', 'name'], () => stageSamples(true));
  counter(registry, 'holter_source_stat_total', 'Running counts of the input source (Kafka records fetched, commits, restores...).', ['name'], () =>
    Object.entries(read().sourceStats ?? {}).map(([name, value]) => [{ name }, value]),
  );

  const sinkSamples = (wantGauges: boolean): Sample[] =>
    Object.entries(read().sinkStats ?? {}).flatMap(([sink, stats]) =>
      Object.entries(stats)
        .filter(([name]) => SINK_GAUGE_NAMES.has(name) === wantGauges)
        .map(([name, value]) => [{ sink, name }, value] as Sample),
    );
  counter(registry, 'holter_sink_stat_total', "Running counts a sink keeps of its own (a webhook's pages queued, retried, failed).", ['sink', 'name'], () => sinkSamples(false));
  gauge(registry, 'holter_sink_stat', 'Current values a sink keeps of its own.', ['sink', 'name'], () => sinkSamples(true));
  gauge(registry, 'holter_alerts_pending_delivery', 'Alerts handed to the sinks whose delivery has not settled yet.', [], () => {
    const pending = read().pendingDeliveries;
    return pending === undefined ? [] : [[{}, pending]];
  });

  gauge(registry, 'holter_kafka_consumer_member', '1 while the Kafka consumer is a member of its group (what /readyz reports), else 0.', [], () => {
    const kafka = read().kafka;
    return kafka === undefined ? [[{}, 0]] : [[{}, kafka.member ? 1 : 0]];
  });
  gauge(registry, 'holter_kafka_consumer_lag', 'Records not yet processed per owned partition: end offset minus the next offset to process.', ['topic', 'partition'], () =>
    (read().kafka?.lag ?? []).map(({ topic, partition, lag }) => [{ topic, partition: String(partition) }, lag]),
  );
  gauge(registry, 'holter_kafka_consumer_lag_refreshed_timestamp_seconds', 'When holter_kafka_consumer_lag was last read from the brokers, in seconds since the epoch.', [], () => {
    const refreshedAtMs = read().kafka?.lagRefreshedAtMs;
    return refreshedAtMs === undefined ? [] : [[{}, refreshedAtMs / 1000]];
  });
  return {
    registry,
    async scrape() {
      current = undefined;
      try {
        return await registry.metrics();
      } finally {
        current = undefined;
      }
    },
  };
}

type Sample = [Record<string, string>, number];

/** Registers a counter whose value is set to the source's running total at each scrape. */
function counter(registry: Registry, name: string, help: string, labelNames: string[], samples: () => Sample[]): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of samples()) this.inc(labels, value);
    },
  });
}

/** Registers a gauge whose samples are replaced at each scrape. */
function gauge(registry: Registry, name: string, help: string, labelNames: string[], samples: () => Sample[]): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of samples()) this.set(labels, value);
    },
  });
}
