/**
 * Event-time window state for one correlation rule: per group, the hits (matches of the
 * referenced rules) kept in event-time order, and the decision of when a window fires.
 *
 * Windows include their start and exclude their end. A window starts at a hit (its anchor)
 * and lasts the correlation's timespan.
 *
 * Conditions with only lower bounds (gt, gte) fire as soon as they hold. Conditions with
 * an upper bound (lt, lte, eq, neq, ranges), value_avg and value_percentile are evaluated
 * once the watermark passes the window's end, or at flush. Those windows follow one another:
 * the next starts at the first hit after the previous window, so the sparse tail of a busy
 * stream does not count as "fewer than N".
 *
 * After a group fires, it cannot fire again until the fired window has ended.
 * NOTE: windows that fire at once depend on arrival order when events arrive out of order:
 * a hit arriving late (within the allowed lateness) cannot move an earlier firing.
 */
import type { HolterEvent } from '../../event.js';
import type { FieldAccessor } from './fields.js';
import type { ComparisonOperator, CorrelationRule } from './model.js';

/** One match of a referenced rule (or correlation) fed into a correlation. */
export interface Hit {
  timeMs: number;
  /** Arrival order, to order hits with the same event time. */
  sequence: number;
  /** Index of the referenced rule in the correlation's `rules` list. */
  reference: number;
  evidence: string[];
  event: HolterEvent;
  /** Reads Sigma field names as the originating detection rule maps them. */
  accessor(field: string): FieldAccessor;
  /** Value of `condition.field` for value_count, value_sum, value_avg and value_percentile. */
  value?: string | number;
}

export interface Firing {
  groupKey: Record<string, string>;
  startMs: number;
  endMs: number;
  /** Hits inside the window, oldest first. */
  hits: Hit[];
  /** The measured number the condition was checked against. */
  actual: number;
  trigger: Hit;
  /** value_percentile: the value whose share of the window met the condition. */
  value?: string;
  /** value_percentile: the number of events in the window, the base of the share. */
  total?: number;
}

/** A window whose condition holds: the measured number and the hits that make it. */
interface Measurement {
  actual: number;
  hits: Hit[];
  value?: string;
  total?: number;
}

/** Window state of one group. Hits keep their events and accessors; snapshots project them (state.ts). */
export interface GroupState {
  key: Record<string, string>;
  hits: Hit[];
  /** End of the last window that fired; no window may start before it. */
  firedUntilMs: number;
  /** Close-evaluated types: the next window starts at the first hit at or after this time. */
  nextAnchorMs: number;
}

/** Hits kept per group at most; beyond it the oldest hit is dropped and counted. */
export const MAX_HITS_PER_GROUP = 10_000;

/** The state of one correlation's windows: what a snapshot saves and a rule replacement keeps. */
export interface WindowsState {
  /** Group id (the JSON array of group-by values) -> state. */
  groups: Map<string, GroupState>;
  /** Watermark below which `advance` does not sweep again. */
  nextSweepMs: number;
}

export class CorrelationWindows {
  private readonly groups = new Map<string, GroupState>();
  private readonly immediate: boolean;
  private nextSweepMs = Number.NEGATIVE_INFINITY;
  droppedHits = 0;

  constructor(readonly rule: CorrelationRule) {
    const comparisons = rule.condition?.comparisons ?? [];
    const lowerBoundsOnly = comparisons.every((comparison) => comparison.operator === 'gt' || comparison.operator === 'gte');
    this.immediate = lowerBoundsOnly && rule.type !== 'value_avg' && rule.type !== 'value_percentile';
  }

  /** Builds the windows of a correlation from saved or carried-over state of one with the same fingerprint. */
  static withState(rule: CorrelationRule, state: WindowsState): CorrelationWindows {
    const windows = new CorrelationWindows(rule);
    for (const [id, group] of state.groups) windows.groups.set(id, group);
    windows.nextSweepMs = state.nextSweepMs;
    return windows;
  }

