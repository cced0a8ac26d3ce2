import type { DicomTransferAction } from '../actions.js';
import type { WriterContext } from './context.js';

/**
 * DICOM audit messages (DICOM PS3.15 Annex A.5, the schema IHE ATNA uses) sent as RFC 5424
 * syslog lines, the XML as the MSG part, as IHE ITI-20 transmits them. Attribute names are the
 * DICOM 2016 and later ones (`csd-code`, `originalText`).
 */

/** Facility 10 (security/authorization) and severity 5 (notice): 10 * 8 + 5, per RFC 5424 section 6.2.1. */
const PRIORITY = 85;
/** MSGID that IHE ITI-20 sets for audit messages. */
const MSG_ID = 'IHE+RFC-3881';
const PROC_ID = '4172';
/** Assigning authority of the facility's medical record numbers in the HL7 CX patient id. */
const MRN_AUTHORITY = 'STJUDE&amp;2.25.191270358837440115432075421918239416181&amp;ISO';

const EVENTS: Record<DicomTransferAction['eventId'], string> = {
  '110104': '<EventID csd-code="110104" codeSystemName="DCM" originalText="DICOM Instances Transferred"/>',
  '110106': '<EventID csd-code="110106" codeSystemName="DCM" originalText="Export"/>',
};

/** Writes one transfer or export of one study as a syslog line carrying the audit message. */
export function writeDicomTransfer(action: DicomTransferAction, context: WriterContext): string {
  const time = context.clock.formatLocal(action.timeMs);
  const pacsHost = context.hosts.pacs;
  const study = action.study;
  const destination =
    action.eventId === '110106'
      ? `<ActiveParticipant UserID="MEDIA-${action.member.department.toUpperCase()}" UserIsRequestor="false"><RoleIDCode csd-code="110154" codeSystemName="DCM" originalText="Destination Media"/></ActiveParticipant>`
      : `<ActiveParticipant UserID="VIEWER" AlternativeUserID="AETITLES=WS${action.ip.split('.').slice(2).join('')}" UserIsRequestor="false" NetworkAccessPointID="${action.ip}" NetworkAccessPointTypeCode="2"><RoleIDCode csd-code="110152" codeSystemName="DCM" originalText="Destination Role ID"/></ActiveParticipant>`;

  const xml =
    '<?xml version="1.0" encoding="UTF-8"?><AuditMessage>' +
    `<EventIdentification EventActionCode="R" EventDateTime="${time}" EventOutcomeIndicator="0">${EVENTS[action.eventId]}</EventIdentification>` +
    `<ActiveParticipant UserID="${action.member.pacsUser ?? action.member.login.toUpperCase()}" UserIsRequestor="true" NetworkAccessPointID="${action.ip}" NetworkAccessPointTypeCode="2"/>` +
    `<ActiveParticipant UserID="STJUDE_PACS" AlternativeUserID="AETITLES=STJPACS" UserIsRequestor="false" NetworkAccessPointID="${pacsHost}" NetworkAccessPointTypeCode="1"><RoleIDCode csd-code="110153" codeSystemName="DCM" originalText="Source Role ID"/></ActiveParticipant>` +
    destination +
    `<AuditSourceIdentification AuditEnterpriseSiteID="${context.facility}" AuditSourceID="${pacsHost}"><AuditSourceTypeCode csd-code="4" codeSystemName="DCM" originalText="Application Server Process or Thread"/></AuditSourceIdentification>` +
    `<ParticipantObjectIdentification ParticipantObjectID="${study.uid}" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="3">` +
    '<ParticipantObjectIDTypeCode csd-code="110180" codeSystemName="DCM" originalText="Study Instance UID"/>' +
    `<ParticipantObjectDescription><Accession Number="${study.accession}"/><SOPClass UID="${study.sopClassUid}" NumberOfInstances="${study.instances}"/></ParticipantObjectDescription>` +
    '</ParticipantObjectIdentification>' +
    `<ParticipantObjectIdentification ParticipantObjectID="${action.patient.id}^^^${MRN_AUTHORITY}^MR" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">` +
    '<ParticipantObjectIDTypeCode csd-code="2" codeSystemName="RFC-3881" originalText="Patient Number"/>' +
    '</ParticipantObjectIdentification></AuditMessage>';

  return `<${PRIORITY}>1 ${time} ${pacsHost} PACS ${PROC_ID} ${MSG_ID} - ${xml}`;
}
