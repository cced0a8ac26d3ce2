import { HOUR_MS } from './local-time.js';
import type { LocalClock } from './local-time.js';

/**
 * Seasonal typical values of the bucket functions: one learned mean and standard deviation per
 * local hour of the week (168 slots) or per local day of the week (7 slots). A weekday worker's
 * Mondays are then judged against Mondays, and the zeros of nights and weekends stay in their own
 * slots.
 *
 * Each slot is an exponentially weighted mean and variance with the detector's half-life. A
 * series learns every bucket from its first one on, so a slot is learned once a week, or once per
 * bucket of the hour for buckets shorter than an hour. Its number of updates follows from the
 * start of the profile, so the profile stores no weights. A slot is two 16-bit codes in pages
 * shared by all series of a detector, so a series costs an index and not a typed array of its own.
 * While a slot has few weeks behind it, its typical value is shrunk toward the series' flat
 * decayed mean and variance.
 */

export const SEASONALITIES = ['none', 'auto', 'hour_of_week', 'day_of_week'] as const;
export type Seasonality = (typeof SEASONALITIES)[number];
export type SeasonalMode = 'hour_of_week' | 'day_of_week';

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** Slack when counting whole weeks between two buckets of a slot: a daylight-saving change moves a local hour by one UTC hour. */
const WEEK_SLACK_MS = 2 * HOUR_MS;
/** Weeks of learned history that weigh as much as the flat prior: a slot with n weeks takes the share n / (n + 0.5). */
const PRIOR_WEEKS = 0.5;
/**
 * Half-lives of empty buckets learned per gap, at most. What a slot learned before them then
 * weighs 2^-10 (about 0.1%) of the slot, so learning older zeros would barely change it.
 */
const MAX_GAP_HALF_LIVES = 10;
/** Profiles per page of codes. */
const PROFILES_PER_PAGE = 256;
const DAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/**
 * Codes are log2(1 + value) in steps of 1/1024, so a decoded value is off by at most 0.04% of
 * (1 + value), from 0 up to about 1.8e19.
 */
const CODE_STEPS_PER_OCTAVE = 1024;
const MAX_CODE = 65_535;

export function encodeValue(value: number): number {
  if (!(value > 0)) return 0;
  return Math.min(MAX_CODE, Math.round(Math.log2(1 + value) * CODE_STEPS_PER_OCTAVE));
}

export function decodeValue(code: number): number {
  return code === 0 ? 0 : Math.pow(2, code / CODE_STEPS_PER_OCTAVE) - 1;
}

/**
 * Resolves `seasonality` for a bucket span. `auto` picks hours of the week for spans that divide a
 * day, days of the week for 1d, and none for longer or uneven spans, whose buckets do not fall on
 * the same local hour or weekday each week. Returns a message for a combination that cannot work.
 */
export function seasonalModeOf(seasonality: Seasonality, spanMs: number, spanText: string): { mode: SeasonalMode | undefined } | { error: string } {
  const hourly = spanMs < DAY_MS && DAY_MS % spanMs === 0;
  if (seasonality === 'none') return { mode: undefined };
  if (seasonality === 'auto') {
    if (hourly) return { mode: 'hour_of_week' };
    return { mode: spanMs === DAY_MS ? 'day_of_week' : undefined };
  }
  if (seasonality === 'hour_of_week' && !hourly) {
    return { error: `seasonality hour_of_week needs a bucket_span shorter than a day that divides it, such as 1h or 4h, but bucket_span is ${spanText}; use day_of_week for 1d, or none` };
  }
  if (seasonality === 'day_of_week' && spanMs !== DAY_MS) {
    return { error: `seasonality day_of_week needs bucket_span 1d, but bucket_span is ${spanText}; use hour_of_week for shorter spans, or none` };
  }
  return { mode: seasonality };
}

/** The slots of one seasonal mode and bucket span, how buckets map to them, and the codes of every profile. */
export class SeasonalSlots {
  readonly mode: SeasonalMode;
  readonly count: number;
  private readonly spanMs: number;
  /** Buckets per slot and week: more than 1 only for spans shorter than an hour. */
  readonly bucketsPerSlot: number;
  /** Decay factor of one update of a slot, from the half-life. */
  private readonly retained: number;
  private readonly maxGapMs: number;
  private readonly clock: LocalClock;
  /** Codes per profile: a mean and a standard deviation per slot. */
  private readonly width: number;
  private pages: Uint16Array[] = [];
  /** Indexes of released profiles, reused before new ones. */
  private free: number[] = [];
  private allocated = 0;

