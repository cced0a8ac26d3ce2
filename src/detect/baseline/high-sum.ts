import { compileFieldPath } from '../../event.js';
import type { FieldReader, HolterEvent } from '../../event.js';
import { summaries } from '../pager.js';
import type { ShowValue } from '../pager.js';
import type { Detection, RuleInfo } from '../types.js';
import { readEntityOrSkip, readTimeOrSkip, roundTo } from './detector.js';
import type { BaselineDetector } from './detector.js';
import { EntityMap } from './entities.js';
import type { EntityKeys } from './entities.js';
import { DEFAULTS, durationMs, unitOf } from './schema.js';
import type { HighSumConfig } from './schema.js';
import { compileWhere } from './where.js';
import type { EventFilter } from './where.js';

/**
 * `function: high_sum`: the sum of `field` (e.g. DICOM studies retrieved) by one entity within a
 * sliding event-time window, against a threshold from the entity's own history and a fixed
 * ceiling.
 *
 * The window ending at an event contains the entity's events in (time - window, time]. Every event
 * with a time at or before the watermark is the end of one window, evaluated in event-time order,
 * so events that arrive out of order within the allowed lateness give the same detections as
 * events in order. An event older than windows already evaluated is late: it is counted and
 * added to later windows, but ends none itself.
 *
 * Threshold: the ceiling always applies. Once the entity has learned (min_days and min_events),
 * the threshold is max(floor, factor x typical), capped by the ceiling, where typical is the
 * decayed maximum of the entity's past window sums. A sum at or above the threshold raises one
 * detection with window [first event, first event + window). The events before one window after
 * the triggering event are then consumed: they count towards no later window, so a pull that goes
 * on raises at most one detection per window length.
 *
 * A window sum is learned only once it is a full window old. Until then it may be the first part
 * of a burst, and learning it would raise the threshold ahead of the burst's own growth. Sums
 * still held back when a detection fires are dropped, so a burst is never learned.
 */

const DAY_MS = 86_400_000;

/**
 * Buffered events per entity. Past this, the two oldest entries are merged into one at the later
 * time, which can only raise later sums.
 */
const MAX_ENTRIES_PER_ENTITY = 10_000;

interface Entry {
  ms: number;
  value: number;
  also: number[];
  id: string;
  evaluated: boolean;
  event: HolterEvent | null;
}

interface EntityState {
  entries: Entry[];
  /** Latest window end evaluated; events before it are late. */
  evaluatedMs: number;
  /** Events before this time were consumed by a detection. */
  consumedBeforeMs: number;
  /**
   * Window sums not yet learned, oldest first: the first `heldCount` elements of `heldEndMs` and
   * `heldTotals` are their end times and sums. Elements past `heldCount` are stale. The arrays
   * never shrink, because V8 can free an array's storage when its length drops to 0, and storage
   * allocated again for each event lived a whole window and was copied by young collections.
   */
  heldEndMs: number[];
  heldTotals: number[];
  heldCount: number;
  /** Decayed maximum of past window sums, decayed to `typicalAtMs`. */
  typical: number;
  typicalAtMs: number;
  firstMs: number;
  lastMs: number;
  learnedEvents: number;
}

type ThresholdSource = 'ceiling' | 'history' | 'floor';

/** An entity's state as snapshots save it: the held window sums as [end ms, sum] pairs. */
interface SavedEntityState extends Omit<EntityState, 'heldEndMs' | 'heldTotals' | 'heldCount'> {
  heldSums: Array<[number, number]>;
}

interface HighSumSnapshot {
  entities: Array<[string, SavedEntityState]>;
  counters: Record<string, number>;
}

