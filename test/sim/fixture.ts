import { simulateHospital, type SimulatedHospital } from '../../src/sim/index.js';
import { summarise, type RecordSummary } from './parse.js';

export interface Observed {
  hospital: SimulatedHospital;
  records: RecordSummary[];
  /** Account name in any system -> directory user id. */
  userOfAccount: Map<string, string>;
  /** Directory user id -> role and shift. */
  people: Map<string, { role: string; shift: string; department: string }>;
  /** Number of records that arrived after a record with a later event time. */
  lateCount: number;
  maxLatenessMs: number;
}

/** A hospital small enough to generate and parse in about a second, with the default dates and zone. */
export const SMALL_HOSPITAL = { seed: 7, staff: 80 } as const;

let small: Observed | undefined;

/** Builds the SMALL_HOSPITAL observation once per test process and returns it. */
export function observeSmallHospital(): Observed {
  small ??= observe(SMALL_HOSPITAL);
  return small;
}

/** Generates a hospital and parses every record once, for tests that read all of them. */
export function observe(options: Parameters<typeof simulateHospital>[0]): Observed {
  const hospital = simulateHospital(options);
  const userOfAccount = new Map<string, string>();
  const people = new Map<string, { role: string; shift: string; department: string }>();
  for (const entry of hospital.directory) {
    people.set(entry.user_id, { role: entry.role, shift: entry.shift, department: entry.department });
    for (const account of entry.accounts) userOfAccount.set(account.name, entry.user_id);
  }

  const records: RecordSummary[] = [];
  let latest = -Infinity;
  let lateCount = 0;
  let maxLatenessMs = 0;
  for (const record of hospital.records()) {
    if (record.eventTimeMs < latest) {
      lateCount++;
      maxLatenessMs = Math.max(maxLatenessMs, latest - record.eventTimeMs);
    }
    latest = Math.max(latest, record.eventTimeMs);
    records.push(summarise(record));
  }
  return { hospital, records, userOfAccount, people, lateCount, maxLatenessMs };
}

/** True when the record belongs to a label's user and falls inside the label's window. */
export function insideLabel(observed: Observed, record: RecordSummary, userId: string | undefined): boolean {
  return observed.hospital.labels.some((label) => {
    const users = label.targetUserIds ?? [label.userId];
    return (userId === undefined || users.includes(userId)) && record.timeMs >= label.startMs && record.timeMs < label.endMs;
  });
}
