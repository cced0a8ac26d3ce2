import type { Patient, PatientFlag } from './patients.js';
import type { StaffMember } from './staff.js';

/** One row of the identity directory; keys are the column names of the shared file format. */
export interface DirectoryEntry {
  user_id: string;
  display_name: string;
  role: string;
  department: string;
  facility: string;
  time_zone: string;
  shift: string;
  accounts: Array<{ system: string; name: string }>;
}

/** One row of the patient roster; keys are the column names of the shared file format. */
export interface RosterEntry {
  patient_id: string;
  flags: PatientFlag[];
  employee_user_id?: string;
}

const DIRECTORY_COLUMNS = ['user_id', 'display_name', 'role', 'department', 'facility', 'time_zone', 'shift', 'accounts'] as const;
const ROSTER_COLUMNS = ['patient_id', 'flags', 'employee_user_id'] as const;

export function buildDirectory(staff: StaffMember[], facility: string, timeZone: string): DirectoryEntry[] {
  return staff.map((member) => {
    const accounts = [
      { system: 'ehr', name: member.login },
      { system: 'okta', name: member.oktaLogin },
      { system: 'ad', name: member.adAccount },
    ];
    if (member.pacsUser) accounts.push({ system: 'pacs', name: member.pacsUser });
    if (member.role === 'it-admin') accounts.push({ system: 'ssh', name: member.login });
    return {
      user_id: member.userId,
      display_name: member.displayName,
      role: member.role,
      department: member.department,
      facility,
      time_zone: timeZone,
      shift: member.shift,
      accounts,
    };
  });
}

export function buildRoster(patients: Patient[]): RosterEntry[] {
  return patients.map((patient) => {
    const entry: RosterEntry = { patient_id: patient.id, flags: [...patient.flags] };
    if (patient.employeeUserId) entry.employee_user_id = patient.employeeUserId;
    return entry;
  });
}

/** Writes the directory as CSV with a header row; accounts are `system:name` pairs joined by `;`. */
export function directoryToCsv(entries: DirectoryEntry[]): string {
  const lines = [DIRECTORY_COLUMNS.join(',')];
  for (const entry of entries) {
    const accounts = entry.accounts.map((account) => `${account.system}:${account.name}`).join(';');
    lines.push([entry.user_id, entry.display_name, entry.role, entry.department, entry.facility, entry.time_zone, entry.shift, accounts].map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the roster as CSV with a header row; flags are joined by `;`. */
export function rosterToCsv(entries: RosterEntry[]): string {
  const lines = [ROSTER_COLUMNS.join(',')];
  for (const entry of entries) lines.push([entry.patient_id, entry.flags.join(';'), entry.employee_user_id ?? ''].map(csvField).join(','));
  return `${lines.join('\n')}\n`;
}

/** Quotes a field when RFC 4180 requires it (comma, quote or line break inside). */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