export class HighSumDetector implements BaselineDetector {
  readonly rule: RuleInfo;
  private readonly config: HighSumConfig;
  private readonly filter: EventFilter;
  private readonly windowMs: number;
  private readonly halfLifeMs: number;
  private readonly evidenceLimit: number;
  private readonly alsoFields: string[];
  private readonly readEntity: FieldReader;
  private readonly readValue: FieldReader;
  private readonly readAlso: FieldReader[];
  private readonly entities: EntityMap<EntityState>;
  /** Entities with events not yet evaluated. */
  private readonly pending = new Set<string>();
  /** No unevaluated event of a pending entity is older than this. */
  private nextDueMs = Number.POSITIVE_INFINITY;
  private readonly counters = {
    events_matched: 0,
    events_late: 0,
    events_missing_entity: 0,
    events_invalid_timestamp: 0,
    events_invalid_value: 0,
    entries_merged: 0,
    detections: 0,
  };

  constructor(config: HighSumConfig, rule: RuleInfo, options: { entityKeys?: EntityKeys } = {}) {
    this.config = config;
    this.rule = rule;
    this.filter = compileWhere(config.where);
    this.windowMs = durationMs(config.window ?? DEFAULTS.window);
    this.halfLifeMs = config.learning.half_life_days * DAY_MS;
    this.evidenceLimit = config.evidence_limit ?? DEFAULTS.evidence_limit;
    this.alsoFields = config.also_sum ?? [];
    this.readEntity = compileFieldPath(config.by);
    this.readValue = compileFieldPath(config.field);
    this.readAlso = this.alsoFields.map((field) => compileFieldPath(field));
    this.entities = new EntityMap(config.max_entities ?? DEFAULTS.max_entities, (key) => this.pending.delete(key), options.entityKeys);
  }

  process(event: HolterEvent, watermarkMs: number): Detection[] {
    if (this.filter(event)) this.add(event);
    return this.advance(watermarkMs);
  }

  advance(watermarkMs: number): Detection[] {
    // Until the watermark reaches an unevaluated event, a pass would evaluate nothing: add() has
    // already dropped what such a pass would drop.
    if (this.pending.size === 0 || watermarkMs < this.nextDueMs) return [];
    const detections: Detection[] = [];
    let nextDueMs = Number.POSITIVE_INFINITY;
    // A copy, because a pass deletes from the set; sorted, so entities are evaluated in a fixed order.
    const keys = this.pending.size === 1 ? this.pending : [...this.pending].sort();
    for (const key of keys) {
      const state = this.entities.get(key);
      if (state === undefined) {
        this.pending.delete(key);
        continue;
      }
      detections.push(...this.evaluate(key, state, watermarkMs));
      const firstUnevaluated = state.entries.find((entry) => !entry.evaluated);
      if (firstUnevaluated === undefined) this.pending.delete(key);
      else nextDueMs = Math.min(nextDueMs, firstUnevaluated.ms);
    }
    this.nextDueMs = nextDueMs;
    this.counters.detections += detections.length;
    return detections;
  }

  flush(_watermarkMs: number): Detection[] {
    return this.advance(Number.POSITIVE_INFINITY);
  }

  stats(): Record<string, number> {
    return { ...this.counters, entities: this.entities.size, entities_evicted: this.entities.evicted };
  }

  /** Returns the entity's typical window sum and the threshold it would meet now, as plain data. */
  describe(entity: string): Record<string, unknown> | undefined {
    const state = this.entities.get(entity);
    if (state === undefined) return undefined;
    const atMs = Number.isNaN(state.lastMs) ? Number.NaN : state.lastMs;
    const threshold = this.thresholdAt(state, atMs);
    return {
      function: 'high_sum',
      field: this.config.field,
      unit: unitOf(this.config),
      window_minutes: this.windowMs / 60_000,
      learned: threshold.typical !== undefined,
      ...(threshold.typical === undefined ? {} : { typical: roundTo(threshold.typical, 2) }),
      threshold: roundTo(threshold.value, 2),
      threshold_source: threshold.source,
      history_days: Math.floor(Number.isNaN(state.firstMs) ? 0 : (state.lastMs - state.firstMs) / DAY_MS),
      history_events: state.learnedEvents,
      buffered_events: state.entries.length,
    };
  }

