import type { HolterEvent } from '../event.js';
import { ACTION_CODE_TYPES, DCM_EVENT_IDS, DCM_EVENT_TYPES, outcomeFromCode, slugify } from './dcm-codes.js';
import { DecodeError } from './decode-error.js';
import { addRelatedIp, addRelatedUser, createEvent, isPresent, PATIENT_ROLE_CODES, setSourceAddress } from './event-builder.js';
import type { FormatDecoder } from './format-decoder.js';
import { compact, isObject, type JsonObject } from './json.js';
import { parseSyslogHeader, startsLikeSyslog } from './syslog.js';
import { parseAnyIso } from './time.js';
import type { DecodeContext, RawRecord } from './types.js';
import { attr, children, parseXml, rootElementName, textOf } from './xml.js';

/**
 * DICOM / IHE ATNA audit messages (DICOM PS3.15 A.5, and its RFC 3881 predecessor), bare
 * or as the MSG part of an RFC 5424 or RFC 3164 syslog line (IHE ATNA transports them so).
 */

const FORMAT = 'dicom-audit';
const ROOT = 'AuditMessage';

/** ParticipantObjectIDTypeCode of a Study Instance UID. */
const STUDY_INSTANCE_UID = '110180';

/** RoleIDCodes of applications rather than people: source, destination, application, launcher. */
const APPLICATION_ROLES = new Set(['110150', '110151', '110152', '110153']);

/**
 * ParticipantObjectDetail types that carry the bytes moved. They are not part of the DICOM
 * schema, but some PACS add one. The schema encodes every detail value in base64, so the
 * value is read as base64 of the decimal byte count; a plain decimal is accepted too.
 */
const BYTES_DETAIL_TYPES = new Set(['bytes', 'transfersize']);

/** A code element in either spelling: RFC 3881 `code`/`displayName`, DICOM 2016+ `csd-code`/`originalText`. */
interface Code {
  code?: string;
  name?: string;
  system?: string;
}

export const dicomAuditDecoder: FormatDecoder = {
  format: FORMAT,

  matchesText(text) {
    if (startsLikeSyslog(text)) return text.slice(0, 1024).includes(`<${ROOT}`);
    return rootElementName(text) === ROOT;
  },

  decodeText(text, record, context) {
    if (!startsLikeSyslog(text)) return [decodeMessage(text, record, context, undefined)];

    const header = parseSyslogHeader(text, context);
    const message = header.message.replace(/^\uFEFF/, '');
    return [decodeMessage(message, record, context, header.hostname)];
  },
};

function decodeMessage(xml: string, record: RawRecord, context: DecodeContext, syslogHost: string | undefined): HolterEvent {
  const document = parseXml(xml);
  const message = document[ROOT];
  if (!isObject(message)) {
    throw new DecodeError('invalid_record', `The XML document has no ${ROOT} root element; set the input's format (--format, or kafka.topics[].format) if it is another kind of XML.`);
  }

  const identification = children(message, 'EventIdentification')[0];
  const dateTime = attr(identification, 'EventDateTime');
  if (dateTime === undefined) {
    throw new DecodeError('invalid_timestamp', 'The DICOM audit message has no EventIdentification/@EventDateTime.');
  }
  const timestamp = parseAnyIso(dateTime, context.defaultTimeZone);
  if (timestamp === undefined) {
    throw new DecodeError('invalid_timestamp', 'The DICOM audit message has an EventDateTime that is not an ISO 8601 date-time.');
  }

  const eventId = readCode(children(identification, 'EventID')[0]);
  const typeCodes = children(identification, 'EventTypeCode').map(readCode);
  const actionCode = attr(identification, 'EventActionCode');
  const outcomeIndicator = attr(identification, 'EventOutcomeIndicator');
  const classification = classify(eventId, typeCodes, actionCode);

  const event = createEvent(record, FORMAT, {
    timestamp,
    category: classification.category,
    type: classification.type,
    action: classification.action,
    outcome: outcomeFromCode(outcomeIndicator),
    module: 'dicom',
    dataset: 'audit',
  });
  const outcomeText = textOf(children(identification, 'EventOutcomeDescription')[0]);
  if (isPresent(outcomeText)) event.event.reason = outcomeText;

  setParticipants(event, children(message, 'ActiveParticipant'));
  const auditSource = children(message, 'AuditSourceIdentification')[0];
  const auditSourceId = attr(auditSource, 'AuditSourceID');
  if (isPresent(auditSourceId)) event.observer = { name: auditSourceId };
  if (syslogHost !== undefined) event.host = { name: syslogHost };

  setParticipantObjects(event, children(message, 'ParticipantObjectIdentification'));
  moveSelfAsPatient(event);

  event.dicom = {
    audit: compact({
      event_id: eventId.code,
      event_type_codes: typeCodes.map((code) => code.code).filter(isString),
      action_code: actionCode,
      outcome_indicator: outcomeIndicator,
      source_id: auditSourceId,
      enterprise_site_id: attr(auditSource, 'AuditEnterpriseSiteID'),
    }),
  };
  return event;
}

