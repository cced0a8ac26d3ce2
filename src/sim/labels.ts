import type { Action } from './actions.js';
import type { ShiftOverrides } from './activity.js';

/** Ground truth for one injected incident or one trap. */
export interface Label {
  /** `incident`: the ids in `expect` should fire. `trap`: looks unusual but is normal, so nothing may fire. */
  kind: 'incident' | 'trap';
  name: string;
  /** Directory user id of the person involved (for a password spray, the first account tried). */
  userId: string;
  /** Every account's user id the incident touches, when there is more than one. */
  targetUserIds?: string[];
  sourceIp?: string;
  /** Event-time window of the incident's records, UTC milliseconds, start inclusive and end exclusive. */
  startMs: number;
  endMs: number;
  /** Ids of the Sigma rules and detectors expected to fire; empty for traps. */
  expect: string[];
  description: string;
}

/** Detection ids the labels refer to. Sigma rule ids and detector ids are defined with the rules. */
export const DETECTION_IDS = {
  failedLoginBurst: 'holter-failed-login-burst',
  failedLoginBurstThenSuccess: 'holter-failed-login-burst-then-success',
  passwordSpray: 'holter-password-spray',
  breakGlass: 'holter-break-glass-access',
  selfLookup: 'holter-self-lookup',
  afterHours: 'after-hours-record-access',
  massImagePull: 'mass-image-pull',
  dailyRecordVolume: 'daily-record-volume',
} as const;

/** Additions of incidents and traps to the normal activity. */
export interface Injection {
  labels: Label[];
  /** Extra actions, not tied to a shift. */
  actions: Action[];
  /** Adjustments to one person's shift, keyed by `shiftKey`. */
  overrides: Map<string, ShiftOverrides>;
  /** Shifts worked even though the person's pattern has the day off, keyed by `shiftKey`. */
  forcedShifts: Set<string>;
}

export function shiftKey(staffIndex: number, day: number): string {
  return `${staffIndex}:${day}`;
}
