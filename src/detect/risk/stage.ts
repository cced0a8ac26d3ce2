import { alertId } from '../../alerts/build.js';
import { detectionEntities } from '../../alerts/entities.js';
import type { HolterEvent } from '../../event.js';
import type { Detection } from '../types.js';
import { EntityRisk, MAX_EVIDENCE_PER_CONTRIBUTION } from './entity.js';
import type { Contribution } from './entity.js';
import { riskDetection } from './explain.js';
import { ENTITY_TYPES, SIGNAL_TAG } from './schema.js';
import type { EntityType, RiskConfig } from './schema.js';
import { readSnapshot, writeSnapshot } from './state.js';
import type { RiskSnapshot } from './state.js';

/**
 * A detection waiting for the watermark. Detections are applied in event-time order once the
 * watermark reaches their time, so detections that arrive out of order within the allowed
 * lateness add up to the same pages as detections in order.
 */
export interface PendingDetection {
  arrival: number;
  timeMs: number;
  contribution: Omit<Contribution, 'seq' | 'score'>;
  entities: Array<{ type: EntityType; value: string; score: number }>;
  trigger: HolterEvent;
}

/** Past this many waiting detections, the oldest are applied before the watermark reaches them. */
const MAX_PENDING = 100_000;

const COUNTERS = [
  'detections_observed',
  'detections_signal',
  'detections_late',
  'detections_own_ignored',
  'detections_invalid_time',
  'detections_without_entity',
  'contributions',
  'contributions_dropped',
  'pending_released_early',
  'risk_detections',
  'pages_suppressed_already_raised',
  'pages_covered_by_shorter_window',
  'rearmed_fell_below_rearm_level',
  'rearmed_window_moved_on',
  'entities_expired',
  'entities_evicted',
] as const;
type Counter = (typeof COUNTERS)[number];

/**
 * Entity risk scoring: every detection adds risk to the user, source address and host it is
 * about, and a grouped detection only to the entities its group key names (detectionEntities).
 * An entity whose decayed risk within a window reaches the window threshold raises one risk
 * detection (`risk-user`, `risk-source`, `risk-host`). docs/detectors.md, section "Risk",
 * describes the model.
 */
export class RiskStage {
  readonly name = 'risk';
  private readonly entities = new Map<string, EntityRisk>();
  private pending: PendingDetection[] = [];
  private arrivals = 0;
  private lastSweepMs = Number.NEGATIVE_INFINITY;
  private readonly sweepIntervalMs: number;
  private readonly counters = Object.fromEntries(COUNTERS.map((name) => [name, 0])) as Record<Counter, number>;

  constructor(readonly config: RiskConfig) {
    this.sweepIntervalMs = Math.min(...config.windows.map((window) => window.halfLifeMs));
  }

  /**
   * Returns true when the detection is a risk signal: its rule has the `holter.signal` tag or is
   * listed under `signals.rules`. Signals count toward risk like any detection; routing keeps
   * them out of the pager.
   */
  isSignal(detection: Detection): boolean {
    if (this.config.signalRules.has(detection.rule.id)) return true;
    return tagsOf(detection).some((tag) => tag.toLowerCase() === SIGNAL_TAG);
  }

  /**
   * Returns the detection with the `holter.signal` tag when it is a signal (a copy when the tag
   * had to be added), so that its alert carries the tag for routing. Other detections are
   * returned unchanged.
   */
  markSignal(detection: Detection): Detection {
    if (!this.isSignal(detection)) return detection;
    const tags = tagsOf(detection);
    if (tags.some((tag) => tag.toLowerCase() === SIGNAL_TAG)) return detection;
    return { ...detection, tags: [...tags, SIGNAL_TAG] };
  }

  /**
   * Adds a detection's risk to its entities once the watermark reaches the detection's event
   * time, and returns the risk detections raised by every detection the watermark released.
   * Risk detections are ignored, so that risk does not feed on itself.
   */
  observe(detection: Detection, watermarkMs: number): Detection[] {
    this.counters.detections_observed++;
    const pending = this.toPending(detection);
    if (pending !== undefined) this.enqueue(pending);

    const detections: Detection[] = [];
    while (this.pending.length > MAX_PENDING) {
      this.counters.pending_released_early++;
      detections.push(...this.apply(this.pending.shift() as PendingDetection));
    }
    detections.push(...this.advance(watermarkMs));
    return detections;
  }

  /** Applies the detections that the watermark has reached, and drops entities whose risk fell below the floor. */
  advance(watermarkMs: number): Detection[] {
    const detections: Detection[] = [];
    while (this.pending.length > 0 && (this.pending[0] as PendingDetection).timeMs <= watermarkMs) {
      detections.push(...this.apply(this.pending.shift() as PendingDetection));
    }
    if (watermarkMs >= this.lastSweepMs + this.sweepIntervalMs && Number.isFinite(watermarkMs)) {
      this.sweep(watermarkMs);
      this.lastSweepMs = watermarkMs;
    }
    return detections;
  }

  /** Applies every waiting detection, at end of input. */
  flush(watermarkMs: number): Detection[] {
    const detections = this.advance(watermarkMs);
    while (this.pending.length > 0) detections.push(...this.apply(this.pending.shift() as PendingDetection));
    return detections;
  }

  /** Returns the counters, `entities` (tracked now) and `pending` (waiting for the watermark). */
  stats(): Record<string, number> {
    return { ...this.counters, entities: this.entities.size, pending: this.pending.length };
  }

