import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalClock } from '../../../src/detect/baseline/index.js';

const clock = new LocalClock();
const at = (iso: string): number => Date.parse(iso);

describe('LocalClock', () => {
  it('splits the repeated autumn hour', () => {
    const first = clock.localHour(at('2025-11-02T05:30:00Z'), 'America/New_York');
    const second = clock.localHour(at('2025-11-02T06:30:00Z'), 'America/New_York');
    assert.equal(first.hour, 1);
    assert.equal(second.hour, 1);
    assert.equal(first.startMs, at('2025-11-02T05:00:00Z'));
    assert.equal(second.startMs, at('2025-11-02T06:00:00Z'));
  });

  it('skips the spring hour', () => {
    const before = clock.localHour(at('2025-03-09T06:59:59.999Z'), 'America/New_York');
    const after = clock.localHour(at('2025-03-09T07:00:00Z'), 'America/New_York');
    assert.equal(before.hour, 1);
    assert.equal(after.hour, 3);
    assert.equal(after.startMs, at('2025-03-09T07:00:00Z'));
  });

  it('keeps wall-clock hours across the change', () => {
    assert.equal(clock.localHour(at('2025-03-07T12:00:00Z'), 'America/New_York').hour, 7);
    assert.equal(clock.localHour(at('2025-03-10T11:00:00Z'), 'America/New_York').hour, 7);
  });

  it('handles half-hour offsets', () => {
    const hour = clock.localHour(at('2025-01-06T00:10:00Z'), 'Asia/Kolkata');
    assert.equal(hour.hour, 5);
    assert.equal(hour.startMs, at('2025-01-05T23:30:00Z'));
    assert.equal(hour.hourOfWeek, 5);
    assert.equal(hour.weekend, false);
  });

  it('numbers hours of the week from Monday', () => {
    const sunday = clock.localHour(at('2025-01-05T23:30:00Z'), 'UTC');
    assert.equal(sunday.hourOfWeek, 6 * 24 + 23);
    assert.equal(sunday.weekend, true);
  });

  it('recognises invalid zones', () => {
    assert.equal(clock.isValidZone('America/New_York'), true);
    assert.equal(clock.isValidZone('Mars/Olympus_Mons'), false);
  });
});
