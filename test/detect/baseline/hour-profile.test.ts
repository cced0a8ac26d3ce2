import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HourProfile, LocalClock } from '../../../src/detect/baseline/index.js';
import type { HourShare } from '../../../src/detect/baseline/hour-profile.js';
import type { LocalHour } from '../../../src/detect/baseline/local-time.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const ZONE = 'Europe/Berlin';
const clock = new LocalClock();

/**
 * Decayed weights by hour of week computed the plain way: every event's weight halves per
 * half-life of its age at the reference time, the latest event added. Held-back hours are added
 * as HourProfile adds them, at the last event of the hour once a later hour begins.
 */
function referenceWeights(events: Array<{ ms: number; hour: LocalHour }>, halfLifeMs: number): number[] {
  const hours = new Map<number, { hourOfWeek: number; lastMs: number; count: number }>();
  const latestHourStart = Math.max(...events.map((event) => event.hour.startMs));
  for (const { ms, hour } of events) {
    if (hour.startMs === latestHourStart) continue;
    const held = hours.get(hour.startMs) ?? { hourOfWeek: hour.hourOfWeek, lastMs: ms, count: 0 };
    held.lastMs = Math.max(held.lastMs, ms);
    held.count += 1;
    hours.set(hour.startMs, held);
  }
  const referenceMs = Math.max(...[...hours.values()].map((held) => held.lastMs));
  const weights = new Array<number>(168).fill(0);
  for (const held of hours.values()) {
    weights[held.hourOfWeek] = (weights[held.hourOfWeek] as number) + held.count * Math.pow(2, -(referenceMs - held.lastMs) / halfLifeMs);
  }
  return weights;
}

/** Events every `everyMs` from `startMs`, with a seeded pseudo-random skip so hours differ in count. */
function eventsFrom(startMs: number, count: number, everyMs: number): Array<{ ms: number; hour: LocalHour }> {
  const events: Array<{ ms: number; hour: LocalHour }> = [];
  let seed = 7;
  for (let index = 0; index < count; index += 1) {
    seed = (seed * 48_271) % 2_147_483_647;
    const ms = startMs + index * everyMs + (seed % 600_000);
    events.push({ ms, hour: clock.localHour(ms, ZONE) });
  }
  return events;
}

function feed(profile: HourProfile, events: Array<{ ms: number; hour: LocalHour }>): void {
  for (const { ms, hour } of events) {
    profile.settleBefore(hour);
    profile.observe(ms, hour);
  }
}

function assertClose(actual: number[], expected: number[], relative: number): void {
  assert.equal(actual.length, expected.length);
  for (const [index, value] of actual.entries()) {
    const want = expected[index] as number;
    assert.ok(Math.abs(value - want) <= relative * Math.max(1e-12, Math.abs(want)), `weight ${index}: ${value} against ${want}`);
  }
}

describe('HourProfile decay', () => {
  it('matches plain decay over months', () => {
    const halfLifeMs = 21 * DAY_MS;
    const events = eventsFrom(Date.parse('2025-01-06T07:00:00Z'), 2_000, 97 * 60_000);
    const profile = new HourProfile(halfLifeMs);
    feed(profile, events);

    assertClose(profile.snapshot().weights, referenceWeights(events, halfLifeMs), 1e-9);
  });

  it('writes a share into a given object', () => {
    const profile = new HourProfile(21 * DAY_MS);
    feed(profile, eventsFrom(Date.parse('2025-01-06T07:00:00Z'), 500, 47 * 60_000));
    const hour = clock.localHour(Date.parse('2025-01-22T09:30:00Z'), ZONE);
    profile.settleBefore(hour);
    const into: HourShare = { share: -1, seen: false, dayType: 'all days' };

    const dayShare = profile.shareOf(hour, 0.5);
    assert.equal(profile.shareOf(hour, 0.5, into), into);
    assert.deepEqual({ ...into }, dayShare);

    const weekShare = profile.weekShareOf(hour, 0.5);
    assert.equal(profile.weekShareOf(hour, 0.5, into), into);
    assert.deepEqual({ ...into }, weekShare);
    assert.notDeepEqual(dayShare, weekShare);
  });

  it('stays finite past the rescale point', () => {
    // With a one-hour half-life, 40 days are 960 half-lives: the scaled weights are rescaled at least once.
    const halfLifeMs = HOUR_MS;
    const events = eventsFrom(Date.parse('2025-01-06T07:00:00Z'), 4_000, 15 * 60_000);
    const profile = new HourProfile(halfLifeMs);
    feed(profile, events);

    const weights = profile.snapshot().weights;
    assert.ok(weights.every((weight) => Number.isFinite(weight) && weight >= 0));
    assertClose(weights, referenceWeights(events, halfLifeMs), 1e-9);
    const latest = events[events.length - 1] as { ms: number; hour: LocalHour };
    const share = profile.weekShareOf(latest.hour, 0);
    assert.ok(share !== undefined);
    assert.ok(Number.isFinite(share.share));
  });

  it('continues alike after a snapshot round trip', () => {
    const halfLifeMs = 14 * DAY_MS;
    const events = eventsFrom(Date.parse('2025-03-03T06:00:00Z'), 1_200, 53 * 60_000);
    const [first, second] = [events.slice(0, 700), events.slice(700)];

    const straight = new HourProfile(halfLifeMs);
    feed(straight, events);
    const split = new HourProfile(halfLifeMs);
    feed(split, first);
    const restored = HourProfile.restore(JSON.parse(JSON.stringify(split.snapshot())), halfLifeMs);
    feed(restored, second);

    assertClose(restored.snapshot().weights, straight.snapshot().weights, 1e-9);
    assert.deepEqual(restored.snapshot().pending, straight.snapshot().pending);
    assert.deepEqual(restored.snapshot().activeDays, straight.snapshot().activeDays);
    const probe = clock.localHour(Date.parse('2025-04-20T02:30:00Z'), ZONE);
    assert.deepEqual(restored.shareOf(probe, 0.5), straight.shareOf(probe, 0.5));
  });

  it('discounts a detected hour to zero', () => {
    const halfLifeMs = 21 * DAY_MS;
    const profile = new HourProfile(halfLifeMs);
    const night = clock.localHour(Date.parse('2025-02-03T01:10:00Z'), ZONE);
    const day = clock.localHour(Date.parse('2025-02-03T09:10:00Z'), ZONE);
    for (let minute = 0; minute < 30; minute += 1) profile.observe(night.startMs + minute * 60_000, night);
    profile.settleBefore(day);
    profile.observe(day.startMs, day);
    profile.settleBefore(clock.localHour(day.startMs + 2 * HOUR_MS, ZONE));

    assert.ok((profile.snapshot().weights[night.hourOfWeek] as number) > 0);
    profile.discount(night, 30);
    assert.equal(profile.snapshot().weights[night.hourOfWeek], 0);
    assert.equal(profile.shareOf(night, 0)?.seen, false);
    assert.equal(profile.shareOf(day, 0)?.share, 1);
  });
});
