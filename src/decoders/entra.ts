import type { HolterEvent } from '../event.js';
import { DecodeError } from './decode-error.js';
import { addRelatedUser, createEvent, setSourceAddress } from './event-builder.js';
import type { FormatDecoder } from './format-decoder.js';
import { asObject, asString, compact, isObject, nonEmpty, objectsOf, type JsonObject } from './json.js';
import { parseIsoInstant } from './time.js';
import type { RawRecord } from './types.js';

/**
 * Microsoft Entra ID sign-ins, in three shapes: the Azure Monitor diagnostic record (as
 * exported to Event Hubs or storage: `time`, `category`, `resultType`, `properties`), the
 * `{"records": [...]}` envelope that batches them, and the Microsoft Graph `signIn`
 * resource (`createdDateTime`, `userPrincipalName`, `status.errorCode`).
 */

const FORMAT = 'entra';

/** Azure Monitor categories of sign-in records. */
const SIGN_IN_CATEGORIES = new Set([
  'SignInLogs',
  'NonInteractiveUserSignInLogs',
  'ServicePrincipalSignInLogs',
  'ManagedIdentitySignInLogs',
]);

/**
 * Sign-in properties copied to `azure.signinlogs.properties` under their own names. Person
 * names (`userDisplayName`, top-level `identity`) are left out on purpose.
 */
const KEPT_PROPERTIES = [
  'id', 'appId', 'appDisplayName', 'clientAppUsed', 'conditionalAccessStatus', 'isInteractive',
  'authenticationRequirement', 'resourceDisplayName', 'resourceId', 'userType', 'riskDetail',
  'riskLevelAggregated', 'riskLevelDuringSignIn', 'riskState', 'correlationId', 'crossTenantAccessType',
];

/**
 * Every path the decoder writes under `azure`, intermediate objects included. The Sigma lint warns
 * about a rule field outside it, because the event never has that field.
 */
export const ENTRA_FIELDS: ReadonlySet<string> = new Set([
  'azure', 'azure.signinlogs', 'azure.signinlogs.category', 'azure.signinlogs.operation_name', 'azure.signinlogs.result_type',
  'azure.signinlogs.result_description', 'azure.signinlogs.tenant_id', 'azure.signinlogs.properties',
  ...KEPT_PROPERTIES.map((key) => `azure.signinlogs.properties.${key}`),
  'azure.signinlogs.properties.status', 'azure.signinlogs.properties.status.errorCode', 'azure.signinlogs.properties.status.failureReason',
  'azure.signinlogs.properties.deviceDetail', 'azure.signinlogs.properties.deviceDetail.deviceId',
  'azure.signinlogs.properties.deviceDetail.operatingSystem', 'azure.signinlogs.properties.deviceDetail.browser',
  'azure.signinlogs.properties.location', 'azure.signinlogs.properties.location.city',
  'azure.signinlogs.properties.location.state', 'azure.signinlogs.properties.location.countryOrRegion',
]);

export const entraDecoder: FormatDecoder = {
  format: FORMAT,

  matchesJson(value) {
    if (Array.isArray(value.records)) return value.records.length > 0 && value.records.every((item) => isObject(item) && isMonitorRecord(item));
    return isMonitorRecord(value) || isGraphSignIn(value);
  },

  decodeJson(value, record) {
    if (!Array.isArray(value.records)) return [decodeSignIn(value, record, 0)];
    return objectsOf(value.records).map((item, index) => decodeSignIn(item, record, index));
  },
};

function isMonitorRecord(value: JsonObject): boolean {
  return typeof value.operationName === 'string' && typeof value.category === 'string' && 'properties' in value && 'resultType' in value;
}

function isGraphSignIn(value: JsonObject): boolean {
  return typeof value.createdDateTime === 'string' && typeof value.userPrincipalName === 'string' && isObject(value.status);
}

function decodeSignIn(item: JsonObject, record: RawRecord, index: number): HolterEvent {
  const isMonitor = isMonitorRecord(item);
  if (isMonitor && !SIGN_IN_CATEGORIES.has(String(item.category))) {
    throw new DecodeError(
      'unsupported_resource',
      `Azure Monitor category "${String(item.category)}" is not decoded; only sign-in categories (${[...SIGN_IN_CATEGORIES].join(', ')}) are.`,
    );
  }
  const properties = isMonitor ? (asObject(item.properties) ?? {}) : item;
  const status = asObject(properties.status);

  const timestamp = parseIsoInstant(isMonitor ? item.time : undefined) ?? parseIsoInstant(properties.createdDateTime);
  if (timestamp === undefined) {
    throw new DecodeError('invalid_timestamp', 'The Entra sign-in has no "time" or "createdDateTime" ISO 8601 instant.');
  }

  const errorCode = isMonitor ? asString(item.resultType) : asString(status?.errorCode);
  const succeeded = errorCode === '0';
  let outcome: 'success' | 'failure' | 'unknown' = 'unknown';
  if (errorCode !== undefined) outcome = succeeded ? 'success' : 'failure';
  const reason = succeeded ? undefined : (nonEmpty(isMonitor ? item.resultDescription : undefined) ?? nonEmpty(status?.failureReason));

  const event = createEvent(
    record,
    FORMAT,
    {
      timestamp,
      id: nonEmpty(properties.id) ?? nonEmpty(item.correlationId),
      category: ['authentication'],
      type: ['start'],
      action: 'sign-in',
      outcome,
      module: 'azure',
      dataset: 'signinlogs',
      ...(errorCode === undefined ? {} : { code: errorCode }),
      ...(reason === undefined ? {} : { reason }),
    },
    index,
  );

  const principal = nonEmpty(properties.userPrincipalName);
  const userId = nonEmpty(properties.userId);
  if (principal !== undefined || userId !== undefined) {
    const at = principal?.lastIndexOf('@') ?? -1;
    event.user = compact({ id: userId, name: principal, domain: at > 0 ? principal?.slice(at + 1) : undefined });
    addRelatedUser(event, principal);
  }
  setSourceAddress(event, nonEmpty(properties.ipAddress) ?? nonEmpty(item.callerIpAddress));
  const userAgent = nonEmpty(properties.userAgent);
  if (userAgent !== undefined) event.user_agent = { original: userAgent };

  event.azure = { signinlogs: buildNamespace(item, properties, status, isMonitor) };
  return event;
}

function buildNamespace(item: JsonObject, properties: JsonObject, status: JsonObject | undefined, isMonitor: boolean): JsonObject {
  const kept: JsonObject = {};
  for (const key of KEPT_PROPERTIES) {
    if (properties[key] !== undefined) kept[key] = properties[key];
  }
  if (status) kept.status = compact({ errorCode: status.errorCode, failureReason: nonEmpty(status.failureReason) });
  const device = asObject(properties.deviceDetail);
  if (device) kept.deviceDetail = compact({ deviceId: nonEmpty(device.deviceId), operatingSystem: nonEmpty(device.operatingSystem), browser: nonEmpty(device.browser) });
  const location = asObject(properties.location);
  if (location) kept.location = compact({ city: nonEmpty(location.city), state: nonEmpty(location.state), countryOrRegion: nonEmpty(location.countryOrRegion) });

  return compact({
    category: isMonitor ? nonEmpty(item.category) : undefined,
    operation_name: isMonitor ? nonEmpty(item.operationName) : undefined,
    result_type: isMonitor ? asString(item.resultType) : undefined,
    result_description: isMonitor ? nonEmpty(item.resultDescription) : undefined,
    tenant_id: nonEmpty(item.tenantId),
    properties: kept,
  });
}
