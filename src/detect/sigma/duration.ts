/**
 * Durations written in rules, detectors and inline tests (`90s`, `5m`, `1h`, `30d`), and the
 * largest value each setting accepts. Every duration is bounded when its file loads, so that a
 * typo such as `99999999999999d` is a located error and not a crash later. A JavaScript Date
 * represents at most 8.64e15 ms either side of the epoch, and a window end past that is an
 * invalid date. docs/rules.md and docs/detectors.md list the same limits.
 */

export const DAY_MS = 86_400_000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS };

/**
 * Largest value, in days, of each duration setting. A year is the longest period that a window,
 * a history or `min_days` is meant to cover. Buckets and `high_sum` windows are limited to a
 * week, because learning what is typical needs many of them. A half-life of ten years already
 * keeps a year-old event at 93% of its weight, which is how a detector turns decay almost off.
 */
export const MAX_DURATION_DAYS = {
  'correlation.timespan': 365,
  bucket_span: 7,
  window: 7,
  history: 365,
  'learning.min_days': 365,
  'learning.half_life_days': 3650,
  /** Offsets (`at`) and intervals (`every`) in the timeline of an inline test. */
  'holter.tests': 365,
  /** Entity risk (config/risk.yaml): a window's `length`, and `half_life` at the top or per window. */
  'risk.length': 365,
  'risk.half_life': 3650,
} as const;

export type DurationSetting = keyof typeof MAX_DURATION_DAYS;

/**
 * Converts a duration of one number and one unit (ms, s, m, h or d) to milliseconds. The caller
 * has matched the text against its own pattern. A text of any other form gives NaN.
 */
export function durationMs(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (match === null) return Number.NaN;
  return Number(match[1]) * (UNIT_MS[match[2] as string] ?? Number.NaN);
}

/** Returns the largest value of a setting, written as a duration such as `365d`. */
export function maxDurationText(setting: DurationSetting): string {
  return `${MAX_DURATION_DAYS[setting]}d`;
}

/** Tells whether a length in milliseconds is within the largest value of the setting. */
export function isWithinMaxDuration(setting: DurationSetting, lengthMs: number): boolean {
  return lengthMs <= MAX_DURATION_DAYS[setting] * DAY_MS;
}
