import { IANAZone } from 'luxon';

/** The local wall-clock hour that an instant falls in, in one IANA time zone. */
export interface LocalHour {
  /** UTC instant (ms) at which this local hour starts. */
  startMs: number;
  /** 0 = Monday 00:00-01:00 local, 167 = Sunday 23:00-24:00 local. */
  hourOfWeek: number;
  /** 0-23. */
  hour: number;
  /** True on Saturday and Sunday. */
  weekend: boolean;
  /** Local date as days since 1970-01-01. */
  day: number;
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
  private readonly offsets = new Map<string, number>();

  isValidZone(zone: string): boolean {
    return this.zone(zone) !== null;
  }

  /** Returns the local hour of `ms` in `zone`; the zone must be valid (see isValidZone). */
  localHour(ms: number, zone: string): LocalHour {
    const offsetMs = this.offsetMinutes(ms, zone) * 60_000;
    const localMs = ms + offsetMs;
    const localHourStart = Math.floor(localMs / HOUR_MS) * HOUR_MS;
    const date = new Date(localHourStart);
    const hour = date.getUTCHours();
    const weekday = (date.getUTCDay() + 6) % 7;
    return {
      startMs: localHourStart - offsetMs,
      hourOfWeek: weekday * 24 + hour,
      hour,
      weekend: weekday >= 5,
      day: Math.floor(localHourStart / DAY_MS),
    };
  }

  private offsetMinutes(ms: number, zoneName: string): number {
    const key = `${zoneName}|${Math.floor(ms / SLOT_MS)}`;
    const cached = this.offsets.get(key);
    if (cached !== undefined) return cached;

    const zone = this.zone(zoneName);
    if (zone === null) throw new RangeError(`invalid time zone ${zoneName}`);
    const offset = zone.offset(Math.floor(ms / SLOT_MS) * SLOT_MS);
    if (this.offsets.size >= OFFSET_CACHE_MAX_ENTRIES) this.offsets.clear();
    this.offsets.set(key, offset);
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

/** Formats an hour of the day as `02:00`. */
export function formatHour(hour: number): string {
  return `${String(hour % 24).padStart(2, '0')}:00`;
}