  private add(event: HolterEvent): void {
    const entity = readEntityOrSkip(event, this.readEntity, this.counters);
    if (entity === undefined) return;
    const ms = readTimeOrSkip(event, this.counters);
    if (Number.isNaN(ms)) return;
    const value = this.readValue(event);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      this.counters.events_invalid_value += 1;
      return;
    }
    this.counters.events_matched += 1;

    const state = this.entities.touch(entity, newEntityState);
    const late = ms < state.evaluatedMs;
    if (late) this.counters.events_late += 1;
    if (ms < state.consumedBeforeMs) return;

    const also: number[] = [];
    for (const readExtra of this.readAlso) {
      const extra = readExtra(event);
      also.push(typeof extra === 'number' && Number.isFinite(extra) ? extra : 0);
    }
    // A late entry ends no window, so it never becomes a trigger and needs no event.
    insertSorted(state.entries, { ms, value, also, id: event.event.id, evaluated: late, event: late ? null : event });
    if (state.entries.length > MAX_ENTRIES_PER_ENTITY) {
      mergeOldest(state.entries);
      this.counters.entries_merged += 1;
    }
    if (!late) {
      this.pending.add(entity);
      this.nextDueMs = Math.min(this.nextDueMs, ms);
    }
    // advance() skips its pass until an event is due, but the pass would drop these entries now.
    if (this.pending.has(entity)) dropUnreachable(state, this.windowMs);
  }

  private evaluate(entity: string, state: EntityState, upToMs: number): Detection[] {
    const detections: Detection[] = [];
    for (const end of state.entries) {
      if (end.ms > upToMs) break;
      if (end.evaluated) continue;
      end.evaluated = true;
      state.evaluatedMs = Math.max(state.evaluatedMs, end.ms);
      if (end.ms < state.consumedBeforeMs) {
        end.event = null;
        continue;
      }
      learnHeldSums(state, end.ms - this.windowMs, this.halfLifeMs);

      const inWindow = (entry: Entry): boolean => entry.ms > end.ms - this.windowMs && entry.ms <= end.ms && entry.ms >= state.consumedBeforeMs;
      // The window's entries are listed only for a detection: most windows stay below the threshold.
      let total = 0;
      for (const entry of state.entries) if (inWindow(entry)) total += entry.value;
      const threshold = this.thresholdAt(state, end.ms);

      if (total >= threshold.value) {
        const windowEntries = state.entries.filter(inWindow);
        const startMs = windowEntries[0]?.ms ?? end.ms;
        detections.push(this.toDetection(entity, state, windowEntries, end, total, threshold, startMs));
        // The burst owns the events up to one window after the event that reached the threshold. The
        // window's first event can be routine work from before the burst, so ending there would let
        // the burst's own tail raise a second detection.
        state.consumedBeforeMs = end.ms + this.windowMs;
        state.heldCount = 0;
        end.event = null;
        continue;
      }
      // Writing at index heldCount overwrites a stale element or appends one.
      state.heldEndMs[state.heldCount] = end.ms;
      state.heldTotals[state.heldCount] = total;
      state.heldCount += 1;
      // Only the entry being evaluated becomes a trigger, so its event is let go once evaluated.
      // Buffered events would otherwise live for a whole window and be copied by young collections.
      end.event = null;
    }

    dropUnreachable(state, this.windowMs);
    return detections;
  }

  private thresholdAt(state: EntityState, ms: number): { value: number; source: ThresholdSource; typical: number | undefined } {
    const { ceiling, floor, factor } = this.config.thresholds;
    const learned =
      state.learnedEvents >= this.config.learning.min_events &&
      state.learnedEvents > 0 &&
      (state.lastMs - state.firstMs) / DAY_MS >= this.config.learning.min_days;
    if (!learned) return { value: ceiling, source: 'ceiling', typical: undefined };

    const typical = decayedTypical(state, ms, this.halfLifeMs);
    const scaled = factor * typical;
    const value = Math.max(floor, scaled);
    if (value >= ceiling) return { value: ceiling, source: 'ceiling', typical };
    return { value, source: scaled >= floor ? 'history' : 'floor', typical };
  }

  private toDetection(
    entity: string,
    state: EntityState,
    inWindow: Entry[],
    trigger: Entry,
    total: number,
    threshold: { value: number; source: ThresholdSource; typical: number | undefined },
    startMs: number,
  ): Detection {
    const unit = unitOf(this.config);
    const windowText = formatWindow(this.windowMs);
    const start = new Date(startMs).toISOString();
    const end = new Date(startMs + this.windowMs).toISOString();
    const typical = threshold.typical === undefined ? undefined : roundTo(threshold.typical, 1);
    const thresholdText = `threshold ${roundTo(threshold.value, 1)} ${unit} (${describeSource(threshold.source, this.config.thresholds)})`;
    const render = (show: ShowValue): string => {
      const who = show(this.config.by, entity);
      const typicalText =
        typical === undefined
          ? `${who} has too little history for a typical value, so only the ceiling applies`
          : `typical for ${who} is at most ${typical} ${unit} in ${windowText}`;
      return `${who} retrieved ${total} ${unit} within ${windowText} starting ${start}; ${typicalText}; ${thresholdText}`;
    };

    const sums: Record<string, number> = {};
    this.alsoFields.forEach((field, index) => {
      sums[field] = inWindow.reduce((sum, entry) => sum + (entry.also[index] ?? 0), 0);
    });

    return {
      rule: this.rule,
      severity: this.config.severity,
      riskScore: this.config.risk_score,
      groupKey: { [this.config.by]: entity },
      window: { start, end },
      explanation: {
        ...summaries(render),
        actual: total,
        ...(typical === undefined ? {} : { typical }),
        threshold: roundTo(threshold.value, 1),
        unit,
        details: {
          field: this.config.field,
          window_minutes: this.windowMs / 60_000,
          threshold_source: threshold.source,
          events: inWindow.length,
          history_days: Math.floor(Number.isNaN(state.firstMs) ? 0 : (state.lastMs - state.firstMs) / DAY_MS),
          history_events: state.learnedEvents,
          ...(this.alsoFields.length === 0 ? {} : { sums }),
        },
      },
      evidence: inWindow.slice(0, this.evidenceLimit).map((entry) => entry.id),
      trigger: trigger.event ?? (inWindow[inWindow.length - 1]?.event as HolterEvent),
      tags: this.config.tags,
    };
  }

  snapshot(): HighSumSnapshot {
    return {
      entities: [...this.entities].map(([key, state]) => [key, saveEntityState(state)]),
      counters: { ...this.counters },
    };
  }

  restore(snapshot: unknown): void {
    const state = snapshot as HighSumSnapshot;
    this.entities.clear();
    this.pending.clear();
    // The next pass evaluates every restored entity, and sets the due time again.
    this.nextDueMs = Number.NEGATIVE_INFINITY;
    for (const [key, entity] of state.entities) {
      const { heldSums, ...fields } = entity;
      const restored: EntityState = {
        ...fields,
        entries: entity.entries.map((entry) => ({ ...entry })),
        heldEndMs: heldSums.map(([ms]) => ms),
        heldTotals: heldSums.map(([, total]) => total),
        heldCount: heldSums.length,
      };
      for (const field of ['evaluatedMs', 'consumedBeforeMs', 'typicalAtMs', 'firstMs', 'lastMs'] as const) {
        // JSON writes -Infinity and NaN as null.
        if (restored[field] === null) restored[field] = field === 'evaluatedMs' || field === 'consumedBeforeMs' ? -Infinity : Number.NaN;
      }
      this.entities.set(key, restored);
      if (restored.entries.some((entry) => !entry.evaluated)) this.pending.add(key);
    }
    Object.assign(this.counters, state.counters);
  }
}

