import { IANAZone } from 'luxon';

/**
 * The local wall-clock hour that an instant falls in, in one IANA time zone. Read-only because
 * LocalClock hands the same object to every caller whose instant falls in the same local hour.
 */
export interface LocalHour {
  /** UTC instant (ms) at which this local hour starts. */
  readonly startMs: number;
  /** 0 = Monday 00:00-01:00 local, 167 = Sunday 23:00-24:00 local. */
  readonly hourOfWeek: number;
  /** 0-23. */
  readonly hour: number;
  /** True on Saturday and Sunday. */
  readonly weekend: boolean;
  /** Local date as days since 1970-01-01. */
  readonly day: number;
}

export const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
export const HOURS_PER_WEEK = 168;

/** Offsets are cached per zone and 15-minute slot; the cache is cleared when it reaches this size. */
const OFFSET_CACHE_MAX_ENTRIES = 200_000;
const SLOT_MS = 15 * 60_000;

/**
 * Converts instants to local wall-clock hours with the IANA rules (via luxon), so a day worker's
 * 07:00 stays 07:00 across daylight-saving changes. The repeated hour in autumn becomes two local
 * hours with the same label and different starts. The skipped hour in spring never occurs.
 *
 * NOTE: offsets are cached per 15-minute slot, which is exact for every zone whose transitions fall
 * on a quarter hour (all current IANA zones); a transition inside a slot would be seen late.
 */
export class LocalClock {
  private readonly zones = new Map<string, IANAZone | null>();
  /** Zone name -> 15-minute slot (ms / SLOT_MS) -> offset in minutes. */
  private readonly offsets = new Map<string, Map<number, number>>();
  private cachedOffsets = 0;
  /** The last slot looked up: consecutive events mostly share a zone and a quarter hour. */
  private lastZoneName: string | undefined;
  private lastSlot = Number.NaN;
  private lastOffset = 0;
  /**
   * The last local hour returned. Its fields depend only on the local hour's start and the UTC
   * offset, so an instant with both equal gets the same object back instead of a new one.
   */
  private lastHour: LocalHour | undefined;
  private lastHourLocalStartMs = Number.NaN;
  private lastHourOffsetMs = Number.NaN;

  isValidZone(zone: string): boolean {
    return this.zone(zone) !== null;
  }

  /** Returns the local hour of `ms` in `zone`; the zone must be valid (see isValidZone). */
  localHour(ms: number, zone: string): LocalHour {
    const offsetMs = this.offsetMinutes(ms, zone) * 60_000;
    const localMs = ms + offsetMs;
    const localHourStart = Math.floor(localMs / HOUR_MS) * HOUR_MS;
    if (localHourStart === this.lastHourLocalStartMs && offsetMs === this.lastHourOffsetMs) return this.lastHour as LocalHour;

    // Calendar fields by arithmetic, as getUTCHours and getUTCDay would give them: 1970-01-01 was a Thursday.
    const hour = positiveModulo(Math.floor(localHourStart / HOUR_MS), 24);
    const day = Math.floor(localHourStart / DAY_MS);
    const weekday = positiveModulo(day + 3, 7);
    const localHour: LocalHour = {
      startMs: localHourStart - offsetMs,
      hourOfWeek: weekday * 24 + hour,
      hour,
      weekend: weekday >= 5,
      day,
    };
    this.lastHour = localHour;
    this.lastHourLocalStartMs = localHourStart;
    this.lastHourOffsetMs = offsetMs;
    return localHour;
  }

  private offsetMinutes(ms: number, zoneName: string): number {
    const slot = Math.floor(ms / SLOT_MS);
    if (slot === this.lastSlot && zoneName === this.lastZoneName) return this.lastOffset;

    let byZone = this.offsets.get(zoneName);
    let offset = byZone?.get(slot);
    if (offset === undefined) {
      const zone = this.zone(zoneName);
      if (zone === null) throw new RangeError(`invalid time zone ${zoneName}`);
      offset = zone.offset(slot * SLOT_MS);
      if (this.cachedOffsets >= OFFSET_CACHE_MAX_ENTRIES) {
        this.offsets.clear();
        this.cachedOffsets = 0;
        byZone = undefined;
      }
      if (byZone === undefined) {
        byZone = new Map();
        this.offsets.set(zoneName, byZone);
      }
      byZone.set(slot, offset);
      this.cachedOffsets += 1;
    }

    this.lastZoneName = zoneName;
    this.lastSlot = slot;
    this.lastOffset = offset;
    return offset;
  }

  private zone(name: string): IANAZone | null {
    let zone = this.zones.get(name);
    if (zone === undefined) {
      zone = IANAZone.isValidZone(name) ? IANAZone.create(name) : null;
      this.zones.set(name, zone);
    }
    return zone;
  }
}

function positiveModulo(value: number, divisor: number): number {
  const remainder = value % divisor;
  return remainder < 0 ? remainder + divisor : remainder;
}

/** Formats an hour of the day as `02:00`. */
export function formatHour(hour: number): string {
  return `${String(hour % 24).padStart(2, '0')}:00`;
}
