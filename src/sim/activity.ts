import type { Action, FhirResourceType } from './actions.js';
import type { Patient, PatientPlan, Study } from './patients.js';
import { Random } from './random.js';
import type { WorkShift } from './rota.js';
import type { Role, StaffMember } from './staff.js';

const SECOND_MS = 1000;
const MINUTE_MS = 60_000;

interface Volume {
  /** Mean patient charts opened per 12-hour shift (scaled to the length of shorter shifts). */
  charts: number;
  /** Mean imaging studies retrieved per 12-hour shift. */
  studies: number;
  /** FHIR resource types read after the Patient resource when a chart is open. */
  resources: FhirResourceType[];
}

const CLINICAL: FhirResourceType[] = ['Observation', 'Condition', 'MedicationRequest', 'DiagnosticReport', 'Encounter'];

/** Per-role volumes, set so an interventional cardiologist reads tens of studies on a heavy day and billing opens no images. */
const VOLUMES: Record<Role, Volume> = {
  nurse: { charts: 22, studies: 0, resources: ['Observation', 'MedicationRequest', 'Observation', 'Condition'] },
  cardiologist: { charts: 28, studies: 10, resources: CLINICAL },
  'interventional-cardiologist': { charts: 14, studies: 18, resources: CLINICAL },
  'echo-tech': { charts: 12, studies: 14, resources: ['Observation', 'DiagnosticReport'] },
  radiographer: { charts: 10, studies: 22, resources: ['DiagnosticReport', 'Encounter'] },
  resident: { charts: 32, studies: 6, resources: CLINICAL },
  'billing-clerk': { charts: 70, studies: 0, resources: ['Encounter', 'Coverage', 'Claim'] },
  'it-admin': { charts: 1, studies: 0, resources: ['Encounter'] },
};

/** Per-shift adjustments that traps ask for. */
export interface ShiftOverrides {
  /** Multiplies chart and study volumes (a heavy but normal day). */
  volumeFactor?: number;
  /** Makes the first sign-in of the shift start with exactly one mistyped password. */
  typo?: boolean;
}

/** Plans the normal activity of one shift: sign-ins, chart access and image retrievals, in no particular order. */
export function planShift(seed: number, shift: WorkShift, plan: PatientPlan, overrides: ShiftOverrides = {}): Action[] {
  const random = new Random(seed, shift.member.index, shift.day, 0xac7);
  const member = shift.member;
  const actions: Action[] = [];
  const ip = random.chance(0.85) ? (member.workstations[0] as string) : (member.workstations[member.workstations.length - 1] as string);
  const lengthFactor = (shift.endMs - shift.startMs) / (12 * 60 * MINUTE_MS);
  const volume = VOLUMES[member.role];
  const factor = lengthFactor * (overrides.volumeFactor ?? 1);

  const firstLogin = shift.startMs + random.int(-10, 12) * MINUTE_MS;
  signIn(random, actions, member, ip, firstLogin, overrides.typo === true ? 'one' : 'random');
  // Long shifts have a break, after which the Okta session has timed out.
  if (lengthFactor > 0.9 && random.chance(0.6)) {
    signIn(random, actions, member, ip, shift.startMs + random.between(0.4, 0.6) * (shift.endMs - shift.startMs), 'random');
  }

  const activeStart = firstLogin + 3 * MINUTE_MS;
  const activeEnd = shift.endMs - 5 * MINUTE_MS;
  const census = censusFor(plan, member, shift.day);

  // A trap's heavy day must be reliably heavy, so its volumes vary less than an ordinary day's.
  const spread = overrides.volumeFactor === undefined ? 0.3 : 0.1;
  const charts = random.count(volume.charts * factor, spread);
  for (let k = 0; k < charts; k++) {
    const patient = pickPatient(random, census, member);
    openChart(random, actions, member, ip, patient, random.between(activeStart, activeEnd), volume.resources);
  }

  const studies = member.pacsUser ? random.count(volume.studies * factor, spread) : 0;
  const imaged = census.filter((candidate) => candidate.studies.length > 0);
  const imagingCensus = imaged.length > 0 ? imaged : plan.withStudies;
  for (let k = 0; k < studies; k++) {
    const patient = pickPatient(random, imagingCensus, member);
    const study = random.pick(patient.studies) as Study;
    // A few studies a month go out on CD for a referring hospital.
    const eventId = random.chance(0.01) ? '110106' : '110104';
    actions.push({ kind: 'dicom', timeMs: Math.round(random.between(activeStart, activeEnd)), member, ip, patient, study, eventId });
  }
  return actions;
}