  get groupCount(): number {
    return this.groups.size;
  }

  /** Returns the live state (not a copy): callers read it to snapshot, or hand it to withState. */
  state(): WindowsState {
    return { groups: this.groups, nextSweepMs: this.nextSweepMs };
  }

  /** Adds a hit that is not late; returns the window it completed, if any. */
  add(hit: Hit, groupId: string, groupKey: Record<string, string>, watermarkMs: number): Firing[] {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = { key: groupKey, hits: [], firedUntilMs: Number.NEGATIVE_INFINITY, nextAnchorMs: Number.NEGATIVE_INFINITY };
      this.groups.set(groupId, group);
    }
    insertSorted(group.hits, hit);
    if (group.hits.length > MAX_HITS_PER_GROUP) {
      group.hits.shift();
      this.droppedHits++;
    }

    if (!this.immediate) return [];
    const firing = this.evaluateAround(group, hit);
    this.prune(group, watermarkMs);
    return firing ? [firing] : [];
  }

  /**
   * Evaluates windows that closed at or before the watermark and drops state that no
   * future window can use. Unless forced, it returns at once until the watermark has moved
   * a sweep interval (1 s or a twentieth of the timespan) past the previous sweep.
   */
  advance(watermarkMs: number, force = false): Firing[] {
    if (!force && watermarkMs < this.nextSweepMs) return [];
    this.nextSweepMs = watermarkMs + Math.max(1000, Math.floor(this.rule.timespanMs / 20));

    const firings: Firing[] = [];
    for (const [id, group] of this.groups) {
      if (!this.immediate) firings.push(...this.evaluateClosed(group, watermarkMs));
      this.prune(group, watermarkMs);
      if (group.hits.length === 0 && group.firedUntilMs <= watermarkMs) this.groups.delete(id);
    }
    return firings;
  }

  private isAnchor(hit: Hit): boolean {
    return this.rule.type !== 'temporal_ordered' || hit.reference === 0;
  }

  /**
   * Immediate types: the earliest window containing the new hit whose condition holds.
   * Anchors are tried in time order, so each window's end only moves forward: the measure is
   * kept for the current range as hits enter and leave it, and a window is copied out only
   * when it fires. The result is the same as measuring a fresh copy of every window.
   */
  private evaluateAround(group: GroupState, hit: Hit): Firing | undefined {
    const span = this.rule.timespanMs;
    const hits = group.hits;
    const ordered = this.rule.type === 'temporal_ordered';
    const range = new RangeMeasure(this.rule);
    const start = firstAfter(hits, hit.timeMs - span);
    let end = start;

    for (let index = start; index < hits.length; index++) {
      const anchor = hits[index] as Hit;
      if (anchor.timeMs > hit.timeMs) break;
      if (anchor.timeMs < group.firedUntilMs || !this.isAnchor(anchor)) continue;
      // Outside temporal_ordered, anchors with the same time have the same window, which the
      // first of them was already tested with.
      if (!ordered && index > start && (hits[index - 1] as Hit).timeMs === anchor.timeMs) continue;

      const windowEnd = anchor.timeMs + span;
      if (end < index) end = index;
      while (end < hits.length && (hits[end] as Hit).timeMs < windowEnd) end++;
      const actual = range.measure(hits, index, end);
      if (!this.holds(actual)) continue;

      group.firedUntilMs = windowEnd;
      return { groupKey: group.key, startMs: anchor.timeMs, endMs: windowEnd, actual, hits: hits.slice(index, end), trigger: hit };
    }
    return undefined;
  }

  /** Close-evaluated types: every anchor whose window ended at or before the watermark. */
  private evaluateClosed(group: GroupState, watermarkMs: number): Firing[] {
    const span = this.rule.timespanMs;
    const firings: Firing[] = [];
    for (let index = 0; index < group.hits.length; index++) {
      const anchor = group.hits[index] as Hit;
      if (anchor.timeMs + span > watermarkMs) break;
      if (anchor.timeMs < group.nextAnchorMs || anchor.timeMs < group.firedUntilMs || !this.isAnchor(anchor)) continue;

      group.nextAnchorMs = anchor.timeMs + span;
      const measurement = this.evaluate(this.windowFrom(group.hits, index));
      if (measurement === undefined) continue;
      group.firedUntilMs = anchor.timeMs + span;
      const trigger = measurement.hits[measurement.hits.length - 1] as Hit;
      firings.push({ groupKey: group.key, startMs: anchor.timeMs, endMs: anchor.timeMs + span, ...measurement, trigger });
    }
    return firings;
  }

  /** Hits in [anchor time, anchor time + timespan), starting at the anchor's position. */
  private windowFrom(hits: Hit[], anchorIndex: number): Hit[] {
    const anchor = hits[anchorIndex] as Hit;
    const end = anchor.timeMs + this.rule.timespanMs;
    let first = anchorIndex;
    while (first > 0 && (hits[first - 1] as Hit).timeMs === anchor.timeMs) first--;
    if (this.rule.type === 'temporal_ordered') first = anchorIndex;
    let last = anchorIndex;
    while (last < hits.length && (hits[last] as Hit).timeMs < end) last++;
    return hits.slice(first, last);
  }

  /** Returns the measurement of a window when its condition holds. */
  private evaluate(window: Hit[]): Measurement | undefined {
    if (this.rule.type === 'value_percentile') return this.rarestShare(window);
    const actual = this.measure(window);
    return this.holds(actual) ? { actual, hits: window } : undefined;
  }

  /**
   * value_percentile: the share, in percent, of the window's events that carry each value of
   * the field. Returns the smallest share that meets the condition (the first seen on a tie),
   * with the hits of that value.
   */
  private rarestShare(window: Hit[]): Measurement | undefined {
    const byValue = hitsByValue(window);
    const total = window.length;
    let rarest: Measurement | undefined;
    for (const [value, hits] of byValue) {
      const share = (100 * hits.length) / total;
      if (!this.holds(share)) continue;
      if (rarest === undefined || share < rarest.actual) rarest = { actual: share, hits, value, total };
    }
    return rarest;
  }

  /** Computes the number the condition is checked against, per correlation type. */
  measure(window: Hit[]): number {
    switch (this.rule.type) {
      case 'event_count':
        return window.length;
      case 'value_count':
        return new Set(window.filter((hit) => hit.value !== undefined).map((hit) => String(hit.value))).size;
      case 'value_sum':
        return window.reduce((sum, hit) => sum + (typeof hit.value === 'number' ? hit.value : 0), 0);
      case 'value_avg': {
        const numbers = window.filter((hit) => typeof hit.value === 'number');
        return numbers.length === 0 ? Number.NaN : numbers.reduce((sum, hit) => sum + (hit.value as number), 0) / numbers.length;
      }
      case 'temporal':
        return new Set(window.map((hit) => hit.reference)).size;
      case 'temporal_ordered':
        return orderedPrefixLength(window, this.rule.rules.length);
      case 'value_percentile': {
        // The smallest share of any value; rarestShare checks every value against the condition.
        const counts = [...hitsByValue(window).values()].map((hits) => hits.length);
        return counts.length === 0 ? Number.NaN : (100 * Math.min(...counts)) / window.length;
      }
    }
  }

  holds(actual: number): boolean {
    if (Number.isNaN(actual)) return false;
    const comparisons = this.rule.condition?.comparisons ?? [{ operator: 'gte' as const, value: this.rule.rules.length }];
    return comparisons.every(({ operator, value }) => meetsComparison(operator, actual, value));
  }

  private prune(group: GroupState, watermarkMs: number): void {
    const oldest = watermarkMs - this.rule.timespanMs;
    let drop = 0;
    while (drop < group.hits.length && (group.hits[drop] as Hit).timeMs <= oldest) drop++;
    if (drop > 0) group.hits.splice(0, drop);
  }
}

