import path from 'node:path';
import { DateTime } from 'luxon';
import type { HolterEvent } from '../../../src/event.js';
import { loadDetectors } from '../../../src/detect/baseline/index.js';
import type { BaselineStage } from '../../../src/detect/baseline/index.js';
import type { Detection } from '../../../src/detect/types.js';
import { REPO_ROOT } from '../../helpers/paths.js';

export const DETECTORS_DIR = path.join(REPO_ROOT, 'detectors');
export const ZONE = 'America/New_York';

let sequence = 0;

/** Epoch ms of a local wall-clock time in `zone`, e.g. local('2025-01-06T02:30'). */
export function local(text: string, zone = ZONE): number {
  const time = DateTime.fromISO(text, { zone });
  if (!time.isValid) throw new Error(`invalid local time ${text}: ${time.invalidExplanation ?? ''}`);
  return time.toMillis();
}

export interface Person {
  id: string;
  role?: string;
  department?: string;
  zone?: string;
}

/** Creates an enriched FHIR-style record access by `person` at `ms`. */
export function recordAccess(person: Person, ms: number, token = `pt_${(sequence += 1).toString(16).padStart(32, '0')}`): HolterEvent {
  sequence += 1;
  return {
    '@timestamp': new Date(ms).toISOString(),
    event: { id: `ev-${sequence}`, kind: 'event', category: ['database'], type: ['access'], action: 'read', outcome: 'success', dataset: 'fhir.audit_event', module: 'fhir' },
    holter: {
      source: { input: 'test', format: 'fhir' },
      user: {
        id: person.id,
        known: true,
        ...(person.role === undefined ? {} : { role: person.role }),
        ...(person.department === undefined ? {} : { department: person.department }),
        ...(person.zone === undefined ? {} : { time_zone: person.zone }),
      },
      patient: { token },
    },
  };
}

/** Creates an enriched DICOM retrieval of `studies` studies by `userId` at `ms`. */
export function imagePull(userId: string, ms: number, studies: number, extra: { instances?: number; bytes?: number } = {}): HolterEvent {
  sequence += 1;
  return {
    '@timestamp': new Date(ms).toISOString(),
    event: { id: `pull-${sequence}`, kind: 'event', category: ['file'], type: ['access'], action: 'retrieve', outcome: 'success', dataset: 'dicom.audit', module: 'dicom' },
    holter: {
      source: { input: 'test', format: 'dicom-audit' },
      user: { id: userId, known: true },
      dicom: {
        study_count: studies,
        ...(extra.instances === undefined ? {} : { instance_count: extra.instances }),
        ...(extra.bytes === undefined ? {} : { bytes: extra.bytes }),
      },
    },
  };
}

/** Loads one shipped detector file, failing on any load error. */
export async function loadShipped(name: string): Promise<BaselineStage> {
  const { stage, errors } = await loadDetectors([path.join(DETECTORS_DIR, name)], { defaultTimeZone: ZONE });
  if (errors.length > 0) throw new Error(errors.map((error) => error.describe()).join('\n'));
  return stage;
}

/** Feeds events in the given order with the watermark at the latest event time minus `latenessMs`. */
export function feed(stage: BaselineStage, events: HolterEvent[], latenessMs = 0): Detection[] {
  const detections: Detection[] = [];
  let maxMs = Number.NEGATIVE_INFINITY;
  for (const event of events) {
    maxMs = Math.max(maxMs, Date.parse(event['@timestamp']));
    detections.push(...stage.process(event, maxMs - latenessMs));
  }
  return detections;
}

/**
 * Events for a regular shift, every day from `firstDay` for `days` days: `perHour` record accesses
 * to distinct patients in each hour worked. Night shifts cross midnight.
 */
export function shiftEvents(
  person: Person,
  firstDay: string,
  days: number,
  shift: { startHour: number; hours: number },
  perHour = 2,
): HolterEvent[] {
  const zone = person.zone ?? ZONE;
  const events: HolterEvent[] = [];
  const start = DateTime.fromISO(firstDay, { zone });
  for (let day = 0; day < days; day += 1) {
    const shiftStart = start.plus({ days: day }).set({ hour: shift.startHour, minute: 0 });
    for (let hour = 0; hour < shift.hours; hour += 1) {
      // luxon adds hours as elapsed time, as a real 12-hour shift runs: across the spring change
      // the skipped local hour is not worked, and in autumn the repeated local hour is worked twice.
      const slotMs = shiftStart.plus({ hours: hour }).toMillis();
      for (let index = 0; index < perHour; index += 1) {
        events.push(recordAccess(person, slotMs + Math.floor(((index + 0.5) * 3_600_000) / perHour)));
      }
    }
  }
  return events;
}

export const DAY_SHIFT = { startHour: 7, hours: 12 };
export const NIGHT_SHIFT = { startHour: 19, hours: 12 };

/** `count` record accesses to distinct patients within the local hour starting at `hourStart`. */
export function snooping(person: Person, hourStart: number, count: number, distinct = count): HolterEvent[] {
  const events: HolterEvent[] = [];
  for (let index = 0; index < count; index += 1) {
    const token = `pt_snoop${String(index % distinct).padStart(27, '0')}`;
    events.push(recordAccess(person, hourStart + 60_000 * (index + 1), token));
  }
  return events;
}

/** Sorts events by event time (stable), to merge several people's timelines. */
export function byTime(events: HolterEvent[]): HolterEvent[] {
  return [...events].sort((a, b) => Date.parse(a['@timestamp']) - Date.parse(b['@timestamp']));
}
