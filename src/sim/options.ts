import { IANAZone } from 'luxon';
import { HolterError } from '../errors.js';
import { MIN_STAFF } from './staff.js';

export interface SimulationOptions {
  /** Seed of every random choice; the same seed gives byte-identical output. Default 42. */
  seed?: number;
  /** First local day of the simulation, `YYYY-MM-DD` in the facility's time zone. Default 2026-10-05. */
  start?: string;
  /** Number of local days. Default 35, so the 2026-11-01 fall-back night is inside. */
  days?: number;
  /** Head count. Default 300. */
  staff?: number;
  /** Number of patients. Default ten per staff member, at least 500. */
  patients?: number;
  /** IANA time zone of the facility. Default America/New_York. */
  timeZone?: string;
  /** Facility id written to the directory and the audit sources. Default st-jude-heart. */
  facility?: string;
  /** Inject the labelled incidents in the last week. Default true. */
  incidents?: boolean;
  /** Inject and label the traps. Default true. */
  traps?: boolean;
}

export type ResolvedOptions = Required<SimulationOptions>;

/** Days of history every person involved in an incident has before the incident week. */
export const LEARNING_DAYS = 21;
/** Length of the incident week that closes the range. */
export const INCIDENT_DAYS = 7;
/** Days a simulation with incidents or traps needs at least. */
export const MIN_SCORED_DAYS = LEARNING_DAYS + INCIDENT_DAYS;
const MAX_DAYS = 400;
const MAX_STAFF = 50_000;

/** Applies defaults and checks every option, naming the bad value and the accepted range. */
export function resolveOptions(options: SimulationOptions = {}): ResolvedOptions {
  const staff = options.staff ?? 300;
  const resolved: ResolvedOptions = {
    seed: options.seed ?? 42,
    start: options.start ?? '2026-10-05',
    days: options.days ?? 35,
    staff,
    patients: options.patients ?? Math.max(500, staff * 10),
    timeZone: options.timeZone ?? 'America/New_York',
    facility: options.facility ?? 'st-jude-heart',
    incidents: options.incidents ?? true,
    traps: options.traps ?? true,
  };

  checkInteger('seed', resolved.seed, 0, 0xffffffff);
  checkInteger('days', resolved.days, 1, MAX_DAYS);
  checkInteger('staff', resolved.staff, MIN_STAFF, MAX_STAFF);
  checkInteger('patients', resolved.patients, 100, MAX_STAFF * 20);

  if (!/^\d{4}-\d{2}-\d{2}$/.test(resolved.start) || Number.isNaN(Date.parse(`${resolved.start}T00:00:00Z`))) {
    invalid('start', `start must be a calendar date as YYYY-MM-DD, got "${resolved.start}"`);
  }
  if (!IANAZone.isValidZone(resolved.timeZone)) {
    invalid('timeZone', `timeZone must be an IANA time zone such as America/New_York, got "${resolved.timeZone}"`);
  }
  if (!/^[a-z0-9][a-z0-9-]*$/.test(resolved.facility)) {
    invalid('facility', `facility must be lower-case letters, digits and hyphens, got "${resolved.facility}"`);
  }
  if ((resolved.incidents || resolved.traps) && resolved.days < MIN_SCORED_DAYS) {
    invalid('days', `days must be at least ${MIN_SCORED_DAYS} when incidents or traps are on (three weeks of history, then the incident week), got ${resolved.days}; set incidents and traps to false for a shorter run`);
  }
  return resolved;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    invalid(name, `${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}

function invalid(name: string, message: string): never {
  throw new HolterError('HOLTER_CONFIG_INVALID', message, { path: `simulator.${name}` });
}
