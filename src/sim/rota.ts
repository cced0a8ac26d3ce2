import { Random } from './random.js';
import type { StaffMember } from './staff.js';
import type { ZoneClock } from './zone.js';

/** One person's working period, as UTC instants computed from local wall-clock times. */
export interface WorkShift {
  member: StaffMember;
  /** Index of the local day on which the shift starts. */
  day: number;
  startMs: number;
  endMs: number;
  night: boolean;
}

/**
 * Two weeks of 12-hour shifts, 3 per week, the usual pattern for hospital nurses and
 * radiographers. Each person starts at their own offset so that every day is covered.
 */
const TWELVE_HOUR_PATTERN = [1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 0];

const DAY_START = 7 * 60;
const DAY_END = 19 * 60;
const NIGHT_START = 19 * 60;
const NIGHT_END = (24 + 7) * 60;

/** Local start and end minutes of the working day of people who work weekdays only. */
const WEEKDAY_HOURS: Record<string, [number, number]> = {
  cardiologist: [7 * 60 + 30, 18 * 60 + 30],
  'interventional-cardiologist': [7 * 60, 17 * 60 + 30],
  'echo-tech': [7 * 60 + 30, 17 * 60],
  'billing-clerk': [8 * 60, 17 * 60],
  'it-admin': [8 * 60, 17 * 60],
};

/**
 * Returns the shift a person starts on local day `day`, or undefined on a day off.
 * `forced` makes a 12-hour worker work that day anyway (used to staff a chosen night).
 */
export function shiftStartingOn(clock: ZoneClock, seed: number, member: StaffMember, day: number, forced = false): WorkShift | undefined {
  const weekday = clock.weekday(day);

  if (member.role === 'nurse' || member.role === 'radiographer') {
    const onPattern = TWELVE_HOUR_PATTERN[(day + member.rotaOffset) % TWELVE_HOUR_PATTERN.length] === 1;
    if (!onPattern && !forced) return undefined;
    return member.shift === 'night' ? build(clock, member, day, NIGHT_START, NIGHT_END, true) : build(clock, member, day, DAY_START, DAY_END, false);
  }

  if (member.role === 'resident') return residentShift(clock, member, day, weekday);

  const hours = WEEKDAY_HOURS[member.role];
  if (!hours || weekday > 5) return undefined;
  // About one weekday in twenty is leave, a course or a day off in lieu.
  if (new Random(seed, member.index, day, 0x1eaf).chance(0.05)) return undefined;
  return build(clock, member, day, hours[0], hours[1], false);
}

/**
 * Residents rotate: one night a week on a weekday that moves with the week, the day after it
 * off, day shifts on the other weekdays, so their history always contains both days and nights.
 */
function residentShift(clock: ZoneClock, member: StaffMember, day: number, weekday: number): WorkShift | undefined {
  if (weekday > 5) return undefined;
  const week = Math.floor((day + clock.weekday(0) - 1) / 7);
  const nightWeekday = 1 + ((member.rotaOffset + week) % 4);
  if (weekday === nightWeekday) return build(clock, member, day, NIGHT_START, NIGHT_END, true);
  if (weekday === nightWeekday + 1) return undefined;
  return build(clock, member, day, DAY_START, DAY_END, false);
}

function build(clock: ZoneClock, member: StaffMember, day: number, startMinute: number, endMinute: number, night: boolean): WorkShift {
  return { member, day, startMs: clock.toUtc(day, startMinute), endMs: clock.toUtc(day, endMinute), night };
}
