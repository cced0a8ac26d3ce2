/**
 * The Sigma detection stage: tests each event against the detection rules of its log
 * source, feeds matches into correlation windows (in event time) and returns detections.
 */
import type { HolterEvent } from '../../event.js';
import type { Detection, DetectionStage } from '../types.js';
import { correlationDetection, singleEventDetection } from './explain.js';
import type { KeywordScan } from './keyword-scan.js';
import { LiteralIndex } from './literal-index.js';
import type { CompiledCorrelation, RuleSet } from './ruleset.js';
import { MatchScope, valueStrings } from './scope.js';
import { readSnapshot, writeSnapshot } from './state.js';
import type { SigmaSnapshot } from './state.js';
import { CorrelationWindows } from './windows.js';
import type { Firing, Hit, WindowsState } from './windows.js';

/** Allowed lateness when the options set none: events up to a minute behind the newest are placed in their windows. */
export const DEFAULT_ALLOWED_LATENESS_MS = 60_000;

// The loaders live in load.ts and are re-exported for callers that import them from this module.
export { compileRuleSet, defaultMappingFile, loadMapping, loadSigmaRules } from './load.js';
export type { SigmaLoadResult, SigmaLoadStats, SigmaOptions } from './load.js';

export class SigmaStage implements DetectionStage {
  readonly name = 'sigma';
  private currentRuleSet: RuleSet;
  private windows: CorrelationWindows[] = [];
  private readonly allowedLatenessMs: number;
  private maxEventTimeMs = Number.NEGATIVE_INFINITY;
  private sequence = 0;
  /** Index field -> lower-cased value -> the literal index of the rules under that key, split from the rule set's `path\0value` keys once. */
  private indexLookup: { parts: string[]; buckets: Map<string, LiteralIndex> }[] = [];
  /** Literal index of the rules tested on events of every log source. */
  private unindexed = new LiteralIndex([]);
  /** The keyword scans that the literal indexes defer to, run once per event after the indexes (one per rule set). */
  private keywordScans: KeywordScan[] = [];
  /** False only for the reference path of the tests: every rule of the event's log source is then evaluated. */
  private readonly prefilter: boolean;
  /** Per rule, the number of the last event whose candidate list took it: marks rules already added without a Set per event. */
  private candidateMarks = new Uint32Array(0);
  private candidateStamp = 0;
  /** Hits dropped by windows that a rule replacement or restore has since discarded. */
  private retiredDroppedHits = 0;
  /** Reused for every event: process() reads it before the next call to candidates(). */
  private readonly candidateList: number[] = [];
  private readonly counters = {
    events: 0,
    late_events: 0,
    late_correlation_hits: 0,
    events_invalid_time: 0,
    hits_without_group_key: 0,
    detections: 0,
    rule_matches: 0,
    /**
     * Rule matches and correlation firings whose detections were not returned: informational
     * rules, and rules that correlations refer to without generate: true.
     */
    detections_suppressed: 0,
    /** Correlations that got their windows back from a restore or a rule replacement. */
    correlation_states_kept: 0,
    /** Saved or previous correlation windows discarded because no correlation has their fingerprint any more. */
    correlation_states_dropped: 0,
  };

  /**
   * Ids of rules whose detections are returned even when the rule set suppresses them, so that
   * inline rule tests can observe informational and referenced rules. Empty in a run.
   */
  private readonly returnSuppressed: ReadonlySet<string>;

  constructor(ruleSet: RuleSet, options: { allowedLatenessMs?: number; prefilter?: boolean; returnSuppressed?: Iterable<string> } = {}) {
    this.currentRuleSet = ruleSet;
    this.allowedLatenessMs = options.allowedLatenessMs ?? DEFAULT_ALLOWED_LATENESS_MS;
    this.prefilter = options.prefilter ?? true;
    this.returnSuppressed = new Set(options.returnSuppressed ?? []);
    this.install(ruleSet, new Map());
  }

  get ruleSet(): RuleSet {
    return this.currentRuleSet;
  }

  /** Returns the correlation windows and the stage clock as versioned plain JSON (see state.ts). */
  snapshot(): SigmaSnapshot {
    const states = this.windows.map((windows) => windows.state());
    return writeSnapshot(this.ruleSet, states, { maxEventTimeMs: this.maxEventTimeMs, sequence: this.sequence });
  }

  /**
   * Replaces the correlation state with a snapshot's. Correlations whose fingerprint the snapshot
   * contains get their windows back; the others start empty. Throws HOLTER_STATE_VERSION, leaving the
   * stage unchanged, when the snapshot has another version or is malformed.
   */
  restore(state: unknown): void {
    const restored = readSnapshot(state);
    this.install(this.ruleSet, restored.windows);
    this.maxEventTimeMs = restored.maxEventTimeMs;
    this.sequence = Math.max(this.sequence, restored.sequence);
  }

