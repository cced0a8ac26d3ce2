import { DecodeError } from './decode-error.js';
import { asArray, asInteger, asObject, asString, isObject, type JsonObject } from './json.js';
import { parseIsoInstant, parseLocalIso } from './time.js';
import { ATTR, attr, parseXml, textOf } from './xml.js';

/**
 * Readers that turn each Windows event shape into one `WindowsRecord`: NXLog
 * `im_msvistalog` JSON, the flat JSON with `TimeCreated`/`Hostname`, the
 * `{"Event":{"System":...,"EventData":...}}` JSON of evtx converters, and event XML.
 */

export interface WindowsRecord {
  timestamp: string;
  eventId: number;
  channel?: string;
  providerName?: string;
  providerGuid?: string;
  computerName?: string;
  recordId?: number;
  task?: string | number;
  opcode?: string | number;
  /** Exactly as the source wrote it: hex (`0x8010...`) or NXLog's signed decimal. */
  keywords?: string;
  version?: number;
  level?: string | number;
  processId?: number;
  threadId?: number;
  userSid?: string;
  /** NXLog's `EventType` (AUDIT_SUCCESS, AUDIT_FAILURE, INFO...). */
  auditResult?: string;
  eventData: Record<string, unknown>;
  userData?: Record<string, unknown>;
}

/** Top-level keys that NXLog, Logstash or the flat shipper schema add; every other key is event data. */
const FLAT_SYSTEM_KEYS = new Set([
  '@timestamp', '@version', 'host', 'port', 'tags', 'type', 'Hostname', 'EventTime', 'EventReceivedTime',
  'SourceModuleName', 'SourceModuleType', 'SourceName', 'ProviderGuid', 'Channel', 'EventID', 'Version',
  'Task', 'Opcode', 'OpcodeValue', 'Level', 'Keywords', 'RecordNumber', 'EventRecordID', 'ExecutionProcessID',
  'ThreadID', 'ActivityID', 'RelatedActivityID', 'Severity', 'SeverityValue', 'Message', 'TimeCreated',
  'ERROR_EVT_UNRESOLVED',
]);

/**
 * Keys NXLog adds only in its own schema (it resolves the System/Security UserID into
 * AccountName, Domain and AccountType). The flat shipper schema has an `EventType` event
 * data field (Sysmon registry events), so these are system keys only for NXLog records.
 */
const NXLOG_ONLY_KEYS = new Set(['EventType', 'Category', 'UserID', 'AccountName', 'AccountType', 'Domain']);

export function isNxlog(value: JsonObject): boolean {
  return 'SourceModuleType' in value || 'EventReceivedTime' in value || 'EventTime' in value;
}

export function isFlatWindows(value: JsonObject): boolean {
  return typeof value.EventID === 'number' && (typeof value.SourceName === 'string' || typeof value.Channel === 'string');
}

export function isEventJson(value: JsonObject): boolean {
  const event = asObject(value.Event);
  return event !== undefined && isObject(event.System);
}

/** Reads NXLog or the flat shipper schema. `text` is the record text, for Keywords beyond 2^53. */
export function readFlat(value: JsonObject, text: string, defaultTimeZone: string): WindowsRecord {
  const nxlog = isNxlog(value);
  const timestamp =
    parseIsoInstant(value['@timestamp']) ??
    parseIsoInstant(value.TimeCreated) ??
    parseLocalIso(value.EventTime, defaultTimeZone);
  if (timestamp === undefined) {
    throw new DecodeError('invalid_timestamp', 'The Windows event has no usable @timestamp, TimeCreated or EventTime.');
  }

  const eventData: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (FLAT_SYSTEM_KEYS.has(key) || (nxlog && NXLOG_ONLY_KEYS.has(key))) continue;
    eventData[key] = field;
  }

  return compactRecord({
    timestamp,
    eventId: requireEventId(value.EventID),
    channel: asString(value.Channel),
    providerName: asString(value.SourceName),
    providerGuid: asString(value.ProviderGuid),
    computerName: asString(value.Hostname),
    recordId: asInteger(value.RecordNumber ?? value.EventRecordID),
    task: numberOrString(value.Task),
    opcode: numberOrString(value.OpcodeValue ?? value.Opcode),
    keywords: readFlatKeywords(value.Keywords, text),
    version: asInteger(value.Version),
    level: numberOrString(value.Level ?? value.SeverityValue),
    processId: asInteger(value.ExecutionProcessID),
    threadId: asInteger(value.ThreadID),
    userSid: nxlog ? asString(value.UserID) : undefined,
    auditResult: nxlog ? asString(value.EventType) : undefined,
    eventData,
  });
}

/**
 * NXLog writes Keywords as a signed 64-bit decimal, which JSON.parse rounds once it is
 * beyond 2^53. The digits are read back from the record text so no precision is lost.
 */
function readFlatKeywords(parsed: unknown, text: string): string | undefined {
  if (typeof parsed === 'string') return parsed;
  if (typeof parsed !== 'number') return undefined;
  if (Number.isSafeInteger(parsed)) return String(parsed);

  const key = text.indexOf('"Keywords":');
  if (key < 0) return undefined;
  let start = key + '"Keywords":'.length;
  while (text[start] === ' ') start++;
  let end = start;
  if (text[end] === '-') end++;
  while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
  return end > start ? text.slice(start, end) : undefined;
}

