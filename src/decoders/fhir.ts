import type { HolterEvent } from '../event.js';
import { ACTION_CODE_TYPES, DCM_EVENT_IDS, DCM_EVENT_TYPES, EMERGENCY_OVERRIDE_STARTED, outcomeFromCode, slugify } from './dcm-codes.js';
import { DecodeError } from './decode-error.js';
import { addRelatedIp, addRelatedUser, createEvent, PATIENT_ROLE_CODES, setSourceAddress } from './event-builder.js';
import type { FormatDecoder } from './format-decoder.js';
import { isFhirXml, parseFhirXml } from './fhir-xml.js';
import { asArray, asObject, compact, nonEmpty, objectsOf, type JsonObject } from './json.js';
import { parseIsoInstant } from './time.js';
import type { RawRecord } from './types.js';

/**
 * FHIR AuditEvent decoder: R4 JSON and XML, single resources or Bundles of them. R5 shapes
 * (`category`/`code`, outcome as an object, `authorization`, `agent.networkString`) are
 * read too, because build-line examples and newer servers mix them in. See docs/event.md.
 */

const FORMAT = 'fhir';
const DCM_SYSTEM = 'http://dicom.nema.org/resources/ontology/DCM';

/**
 * v3 ActReason "break the glass". ETREAT (emergency treatment) alone is an ordinary
 * purpose: it marks break-glass only together with the emergency override subtype, which
 * flags the event by itself.
 */
const BREAK_THE_GLASS = 'BTG';

/** Entity detail types whose value is the stated reason for a break-glass access. */
const REASON_DETAIL_TYPES = new Set(['reason', 'break-glass-reason']);

interface Coding {
  system?: string;
  code?: string;
  display?: string;
}

export const fhirDecoder: FormatDecoder = {
  format: FORMAT,

  matchesJson(value) {
    return typeof value.resourceType === 'string';
  },

  decodeJson(value, record) {
    return decodeResource(value, record);
  },

  matchesText(text) {
    return isFhirXml(text);
  },

  decodeText(text, record) {
    return decodeResource(parseFhirXml(text), record);
  },
};

function decodeResource(resource: JsonObject, record: RawRecord): HolterEvent[] {
  const resourceType = resource.resourceType;
  if (resourceType === 'AuditEvent') return [decodeAuditEvent(resource, record, 0)];
  if (resourceType !== 'Bundle') {
    throw new DecodeError(
      'unsupported_resource',
      `FHIR resource type "${String(resourceType)}" is not decoded; only AuditEvent, alone or in a Bundle, is.`,
    );
  }

  const resources = objectsOf(resource.entry).map((entry) => asObject(entry.resource) ?? {});
  const auditEvents = resources.filter((entry) => entry.resourceType === 'AuditEvent');
  if (auditEvents.length === 0) {
    const found = [...new Set(resources.map((entry) => String(entry.resourceType)))].join(', ') || 'no entries';
    throw new DecodeError(
      'unsupported_resource',
      `The FHIR Bundle holds no AuditEvent (found: ${found}); only AuditEvent resources are decoded.`,
    );
  }
  return auditEvents.map((auditEvent, index) => decodeAuditEvent(auditEvent, record, index));
}

function decodeAuditEvent(resource: JsonObject, record: RawRecord, index: number): HolterEvent {
  const resourceId = nonEmpty(resource.id);
  const recorded = resource.recorded;
  if (recorded === undefined) {
    throw new DecodeError('invalid_timestamp', `AuditEvent ${resourceId ?? '(no id)'} has no "recorded" time; FHIR requires it.`);
  }
  const timestamp = parseIsoInstant(recorded);
  if (timestamp === undefined) {
    throw new DecodeError(
      'invalid_timestamp',
      `AuditEvent ${resourceId ?? '(no id)'} has a "recorded" value that is not an ISO 8601 instant with a zone.`,
    );
  }

  const typeCodings = readTypeCodings(resource);
  const subtypeCodings = readSubtypeCodings(resource);
  const actionCode = nonEmpty(resource.action);
  const classification = classify(typeCodings, subtypeCodings, actionCode);

  const event = createEvent(
    record,
    FORMAT,
    {
      timestamp,
      id: resourceId,
      category: classification.category,
      type: classification.type,
      action: classification.action,
      outcome: outcomeFromCode(readOutcomeCode(resource)),
      module: 'fhir',
      dataset: 'audit_event',
    },
    index,
  );

  const agents = objectsOf(resource.agent);
  const requestor = findRequestor(agents);
  if (requestor) setUser(event, requestor);
  for (const agent of agents) addRelatedIp(event, readNetworkAddress(agent));

  const observerName = readObserverName(resource);
  if (observerName) event.observer = { name: observerName };

  const entities = objectsOf(resource.entity);
  setEntities(event, entities);
  setAccess(event, resource, requestor, subtypeCodings, entities);

  event.fhir = {
    audit_event: compact({
      id: resourceId,
      type: typeCodings[0]?.code,
      subtype: codesOf(subtypeCodings),
      action: actionCode,
      entity_types: entityTypes(entities),
    }),
  };
  return event;
}

