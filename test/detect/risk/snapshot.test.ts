import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertId } from '../../../src/alerts/build.js';
import { HolterError } from '../../../src/errors.js';
import { RISK_STATE_VERSION, RiskStage } from '../../../src/detect/risk/index.js';
import type { RiskSnapshot } from '../../../src/detect/risk/index.js';
import type { Detection } from '../../../src/detect/types.js';
import { HOUR_MS, T0, configFrom, detection, run, shippedConfig, threeMedium } from './timeline.js';

function summarise(detections: Detection[]): unknown {
  return detections.map((found) => [alertId(found), found.explanation.summary, found.evidence]);
}

describe('RiskStage snapshot', () => {
  it('restores to the same pages', async () => {
    // u-1 pages before the snapshot, so the restored stage must remember not to page it again.
    // u-2 is halfway, and its second detection still waits for the watermark.
    const before = [
      ...threeMedium('u-1', T0),
      detection({ ruleId: 'rule-0', atMs: T0 + 2 * HOUR_MS, user: 'u-2' }),
      detection({ ruleId: 'rule-1', atMs: T0 + 3 * HOUR_MS, user: 'u-2' }),
    ];
    const after = [
      detection({ ruleId: 'rule-3', atMs: T0 + 4 * HOUR_MS, user: 'u-1' }),
      detection({ ruleId: 'rule-2', atMs: T0 + 4 * HOUR_MS, user: 'u-2' }),
    ];
    const latenessMs = HOUR_MS / 2;

    const original = new RiskStage(await shippedConfig());
    assert.equal(run(original, before, latenessMs, { flush: false }).length, 1);
    const snapshot = JSON.parse(JSON.stringify(original.snapshot())) as RiskSnapshot;
    assert.equal(snapshot.version, RISK_STATE_VERSION);
    assert.equal(snapshot.pending.length, 1);

    const restored = new RiskStage(await shippedConfig());
    restored.restore(snapshot);
    assert.deepEqual(restored.stats().entities, original.stats().entities);

    const fromOriginal = run(original, after, latenessMs);
    const fromRestored = run(restored, after, latenessMs);
    assert.deepEqual(fromOriginal.map((found) => found.groupKey['holter.user.id']), ['u-2']);
    assert.deepEqual(summarise(fromRestored), summarise(fromOriginal));
  });

  it('keeps pages across a restore', async () => {
    const original = new RiskStage(await shippedConfig());
    assert.equal(run(original, threeMedium('u-1', T0)).length, 1);

    const restored = new RiskStage(await shippedConfig());
    restored.restore(JSON.parse(JSON.stringify(original.snapshot())) as RiskSnapshot);
    assert.deepEqual(run(restored, [detection({ ruleId: 'r', atMs: T0 + 3 * HOUR_MS, user: 'u-1' })]), []);
    assert.equal(restored.stats().pages_suppressed_already_raised, 1);
  });

  it('is not changed by later input', async () => {
    const stage = new RiskStage(await shippedConfig());
    run(stage, threeMedium('u-1', T0).slice(0, 1));
    const snapshot = stage.snapshot();
    run(stage, threeMedium('u-1', T0 + HOUR_MS));
    assert.equal(snapshot.entities[0]?.contributions.length, 1);
  });

  it('drops entity types no longer weighted', async () => {
    const original = new RiskStage(await shippedConfig());
    run(original, [detection({ ruleId: 'r', atMs: T0, user: 'u-1', sourceIp: '10.0.0.5' })]);

    const usersOnly = new RiskStage(configFrom('half_life: 12h\nfloor: 5\nentities: { user: 1 }\nwindows:\n  - { length: 24h, threshold: 100 }\n'));
    usersOnly.restore(original.snapshot());
    assert.equal(usersOnly.stats().entities, 1);
    assert.deepEqual(usersOnly.snapshot().entities.map((entity) => entity.type), ['user']);
  });

  it('rejects another version', async () => {
    const stage = new RiskStage(await shippedConfig());
    const snapshot = { ...stage.snapshot(), version: RISK_STATE_VERSION + 1 };
    assert.throws(
      () => stage.restore(snapshot),
      (error: unknown) =>
        error instanceof HolterError &&
        error.code === 'HOLTER_STATE_VERSION' &&
        error.message.includes(`version ${RISK_STATE_VERSION + 1}`) &&
        error.message.includes('delete the saved risk state'),
    );
  });

  it('rejects a malformed snapshot', async () => {
    const stage = new RiskStage(await shippedConfig());
    const broken = { version: RISK_STATE_VERSION, arrivals: 0, lastSweepMs: null } as unknown as RiskSnapshot;
    assert.throws(() => stage.restore(broken), /lacks its entities or pending lists/);
    assert.throws(() => stage.restore(null as unknown as RiskSnapshot), /version undefined/);
  });
});
