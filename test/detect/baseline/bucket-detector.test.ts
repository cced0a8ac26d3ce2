import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BaselineStage, parseDetector } from '../../../src/detect/baseline/index.js';
import type { BaselineSnapshot } from '../../../src/detect/baseline/index.js';
import { ZONE } from './events.js';
import { DAY, HOUR, MINUTE, START, detectorOf, eventAt, run, stageOf, workdays } from './helpers.js';

/** Returns a high_distinct_count of patient records per user and hour, with `extra` lines appended. */
function recordVolume(extra = ''): string {
  return `id: record-volume
name: Record volume
function: high_distinct_count
by: holter.user.id
field: holter.patient.token
over: [holter.user.role, holter.user.department]
bucket_span: 1h
unit: distinct patient records
influencers: [source.ip]
learning:
  min_days: 5
  min_events: 50
  half_life_days: 14
thresholds:
  min_score: 60
  min_actual: 20
severity: medium
risk_score: 40
${extra}`;
}

const clerk = { 'holter.user.role': 'billing-clerk', 'holter.user.department': 'billing', 'source.ip': '10.31.0.7' };

/** Three record reads an hour on working days, by `user`. */
function usualWork(user: string, days: number, firstDay = 0): ReturnType<typeof workdays> {
  return workdays(days, 3, (day, hour, index) => ({ ...clerk, 'holter.user.id': user, 'holter.patient.token': `p-${user}-${day}-${hour}-${index}` }), firstDay);
}

/** `count` reads of distinct records by `user` in the hour from `ms`, from the VPN address. */
function burst(user: string, ms: number, count: number, distinct = count): ReturnType<typeof workdays> {
  return Array.from({ length: count }, (_, index) =>
    eventAt(ms + index * MINUTE, { ...clerk, 'source.ip': '10.99.4.17', 'holter.user.id': user, 'holter.patient.token': `snoop-${index % distinct}` }),
  );
}

