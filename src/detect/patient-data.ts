/**
 * Event fields that carry patient data, which alert text, logs and learned state must not contain.
 * Decoders write a patient's clear identifier, and the enrich stage replaces it with a keyed
 * token before detection. Free text can contain anything a person typed, a patient's name too.
 */

/**
 * Fields under `holter.patient` that carry no identifier: the keyed token and the flags. Every
 * other field there, and the object itself, carries the clear `id` or may in future.
 */
const PATIENT_FIELDS_WITHOUT_IDENTIFIER = new Set(['token', 'vip', 'employee', 'deceased', 'self_access']);

/**
 * Free-text fields of the normalised event (docs/event.md): the stated reason of an access, the
 * syslog message, the source's reason for an outcome (DICOM EventOutcomeDescription, for one)
 * and the raw record that a generic mapping may copy.
 */
const FREE_TEXT_FIELDS: readonly string[] = ['holter.access.reason', 'message', 'event.reason', 'event.original'];

/** Returns true when an event path contains a patient identifier or is the object that contains one. */
export function isPatientIdentifierPath(path: string): boolean {
  if (path === 'holter.patient') return true;
  if (!path.startsWith('holter.patient.')) return false;
  const field = path.slice('holter.patient.'.length).split('.')[0] ?? '';
  return !PATIENT_FIELDS_WITHOUT_IDENTIFIER.has(field);
}

/**
 * Returns true when an event path is the clear identifier of a patient acting through their own
 * account, or the object that contains it. The enrich stage keeps only its token.
 */
export function isActingPatientIdentifierPath(path: string): boolean {
  return path === 'holter.acting_patient' || path === 'holter.acting_patient.id' || path.startsWith('holter.acting_patient.id.');
}

/** Returns the free-text field that an event path names or lies under, or undefined. */
export function freeTextFieldOf(path: string): string | undefined {
  return FREE_TEXT_FIELDS.find((field) => path === field || path.startsWith(`${field}.`));
}