function newEntityState(): EntityState {
  return {
    entries: [],
    heldEndMs: [],
    heldTotals: [],
    heldCount: 0,
    evaluatedMs: Number.NEGATIVE_INFINITY,
    consumedBeforeMs: Number.NEGATIVE_INFINITY,
    typical: 0,
    typicalAtMs: Number.NaN,
    firstMs: Number.NaN,
    lastMs: Number.NaN,
    learnedEvents: 0,
  };
}

/**
 * Copies an entity's state in the snapshot layout, with the fields in the order that snapshots
 * have always listed them.
 */
function saveEntityState(state: EntityState): SavedEntityState {
  const { entries, heldEndMs, heldTotals, heldCount, ...fields } = state;
  const heldSums: Array<[number, number]> = [];
  for (let index = 0; index < heldCount; index += 1) heldSums.push([heldEndMs[index] as number, heldTotals[index] as number]);
  return {
    entries: entries.map((entry) => ({ ...entry })),
    heldSums,
    ...fields,
  };
}

function decayedTypical(state: EntityState, ms: number, halfLifeMs: number): number {
  if (Number.isNaN(state.typicalAtMs) || ms <= state.typicalAtMs) return state.typical;
  return state.typical * Math.pow(2, -(ms - state.typicalAtMs) / halfLifeMs);
}

