import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DateTime } from 'luxon';
import { parseDetector } from '../../../src/detect/baseline/index.js';
import { BaselineStage } from '../../../src/detect/baseline/index.js';
import {
  DAY_SHIFT,
  DETECTORS_DIR,
  NIGHT_SHIFT,
  ZONE,
  byTime,
  feed,
  loadShipped,
  local,
  recordAccess,
  shiftEvents,
  snooping,
} from './events.js';

const FILE = 'after-hours-record-access.yaml';
const dayWorker = { id: 'u-1042', role: 'billing-clerk', department: 'billing', zone: ZONE };

/** Loads the shipped detector with some text replaced, e.g. a longer half-life. */
function variant(replace: Record<string, string>): BaselineStage {
  let text = readFileSync(path.join(DETECTORS_DIR, FILE), 'utf8');
  for (const [from, to] of Object.entries(replace)) {
    assert.ok(text.includes(from), `${from} not in ${FILE}`);
    text = text.replace(from, to);
  }
  const { detector, errors } = parseDetector(text, FILE, { defaultTimeZone: ZONE });
  assert.deepEqual(errors, []);
  return new BaselineStage([detector as NonNullable<typeof detector>]);
}

describe('after-hours record access', () => {
  it('raises one detection for a day worker at 02:00', async () => {
    const stage = await loadShipped(FILE);
    assert.deepEqual(feed(stage, shiftEvents(dayWorker, '2025-01-01', 28, DAY_SHIFT)), []);

    const hourStart = local('2025-01-29T02:00');
    const probe = snooping(dayWorker, hourStart, 7);
    assert.deepEqual(feed(stage, probe), [], 'the hour is still open');

    const next = recordAccess(dayWorker, local('2025-01-29T07:10'));
    const detections = feed(stage, [next]);
    assert.equal(detections.length, 1);
    const [detection] = detections;
    assert.equal(detection?.window.start, '2025-01-29T07:00:00.000Z');
    assert.equal(detection?.window.end, '2025-01-29T08:00:00.000Z');
    assert.deepEqual(detection?.groupKey, { 'holter.user.id': 'u-1042' });
    assert.equal(detection?.explanation.actual, 7);
    assert.equal(detection?.explanation.threshold, 5);
    assert.equal(detection?.explanation.unit, 'distinct patient records');
    assert.deepEqual(detection?.evidence, probe.map((event) => event.event.id));
    assert.equal(detection?.trigger, probe[6]);
    assert.equal(detection?.severity, 'high');
    assert.equal(detection?.riskScore, 60);
    assert.deepEqual(detection?.tags, ['attack.collection', 'attack.t1213']);
    assert.equal(detection?.rule.ruleset, 'detector');
    assert.equal(detection?.rule.id, 'after-hours-record-access');
    assert.match(detection?.rule.file ?? '', /after-hours-record-access\.yaml$/);
    assert.equal(typeof detection?.rule.line, 'number');
    assert.equal(
      detection?.explanation.summary,
      'u-1042 opened 7 distinct patient records between 02:00 and 03:00 (America/New_York); ' +
        'u-1042 has never worked at that hour on weekdays in 27 days of history (share 0.0%); ' +
        'typical for billing-clerk in billing: none',
    );
    assert.equal(detection?.explanation.details?.basis, 'own');
    assert.equal(detection?.explanation.details?.local_hour, '02:00-03:00');
  });

  it('says the share of an hour never worked comes from its neighbours', () => {
    // 06:00 is next to the shift's first hour, so only a high min_share and min_active_days make it unusual.
    const stage = variant({ 'min_share: 0.01': 'min_share: 0.05', 'min_active_days: 1.25': 'min_active_days: 60' });
    feed(stage, shiftEvents(dayWorker, '2025-01-01', 28, DAY_SHIFT));
    feed(stage, snooping(dayWorker, local('2025-01-29T06:00'), 7));
    const detections = feed(stage, [recordAccess(dayWorker, local('2025-01-29T07:10'))]);

    assert.equal(detections.length, 1);
    assert.match(detections[0]?.explanation.summary ?? '', /u-1042 has never worked at that hour on weekdays in 27 days of history \(share \d+\.\d% with the hours before and after it\)/);
  });

  it('judges the hour after a spree without it', async () => {
    const stage = await loadShipped(FILE);
    const lateness = 300_000;
    // A short history, one record an hour, so six records at 02:00 would be a share of over 1% of
    // the hours around it if they were learned.
    feed(stage, shiftEvents(dayWorker, '2025-01-01', 15, DAY_SHIFT, 1), lateness);

    // The 03:00 records arrive in the first minutes of the hour, before the watermark passes
    // 03:00 and raises the 02:00 detection.
    const first = snooping(dayWorker, local('2025-01-16T02:00'), 6);
    const second = snooping(dayWorker, local('2025-01-16T03:00'), 5).map((event, index) => {
      event.holter!.patient = { token: `pt_next${index}` };
      return event;
    });
    const detections = [...feed(stage, [...first, ...second], lateness), ...stage.flush(Number.POSITIVE_INFINITY)];

    assert.deepEqual(
      detections.map((detection) => [detection.window.start, detection.explanation.actual]),
      [
        ['2025-01-16T07:00:00.000Z', 6],
        ['2025-01-16T08:00:00.000Z', 5],
      ],
      'the 02:00 spree does not make 03:00 usual',
    );
  });

  it('counts every record of a long burst', async () => {
    const stage = await loadShipped(FILE);
    feed(stage, shiftEvents(dayWorker, '2025-01-01', 28, DAY_SHIFT));
    const burst = snooping(dayWorker, local('2025-01-29T02:00'), 63).map((event, index) => {
      event['@timestamp'] = new Date(local('2025-01-29T02:00') + index * 50_000).toISOString();
      return event;
    });
    feed(stage, burst);
    const detections = stage.flush(Number.POSITIVE_INFINITY);
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.actual, 63);
    assert.equal(detections[0]?.evidence.length, 50);
    assert.match(detections[0]?.explanation.summary ?? '', /^u-1042 opened 63 distinct patient records between 02:00 and 03:00/);
  });

  it('stays quiet for a night worker', async () => {
    const stage = await loadShipped(FILE);
    const nurse = { id: 'u-2002', role: 'nurse', department: 'ccu', zone: ZONE };
    feed(stage, shiftEvents(nurse, '2025-01-01', 28, NIGHT_SHIFT));
    const detections = feed(stage, [...snooping(nurse, local('2025-01-29T02:00'), 10), recordAccess(nurse, local('2025-01-29T05:00'))]);
    assert.deepEqual(detections, []);
    assert.deepEqual(stage.flush(Number.POSITIVE_INFINITY), []);
    assert.ok((stage.stats()['after-hours-record-access.events_judged'] ?? 0) > 0);
  });

  it('window keeps its judged share', async () => {
    // Each judged event's share is written to one reused object, so a window must keep a copy.
    // Otherwise the night worker's usual event later in the hour would change the day worker's detection.
    const stage = await loadShipped(FILE);
    const nurse = { id: 'u-2003', role: 'nurse', department: 'icu', zone: ZONE };
    feed(stage, byTime([...shiftEvents(dayWorker, '2025-01-01', 28, DAY_SHIFT), ...shiftEvents(nurse, '2025-01-01', 28, NIGHT_SHIFT)]));
    const counter = (name: string): number => stage.stats()[`after-hours-record-access.${name}`] ?? 0;
    const judgedBefore = counter('events_judged');
    const unusualBefore = counter('events_unusual');
    const hourStart = local('2025-01-30T02:00');
    feed(stage, [...snooping(dayWorker, hourStart, 6), recordAccess(nurse, hourStart + 30 * 60_000)]);
    const detections = stage.flush(Number.POSITIVE_INFINITY);

    assert.equal(counter('events_judged') - judgedBefore, 7, 'the spree and the night worker are judged');
    assert.equal(counter('events_unusual') - unusualBefore, 6, 'only the spree is unusual');
    assert.equal(detections.length, 1);
    const details = detections[0]?.explanation.details;
    assert.equal(details?.share_percent, 0);
    assert.equal(details?.day_type, 'weekdays');
    assert.match(detections[0]?.explanation.summary ?? '', /u-1042 has never worked at that hour on weekdays/);
  });

  it('empty result is frozen', async () => {
    // The empty result is shared by every call, so a caller must not be able to add to it.
    const stage = await loadShipped(FILE);
    const detections = stage.process(recordAccess(dayWorker, local('2025-01-02T09:00')), local('2025-01-02T09:00'));
    assert.deepEqual(detections, []);
    assert.ok(Object.isFrozen(detections));
  });

  it('needs five distinct records, not four', async () => {
    for (const [distinct, expected] of [[4, 0], [5, 1]] as const) {
      const stage = await loadShipped(FILE);
      feed(stage, shiftEvents(dayWorker, '2025-01-01', 28, DAY_SHIFT));
      feed(stage, snooping(dayWorker, local('2025-01-29T02:00'), 12, distinct));
      assert.equal(stage.flush(Number.POSITIVE_INFINITY).length, expected, `${distinct} distinct records`);
    }
  });

  it('does not judge while learning', async () => {
    const stage = await loadShipped(FILE);
    const newcomer = { id: 'u-5000', zone: ZONE };
    feed(stage, shiftEvents(newcomer, '2025-01-26', 3, DAY_SHIFT));
    feed(stage, snooping(newcomer, local('2025-01-29T02:00'), 20));
    assert.deepEqual(stage.flush(Number.POSITIVE_INFINITY), []);
    assert.equal(stage.stats()['after-hours-record-access.events_judged'], 0);
    assert.equal(stage.stats()['after-hours-record-access.events_learning'], 3 * 24 + 20);
  });

  it('judges a newcomer by the peer group', async () => {
    const stage = await loadShipped(FILE);
    const newcomer = { id: 'u-5001', role: 'billing-clerk', department: 'billing', zone: ZONE };
    feed(stage, byTime([...shiftEvents(dayWorker, '2025-01-01', 28, DAY_SHIFT), ...shiftEvents(newcomer, '2025-01-27', 2, DAY_SHIFT)]));
    feed(stage, snooping(newcomer, local('2025-01-29T02:00'), 6));
    const detections = stage.flush(Number.POSITIVE_INFINITY);

    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.details?.basis, 'peer_group');
    assert.equal(detections[0]?.explanation.details?.peer_group, 'billing-clerk in billing');
    assert.match(
      detections[0]?.explanation.summary ?? '',
      /u-5001 has too little history to judge by \(1 days, 48 events\), so the hour was judged against billing-clerk in billing/,
    );
  });

  it('uses the default zone without a user zone', async () => {
    const stage = await loadShipped(FILE);
    const noZone = { id: 'u-7' };
    feed(stage, shiftEvents({ ...noZone, zone: ZONE }, '2025-01-01', 28, DAY_SHIFT).map((event) => {
      delete event.holter.user?.time_zone;
      return event;
    }));
    feed(stage, snooping(noZone, local('2025-01-29T02:00'), 5));
    const detections = stage.flush(Number.POSITIVE_INFINITY);
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.details?.time_zone, ZONE);
  });

  for (const [name, firstDay, days] of [
    ['autumn change', '2025-10-01', 50],
    ['spring change', '2025-02-01', 45],
  ] as const) {
    it(`stays quiet for regular shifts across the ${name}`, async () => {
      const stage = await loadShipped(FILE);
      const day = { id: 'u-day', role: 'nurse', department: 'ccu', zone: ZONE };
      const night = { id: 'u-night', role: 'nurse', department: 'ccu', zone: ZONE };
      const events = byTime([...shiftEvents(day, firstDay, days, DAY_SHIFT, 6), ...shiftEvents(night, firstDay, days, NIGHT_SHIFT, 6)]);
      assert.deepEqual(feed(stage, events), []);
      assert.deepEqual(stage.flush(Number.POSITIVE_INFINITY), []);
      assert.ok((stage.stats()['after-hours-record-access.events_judged'] ?? 0) > 1000);
    });
  }

  it('stops alerting after a shift change fades in', async () => {
    const fading = await loadShipped(FILE);
    // Without decay the share stays low, so the active-date rule is switched off to isolate the share.
    const lasting = variant({ 'half_life_days: 21': 'half_life_days: 3650', 'min_active_days: 1.25': '' });
    const mover = { id: 'u-3100', zone: ZONE };
    const history = [...shiftEvents(mover, '2024-01-01', 366, DAY_SHIFT), ...shiftEvents(mover, '2025-01-01', 28, NIGHT_SHIFT)];
    const earlyProbe = snooping(mover, local('2025-01-02T02:00'), 5);
    const lateProbe = snooping(mover, local('2025-01-29T02:00'), 5);
    const timeline = byTime([...history, ...earlyProbe, ...lateProbe]);

    const fadingWindows = feed(fading, timeline).concat(fading.flush(Number.POSITIVE_INFINITY)).map((detection) => detection.window.start);
    const lastingWindows = feed(lasting, timeline).concat(lasting.flush(Number.POSITIVE_INFINITY)).map((detection) => detection.window.start);

    const early = new Date(local('2025-01-02T02:00')).toISOString();
    const late = new Date(local('2025-01-29T02:00')).toISOString();
    assert.ok(fadingWindows.includes(early), 'new night hours are unusual at first');
    assert.ok(!fadingWindows.includes(late), 'three weeks later the night hours are usual');
    assert.ok(lastingWindows.includes(late), 'without decay the year of day shifts still dominates');
  });

  describe('rotating resident', () => {
    const resident = { id: 'u-1244', role: 'resident', department: 'cardiology-ward', zone: ZONE };
    const NIGHT = { startHour: 22, hours: 6 };

    /**
     * Three weeks from Monday 2025-01-06: day shifts of three records an hour on weekdays, and a
     * night 22:00-04:00 of one record an hour on each date of `nights`, with the next date off.
     */
    function rota(nights: string[]): ReturnType<typeof shiftEvents> {
      const events: ReturnType<typeof shiftEvents> = [];
      const offDays = new Set(nights.map((night) => DateTime.fromISO(night).plus({ days: 1 }).toISODate()));
      for (let day = 0; day < 21; day += 1) {
        const date = DateTime.fromISO('2025-01-06').plus({ days: day });
        const iso = date.toISODate() as string;
        if (nights.includes(iso)) events.push(...shiftEvents(resident, iso, 1, NIGHT, 1));
        else if (date.weekday <= 5 && !offDays.has(iso)) events.push(...shiftEvents(resident, iso, 1, DAY_SHIFT, 3));
      }
      return byTime(events);
    }

    /** Tonight (Monday 2025-01-27) from 22:00 with one record an hour, then six records at 02:00. */
    function tonight(fromHour = '2025-01-27T22:00'): ReturnType<typeof shiftEvents> {
      const events = [];
      for (let ms = local(fromHour); ms < local('2025-01-28T02:00'); ms += 3_600_000) events.push(recordAccess(resident, ms + 600_000));
      return [...events, ...snooping(resident, local('2025-01-28T02:00'), 6)];
    }

    it('stays quiet after three nights', async () => {
      const history = rota(['2025-01-06', '2025-01-14', '2025-01-22']);
      const stage = await loadShipped(FILE);
      assert.deepEqual(feed(stage, [...history, ...tonight()]), []);
      assert.deepEqual(stage.flush(Number.POSITIVE_INFINITY), []);
      assert.ok((stage.stats()['after-hours-record-access.events_usual_by_active_days'] ?? 0) >= 6);

      // Judged by share alone, the same hour is unusual: the active dates are what keep it quiet.
      const shareOnly = variant({ 'min_active_days: 1.25': '' });
      feed(shareOnly, [...history, ...tonight()]);
      const detections = shareOnly.flush(Number.POSITIVE_INFINITY);
      assert.equal(detections.length, 1);
      assert.equal(detections[0]?.explanation.details?.local_hour, '02:00-03:00');
      assert.ok((detections[0]?.explanation.details?.share_percent as number) < 1);
    });

    it('alerts after a single night', async () => {
      const stage = await loadShipped(FILE);
      feed(stage, [...rota(['2025-01-22']), ...snooping(resident, local('2025-01-28T02:00'), 6)]);
      const detections = stage.flush(Number.POSITIVE_INFINITY);

      assert.equal(detections.length, 1);
      const details = detections[0]?.explanation.details;
      assert.equal(details?.basis, 'own');
      // One night five days earlier, decayed with a half-life of 21 days.
      assert.ok((details?.active_days as number) > 0.5, String(details?.active_days));
      assert.ok((details?.active_days as number) < 1, String(details?.active_days));
      assert.equal(details?.min_active_days, 1.25);
      assert.match(
        detections[0]?.explanation.summary ?? '',
        /u-1244 rarely works at that hour on weekdays: share 0\.\d% in \d+ days of history, active at or next to that hour on 0\.\d earlier days \(decayed; 1\.25 needed\)/,
      );
    });

    it('does not count tonight itself', async () => {
      // One earlier night plus tonight's hours before 02:00 would make two dates if tonight counted.
      const stage = await loadShipped(FILE);
      feed(stage, [...rota(['2025-01-22']), ...tonight('2025-01-28T00:00')]);
      assert.equal(stage.flush(Number.POSITIVE_INFINITY).length, 1);
    });

    it('alerts a day worker at night', async () => {
      // Three weeks of day shifts only: 02:00 was never worked on any date.
      const stage = await loadShipped(FILE);
      feed(stage, [...rota([]), ...snooping(resident, local('2025-01-28T02:00'), 6)]);
      const detections = stage.flush(Number.POSITIVE_INFINITY);
      assert.equal(detections.length, 1);
      assert.equal(detections[0]?.explanation.details?.active_days, 0);
    });
  });

  it('counts a late event without judging it', async () => {
    const stage = await loadShipped(FILE);
    feed(stage, shiftEvents(dayWorker, '2025-01-01', 28, DAY_SHIFT));
    const watermark = local('2025-01-29T09:00');
    for (const event of snooping(dayWorker, local('2025-01-29T02:00'), 6)) assert.deepEqual(stage.process(event, watermark), []);
    assert.equal(stage.stats()['after-hours-record-access.events_late'], 6);
    assert.deepEqual(stage.flush(Number.POSITIVE_INFINITY), []);
  });
});