/** Reads the `{"Event": {"System": {...}, "EventData": {...}}}` shape with `#attributes` keys. */
export function readEventJson(value: JsonObject): WindowsRecord {
  const event = asObject(value.Event) ?? {};
  const system = asObject(event.System) ?? {};
  const attributesOf = (element: unknown): JsonObject => asObject(asObject(element)?.['#attributes']) ?? {};

  const timestamp = parseIsoInstant(attributesOf(system.TimeCreated).SystemTime);
  if (timestamp === undefined) {
    throw new DecodeError('invalid_timestamp', 'The Windows event has no System.TimeCreated SystemTime in ISO 8601 with a zone.');
  }

  const eventIdField = system.EventID;
  const rawEventId = isObject(eventIdField) ? eventIdField['#text'] : eventIdField;
  const execution = attributesOf(system.Execution);
  const eventData = readEventDataJson(event.EventData);
  const userData = readUserDataJson(event.UserData);

  return compactRecord({
    timestamp,
    eventId: requireEventId(rawEventId),
    channel: asString(system.Channel),
    providerName: asString(attributesOf(system.Provider).Name),
    providerGuid: asString(attributesOf(system.Provider).Guid),
    computerName: asString(system.Computer),
    recordId: asInteger(system.EventRecordID),
    task: numberOrString(system.Task),
    opcode: numberOrString(system.Opcode),
    keywords: asString(system.Keywords),
    version: asInteger(system.Version),
    level: numberOrString(system.Level),
    processId: asInteger(execution.ProcessID),
    threadId: asInteger(execution.ThreadID),
    userSid: asString(attributesOf(system.Security).UserID),
    eventData: eventData ?? userData ?? {},
    userData,
  });
}

/** EventData as a name -> value map, or a `Data` list of `{#attributes: {Name}, #text}`. */
function readEventDataJson(eventData: unknown): Record<string, unknown> | undefined {
  const data = asObject(eventData);
  if (!data) return undefined;
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (key === '#attributes') continue;
    if (key !== 'Data') {
      result[key] = value;
      continue;
    }
    asArray(value).forEach((item, index) => {
      const name = asString(asObject(asObject(item)?.['#attributes'])?.Name);
      const text = isObject(item) ? (item['#text'] ?? '') : item;
      result[name ?? `param${index + 1}`] = text;
    });
  }
  return result;
}

/** Reads UserData, which contains one element named by the provider whose children are the fields. */
function readUserDataJson(userData: unknown): Record<string, unknown> | undefined {
  const data = asObject(userData);
  if (!data) return undefined;
  const inner = Object.entries(data).find(([key]) => key !== '#attributes')?.[1];
  const fields = asObject(inner);
  if (!fields) return undefined;
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (key !== '#attributes') result[key] = value;
  }
  return result;
}

/**
 * Reads Windows event XML, including text copied from Event Viewer's friendly view, which
 * puts a `- ` expander marker before every element that has children.
 */
export function readEventXml(text: string): WindowsRecord {
  const cleaned = text.replace(/(^|>)\s*-\s+(?=<)/g, '$1');
  const document = parseXml(cleaned, { keepWhitespace: true });
  const event = asObject(document.Event);
  const system = asObject(event?.System);
  if (!event || !system) {
    throw new DecodeError('invalid_record', 'The XML has no Event/System element; it is not a Windows event.');
  }

  const timestamp = parseIsoInstant(attr(system.TimeCreated, 'SystemTime'));
  if (timestamp === undefined) {
    throw new DecodeError('invalid_timestamp', 'The Windows event has no TimeCreated/@SystemTime in ISO 8601 with a zone.');
  }

  return compactRecord({
    timestamp,
    eventId: requireEventId(textOf(system.EventID)?.trim()),
    channel: elementText(system.Channel),
    providerName: attr(system.Provider, 'Name'),
    providerGuid: attr(system.Provider, 'Guid'),
    computerName: elementText(system.Computer),
    recordId: asInteger(elementText(system.EventRecordID)),
    task: numberOrString(elementText(system.Task)),
    opcode: numberOrString(elementText(system.Opcode)),
    keywords: elementText(system.Keywords),
    version: asInteger(elementText(system.Version)),
    level: numberOrString(elementText(system.Level)),
    processId: asInteger(attr(system.Execution, 'ProcessID')),
    threadId: asInteger(attr(system.Execution, 'ThreadID')),
    userSid: attr(system.Security, 'UserID'),
    eventData: readEventDataXml(event.EventData) ?? readUserDataXml(event.UserData) ?? {},
    userData: readUserDataXml(event.UserData),
  });
}

function readEventDataXml(eventData: unknown): Record<string, unknown> | undefined {
  const data = asObject(eventData);
  if (!data) return undefined;
  const result: Record<string, unknown> = {};
  asArray(data.Data).forEach((item, index) => {
    const name = attr(item, 'Name') ?? `param${index + 1}`;
    result[name] = textOf(item) ?? '';
  });
  return result;
}

function readUserDataXml(userData: unknown): Record<string, unknown> | undefined {
  const data = asObject(userData);
  if (!data) return undefined;
  const inner = Object.entries(data).find(([key]) => !key.startsWith(ATTR) && key !== '#text')?.[1];
  const fields = asObject(inner);
  if (!fields) return undefined;
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (!key.startsWith(ATTR) && key !== '#text') result[key] = textOf(value) ?? '';
  }
  return result;
}

function elementText(element: unknown): string | undefined {
  return textOf(element)?.trim();
}

function requireEventId(value: unknown): number {
  const eventId = asInteger(value);
  if (eventId === undefined) {
    throw new DecodeError('missing_field', 'The Windows event has no numeric EventID.');
  }
  return eventId;
}

function numberOrString(value: unknown): string | number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || value === '') return undefined;
  return /^\d+$/.test(value) ? Number(value) : value;
}

function compactRecord(record: WindowsRecord): WindowsRecord {
  for (const key of Object.keys(record) as (keyof WindowsRecord)[]) {
    if (record[key] === undefined) delete record[key];
  }
  return record;
}