  /**
   * Swaps in a new rule set for hot reload. Correlations whose fingerprint did not change keep
   * their open windows; the others start empty. The watermark and the counters carry on.
   */
  replaceRuleSet(ruleSet: RuleSet): void {
    const previous = new Map<string, WindowsState>();
    this.ruleSet.correlations.forEach((correlation, index) => {
      if (!previous.has(correlation.fingerprint)) previous.set(correlation.fingerprint, (this.windows[index] as CorrelationWindows).state());
    });
    this.install(ruleSet, previous);
  }

  /**
   * Builds every per-rule-set structure first and assigns them last, so a stage never runs with a
   * rule set and windows that do not belong together.
   */
  private install(ruleSet: RuleSet, states: Map<string, WindowsState>): void {
    const adopted = new Set<string>();
    const windows = ruleSet.correlations.map((correlation) => {
      const state = states.get(correlation.fingerprint);
      if (state === undefined) return new CorrelationWindows(correlation.rule);
      // Two correlations with the same logic must not share mutable groups.
      const own = adopted.has(correlation.fingerprint) ? copyState(state) : state;
      adopted.add(correlation.fingerprint);
      return CorrelationWindows.withState(correlation.rule, own);
    });
    const literalsOf = (rule: number): RuleSet['rules'][number]['literals'] => (this.prefilter ? (ruleSet.rules[rule]?.literals ?? null) : null);
    const literalIndex = (rules: number[]): LiteralIndex => new LiteralIndex(rules.map((rule) => ({ rule, clauses: literalsOf(rule) })));
    const indexLookup = splitIndex(ruleSet, literalIndex);
    const unindexed = literalIndex(ruleSet.unindexed);
    const candidateMarks = new Uint32Array(ruleSet.rules.length);
    const keywordScans = new Set<KeywordScan>();
    for (const index of [unindexed, ...indexLookup.flatMap(({ buckets }) => [...buckets.values()])]) {
      if (index.sharedKeywordScan !== undefined) keywordScans.add(index.sharedKeywordScan);
    }

    this.retiredDroppedHits += this.windows.reduce((sum, previous) => sum + previous.droppedHits, 0);
    this.counters.correlation_states_kept += [...ruleSet.correlations].filter((correlation) => states.has(correlation.fingerprint)).length;
    this.counters.correlation_states_dropped += [...states.keys()].filter((fingerprint) => !adopted.has(fingerprint)).length;
    this.currentRuleSet = ruleSet;
    this.windows = windows;
    this.indexLookup = indexLookup;
    this.unindexed = unindexed;
    this.keywordScans = [...keywordScans];
    this.candidateMarks = candidateMarks;
    this.candidateStamp = 0;
  }

  process(event: HolterEvent, watermarkMs: number): Detection[] {
    this.counters.events++;
    const timeMs = Date.parse(event['@timestamp']);
    const validTime = Number.isFinite(timeMs);
    if (!validTime) this.counters.events_invalid_time++;

    const watermarkBefore = this.watermark(watermarkMs);
    const late = validTime && timeMs < watermarkBefore;
    if (late) this.counters.late_events++;
    if (validTime && timeMs > this.maxEventTimeMs) this.maxEventTimeMs = timeMs;
    const watermark = this.watermark(watermarkMs);

    const detections: Detection[] = [];
    const scope = new MatchScope(event);
    for (const ruleIndex of this.candidates(scope)) {
      const compiled = this.ruleSet.rules[ruleIndex];
      if (!compiled?.logsource?.predicate(scope) || !compiled.detection(scope)) continue;
      this.counters.rule_matches++;
      if (this.ruleSet.ruleEmits[ruleIndex] || this.returnSuppressed.has(compiled.info.id)) detections.push(singleEventDetection(compiled, event));
      else this.counters.detections_suppressed++;

      const consumers = this.ruleSet.ruleConsumers[ruleIndex] ?? [];
      if (consumers.length === 0 || !validTime) continue;
      if (late) {
        this.counters.late_correlation_hits += consumers.length;
        continue;
      }
      const hit = { timeMs, evidence: [event.event.id], event, accessor: compiled.accessor };
      for (const consumer of consumers) {
        const fired = this.feed(consumer.correlation, consumer.reference, hit, watermark);
        if (fired.length > 0) detections.push(...fired);
      }
    }

    const closed = this.advance(watermark, false);
    if (closed.length > 0) detections.push(...closed);
    this.counters.detections += detections.length;
    return detections;
  }

