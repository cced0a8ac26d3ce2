import type { Action } from './actions.js';
import { openChart, signIn } from './activity.js';
import { DETECTION_IDS, type Label } from './labels.js';
import type { Patient, PatientPlan, Study } from './patients.js';
import { Random } from './random.js';
import { shiftStartingOn, type WorkShift } from './rota.js';
import type { StaffMember } from './staff.js';
import type { ZoneClock } from './zone.js';

const SECOND_MS = 1000;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/** Attackers' addresses come from the RFC 5737 documentation ranges, so they can never be real hosts. */
export const STUFFING_IP = '203.0.113.77';
export const SPRAY_IP = '198.51.100.23';
/** The facility's VPN pool: staff working from home arrive from here. */
export const VPN_IP = '10.99.4.17';
const ATTACK_USER_AGENT = 'python-requests/2.32.3';
const SPRAY_TARGETS = 12;

export interface IncidentContext {
  clock: ZoneClock;
  seed: number;
  staff: StaffMember[];
  plan: PatientPlan;
  /** First day of the incident week; every earlier day is history for the detectors to learn from. */
  firstDay: number;
  /** Staff already used by another incident or trap, so each label involves different people. */
  labelledStaff: Set<number>;
}

export interface IncidentResult {
  labels: Label[];
  actions: Action[];
}

/**
 * Builds the incidents that need people of a given role. The password spray is built apart, by
 * `buildPasswordSpray`, after the traps, because it takes any twelve people still unassigned.
 */
export function buildIncidents(context: IncidentContext): IncidentResult {
  const result: IncidentResult = { labels: [], actions: [] };
  const random = new Random(context.seed, 0x1c1de);
  // The self-lookup subject is fixed by the patient list, so no other incident may take them first.
  const selfLookupSubject = context.staff.find((member) => member.userId === context.plan.employees[0]?.employeeUserId);
  if (selfLookupSubject) context.labelledStaff.add(selfLookupSubject.index);
  credentialStuffing(context, random, result);
  massImagePull(context, random, result);
  afterHoursLookups(context, random, result);
  breakGlass(context, random, result);
  selfLookup(context, random, result);
  return result;
}

function credentialStuffing(context: IncidentContext, random: Random, result: IncidentResult): void {
  const victim = takeStaff(context, 'cardiologist', (member) => member.role === 'cardiologist');
  const startMs = context.clock.toUtc(context.firstDay + 1, 14 * 60 + 10);
  const failures = random.int(16, 24);

  let time = startMs;
  for (let k = 0; k < failures; k++) {
    result.actions.push({ kind: 'okta', timeMs: time, member: victim, ip: STUFFING_IP, eventType: 'user.session.start', success: false, userAgent: ATTACK_USER_AGENT });
    time += random.int(6, 14) * SECOND_MS;
  }
  result.actions.push({ kind: 'okta', timeMs: time, member: victim, ip: STUFFING_IP, eventType: 'user.session.start', success: true, userAgent: ATTACK_USER_AGENT });
  result.actions.push({ kind: 'okta', timeMs: time + 20 * SECOND_MS, member: victim, ip: STUFFING_IP, eventType: 'user.authentication.sso', success: true, app: 'ehr', userAgent: ATTACK_USER_AGENT });

  result.labels.push({
    kind: 'incident',
    name: 'credential-stuffing',
    userId: victim.userId,
    sourceIp: STUFFING_IP,
    startMs,
    endMs: time + 21 * SECOND_MS,
    expect: [DETECTION_IDS.failedLoginBurst, DETECTION_IDS.failedLoginBurstThenSuccess],
    description: `${failures} failed Okta sign-ins for one account from an address never seen before, then a success and single sign-on into the EHR.`,
  });
}