  constructor(mode: SeasonalMode, spanMs: number, halfLifeMs: number, clock: LocalClock) {
    this.mode = mode;
    this.count = mode === 'hour_of_week' ? 168 : 7;
    this.spanMs = spanMs;
    this.bucketsPerSlot = mode === 'hour_of_week' && spanMs < HOUR_MS ? HOUR_MS / spanMs : 1;
    this.retained = Math.pow(2, -WEEK_MS / this.bucketsPerSlot / halfLifeMs);
    this.maxGapMs = Math.ceil((MAX_GAP_HALF_LIVES * halfLifeMs) / WEEK_MS) * WEEK_MS;
    this.clock = clock;
    this.width = this.count * 2;
  }

  /** Creates an empty profile in the shared pages. */
  allocate(): SeasonalProfile {
    const reused = this.free.pop();
    if (reused !== undefined) return new SeasonalProfile(reused);
    const index = this.allocated;
    this.allocated += 1;
    if (index % PROFILES_PER_PAGE === 0) this.pages.push(new Uint16Array(PROFILES_PER_PAGE * this.width));
    return new SeasonalProfile(index);
  }

  /** Zeroes the codes of a profile no longer used (its series was evicted) for reuse. */
  release(profile: SeasonalProfile): void {
    const offset = this.offsetOf(profile, 0);
    this.pageOf(profile).fill(0, offset, offset + this.width);
    this.free.push(profile.index);
  }

  /** Releases every profile, before a restore. */
  clear(): void {
    this.pages = [];
    this.free = [];
    this.allocated = 0;
  }

  /** Returns code `position` (2 * slot for the mean, 2 * slot + 1 for the standard deviation) of a profile. */
  codeAt(profile: SeasonalProfile, position: number): number {
    return this.pageOf(profile)[this.offsetOf(profile, position)] as number;
  }

  setCode(profile: SeasonalProfile, position: number, code: number): void {
    this.pageOf(profile)[this.offsetOf(profile, position)] = code;
  }

  private pageOf(profile: SeasonalProfile): Uint16Array {
    return this.pages[Math.floor(profile.index / PROFILES_PER_PAGE)] as Uint16Array;
  }

  private offsetOf(profile: SeasonalProfile, position: number): number {
    return (profile.index % PROFILES_PER_PAGE) * this.width + position;
  }

  /**
   * Returns the slot of the bucket starting at `startMs`: the local hour or weekday, in `zone`, of
   * the bucket's middle. Buckets are aligned to UTC, so a 1d bucket is a UTC day, named by the
   * local weekday at 12:00 UTC.
   */
  slotOf(startMs: number, zone: string): number {
    const local = this.clock.localHour(startMs + this.spanMs / 2, zone);
    return this.mode === 'hour_of_week' ? local.hourOfWeek : Math.floor(local.hourOfWeek / 24);
  }

  /** Names a slot for an explanation: `Tuesdays` or `Tuesdays 09:00-10:00`. */
  labelOf(slot: number): string {
    if (this.mode === 'day_of_week') return `${DAY_NAMES[slot] ?? '?'}s`;
    const hour = slot % 24;
    const next = (hour + 1) % 24;
    return `${DAY_NAMES[Math.floor(slot / 24)] ?? '?'}s ${pad(hour)}:00-${pad(next)}:00`;
  }

  /** Updates of a slot learned before `atMs` in a profile started at `startMs`. */
  updatesBefore(profile: SeasonalProfile, atMs: number): number {
    if (Number.isNaN(profile.startMs) || atMs < profile.startMs) return 0;
    return Math.floor((atMs - profile.startMs + WEEK_SLACK_MS) / WEEK_MS) * this.bucketsPerSlot;
  }

  /** Learning rate of the update after `updates` earlier ones: 1 / (decayed number of updates), as DecayedStats weighs them. */
  rateAfter(updates: number): number {
    if (this.retained >= 1) return 1 / (updates + 1);
    return (1 - this.retained) / (1 - Math.pow(this.retained, updates + 1));
  }

  /** Earliest bucket of a gap ending at `untilMs` that is worth learning as a zero. */
  gapStartMs(fromMs: number, untilMs: number): number {
    const earliest = untilMs - this.maxGapMs;
    if (fromMs >= earliest) return fromMs;
    return Math.ceil(earliest / this.spanMs) * this.spanMs;
  }
}

/** A typical value of one slot, as judged. */
export interface SlotTypical {
  slot: number;
  mean: number;
  variance: number;
  /** Weeks of the slot learned before the judged bucket. */
  weeks: number;
}

