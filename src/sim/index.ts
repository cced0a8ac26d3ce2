import type { Action } from './actions.js';
import { planShift } from './activity.js';
import { buildDirectory, buildRoster, directoryToCsv, rosterToCsv, type DirectoryEntry, type RosterEntry } from './directory.js';
import { facilityDomain, facilityHosts, type WriterContext } from './formats/context.js';
import { writeDicomTransfer } from './formats/dicom.js';
import { writeFhirBreakGlass, writeFhirRest } from './formats/fhir.js';
import { writeOkta } from './formats/okta.js';
import { slowExfiltration } from './exfiltration.js';
import { buildIncidents, buildPasswordSpray, type IncidentContext } from './incidents.js';
import { shiftKey, type Injection, type Label } from './labels.js';
import { INCIDENT_DAYS, resolveOptions, type ResolvedOptions, type SimulationOptions } from './options.js';
import { buildPatients, type PatientPlan } from './patients.js';
import { Random } from './random.js';
import { shiftStartingOn } from './rota.js';
import { buildStaff, type StaffMember } from './staff.js';
import { buildTraps } from './traps.js';
import { ZoneClock } from './zone.js';

export type { DirectoryEntry, RosterEntry } from './directory.js';
export type { Label } from './labels.js';
export { DETECTION_IDS } from './labels.js';
export type { SimulationOptions } from './options.js';

/** Format names of the records, as the decoders name them. */
export const RECORD_FORMATS = { fhir: 'fhir', dicom: 'dicom-audit', okta: 'okta' } as const;

/** One raw record in its wire format. */
export interface SimulatedRecord {
  text: string;
  format: (typeof RECORD_FORMATS)[keyof typeof RECORD_FORMATS];
  /** Event time, UTC milliseconds. */
  eventTimeMs: number;
}

export interface SimulatedHospital {
  options: ResolvedOptions;
  directory: DirectoryEntry[];
  directoryCsv(): string;
  roster: RosterEntry[];
  rosterCsv(): string;
  /**
   * Raw records in event-time order, except about one in two thousand held back a few seconds,
   * as a busy collector delivers them. Records are generated day by day, so memory stays flat.
   */
  records(): Generator<SimulatedRecord>;
  labels: Label[];
  facility: string;
  /** IANA time zone of the facility; shifts and "after hours" follow its local time. */
  timeZone: string;
  /** Local midnight at the start of the first day, UTC milliseconds. */
  startMs: number;
  /** Local midnight after the last day, UTC milliseconds. Night shifts of the last day run past it. */
  endMs: number;
  /** Local time of the facility over the range. */
  clock: ZoneClock;
}

/** Probability that a record is delivered late, and the bounds of its delay. */
const LATE_PROBABILITY = 1 / 2000;
const MIN_DELAY_MS = 2000;
const MAX_DELAY_MS = 20_000;

/** Builds a simulated cardiac hospital: its staff and patients, and a generator of its telemetry. */
export function simulateHospital(options: SimulationOptions = {}): SimulatedHospital {
  const resolved = resolveOptions(options);
  const clock = new ZoneClock(resolved.timeZone, resolved.start, resolved.days);
  const staff = buildStaff(resolved.seed, resolved.staff, facilityDomain(resolved.facility));
  const plan = buildPatients(resolved.seed, resolved.patients, staff);
  const injection = buildInjection(resolved, clock, staff, plan);
  const directory = buildDirectory(staff, resolved.facility, resolved.timeZone);
  const roster = buildRoster(plan.patients);

  return {
    options: resolved,
    directory,
    directoryCsv: () => directoryToCsv(directory),
    roster,
    rosterCsv: () => rosterToCsv(roster),
    records: () => generateRecords(resolved, clock, staff, plan, injection),
    labels: injection.labels,
    facility: resolved.facility,
    timeZone: resolved.timeZone,
    startMs: clock.toUtc(0, 0),
    endMs: clock.toUtc(resolved.days, 0),
    clock,
  };
}