function readCode(element: unknown): Code {
  return compact({
    code: attr(element, 'csd-code') ?? attr(element, 'code'),
    name: attr(element, 'originalText') ?? attr(element, 'displayName'),
    system: attr(element, 'codeSystemName'),
  });
}

function classify(eventId: Code, typeCodes: Code[], actionCode: string | undefined) {
  const known = eventId.code === undefined ? undefined : DCM_EVENT_IDS[eventId.code];
  const category = known?.category ?? ['database'];
  const dcmType = typeCodes.map((code) => (code.code === undefined ? undefined : DCM_EVENT_TYPES[code.code])).find((found) => found);

  const action = slugify(dcmType?.name ?? known?.name ?? eventId.name ?? eventId.code ?? 'audit-message');
  let type = ACTION_CODE_TYPES[actionCode ?? ''] ?? 'info';
  if (category[0] === 'authentication' || category[0] === 'process') {
    type = dcmType?.type === 'start' || dcmType?.type === 'end' ? dcmType.type : 'info';
  }
  return { category, type: [type], action };
}

/**
 * Sets the acting user from the requestors (UserIsRequestor true). With several, the first
 * that looks like a person wins: no application role, no `|` (AE title notation), no URL,
 * no machine account ending in `$`. Every requestor lands in related.user.
 */
function setParticipants(event: HolterEvent, participants: unknown[]): void {
  const requestors = participants.filter((participant) => attr(participant, 'UserIsRequestor')?.toLowerCase() === 'true');
  const chosen = requestors.find(isHumanLooking) ?? requestors[0];

  // A patient's UserID is a patient identifier, so it goes to no user field.
  for (const participant of requestors) if (!isPatientParticipant(participant)) addRelatedUser(event, attr(participant, 'UserID'));
  for (const participant of participants) {
    if (attr(participant, 'NetworkAccessPointTypeCode') === '2') addRelatedIp(event, attr(participant, 'NetworkAccessPointID'));
  }
  if (chosen === undefined) return;

  const userId = attr(chosen, 'UserID');
  if (isPresent(userId) && isPatientParticipant(chosen)) event.holter.acting_patient = { id: patientIdFromCx(userId) };
  else if (isPresent(userId)) event.user = { name: userId };

  const accessPointType = attr(chosen, 'NetworkAccessPointTypeCode');
  const accessPoint = attr(chosen, 'NetworkAccessPointID');
  if (accessPointType === '1' || accessPointType === '2') setSourceAddress(event, accessPoint);
}

function isPatientParticipant(participant: unknown): boolean {
  return children(participant, 'RoleIDCode').some((role) => PATIENT_ROLE_CODES.has(readCode(role).code ?? ''));
}

/**
 * Moves the acting user to `holter.acting_patient` when its UserID is the patient object's id
 * (as CX), for a message that names the patient as requestor without a patient role code.
 */