  flush(watermarkMs: number): Detection[] {
    // End of input: no event can still arrive, so every window has its final content.
    const detections = this.advance(Math.max(watermarkMs, Number.POSITIVE_INFINITY), true);
    this.counters.detections += detections.length;
    return detections;
  }

  stats(): Record<string, number> {
    return {
      ...this.counters,
      rules_loaded: this.ruleSet.rules.length,
      correlations_loaded: this.ruleSet.correlations.length,
      rules_unmapped_logsource: this.ruleSet.unmappedRules,
      filters_applied: this.ruleSet.filtersApplied,
      correlation_groups: this.windows.reduce((sum, windows) => sum + windows.groupCount, 0),
      correlation_hits_dropped: this.retiredDroppedHits + this.windows.reduce((sum, windows) => sum + windows.droppedHits, 0),
    };
  }

  /** Returns the later of the caller's watermark and this stage's own (newest event time minus allowed lateness). */
  private watermark(callerWatermarkMs: number): number {
    const own = this.maxEventTimeMs - this.allowedLatenessMs;
    return Number.isNaN(callerWatermarkMs) ? own : Math.max(callerWatermarkMs, own);
  }

  /**
   * Returns the rules whose log source index keys the event carries and the unindexed rules, each
   * once and in rule order. Rules whose required literals the event does not pass are left out.
   */
  private candidates(scope: MatchScope): number[] {
    const found = this.candidateList;
    found.length = 0;
    if (++this.candidateStamp === 0xffffffff) {
      this.candidateMarks.fill(0);
      this.candidateStamp = 1;
    }
    this.unindexed.collect(scope, this.addCandidate, true);
    for (const { parts, buckets } of this.indexLookup) {
      const value = readPath(scope.event, parts);
      if (value !== undefined && value !== null) this.addIndexed(scope, buckets, value);
    }
    for (const scan of this.keywordScans) scan.flush(scope);
    sortAscending(found);
    return found;
  }

  /** Adds the rules indexed under a value; array elements count one by one, as valueStrings reads them. */
  private addIndexed(scope: MatchScope, buckets: Map<string, LiteralIndex>, value: unknown): void {
    if (Array.isArray(value)) {
      for (const element of value) if (element !== undefined && element !== null) this.addIndexed(scope, buckets, element);
      return;
    }
    let text: string;
    if (typeof value === 'string') text = value;
    else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') text = String(value);
    else return;
    buckets.get(text.toLowerCase())?.collect(scope, this.addCandidate, true);
  }

  private readonly addCandidate = (rule: number): void => {
    if (this.candidateMarks[rule] === this.candidateStamp) return;
    this.candidateMarks[rule] = this.candidateStamp;
    this.candidateList.push(rule);
  };

  private feed(correlationIndex: number, reference: number, source: Omit<Hit, 'reference' | 'sequence'>, watermark: number): Detection[] {
    const correlation = this.ruleSet.correlations[correlationIndex] as CompiledCorrelation;
    const group = groupOf(correlation, reference, source);
    if (group === undefined) {
      this.counters.hits_without_group_key++;
      return [];
    }

    // A literal with every key, not a spread: hits are created per match and keep one shape.
    const hit: Hit = { timeMs: source.timeMs, sequence: ++this.sequence, reference, evidence: source.evidence, event: source.event, accessor: source.accessor };
    const valueFields = correlation.valueFields[reference];
    if (valueFields !== undefined) {
      const value = hitValue(correlation, source, valueFields);
      if (value === undefined) return [];
      hit.value = value;
    }
    const firings = (this.windows[correlationIndex] as CorrelationWindows).add(hit, group.id, group.key, watermark);
    return firings.length === 0 ? NO_DETECTIONS : this.fire(correlationIndex, firings, watermark);
  }

  /** Detections for the firings, and the firings passed on to correlations that refer to this one. */
  private fire(correlationIndex: number, firings: Firing[], watermark: number): Detection[] {
    const correlation = this.ruleSet.correlations[correlationIndex] as CompiledCorrelation;
    const detections: Detection[] = [];
    const emits = this.ruleSet.correlationEmits[correlationIndex] === true || this.returnSuppressed.has(correlation.info.id);
    for (const firing of firings) {
      // Built even when suppressed, because correlations fed by this one take its evidence.
      const detection = correlationDetection(correlation.rule, correlation.info, correlation.referenceTitles, firing);
      if (emits) detections.push(detection);
      else this.counters.detections_suppressed++;

      const trigger = firing.trigger;
      const forwarded = { timeMs: trigger.timeMs, evidence: detection.evidence, event: trigger.event, accessor: trigger.accessor };
      for (const consumer of this.ruleSet.correlationConsumers[correlationIndex] ?? []) {
        // NOTE: a close-evaluated correlation (upper bound, value_avg, value_percentile) fires after
        // the watermark passed its window, so its trigger is always late here and correlations
        // built on it are fed only at flush.
        if (trigger.timeMs < watermark && Number.isFinite(watermark)) {
          this.counters.late_correlation_hits++;
          continue;
        }
        detections.push(...this.feed(consumer.correlation, consumer.reference, forwarded, watermark));
      }
    }
    return detections;
  }