describe('time_of_week', () => {
  /** Monday to Friday, 09:00 to 17:00, for four weeks from Monday 2025-01-06. */
  function weekdayWork(): ReturnType<typeof shiftEvents> {
    return shiftEvents(dayWorker, '2025-01-06', 28, { startHour: 9, hours: 8 }).filter(
      (event) => DateTime.fromISO(event['@timestamp']).setZone(ZONE).weekday <= 5,
    );
  }

  const saturdayMorning = (): ReturnType<typeof snooping> => snooping(dayWorker, local('2025-02-08T10:00'), 6);

  it('raises on a weekday worker on Saturday', () => {
    const stage = variant({ 'function: time_of_day': 'function: time_of_week', 'min_share: 0.01': 'min_share: 0.002', '  min_active_days: 1.25\n': '' });
    feed(stage, weekdayWork());
    const detections = feed(stage, saturdayMorning()).concat(stage.flush(Number.POSITIVE_INFINITY));

    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.details?.day_type, 'Saturdays');
    assert.match(detections[0]?.explanation.summary ?? '', /u-1042 has never worked at that hour on Saturdays in \d+ days of history/);
  });

  it('time_of_day pools the thin weekend', () => {
    const stage = variant({});
    feed(stage, weekdayWork());
    assert.deepEqual(feed(stage, saturdayMorning()).concat(stage.flush(Number.POSITIVE_INFINITY)), []);
  });

  it('rejects min_active_days', () => {
    const text = readFileSync(path.join(DETECTORS_DIR, FILE), 'utf8').replace('function: time_of_day', 'function: time_of_week');
    const { errors } = parseDetector(text, FILE, { defaultTimeZone: ZONE });
    assert.match(errors.map((error) => error.message).join('\n'), /'thresholds\.min_active_days' has no effect for time_of_week/);
  });
});
