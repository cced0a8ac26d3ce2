/**
 * The values of one field that an entity (or a peer group) used recently, with decayed counts:
 * the memory behind `first_seen` and `rare`.
 *
 * Values unused for longer than the history window are forgotten, and past `maxValues` the value
 * used least recently is forgotten, so memory stays bounded. The map keeps values in the order of
 * their last use, which makes both checks O(1) per event.
 *
 * Counts decay with a half-life without touching every value on each event: each use adds
 * 2^((time - anchor) / half-life), so all counts carry the same factor and shares stay exact. The
 * anchor moves forward (rescaling every count once) before the factor could overflow.
 */

/** Rescale when the inflation factor passes 2^REBASE_EXPONENT, far below float64's 2^1023. */
const REBASE_EXPONENT = 256;

export interface KnownValue {
  lastMs: number;
  /** Inflated count (see the class comment). */
  count: number;
}

export interface KnownValuesSnapshot {
  values: Array<[string, number, number]>;
  anchorMs: number | null;
  total: number;
  firstMs: number | null;
  lastMs: number | null;
  events: number;
  peer: string | null;
}

export class KnownValues {
  private values = new Map<string, KnownValue>();
  private anchorMs = Number.NaN;
  /** Inflated sum of the counts of the values kept. */
  private total = 0;
  firstMs = Number.NaN;
  lastMs = Number.NaN;
  /** Events learned (not decayed). */
  events = 0;
  /** Peer group of the latest event, for describe. */
  peer: string | undefined;

  get size(): number {
    return this.values.size;
  }

  /** Returns the value's entry unless it was not used within `historyMs` before `ms`. */
  lookUp(value: string, ms: number, historyMs: number): KnownValue | undefined {
    const known = this.values.get(value);
    return known !== undefined && known.lastMs > ms - historyMs ? known : undefined;
  }

  /** Share of the value among the decayed uses of all values kept, 0 to 1. */
  shareOf(known: KnownValue | undefined): number {
    return known === undefined || this.total <= 0 ? 0 : known.count / this.total;
  }

  /** Estimated probability that the next event uses a value not seen before: values per decayed use. */
  newValueProbability(ms: number, halfLifeMs: number): number {
    const uses = Number.isNaN(this.anchorMs) ? 0 : this.total / Math.pow(2, (ms - this.anchorMs) / halfLifeMs);
    return (this.values.size + 1) / (uses + this.values.size + 1);
  }

  /** Returns the most used values, most used first. */
  top(limit: number): Array<{ value: string; share: number; lastMs: number }> {
    return [...this.values]
      .sort((a, b) => b[1].count - a[1].count)
      .slice(0, limit)
      .map(([value, known]) => ({ value, share: this.shareOf(known), lastMs: known.lastMs }));
  }

  /** Learns one use of `value` at `ms`, then forgets what fell out of the window or the bound. */
  learn(value: string, ms: number, halfLifeMs: number, historyMs: number, maxValues: number): void {
    if (Number.isNaN(this.anchorMs)) this.anchorMs = ms;
    if ((ms - this.anchorMs) / halfLifeMs > REBASE_EXPONENT) this.rebase(ms, halfLifeMs);
    const weight = Math.pow(2, (ms - this.anchorMs) / halfLifeMs);

    const known = this.values.get(value);
    if (known !== undefined) {
      // Delete and set again, so the map stays in the order of last use.
      this.values.delete(value);
      known.count += weight;
      known.lastMs = Math.max(known.lastMs, ms);
      this.values.set(value, known);
    } else {
      this.values.set(value, { lastMs: ms, count: weight });
    }
    this.total += weight;
    this.events += 1;
    this.firstMs = Number.isNaN(this.firstMs) ? ms : Math.min(this.firstMs, ms);
    this.lastMs = Number.isNaN(this.lastMs) ? ms : Math.max(this.lastMs, ms);
    this.forget(this.lastMs - historyMs, maxValues);
  }

  /** Days between the first and the last learned event. */
  historyDays(): number {
    return Number.isNaN(this.firstMs) ? 0 : (this.lastMs - this.firstMs) / 86_400_000;
  }

  isLearned(minDays: number, minEvents: number): boolean {
    return this.events >= minEvents && this.events > 0 && this.historyDays() >= minDays;
  }

  snapshot(): KnownValuesSnapshot {
    return {
      values: [...this.values].map(([value, known]) => [value, known.lastMs, known.count]),
      anchorMs: Number.isNaN(this.anchorMs) ? null : this.anchorMs,
      total: this.total,
      firstMs: Number.isNaN(this.firstMs) ? null : this.firstMs,
      lastMs: Number.isNaN(this.lastMs) ? null : this.lastMs,
      events: this.events,
      peer: this.peer ?? null,
    };
  }

  static restore(snapshot: KnownValuesSnapshot): KnownValues {
    const known = new KnownValues();
    for (const [value, lastMs, count] of snapshot.values) known.values.set(value, { lastMs, count });
    known.anchorMs = snapshot.anchorMs ?? Number.NaN;
    known.total = snapshot.total;
    known.firstMs = snapshot.firstMs ?? Number.NaN;
    known.lastMs = snapshot.lastMs ?? Number.NaN;
    known.events = snapshot.events;
    known.peer = snapshot.peer ?? undefined;
    return known;
  }

  /** Forgets values last used at or before `beforeMs`, and the least recently used past `maxValues`. */
  private forget(beforeMs: number, maxValues: number): void {
    for (const [value, known] of this.values) {
      if (known.lastMs > beforeMs && this.values.size <= maxValues) break;
      this.values.delete(value);
      this.total -= known.count;
    }
    if (this.values.size === 0) this.total = 0;
  }

  private rebase(ms: number, halfLifeMs: number): void {
    const factor = Math.pow(2, -(ms - this.anchorMs) / halfLifeMs);
    for (const known of this.values.values()) known.count *= factor;
    this.total *= factor;
    this.anchorMs = ms;
  }
}
