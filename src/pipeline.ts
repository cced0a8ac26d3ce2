import { buildAlert } from './alerts/build.js';
import type { Alert } from './alerts/types.js';
import type { DecodeContext, DecodeResult, RawRecord } from './decoders/types.js';
import type { RiskStage } from './detect/risk/index.js';
import type { Detection, DetectionStage } from './detect/types.js';
import { isHolterError } from './errors.js';
import type { HolterEvent } from './event.js';
import type { Logger } from './log.js';
import type { DeadLetterSink } from './sinks/dead-letter/writer.js';
import type { AlertSink, SinkOutcome } from './sinks/types.js';

const MAX_REMEMBERED_ALERT_IDS = 100_000;

/** Alerts whose delivery may be in flight at once before detection waits for the oldest. */
const DEFAULT_MAX_PENDING_DELIVERIES = 256;

export interface PipelineOptions {
  decode: (record: RawRecord, context: DecodeContext) => DecodeResult;
  decodeContext: DecodeContext;
  /** The enrich stage: identity resolution and patient tokens. Runs before any detection. */
  enrich: (event: HolterEvent) => HolterEvent;
  stages: DetectionStage[];
  /** Entity risk: every detection adds risk to its user, source and host; enough risk raises a risk alert. */
  risk?: RiskStage;
  sinks: AlertSink[];
  deadLetter: DeadLetterSink;
  allowedLatenessMs: number;
  logger: Logger;
  /** Processing-time clock for `event.created`; injected by tests. */
  now?: () => Date;
  /** Called once per new alert, after every sink has been given it. */
  onAlert?: (alert: Alert) => void;
  /** Alerts whose delivery may be in flight at once; detection waits when there are this many. */
  maxPendingDeliveries?: number;
}

/** Counts for the end-of-run summary. Keys of the maps are bounded codes (reasons, rule ids, sink names). */
export interface RunSummary {
  recordsRead: number;
  eventsDecoded: number;
  deadLettered: number;
  deadLetteredByReason: Record<string, number>;
  alerts: number;
  alertsByRule: Record<string, number>;
  duplicateAlerts: number;
  deliveryFailures: Record<string, number>;
  deliveryOutcomes: Record<string, Record<SinkOutcome, number>>;
  /** Counters sinks keep of their own (a webhook's pages sent, failed or still pending), filled in by close. */
  sinkStats: Record<string, Record<string, number>>;
  stageStats: Record<string, Record<string, number>>;
  firstEventTime?: string;
  lastEventTime?: string;
}

/**
 * The stream: decode -> enrich -> detect -> alert -> sinks, one record at a time, in event time.
 * The watermark is the newest event time seen minus the allowed lateness; detection stages use it
 * to close windows and to recognise late events.
 */
export class Pipeline {
  private readonly summary: RunSummary = {
    recordsRead: 0,
    eventsDecoded: 0,
    deadLettered: 0,
    deadLetteredByReason: {},
    alerts: 0,
    alertsByRule: {},
    duplicateAlerts: 0,
    deliveryFailures: {},
    deliveryOutcomes: {},
    sinkStats: {},
    stageStats: {},
  };
  private maxEventTimeMs = Number.NEGATIVE_INFINITY;
  private minEventTimeMs = Number.POSITIVE_INFINITY;
  /**
   * Recent alert ids raised in this run, so a detection repeated by two stages or a re-fire pages
   * once. Bounded: the oldest ids are forgotten first; the store and Elasticsearch still dedupe by id.
   */
  private readonly raisedIds = new Set<string>();
  private readonly now: () => Date;
  private riskAdvancedMs = Number.NEGATIVE_INFINITY;
  private readonly pendingDeliveries = new Set<Promise<void>>();
  private readonly maxPendingDeliveries: number;

  constructor(private readonly options: PipelineOptions) {
    this.now = options.now ?? (() => new Date());
    this.maxPendingDeliveries = options.maxPendingDeliveries ?? DEFAULT_MAX_PENDING_DELIVERIES;
  }

  get watermarkMs(): number {
    return this.maxEventTimeMs - this.options.allowedLatenessMs;
  }

  /**
   * Decodes, enriches and detects one record. Resolves once detection is done; the alerts it raised
   * may still be on their way to the sinks until `drain` (or `finish`) resolves.
   */
  async push(record: RawRecord): Promise<void> {
    await this.pushDecoded(record, this.decode(record));
  }

  /**
   * Decodes a record without detecting, so a caller can order records by event time first. A
   * decoder bug does not stop the stream: it becomes an `invalid_record` dead letter.
   */
  decode(record: RawRecord): DecodeResult {
    try {
      return this.options.decode(record, this.options.decodeContext);
    } catch (error) {
      this.options.logger.error({ input: record.input, line: record.line, offset: record.offset, err: error }, 'decoder failed unexpectedly');
      return { ok: false, reason: 'invalid_record', message: `The decoder failed unexpectedly: ${(error as Error).message}` };
    }
  }