function codesOf(codings: Coding[]): string[] {
  const codes: string[] = [];
  for (const coding of codings) if (coding.code !== undefined) codes.push(coding.code);
  return codes;
}

/** Returns the distinct entity type codes, in order of first appearance. */
function entityTypes(entities: JsonObject[]): string[] {
  const codes: string[] = [];
  for (const entity of entities) {
    const code = readCoding(entity.type)?.code;
    if (code !== undefined && !codes.includes(code)) codes.push(code);
  }
  return codes;
}

function readTypeCodings(resource: JsonObject): Coding[] {
  const r4Type = readCoding(resource.type);
  if (r4Type) return [r4Type];
  return objectsOf(resource.category).flatMap((concept) => objectsOf(concept.coding).map(toCoding));
}

/** R4 `subtype` is a list of Codings; build-line XML wraps each in `coding`; R5 uses `code.coding`. */
function readSubtypeCodings(resource: JsonObject): Coding[] {
  if (resource.subtype === undefined) return objectsOf(asObject(resource.code)?.coding).map(toCoding);
  const codings: Coding[] = [];
  for (const subtype of objectsOf(resource.subtype)) {
    if (subtype.coding === undefined) codings.push(toCoding(subtype));
    else for (const coding of objectsOf(subtype.coding)) codings.push(toCoding(coding));
  }
  return codings;
}

function readCoding(value: unknown): Coding | undefined {
  const object = asObject(value);
  if (!object) return undefined;
  const coding = asObject(asArray(object.coding)[0]) ?? object;
  return toCoding(coding);
}

function toCoding(value: JsonObject): Coding {
  return compact({ system: nonEmpty(value.system), code: nonEmpty(value.code), display: nonEmpty(value.display) });
}

interface Classification {
  category: string[];
  type: string[];
  action: string;
}

function classify(typeCodings: Coding[], subtypeCodings: Coding[], actionCode: string | undefined): Classification {
  const typeCode = typeCodings[0]?.code;
  const subtype = subtypeCodings[0];
  const actionType = ACTION_CODE_TYPES[actionCode ?? ''] ?? 'info';

  const dcmEvent = typeCode === undefined ? undefined : DCM_EVENT_IDS[typeCode];
  const dcmSubtype = subtype?.code === undefined ? undefined : DCM_EVENT_TYPES[subtype.code];
  const category = dcmEvent?.category ?? ['database'];

  let action: string;
  if (subtype?.code !== undefined && (subtype.system === DCM_SYSTEM || dcmSubtype)) {
    action = slugify(subtype.display ?? dcmSubtype?.name ?? subtype.code);
  } else if (subtype?.code !== undefined) {
    action = slugify(subtype.code);
  } else {
    action = slugify(typeCodings[0]?.display ?? dcmEvent?.name ?? typeCode ?? 'audit-event');
  }

  if (category[0] === 'authentication') {
    return { category, type: [dcmSubtype?.type === 'start' || dcmSubtype?.type === 'end' ? dcmSubtype.type : 'info'], action };
  }
  return { category, type: [actionType], action };
}

/** R4 `outcome` is a code string; R5 makes it an object with a `code` Coding. */
function readOutcomeCode(resource: JsonObject): string | undefined {
  const outcome = resource.outcome;
  if (typeof outcome === 'string') return outcome;
  return readCoding(asObject(outcome)?.code)?.code;
}

/**
 * Finds the acting user: the agent marked `requestor`, else the first agent typed as a
 * human user, because some servers (the gematik e-prescription service) never set `requestor`.
 */
function findRequestor(agents: JsonObject[]): JsonObject | undefined {
  const requestor = agents.find((agent) => agent.requestor === true || agent.requestor === 'true');
  if (requestor) return requestor;
  return agents.find((agent) => agentTypeCodes(agent).includes('humanuser'));
}

