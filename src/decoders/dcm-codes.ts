/**
 * DICOM audit event IDs (DICOM PS3.16 context group CID 403, "Audit Event ID") and the
 * event-type codes that qualify them (CID 404), used by the DICOM/ATNA decoder and by FHIR
 * AuditEvent, whose `type` reuses the DCM codes.
 */

export interface DcmEventInfo {
  name: string;
  /** ECS `event.category` for the event. */
  category: string[];
}

export const DCM_EVENT_IDS: Record<string, DcmEventInfo> = {
  '110100': { name: 'Application Activity', category: ['process'] },
  '110101': { name: 'Audit Log Used', category: ['database'] },
  '110102': { name: 'Begin Transferring DICOM Instances', category: ['file'] },
  '110103': { name: 'DICOM Instances Accessed', category: ['database'] },
  '110104': { name: 'DICOM Instances Transferred', category: ['file'] },
  '110105': { name: 'DICOM Study Deleted', category: ['database'] },
  '110106': { name: 'Export', category: ['file'] },
  '110107': { name: 'Import', category: ['file'] },
  '110108': { name: 'Network Entry', category: ['network'] },
  '110109': { name: 'Order Record', category: ['database'] },
  '110110': { name: 'Patient Record', category: ['database'] },
  '110111': { name: 'Procedure Record', category: ['database'] },
  '110112': { name: 'Query', category: ['database'] },
  '110113': { name: 'Security Alert', category: ['iam'] },
  '110114': { name: 'User Authentication', category: ['authentication'] },
};

/** Event-type codes (CID 404) whose meaning decides `event.type`. */
export const DCM_EVENT_TYPES: Record<string, { name: string; type: string }> = {
  '110120': { name: 'Application Start', type: 'start' },
  '110121': { name: 'Application Stop', type: 'end' },
  '110122': { name: 'Login', type: 'start' },
  '110123': { name: 'Logout', type: 'end' },
  '110124': { name: 'Attach', type: 'connection' },
  '110125': { name: 'Detach', type: 'connection' },
  '110127': { name: 'Emergency Override Started', type: 'start' },
  '110128': { name: 'Emergency Override Stopped', type: 'end' },
  '110132': { name: 'Use of Restricted Function', type: 'access' },
  '110137': { name: 'User Security Attributes Changed', type: 'change' },
  '110138': { name: 'Security Roles Changed', type: 'change' },
};

/** DCM code of the "Emergency Override Started" event type: the start of break-glass access. */
export const EMERGENCY_OVERRIDE_STARTED = '110127';

/** ECS `event.type` for the audit action codes C, R, U, D, E (shared by DICOM and FHIR). */
export const ACTION_CODE_TYPES: Record<string, string> = {
  C: 'creation',
  R: 'access',
  U: 'change',
  D: 'deletion',
  E: 'info',
};

/**
 * Outcome codes shared by DICOM EventOutcomeIndicator and FHIR R4 AuditEvent.outcome:
 * 0 success, 4 minor failure, 8 serious failure, 12 major failure.
 */
export function outcomeFromCode(code: string | undefined): 'success' | 'failure' | 'unknown' {
  if (code === '0') return 'success';
  if (code === '4' || code === '8' || code === '12') return 'failure';
  return 'unknown';
}

/** Display names and codes repeat from event to event, so their slugs are cached. The bound guards against unusual sources. */
const MAX_CACHED_SLUGS = 1_000;
const slugs = new Map<string, string>();

/** Lower-case, hyphen-separated form of a display name, for `event.action`. */
export function slugify(text: string): string {
  let slug = slugs.get(text);
  if (slug !== undefined) return slug;

  slug = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (slugs.size >= MAX_CACHED_SLUGS) slugs.clear();
  slugs.set(text, slug);
  return slug;
}
