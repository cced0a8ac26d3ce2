import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { RunSummary } from '../pipeline.js';

/** Live counters the metrics endpoint reads at each scrape. */
export interface MetricsSnapshot {
  summary: RunSummary;
  /** Counters per detection stage, e.g. `sigma` -> `events_late`; names are bounded (rule and detector ids). */
  stageStats: Record<string, Record<string, number>>;
  /** The source's own counters, e.g. Kafka's records fetched and commits. */
  sourceStats?: Record<string, number>;
  reloads: { succeeded: number; rejected: number };
}

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
  gauge(registry, 'holter_stage_stat', 'Counters of each detection stage (rules loaded, late events, matches...).', ['stage', 'name'], () =>
    Object.entries(read().stageStats).flatMap(([stage, stats]) => Object.entries(stats).map(([name, value]) => [{ stage, name }, value] as Sample)),
  );
  gauge(registry, 'holter_source_stat', "Counters of the input source (Kafka records fetched, commits...).", ['name'], () =>
    Object.entries(read().sourceStats ?? {}).map(([name, value]) => [{ name }, value]),
  );
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
