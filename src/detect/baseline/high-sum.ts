import { compileFieldPath } from '../../event.js';
import type { FieldReader, HolterEvent } from '../../event.js';
import { summaries } from '../pager.js';
import type { ShowValue } from '../pager.js';
import type { Detection, RuleInfo } from '../types.js';
import { NO_DETECTIONS, readEntityOrSkip, readTimeOrSkip, roundTo } from './detector.js';
import type { BaselineDetector } from './detector.js';
import { EntityMap } from './entities.js';
import type { EntityKeys } from './entities.js';
import { EntryBuffer } from './high-sum-entries.js';
import type { SavedEntry } from './high-sum-entries.js';
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

interface EntityState {
  entries: EntryBuffer;
  /** Latest window end evaluated; events before it are late. */
  evaluatedMs: number;
  /** Events before this time were consumed by a detection. */
  consumedBeforeMs: number;
  /**
   * Window sums not yet learned, oldest first: the first `heldCount` pairs of `heldPairs` are
   * their end times and sums, at indices 2i and 2i + 1. Elements past those pairs are stale. One
   * array in place of two saves about 180 bytes per entity. The array never shrinks, because V8 can free an array's storage when its length drops to 0, and storage
   * allocated again for each event lived a whole window and was copied by young collections.
   */
  heldPairs: number[];
  heldCount: number;
  /** Decayed maximum of past window sums, decayed to `typicalAtMs`. */
  typical: number;
  typicalAtMs: number;
  firstMs: number;
  lastMs: number;
  learnedEvents: number;
  /** Whether the entity has entries not evaluated yet, and so its key is in `pendingKeys`. */
  pending: boolean;
}

type ThresholdSource = 'ceiling' | 'history' | 'floor';

/**
 * An entity's state as snapshots save it: each entry as an object and the held window sums as
 * [end ms, sum] pairs.
 */
