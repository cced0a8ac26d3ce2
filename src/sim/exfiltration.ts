import { openChart } from './activity.js';
import { findShift, takeStaff, type IncidentContext, type IncidentResult } from './incidents.js';
import { DETECTION_IDS } from './labels.js';
import type { Patient } from './patients.js';
import { Random } from './random.js';
import type { WorkShift } from './rota.js';

const MINUTE_MS = 60_000;

/** Working days on which the clerk copies records, consecutive where the rota allows. */
const MIN_EXFILTRATION_DAYS = 4;
const MAX_EXFILTRATION_DAYS = 5;

/**
 * Extra distinct patients per day. A billing clerk opens about 52 on a normal day, so the day's
 * total is three and a half to four times usual. Spread evenly over the eight and a half hours
 * of the shift, that is 15 to 19 extra an hour. With the usual work, the busiest sliding hour
 * contains 30 to 40 patients in the hospitals tested, far below the 100 at which the mass-access
 * rule fires.
 */
const MIN_EXTRA_PATIENTS = 125;
const MAX_EXTRA_PATIENTS = 160;

/** Margin kept free of copying at each end of the shift, so every access is inside working hours. */
const SHIFT_MARGIN_MS = 15 * MINUTE_MS;

/**
 * Builds the slow exfiltration: a day-shift billing clerk opens several times their usual number
 * of distinct patient charts on 4 or 5 working days of the incident week, evenly through their
 * working hours. No hour is unusual for them and no hour contains a burst, so only a day-scale
 * volume baseline sees it.
 */
export function slowExfiltration(context: IncidentContext, result: IncidentResult): void {
  const random = new Random(context.seed, 0xe8f17);
  const clerk = takeStaff(context, 'billing clerk', (member) => member.role === 'billing-clerk');
  const ip = clerk.workstations[0] as string;
  const shifts = consecutiveShifts(context, clerk.index, random.int(MIN_EXFILTRATION_DAYS, MAX_EXFILTRATION_DAYS));
  const candidates = context.plan.patients.filter((patient) => patient.employeeUserId !== clerk.userId);

  let total = 0;
  for (const shift of shifts) {
    const extra = random.int(MIN_EXTRA_PATIENTS, MAX_EXTRA_PATIENTS);
    const patients = sample(random, candidates, extra);
    const startMs = shift.startMs + SHIFT_MARGIN_MS;
    const spanMs = shift.endMs - SHIFT_MARGIN_MS - startMs;
    patients.forEach((patient, k) => {
      const timeMs = startMs + ((k + random.next()) / patients.length) * spanMs;
      openChart(random, result.actions, clerk, ip, patient, timeMs, ['Encounter', 'Coverage', 'Claim']);
    });
    total += patients.length;
  }

  const first = shifts[0] as WorkShift;
  const last = shifts[shifts.length - 1] as WorkShift;
  result.labels.push({
    kind: 'incident',
    name: 'slow-exfiltration',
    userId: clerk.userId,
    sourceIp: ip,
    startMs: first.startMs,
    endMs: last.endMs,
    expect: [DETECTION_IDS.dailyRecordVolume],
    description: `A billing clerk opens ${total} extra patient charts over ${shifts.length} working days, three to four times their usual daily number, evenly through office hours.`,
  });
}

/** Returns the person's next `count` shifts from the first day of the incident week onward. */
function consecutiveShifts(context: IncidentContext, staffIndex: number, count: number): WorkShift[] {
  const member = context.staff[staffIndex];
  if (!member) throw new RangeError(`staff index ${staffIndex} is out of range`);
  const shifts: WorkShift[] = [];
  let day = context.firstDay;
  while (shifts.length < count && day < context.clock.days) {
    const shift = findShift(context, member, day, context.firstDay);
    if (shift.day < day) break;
    shifts.push(shift);
    day = shift.day + 1;
  }
  if (shifts.length === 0) throw new RangeError(`${member.userId} has no shift in the incident week`);
  return shifts;
}

/** Draws `count` different patients, or every candidate when there are fewer. */
function sample(random: Random, candidates: readonly Patient[], count: number): Patient[] {
  const pool = [...candidates];
  const picked: Patient[] = [];
  while (picked.length < count && pool.length > 0) {
    const index = random.int(0, pool.length - 1);
    picked.push(pool[index] as Patient);
    pool[index] = pool[pool.length - 1] as Patient;
    pool.pop();
  }
  return picked;
}