export interface SeasonalProfileSnapshot {
  mode: SeasonalMode;
  startMs: number | null;
  /** Mean and standard-deviation codes of every slot, 16-bit little-endian, base64. */
  codes: string;
}

/** One series' learned slots, whose codes live in the pages of its SeasonalSlots. */
export class SeasonalProfile {
  /** Start of the first bucket learned; NaN before it. */
  startMs = Number.NaN;
  readonly index: number;

  constructor(index: number) {
    this.index = index;
  }

  /** Learns one bucket of `slots` at weight `weight` (below 1 for a bucket that raised a detection). */
  learn(slots: SeasonalSlots, startMs: number, zone: string, value: number, weight: number): void {
    if (Number.isNaN(this.startMs)) this.startMs = startMs;
    const slot = slots.slotOf(startMs, zone);
    const meanCode = slots.codeAt(this, 2 * slot);
    const sdCode = slots.codeAt(this, 2 * slot + 1);
    // A zero leaves a slot that only ever learned zeros (a night hour) unchanged.
    if (value === 0 && meanCode === 0 && sdCode === 0) return;

    const rate = Math.min(1, weight * slots.rateAfter(slots.updatesBefore(this, startMs)));
    const mean = decodeValue(meanCode);
    const sd = decodeValue(sdCode);

    // Exponentially weighted mean and variance (West's incremental form).
    const delta = value - mean;
    const nextMean = mean + rate * delta;
    const nextVariance = (1 - rate) * (sd * sd + rate * delta * delta);
    slots.setCode(this, 2 * slot, encodeValue(nextMean));
    slots.setCode(this, 2 * slot + 1, encodeValue(Math.sqrt(nextVariance)));
  }

  /** Learns the empty buckets from `fromMs` to `untilMs` as zeros, at most MAX_GAP_HALF_LIVES of them. */
  learnZeros(slots: SeasonalSlots, fromMs: number, untilMs: number, spanMs: number, zone: string, isExcluded: (startMs: number) => boolean): void {
    for (let startMs = slots.gapStartMs(fromMs, untilMs); startMs < untilMs; startMs += spanMs) {
      if (!isExcluded(startMs)) this.learn(slots, startMs, zone, 0, 1);
    }
  }

  /**
   * Returns the typical value of the slot of the bucket at `startMs`. A slot learned for `n` weeks
   * takes the share n / (n + 0.5); the rest comes from the flat prior mean and variance.
   */
  typical(slots: SeasonalSlots, startMs: number, zone: string, priorMean: number, priorVariance: number): SlotTypical {
    const slot = slots.slotOf(startMs, zone);
    const weeks = slots.updatesBefore(this, startMs) / slots.bucketsPerSlot;
    const share = weeks / (weeks + PRIOR_WEEKS);
    const mean = decodeValue(slots.codeAt(this, 2 * slot));
    const sd = decodeValue(slots.codeAt(this, 2 * slot + 1));
    return {
      slot,
      mean: share * mean + (1 - share) * priorMean,
      variance: share * sd * sd + (1 - share) * priorVariance,
      weeks,
    };
  }

  snapshot(slots: SeasonalSlots): SeasonalProfileSnapshot {
    const bytes = Buffer.alloc(slots.count * 4);
    for (let position = 0; position < slots.count * 2; position += 1) bytes.writeUInt16LE(slots.codeAt(this, position), position * 2);
    return { mode: slots.mode, startMs: Number.isNaN(this.startMs) ? null : this.startMs, codes: bytes.toString('base64') };
  }

  /**
   * Restores a profile of `slots`. A profile of another mode or slot count (the detector's
   * seasonality or bucket_span changed) is dropped, so the series relearns its slots from its flat
   * mean.
   */
  static restore(snapshot: SeasonalProfileSnapshot | null | undefined, slots: SeasonalSlots): SeasonalProfile | undefined {
    if (snapshot === null || snapshot === undefined || snapshot.mode !== slots.mode) return undefined;
    const bytes = Buffer.from(snapshot.codes, 'base64');
    if (bytes.length !== slots.count * 4) return undefined;
    const profile = slots.allocate();
    for (let position = 0; position < slots.count * 2; position += 1) slots.setCode(profile, position, bytes.readUInt16LE(position * 2));
    profile.startMs = snapshot.startMs ?? Number.NaN;
    return profile;
  }
}

function pad(hour: number): string {
  return String(hour).padStart(2, '0');
}