function moveSelfAsPatient(event: HolterEvent): void {
  const name = event.user?.name;
  const patientId = event.holter.patient?.id;
  if (name === undefined || patientId === undefined || patientIdFromCx(name) !== patientId) return;
  event.holter.acting_patient = { id: patientId };
  delete event.user;
  const related = event.related?.user?.filter((user) => user !== name);
  if (related !== undefined && event.related !== undefined) {
    if (related.length > 0) event.related.user = related;
    else delete event.related.user;
  }
}

function isHumanLooking(participant: unknown): boolean {
  const userId = attr(participant, 'UserID');
  if (!isPresent(userId)) return false;
  if (userId.includes('|') || userId.includes('://') || userId.endsWith('$')) return false;
  const roles = children(participant, 'RoleIDCode').map((role) => readCode(role).code);
  return !roles.some((role) => role !== undefined && APPLICATION_ROLES.has(role));
}

/** Fills holter.patient and holter.dicom from the ParticipantObjectIdentification elements. */
function setParticipantObjects(event: HolterEvent, objects: unknown[]): void {
  const studyUids: string[] = [];
  const sopClasses: string[] = [];
  const accessions: string[] = [];
  let instanceCount: number | undefined;
  let bytes: number | undefined;

  for (const object of objects) {
    const typeCode = attr(object, 'ParticipantObjectTypeCode');
    const role = attr(object, 'ParticipantObjectTypeCodeRole');
    const objectId = attr(object, 'ParticipantObjectID');
    const idType = readCode(children(object, 'ParticipantObjectIDTypeCode')[0]).code;

    if (typeCode === '1' && role === '1' && isPresent(objectId) && event.holter.patient === undefined) {
      event.holter.patient = { id: patientIdFromCx(objectId) };
    }
    if (idType === STUDY_INSTANCE_UID && isPresent(objectId)) pushUnique(studyUids, objectId);

    // DICOM 2016+ puts these under the object itself; RFC 3881 senders under its Description.
    const containers = [object, ...children(object, 'ParticipantObjectDescription').filter(isObject)];
    for (const container of containers) {
      for (const study of children(container, 'ParticipantObjectContainsStudy')) {
        for (const studyId of children(study, 'StudyIDs')) pushUnique(studyUids, attr(studyId, 'UID'));
      }
      for (const sopClass of children(container, 'SOPClass')) {
        pushUnique(sopClasses, attr(sopClass, 'UID'));
        const count = Number(attr(sopClass, 'NumberOfInstances'));
        if (Number.isSafeInteger(count) && count >= 0) instanceCount = (instanceCount ?? 0) + count;
      }
      for (const accession of children(container, 'Accession')) pushUnique(accessions, attr(accession, 'Number'));
    }

    for (const detail of children(object, 'ParticipantObjectDetail')) {
      const detailType = attr(detail, 'type')?.toLowerCase();
      if (detailType === undefined || !BYTES_DETAIL_TYPES.has(detailType)) continue;
      const value = decodeByteCount(attr(detail, 'value'));
      if (value !== undefined) bytes = (bytes ?? 0) + value;
    }
  }

  const dicom = compact({
    study_uids: studyUids.length > 0 ? studyUids : undefined,
    study_count: studyUids.length > 0 ? studyUids.length : undefined,
    instance_count: instanceCount,
    bytes,
    accession: accessions.length > 0 ? accessions : undefined,
    sop_classes: sopClasses.length > 0 ? sopClasses : undefined,
  });
  if (Object.keys(dicom).length > 0) event.holter.dicom = dicom;
}

/** Returns the ID part of an HL7 v2 CX value (`102^^^IHENA&1.3.6...&ISO^PI` -> `102`). */
export function patientIdFromCx(value: string): string {
  const caret = value.indexOf('^');
  return caret < 0 ? value : value.slice(0, caret);
}

function decodeByteCount(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  const decoded = Buffer.from(trimmed, 'base64').toString('latin1').trim();
  const text = /^\d+$/.test(decoded) ? decoded : trimmed;
  if (!/^\d+$/.test(text)) return undefined;
  const number = Number(text);
  return Number.isSafeInteger(number) ? number : undefined;
}

function pushUnique(list: string[], value: string | undefined): void {
  if (isPresent(value) && !list.includes(value)) list.push(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}
