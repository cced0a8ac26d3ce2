import { findShift, takeStaff, type IncidentContext } from './incidents.js';
import { shiftKey, type Injection, type Label } from './labels.js';
import { onCallNights } from './on-call.js';
import { shiftStartingOn } from './rota.js';
import type { StaffMember } from './staff.js';

const MINUTE_MS = 60_000;

/** How many night workers the daylight-saving trap labels at most. */
const MAX_DST_WORKERS = 3;

/**
 * Builds the traps: normal work that looks odd to a naive detector. Each adds a label with an
 * empty `expect` list, and some adjust a shift (a forced typo, a heavier day, a staffed night).
 */
export function buildTraps(context: IncidentContext, injection: Injection): void {
  nightShiftWork(context, injection);
  passwordTypo(context, injection);
  heavyDay(context, injection);
  daylightSavingNight(context, injection);
  onCallNights(context, injection);
}

function nightShiftWork(context: IncidentContext, injection: Injection): void {
  const nurse = takeStaff(context, 'night-shift nurse', (member) => member.role === 'nurse' && member.shift === 'night');
  const shift = findShift(context, nurse, context.firstDay + 2, context.firstDay, true);
  injection.labels.push(trap('night-shift-work', nurse, shift.startMs, shift.endMs, 'A night-shift nurse opens charts between 19:00 and 07:00 local time, as on every night they work.'));
}

function passwordTypo(context: IncidentContext, injection: Injection): void {
  const member = takeStaff(context, 'echo tech or billing clerk', (candidate) => candidate.role === 'echo-tech' || candidate.role === 'billing-clerk');
  const shift = findShift(context, member, context.firstDay + 2, context.firstDay);
  injection.overrides.set(shiftKey(member.index, shift.day), { ...injection.overrides.get(shiftKey(member.index, shift.day)), typo: true });
  // The first sign-in falls within 10 minutes before and 12 after the shift start, the typo up to 40 s before it.
  injection.labels.push(trap('password-typo', member, shift.startMs - 11 * MINUTE_MS, shift.startMs + 13 * MINUTE_MS, 'One mistyped password at the start of a shift, followed within a minute by a successful sign-in from the same workstation.'));
}

function heavyDay(context: IncidentContext, injection: Injection): void {
  const member = takeStaff(context, 'interventional cardiologist', (candidate) => candidate.role === 'interventional-cardiologist');
  const shift = findShift(context, member, context.firstDay + 5, context.firstDay);
  injection.overrides.set(shiftKey(member.index, shift.day), { ...injection.overrides.get(shiftKey(member.index, shift.day)), volumeFactor: 2.6 });
  injection.labels.push(trap('heavy-cath-lab-day', member, shift.startMs, shift.endMs, 'An interventional cardiologist reads about two and a half times their usual number of studies and charts, spread over a whole working day.'));
}

/**
 * Labels night workers on each night whose local clock falls back: that night has 13 hours
 * between 19:00 and 07:00, and the hour after 01:00 happens twice. When nobody's pattern covers
 * the night, the first night nurse works it anyway.
 */
function daylightSavingNight(context: IncidentContext, injection: Injection): void {
  const nightWorkers = context.staff.filter((member) => member.shift === 'night');
  if (nightWorkers.length === 0) return;

  for (const fallBackDay of context.clock.fallBackDays()) {
    const day = fallBackDay - 1;
    if (day < 0) continue;

    let working = nightWorkers.filter((member) => shiftStartingOn(context.clock, context.seed, member, day) !== undefined);
    if (working.length === 0) {
      const first = nightWorkers[0] as StaffMember;
      injection.forcedShifts.add(shiftKey(first.index, day));
      working = [first];
    }

    for (const member of working.slice(0, MAX_DST_WORKERS)) {
      const shift = shiftStartingOn(context.clock, context.seed, member, day, true);
      if (!shift) continue;
      injection.labels.push(trap('daylight-saving-night', member, shift.startMs, shift.endMs, `A night shift through the fall-back night of ${context.clock.localDate(fallBackDay)}: 13 hours, with the hour after 01:00 local time happening twice.`));
    }
  }
}

function trap(name: string, member: StaffMember, startMs: number, endMs: number, description: string): Label {
  return { kind: 'trap', name, userId: member.userId, startMs, endMs, expect: [], description };
}
