import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BaselineSnapshot } from '../../../src/detect/baseline/index.js';
import { LocalClock } from '../../../src/detect/baseline/local-time.js';
import { SeasonalSlots, decodeValue, encodeValue, seasonalModeOf } from '../../../src/detect/baseline/seasonal.js';
import type { HolterEvent } from '../../../src/event.js';
import { local } from './events.js';
import { DAY, HOUR, MINUTE, eventAt, run, stageOf } from './helpers.js';

/** A Monday; weeks of test data start here. */
const MONDAY = Date.parse('2025-01-06T00:00:00Z');
const WEEK = 7 * DAY;
const NEW_YORK = 'America/New_York';
const BERLIN = 'Europe/Berlin';

/** Returns the text of a daily detector of `fn` per user, with `extra` lines appended. */
function daily(fn: string, extra = ''): string {
  return `id: daily
name: Daily
function: ${fn}
by: holter.user.id
${fn.includes('distinct') ? 'field: holter.patient.token\n' : ''}over: [holter.user.role, holter.user.department]
bucket_span: 1d
learning:
  min_days: 14
  min_events: 100
  half_life_days: 21
thresholds:
  min_score: 50
  min_actual: 50
  min_typical: 10
severity: medium
risk_score: 40
${extra}`;
}

/** An hourly high_count per user in `seasonality` hour_of_week. */
const HOURLY = `id: hourly
name: Hourly
function: high_count
by: holter.user.id
bucket_span: 1h
seasonality: hour_of_week
learning:
  min_days: 7
  min_events: 50
  half_life_days: 14
thresholds:
  min_score: 50
  min_actual: 20
severity: medium
risk_score: 40
`;

/** `count` record reads by `user` on the UTC day from `dayMs`, from local 09:00 in `zone`, one every 2 minutes. */
function workday(user: string, dayMs: number, count: number, zone = NEW_YORK): HolterEvent[] {
  const date = new Date(dayMs).toISOString().slice(0, 10);
  const startMs = local(`${date}T09:00`, zone);
  return Array.from({ length: count }, (_, index) =>
    eventAt(startMs + index * 2 * MINUTE, {
      'holter.user.id': user,
      'holter.user.time_zone': zone,
      'holter.user.role': 'billing-clerk',
      'holter.user.department': 'billing',
      'holter.patient.token': `p-${user}-${date}-${index}`,
    }),
  );
}

/** Events of `weeks` weeks from MONDAY with `countOf(week, weekday)` reads per day; 0 is a day off. */
function weeksOf(user: string, weeks: number, countOf: (week: number, weekday: number) => number, firstWeek = 0): HolterEvent[] {
  const events: HolterEvent[] = [];
  for (let week = firstWeek; week < firstWeek + weeks; week += 1) {
    for (let weekday = 0; weekday < 7; weekday += 1) {
      const count = countOf(week, weekday);
      if (count > 0) events.push(...workday(user, MONDAY + week * WEEK + weekday * DAY, count));
    }
  }
  return events;
}

/** 50 reads on each weekday, none at weekends. */
const officeHours = (_week: number, weekday: number): number => (weekday < 5 ? 50 : 0);

