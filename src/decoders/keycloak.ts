import type { HolterEvent } from '../event.js';
import { DecodeError } from './decode-error.js';
import { addRelatedUser, createEvent, isPresent, setSourceAddress } from './event-builder.js';
import type { FormatDecoder } from './format-decoder.js';
import { asObject, asString, compact, type JsonObject } from './json.js';
import { localToIso, parseEpochMillis, parseLocalDateTime } from './time.js';
import type { DecodeContext, RawRecord } from './types.js';

/**
 * Keycloak user events: the JBoss/Quarkus log line written by Keycloak's logging event
 * listener (`... WARN [org.keycloak.events] (thread) type=LOGIN_ERROR, realmId=...`, with
 * values bare or double-quoted) and the JSON event representation of the admin REST API.
 * The literal `null` means absent.
 */

const FORMAT = 'keycloak';

const LOG_LINE = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[,.]\d{3}) +([A-Z]+) +\[([^\]]*)\] \(([^)]*)\) (type=.*)$/;

/** Event types that are about signing in or out; the rest (REGISTER, UPDATE_PASSWORD...) are account changes. */
const AUTHENTICATION_TYPES = /^(LOGIN|LOGOUT|CLIENT_LOGIN|CODE_TO_TOKEN|REFRESH_TOKEN|TOKEN_EXCHANGE|IDENTITY_PROVIDER_LOGIN|USER_INFO_REQUEST|INTROSPECT_TOKEN)(_ERROR)?$/;

/** Keys Keycloak writes at the top level of an event; everything else is a detail. */
const TOP_LEVEL_KEYS = new Set(['type', 'realmId', 'clientId', 'userId', 'ipAddress', 'error', 'sessionId', 'id', 'time']);

interface KeycloakFields {
  type: string;
  values: Record<string, string>;
}

export const keycloakDecoder: FormatDecoder = {
  format: FORMAT,

  matchesJson(value) {
    return typeof value.type === 'string' && typeof value.time === 'number' && 'realmId' in value;
  },

  decodeJson(value, record) {
    const timestamp = parseEpochMillis(value.time);
    if (timestamp === undefined) {
      throw new DecodeError('invalid_timestamp', 'The Keycloak event has a "time" that is not epoch milliseconds.');
    }
    const values: Record<string, string> = {};
    for (const [key, raw] of Object.entries(value)) {
      if (key === 'details') continue;
      const text = asString(raw);
      if (text !== undefined && key !== 'time') values[key] = text;
    }
    for (const [key, raw] of Object.entries(asObject(value.details) ?? {})) {
      const text = asString(raw);
      if (text !== undefined) values[key] = text;
    }
    const fields: KeycloakFields = { type: String(value.type), values };
    return [buildEvent(fields, timestamp, record, nonNull(asString(value.id)))];
  },

  matchesText(text) {
    return text.charCodeAt(10) === 32 && text.charCodeAt(4) === 45 && LOG_LINE.test(text.slice(0, 400));
  },

  decodeText(text, record, context) {
    return [decodeLogLine(text.replace(/\s+$/, ''), record, context)];
  },
};

function decodeLogLine(line: string, record: RawRecord, context: DecodeContext): HolterEvent {
  const match = LOG_LINE.exec(line);
  if (!match) {
    throw new DecodeError(
      'invalid_record',
      'The line is not a Keycloak event log line (time, level, [category], (thread), type=...); set the input\'s format with --format if it is another log.',
    );
  }
  const local = parseLocalDateTime(match[1] as string);
  if (local === undefined) {
    throw new DecodeError('invalid_timestamp', 'The Keycloak log line has a time stamp with an impossible date or time.');
  }
  const values = parseKeyValues(match[5] as string);
  const type = values.type;
  if (type === undefined) throw new DecodeError('missing_field', 'The Keycloak log line has no type= value.');

  const event = buildEvent({ type, values }, localToIso(local, context.defaultTimeZone), record, undefined);
  event.log = { level: (match[2] as string).toLowerCase(), logger: match[3] };
  return event;
}

/**
 * Reads `key=value, key="value", ...`. A bare value runs to the next `, name=`, so commas
 * inside a bare value survive. A quoted value ends at the closing quote, and `\"` escapes
 * one. The literal `null`, bare or quoted, is dropped.
 */
export function parseKeyValues(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const equals = text.indexOf('=', i);
    if (equals < 0) break;
    const key = text.slice(i, equals).trim();
    let value: string;
    let next: number;

    if (text[equals + 1] === '"') {
      let end = equals + 2;
      let unescaped = '';
      while (end < text.length && text[end] !== '"') {
        if (text[end] === '\\' && end + 1 < text.length) end++;
        unescaped += text[end];
        end++;
      }
      value = unescaped;
      const comma = text.indexOf(',', end);
      next = comma < 0 ? text.length : comma + 1;
    } else {
      const end = findBareValueEnd(text, equals + 1);
      value = text.slice(equals + 1, end);
      next = end + 1;
    }

    if (key !== '' && value !== 'null') values[key] = value;
    i = next;
  }
  return values;
}

function findBareValueEnd(text: string, start: number): number {
  let search = start;
  while (search < text.length) {
    const comma = text.indexOf(', ', search);
    if (comma < 0) return text.length;
    if (/^[\w.-]+=/.test(text.slice(comma + 2, comma + 66))) return comma;
    search = comma + 1;
  }
  return text.length;
}

function buildEvent(fields: KeycloakFields, timestamp: string, record: RawRecord, id: string | undefined): HolterEvent {
  const { type, values } = fields;
  const isError = type.endsWith('_ERROR') || values.error !== undefined;
  const isAuthentication = AUTHENTICATION_TYPES.test(type);
  const baseType = type.replace(/_ERROR$/, '');

  let eventType = 'info';
  if (isAuthentication && baseType === 'LOGIN') eventType = 'start';
  else if (isAuthentication && baseType === 'LOGOUT') eventType = 'end';
  else if (!isAuthentication) eventType = 'change';

  const event = createEvent(record, FORMAT, {
    timestamp,
    ...(id === undefined ? {} : { id }),
    category: isAuthentication ? ['authentication'] : ['iam'],
    type: [eventType],
    action: type.toLowerCase().replace(/_/g, '-'),
    outcome: isError ? 'failure' : 'success',
    module: 'keycloak',
    dataset: 'event',
    ...(values.error === undefined ? {} : { reason: values.error }),
  });

  const userName = nonNull(values.username);
  const userId = nonNull(values.userId);
  if (userName !== undefined || userId !== undefined) {
    event.user = compact({ name: userName, id: userId });
    addRelatedUser(event, userName);
  }
  setSourceAddress(event, nonNull(values.ipAddress));

  const details: JsonObject = {};
  for (const [key, value] of Object.entries(values)) {
    if (!TOP_LEVEL_KEYS.has(key)) details[key] = value;
  }
  event.keycloak = compact({
    type,
    realm_id: nonNull(values.realmId),
    client_id: nonNull(values.clientId),
    user_id: userId,
    session_id: nonNull(values.sessionId),
    error: nonNull(values.error),
    details: Object.keys(details).length > 0 ? details : undefined,
  });
  return event;
}

function nonNull(value: string | undefined): string | undefined {
  return isPresent(value) ? value : undefined;
}
