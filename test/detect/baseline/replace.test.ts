import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fingerprintOf, loadDetectors, parseDetector } from '../../../src/detect/baseline/index.js';
import type { BaselineDetector, DetectorConfig } from '../../../src/detect/baseline/index.js';
import { DAY_SHIFT, DETECTORS_DIR, ZONE, feed, imagePull, local, shiftEvents, snooping } from './events.js';

const AFTER_HOURS = readFileSync(path.join(DETECTORS_DIR, 'after-hours-record-access.yaml'), 'utf8');
const MASS_PULL = readFileSync(path.join(DETECTORS_DIR, 'mass-image-pull.yaml'), 'utf8');

function parse(text: string, file = 'detector.yaml'): BaselineDetector {
  const { detector, errors } = parseDetector(text, file, { defaultTimeZone: ZONE });
  assert.deepEqual(errors, []);
  return detector as BaselineDetector;
}

const worker = { id: 'u-1042', role: 'billing-clerk', department: 'billing', zone: ZONE };

async function learnedStage(): Promise<Awaited<ReturnType<typeof loadDetectors>>['stage']> {
  // Only the two detectors this file swaps, so the shipped set can grow without changing it.
  const { stage } = await loadDetectors([path.join(DETECTORS_DIR, 'after-hours-record-access.yaml'), path.join(DETECTORS_DIR, 'mass-image-pull.yaml')], { defaultTimeZone: ZONE });
  feed(stage, shiftEvents(worker, '2025-01-01', 28, DAY_SHIFT));
  return stage;
}

function night(stage: Awaited<ReturnType<typeof learnedStage>>): string[] {
  const detections = feed(stage, snooping(worker, local('2025-01-29T02:00'), 6)).concat(stage.flush(Number.POSITIVE_INFINITY));
  return detections.map((detection) => `${detection.rule.id} ${detection.severity}`);
}

describe('replaceDetectors', () => {
  it('keeps state of unchanged detectors', async () => {
    const stage = await learnedStage();
    const replacement = stage.replaceDetectors([parse(AFTER_HOURS), parse(MASS_PULL)]);

    assert.deepEqual(replacement, { kept: ['after-hours-record-access', 'mass-image-pull'], changed: [], added: [], removed: [] });
    assert.deepEqual(night(stage), ['after-hours-record-access high'], 'the learned working hours survived the swap');
  });

  it('keeps state when only severity changes', async () => {
    const stage = await learnedStage();
    const replacement = stage.replaceDetectors([parse(AFTER_HOURS.replace('severity: high', 'severity: critical'))]);

    assert.deepEqual(replacement.kept, ['after-hours-record-access']);
    assert.deepEqual(replacement.removed, ['mass-image-pull']);
    assert.deepEqual(night(stage), ['after-hours-record-access critical']);
  });

  it('drops state when the logic changes', async () => {
    const stage = await learnedStage();
    const replacement = stage.replaceDetectors([parse(AFTER_HOURS.replace('min_distinct: 5', 'min_distinct: 4'))]);

    assert.deepEqual(replacement.changed, ['after-hours-record-access']);
    assert.deepEqual(night(stage), [], 'a detector with new logic learns again');
  });

  it('reports added detectors', async () => {
    const { stage } = await loadDetectors([path.join(DETECTORS_DIR, 'mass-image-pull.yaml')], { defaultTimeZone: ZONE });
    const replacement = stage.replaceDetectors([parse(MASS_PULL), parse(AFTER_HOURS)]);
    assert.deepEqual(replacement, { kept: ['mass-image-pull'], changed: [], added: ['after-hours-record-access'], removed: [] });
    assert.deepEqual(stage.detectorIds, ['mass-image-pull', 'after-hours-record-access']);
  });
});

describe('fingerprintOf', () => {
  const config = { id: 'x', name: 'X', function: 'high_sum', by: 'a', field: 'b', severity: 'low', risk_score: 1, learning: { min_days: 1, min_events: 1, half_life_days: 1 }, thresholds: { factor: 2, floor: 1, ceiling: 9 } } as DetectorConfig;

  it('ignores key order and presentation', () => {
    const { thresholds: _thresholds, ...rest } = config;
    const reordered = { thresholds: { ceiling: 9, floor: 1, factor: 2 }, ...rest, name: 'Other', tags: ['attack.t1213'] } as DetectorConfig;
    assert.equal(fingerprintOf(reordered, ZONE), fingerprintOf(config, ZONE));
  });

  it('changes with a threshold or zone', () => {
    const changed = { ...config, thresholds: { factor: 3, floor: 1, ceiling: 9 } } as DetectorConfig;
    assert.notEqual(fingerprintOf(changed, ZONE), fingerprintOf(config, ZONE));
    assert.notEqual(fingerprintOf(config, 'Europe/Berlin'), fingerprintOf(config, ZONE));
  });
});

describe('BaselineStage describe', () => {
  it('returns every profile of a user', async () => {
    const stage = await learnedStage();
    feed(stage, [imagePull('u-1042', local('2025-01-29T10:00'), 4)]);
    const profile = stage.describe('u-1042');

    assert.deepEqual(Object.keys(profile).sort(), ['after-hours-record-access', 'mass-image-pull']);
    const hours = profile['after-hours-record-access'] as { hour_of_week_percent: number[]; learned: boolean; peer_group: string; active_days_by_hour: number[] };
    assert.equal(hours.hour_of_week_percent.length, 168);
    assert.ok(Math.abs(hours.hour_of_week_percent.reduce((sum, share) => sum + share, 0) - 100) < 0.1);
    // Monday 02:00 local is never worked; Monday 10:00 is.
    assert.equal(hours.hour_of_week_percent[2], 0);
    assert.ok((hours.hour_of_week_percent[10] as number) > 0);
    assert.equal(hours.learned, true);
    assert.equal(hours.peer_group, 'billing-clerk in billing');
    assert.equal(hours.active_days_by_hour.length, 24);
    assert.equal((profile['mass-image-pull'] as { function: string }).function, 'high_sum');
  });

  it('returns nothing for an unknown user', async () => {
    const stage = await learnedStage();
    assert.deepEqual(stage.describe('u-nobody'), {});
  });
});
