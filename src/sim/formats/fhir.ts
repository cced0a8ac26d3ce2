import type { FhirBreakGlassAction, FhirRestAction } from '../actions.js';
import type { WriterContext } from './context.js';

/**
 * FHIR R4 AuditEvent writers (https://hl7.org/fhir/R4/auditevent.html), one minified JSON
 * object per record. Read and search follow the IHE Basic Audit Log Patterns: type `rest`, the
 * requesting user as the requestor agent, the patient as an entity with object role 1.
 */

const REST_TYPE = '{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"Restful Operation"}';
const SECURITY_ALERT_TYPE = '{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110113","display":"Security Alert"}';
const BREAK_GLASS_SUBTYPE = '[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110127","display":"Emergency Override Started"}]';
const USER_AGENT_TYPE = '{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP","display":"information recipient"}]}';
const SERVER_AGENT_TYPE = '{"coding":[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110153","display":"Source Role ID"}]}';
const SOURCE_TYPE = '[{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}]';
const PERSON_ENTITY = '"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1","display":"Person"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}';
const RESOURCE_ENTITY = '"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"4","display":"Domain Resource"}';
const QUERY_ENTITY = '"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"24","display":"Query"}';
const BREAK_GLASS_PURPOSE = '"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"BTG","display":"break the glass"}]';

const OUTCOME_TEXT: Record<string, string> = { '0': '', '4': ',"outcomeDesc":"Invalid search parameter"', '8': ',"outcomeDesc":"Internal server error"' };

/** Writes a FHIR `read` or `search` as an AuditEvent. */
export function writeFhirRest(action: FhirRestAction, context: WriterContext): string {
  const id = context.random.uuid();
  const patientEntity = `{"what":{"reference":"Patient/${action.patient.id}"},${PERSON_ENTITY}}`;

  let entities: string;
  let subtype: string;
  let verb: string;
  if (action.interaction === 'search') {
    // RFC 4648 base64 of the query string, as FHIR R4 entity.query requires.
    const query = Buffer.from(`${action.resourceType}?patient=${action.patient.id}&_count=50`).toString('base64');
    entities = `${patientEntity},{"query":"${query}",${QUERY_ENTITY}}`;
    subtype = '[{"system":"http://hl7.org/fhir/restful-interaction","code":"search","display":"search"}]';
    verb = 'E';
  } else if (action.resourceType === 'Patient') {
    entities = patientEntity;
    subtype = '[{"system":"http://hl7.org/fhir/restful-interaction","code":"read","display":"read"}]';
    verb = 'R';
  } else {
    entities = `{"what":{"reference":"${action.resourceType}/${context.random.hex(12)}"},${RESOURCE_ENTITY}},${patientEntity}`;
    subtype = '[{"system":"http://hl7.org/fhir/restful-interaction","code":"read","display":"read"}]';
    verb = 'R';
  }

  return (
    `{"resourceType":"AuditEvent","id":"${id}","type":${REST_TYPE},"subtype":${subtype},"action":"${verb}",` +
    `"recorded":"${context.clock.formatLocal(action.timeMs)}","outcome":"${action.outcome}"${OUTCOME_TEXT[action.outcome]},` +
    `"agent":[${userAgent(action.member.login, action.ip, context)},${serverAgent(context)}],` +
    `${source(context)},"entity":[${entities}]}`
  );
}

/** Writes the start of an emergency override (DCM 110127) with purposeOfEvent BTG and the reason as its text. */
export function writeFhirBreakGlass(action: FhirBreakGlassAction, context: WriterContext): string {
  const id = context.random.uuid();
  return (
    `{"resourceType":"AuditEvent","id":"${id}","type":${SECURITY_ALERT_TYPE},"subtype":${BREAK_GLASS_SUBTYPE},"action":"E",` +
    `"recorded":"${context.clock.formatLocal(action.timeMs)}","outcome":"0",` +
    `"purposeOfEvent":[{${BREAK_GLASS_PURPOSE},"text":${JSON.stringify(action.reason)}}],` +
    `"agent":[${userAgent(action.member.login, action.ip, context)},${serverAgent(context)}],` +
    `${source(context)},"entity":[{"what":{"reference":"Patient/${action.patient.id}"},${PERSON_ENTITY}}]}`
  );
}

function userAgent(login: string, ip: string, context: WriterContext): string {
  return `{"type":${USER_AGENT_TYPE},"who":{"identifier":{"system":"https://${context.hosts.ehr}/users","value":"${login}"}},"requestor":true,"network":{"address":"${ip}","type":"2"}}`;
}

function serverAgent(context: WriterContext): string {
  return `{"type":${SERVER_AGENT_TYPE},"who":{"display":"${context.hosts.ehr}"},"requestor":false,"network":{"address":"${context.hosts.ehr}","type":"1"}}`;
}

function source(context: WriterContext): string {
  return `"source":{"site":"${context.facility}","observer":{"display":"${context.hosts.ehr}"},"type":${SOURCE_TYPE}}`;
}