describe('seasonality by day of week', () => {
  it('keeps weekend zeros quiet', () => {
    const stage = stageOf(daily('count'));
    const detections = run(stage, weeksOf('u-1', 5, officeHours));
    assert.deepEqual(detections.map((detection) => detection.window.start), []);
    // Weekends of weeks 3 to 5 were judged, and none was low.
    assert.ok((stage.stats()['daily.buckets_judged'] as number) >= 15);
  });

  it('raises a silent weekday', () => {
    const stage = stageOf(daily('count'));
    const silentWednesday = (week: number, weekday: number): number => (week === 4 && weekday === 2 ? 0 : officeHours(week, weekday));
    const detections = run(stage, weeksOf('u-1', 5, silentWednesday));

    assert.equal(detections.length, 1);
    const [detection] = detections;
    assert.equal(detection?.window.start, '2025-02-05T00:00:00.000Z');
    assert.equal(detection?.explanation.details?.side, 'low');
    assert.equal(detection?.explanation.details?.seasonal_slot, 'Wednesdays');
    assert.equal(detection?.explanation.details?.time_zone, NEW_YORK);
    assert.ok((detection?.explanation.typical as number) > 40);
    assert.match(detection?.explanation.summary ?? '', /^u-1 had no events in the day from 2025-02-05T00:00:00\.000Z, against a usual \d+(\.\d)? per day on Wednesdays \(America\/New_York\) for u-1 \(score /);
  });

  it('misses a silent weekday without seasonality', () => {
    const stage = stageOf(daily('count', 'seasonality: none\n'));
    const silentWednesday = (week: number, weekday: number): number => (week === 4 && weekday === 2 ? 0 : officeHours(week, weekday));
    assert.deepEqual(run(stage, weeksOf('u-1', 5, silentWednesday)), []);
  });

  it('judges a Monday against Mondays', () => {
    const stage = stageOf(daily('high_distinct_count'));
    // Busy Mondays (about 100 records), about 30 on the other weekdays, none at weekends.
    const usual = (week: number, weekday: number): number => {
      if (weekday >= 5) return 0;
      return weekday === 0 ? 95 + (week % 3) * 5 : 28 + (week % 3) * 2;
    };
    const spikes = (week: number, weekday: number): number => {
      if (week === 4 && weekday === 0) return 250;
      if (week === 4 && weekday === 1) return 100;
      return usual(week, weekday);
    };
    const detections = run(stage, weeksOf('u-1', 6, spikes));

    assert.deepEqual(detections.map((detection) => detection.window.start), ['2025-02-03T00:00:00.000Z', '2025-02-04T00:00:00.000Z']);
    const [monday, tuesday] = detections;
    assert.equal(monday?.explanation.details?.seasonal_slot, 'Mondays');
    assert.ok((monday?.explanation.typical as number) > 85);
    assert.equal(tuesday?.explanation.details?.seasonal_slot, 'Tuesdays');
    assert.ok((tuesday?.explanation.typical as number) < 40);
    assert.match(tuesday?.explanation.summary ?? '', /against a usual \d+(\.\d)? per day on Tuesdays \(America\/New_York\) for u-1/);
  });

  it('judges a newcomer by the peer group', () => {
    const stage = stageOf(daily('high_distinct_count'));
    const peers = ['u-2', 'u-3', 'u-4'].flatMap((user) => weeksOf(user, 4, (_week, weekday) => (weekday < 5 ? 30 : 0)));
    const newcomer = [...workday('u-new', MONDAY + 3 * WEEK, 30), ...workday('u-new', MONDAY + 3 * WEEK + DAY, 150)];
    const detections = run(stage, [...peers, ...newcomer]);

    assert.equal(detections.length, 1);
    assert.deepEqual(detections[0]?.groupKey, { 'holter.user.id': 'u-new' });
    assert.equal(detections[0]?.explanation.details?.basis, 'peer_group');
    assert.equal(detections[0]?.explanation.details?.seasonal_slot, undefined);
  });
});

describe('seasonality state', () => {
  it('restores a snapshot without slots', () => {
    const original = stageOf(daily('count'));
    run(original, weeksOf('u-1', 3, officeHours), false);
    const snapshot = JSON.parse(JSON.stringify(original.snapshot())) as BaselineSnapshot;
    // The layout written before seasonality: series without zone and seasonal.
    const state = snapshot.detectors.daily as { series: Array<[string, Record<string, unknown>]> };
    for (const [, series] of state.series) {
      delete series.zone;
      delete series.seasonal;
    }

    const restored = stageOf(daily('count'));
    restored.restore(snapshot);
    const profile = restored.describe('u-1').daily as { series: Array<Record<string, unknown>> };
    assert.equal(profile.series[0]?.seasonal_weeks, 0);
    assert.ok((profile.series[0]?.typical as number) > 20);

    // The slots learn again from the restore on; four weeks later a silent Wednesday is judged against Wednesdays.
    const silentWednesday = (week: number, weekday: number): number => (week === 6 && weekday === 2 ? 0 : officeHours(week, weekday));
    const detections = run(restored, weeksOf('u-1', 4, silentWednesday, 3));
    assert.deepEqual(detections.map((detection) => detection.explanation.details?.seasonal_slot), ['Wednesdays']);
  });

  it('restores slots to the same detections', () => {
    const silentWednesday = (week: number, weekday: number): number => (week === 4 && weekday === 2 ? 0 : officeHours(week, weekday));
    const before = weeksOf('u-1', 3, silentWednesday);
    const after = weeksOf('u-1', 2, silentWednesday, 3);
    const original = stageOf(daily('count'));
    run(original, before, false);
    const restored = stageOf(daily('count'));
    restored.restore(JSON.parse(JSON.stringify(original.snapshot())) as BaselineSnapshot);

    const fromOriginal = run(original, after);
    const fromRestored = run(restored, after);
    assert.equal(fromOriginal.length, 1);
    assert.deepEqual(fromRestored.map((detection) => detection.explanation), fromOriginal.map((detection) => detection.explanation));
  });

  it('drops slots of another seasonality', () => {
    const original = stageOf(daily('count'));
    run(original, weeksOf('u-1', 3, officeHours), false);
    const restored = stageOf(daily('count', 'bucket_span: 12h\n').replace('bucket_span: 1d\n', ''));
    // With fingerprints the changed bucket_span drops the whole state, so only a snapshot saved
    // without them reaches the series with slots of another seasonality.
    const { fingerprints: _fingerprints, ...withoutFingerprints } = JSON.parse(JSON.stringify(original.snapshot())) as BaselineSnapshot;
    assert.deepEqual(restored.restore(withoutFingerprints).unchecked, ['daily']);
    const profile = restored.describe('u-1').daily as { series: Array<Record<string, unknown>> };
    assert.equal(profile.series[0]?.seasonality, 'hour_of_week');
    assert.equal(profile.series[0]?.seasonal_weeks, 0);
  });
});

describe('seasonal slots across daylight saving', () => {
  const clock = new LocalClock();
  const hourly = new SeasonalSlots('hour_of_week', HOUR, 14 * DAY, clock);
  const days = new SeasonalSlots('day_of_week', DAY, 14 * DAY, clock);
  /** Slot of the hourly bucket holding local time `text` in `zone`. */
  const hourSlot = (text: string, zone: string): number => hourly.slotOf(Math.floor(local(text, zone) / HOUR) * HOUR, zone);

  const transitions: Array<[string, string, string]> = [
    [NEW_YORK, '2025-03-03', '2025-03-10'],
    [NEW_YORK, '2025-10-27', '2025-11-03'],
    [BERLIN, '2025-03-24', '2025-03-31'],
    [BERLIN, '2025-10-20', '2025-10-27'],
  ];
  for (const [zone, mondayBefore, mondayAfter] of transitions) {
    it(`keeps 09:00 in ${zone} around ${mondayAfter}`, () => {
      assert.equal(hourSlot(`${mondayBefore}T09:30`, zone), 9);
      assert.equal(hourSlot(`${mondayAfter}T09:30`, zone), 9);
      assert.equal(hourly.labelOf(9), 'Mondays 09:00-10:00');
    });
  }

  it('maps the repeated autumn hour twice', () => {
    // 2025-10-26 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET): both are Sunday 02:00.
    assert.equal(hourly.slotOf(Date.parse('2025-10-26T00:00:00Z'), BERLIN), 6 * 24 + 2);
    assert.equal(hourly.slotOf(Date.parse('2025-10-26T01:00:00Z'), BERLIN), 6 * 24 + 2);
    assert.equal(hourly.slotOf(Date.parse('2025-10-26T02:00:00Z'), BERLIN), 6 * 24 + 3);
  });

  it('names the weekday of transition days', () => {
    assert.equal(days.slotOf(Date.parse('2025-03-09T00:00:00Z'), NEW_YORK), 6);
    assert.equal(days.slotOf(Date.parse('2025-03-10T00:00:00Z'), NEW_YORK), 0);
    assert.equal(days.slotOf(Date.parse('2025-11-02T00:00:00Z'), NEW_YORK), 6);
    assert.equal(days.slotOf(Date.parse('2025-03-30T00:00:00Z'), BERLIN), 6);
    assert.equal(days.slotOf(Date.parse('2025-10-26T00:00:00Z'), BERLIN), 6);
    assert.equal(days.labelOf(6), 'Sundays');
  });

  for (const [zone, mondayBefore, mondayAfter] of transitions) {
    it(`judges a burst after the change in ${zone} on ${mondayAfter}`, () => {
      const stage = stageOf(HOURLY);
      const firstMonday = Date.parse(`${mondayBefore}T00:00:00Z`) - 2 * WEEK;
      const events: HolterEvent[] = [];
      // Ten reads at local 09:00-10:00 on each weekday of the three weeks before the change.
      for (let day = 0; day < 21; day += 1) {
        if (day % 7 >= 5) continue;
        const date = new Date(firstMonday + day * DAY).toISOString().slice(0, 10);
        for (let index = 0; index < 10; index += 1) events.push(eventAt(local(`${date}T09:00`, zone) + index * 5 * MINUTE, { 'holter.user.id': 'u-1', 'holter.user.time_zone': zone }));
      }
      for (let index = 0; index < 40; index += 1) events.push(eventAt(local(`${mondayAfter}T09:00`, zone) + index * MINUTE, { 'holter.user.id': 'u-1', 'holter.user.time_zone': zone }));
      const detections = run(stage, events);

      assert.equal(detections.length, 1);
      assert.equal(detections[0]?.explanation.details?.seasonal_slot, 'Mondays 09:00-10:00');
      assert.equal(detections[0]?.explanation.details?.time_zone, zone);
      // Judged against the learned ten of Mondays 09:00, not against an empty neighbouring hour.
      assert.ok((detections[0]?.explanation.typical as number) > 5);
    });
  }
});

describe('seasonality settings', () => {
  it('reads the user zone for users only', () => {
    const byObserver = HOURLY.replace('id: hourly', 'id: source').replace('by: holter.user.id', 'by: observer.name');
    const stage = stageOf(HOURLY);
    const sources = stageOf(byObserver);
    const events = [eventAt(MONDAY, { 'holter.user.id': 'u-1', 'observer.name': 'ehr', 'holter.user.time_zone': BERLIN })];
    run(stage, events);
    run(sources, events);

    const userProfile = stage.describe('u-1').hourly as { series: Array<Record<string, unknown>> };
    const sourceProfile = sources.describe('ehr').source as { series: Array<Record<string, unknown>> };
    assert.equal(userProfile.series[0]?.time_zone, BERLIN);
    // A log source serves users in many zones, so it keeps the facility zone.
    assert.equal(sourceProfile.series[0]?.time_zone, NEW_YORK);
  });


  it('resolves auto by bucket span', () => {
    assert.deepEqual(seasonalModeOf('auto', HOUR, '1h'), { mode: 'hour_of_week' });
    assert.deepEqual(seasonalModeOf('auto', 15 * MINUTE, '15m'), { mode: 'hour_of_week' });
    assert.deepEqual(seasonalModeOf('auto', 4 * HOUR, '4h'), { mode: 'hour_of_week' });
    assert.deepEqual(seasonalModeOf('auto', DAY, '1d'), { mode: 'day_of_week' });
    assert.deepEqual(seasonalModeOf('auto', 5 * HOUR, '5h'), { mode: undefined });
    assert.deepEqual(seasonalModeOf('auto', 2 * DAY, '2d'), { mode: undefined });
    assert.deepEqual(seasonalModeOf('none', HOUR, '1h'), { mode: undefined });
  });

  it('rejects a mode the span cannot hold', () => {
    assert.deepEqual(seasonalModeOf('hour_of_week', DAY, '1d'), {
      error: 'seasonality hour_of_week needs a bucket_span shorter than a day that divides it, such as 1h or 4h, but bucket_span is 1d; use day_of_week for 1d, or none',
    });
    assert.deepEqual(seasonalModeOf('day_of_week', HOUR, '1h'), { error: 'seasonality day_of_week needs bucket_span 1d, but bucket_span is 1h; use hour_of_week for shorter spans, or none' });
  });

  it('reuses a released profile empty', () => {
    const slots = new SeasonalSlots('day_of_week', DAY, 21 * DAY, new LocalClock());
    const first = slots.allocate();
    const second = slots.allocate();
    first.learn(slots, MONDAY, NEW_YORK, 50, 1);
    assert.ok(slots.codeAt(first, 0) > 0);
    assert.equal(slots.codeAt(second, 0), 0);

    slots.release(first);
    const reused = slots.allocate();
    assert.equal(reused.index, first.index);
    assert.equal(slots.codeAt(reused, 0), 0);
    assert.ok(Number.isNaN(reused.startMs));
  });

  it('quantises values within 0.05%', () => {
    for (const value of [0.01, 0.5, 1, 3, 12, 170, 52_000, 5e9, 1e15]) {
      const decoded = decodeValue(encodeValue(value));
      assert.ok(Math.abs(decoded - value) <= 0.0005 * (1 + value), `${value} -> ${decoded}`);
    }
    assert.equal(decodeValue(encodeValue(0)), 0);
  });
});