function agentTypeCodes(agent: JsonObject): string[] {
  return objectsOf(asObject(agent.type)?.coding)
    .map((coding) => nonEmpty(coding.code))
    .filter(isString);
}

/**
 * user.id is `who.identifier.value`, else `who.reference`; user.name is the identifier
 * value, else `altId`, else the id part of the reference. Person names (`agent.name`,
 * `who.display`) are deliberately not copied. The reference of an agent that is a Patient (a patient portal) is a
 * patient identifier, so it goes to `holter.acting_patient` for the enrich stage to tokenise.
 */
function setUser(event: HolterEvent, agent: JsonObject): void {
  const who = asObject(agent.who);
  const identifier = nonEmpty(asObject(who?.identifier)?.value);
  const reference = nonEmpty(who?.reference);
  const altId = nonEmpty(agent.altId);
  if (isPatientAgent(agent, who, reference)) {
    // The token only has to be stable per patient, so a reference that names no id is kept whole.
    const id = identifier ?? parseReference(withoutTrailingSlashes(reference))?.id ?? reference;
    if (id !== undefined) event.holter.acting_patient = { id };
    setSourceAddress(event, readNetworkAddress(agent));
    return;
  }
  const id = identifier ?? reference;
  const name = identifier ?? altId ?? (reference ? referenceId(reference) : undefined);

  if (id !== undefined || name !== undefined) {
    event.user = compact({ id, name });
    addRelatedUser(event, name);
  }
  setSourceAddress(event, readNetworkAddress(agent));
}

/** Returns the reference without slashes at its end, trimmed by a loop that runs in linear time. */
function withoutTrailingSlashes(reference: string | undefined): string | undefined {
  if (reference === undefined) return undefined;
  let end = reference.length;
  while (end > 0 && reference.charCodeAt(end - 1) === 0x2f) end -= 1;
  return reference.slice(0, end);
}

/**
 * Tells whether the agent is a patient: `who.type` is Patient, the reference names a Patient
 * (`Patient/1`, `Patient?identifier=...`, an absolute URL, a trailing slash), or the agent's
 * type is a patient code.
 */
function isPatientAgent(agent: JsonObject, who: JsonObject | undefined, reference: string | undefined): boolean {
  if (nonEmpty(who?.type) === 'Patient' || parseReference(reference)?.type === 'Patient') return true;
  if (reference !== undefined && /(^|\/)Patient([/?]|$)/.test(reference)) return true;
  return agentTypeCodes(agent).some((code) => PATIENT_ROLE_CODES.has(code));
}

function readNetworkAddress(agent: JsonObject): string | undefined {
  const network = asObject(agent.network);
  return nonEmpty(network?.address) ?? nonEmpty(agent.networkString) ?? nonEmpty(network?.uri);
}

function readObserverName(resource: JsonObject): string | undefined {
  const observer = asObject(asObject(resource.source)?.observer);
  if (!observer) return undefined;
  return nonEmpty(observer.display) ?? nonEmpty(asObject(observer.identifier)?.value) ?? nonEmpty(observer.reference);
}

/** Patient references become holter.patient.id; the first other resource becomes holter.record. */
function setEntities(event: HolterEvent, entities: JsonObject[]): void {
  const records: { type: string; id: string }[] = [];
  let patientId: string | undefined;

  for (const entity of entities) {
    const what = asObject(entity.what);
    const reference = parseReference(nonEmpty(what?.reference));
    if (reference?.type === 'Patient') {
      patientId ??= reference.id;
      continue;
    }
    if (isPatientEntity(entity)) {
      patientId ??= nonEmpty(asObject(what?.identifier)?.value);
      continue;
    }
    if (reference) records.push(reference);
  }

  if (patientId !== undefined) event.holter.patient = { id: patientId };
  const first = records[0];
  if (first) event.holter.record = { type: first.type, id: first.id, count: records.length };
  else if (patientId !== undefined) event.holter.record = { type: 'Patient', count: 1 };
}

/** Entity type 1 (Person) with role 1 (Patient), or an R5 role coded `patient`. */
function isPatientEntity(entity: JsonObject): boolean {
  const typeCode = readCoding(entity.type)?.code;
  const roleCode = readCoding(entity.role)?.code;
  return (typeCode === '1' && roleCode === '1') || roleCode === 'patient';
}

const RESOURCE_TYPE = /^[A-Z][A-Za-z]+$/;