/** Builds the password spray against twelve people no other label uses, spread over every role. */
export function buildPasswordSpray(context: IncidentContext): IncidentResult {
  const result: IncidentResult = { labels: [], actions: [] };
  const random = new Random(context.seed, 0x5b7a7);
  const free = context.staff.filter((member) => !context.labelledStaff.has(member.index));
  if (free.length < SPRAY_TARGETS) throw new RangeError(`the password spray needs ${SPRAY_TARGETS} staff that no other label uses, but only ${free.length} are left; raise the staff count`);
  const targets: StaffMember[] = [];
  for (let k = 0; k < SPRAY_TARGETS; k++) targets.push(free[Math.floor((k * free.length) / SPRAY_TARGETS)] as StaffMember);
  for (const target of targets) context.labelledStaff.add(target.index);

  const startMs = context.clock.toUtc(context.firstDay + 2, 4 * 60 + 20);
  let time = startMs;
  // Rounds over the account list, as spraying tools do, two or three passwords per account in eight minutes.
  const rounds = random.int(2, 3);
  for (let round = 0; round < rounds; round++) {
    for (const target of targets) {
      result.actions.push({ kind: 'okta', timeMs: time, member: target, ip: SPRAY_IP, eventType: 'user.session.start', success: false, userAgent: ATTACK_USER_AGENT });
      time += random.int(8, 13) * SECOND_MS;
    }
  }

  result.labels.push({
    kind: 'incident',
    name: 'password-spray',
    userId: (targets[0] as StaffMember).userId,
    targetUserIds: targets.map((target) => target.userId),
    sourceIp: SPRAY_IP,
    startMs,
    endMs: time,
    expect: [DETECTION_IDS.passwordSpray],
    description: `One address fails to sign in to ${targets.length} different accounts, ${rounds} attempts each, within ten minutes, and never succeeds.`,
  });
  return result;
}

function massImagePull(context: IncidentContext, random: Random, result: IncidentResult): void {
  const puller = takeStaff(context, 'day-shift radiographer', (member) => member.role === 'radiographer' && member.shift === 'day');
  const shift = findShift(context, puller, context.firstDay + 3, context.firstDay);
  const startMs = shift.startMs + 4 * HOUR_MS;
  const studies = random.int(320, 450);
  const ip = puller.workstations[0] as string;

  for (let k = 0; k < studies; k++) {
    const patient = random.pick(context.plan.withStudies);
    const study = random.pick(patient.studies) as Study;
    const timeMs = startMs + Math.floor((k / studies) * 55 * MINUTE_MS) + random.int(0, 5) * SECOND_MS;
    result.actions.push({ kind: 'dicom', timeMs, member: puller, ip, patient, study, eventId: '110104' });
  }

  result.labels.push({
    kind: 'incident',
    name: 'mass-image-pull',
    userId: puller.userId,
    sourceIp: ip,
    startMs,
    endMs: startMs + HOUR_MS,
    expect: [DETECTION_IDS.massImagePull],
    description: `A radiographer's account retrieves ${studies} studies of unrelated patients within one hour, against a usual few dozen a shift.`,
  });
}

function afterHoursLookups(context: IncidentContext, random: Random, result: IncidentResult): void {
  const clerk = takeStaff(context, 'billing clerk', (member) => member.role === 'billing-clerk');
  const startMs = context.clock.toUtc(context.firstDay + 3, 2 * 60);
  const signInMs = startMs - 2 * MINUTE_MS;
  signIn(random, result.actions, clerk, VPN_IP, signInMs, 'none');

  const charts = random.int(36, 60);
  for (let k = 0; k < charts; k++) {
    const patient = random.pick(context.plan.patients);
    if (patient.employeeUserId === clerk.userId) continue;
    openChart(random, result.actions, clerk, VPN_IP, patient, startMs + (k / charts) * 55 * MINUTE_MS, ['Encounter', 'Coverage', 'Claim']);
  }

  result.labels.push({
    kind: 'incident',
    name: 'after-hours-record-access',
    userId: clerk.userId,
    sourceIp: VPN_IP,
    startMs: signInMs,
    endMs: startMs + HOUR_MS,
    expect: [DETECTION_IDS.afterHours],
    description: `A billing clerk who works weekday office hours opens ${charts} patient charts between 02:00 and 03:00 local time.`,
  });
}