interface SavedEntityState extends Omit<EntityState, 'entries' | 'heldPairs' | 'heldCount' | 'pending'> {
  entries: SavedEntry[];
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
  /**
   * Keys of the entities with entries not yet evaluated, at indices below `pendingCount`. An
   * evicted entity's key stays until the next pass, and may then be listed twice if the entity
   * came back. A Set in place of this array allocated on nearly every delete that emptied it
   * (Node 20, sampled allocations), so the array never shrinks.
   */
  private readonly pendingKeys: string[] = [];
  private pendingCount = 0;
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
    this.entities = new EntityMap(config.max_entities ?? DEFAULTS.max_entities, undefined, options.entityKeys);
  }

  process(event: HolterEvent, watermarkMs: number): Detection[] {
    if (this.filter(event)) this.add(event);
    return this.advance(watermarkMs);
  }

  advance(watermarkMs: number): Detection[] {
    // Until the watermark reaches an unevaluated event, a pass would evaluate nothing: add() has
    // already dropped what such a pass would drop.
    if (this.pendingCount === 0 || watermarkMs < this.nextDueMs) return NO_DETECTIONS;
    const detections: Detection[] = [];
    let nextDueMs = Number.POSITIVE_INFINITY;
    // Sorted, so entities are evaluated in a fixed order. A copy, because the pass writes the keys
    // still pending back to the array. A single key needs no copy, because the pass reads it
    // before writing it back.
    const count = this.pendingCount;
    const keys = count === 1 ? this.pendingKeys : this.pendingKeys.slice(0, count).sort();
    this.pendingCount = 0;
    for (let index = 0; index < count; index += 1) {
      const key = keys[index] as string;
      // Sorting puts the two keys of an entity that was evicted and came back next to each other.
      if (index > 0 && key === keys[index - 1]) continue;
      // A key whose entity was evicted finds no state, or the state of the entity that came back.
      const state = this.entities.get(key);
      if (state === undefined || !state.pending) continue;
      this.evaluate(key, state, watermarkMs, detections);
      const firstUnevaluated = state.entries.firstUnevaluated();
      if (firstUnevaluated < 0) {
        state.pending = false;
        continue;
      }
      this.pendingKeys[this.pendingCount] = key;
      this.pendingCount += 1;
      nextDueMs = Math.min(nextDueMs, state.entries.msAt(firstUnevaluated));
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
      buffered_events: state.entries.count,
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

    // touchKnown and add, because touch would need a closure per event to pass the also_sum count.
    const state = this.entities.touchKnown(entity) ?? this.entities.add(entity, newEntityState(this.readAlso.length));
    const late = ms < state.evaluatedMs;
    if (late) this.counters.events_late += 1;
    if (ms < state.consumedBeforeMs) return;

    // A late entry ends no window, so it never becomes a trigger and needs no event.
    const { entries } = state;
    const index = entries.insert(ms, value, event.event.id, late, late ? null : event);
    for (let field = 0; field < this.readAlso.length; field += 1) {
      const extra = (this.readAlso[field] as FieldReader)(event);
      if (typeof extra === 'number' && Number.isFinite(extra)) entries.setAlso(index, field, extra);
    }
    if (entries.count > MAX_ENTRIES_PER_ENTITY) {
      entries.mergeOldest();
      this.counters.entries_merged += 1;
    }
    if (!late) {
      if (!state.pending) {
        state.pending = true;
        this.pendingKeys[this.pendingCount] = entity;
        this.pendingCount += 1;
      }
      this.nextDueMs = Math.min(this.nextDueMs, ms);
    }
    // advance() skips its pass until an event is due, but the pass would drop these entries now.
    if (state.pending) dropUnreachable(state, this.windowMs);
  }

  /** Evaluates the windows that end at the entity's unevaluated entries up to `upToMs`, and appends detections. */
  private evaluate(entity: string, state: EntityState, upToMs: number, detections: Detection[]): void {
    const { entries } = state;
    for (let end = 0; end < entries.count; end += 1) {
      const endMs = entries.msAt(end);
      if (endMs > upToMs) break;
      if (entries.isEvaluated(end)) continue;
      entries.markEvaluated(end);
      state.evaluatedMs = Math.max(state.evaluatedMs, endMs);
      if (endMs < state.consumedBeforeMs) {
        entries.releaseEvent(end);
        continue;
      }
      learnHeldSums(state, endMs - this.windowMs, this.halfLifeMs);

      // Entries are sorted by time, so the window's entries are the indices from windowFrom up to,
      // but not including, windowTo. The sum adds them in index order, as a scan of all would.
      const windowFrom = firstInWindow(entries, endMs - this.windowMs, state.consumedBeforeMs);
      let windowTo = windowFrom;
      let total = 0;
      while (windowTo < entries.count && entries.msAt(windowTo) <= endMs) {
        total += entries.valueAt(windowTo);
        windowTo += 1;
      }
      const threshold = this.thresholdAt(state, endMs);

      if (total >= threshold.value) {
        detections.push(this.toDetection(entity, state, { from: windowFrom, to: windowTo, end, total }, threshold));
        // The burst owns the events up to one window after the event that reached the threshold. The
        // window's first event can be routine work from before the burst, so ending there would let
        // the burst's own tail raise a second detection.
        state.consumedBeforeMs = endMs + this.windowMs;
        state.heldCount = 0;
        entries.releaseEvent(end);
        continue;
      }
      // Writing the pair at index heldCount overwrites stale elements or appends two.
      state.heldPairs[2 * state.heldCount] = endMs;
      state.heldPairs[2 * state.heldCount + 1] = total;
      state.heldCount += 1;
      // Only the entry being evaluated becomes a trigger, so its event is let go once evaluated.
      // Buffered events would otherwise live for a whole window and be copied by young collections.
      entries.releaseEvent(end);
    }

    dropUnreachable(state, this.windowMs);
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
    window: { from: number; to: number; end: number; total: number },
    threshold: { value: number; source: ThresholdSource; typical: number | undefined },
  ): Detection {
    const { entries } = state;
    const { from, to, total } = window;
    const startMs = from < to ? entries.msAt(from) : entries.msAt(window.end);
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
    this.alsoFields.forEach((field, fieldIndex) => {
      let sum = 0;
      for (let index = from; index < to; index += 1) sum += entries.alsoAt(index, fieldIndex);
      sums[field] = sum;
    });
    const evidence: string[] = [];
    for (let index = from; index < Math.min(to, from + this.evidenceLimit); index += 1) evidence.push(entries.idAt(index));

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
          events: to - from,
          history_days: Math.floor(Number.isNaN(state.firstMs) ? 0 : (state.lastMs - state.firstMs) / DAY_MS),
          history_events: state.learnedEvents,
          ...(this.alsoFields.length === 0 ? {} : { sums }),
        },
      },
      evidence,
      trigger: entries.eventAt(window.end) ?? (entries.eventAt(to - 1) as HolterEvent),
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
    this.pendingCount = 0;
    // The next pass evaluates every restored entity, and sets the due time again.
    this.nextDueMs = Number.NEGATIVE_INFINITY;
    for (const [key, entity] of state.entities) {
      const { heldSums, ...fields } = entity;
      const entries = new EntryBuffer(this.readAlso.length);
      for (const entry of entity.entries) entries.append(entry);
      const restored: EntityState = {
        ...fields,
        entries,
        heldPairs: heldSums.flat(),
        heldCount: heldSums.length,
        pending: false,
      };
      for (const field of ['evaluatedMs', 'consumedBeforeMs', 'typicalAtMs', 'firstMs', 'lastMs'] as const) {
        // JSON writes -Infinity and NaN as null.
        if (restored[field] === null) restored[field] = field === 'evaluatedMs' || field === 'consumedBeforeMs' ? -Infinity : Number.NaN;
      }
      this.entities.set(key, restored);
      if (entries.firstUnevaluated() >= 0) {
        restored.pending = true;
        this.pendingKeys[this.pendingCount] = key;
        this.pendingCount += 1;
      }
    }
    Object.assign(this.counters, state.counters);
  }
}