/**
 * Splits a FHIR reference (`Patient/123`, `Patient/123/_history/2`, or an absolute URL
 * ending in `Type/id`) into resource type and id. Returns undefined for other shapes.
 */
export function parseReference(reference: string | undefined): { type: string; id: string } | undefined {
  if (reference === undefined) return undefined;
  const history = reference.indexOf('/_history/');
  const end = history >= 0 ? history : reference.length;

  // The last two `/`-separated segments before `end`, found without splitting the whole URL.
  const idSlash = end > 0 ? reference.lastIndexOf('/', end - 1) : -1;
  if (idSlash <= 0) return undefined;
  const id = reference.slice(idSlash + 1, end);
  const type = reference.slice(reference.lastIndexOf('/', idSlash - 1) + 1, idSlash);
  if (id === '' || !RESOURCE_TYPE.test(type)) return undefined;
  return { type, id };
}

function referenceId(reference: string): string {
  return parseReference(reference)?.id ?? reference;
}

/**
 * Sets holter.access. Purpose codes are read from `purposeOfEvent` (R4), `authorization`
 * (R5) and the requestor's `purposeOfUse`. Break-glass is flagged for subtype DCM 110127
 * "Emergency Override Started", or a purpose of BTG, or ETREAT with that subtype.
 * The reason is the first of: a purpose's `text`, an entity `detail` typed `reason` or
 * `break-glass-reason`, for a break-glass access a purpose coding's `display`, and, for an
 * emergency override only, `outcomeDesc` (R4) or `outcome.detail[].text` (R5).
 */
function setAccess(
  event: HolterEvent,
  resource: JsonObject,
  requestor: JsonObject | undefined,
  subtypeCodings: Coding[],
  entities: JsonObject[],
): void {
  const purposes = readPurposes(resource, requestor);
  const purposeCodes: string[] = [];
  let purposeText: string | undefined;
  let purposeDisplay: string | undefined;
  for (const concept of purposes) {
    for (const coding of objectsOf(concept.coding)) {
      const code = nonEmpty(coding.code);
      if (code !== undefined) purposeCodes.push(code);
      purposeDisplay ??= nonEmpty(coding.display);
    }
    purposeText ??= nonEmpty(concept.text);
  }
  const isOverride = subtypeCodings.some((coding) => coding.code === EMERGENCY_OVERRIDE_STARTED);
  const breakGlass = isOverride || purposeCodes.includes(BREAK_THE_GLASS);

  let reason = purposeText ?? readReasonDetail(entities);
  // A coded purpose ("Emergency Treatment") states more of the reason than the outcome's text.
  if (reason === undefined && breakGlass) reason = purposeDisplay;
  if (reason === undefined && isOverride) reason = readOutcomeText(resource);

  const access = compact({
    purpose: purposeCodes[0],
    break_glass: breakGlass ? true : undefined,
    reason,
  });
  if (Object.keys(access).length > 0) event.holter.access = access;
}

/** Returns the purpose concepts of `purposeOfEvent` (R4), `authorization` (R5) and the requestor's `purposeOfUse`, in that order. */
function readPurposes(resource: JsonObject, requestor: JsonObject | undefined): JsonObject[] {
  const sources = [resource.purposeOfEvent, resource.authorization, requestor?.purposeOfUse];
  let purposes: JsonObject[] | undefined;
  for (const source of sources) {
    if (source === undefined) continue;
    const concepts = objectsOf(source);
    if (concepts.length === 0) continue;
    purposes = purposes === undefined ? concepts : [...purposes, ...concepts];
  }
  return purposes ?? [];
}

function readReasonDetail(entities: JsonObject[]): string | undefined {
  for (const entity of entities) {
    for (const detail of objectsOf(entity.detail)) {
      const type = nonEmpty(detail.type) ?? readCoding(detail.type)?.code;
      if (type === undefined || !REASON_DETAIL_TYPES.has(type)) continue;
      const text = nonEmpty(detail.valueString);
      if (text !== undefined) return text;
      const base64 = nonEmpty(detail.valueBase64Binary);
      if (base64 !== undefined) return Buffer.from(base64, 'base64').toString('utf8');
    }
  }
  return undefined;
}

function readOutcomeText(resource: JsonObject): string | undefined {
  const r4Text = nonEmpty(resource.outcomeDesc);
  if (r4Text !== undefined) return r4Text;
  return objectsOf(asObject(resource.outcome)?.detail)
    .map((detail) => nonEmpty(detail.text))
    .find(isString);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}