function breakGlass(context: IncidentContext, random: Random, result: IncidentResult): void {
  const clinician = takeStaff(context, 'cardiologist', (member) => member.role === 'cardiologist');
  const shift = findShift(context, clinician, context.firstDay + 4, context.firstDay);
  const patient = context.plan.vip[0] as Patient;
  const startMs = shift.startMs + 3 * HOUR_MS + random.int(0, 30) * MINUTE_MS;
  const ip = clinician.workstations[0] as string;
  const reason = 'Patient brought in unresponsive from the emergency department; no treatment relationship recorded yet';

  result.actions.push({ kind: 'fhir-break-glass', timeMs: startMs, member: clinician, ip, patient, reason });
  openChart(random, result.actions, clinician, ip, patient, startMs + 20 * SECOND_MS, ['Observation', 'DiagnosticReport', 'MedicationRequest']);

  result.labels.push({
    kind: 'incident',
    name: 'break-glass-vip',
    userId: clinician.userId,
    sourceIp: ip,
    startMs,
    endMs: startMs + 10 * MINUTE_MS,
    expect: [DETECTION_IDS.breakGlass],
    description: 'A cardiologist with no care relationship starts an emergency override on a VIP patient\'s chart, with a stated reason, and reads it.',
  });
}

function selfLookup(context: IncidentContext, random: Random, result: IncidentResult): void {
  const patient = context.plan.employees[0] as Patient;
  const employee = context.staff.find((member) => member.userId === patient.employeeUserId) as StaffMember;
  const shift = findShift(context, employee, context.firstDay + 1, context.firstDay);
  const startMs = shift.startMs + 5 * HOUR_MS + random.int(0, 40) * MINUTE_MS;
  const ip = employee.workstations[0] as string;

  openChart(random, result.actions, employee, ip, patient, startMs, ['Observation', 'DiagnosticReport']);

  result.labels.push({
    kind: 'incident',
    name: 'self-lookup',
    userId: employee.userId,
    sourceIp: ip,
    startMs,
    endMs: startMs + 5 * MINUTE_MS,
    expect: [DETECTION_IDS.selfLookup],
    description: 'A nurse who is also a patient of the hospital opens their own chart during their shift.',
  });
}

/**
 * Takes the first staff member matching `accept` that no other label uses yet. `wanted` names
 * the kind of person in the error raised when there is none left.
 */
export function takeStaff(context: { staff: StaffMember[]; labelledStaff: Set<number> }, wanted: string, accept: (member: StaffMember) => boolean): StaffMember {
  const member = context.staff.find((candidate) => !context.labelledStaff.has(candidate.index) && accept(candidate));
  if (!member) throw new RangeError(`no ${wanted} is left for the incidents and traps; raise the staff count`);
  context.labelledStaff.add(member.index);
  return member;
}

/**
 * Returns the person's first shift starting on or after `fromDay`, else their last one between
 * `earliestDay` and `fromDay`. Throws when there is none, because a label outside its week would mislead.
 */
export function findShift(context: { clock: ZoneClock; seed: number }, member: StaffMember, fromDay: number, earliestDay: number, night?: boolean): WorkShift {
  const accept = (shift: WorkShift | undefined): shift is WorkShift => shift !== undefined && (night === undefined || shift.night === night);
  for (let day = fromDay; day < context.clock.days; day++) {
    const shift = shiftStartingOn(context.clock, context.seed, member, day);
    if (accept(shift)) return shift;
  }
  for (let day = fromDay - 1; day >= earliestDay; day--) {
    const shift = shiftStartingOn(context.clock, context.seed, member, day);
    if (accept(shift)) return shift;
  }
  throw new RangeError(`${member.userId} has no shift between day ${earliestDay} and the end of the simulated range`);
}
