import { hash } from 'node:crypto';
import { isIP, isIPv4 } from 'node:net';
import type { HolterEvent, Outcome } from '../event.js';
import type { RawRecord } from './types.js';

/** The ECS `event.*` facts a decoder decides; the builder adds id, kind and provenance. */
export interface EventSeed {
  timestamp: string;
  category: string[];
  type: string[];
  action: string;
  outcome: Outcome;
  module: string;
  /** Dataset name without the module prefix, e.g. `audit_event` for `fhir.audit_event`. */
  dataset: string;
  /** The source's own event id; when absent, a hash of the record's position and text is used. */
  id?: string;
  provider?: string;
  code?: string;
  reason?: string;
}

/**
 * Creates the event skeleton every decoder fills in. `index` distinguishes several events
 * decoded from one record (the entries of a FHIR Bundle), so their hashed ids differ.
 */
export function createEvent(record: RawRecord, format: string, seed: EventSeed, index = 0): HolterEvent {
  const event: HolterEvent = {
    '@timestamp': seed.timestamp,
    event: {
      id: seed.id ?? hashRecordId(record, index),
      kind: 'event',
      category: seed.category,
      type: seed.type,
      action: seed.action,
      outcome: seed.outcome,
      dataset: `${seed.module}.${seed.dataset}`,
      module: seed.module,
    },
    holter: { source: sourceOf(record, format) },
  };
  if (seed.provider !== undefined) event.event.provider = seed.provider;
  if (seed.code !== undefined) event.event.code = seed.code;
  if (seed.reason !== undefined) event.event.reason = seed.reason;
  return event;
}

function sourceOf(record: RawRecord, format: string): HolterEvent['holter']['source'] {
  const source: HolterEvent['holter']['source'] = { input: record.input, format };
  if (record.line !== undefined) source.line = record.line;
  if (record.offset !== undefined) source.offset = record.offset;
  return source;
}

/** SHA-1 hex of input name, position and text: stable when the same input is replayed. */
export function hashRecordId(record: RawRecord, index = 0): string {
  const position = record.offset ?? record.line ?? '';
  // One-shot hashing (Node 20.12+) avoids a Hash object per record on the hot path.
  return hash('sha1', `${record.input}\u0000${position}\u0000${index}\u0000${record.text}`, 'hex');
}

/** Adds a user name to `related.user` once. Empty values and `-` placeholders are skipped. */
export function addRelatedUser(event: HolterEvent, name: unknown): void {
  if (!isPresent(name)) return;
  event.related ??= {};
  const users = (event.related.user ??= []);
  if (!users.includes(name)) users.push(name);
}

/**
 * Role and type codes of a patient acting for themselves, as FHIR agents and DICOM audit
 * participants carry them: SNOMED CT 116154003 "Patient" and HL7 v3 RoleClass PAT.
 */
export const PATIENT_ROLE_CODES: ReadonlySet<string> = new Set(['116154003', 'PAT']);

/** Adds an IP address to `related.ip` once; anything that is not an IP address is skipped. */
export function addRelatedIp(event: HolterEvent, address: unknown): void {
  const ip = normaliseIp(address);
  if (ip !== undefined) addNormalisedIp(event, ip);
}

function addNormalisedIp(event: HolterEvent, ip: string): void {
  event.related ??= {};
  const ips = (event.related.ip ??= []);
  if (!ips.includes(ip)) ips.push(ip);
}

/** Adds a host name to `related.hosts` once. */
export function addRelatedHost(event: HolterEvent, name: unknown): void {
  if (!isPresent(name)) return;
  event.related ??= {};
  const hosts = (event.related.hosts ??= []);
  if (!hosts.includes(name)) hosts.push(name);
}

/**
 * Returns the address as an IP string, with IPv4-mapped IPv6 (`::ffff:1.2.3.4`) reduced to
 * the IPv4 address, or undefined when it is not an IP address (a host name, a placeholder).
 */
export function normaliseIp(address: unknown): string | undefined {
  if (typeof address !== 'string') return undefined;
  let text = address.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  // Every IPv6 form has a colon, so a text without one skips the long IPv6 pattern of isIP.
  if (!text.includes(':')) return isIPv4(text) ? text : undefined;
  const lower = text.toLowerCase();
  if (lower.startsWith('::ffff:') && isIP(text.slice(7)) === 4) return text.slice(7);
  return isIP(text) === 0 ? undefined : text;
}

/**
 * Sets `source.ip` when the address is an IP address, else `source.domain` when it looks
 * like a host name, and records the IP in `related.ip`.
 */
export function setSourceAddress(event: HolterEvent, address: unknown): void {
  if (!isPresent(address)) return;
  const ip = normaliseIp(address);
  if (ip !== undefined) {
    event.source = { ...event.source, ip };
    addNormalisedIp(event, ip);
    return;
  }
  if (isHostName(address)) event.source = { ...event.source, domain: address };
}

function isHostName(value: string): boolean {
  return /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(value);
}

/** True for a non-empty string that is not a `-` or `null` placeholder. */
export function isPresent(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && value !== '-' && value !== 'null';
}
