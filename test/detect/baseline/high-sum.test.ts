import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HolterEvent } from '../../../src/event.js';
import type { Detection } from '../../../src/detect/types.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BaselineStage, parseDetector } from '../../../src/detect/baseline/index.js';
import type { BaselineSnapshot } from '../../../src/detect/baseline/stage.js';
import { DETECTORS_DIR, ZONE, feed, imagePull, loadShipped } from './events.js';

const FILE = 'mass-image-pull.yaml';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const START = Date.parse('2025-01-01T00:00:00Z');

/** `pulls` retrievals of `studies` each, `gapMinutes` apart, from `ms`. */
function burst(userId: string, ms: number, pulls: number, studies: number, gapMinutes = 2): HolterEvent[] {
  return Array.from({ length: pulls }, (_, index) => imagePull(userId, ms + index * gapMinutes * MINUTE, studies));
}

/**
 * Ordinary days from START: one retrieval of 3 studies in each hour from 09:00 to 16:00 UTC, and
 * at 09:00 a busy hour of `busyHour` studies (six retrievals) on the days `isBusy` picks.
 */
function history(userId: string, days: number, busyHour: number, isBusy: (day: number) => boolean = () => true): HolterEvent[] {
  const events: HolterEvent[] = [];
  for (let day = 0; day < days; day += 1) {
    const dayStart = START + day * DAY;
    if (isBusy(day)) events.push(...burst(userId, dayStart + 9 * HOUR, 6, busyHour / 6, 8));
    for (let hour = 11; hour <= 16; hour += 1) events.push(imagePull(userId, dayStart + hour * HOUR, 3));
  }
  return events;
}

/** Loads the shipped detector with a low floor, so that only the user's own history sets the threshold. */
function lowFloorStage(): BaselineStage {
  const text = readFileSync(path.join(DETECTORS_DIR, FILE), 'utf8').replace('floor: 50', 'floor: 10');
  const { detector, errors } = parseDetector(text, FILE, { defaultTimeZone: ZONE });
  assert.deepEqual(errors, []);
  return new BaselineStage([detector as NonNullable<typeof detector>]);
}

function endAll(detections: Detection[], stage: Awaited<ReturnType<typeof loadShipped>>): Detection[] {
  return detections.concat(stage.flush(Number.POSITIVE_INFINITY));
}