/** Learns the held window sums that ended at or before `untilMs`. */
function learnHeldSums(state: EntityState, untilMs: number, halfLifeMs: number): void {
  const { heldEndMs, heldTotals } = state;
  let learned = 0;
  while (learned < state.heldCount && (heldEndMs[learned] as number) <= untilMs) {
    learn(state, heldEndMs[learned] as number, heldTotals[learned] as number, halfLifeMs);
    learned += 1;
  }
  if (learned > 0) {
    heldEndMs.copyWithin(0, learned, state.heldCount);
    heldTotals.copyWithin(0, learned, state.heldCount);
    state.heldCount -= learned;
  }
}

function learn(state: EntityState, ms: number, total: number, halfLifeMs: number): void {
  const decayed = decayedTypical(state, ms, halfLifeMs);
  state.typical = Math.max(decayed, total);
  state.typicalAtMs = Number.isNaN(state.typicalAtMs) ? ms : Math.max(state.typicalAtMs, ms);
  state.learnedEvents += 1;
  state.firstMs = Number.isNaN(state.firstMs) ? ms : Math.min(state.firstMs, ms);
  state.lastMs = Number.isNaN(state.lastMs) ? ms : Math.max(state.lastMs, ms);
}

/** Drops the entries before the oldest window still to be evaluated, which ends at or after evaluatedMs. */
function dropUnreachable(state: EntityState, windowMs: number): void {
  const keepAfterMs = state.evaluatedMs - windowMs;
  const firstKept = state.entries.findIndex((entry) => entry.ms > keepAfterMs || !entry.evaluated);
  if (firstKept > 0) state.entries.splice(0, firstKept);
  else if (firstKept < 0) state.entries.length = 0;
}

function insertSorted(entries: Entry[], entry: Entry): void {
  let index = entries.length;
  while (index > 0 && (entries[index - 1] as Entry).ms > entry.ms) index -= 1;
  entries.splice(index, 0, entry);
}

function mergeOldest(entries: Entry[]): void {
  const [first, second] = entries as [Entry, Entry];
  second.value += first.value;
  second.also = second.also.map((value, index) => value + (first.also[index] ?? 0));
  entries.shift();
}

function formatWindow(windowMs: number): string {
  const minutes = windowMs / 60_000;
  return minutes % 60 === 0 ? `${minutes / 60} h` : `${minutes} min`;
}

function describeSource(source: ThresholdSource, thresholds: HighSumConfig['thresholds']): string {
  if (source === 'ceiling') return 'fixed ceiling';
  if (source === 'floor') return 'floor';
  return `${thresholds.factor} x typical`;
}