/** Counts how many of the rules 0, 1, 2... appear in that order in the window (greedy, earliest first). */
function orderedPrefixLength(window: Hit[], ruleCount: number): number {
  let next = 0;
  for (const hit of window) {
    if (hit.reference === next) next++;
    if (next === ruleCount) break;
  }
  return next;
}

/** Groups a window's hits by value (hits without a value are never added to value windows). */
function hitsByValue(window: Hit[]): Map<string, Hit[]> {
  const byValue = new Map<string, Hit[]>();
  for (const hit of window) {
    const key = String(hit.value);
    const hits = byValue.get(key);
    if (hits === undefined) byValue.set(key, [hit]);
    else hits.push(hit);
  }
  return byValue;
}

/** Index of the first hit later than `timeMs` (hits are in time order), or the length when none is. */
function firstAfter(hits: Hit[], timeMs: number): number {
  let low = 0;
  let high = hits.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((hits[middle] as Hit).timeMs <= timeMs) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The measure of the immediate correlation types over a range of hits that only moves forward.
 * Distinct counts (value_count, temporal) keep a count per key as hits enter and leave the range.
 * The other measures are computed over the range in order, as `CorrelationWindows.measure` computes them over a window.
 */
class RangeMeasure {
  private readonly counts = new Map<unknown, number>();
  private low = 0;
  private high = 0;

  constructor(private readonly rule: CorrelationRule) {}

  measure(hits: Hit[], from: number, to: number): number {
    switch (this.rule.type) {
      case 'event_count':
        return to - from;
      case 'value_count':
      case 'temporal':
        this.slide(hits, from, to);
        return this.counts.size;
      case 'value_sum': {
        let sum = 0;
        for (let index = from; index < to; index++) {
          const value = (hits[index] as Hit).value;
          sum += typeof value === 'number' ? value : 0;
        }
        return sum;
      }
      case 'temporal_ordered': {
        let next = 0;
        for (let index = from; index < to && next < this.rule.rules.length; index++) if ((hits[index] as Hit).reference === next) next++;
        return next;
      }
      default:
        throw new Error(`Correlation type ${this.rule.type} is evaluated when its window closes, not per hit`);
    }
  }

  private slide(hits: Hit[], from: number, to: number): void {
    if (from < this.low || to < this.high) throw new Error('RangeMeasure ranges must only move forward');
    if (this.high <= from) {
      // Every counted hit leaves the range, so counting starts afresh at `from`.
      this.counts.clear();
      this.low = from;
      this.high = from;
    }
    for (; this.high < to; this.high++) {
      const key = this.key(hits[this.high] as Hit);
      if (key !== undefined) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    }
    for (; this.low < from; this.low++) {
      const key = this.key(hits[this.low] as Hit);
      if (key === undefined) continue;
      const count = (this.counts.get(key) as number) - 1;
      if (count === 0) this.counts.delete(key);
      else this.counts.set(key, count);
    }
  }

  private key(hit: Hit): unknown {
    if (this.rule.type === 'temporal') return hit.reference;
    return hit.value === undefined ? undefined : String(hit.value);
  }
}

function insertSorted(hits: Hit[], hit: Hit): void {
  let index = hits.length;
  while (index > 0) {
    const previous = hits[index - 1] as Hit;
    if (previous.timeMs < hit.timeMs || (previous.timeMs === hit.timeMs && previous.sequence < hit.sequence)) break;
    index--;
  }
  hits.splice(index, 0, hit);
}

/** Applies one comparison of a correlation condition to a window's value. */
export function meetsComparison(operator: ComparisonOperator, actual: number, value: number): boolean {
  switch (operator) {
    case 'gt':
      return actual > value;
    case 'gte':
      return actual >= value;
    case 'lt':
      return actual < value;
    case 'lte':
      return actual <= value;
    case 'eq':
      return actual === value;
    case 'neq':
      return actual !== value;
  }
}