function newEntityState(alsoCount: number): EntityState {
  return {
    entries: new EntryBuffer(alsoCount),
    heldPairs: [],
    heldCount: 0,
    evaluatedMs: Number.NEGATIVE_INFINITY,
    consumedBeforeMs: Number.NEGATIVE_INFINITY,
    typical: 0,
    typicalAtMs: Number.NaN,
    firstMs: Number.NaN,
    lastMs: Number.NaN,
    learnedEvents: 0,
    pending: false,
  };
}

/**
 * Copies an entity's state in the snapshot layout, with the fields in the order that snapshots
 * have always listed them.
 */
function saveEntityState(state: EntityState): SavedEntityState {
  const { entries, heldPairs, heldCount, pending, ...fields } = state;
  const heldSums: Array<[number, number]> = [];
  for (let index = 0; index < heldCount; index += 1) heldSums.push([heldPairs[2 * index] as number, heldPairs[2 * index + 1] as number]);
  const savedEntries: SavedEntry[] = [];
  for (let index = 0; index < entries.count; index += 1) savedEntries.push(entries.saved(index));
  return {
    entries: savedEntries,
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
  const { heldPairs } = state;
  let learned = 0;
  while (learned < state.heldCount && (heldPairs[2 * learned] as number) <= untilMs) {
    learn(state, heldPairs[2 * learned] as number, heldPairs[2 * learned + 1] as number, halfLifeMs);
    learned += 1;
  }
  if (learned > 0) {
    heldPairs.copyWithin(0, 2 * learned, 2 * state.heldCount);
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
  const { entries } = state;
  const keepAfterMs = state.evaluatedMs - windowMs;
  let firstKept = 0;
  while (firstKept < entries.count && entries.msAt(firstKept) <= keepAfterMs && entries.isEvaluated(firstKept)) firstKept += 1;
  if (firstKept > 0) entries.dropOldest(firstKept);
}

/** Returns the index of the first entry after `afterMs` and at or after `fromMs`, or the count if none is. */
function firstInWindow(entries: EntryBuffer, afterMs: number, fromMs: number): number {
  let index = 0;
  while (index < entries.count && (entries.msAt(index) <= afterMs || entries.msAt(index) < fromMs)) index += 1;
  return index;
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