describe('mass image pull', () => {
  it('ignores a heavy day within habit', async () => {
    const stage = await loadShipped(FILE);
    const cardiologist = 'u-cardio';
    const learned = feed(stage, history(cardiologist, 28, 40, (day) => day % 7 === 0));
    assert.deepEqual(learned, []);

    const heavyDay = START + 28 * DAY + 9 * HOUR;
    assert.deepEqual(endAll(feed(stage, burst(cardiologist, heavyDay, 9, 5, 6)), stage), [], '45 studies on a heavy day');
  });

  it('judges a heavy day by the busiest hours', () => {
    const cardiologist = lowFloorStage();
    feed(cardiologist, history('u-cardio', 28, 40, (day) => day % 7 === 0));
    const heavyDay = START + 28 * DAY + 9 * HOUR;
    assert.deepEqual(endAll(feed(cardiologist, burst('u-cardio', heavyDay, 9, 5, 6)), cardiologist), []);

    const clerk = lowFloorStage();
    feed(clerk, history('u-light', 28, 40, () => false));
    const detections = endAll(feed(clerk, burst('u-light', heavyDay, 9, 5, 6)), clerk);
    assert.equal(detections.length, 1, 'the same 45 studies from someone who never has heavy days');
    assert.equal(detections[0]?.explanation.details?.threshold_source, 'floor');
    assert.equal(detections[0]?.explanation.threshold, 10);
  });

  it('alerts above own history', async () => {
    // Separate stages: a quiet hour is learned, so it would raise the typical value for the next probe.
    const quietStage = await loadShipped(FILE);
    feed(quietStage, history('u-60', 14, 60));
    const quiet = endAll(feed(quietStage, burst('u-60', START + 15 * DAY + 9 * HOUR, 8, 10, 6)), quietStage);
    assert.deepEqual(quiet, [], '80 studies is below 1.5 times the usual 60');

    const stage = await loadShipped(FILE);
    feed(stage, history('u-60', 14, 60));
    const loud = endAll(feed(stage, burst('u-60', START + 15 * DAY + 9 * HOUR, 10, 10, 5)), stage);
    assert.equal(loud.length, 1);
    const explanation = loud[0]?.explanation;
    assert.equal(explanation?.details?.threshold_source, 'history');
    assert.equal(explanation?.unit, 'studies');
    const typical = explanation?.typical ?? 0;
    const threshold = explanation?.threshold ?? 0;
    assert.ok(typical > 55, `typical ${typical}`);
    assert.ok(typical <= 60, `typical ${typical}`);
    assert.ok(threshold > 80, `threshold ${threshold}`);
    assert.ok(threshold <= 90, `threshold ${threshold}`);
    assert.ok((explanation?.actual ?? 0) >= (explanation?.threshold ?? Infinity));
    assert.match(explanation?.summary ?? '', /^u-60 retrieved \d+ studies within 1 h starting 2025-01-16T09:00:00\.000Z; typical for u-60 is at most [\d.]+ studies in 1 h; threshold [\d.]+ studies \(1\.5 x typical\)$/);
    assert.equal(explanation?.details?.window_minutes, 60);
  });

  it('alerts at the ceiling without history', async () => {
    const stage = await loadShipped(FILE);
    const pulls = burst('u-new', START, 10, 20, 3);
    const detections = endAll(feed(stage, pulls), stage);

    assert.equal(detections.length, 1);
    const [detection] = detections;
    assert.equal(detection?.explanation.actual, 200);
    assert.equal(detection?.explanation.threshold, 200);
    assert.equal(detection?.explanation.typical, undefined);
    assert.equal(detection?.explanation.details?.threshold_source, 'ceiling');
    assert.match(detection?.explanation.summary ?? '', /too little history for a typical value, so only the ceiling applies; threshold 200 studies \(fixed ceiling\)/);
    assert.deepEqual(detection?.groupKey, { 'holter.user.id': 'u-new' });
    assert.deepEqual(detection?.evidence, pulls.map((event) => event.event.id));
    assert.equal(detection?.trigger, pulls[9]);
    assert.equal(detection?.rule.id, 'mass-image-pull');
    assert.equal(detection?.severity, 'high');
    assert.equal(detection?.riskScore, 70);
  });

  it('alerts at the ceiling despite high history', async () => {
    const stage = await loadShipped(FILE);
    feed(stage, history('u-busy', 14, 150));
    const detections = endAll(feed(stage, burst('u-busy', START + 14 * DAY + 9 * HOUR, 10, 20, 3)), stage);
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.details?.threshold_source, 'ceiling');
    assert.equal(detections[0]?.explanation.threshold, 200);
  });

  it('waits for the ceiling while learning', async () => {
    const stage = await loadShipped(FILE);
    assert.deepEqual(endAll(feed(stage, burst('u-new', START, 15, 10, 3)), stage), []);
  });

  it('raises one detection per burst', async () => {
    const stage = await loadShipped(FILE);
    feed(stage, history('u-radiographer', 14, 20));
    const burstStart = START + 14 * DAY + 9 * HOUR;
    const detections = endAll(feed(stage, burst('u-radiographer', burstStart, 30, 10, 2)), stage);

    assert.equal(detections.length, 1, '300 studies in an hour');
    assert.equal(detections[0]?.window.start, new Date(burstStart).toISOString());
    assert.equal(detections[0]?.window.end, new Date(burstStart + HOUR).toISOString());
  });

  it('fires again after the window passes', async () => {
    const stage = await loadShipped(FILE);
    // The first burst reaches 200 studies with its 20th retrieval, at 00:38, so it owns every
    // retrieval before 01:38.
    const first = burst('u-new', START, 30, 10, 2);
    const second = burst('u-new', START + 2 * HOUR, 25, 10, 2);
    const detections = endAll(feed(stage, [...first, ...second]), stage);

    assert.deepEqual(
      detections.map((detection) => [detection.window.start, detection.window.end, detection.explanation.actual]),
      [
        ['2025-01-01T00:00:00.000Z', '2025-01-01T01:00:00.000Z', 200],
        ['2025-01-01T02:00:00.000Z', '2025-01-01T03:00:00.000Z', 200],
      ],
    );
  });

  it('fires once per window of pulling', async () => {
    const stage = await loadShipped(FILE);
    // 10 studies every 2 minutes for 3 hours: 200 at 00:38; then the pull owns 00:38-01:38, and
    // the retrievals from 01:38 reach 200 again at 02:16; the pull ends before 03:16.
    const detections = endAll(feed(stage, burst('u-new', START, 90, 10, 2)), stage);

    assert.deepEqual(
      detections.map((detection) => [detection.window.start, detection.explanation.actual]),
      [
        ['2025-01-01T00:00:00.000Z', 200],
        ['2025-01-01T01:38:00.000Z', 200],
      ],
    );
  });

  it('ignores routine work before a burst', async () => {
    const stage = await loadShipped(FILE);
    feed(stage, history('u-radiographer', 14, 20));
    // Routine retrievals in the hour before a 55-minute pull open the sliding window early. The
    // pull still raises one detection, though it runs past the end of that window.
    const burstStart = START + 14 * DAY + 12 * HOUR;
    const routine = [imagePull('u-radiographer', burstStart - 40 * MINUTE, 3), imagePull('u-radiographer', burstStart - 15 * MINUTE, 3)];
    const pull = burst('u-radiographer', burstStart, 56, 7, 1);
    const detections = endAll(feed(stage, [...routine, ...pull]), stage);

    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.window.start, new Date(burstStart - 40 * MINUTE).toISOString());
    assert.equal(detections[0]?.explanation.actual, 55);
    assert.equal(detections[0]?.explanation.details?.threshold_source, 'floor');
  });

  it('excludes an event at the window end', async () => {
    const stage = await loadShipped(FILE);
    const pulls = [imagePull('u-new', START, 150), imagePull('u-new', START + HOUR, 100)];
    assert.deepEqual(endAll(feed(stage, pulls), stage), []);
  });

  it('includes an event just before the window end', async () => {
    const stage = await loadShipped(FILE);
    const pulls = [imagePull('u-new', START, 150), imagePull('u-new', START + HOUR - 1, 100)];
    const detections = endAll(feed(stage, pulls), stage);
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.window.start, '2025-01-01T00:00:00.000Z');
    assert.equal(detections[0]?.window.end, '2025-01-01T01:00:00.000Z');
    assert.equal(detections[0]?.explanation.actual, 250);
  });

  it('gives the same detection out of order', async () => {
    const pulls = burst('u-new', START, 25, 10, 2);
    const shuffled = pulls.map((event, index) => ({ event, key: (index * 7) % 25 })).sort((a, b) => a.key - b.key).map(({ event }) => event);
    assert.notDeepEqual(shuffled, pulls);

    const summarise = (detections: Detection[]): unknown =>
      detections.map((detection) => [detection.window, detection.explanation.actual, [...detection.evidence].sort()]);
    const inOrder = await loadShipped(FILE);
    const outOfOrder = await loadShipped(FILE);
    const expected = summarise(endAll(feed(inOrder, pulls), inOrder));
    const actual = summarise(endAll(feed(outOfOrder, shuffled, 50 * MINUTE), outOfOrder));

    assert.equal((expected as unknown[]).length, 1);
    assert.deepEqual(actual, expected);
    assert.equal(outOfOrder.stats()['mass-image-pull.events_late'], 0);
  });

  it('counts events behind the watermark as late', async () => {
    const stage = await loadShipped(FILE);
    feed(stage, [imagePull('u-new', START + HOUR, 5)]);
    feed(stage, [imagePull('u-new', START, 5)]);
    assert.equal(stage.stats()['mass-image-pull.events_late'], 1);
  });

  it('sums instances and bytes too', async () => {
    const stage = await loadShipped(FILE);
    const pulls = [imagePull('u-new', START, 120, { instances: 9000, bytes: 4e9 }), imagePull('u-new', START + MINUTE, 80, { instances: 1000 })];
    const detections = endAll(feed(stage, pulls), stage);
    assert.deepEqual(detections[0]?.explanation.details?.sums, {
      'holter.dicom.instance_count': 10_000,
      'holter.dicom.bytes': 4e9,
    });
  });

  it('merged entries keep their sums', async () => {
    const stage = await loadShipped(FILE);
    // 10,002 retrievals of one study each within a minute, with the watermark held back, so
    // the buffer reaches its limit twice and the three oldest entries become one.
    const pulls = Array.from({ length: 10_002 }, (_, index) => imagePull('u-new', START + index * 5, 1, { instances: 7, bytes: 1000 }));
    for (const pull of pulls) assert.deepEqual(stage.process(pull, Number.NEGATIVE_INFINITY), []);
    assert.equal(stage.stats()['mass-image-pull.entries_merged'], 2);

    const detections = stage.advance(Number.POSITIVE_INFINITY);
    assert.equal(detections.length, 1);
    // The ceiling of 200 studies is reached at the 200th retrieval, and the first entry of the
    // window is the merged one.
    assert.equal(detections[0]?.explanation.actual, 200);
    assert.equal(detections[0]?.explanation.details?.events, 198);
    assert.deepEqual(detections[0]?.explanation.details?.sums, {
      'holter.dicom.instance_count': 1400,
      'holter.dicom.bytes': 200_000,
    });
  });

  it('restores entries and held sums saved as pairs', async () => {
    const stage = await loadShipped(FILE);
    const first = imagePull('u-new', START, 30, { instances: 300, bytes: 5e8 });
    const second = imagePull('u-new', START + 10 * MINUTE, 40, { instances: 400 });
    feed(stage, [first, second]);
    const saved = JSON.parse(JSON.stringify(stage.snapshot())) as { detectors: Record<string, { entities: Array<[string, Record<string, unknown>]> }> };
    const [key, entity] = saved.detectors['mass-image-pull']?.entities[0] ?? [];
    assert.equal(key, 'u-new');
    // Snapshots list each entry with its also_sum values, and each held window sum as a pair.
    assert.deepEqual(
      (entity?.entries as Array<Record<string, unknown>>).map((entry) => [entry.ms, entry.value, entry.also]),
      [
        [START, 30, [300, 5e8]],
        [START + 10 * MINUTE, 40, [400, 0]],
      ],
    );
    assert.deepEqual(entity?.heldSums, [
      [START, 30],
      [START + 10 * MINUTE, 70],
    ]);

    const restored = await loadShipped(FILE);
    restored.restore(saved as unknown as BaselineSnapshot);
    assert.deepEqual(JSON.parse(JSON.stringify(restored.snapshot())), saved);
    // 130 more studies make 200 in the hour, at the ceiling, with the restored entries' sums.
    const third = imagePull('u-new', START + 20 * MINUTE, 130, { instances: 1300, bytes: 1e8 });
    const detections = feed(restored, [third]);
    assert.equal(detections.length, 1);
    assert.deepEqual(detections[0]?.explanation.details?.sums, {
      'holter.dicom.instance_count': 2000,
      'holter.dicom.bytes': 6e8,
    });
  });

  it('detection drops held sums', async () => {
    const stage = await loadShipped(FILE);
    const before = [imagePull('u-new', START, 30), imagePull('u-new', START + MINUTE, 30)];
    assert.equal(feed(stage, [...before, imagePull('u-new', START + 2 * MINUTE, 150)]).length, 1);
    feed(stage, [imagePull('u-new', START + 2 * HOUR, 5)]);
    const saved = JSON.parse(JSON.stringify(stage.snapshot())) as { detectors: Record<string, { entities: Array<[string, Record<string, unknown>]> }> };
    const entity = saved.detectors['mass-image-pull']?.entities[0]?.[1];
    // The detection at START + 2 minutes dropped the two sums held before it, so only the later one is left.
    assert.deepEqual(entity?.heldSums, [[START + 2 * HOUR, 5]]);
  });

  it('restores a snapshot of the old layout', async () => {
    // An entity as the snapshots before the entry arrays saved it. The evaluated entry still has
    // its event, as in snapshots written before evaluated entries let their event go.
    const older = imagePull('u-old', START, 40, { instances: 400, bytes: 1e8 });
    const due = imagePull('u-old', START + 10 * MINUTE, 50, { instances: 500 });
    const savedEntity = {
      entries: [
        { ms: START, value: 40, also: [400, 1e8], id: older.event.id, evaluated: true, event: older },
        { ms: START + 10 * MINUTE, value: 50, also: [500, 0], id: due.event.id, evaluated: false, event: due },
      ],
      heldSums: [[START, 40]],
      evaluatedMs: START,
      consumedBeforeMs: null,
      typical: 0,
      typicalAtMs: null,
      firstMs: null,
      lastMs: null,
      learnedEvents: 0,
    };
    const counters = { events_matched: 2, events_late: 0, events_missing_entity: 0, events_invalid_timestamp: 0, events_invalid_value: 0, entries_merged: 0, detections: 0 };
    const stage = await loadShipped(FILE);
    const saved = JSON.parse(JSON.stringify(stage.snapshot())) as BaselineSnapshot;
    saved.detectors['mass-image-pull'] = JSON.parse(JSON.stringify({ entities: [['u-old', savedEntity]], counters })) as unknown;

    const restored = await loadShipped(FILE);
    restored.restore(saved);
    assert.deepEqual(JSON.parse(JSON.stringify(restored.snapshot())), saved, 'the snapshot after a restore');

    // 110 more studies make 200 in the hour with the restored entries, at the ceiling.
    const third = imagePull('u-old', START + 20 * MINUTE, 110, { instances: 1100 });
    const detections = feed(restored, [third]);
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.actual, 200);
    assert.deepEqual(detections[0]?.evidence, [older.event.id, due.event.id, third.event.id]);
    assert.equal(detections[0]?.trigger, third);
    assert.equal(detections[0]?.window.start, new Date(START).toISOString());
    assert.deepEqual(detections[0]?.explanation.details?.sums, {
      'holter.dicom.instance_count': 2000,
      'holter.dicom.bytes': 1e8,
    });
  });

  it('merges an older event past the cap', async () => {
    const stage = await loadShipped(FILE);
    const pulls = Array.from({ length: 10_000 }, (_, index) => imagePull('u-new', START + index * 5, 1, { instances: 7, bytes: 1000 }));
    for (const pull of pulls) stage.process(pull, Number.NEGATIVE_INFINITY);
    // The buffer is full, so the older event goes first and is merged into the entry after it.
    const older = imagePull('u-new', START - MINUTE, 3, { instances: 9 });
    stage.process(older, Number.NEGATIVE_INFINITY);
    assert.equal(stage.stats()['mass-image-pull.entries_merged'], 1);

    const saved = JSON.parse(JSON.stringify(stage.snapshot())) as { detectors: Record<string, { entities: Array<[string, { entries: Array<Record<string, unknown>> }]> }> };
    const entries = saved.detectors['mass-image-pull']?.entities[0]?.[1].entries ?? [];
    assert.equal(entries.length, 10_000);
    assert.deepEqual([entries[0]?.ms, entries[0]?.value, entries[0]?.also, entries[0]?.id], [START, 4, [16, 1000], pulls[0]?.event.id]);
    assert.equal(entries[1]?.id, pulls[1]?.event.id);

    const detections = stage.advance(Number.POSITIVE_INFINITY);
    assert.equal(detections.length, 1);
    // The merged entry counts 4 studies, so the ceiling of 200 is reached at the 197th entry.
    assert.equal(detections[0]?.explanation.actual, 200);
    assert.equal(detections[0]?.explanation.details?.events, 197);
    assert.equal(detections[0]?.trigger, pulls[196]);
    assert.deepEqual(detections[0]?.explanation.details?.sums, {
      'holter.dicom.instance_count': 16 + 196 * 7,
      'holter.dicom.bytes': 197 * 1000,
    });
  });

  it('keeps sums right over many windows', async () => {
    const stage = await loadShipped(FILE);
    // One study every 5 minutes for a day: the buffer slides over 288 entries, 12 per window.
    const steady = Array.from({ length: 288 }, (_, index) => imagePull('u-steady', START + index * 5 * MINUTE, 1, { instances: 2, bytes: 10 }));
    assert.deepEqual(feed(stage, steady), []);
    // The pulls in the hour before it hold 11 studies, so 189 more reach the ceiling of 200.
    const burstPull = imagePull('u-steady', START + DAY, 189, { instances: 500 });
    const detections = feed(stage, [burstPull]);

    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.actual, 200);
    assert.deepEqual(detections[0]?.evidence, [...steady.slice(-11), burstPull].map((event) => event.event.id));
    assert.equal(detections[0]?.window.start, new Date(START + DAY - 55 * MINUTE).toISOString());
    assert.deepEqual(detections[0]?.explanation.details?.sums, {
      'holter.dicom.instance_count': 11 * 2 + 500,
      'holter.dicom.bytes': 11 * 10,
    });
  });

  it('evaluates an evicted entity that returns', () => {
    const text = readFileSync(path.join(DETECTORS_DIR, FILE), 'utf8').concat('\nmax_entities: 1\n');
    const { detector, errors } = parseDetector(text, FILE, { defaultTimeZone: ZONE });
    assert.deepEqual(errors, []);
    const stage = new BaselineStage([detector as NonNullable<typeof detector>]);

    // With the watermark held back, u-a's first pull waits, and u-b evicts u-a with it.
    stage.process(imagePull('u-a', START, 100), Number.NEGATIVE_INFINITY);
    stage.process(imagePull('u-b', START + MINUTE, 10), Number.NEGATIVE_INFINITY);
    const returned = [imagePull('u-a', START + 2 * MINUTE, 120), imagePull('u-a', START + 3 * MINUTE, 90)];
    for (const pull of returned) stage.process(pull, Number.NEGATIVE_INFINITY);
    assert.equal(stage.stats()['mass-image-pull.entities_evicted'], 2);

    const detections = stage.advance(Number.POSITIVE_INFINITY);
    // u-a came back with a new state, so only its two later pulls count.
    assert.equal(detections.length, 1);
    assert.deepEqual(detections[0]?.groupKey, { 'holter.user.id': 'u-a' });
    assert.equal(detections[0]?.explanation.actual, 210);
    assert.deepEqual(detections[0]?.evidence, returned.map((event) => event.event.id));
    assert.deepEqual(stage.advance(Number.POSITIVE_INFINITY), []);
  });

  it('skips events without a usable count', async () => {
    const stage = await loadShipped(FILE);
    const bad = imagePull('u-new', START, 1);
    (bad.holter.dicom as Record<string, unknown>).study_count = 'many';
    assert.deepEqual(feed(stage, [bad]), []);
    assert.equal(stage.stats()['mass-image-pull.events_invalid_value'], 1);
  });
});