describe('high_distinct_count', () => {
  it('raises on a burst above history', () => {
    const stage = stageOf(recordVolume());
    const burstStart = START + 14 * DAY + 11 * HOUR;
    const detections = run(stage, [...usualWork('u-1', 14), ...burst('u-1', burstStart, 40)]);

    assert.equal(detections.length, 1);
    const [detection] = detections;
    assert.deepEqual(detection?.groupKey, { 'holter.user.id': 'u-1' });
    assert.deepEqual(detection?.window, { start: new Date(burstStart).toISOString(), end: new Date(burstStart + HOUR).toISOString() });
    assert.equal(detection?.explanation.actual, 40);
    assert.equal(detection?.explanation.details?.basis, 'own');
    assert.ok((detection?.explanation.details?.score as number) >= 60);
    assert.ok((detection?.explanation.details?.probability as number) < 1e-6);
    // Judged against the three records of Mondays 11:00 UTC (06:00 in New York), not the weekly average of about 0.7.
    assert.ok((detection?.explanation.typical as number) > 2);
    assert.ok((detection?.explanation.typical as number) < 4);
    assert.equal(detection?.explanation.details?.seasonal_slot, 'Mondays 06:00-07:00');
    assert.deepEqual((detection?.explanation.details?.influencers as unknown[])[0], { field: 'source.ip', value: '10.99.4.17', events: 40 });
    assert.match(detection?.explanation.summary ?? '', /^u-1 had 40 distinct patient records in the hour from .*, against a usual \d+(\.\d)? per hour on Mondays 06:00-07:00 \(America\/New_York\) for u-1 \(score \d+/);
    assert.equal(detection?.evidence.length, 40);
  });

  it('names distinct values of the field when unit is not set', () => {
    const stage = stageOf(recordVolume().replace('unit: distinct patient records\n', ''));
    const detections = run(stage, [...usualWork('u-1', 14), ...burst('u-1', START + 14 * DAY + 11 * HOUR, 40)]);

    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.unit, 'distinct holter.patient.token values');
    assert.match(detections[0]?.explanation.summary ?? '', /^u-1 had 40 distinct holter\.patient\.token values in the hour from /);
  });

  it('counts distinct values, not events', () => {
    const stage = stageOf(recordVolume());
    const detections = run(stage, [...usualWork('u-1', 14), ...burst('u-1', START + 14 * DAY + 11 * HOUR, 40, 4)]);
    assert.deepEqual(detections, []);
  });

  it('stays quiet on usual work', () => {
    const stage = stageOf(recordVolume());
    assert.deepEqual(run(stage, usualWork('u-1', 20)), []);
    assert.ok(stage.stats()['record-volume.buckets_judged'] as number > 100);
  });

  it('judges a newcomer by the peer group', () => {
    const stage = stageOf(recordVolume());
    const peers = ['u-2', 'u-3', 'u-4'].flatMap((user) => usualWork(user, 14));
    const burstStart = START + 13 * DAY + 11 * HOUR;
    const newcomer = [...usualWork('u-new', 1, 12), ...burst('u-new', burstStart, 40)];
    const detections = run(stage, [...peers, ...newcomer]);

    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.details?.basis, 'peer_group');
    assert.equal(detections[0]?.explanation.details?.peer_group, 'billing-clerk in billing');
    assert.match(detections[0]?.explanation.summary ?? '', /u-new is still learning \(0 days, 24 events of history\), so it was judged against its peer group billing-clerk in billing, whose members average \d+\.\d per hour/);
  });

  it('leaves a newcomer without peers unjudged', () => {
    const stage = stageOf(recordVolume());
    const detections = run(stage, [...usualWork('u-new', 1), ...burst('u-new', START + 1 * DAY + 11 * HOUR, 40)]);
    assert.deepEqual(detections, []);
    assert.ok((stage.stats()['record-volume.buckets_learning'] as number) > 0);
  });

  it('skips an excluded period', () => {
    const burstStart = START + 14 * DAY + 11 * HOUR;
    const excluded = `exclude:\n  - start: '${new Date(burstStart - HOUR).toISOString()}'\n    end: '${new Date(burstStart + HOUR).toISOString()}'\n    reason: migration\n`;
    const stage = stageOf(recordVolume(excluded));
    assert.deepEqual(run(stage, [...usualWork('u-1', 14), ...burst('u-1', burstStart, 40)]), []);
    // The burst's bucket; the empty hour before it is left out of the learned zeros.
    assert.equal(stage.stats()['record-volume.buckets_excluded'], 1);
  });

  it('counts a late event', () => {
    const stage = stageOf(recordVolume());
    const events = usualWork('u-1', 2);
    run(stage, events, false);
    stage.process(eventAt(START + 9 * HOUR, { ...clerk, 'holter.user.id': 'u-1', 'holter.patient.token': 'late' }), START + 2 * DAY);
    assert.equal(stage.stats()['record-volume.events_late'], 1);
  });

  it('restores to the same detections', () => {
    const original = stageOf(recordVolume());
    run(original, usualWork('u-1', 14), false);
    const burstStart = START + 14 * DAY + 11 * HOUR;
    const first = burst('u-1', burstStart, 40);
    run(original, first.slice(0, 10), false);

    const restored = stageOf(recordVolume());
    restored.restore(JSON.parse(JSON.stringify(original.snapshot())) as BaselineSnapshot);
    const fromOriginal = run(original, first.slice(10));
    const fromRestored = run(restored, first.slice(10));

    assert.equal(fromOriginal.length, 1);
    assert.deepEqual(fromRestored.map((detection) => [detection.explanation, detection.evidence]), fromOriginal.map((detection) => [detection.explanation, detection.evidence]));
  });

  it('restores influencer counts mid-bucket', () => {
    const original = stageOf(recordVolume());
    run(original, usualWork('u-1', 14), false);
    const burstStart = START + 14 * DAY + 11 * HOUR;
    // Every third event comes from the office address, the rest from the VPN address.
    const mixed = burst('u-1', burstStart, 42).map((event, index) => (index % 3 === 0 ? { ...event, source: { ip: '10.31.0.7' } } : event));
    run(original, mixed.slice(0, 11), false);

    const restored = stageOf(recordVolume());
    restored.restore(JSON.parse(JSON.stringify(original.snapshot())) as BaselineSnapshot);
    const [detection] = run(restored, mixed.slice(11));

    assert.deepEqual(detection?.explanation.details?.influencers, [
      { field: 'source.ip', value: '10.99.4.17', events: 28 },
      { field: 'source.ip', value: '10.31.0.7', events: 14 },
    ]);
  });

  it('evicts past max_entities', () => {
    const stage = stageOf(recordVolume('max_entities: 2\n'));
    run(stage, ['u-1', 'u-2', 'u-3'].flatMap((user) => usualWork(user, 1)));
    assert.equal(stage.stats()['record-volume.entities'], 2);
    assert.ok((stage.stats()['record-volume.entities_evicted'] as number) >= 1);
  });
});

