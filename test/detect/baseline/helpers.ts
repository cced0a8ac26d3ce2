import assert from 'node:assert/strict';
import type { HolterEvent } from '../../../src/event.js';
import { BaselineStage, parseDetector } from '../../../src/detect/baseline/index.js';
import type { BaselineDetector } from '../../../src/detect/baseline/index.js';
import type { Detection } from '../../../src/detect/types.js';
import { ZONE } from './events.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** A Monday, 00:00 UTC. */
export const START = Date.parse('2025-01-06T00:00:00Z');

let sequence = 0;

/** Creates an event at `ms` with the dotted fields given, e.g. `{ 'holter.user.id': 'u-1' }`. */
export function eventAt(ms: number, fields: Record<string, unknown>): HolterEvent {
  sequence += 1;
  const event: HolterEvent = {
    '@timestamp': new Date(ms).toISOString(),
    event: { id: `t-${sequence}`, kind: 'event', category: ['database'], type: ['access'], action: 'read', outcome: 'success', dataset: 'test', module: 'test' },
    holter: { source: { input: 'test', format: 'test' } },
  };
  for (const [path, value] of Object.entries(fields)) setPath(event as unknown as Record<string, unknown>, path, value);
  return event;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const segments = path.split('.');
  let node = target;
  for (const segment of segments.slice(0, -1)) {
    if (node[segment] === undefined || node[segment] === null || typeof node[segment] !== 'object') node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  node[segments[segments.length - 1] as string] = value;
}

/** Parses a detector text, failing the test on any error. */
export function detectorOf(text: string): BaselineDetector {
  const { detector, errors } = parseDetector(text, 'test.yaml', { defaultTimeZone: ZONE });
  assert.deepEqual(errors.map((error) => error.describe()), []);
  return detector as BaselineDetector;
}

export function stageOf(text: string): BaselineStage {
  return new BaselineStage([detectorOf(text)]);
}

/** Feeds events in event-time order with the watermark at the latest time, then flushes. */
export function run(stage: BaselineStage, events: HolterEvent[], flush = true): Detection[] {
  const sorted = [...events].sort((a, b) => Date.parse(a['@timestamp']) - Date.parse(b['@timestamp']));
  const detections: Detection[] = [];
  let maxMs = Number.NEGATIVE_INFINITY;
  for (const event of sorted) {
    maxMs = Math.max(maxMs, Date.parse(event['@timestamp']));
    detections.push(...stage.process(event, maxMs));
  }
  if (flush) detections.push(...stage.flush(Number.POSITIVE_INFINITY));
  return detections;
}

/**
 * Events for `days` working days from START: `perHour` events in each hour from 09:00 to 17:00
 * UTC, with fields from `fields(day, hour, index)`.
 */
export function workdays(days: number, perHour: number, fields: (day: number, hour: number, index: number) => Record<string, unknown>, firstDay = 0): HolterEvent[] {
  const events: HolterEvent[] = [];
  for (let day = firstDay; day < firstDay + days; day += 1) {
    for (let hour = 9; hour < 17; hour += 1) {
      for (let index = 0; index < perHour; index += 1) {
        events.push(eventAt(START + day * DAY + hour * HOUR + Math.floor((index * HOUR) / perHour), fields(day, hour, index)));
      }
    }
  }
  return events;
}