  private advance(watermark: number, force: boolean): Detection[] {
    let detections: Detection[] | undefined;
    for (let index = 0; index < this.windows.length; index++) {
      const firings = (this.windows[index] as CorrelationWindows).advance(watermark, force);
      if (firings.length === 0) continue;
      detections ??= [];
      detections.push(...this.fire(index, firings, watermark));
    }
    return detections ?? [];
  }
}

/** Copies a state's groups so that a second owner's changes do not reach the first. */
function copyState(state: WindowsState): WindowsState {
  const groups = new Map([...state.groups].map(([id, group]) => [id, { ...group, hits: [...group.hits] }]));
  return { groups, nextSweepMs: state.nextSweepMs };
}

function readPath(event: HolterEvent, parts: string[]): unknown {
  let current: unknown = event;
  for (const part of parts) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** Shared empty result of `feed`; callers only read it. */
const NO_DETECTIONS: Detection[] = [];

/**
 * Sorts rule numbers in place. An event has a few dozen candidates at most, mostly in order
 * already, and Array.prototype.sort allocates a work buffer on every call.
 */
function sortAscending(numbers: number[]): void {
  for (let index = 1; index < numbers.length; index++) {
    const value = numbers[index] as number;
    let position = index - 1;
    while (position >= 0 && (numbers[position] as number) > value) {
      numbers[position + 1] = numbers[position] as number;
      position--;
    }
    numbers[position + 1] = value;
  }
}

/** Splits the rule set's `path\0value` index keys into one value map per index field, in index field order. */
function splitIndex(ruleSet: RuleSet, literalIndex: (rules: number[]) => LiteralIndex): { parts: string[]; buckets: Map<string, LiteralIndex> }[] {
  const byField = new Map<string, Map<string, LiteralIndex>>(ruleSet.indexFields.map((field) => [field, new Map()]));
  for (const [key, rules] of ruleSet.index) {
    const separator = key.indexOf('\u0000');
    const buckets = byField.get(key.slice(0, separator));
    if (buckets !== undefined) buckets.set(key.slice(separator + 1), literalIndex(rules));
  }
  return [...byField].map(([field, buckets]) => ({ parts: field.split('.'), buckets }));
}

function groupOf(correlation: CompiledCorrelation, reference: number, hit: Omit<Hit, 'reference' | 'sequence'>): { id: string; key: Record<string, string> } | undefined {
  const fields = correlation.groupFields[reference] ?? [];
  const groupBy = correlation.rule.groupBy;
  const key: Record<string, string> = {};
  const values: string[] = [];
  for (let position = 0; position < groupBy.length; position++) {
    const strings = valueStrings(hit.accessor(fields[position] as string)(hit.event));
    if (strings === undefined || strings.length === 0) return undefined;
    const value = strings.length === 1 ? (strings[0] as string) : strings.join(',');
    key[groupBy[position] as string] = value;
    values.push(value);
  }
  return { id: JSON.stringify(values), key };
}

/**
 * Returns the value a hit adds to a value correlation, or undefined when the event lacks a field.
 * Several fields (value_count only) give one value per combination: the JSON list of the fields'
 * values, which no two different combinations share.
 */
function hitValue(correlation: CompiledCorrelation, hit: Omit<Hit, 'reference' | 'sequence'>, fields: string[]): string | number | undefined {
  if (fields.length !== 1) {
    const combination: string[] = [];
    for (const field of fields) {
      const strings = valueStrings(hit.accessor(field)(hit.event));
      if (strings === undefined || strings.length === 0) return undefined;
      combination.push(strings.join(','));
    }
    return JSON.stringify(combination);
  }
  const strings = valueStrings(hit.accessor(fields[0] as string)(hit.event));
  if (strings === undefined || strings.length === 0) return undefined;
  if (correlation.rule.type === 'value_count' || correlation.rule.type === 'value_percentile') return strings.join(',');
  const number = Number(strings[0]);
  return Number.isFinite(number) ? number : undefined;
}