describe('count partitions', () => {
  it('keeps one series per partition value', () => {
    const text = recordVolume('partition_field: event.action\n').replace('function: high_distinct_count', 'function: high_count').replace('field: holter.patient.token\n', '').replace('unit: distinct patient records', 'unit: events');
    const stage = stageOf(text);
    // Every third read of usual work is an export.
    const work = usualWork('u-1', 14).map((event, index) => (index % 3 === 0 ? { ...event, event: { ...event.event, action: 'export' } } : event));
    const exports = burst('u-1', START + 14 * DAY + 11 * HOUR, 40).map((event) => ({ ...event, event: { ...event.event, action: 'export' } }));
    const detections = run(stage, [...work, ...exports]);

    assert.equal(detections.length, 1);
    assert.deepEqual(detections[0]?.groupKey, { 'holter.user.id': 'u-1', 'event.action': 'export' });
    assert.equal(detections[0]?.explanation.details?.partition, 'export');
    assert.match(detections[0]?.explanation.summary ?? '', /^u-1 \(event\.action export\) had 40 events/);
    const profile = stage.describe('u-1')['record-volume'] as { series: Array<{ partition: string }> };
    assert.deepEqual(profile.series.map((series) => series.partition).sort(), ['export', 'read']);
  });
});

describe('sum and low functions', () => {
  const bytes = `id: bytes
name: Bytes
function: FUNCTION
by: holter.user.id
field: holter.dicom.bytes
bucket_span: 1h
unit: bytes
learning:
  min_days: 3
  min_events: 20
  half_life_days: 7
thresholds:
  min_score: 50
  min_typical: 1000
severity: low
risk_score: 10
`;

  it('names the summed field when unit is not set', () => {
    const stage = stageOf(bytes.replace('FUNCTION', 'sum').replace('unit: bytes\n', ''));
    const work = workdays(6, 2, () => ({ 'holter.user.id': 'u-1', 'holter.dicom.bytes': 5_000 }));
    const pull = eventAt(START + 6 * DAY + 10 * HOUR, { 'holter.user.id': 'u-1', 'holter.dicom.bytes': 5_000_000 });
    const detections = run(stage, [...work, pull]);

    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.unit, 'holter.dicom.bytes');
    assert.match(detections[0]?.explanation.summary ?? '', /^u-1 had 5000000 holter\.dicom\.bytes in the hour from /);
  });

  it('sum raises on a large total', () => {
    const stage = stageOf(bytes.replace('FUNCTION', 'sum'));
    const work = workdays(6, 2, () => ({ 'holter.user.id': 'u-1', 'holter.dicom.bytes': 5_000 }));
    const pull = eventAt(START + 6 * DAY + 10 * HOUR, { 'holter.user.id': 'u-1', 'holter.dicom.bytes': 5_000_000 });
    const detections = run(stage, [...work, pull]);

    assert.deepEqual(detections.map((detection) => [detection.explanation.actual, detection.explanation.details?.side]), [[5_000_000, 'high']]);
  });

  it('counts a value that is not a number', () => {
    const stage = stageOf(bytes.replace('FUNCTION', 'sum'));
    run(stage, [eventAt(START, { 'holter.user.id': 'u-1', 'holter.dicom.bytes': 'many' })]);
    assert.equal(stage.stats()['bytes.events_invalid_value'], 1);
  });

  it('low_count raises once on silence', () => {
    const text = `id: quiet
name: Quiet
function: low_count
by: observer.name
bucket_span: 1h
learning:
  min_days: 2
  min_events: 100
  half_life_days: 7
thresholds:
  min_score: 60
  min_typical: 10
severity: medium
risk_score: 40
`;
    const stage = stageOf(text);
    const steady: ReturnType<typeof workdays> = [];
    for (let hour = 0; hour < 72; hour += 1) {
      for (let index = 0; index < 30; index += 1) steady.push(eventAt(START + hour * HOUR + index * 2 * MINUTE, { 'observer.name': 'ehr' }));
    }
    const detections = run(stage, steady, false);
    assert.deepEqual(detections, []);

    // Five silent hours, then the source is back.
    const back = Array.from({ length: 30 }, (_, index) => eventAt(START + 77 * HOUR + index * 2 * MINUTE, { 'observer.name': 'ehr' }));
    const found = run(stage, back);
    assert.equal(found.length, 1);
    assert.equal(found[0]?.explanation.actual, 0);
    assert.equal(found[0]?.trigger.observer?.name, 'ehr');
    assert.equal(found[0]?.window.start, new Date(START + 72 * HOUR).toISOString());
    assert.match(found[0]?.explanation.summary ?? '', /^ehr had no events in the hour from /);
  });
});

