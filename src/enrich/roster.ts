import type { HolterError } from '../errors.js';
import { InvalidFileError, cellAt, cellProblem, cellText, readTable } from './table.js';
import type { TableRecord, TableSpec } from './table.js';
import { createPatientTokenizer, keyFingerprint } from './tokens.js';

/**
 * The patient roster: flags for patients whose records need closer watching. Patient ids are
 * tokenised as the file is read, so the roster is held by token and never by clear id. Error
 * messages give the line and column of a bad patient id but never its value.
 */

export const PATIENT_FLAGS = ['vip', 'employee', 'deceased'] as const;
export type PatientFlag = (typeof PATIENT_FLAGS)[number];

export interface RosterEntry {
  vip: boolean;
  employee: boolean;
  deceased: boolean;
  /** The directory user id of the patient when the patient is an employee. */
  employeeUserId?: string;
}

export class Roster {
  private readonly entries: Map<string, RosterEntry>;
  /** Fingerprint of the key the roster was tokenised with (see keyFingerprint). */
  readonly keyFingerprint: string;

  constructor(entries: Map<string, RosterEntry>, fingerprint: string) {
    this.entries = entries;
    this.keyFingerprint = fingerprint;
  }

  get size(): number {
    return this.entries.size;
  }

  get(token: string): RosterEntry | undefined {
    return this.entries.get(token);
  }
}

const ROSTER_SPEC: TableSpec = {
  code: 'HOLTER_ROSTER_INVALID',
  kind: 'patient roster',
  required: ['patient_id'],
  optional: ['flags', 'employee_user_id'],
};

/**
 * Loads a patient roster from CSV or JSON and tokenises its ids with `tokenKey`. Every bad row
 * is collected and the load throws one InvalidFileError (`HOLTER_ROSTER_INVALID`).
 *
 * A row with `employee_user_id` is an employee even when `flags` omits `employee`.
 */
export async function loadRoster(file: string, tokenKey: Buffer | string): Promise<Roster> {
  const tokenize = createPatientTokenizer(tokenKey);
  const { table, problems } = await readTable(file, ROSTER_SPEC);
  const entries = new Map<string, RosterEntry>();
  const firstLineOf = new Map<string, number>();

  for (const record of table.records) {
    const rowProblems: HolterError[] = [];
    const parsed = parseRosterRow(file, record, rowProblems);
    if (parsed !== undefined) {
      const token = tokenize(parsed.patientId);
      const earlier = firstLineOf.get(token);
      if (earlier !== undefined) {
        const message = `patient_id is already listed on line ${earlier}; merge the two rows`;
        rowProblems.push(cellProblem(ROSTER_SPEC, file, cellAt(record, 'patient_id'), message, 'patient_id'));
      } else if (rowProblems.length === 0) {
        firstLineOf.set(token, record.line);
        entries.set(token, parsed.entry);
      }
    }
    problems.push(...rowProblems);
  }

  if (problems.length > 0) throw new InvalidFileError(ROSTER_SPEC.code, file, ROSTER_SPEC.kind, problems);
  return new Roster(entries, keyFingerprint(tokenize));
}

function parseRosterRow(
  file: string,
  record: TableRecord,
  problems: HolterError[],
): { patientId: string; entry: RosterEntry } | undefined {
  const problem = (column: string, message: string): void => {
    problems.push(cellProblem(ROSTER_SPEC, file, cellAt(record, column), message, column));
  };

  const rawId = record.cells.get('patient_id')?.value;
  if (typeof rawId === 'number') {
    problem('patient_id', 'patient_id must be a string; quote it in JSON so that leading zeros are kept');
  }
  const patientId = cellText(record, 'patient_id');
  if (patientId === '') problem('patient_id', 'patient_id is empty; every row needs the id as decoders write it');

  const entry: RosterEntry = { vip: false, employee: false, deceased: false };
  for (const flag of readFlags(record, problem)) entry[flag] = true;

  const employeeUserId = cellText(record, 'employee_user_id');
  if (/\s/.test(employeeUserId)) {
    problem('employee_user_id', `employee_user_id '${employeeUserId}' contains white space; use the directory user_id`);
  } else if (employeeUserId !== '') {
    entry.employee = true;
    entry.employeeUserId = employeeUserId;
  }

  if (patientId === '' || problems.length > 0) return undefined;
  return { patientId, entry };
}

function readFlags(record: TableRecord, problem: (column: string, message: string) => void): PatientFlag[] {
  const value = record.cells.get('flags')?.value;
  let names: string[];
  if (value === undefined || value === null) names = [];
  else if (typeof value === 'string') names = value.split(';');
  else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) names = value as string[];
  else {
    problem('flags', 'flags must be a "vip;employee" string or an array of strings');
    return [];
  }

  const flags: PatientFlag[] = [];
  for (const name of names.map((item) => item.trim().toLowerCase()).filter((item) => item !== '')) {
    if ((PATIENT_FLAGS as readonly string[]).includes(name)) flags.push(name as PatientFlag);
    else problem('flags', `${describeFlag(name)} is not one of ${PATIENT_FLAGS.join(', ')}`);
  }
  return flags;
}

/** Echoes a bad flag only when it looks like a word, because a misplaced value may be a patient id. */
function describeFlag(name: string): string {
  return /^[a-z_-]{1,20}$/.test(name) ? `flag '${name}'` : 'a flag value';
}
