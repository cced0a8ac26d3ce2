import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Label } from '../../src/sim/index.js';
import { INCIDENT_DAYS } from '../../src/sim/options.js';
import { observeSmallHospital, type Observed } from './fixture.js';

const HOUR_MS = 3_600_000;

function isNightHour(hour: number): boolean {
  return hour >= 22 || hour < 7;
}

describe('on-call nights trap', () => {
  let observed: Observed;
  let labels: Label[];
  before(() => {
    observed = observeSmallHospital();
    labels = observed.hospital.labels.filter((candidate) => candidate.name === 'on-call-nights');
  });

  it('labels interventional cardiologists as traps', () => {
    assert.ok(labels.length >= 2, `${labels.length} call nights labelled`);
    for (const label of labels) {
      assert.equal(label.kind, 'trap');
      assert.deepEqual(label.expect, []);
      assert.equal(observed.people.get(label.userId)?.role, 'interventional-cardiologist');
    }
    assert.equal(new Set(labels.map((label) => label.userId)).size, 2);
  });

  it('labels only the incident week', () => {
    const firstDayMs = observed.hospital.clock.toUtc(observed.hospital.clock.days - INCIDENT_DAYS, 0);
    for (const label of labels) assert.ok(label.startMs >= firstDayMs, new Date(label.startMs).toISOString());
  });

  it('works nights in the learning weeks', () => {
    const firstDayMs = observed.hospital.clock.toUtc(observed.hospital.clock.days - INCIDENT_DAYS, 0);
    for (const userId of new Set(labels.map((label) => label.userId))) {
      const nights = new Set<number>();
      for (const record of observed.records) {
        if (record.kind !== 'chart' || record.timeMs >= firstDayMs || observed.userOfAccount.get(record.account) !== userId) continue;
        // Night records from 22:00 to 07:00 are filed under the evening that starts the night.
        if (isNightHour(observed.hospital.clock.localHour(record.timeMs))) nights.add(Math.floor((record.timeMs - observed.hospital.startMs - 12 * HOUR_MS) / (24 * HOUR_MS)));
      }
      assert.ok(nights.size >= 4, `${userId} worked ${nights.size} nights before the incident week`);
    }
  });

  it('opens a handful of records a night', () => {
    for (const label of labels) {
      const records = observed.records.filter((record) => observed.userOfAccount.get(record.account) === label.userId && record.timeMs >= label.startMs && record.timeMs < label.endMs);
      const patients = new Set(records.filter((record) => record.kind === 'chart').map((record) => record.patientId));
      const studies = records.filter((record) => record.kind === 'image');
      assert.ok(patients.size >= 1, `${label.userId}: ${patients.size} patients`);
      assert.ok(patients.size <= 15, `${label.userId}: ${patients.size} patients`);
      assert.ok(studies.length >= 1, `${label.userId}: ${studies.length} studies`);
      for (const record of records) assert.ok(isNightHour(observed.hospital.clock.localHour(record.timeMs)), record.timeText);
    }
  });

  it('calls in at irregular hours', () => {
    const userId = labels[0]?.userId;
    const hours = new Set<number>();
    for (const record of observed.records) {
      if (record.kind !== 'login-success' || observed.userOfAccount.get(record.account) !== userId) continue;
      const hour = observed.hospital.clock.localHour(record.timeMs);
      if (isNightHour(hour)) hours.add(hour);
    }
    assert.ok(hours.size >= 4, `sign-ins at ${[...hours].sort((a, b) => a - b).join(', ')}`);
  });
});
