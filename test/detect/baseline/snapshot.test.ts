import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HolterError } from '../../../src/errors.js';
import { loadDetectors } from '../../../src/detect/baseline/index.js';
import type { BaselineSnapshot } from '../../../src/detect/baseline/index.js';
import { DAY_SHIFT, DETECTORS_DIR, ZONE, byTime, feed, imagePull, local, shiftEvents, snooping } from './events.js';

async function loadAll(): Promise<Awaited<ReturnType<typeof loadDetectors>>['stage']> {
  return (await loadDetectors([DETECTORS_DIR], { defaultTimeZone: ZONE })).stage;
}

describe('BaselineStage snapshot', () => {
  it('restores to the same detections', async () => {
    const worker = { id: 'u-1042', role: 'nurse', department: 'ccu', zone: ZONE };
    const hourStart = local('2025-01-29T02:00');
    const before = byTime([
      ...shiftEvents(worker, '2025-01-01', 28, DAY_SHIFT),
      ...snooping(worker, hourStart, 3),
      imagePull('u-1042', hourStart, 120),
    ]);
    // The later records continue the same burst with distinct patients (tokens 3 to 6).
    const after = [...snooping(worker, hourStart + 10 * 60_000, 7).slice(3), imagePull('u-1042', hourStart + 20 * 60_000, 90)];

    const original = await loadAll();
    feed(original, before);
    const snapshot = JSON.parse(JSON.stringify(original.snapshot())) as BaselineSnapshot;
    assert.equal(snapshot.version, 2);

    const restored = await loadAll();
    restored.restore(snapshot);
    const fromOriginal = feed(original, after).concat(original.flush(Number.POSITIVE_INFINITY));
    const fromRestored = feed(restored, after).concat(restored.flush(Number.POSITIVE_INFINITY));

    const summarise = (detections: typeof fromOriginal): unknown =>
      detections.map((detection) => [detection.rule.id, detection.window, detection.explanation.summary, detection.evidence]);
    assert.equal(fromOriginal.length, 2);
    assert.deepEqual(summarise(fromRestored), summarise(fromOriginal));
  });

  it('migrates a version 1 snapshot', async () => {
    const worker = { id: 'u-1042', role: 'nurse', department: 'ccu', zone: ZONE };
    const original = await loadAll();
    feed(original, shiftEvents(worker, '2025-01-01', 28, DAY_SHIFT));
    const current = JSON.parse(JSON.stringify(original.snapshot())) as BaselineSnapshot;

    // Version 1 had no active-date counts and no date on the held-back hour.
    const oldState = current.detectors['after-hours-record-access'] as { users: Array<[string, Record<string, unknown>]> };
    for (const [, profile] of oldState.users) {
      delete profile.activeDays;
      delete (profile.pending as Record<string, unknown> | null)?.day;
    }
    const restored = await loadAll();
    restored.restore({ version: 1, detectors: current.detectors });

    const migrated = restored.snapshot().detectors['after-hours-record-access'] as { users: Array<[string, { activeDays: { counts: number[] } }]> };
    assert.deepEqual(migrated.users[0]?.[1].activeDays.counts, new Array<number>(24).fill(0));
    const detections = feed(restored, snooping(worker, local('2025-01-29T02:00'), 6)).concat(restored.flush(Number.POSITIVE_INFINITY));
    assert.equal(detections.length, 1, 'the migrated profile still judges');
  });

  it('rejects another version', async () => {
    const stage = await loadAll();
    assert.throws(() => stage.restore({ version: 99, detectors: {} }), (error: unknown) => {
      assert.ok(error instanceof HolterError);
      assert.equal(error.code, 'HOLTER_STATE_VERSION');
      assert.match(error.message, /version 99 but this Holter reads versions 1 and 2/);
      return true;
    });
  });
});
