import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Label } from '../../src/sim/index.js';
import { observeSmallHospital, type Observed } from './fixture.js';

const HOUR_MS = 3_600_000;

/** Distinct patients per local date of one user's chart records. */
function patientsPerDate(observed: Observed, userId: string, accept: (timeMs: number) => boolean): Map<string, Set<string>> {
  const perDate = new Map<string, Set<string>>();
  for (const record of observed.records) {
    if (record.kind !== 'chart' || !record.patientId || !accept(record.timeMs)) continue;
    if (observed.userOfAccount.get(record.account) !== userId) continue;
    const date = record.timeText.slice(0, 10);
    let patients = perDate.get(date);
    if (!patients) perDate.set(date, (patients = new Set()));
    patients.add(record.patientId);
  }
  return perDate;
}

describe('slow exfiltration incident', () => {
  let observed: Observed;
  let label: Label;
  before(() => {
    observed = observeSmallHospital();
    const found = observed.hospital.labels.find((candidate) => candidate.name === 'slow-exfiltration');
    assert.ok(found, 'the incident is labelled');
    label = found;
  });

  it('labels a day-shift billing clerk', () => {
    const person = observed.people.get(label.userId);
    assert.equal(person?.role, 'billing-clerk');
    assert.equal(person?.shift, 'office');
    assert.deepEqual(label.expect, ['daily-record-volume']);
  });

  it('copies on four or five days', () => {
    const during = patientsPerDate(observed, label.userId, (timeMs) => timeMs >= label.startMs && timeMs < label.endMs);
    assert.ok(during.size >= 4, `${during.size} days`);
    assert.ok(during.size <= 5, `${during.size} days`);
  });

  it('opens three times usual daily patients', () => {
    const history = patientsPerDate(observed, label.userId, (timeMs) => timeMs < label.startMs);
    const usual = [...history.values()].map((patients) => patients.size).sort((a, b) => a - b);
    const median = usual[Math.floor(usual.length / 2)] as number;
    assert.ok(usual.length >= 10, `${usual.length} working days of history`);

    const during = patientsPerDate(observed, label.userId, (timeMs) => timeMs >= label.startMs && timeMs < label.endMs);
    for (const [date, patients] of during) {
      assert.ok(patients.size >= 3 * median, `${date}: ${patients.size} patients against a median of ${median}`);
      assert.ok(patients.size > Math.max(...usual), `${date}: ${patients.size} patients, busiest earlier day ${Math.max(...usual)}`);
    }
  });

  it('stays far below mass-access volume', () => {
    const charts = observed.records.filter((record) => record.kind === 'chart' && observed.userOfAccount.get(record.account) === label.userId && record.timeMs >= label.startMs && record.timeMs < label.endMs);
    for (const chart of charts) {
      const hour = new Set(charts.filter((other) => other.timeMs >= chart.timeMs && other.timeMs < chart.timeMs + HOUR_MS).map((other) => other.patientId));
      // The mass-access rule fires at 100 distinct patients in an hour.
      assert.ok(hour.size < 50, `${hour.size} patients in the hour from ${chart.timeText}`);
    }
  });

  it('works only in office hours', () => {
    const records = observed.records.filter((record) => observed.userOfAccount.get(record.account) === label.userId && record.timeMs >= label.startMs && record.timeMs < label.endMs);
    assert.ok(records.length > 0);
    for (const record of records) {
      const hour = observed.hospital.clock.localHour(record.timeMs);
      assert.ok(hour >= 7, record.timeText);
      assert.ok(hour < 18, record.timeText);
    }
  });
});
