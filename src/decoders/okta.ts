import type { HolterEvent, Outcome } from '../event.js';
import { DecodeError } from './decode-error.js';
import { addRelatedUser, createEvent, setSourceAddress } from './event-builder.js';
import type { FormatDecoder } from './format-decoder.js';
import { asObject, compact, nonEmpty, objectsOf, type JsonObject } from './json.js';
import { parseIsoInstant } from './time.js';
import type { RawRecord } from './types.js';

/**
 * Okta System Log LogEvent objects (the items of `GET /api/v1/logs`, or one per line as
 * log streaming writes them). Field names follow Okta's LogEvent object. Person names
 * (`displayName` of actor and targets) are not copied; `alternateId` (the login) is.
 */

const FORMAT = 'okta';

/** Okta `outcome.result` values mapped to ECS outcomes. */
const OUTCOMES: Record<string, Outcome> = {
  SUCCESS: 'success',
  ALLOW: 'success',
  FAILURE: 'failure',
  DENY: 'failure',
  SKIPPED: 'unknown',
  CHALLENGE: 'unknown',
  UNKNOWN: 'unknown',
};

/** Keys kept of Okta's actor and each target; display names are left out. */
const ENTITY_KEYS = ['id', 'type', 'alternateId'];
const TRANSACTION_KEYS = ['type', 'id'];

/**
 * Every path the decoder writes under `okta`, intermediate objects included. The Sigma lint warns
 * about a rule field outside it, because the event never has that field.
 */
export const OKTA_FIELDS: ReadonlySet<string> = new Set([
  'okta', 'okta.uuid', 'okta.event_type', 'okta.severity', 'okta.display_message',
  'okta.actor', ...ENTITY_KEYS.map((key) => `okta.actor.${key}`),
  'okta.client', 'okta.client.zone', 'okta.client.device', 'okta.client.ip_address',
  'okta.outcome', 'okta.outcome.result', 'okta.outcome.reason',
  'okta.target', ...ENTITY_KEYS.map((key) => `okta.target.${key}`),
  'okta.authentication_context', 'okta.authentication_context.authentication_provider', 'okta.authentication_context.credential_provider',
  'okta.authentication_context.credential_type', 'okta.authentication_context.external_session_id',
  'okta.authentication_context.interface', 'okta.authentication_context.authentication_step',
  'okta.security_context', 'okta.security_context.as', 'okta.security_context.as.number', 'okta.security_context.as.organization',
  'okta.security_context.isp', 'okta.security_context.domain', 'okta.security_context.is_proxy',
  'okta.transaction', ...TRANSACTION_KEYS.map((key) => `okta.transaction.${key}`),
]);

export const oktaDecoder: FormatDecoder = {
  format: FORMAT,

  matchesJson(value) {
    return typeof value.uuid === 'string' && typeof value.eventType === 'string' && 'published' in value;
  },

  decodeJson(value, record) {
    return [decodeLogEvent(value, record)];
  },
};

