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
import { addStageStats, DetectionTask, type TaskStages } from './state/task.js';

const MAX_REMEMBERED_ALERT_IDS = 100_000;

/**
 * Alerts whose delivery may be in flight at once before detection waits for one to settle. Twice
 * the alerts of the Elasticsearch sink's default requests in flight (2 of 500), so that the next
 * bulk request is full when one returns.
 */
const DEFAULT_MAX_PENDING_DELIVERIES = 2000;

export interface PipelineOptions {
  decode: (record: RawRecord, context: DecodeContext) => DecodeResult;
  decodeContext: DecodeContext;
  /** The enrich stage: identity resolution and patient tokens. Runs before any detection. */
  enrich: (event: HolterEvent) => HolterEvent;
  /** Stages of the default task, which `push` feeds when no task is given. */
  stages: DetectionStage[];
  /** Entity risk: every detection adds risk to its user, source and host; enough risk raises a risk alert. */
  risk?: RiskStage;
  /** Builds a fresh set of detection stages for another task (see `createTask`). */
  createStages?: () => Promise<TaskStages>;
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

/** Returns the counts of a run that has read nothing yet. */
export function emptyRunSummary(): RunSummary {
  return {
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
}

/**
 * The stream: decode -> enrich -> detect -> alert -> sinks, one record at a time, in event time.
 * Detection runs in tasks: each task has its own stages and its own watermark (the newest event
 * time it has seen minus the allowed lateness), which its stages use to close windows and to
 * recognise late events. Decoding, enrichment, alert building and the sinks are shared.
 */
export class Pipeline {
  private readonly summary: RunSummary = emptyRunSummary();
  private maxEventTimeMs = Number.NEGATIVE_INFINITY;
  private minEventTimeMs = Number.POSITIVE_INFINITY;
  private readonly defaultTask: DetectionTask;
  /** Tasks made by createTask and not retired yet. */
  private readonly tasks = new Set<DetectionTask>();
  /** Counters of retired tasks, so the summary still counts what they did. */
  private readonly retiredStageStats: Record<string, Record<string, number>> = {};
  /**
   * Recent alert ids raised in this run, so a detection repeated by two stages or a re-fire pages
   * once. Bounded: the oldest ids are forgotten first; the store and Elasticsearch still dedupe by id.
   */
  private readonly raisedIds = new Set<string>();
  private readonly now: () => Date;
  private readonly pendingDeliveries = new Set<Promise<void>>();
  /** Detection waiting for a delivery to settle because `maxPendingDeliveries` are in flight. */
  private readonly deliverySlotWaiters: (() => void)[] = [];
  private readonly maxPendingDeliveries: number;

  constructor(private readonly options: PipelineOptions) {
    this.now = options.now ?? (() => new Date());
    this.maxPendingDeliveries = options.maxPendingDeliveries ?? DEFAULT_MAX_PENDING_DELIVERIES;
    this.defaultTask = new DetectionTask({ stages: options.stages, risk: options.risk }, options.allowedLatenessMs);
  }

  /** Watermark of the default task. */
  get watermarkMs(): number {
    return this.defaultTask.watermarkMs;
  }

  /** The task that `push` uses when given none: the only one in `holter replay` and `holter demo`. */
  get mainTask(): DetectionTask {
    return this.defaultTask;
  }

  /** Detection stages of every live task, the default task first: what a rules reload replaces. */
  taskStages(): DetectionStage[][] {
    return [this.defaultTask, ...this.tasks].map((task) => task.stages);
  }

  /** Alerts handed to the sinks whose delivery has not settled yet. */
  get pendingDeliveryCount(): number {
    return this.pendingDeliveries.size;
  }

  /** Returns the sinks' own counters as they are now, for metrics during the run. */
  currentSinkStats(): Record<string, Record<string, number>> {
    const stats: Record<string, Record<string, number>> = {};
    for (const sink of this.options.sinks) if (sink.stats !== undefined) stats[sink.name] = sink.stats();
    return stats;
  }

  /** Returns the counters so far, with every live task's stage counters, for metrics during the run. */
  currentSummary(): RunSummary {
    const stageStats: Record<string, Record<string, number>> = structuredClone(this.retiredStageStats);
    for (const task of [this.defaultTask, ...this.tasks]) addStageStats(stageStats, task.stats());
    return { ...this.summary, stageStats };
  }

  /** Raises an alert that no event produced, such as Holter's own operator alerts, through every sink. */
  async raiseDetection(detection: Detection): Promise<void> {
    await this.raise([detection]);
  }

  /** Starts a task with fresh detection stages from the `createStages` option; its state starts empty. */
  async createTask(): Promise<DetectionTask> {
    if (this.options.createStages === undefined) throw new Error('Pipeline.createTask needs the createStages option.');
    const task = new DetectionTask(await this.options.createStages(), this.options.allowedLatenessMs);
    this.tasks.add(task);
    return task;
  }

  /**
   * Ends a task without closing its windows (its state lives on in a checkpoint). Its running
   * counts stay in the totals; its state sizes leave them with it.
   */
  retireTask(task: DetectionTask): void {
    if (!this.tasks.delete(task)) return;
    addStageStats(this.retiredStageStats, task.stats(), { countsOnly: true });
  }

  /**
   * Decodes, enriches and detects one record, in `task` or else the default task. Resolves once
   * detection is done; the alerts it raised may still be on their way to the sinks until `drain`
   * (or `finish`) resolves.
   */
  async push(record: RawRecord, task?: DetectionTask): Promise<void> {
    await this.pushDecoded(record, this.decode(record), task);
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

  /** Enriches a record that `decode` has decoded and detects it in `task` (else the default task), or dead-letters it. */
  async pushDecoded(record: RawRecord, result: DecodeResult, task: DetectionTask = this.defaultTask): Promise<void> {
    this.summary.recordsRead++;
    if (!result.ok) {
      await this.deadLetter(record, result.reason, result.message);
      return;
    }

    for (const decoded of result.events) {
      this.summary.eventsDecoded++;
      await this.detect(this.options.enrich(decoded), task);
    }
  }

  /**
   * Detects an event that is already decoded and enriched, in `task` (else the default task). The
   * stage that re-keys events through a repartition topic enriches first and detects later.
   */
  async detect(event: HolterEvent, task: DetectionTask = this.defaultTask): Promise<void> {
    const eventTimeMs = Date.parse(event['@timestamp']);
    if (eventTimeMs > this.maxEventTimeMs) this.maxEventTimeMs = eventTimeMs;
    if (eventTimeMs < this.minEventTimeMs) this.minEventTimeMs = eventTimeMs;
    task.observeEventTime(eventTimeMs);

    const watermark = task.watermarkMs;
    for (const stage of task.stages) {
      const detections = stage.process(event, watermark);
      if (detections.length > 0) await this.raise(this.withRisk(task, detections, watermark));
    }
    await this.advanceRisk(task, watermark);
  }

  /** Enriches a decoded event; exposed for the repartition step, which detects it elsewhere. */
  enrich(event: HolterEvent): HolterEvent {
    return this.options.enrich(event);
  }

  /** Counts a record whose events go to detection later, through a repartition topic. */
  countForwarded(events: number): void {
    this.summary.recordsRead++;
    this.summary.eventsDecoded += events;
  }

  /** Dead-letters a record that could not be decoded, as pushDecoded does. */
  async reject(record: RawRecord, reason: Parameters<DeadLetterSink['write']>[1], message: string): Promise<void> {
    this.summary.recordsRead++;
    await this.deadLetter(record, reason, message);
  }

  /** Marks signal detections and adds the risk alerts they complete. */
  private withRisk(task: DetectionTask, detections: Detection[], watermarkMs: number): Detection[] {
    const risk = task.risk;
    if (risk === undefined) return detections;
    const marked = detections.map((detection) => risk.markSignal(detection));
    return [...marked, ...marked.flatMap((detection) => risk.observe(detection, watermarkMs))];
  }

  /**
   * Lets the risk stage apply the detections the watermark has reached. It holds them until then so
   * that late detections are applied in event time; once per second of event time is often enough.
   */
  private async advanceRisk(task: DetectionTask, watermarkMs: number): Promise<void> {
    if (task.risk === undefined || watermarkMs < task.riskAdvancedMs + 1000) return;
    task.riskAdvancedMs = watermarkMs;
    const detections = task.risk.advance(watermarkMs);
    if (detections.length > 0) await this.raise(detections);
  }

  /**
   * Ends the run and returns the summary. By default it closes every open window of every task and
   * delivers what that raises, as at the end of a file. `holter run` passes `closeWindows: false`:
   * its windows live on in checkpoints, and the next owner of each partition closes them.
   */
  async finish(options: { closeWindows?: boolean } = {}): Promise<RunSummary> {
    const stageStats: Record<string, Record<string, number>> = structuredClone(this.retiredStageStats);
    for (const task of [this.defaultTask, ...this.tasks]) {
      if (options.closeWindows ?? true) await this.closeWindows(task);
      addStageStats(stageStats, task.stats());
    }
    this.summary.stageStats = stageStats;
    if (Number.isFinite(this.minEventTimeMs)) {
      this.summary.firstEventTime = new Date(this.minEventTimeMs).toISOString();
      this.summary.lastEventTime = new Date(this.maxEventTimeMs).toISOString();
    }
    await this.drain();
    return this.summary;
  }

  private async closeWindows(task: DetectionTask): Promise<void> {
    const endOfInput = task.endOfInputMs;
    for (const stage of task.stages) await this.raise(this.withRisk(task, stage.flush(endOfInput), endOfInput));
    if (task.risk !== undefined) await this.raise(task.risk.flush(endOfInput));
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
      const tracked: Promise<void> = delivery.finally(() => {
        this.pendingDeliveries.delete(tracked);
        this.deliverySlotWaiters.shift()?.();
      });
      this.pendingDeliveries.add(tracked);
      // A waiter per full set instead of Promise.race, which would add a reaction to every pending delivery.
      if (this.pendingDeliveries.size >= this.maxPendingDeliveries) await new Promise<void>((resolve) => this.deliverySlotWaiters.push(resolve));
    }
  }

  /**
   * Resolves once every alert raised so far has been given to every sink. A caller that commits
   * input positions (Kafka offsets) calls it first, so a commit never runs ahead of delivery.
   */
  async drain(): Promise<void> {
    while (this.pendingDeliveries.size > 0) await Promise.all([...this.pendingDeliveries]);
  }

  /**
   * Resolves once the alerts raised before the call have been given to every sink, while later
   * records go on raising alerts. A checkpoint taken at the call waits for this before it is written.
   */
  async deliveredSoFar(): Promise<void> {
    await Promise.all([...this.pendingDeliveries]);
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
