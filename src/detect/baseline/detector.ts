import { getField } from '../../event.js';
import type { FieldReader, HolterEvent } from '../../event.js';
import type { Detection, RuleInfo } from '../types.js';

/** One loaded behavioural detector, driven by BaselineStage. */
export interface BaselineDetector {
  readonly rule: RuleInfo;
  /**
   * Hash of the definition's keys that decide what the detector learns and judges, set by the
   * loader. replaceDetectors keeps the state of a detector whose id and fingerprint are unchanged.
   */
  fingerprint?: string;
  /** Judges and learns from one event, and closes what the watermark has passed. */
  process(event: HolterEvent, watermarkMs: number): Detection[];
  /** Closes what the watermark has passed, without a new event. */
  advance(watermarkMs: number): Detection[];
  /** Closes everything still open: end of input. */
  flush(watermarkMs: number): Detection[];
  stats(): Record<string, number>;
  /** Returns what the detector learned about one entity as plain data, or undefined when nothing. */
  describe(entity: string): Record<string, unknown> | undefined;
  snapshot(): unknown;
  restore(snapshot: unknown): void;
  /**
   * Converts this detector's state from an older snapshot version to the current layout. A
   * detector without it has kept the same layout across versions.
   */
  migrate?(state: unknown, fromVersion: number): unknown;
}

/**
 * The result of process and advance when nothing is detected, which is nearly every event. It is
 * shared so that no array is made per event, and frozen so that a caller that pushes to it fails.
 */
export const NO_DETECTIONS = Object.freeze([]) as unknown as Detection[];

/** Reads the entity a detector groups by: a non-empty string or a finite number, else undefined. */
export function entityOf(event: HolterEvent, field: string | FieldReader): string | undefined {
  return scalarText(typeof field === 'string' ? getField(event, field) : field(event));
}

/** A non-empty string, or a finite number as text; undefined for anything else. */
export function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Names a bucket span for an explanation: `hour`, `day`, `30 minutes`, `2 hours`. */
export function spanText(spanMs: number): string {
  const minutes = spanMs / 60_000;
  if (minutes === 60) return 'hour';
  if (minutes === 1440) return 'day';
  if (minutes % 1440 === 0) return `${minutes / 1440} days`;
  if (minutes % 60 === 0) return `${minutes / 60} hours`;
  return minutes === 1 ? 'minute' : `${minutes} minutes`;
}

/** Orders strings by UTF-16 code units, independent of the locale. */
export function compareCodeUnits(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

/**
 * The last `@timestamp` parsed and its value. Every detector reads the time of the same event
 * in turn, so one entry saves all parses but the first.
 */
let lastTimestamp: string | undefined;
let lastTimestampMs = Number.NaN;

/** Parses `@timestamp` to epoch ms, or NaN. */
export function eventTimeMs(event: HolterEvent): number {
  const timestamp = event['@timestamp'];
  if (typeof timestamp !== 'string') return Date.parse(timestamp);
  if (timestamp !== lastTimestamp) {
    lastTimestampMs = Date.parse(timestamp);
    lastTimestamp = timestamp;
  }
  return lastTimestampMs;
}

/** Counters every detector keeps for events it cannot use. */
export interface SkippedEventCounters {
  events_missing_entity: number;
  events_invalid_timestamp: number;
}

/**
 * Reads the entity a detector groups by, or counts the event as missing it and returns undefined.
 * With readTimeOrSkip it replaces a reader returning both as an object, which every detector
 * allocated on every event.
 */
export function readEntityOrSkip(event: HolterEvent, field: string | FieldReader, counters: SkippedEventCounters): string | undefined {
  const entity = entityOf(event, field);
  if (entity === undefined) counters.events_missing_entity += 1;
  return entity;
}

/** Reads the event time in epoch ms, or counts the timestamp as invalid and returns NaN. */
export function readTimeOrSkip(event: HolterEvent, counters: SkippedEventCounters): number {
  const ms = eventTimeMs(event);
  if (Number.isNaN(ms)) counters.events_invalid_timestamp += 1;
  return ms;
}

/** Formats a percentage with one decimal: 0.004 -> `0.4%`. */
export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

export function roundTo(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

/** Appends an id unless the list is full; evidence keeps the oldest events. */
export function addEvidence(evidence: string[], id: string, limit: number): void {
  if (evidence.length < limit) evidence.push(id);
}
