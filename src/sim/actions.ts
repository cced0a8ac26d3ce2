import type { Patient, Study } from './patients.js';
import type { StaffMember } from './staff.js';

/**
 * One thing a person (or an attacker using their account) does, before it is written in a wire
 * format. Activity models and incidents produce actions; the format writers turn each into one
 * raw record.
 */
export type Action = OktaAction | FhirRestAction | FhirBreakGlassAction | DicomTransferAction;

interface ActionBase {
  /** Event time, UTC milliseconds. */
  timeMs: number;
  member: StaffMember;
  /** Address the request came from. */
  ip: string;
}

/** Okta System Log: a sign-in to Okta or a single sign-on into an application. */
export interface OktaAction extends ActionBase {
  kind: 'okta';
  eventType: 'user.session.start' | 'user.authentication.sso';
  success: boolean;
  app?: 'ehr' | 'pacs';
  userAgent: string;
}

export type FhirResourceType = 'Patient' | 'Observation' | 'Condition' | 'MedicationRequest' | 'DiagnosticReport' | 'Encounter' | 'Coverage' | 'Claim';

/** FHIR REST interaction on the EHR, audited as an AuditEvent of type `rest`. */
export interface FhirRestAction extends ActionBase {
  kind: 'fhir-rest';
  patient: Patient;
  interaction: 'read' | 'search';
  resourceType: FhirResourceType;
  /** AuditEvent outcome code: 0 success, 4 minor failure, 8 serious failure. */
  outcome: '0' | '4' | '8';
}

/** Start of an emergency override (break-glass) on one patient's record, with the stated reason. */
export interface FhirBreakGlassAction extends ActionBase {
  kind: 'fhir-break-glass';
  patient: Patient;
  reason: string;
}

/** A PACS sending one study to a user's viewer (DICOM 110104) or exporting it to media (110106). */
export interface DicomTransferAction extends ActionBase {
  kind: 'dicom';
  patient: Patient;
  study: Study;
  eventId: '110104' | '110106';
}
