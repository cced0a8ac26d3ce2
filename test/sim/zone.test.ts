import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ZoneClock } from '../../src/sim/zone.js';

const HOUR_MS = 3_600_000;

describe('ZoneClock', () => {
  const clock = new ZoneClock('America/New_York', '2026-10-05', 35);

  it('finds the fall-back day', () => {
    assert.deepEqual(clock.fallBackDays(), [27]);
    assert.equal(clock.localDate(27), '2026-11-01');
    assert.equal(clock.weekday(27), 7);
  });

  it('switches offset at 02:00 daylight time', () => {
    const change = Date.parse('2026-11-01T06:00:00Z');
    assert.equal(clock.offsetMinutesAt(change - 1), -240);
    assert.equal(clock.offsetMinutesAt(change), -300);
  });

  it('gives the fall-back night 13 hours', () => {
    const start = clock.toUtc(26, 19 * 60);
    const end = clock.toUtc(27, 7 * 60);
    assert.equal(new Date(start).toISOString(), '2026-10-31T23:00:00.000Z');
    assert.equal(end - start, 13 * HOUR_MS);
  });

  it('maps the repeated hour to its first occurrence', () => {
    assert.equal(new Date(clock.toUtc(27, 90)).toISOString(), '2026-11-01T05:30:00.000Z');
  });

  it('formats both passes of the repeated hour', () => {
    assert.equal(clock.formatLocal(Date.parse('2026-11-01T05:30:00Z')), '2026-11-01T01:30:00.000-04:00');
    assert.equal(clock.formatLocal(Date.parse('2026-11-01T06:30:00Z')), '2026-11-01T01:30:00.000-05:00');
    assert.equal(clock.localHour(Date.parse('2026-11-01T06:30:00Z')), 1);
  });

  it('moves a spring-forward gap time later', () => {
    const spring = new ZoneClock('America/New_York', '2027-03-10', 7);
    assert.deepEqual(spring.fallBackDays(), []);
    // 2027-03-14 02:30 does not exist in New York; it becomes 03:30 daylight time.
    assert.equal(new Date(spring.toUtc(4, 150)).toISOString(), '2027-03-14T07:30:00.000Z');
  });

  it('writes Z for a zone at UTC', () => {
    const utc = new ZoneClock('UTC', '2026-10-05', 2);
    assert.equal(utc.formatLocal(Date.parse('2026-10-05T12:00:00Z')), '2026-10-05T12:00:00.000Z');
  });

  it('handles a half-hour zone', () => {
    const kolkata = new ZoneClock('Asia/Kolkata', '2026-10-05', 2);
    assert.equal(kolkata.formatLocal(Date.parse('2026-10-05T12:00:00Z')), '2026-10-05T17:30:00.000+05:30');
    assert.equal(new Date(kolkata.toUtc(0, 19 * 60)).toISOString(), '2026-10-05T13:30:00.000Z');
  });

  it('rejects an unknown zone', () => {
    assert.throws(() => new ZoneClock('Mars/Olympus_Mons', '2026-10-05', 2), /Mars\/Olympus_Mons/);
  });
});