  /** Returns the waiting detections and every entity's contributions and page state as plain JSON data. */
  snapshot(): RiskSnapshot {
    return writeSnapshot({ entities: [...this.entities.values()], pending: this.pending, arrivals: this.arrivals, lastSweepMs: this.lastSweepMs });
  }

  /**
   * Replaces the state with a snapshot. Entity types and windows no longer configured are
   * dropped; windows added since the snapshot start armed.
   */
  restore(snapshot: RiskSnapshot): void {
    const state = readSnapshot(snapshot, this.config);
    this.entities.clear();
    for (const entity of state.entities) this.entities.set(entityKey(entity.type, entity.value), entity);
    this.pending = state.pending;
    this.arrivals = state.arrivals;
    this.lastSweepMs = state.lastSweepMs;
  }

  private toPending(detection: Detection): PendingDetection | undefined {
    if (isRiskDetection(detection)) {
      this.counters.detections_own_ignored++;
      return undefined;
    }
    const timeMs = Date.parse(detection.trigger['@timestamp']);
    if (!Number.isFinite(timeMs)) {
      this.counters.detections_invalid_time++;
      return undefined;
    }

    const factor = this.scaleOf(detection);
    const named = detectionEntities(detection);
    const entities: PendingDetection['entities'] = [];
    for (const type of ENTITY_TYPES) {
      const weight = this.config.weights[type];
      const value = named[type];
      if (weight === undefined || value === undefined) continue;
      const score = detection.riskScore * weight * factor;
      if (score > 0) entities.push({ type, value, score });
    }
    if (entities.length === 0) {
      this.counters.detections_without_entity++;
      return undefined;
    }

    const signal = this.isSignal(detection);
    if (signal) this.counters.detections_signal++;
    const contribution = {
      timeMs,
      ruleId: detection.rule.id,
      alertId: alertId(detection),
      severity: detection.severity,
      signal,
      evidence: detection.evidence.slice(0, MAX_EVIDENCE_PER_CONTRIBUTION),
      attackTags: tagsOf(detection).filter((tag) => tag.toLowerCase().startsWith('attack.')),
    };
    return { arrival: this.arrivals++, timeMs, contribution, entities, trigger: detection.trigger };
  }

  /** Scale of a detection's risk: its rule's factor when listed, else the product of its tags' factors. */
  private scaleOf(detection: Detection): number {
    const byRule = this.config.ruleScale.get(detection.rule.id);
    if (byRule !== undefined) return byRule;
    let factor = 1;
    for (const tag of tagsOf(detection)) factor *= this.config.tagScale.get(tag.toLowerCase()) ?? 1;
    return factor;
  }

  /** Inserts in (event time, arrival) order, so detections at the same time apply in arrival order. */
  private enqueue(pending: PendingDetection): void {
    let index = this.pending.length;
    while (index > 0 && (this.pending[index - 1] as PendingDetection).timeMs > pending.timeMs) index -= 1;
    this.pending.splice(index, 0, pending);
  }

  private apply(pending: PendingDetection): Detection[] {
    const detections: Detection[] = [];
    for (const { type, value, score } of pending.entities) {
      const entity = this.touch(type, value);
      if (pending.timeMs < entity.lastEvaluatedMs) this.counters.detections_late++;

      const { judgements, dropped } = entity.apply({ ...pending.contribution, score }, this.config.windows, this.config.maxContributions);
      this.counters.contributions++;
      this.counters.contributions_dropped += dropped;

      for (const judgement of judgements) {
        if (judgement.rearmed !== undefined) this.counters[`rearmed_${judgement.rearmed}`]++;
        if (judgement.outcome === 'already_raised') this.counters.pages_suppressed_already_raised++;
        if (judgement.outcome === 'covered_by_shorter_window') this.counters.pages_covered_by_shorter_window++;
        if (judgement.outcome !== 'raise') continue;
        this.counters.risk_detections++;
        detections.push(riskDetection(entity, judgement, pending.trigger, this.config));
      }
    }
    return detections;
  }

  /** Returns the entity's state, created when new, and marks it as the most recently used. */
  private touch(type: EntityType, value: string): EntityRisk {
    const key = entityKey(type, value);
    let entity = this.entities.get(key);
    if (entity !== undefined) {
      this.entities.delete(key);
    } else {
      entity = new EntityRisk(type, value);
    }
    this.entities.set(key, entity);

    if (this.entities.size > this.config.maxEntities) {
      const oldest = this.entities.keys().next().value as string;
      this.entities.delete(oldest);
      this.counters.entities_evicted++;
    }
    return entity;
  }

  /** Drops the state of entities whose risk in every window is below the floor at `atMs`. */
  private sweep(atMs: number): void {
    for (const [key, entity] of this.entities) {
      const highest = Math.max(...this.config.windows.map((window) => entity.riskAt(window, atMs)));
      if (highest >= this.config.floor) continue;
      this.entities.delete(key);
      this.counters.entities_expired++;
    }
  }
}

function entityKey(type: EntityType, value: string): string {
  return `${type}\u001f${value}`;
}

function tagsOf(detection: Detection): string[] {
  return detection.tags ?? detection.rule.tags ?? [];
}

function isRiskDetection(detection: Detection): boolean {
  return detection.rule.ruleset === 'detector' && /^risk-(user|source|host)$/.test(detection.rule.id);
}