function decodeLogEvent(value: JsonObject, record: RawRecord): HolterEvent {
  const timestamp = parseIsoInstant(value.published);
  if (timestamp === undefined) {
    throw new DecodeError('invalid_timestamp', 'The Okta LogEvent has no "published" ISO 8601 instant.');
  }
  const eventType = String(value.eventType);
  const outcome = asObject(value.outcome);
  const result = nonEmpty(outcome?.result)?.toUpperCase();
  const classification = classify(eventType);

  const event = createEvent(record, FORMAT, {
    timestamp,
    id: nonEmpty(value.uuid),
    category: classification.category,
    type: classification.type,
    action: eventType,
    outcome: OUTCOMES[result ?? ''] ?? 'unknown',
    module: 'okta',
    dataset: 'system',
    ...(nonEmpty(outcome?.reason) === undefined ? {} : { reason: nonEmpty(outcome?.reason) }),
  });
  const displayMessage = nonEmpty(value.displayMessage);
  if (displayMessage !== undefined) event.message = displayMessage;

  const actor = asObject(value.actor);
  const actorName = nonEmpty(actor?.alternateId);
  if (actor) {
    event.user = compact({ id: nonEmpty(actor.id), name: actorName });
    addRelatedUser(event, actorName);
  }

  const client = asObject(value.client);
  setSourceAddress(event, nonEmpty(client?.ipAddress));
  const userAgent = nonEmpty(asObject(client?.userAgent)?.rawUserAgent);
  if (userAgent !== undefined) event.user_agent = { original: userAgent };

  const targets = objectsOf(value.target);
  const targetUser = targets.find((target) => target.type === 'User');
  if (targetUser) {
    event.user ??= {};
    event.user.target = compact({ id: nonEmpty(targetUser.id), name: nonEmpty(targetUser.alternateId) });
    addRelatedUser(event, nonEmpty(targetUser.alternateId));
  }

  event.okta = compact({
    uuid: nonEmpty(value.uuid),
    event_type: eventType,
    severity: nonEmpty(value.severity),
    display_message: displayMessage,
    actor: actor ? pick(actor, ENTITY_KEYS) : undefined,
    client: client ? compact({ zone: nonEmpty(client.zone), device: nonEmpty(client.device), ip_address: nonEmpty(client.ipAddress) }) : undefined,
    outcome: outcome ? compact({ result, reason: nonEmpty(outcome.reason) }) : undefined,
    target: targets.length > 0 ? targets.map((target) => pick(target, ENTITY_KEYS)) : undefined,
    authentication_context: readAuthenticationContext(asObject(value.authenticationContext)),
    security_context: readSecurityContext(asObject(value.securityContext)),
    transaction: asObject(value.transaction) ? pick(asObject(value.transaction) as JsonObject, TRANSACTION_KEYS) : undefined,
  });
  return event;
}

function classify(eventType: string): { category: string[]; type: string[] } {
  if (eventType === 'user.session.start') return { category: ['authentication', 'session'], type: ['start'] };
  if (eventType === 'user.session.end') return { category: ['authentication', 'session'], type: ['end'] };
  if (eventType.startsWith('user.authentication.') || eventType.startsWith('user.mfa.')) {
    return { category: ['authentication'], type: ['info'] };
  }
  if (eventType.startsWith('user.account.') || eventType.startsWith('group.user_membership.')) {
    return { category: ['iam'], type: ['user', 'change'] };
  }
  if (eventType.startsWith('policy.') || eventType.startsWith('system.')) return { category: ['configuration'], type: ['info'] };
  if (eventType.startsWith('app.')) return { category: ['iam'], type: ['info'] };
  return { category: [], type: ['info'] };
}

function readAuthenticationContext(context: JsonObject | undefined): JsonObject | undefined {
  if (!context) return undefined;
  return compact({
    authentication_provider: nonEmpty(context.authenticationProvider),
    credential_provider: nonEmpty(context.credentialProvider),
    credential_type: nonEmpty(context.credentialType),
    external_session_id: nonEmpty(context.externalSessionId),
    interface: nonEmpty(context.interface),
    authentication_step: typeof context.authenticationStep === 'number' ? context.authenticationStep : undefined,
  });
}

function readSecurityContext(context: JsonObject | undefined): JsonObject | undefined {
  if (!context) return undefined;
  const autonomousSystem = compact({ number: typeof context.asNumber === 'number' ? context.asNumber : undefined, organization: nonEmpty(context.asOrg) });
  return compact({
    as: Object.keys(autonomousSystem).length > 0 ? autonomousSystem : undefined,
    isp: nonEmpty(context.isp),
    domain: nonEmpty(context.domain),
    is_proxy: typeof context.isProxy === 'boolean' ? context.isProxy : undefined,
  });
}

function pick(object: JsonObject, keys: string[]): JsonObject {
  const result: JsonObject = {};
  for (const key of keys) {
    const value = nonEmpty(object[key]);
    if (value !== undefined) result[key] = value;
  }
  return result;
}
