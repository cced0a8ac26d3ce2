import type { Action } from './actions.js';
import { openChart, signIn } from './activity.js';
import { takeStaff, type IncidentContext } from './incidents.js';
import type { Injection, Label } from './labels.js';
import type { Patient, PatientPlan, Study } from './patients.js';
import { Random } from './random.js';
import type { StaffMember } from './staff.js';

const MINUTE_MS = 60_000;

/** Interventional cardiologists who share the night call rota, when the hospital has that many free. */
const ON_CALL_STAFF = 2;
/** Each person is on call every fourth night, the second person two nights after the first. */
const CALL_ROTA_NIGHTS = 4;
/** Local minutes after the call day's midnight between which callouts start: 22:00 to 05:30 next morning. */
const CALLOUT_FIRST_MINUTE = 22 * 60;
const CALLOUT_LAST_MINUTE = (24 + 5) * 60 + 30;
const MIN_CALLOUT_GAP_MINUTES = 105;
/** Charts opened per callout: a handful, at most four, so one callout stays under five patients an hour. */
const MIN_CALLOUT_CHARTS = 2;
const MAX_CALLOUT_CHARTS = 4;

/**
 * Builds the on-call nights trap: up to two interventional cardiologists take night call every fourth
 * night, the learning weeks included. On a call night they are called in once to three
 * times at irregular hours between 22:00 and 06:00, sign in and open a handful of charts and
 * studies. Each call night of the incident week is labelled, because nothing may fire on it.
 */
export function onCallNights(context: IncidentContext, injection: Injection): void {
  const random = new Random(context.seed, 0x0ca11);
  // The smallest hospital has two interventional cardiologists and the heavy-day trap takes one.
  const cardiologists = [takeStaff(context, 'interventional cardiologist', isInterventional)];
  while (cardiologists.length < ON_CALL_STAFF) {
    const next = context.staff.find((member) => !context.labelledStaff.has(member.index) && isInterventional(member));
    if (!next) break;
    context.labelledStaff.add(next.index);
    cardiologists.push(next);
  }

  for (const [position, member] of cardiologists.entries()) {
    for (let day = 0; day < context.clock.days; day++) {
      if ((day + 2 * position) % CALL_ROTA_NIGHTS !== 0) continue;
      const actions = callNight(random, member, context, day);
      injection.actions.push(...actions);
      if (day >= context.firstDay && actions.length > 0) injection.labels.push(callNightLabel(context, member, day, actions));
    }
  }
}

function isInterventional(member: StaffMember): boolean {
  return member.role === 'interventional-cardiologist';
}

/** Plans one call night: callouts at sorted random minutes, each a sign-in, charts and studies. */
function callNight(random: Random, member: StaffMember, context: IncidentContext, day: number): Action[] {
  const actions: Action[] = [];
  const callouts = random.int(1, 3);
  // One callout in each of `callouts` equal parts of the night. Callouts start at least 105
  // minutes apart and last at most 45, so no clock hour contains two of them and ordinary
  // mistyped passwords at two callouts never add up to a burst of failed sign-ins.
  const slotMinutes = Math.floor((CALLOUT_LAST_MINUTE - CALLOUT_FIRST_MINUTE) / callouts);
  const minutes: number[] = [];
  for (let k = 0; k < callouts; k++) minutes.push(CALLOUT_FIRST_MINUTE + k * slotMinutes + random.int(0, slotMinutes - MIN_CALLOUT_GAP_MINUTES));

  const ip = member.workstations[0] as string;
  const patients = cathLabPatients(context.plan, member);
  for (const minute of minutes) {
    const startMs = context.clock.toUtc(day, minute);
    signIn(random, actions, member, ip, startMs, 'random');

    const charts = random.int(MIN_CALLOUT_CHARTS, MAX_CALLOUT_CHARTS);
    let time = startMs + 3 * MINUTE_MS;
    for (let k = 0; k < charts; k++) {
      const patient = random.pick(patients);
      openChart(random, actions, member, ip, patient, time, ['Observation', 'DiagnosticReport', 'MedicationRequest']);
      time += random.int(2, 9) * MINUTE_MS;
    }

    const studies = random.int(1, 3);
    const imaged = patients.filter((patient) => patient.studies.length > 0);
    for (let k = 0; k < studies && imaged.length > 0; k++) {
      const patient = random.pick(imaged);
      actions.push({ kind: 'dicom', timeMs: time + k * MINUTE_MS, member, ip, patient, study: random.pick(patient.studies) as Study, eventId: '110104' });
    }
  }
  return actions;
}

/** Patients of the cath lab other than the person themself; the whole hospital when the lab has none. */
function cathLabPatients(plan: PatientPlan, member: StaffMember): Patient[] {
  const pool = plan.byDepartment.get('cath-lab') ?? [];
  const own = pool.filter((patient) => patient.employeeUserId !== member.userId);
  if (own.length > 0) return own;
  return plan.patients.filter((patient) => patient.employeeUserId !== member.userId);
}

function callNightLabel(context: IncidentContext, member: StaffMember, day: number, actions: Action[]): Label {
  const times = actions.map((action) => action.timeMs);
  return {
    kind: 'trap',
    name: 'on-call-nights',
    userId: member.userId,
    startMs: Math.min(...times),
    endMs: Math.max(...times) + 1,
    expect: [],
    description: `An interventional cardiologist on call the night of ${context.clock.localDate(day)} is called in at irregular hours between 22:00 and 06:00 and opens a handful of charts and studies, as on their earlier call nights.`,
  };
}