describe('count loader checks', () => {
  const base = recordVolume();

  function errorsOf(text: string): string[] {
    return parseDetector(text, 'test.yaml', { defaultTimeZone: ZONE }).errors.map((error) => error.describe());
  }

  it('requires field for distinct counts', () => {
    assert.match(errorsOf(base.replace('field: holter.patient.token\n', '')).join('\n'), /missing required key 'field': high_distinct_count reads the field it counts distinct values of/);
  });

  it('rejects field for plain counts', () => {
    assert.match(errorsOf(base.replace('function: high_distinct_count', 'function: high_count')).join('\n'), /test\.yaml:5:1: key 'field' has no effect for high_count/);
  });

  it('rejects an invalid exclude date', () => {
    const errors = errorsOf(recordVolume("exclude:\n  - start: '2026-13-40'\n    end: '2027-01-01'\n"));
    assert.match(errors.join('\n'), /test\.yaml:20:12: exclude start '2026-13-40' is not an ISO 8601 date/);
  });

  it('rejects an exclude end before its start', () => {
    const errors = errorsOf(recordVolume("exclude:\n  - start: '2026-12-27'\n    end: '2026-12-24'\n"));
    assert.match(errors.join('\n'), /exclude end '2026-12-24' must be after its start '2026-12-24'|exclude end '2026-12-24' must be after its start '2026-12-27'/);
  });

  it('rejects a min_score above 100', () => {
    assert.match(errorsOf(base.replace('min_score: 60', 'min_score: 120')).join('\n'), /thresholds\.min_score must be <= 100, got 120/);
  });

  it('loads every bucket function', () => {
    for (const fn of ['count', 'high_count', 'low_count']) {
      assert.ok(detectorOf(base.replace('function: high_distinct_count', `function: ${fn}`).replace('field: holter.patient.token\n', '')));
    }
    for (const fn of ['distinct_count', 'high_distinct_count', 'sum', 'low_sum']) {
      assert.ok(detectorOf(base.replace('function: high_distinct_count', `function: ${fn}`)));
    }
  });
});

describe('BaselineStage with bucket detectors', () => {
  it('runs beside other detectors', () => {
    const stage = new BaselineStage([detectorOf(recordVolume())]);
    assert.deepEqual(stage.detectorIds, ['record-volume']);
  });
});
