import { Random } from './random.js';
import type { StaffMember } from './staff.js';

export type PatientFlag = 'vip' | 'employee' | 'deceased';

export interface Study {
  /** Study Instance UID under the 2.25 (UUID-derived) root, which needs no registered OID. */
  uid: string;
  accession: string;
  sopClassUid: string;
  /** Typical number of instances a retrieval of the whole study transfers. */
  instances: number;
}

export interface Patient {
  /** Medical record number: the FHIR Patient id and the CX id number in DICOM audit messages. */
  id: string;
  /** Department whose census the patient joins. */
  department: string;
  flags: PatientFlag[];
  employeeUserId?: string;
  studies: Study[];
}

interface Modality {
  sopClassUid: string;
  minInstances: number;
  maxInstances: number;
}

/** SOP classes from DICOM PS3.4 Annex B, with instance counts typical of a cardiac hospital. */
const MODALITIES: Record<string, Modality> = {
  xa: { sopClassUid: '1.2.840.10008.5.1.4.1.1.12.1', minInstances: 8, maxInstances: 40 },
  us: { sopClassUid: '1.2.840.10008.5.1.4.1.1.3.1', minInstances: 30, maxInstances: 90 },
  ct: { sopClassUid: '1.2.840.10008.5.1.4.1.1.2', minInstances: 150, maxInstances: 600 },
  mr: { sopClassUid: '1.2.840.10008.5.1.4.1.1.4', minInstances: 120, maxInstances: 400 },
  cr: { sopClassUid: '1.2.840.10008.5.1.4.1.1.1', minInstances: 1, maxInstances: 3 },
};

const MODALITIES_BY_DEPARTMENT: Record<string, string[]> = {
  'cath-lab': ['xa', 'xa', 'cr'],
  'echo-lab': ['us', 'us', 'cr'],
  'cardiology-ward': ['cr', 'ct', 'us', 'mr'],
  ccu: ['cr', 'cr', 'ct', 'us'],
};

/** Patient home departments with their share of the population. */
const PATIENT_DEPARTMENTS: Array<[string, number]> = [
  ['cardiology-ward', 0.35],
  ['ccu', 0.15],
  ['cath-lab', 0.25],
  ['echo-lab', 0.25],
];

export interface PatientPlan {
  patients: Patient[];
  byDepartment: Map<string, Patient[]>;
  withStudies: Patient[];
  vip: Patient[];
  /** Employee patients, the first one linked to a day-shift nurse (the self-lookup subject). */
  employees: Patient[];
}

/** Builds the patient population with flags and imaging history. */
export function buildPatients(seed: number, count: number, staff: StaffMember[]): PatientPlan {
  const random = new Random(seed, 0x9a71e5);
  const patients: Patient[] = [];
  const byDepartment = new Map<string, Patient[]>();
  for (const [department] of PATIENT_DEPARTMENTS) byDepartment.set(department, []);

  for (let k = 0; k < count; k++) {
    const department = pickDepartment(random.next());
    const patient: Patient = {
      id: `MRN${String(4_100_000 + k * 7 + random.int(0, 6)).padStart(8, '0')}`,
      department,
      flags: [],
      studies: buildStudies(random, department),
    };
    patients.push(patient);
    (byDepartment.get(department) as Patient[]).push(patient);
  }

  // Flags go to evenly spaced patients so every department's census includes some of them.
  const vipCount = Math.max(3, Math.round(count / 600));
  const vip = spaced(patients, vipCount, 3);
  for (const patient of vip) patient.flags.push('vip');

  const employees = linkEmployees(patients, staff);

  for (let k = 11; k < patients.length; k += 50) {
    const patient = patients[k] as Patient;
    if (!patient.flags.includes('vip') && !patient.flags.includes('employee')) patient.flags.push('deceased');
  }

  return {
    patients,
    byDepartment,
    withStudies: patients.filter((patient) => patient.studies.length > 0),
    vip,
    employees,
  };
}

function linkEmployees(patients: Patient[], staff: StaffMember[]): Patient[] {
  const dayNurse = staff.find((member) => member.role === 'nurse' && member.shift === 'day');
  const others = staff.filter((member) => member !== dayNurse && member.index % 23 === 5);
  const linked = dayNurse ? [dayNurse, ...others] : others;

  const candidates = spaced(patients, linked.length, 17).filter((patient) => patient.flags.length === 0);
  const employees: Patient[] = [];
  linked.forEach((member, k) => {
    const patient = candidates[k];
    if (!patient) return;
    patient.flags.push('employee');
    patient.employeeUserId = member.userId;
    employees.push(patient);
  });
  return employees;
}

function spaced(patients: Patient[], count: number, shift: number): Patient[] {
  const step = Math.max(1, Math.floor(patients.length / Math.max(1, count)));
  const chosen: Patient[] = [];
  for (let k = 0; k < count && shift + k * step < patients.length; k++) chosen.push(patients[shift + k * step] as Patient);
  return chosen;
}

function pickDepartment(draw: number): string {
  let cumulative = 0;
  for (const [department, share] of PATIENT_DEPARTMENTS) {
    cumulative += share;
    if (draw < cumulative) return department;
  }
  return (PATIENT_DEPARTMENTS[0] as [string, number])[0];
}

function buildStudies(random: Random, department: string): Study[] {
  if (random.chance(0.12)) return [];
  const studies: Study[] = [];
  const count = random.int(1, 4);
  const kinds = MODALITIES_BY_DEPARTMENT[department] as string[];
  for (let k = 0; k < count; k++) {
    const modality = MODALITIES[random.pick(kinds)] as Modality;
    studies.push({
      uid: `2.25.${random.digits(38)}`,
      accession: `ACC${random.digits(9)}`,
      sopClassUid: modality.sopClassUid,
      instances: random.int(modality.minInstances, modality.maxInstances),
    });
  }
  return studies;
}
