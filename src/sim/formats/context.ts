import type { Random } from '../random.js';
import type { ZoneClock } from '../zone.js';

/** Inputs every format writer needs besides the action: local time, facility names and ids. */
export interface WriterContext {
  clock: ZoneClock;
  /** Facility id written as the audit source site, e.g. `st-jude-heart`. */
  facility: string;
  /** Host names of the facility's systems. */
  hosts: { ehr: string; pacs: string };
  /** Draws record ids (AuditEvent ids, Okta uuids); the records' order fixes the sequence. */
  random: Random;
}

/** Host names of a facility's systems, under the reserved `example.org` domain. */
export function facilityHosts(facility: string): WriterContext['hosts'] {
  const domain = facilityDomain(facility);
  return { ehr: `ehr.${domain}`, pacs: `pacs01.${domain}` };
}

/** DNS domain of a facility (its id is already lower-case letters, digits and hyphens). */
export function facilityDomain(facility: string): string {
  return `${facility}.example.org`;
}