/**
 * Adds an Okta sign-in and single sign-on into the EHR (and PACS for imaging roles). `typo`
 * `random` gives the usual few per cent of mistyped passwords, `one` forces exactly one.
 */
export function signIn(random: Random, actions: Action[], member: StaffMember, ip: string, timeMs: number, typo: 'random' | 'one' | 'none'): void {
  const time = Math.round(timeMs);
  let failures = 0;
  if (typo === 'one') failures = 1;
  if (typo === 'random' && random.chance(0.03)) failures = random.chance(0.15) ? 2 : 1;

  let failureTime = time;
  for (let k = 0; k < failures; k++) {
    failureTime -= random.int(8, 40) * SECOND_MS;
    actions.push({ kind: 'okta', timeMs: failureTime, member, ip, eventType: 'user.session.start', success: false, userAgent: member.userAgent });
  }
  actions.push({ kind: 'okta', timeMs: time, member, ip, eventType: 'user.session.start', success: true, userAgent: member.userAgent });
  actions.push({ kind: 'okta', timeMs: time + random.int(15, 60) * SECOND_MS, member, ip, eventType: 'user.authentication.sso', success: true, app: 'ehr', userAgent: member.userAgent });
  if (member.pacsUser) {
    actions.push({ kind: 'okta', timeMs: time + random.int(61, 180) * SECOND_MS, member, ip, eventType: 'user.authentication.sso', success: true, app: 'pacs', userAgent: member.userAgent });
  }
}

/** Adds a chart session: the Patient read, then a few related resources seconds apart. */
export function openChart(random: Random, actions: Action[], member: StaffMember, ip: string, patient: Patient, startMs: number, resources: FhirResourceType[]): void {
  let time = Math.round(startMs);
  actions.push({ kind: 'fhir-rest', timeMs: time, member, ip, patient, interaction: 'read', resourceType: 'Patient', outcome: '0' });

  const follow = random.int(1, 3);
  for (let k = 0; k < follow; k++) {
    time += random.int(4, 45) * SECOND_MS;
    const interaction = random.chance(0.6) ? 'search' : 'read';
    // Searches occasionally fail validation (a bad date filter); the EHR audits those as minor failures.
    const outcome = random.chance(0.004) ? '4' : '0';
    actions.push({ kind: 'fhir-rest', timeMs: time, member, ip, patient, interaction, resourceType: random.pick(resources), outcome });
  }
}

/**
 * Patients a person may open on a day: their department's current census, which slides through
 * the department's patients a few admissions a day. Billing and radiology serve the whole hospital.
 */
function censusFor(plan: PatientPlan, member: StaffMember, day: number): Patient[] {
  if (member.role === 'billing-clerk' || member.role === 'it-admin') return plan.patients;
  if (member.role === 'radiographer') return plan.withStudies;

  // Ward doctors round on the ward and the CCU on alternate days.
  let department = member.department;
  if (member.role === 'cardiologist' || member.role === 'resident') department = day % 2 === 0 ? 'cardiology-ward' : 'ccu';
  const pool = plan.byDepartment.get(department) ?? plan.patients;
  if (pool.length === 0) return plan.patients;

  const size = Math.min(pool.length, Math.max(20, Math.floor(pool.length / 8)));
  const first = (day * Math.max(1, Math.floor(size / 5))) % pool.length;
  const census: Patient[] = [];
  for (let k = 0; k < size; k++) census.push(pool[(first + k) % pool.length] as Patient);
  return census;
}

/** Picks a patient other than the person themself: opening one's own chart is the self-lookup incident, never normal work. */
function pickPatient(random: Random, census: Patient[], member: StaffMember): Patient {
  for (let attempt = 0; attempt < 8; attempt++) {
    const patient = random.pick(census);
    if (patient.employeeUserId !== member.userId) return patient;
  }
  return census.find((patient) => patient.employeeUserId !== member.userId) as Patient;
}