function buildInjection(options: ResolvedOptions, clock: ZoneClock, staff: StaffMember[], plan: PatientPlan): Injection {
  const injection: Injection = { labels: [], actions: [], overrides: new Map(), forcedShifts: new Set() };
  const context: IncidentContext = { clock, seed: options.seed, staff, plan, firstDay: options.days - INCIDENT_DAYS, labelledStaff: new Set() };

  if (options.incidents) {
    const incidents = buildIncidents(context);
    slowExfiltration(context, incidents);
    injection.labels.push(...incidents.labels);
    injection.actions.push(...incidents.actions);
  }
  if (options.traps) buildTraps(context, injection);
  if (options.incidents) {
    const spray = buildPasswordSpray(context);
    injection.labels.push(...spray.labels);
    injection.actions.push(...spray.actions);
  }
  return injection;
}

function* generateRecords(options: ResolvedOptions, clock: ZoneClock, staff: StaffMember[], plan: PatientPlan, injection: Injection): Generator<SimulatedRecord> {
  const writer: WriterContext = { clock, facility: options.facility, hosts: facilityHosts(options.facility), random: new Random(options.seed, 0x0e417) };
  const delays = new Random(options.seed, 0xde1a7);
  const extras = bucketByDay(injection.actions, clock, options.days);
  let pending: Action[] = [];

  for (let day = 0; day < options.days; day++) {
    for (const member of staff) {
      const key = shiftKey(member.index, day);
      const shift = shiftStartingOn(clock, options.seed, member, day, injection.forcedShifts.has(key));
      if (shift) pending.push(...planShift(options.seed, shift, plan, injection.overrides.get(key)));
    }
    pending.push(...(extras[day] ?? []));
    pending.sort((a, b) => a.timeMs - b.timeMs);

    // Every action planned later starts after this day's local midnight: shifts start at 06:48 at
    // the earliest and incident actions are filed under the day they happen on.
    const horizon = day + 1 < options.days ? clock.toUtc(day + 1, 0) : Infinity;
    let ready = 0;
    while (ready < pending.length && (pending[ready] as Action).timeMs < horizon) ready++;
    yield* emitInOrder(pending.slice(0, ready), writer, delays);
    pending = pending.slice(ready);
  }
}

/** Writes actions in order, holding back a few for a few seconds so they arrive out of order. */
function* emitInOrder(actions: Action[], writer: WriterContext, delays: Random): Generator<SimulatedRecord> {
  const delayed: Array<{ action: Action; releaseMs: number }> = [];
  for (const action of actions) {
    while (delayed.length > 0 && (delayed[0] as { releaseMs: number }).releaseMs <= action.timeMs) {
      yield write((delayed.shift() as { action: Action }).action, writer);
    }
    if (delays.chance(LATE_PROBABILITY)) {
      delayed.push({ action, releaseMs: action.timeMs + delays.int(MIN_DELAY_MS, MAX_DELAY_MS) });
      delayed.sort((a, b) => a.releaseMs - b.releaseMs);
      continue;
    }
    yield write(action, writer);
  }
  for (const entry of delayed) yield write(entry.action, writer);
}

function write(action: Action, writer: WriterContext): SimulatedRecord {
  switch (action.kind) {
    case 'okta':
      return { text: writeOkta(action, writer), format: RECORD_FORMATS.okta, eventTimeMs: action.timeMs };
    case 'fhir-rest':
      return { text: writeFhirRest(action, writer), format: RECORD_FORMATS.fhir, eventTimeMs: action.timeMs };
    case 'fhir-break-glass':
      return { text: writeFhirBreakGlass(action, writer), format: RECORD_FORMATS.fhir, eventTimeMs: action.timeMs };
    case 'dicom':
      return { text: writeDicomTransfer(action, writer), format: RECORD_FORMATS.dicom, eventTimeMs: action.timeMs };
  }
}

/** Files each extra action under the local day it happens on, clamped to the range. */
function bucketByDay(actions: Action[], clock: ZoneClock, days: number): Action[][] {
  const buckets: Action[][] = [];
  const midnights: number[] = [];
  for (let day = 0; day <= days; day++) midnights.push(clock.toUtc(day, 0));

  for (const action of actions) {
    let day = 0;
    while (day + 1 < days && (midnights[day + 1] as number) <= action.timeMs) day++;
    (buckets[day] ??= []).push(action);
  }
  return buckets;
}