  /** Enriches and detects a record that `decode` has decoded, or dead-letters it. */
  async pushDecoded(record: RawRecord, result: DecodeResult): Promise<void> {
    this.summary.recordsRead++;
    if (!result.ok) {
      await this.deadLetter(record, result.reason, result.message);
      return;
    }

    for (const decoded of result.events) {
      this.summary.eventsDecoded++;
      const event = this.options.enrich(decoded);
      const eventTimeMs = Date.parse(event['@timestamp']);
      if (eventTimeMs > this.maxEventTimeMs) this.maxEventTimeMs = eventTimeMs;
      if (eventTimeMs < this.minEventTimeMs) this.minEventTimeMs = eventTimeMs;

      const watermark = this.watermarkMs;
      for (const stage of this.options.stages) {
        const detections = stage.process(event, watermark);
        if (detections.length > 0) await this.raise(this.withRisk(detections, watermark));
      }
      await this.advanceRisk(watermark);
    }
  }

  /** Marks signal detections and adds the risk alerts they complete. */
  private withRisk(detections: Detection[], watermarkMs: number): Detection[] {
    const risk = this.options.risk;
    if (risk === undefined) return detections;
    const marked = detections.map((detection) => risk.markSignal(detection));
    return [...marked, ...marked.flatMap((detection) => risk.observe(detection, watermarkMs))];
  }

  /**
   * Lets the risk stage apply the detections the watermark has reached. It holds them until then so
   * that late detections are applied in event time; once per second of event time is often enough.
   */
  private async advanceRisk(watermarkMs: number): Promise<void> {
    if (this.options.risk === undefined || watermarkMs < this.riskAdvancedMs + 1000) return;
    this.riskAdvancedMs = watermarkMs;
    const detections = this.options.risk.advance(watermarkMs);
    if (detections.length > 0) await this.raise(detections);
  }

  /** Ends the run: closes every open window, delivers what that raises, and returns the summary. */
  async finish(): Promise<RunSummary> {
    const endOfInput = Number.isFinite(this.maxEventTimeMs) ? this.maxEventTimeMs + this.options.allowedLatenessMs + 1 : Number.POSITIVE_INFINITY;
    for (const stage of this.options.stages) {
      await this.raise(this.withRisk(stage.flush(endOfInput), endOfInput));
      this.summary.stageStats[stage.name] = stage.stats();
    }
    if (this.options.risk !== undefined) {
      await this.raise(this.options.risk.flush(endOfInput));
      this.summary.stageStats.risk = this.options.risk.stats();
    }
    if (Number.isFinite(this.minEventTimeMs)) {
      this.summary.firstEventTime = new Date(this.minEventTimeMs).toISOString();
      this.summary.lastEventTime = new Date(this.maxEventTimeMs).toISOString();
    }
    await this.drain();
    return this.summary;
  }

  /** Closes sinks and the dead-letter file, and adds the sinks' own counters to the summary. Call once, after finish. */
  async close(): Promise<void> {
    await this.drain();
    for (const sink of this.options.sinks) {
      await sink.close();
      if (sink.stats !== undefined) this.summary.sinkStats[sink.name] = sink.stats();
    }
    await this.options.deadLetter.close();
  }

  private async deadLetter(record: RawRecord, reason: Parameters<DeadLetterSink['write']>[1], message: string): Promise<void> {
    this.summary.deadLettered++;
    this.summary.deadLetteredByReason[reason] = (this.summary.deadLetteredByReason[reason] ?? 0) + 1;
    await this.options.deadLetter.write(record, reason, message);
  }

  private async raise(detections: Detection[]): Promise<void> {
    for (const detection of detections) {
      const alert = buildAlert(detection, this.now());
      if (this.raisedIds.has(alert.event.id)) {
        this.summary.duplicateAlerts++;
        continue;
      }
      this.raisedIds.add(alert.event.id);
      if (this.raisedIds.size > MAX_REMEMBERED_ALERT_IDS) {
        this.raisedIds.delete(this.raisedIds.values().next().value as string);
      }
      this.summary.alerts++;
      this.summary.alertsByRule[alert.rule.id] = (this.summary.alertsByRule[alert.rule.id] ?? 0) + 1;

      // Deliveries run while later records are detected, so a sink that batches (Elasticsearch)
      // gets many alerts at once; at most maxPendingDeliveries are in flight.
      const delivery = Promise.all(this.options.sinks.map((sink) => this.deliver(sink, alert)))
        .then(() => this.options.onAlert?.(alert))
        .catch((error: unknown) => this.options.logger.error({ alertId: alert.event.id, err: error }, 'alert callback failed'));
      const tracked: Promise<void> = delivery.finally(() => this.pendingDeliveries.delete(tracked));
      this.pendingDeliveries.add(tracked);
      if (this.pendingDeliveries.size >= this.maxPendingDeliveries) await Promise.race(this.pendingDeliveries);
    }
  }

  /**
   * Resolves once every alert raised so far has been given to every sink. A caller that commits
   * input positions (Kafka offsets) calls it first, so a commit never runs ahead of delivery.
   */
  async drain(): Promise<void> {
    while (this.pendingDeliveries.size > 0) await Promise.all([...this.pendingDeliveries]);
  }

  private async deliver(sink: AlertSink, alert: Alert): Promise<void> {
    const outcomes = (this.summary.deliveryOutcomes[sink.name] ??= { delivered: 0, queued: 0, duplicate: 0, filtered: 0 });
    try {
      outcomes[await sink.write(alert)]++;
    } catch (error) {
      this.summary.deliveryFailures[sink.name] = (this.summary.deliveryFailures[sink.name] ?? 0) + 1;
      const code = isHolterError(error) ? error.code : 'unknown';
      this.options.logger.error({ sink: sink.name, alertId: alert.event.id, code, err: error }, 'alert delivery failed');
    }
  }
}
