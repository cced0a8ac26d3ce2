/**
 * Decayed mean and variance of an entity's bucket values, and the tail probability and score
 * that judge a new value against them.
 *
 * Every learned bucket has weight 1 when learned, and all weights halve every half-life of event
 * time, so old behaviour fades. Mean and variance are the weighted ones (West's incremental
 * update), so the state is four numbers whatever the length of the history.
 */

const LN10 = Math.LN10;

export interface DecayedStatsSnapshot {
  weight: number;
  mean: number;
  m2: number;
  referenceMs: number | null;
}

export class DecayedStats {
  /** Sum of the decayed weights of the learned buckets. */
  weight = 0;
  mean = 0;
  /** Weighted sum of squared differences from the mean. */
  m2 = 0;
  /** Event time to which the weights are decayed; NaN before the first bucket. */
  referenceMs = Number.NaN;

  /** Adds one bucket value at `ms` with weight `weight` (1 for a usual bucket), after decaying what was learned before. */
  add(ms: number, value: number, halfLifeMs: number, weight = 1): void {
    this.decayTo(ms, halfLifeMs);
    this.merge(weight * Math.pow(2, -(this.referenceMs - ms) / halfLifeMs), value, 0);
  }

  /**
   * Adds `count` empty buckets, the last of which ends at `lastMs`, each `spanMs` apart. Their
   * decayed weights form a geometric series, so a gap of any length costs the same.
   */
  addZeros(lastMs: number, count: number, spanMs: number, halfLifeMs: number): void {
    if (count <= 0) return;
    this.decayTo(lastMs, halfLifeMs);
    const ratio = Math.pow(2, -spanMs / halfLifeMs);
    const newest = Math.pow(2, -(this.referenceMs - lastMs) / halfLifeMs);
    const weight = ratio >= 1 ? newest * count : (newest * (1 - Math.pow(ratio, count))) / (1 - ratio);
    this.merge(weight, 0, 0);
  }

  /** Variance of the learned values; 0 before two buckets. */
  variance(): number {
    return this.weight > 0 ? Math.max(0, this.m2 / this.weight) : 0;
  }

  /** Decayed weight as seen at `ms`: the number of recent buckets the statistics rest on. */
  weightAt(ms: number, halfLifeMs: number): number {
    if (Number.isNaN(this.referenceMs) || ms <= this.referenceMs) return this.weight;
    return this.weight * Math.pow(2, -(ms - this.referenceMs) / halfLifeMs);
  }

  snapshot(): DecayedStatsSnapshot {
    return { weight: this.weight, mean: this.mean, m2: this.m2, referenceMs: Number.isNaN(this.referenceMs) ? null : this.referenceMs };
  }

  static restore(snapshot: DecayedStatsSnapshot): DecayedStats {
    const stats = new DecayedStats();
    stats.weight = snapshot.weight;
    stats.mean = snapshot.mean;
    stats.m2 = snapshot.m2;
    stats.referenceMs = snapshot.referenceMs ?? Number.NaN;
    return stats;
  }

  /** Merges a batch of `weight` with mean `mean` and squared differences `m2` (parallel variance). */
  private merge(weight: number, mean: number, m2: number): void {
    if (weight <= 0) return;
    const total = this.weight + weight;
    const delta = mean - this.mean;
    this.mean += (delta * weight) / total;
    this.m2 += m2 + (delta * delta * this.weight * weight) / total;
    this.weight = total;
  }

  private decayTo(ms: number, halfLifeMs: number): void {
    if (Number.isNaN(this.referenceMs)) {
      this.referenceMs = ms;
      return;
    }
    if (ms <= this.referenceMs) return;
    const factor = Math.pow(2, -(ms - this.referenceMs) / halfLifeMs);
    this.weight *= factor;
    this.m2 *= factor;
    this.referenceMs = ms;
  }
}

/**
 * Natural log of the upper tail of the standard normal distribution, P(Z >= z). It uses the
 * Chebyshev fit of erfc with a fractional error below 1.2e-7 at every z, so the logarithm stays
 * accurate far into the tail, where 1 - cdf(z) would round to 0.
 */
export function logUpperTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const poly =
    -1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  // erfc(x) = t * exp(-x^2 + poly); P(Z >= z) = erfc(z / sqrt 2) / 2.
  const logErfc = Math.log(t) - x * x + poly;
  if (z >= 0) return logErfc - Math.LN2;
  return Math.log1p(-Math.exp(logErfc) / 2);
}

/** The side of the distribution a function judges. */
export type Side = 'high' | 'low';

export interface Judged {
  /** Probability of a value at least this far out on `side`, 0 to 1. */
  probability: number;
  /** 0 to 100: 10 points per factor of ten that the probability falls below 1. */
  score: number;
}

/**
 * Judges `actual` against a normal distribution of `mean` and `variance`. Counts use a continuity
 * correction of half a unit, because P(X >= 5) of a count is the area above 4.5.
 */
export function judgeValue(actual: number, mean: number, variance: number, side: Side, discrete: boolean): Judged {
  const sd = Math.sqrt(Math.max(variance, Number.MIN_VALUE));
  let corrected = actual;
  if (discrete) corrected = side === 'high' ? actual - 0.5 : actual + 0.5;
  const z = side === 'high' ? (corrected - mean) / sd : (mean - corrected) / sd;
  const logProbability = logUpperTail(z);
  return { probability: Math.exp(logProbability), score: scoreOf(logProbability) };
}

/** Maps the natural log of a probability to the 0-100 score: 10 points per factor of ten. */
export function scoreOf(logProbability: number): number {
  const points = (-logProbability / LN10) * 10;
  return Math.max(0, Math.min(100, Math.round(points * 10) / 10));
}

/**
 * Returns the value at which a bucket reaches `minScore` on `side`: the decision boundary, for
 * the explanation's `threshold`.
 */
export function thresholdFor(minScore: number, mean: number, variance: number, side: Side, discrete: boolean): number {
  const sd = Math.sqrt(Math.max(variance, Number.MIN_VALUE));
  const targetLog = (-minScore / 10) * LN10;
  // logUpperTail falls monotonically in z, so bisection finds the z with the target probability.
  let low = -10;
  let high = 40;
  for (let step = 0; step < 60; step += 1) {
    const middle = (low + high) / 2;
    if (logUpperTail(middle) > targetLog) low = middle;
    else high = middle;
  }
  const offset = high * sd;
  const correction = discrete ? 0.5 : 0;
  return side === 'high' ? mean + offset + correction : mean - offset - correction;
}
