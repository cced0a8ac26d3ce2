import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { HolterError } from '../../../src/errors.js';
import { BaselineStage } from '../../../src/detect/baseline/index.js';
import type { BaselineSnapshot } from '../../../src/detect/baseline/index.js';
import { createLogger } from '../../../src/log.js';
import { firstSeenDetector } from '../../helpers/detector-files.js';
import { DAY, HOUR, START, detectorOf, eventAt, run, stageOf, workdays } from './helpers.js';

/** Two sign-ins an hour on working days, every one from the same workstation address and host. */
function usual(days: number, firstDay = 0): ReturnType<typeof workdays> {
  return workdays(days, 2, () => ({ 'holter.user.id': 'u-1015', 'source.ip': '10.21.1.24', 'host.name': 'pacs01' }), firstDay);
}

/** Learns u-1015's usual address and returns the stage's snapshot as it comes back from a store. */
function learnedSnapshot(): BaselineSnapshot {
  const stage = stageOf(firstSeenDetector('source.ip'));
  run(stage, usual(5));
  return JSON.parse(JSON.stringify(stage.snapshot())) as BaselineSnapshot;
}

function knownValues(stage: ReturnType<typeof stageOf>): string[] {
  const profile = stage.describe('u-1015')['new-source'] as { known_values?: Array<{ value: string }> } | undefined;
  return (profile?.known_values ?? []).map((entry) => entry.value);
}

/** Creates a logger that writes into an array of parsed JSON lines. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger('info', stream), lines };
}

describe('BaselineStage restore', () => {
  it('saves each detector fingerprint', () => {
    const stage = stageOf(firstSeenDetector('source.ip'));
    const [detector] = stage.loadedDetectors;
    assert.ok(detector?.fingerprint !== undefined);
    assert.deepEqual(stage.snapshot().fingerprints, { 'new-source': detector.fingerprint });
  });

  it('drops state of a changed field', () => {
    const snapshot = learnedSnapshot();
    const { logger, lines } = capturingLogger();
    const changed = new BaselineStage([detectorOf(firstSeenDetector('host.name'))], logger);

    const outcome = changed.restore(snapshot);

    assert.deepEqual(outcome, { kept: [], changed: ['new-source'], unchecked: [] });
    assert.deepEqual(knownValues(changed), [], 'no address came back as a known host name');
    assert.equal(changed.stats().detector_states_dropped, 1);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.level, 40);
    assert.equal(lines[0]?.ruleId, 'new-source');
    assert.equal(lines[0]?.msg, 'detector changed since its state was saved, so its baseline restarts empty');
    assert.doesNotMatch(JSON.stringify(lines), /u-1015|10\.21\.1\.24/, 'the log names no user and no value');
  });

  it('changed detector learns afresh', () => {
    const changed = stageOf(firstSeenDetector('host.name'));
    changed.restore(learnedSnapshot());

    // Under the old state these host names would be judged new against learned addresses.
    const later = usual(2, 7).map((event) => ({ ...event, host: { name: 'ws-ccu-07' } }));
    assert.deepEqual(run(changed, later), [], 'the detector is learning again');
    assert.deepEqual(knownValues(changed), ['ws-ccu-07']);
  });

  it('keeps state of an unchanged detector', () => {
    const { logger, lines } = capturingLogger();
    const same = new BaselineStage([detectorOf(firstSeenDetector('source.ip'))], logger);

    const outcome = same.restore(learnedSnapshot());

    assert.deepEqual(outcome, { kept: ['new-source'], changed: [], unchecked: [] });
    assert.deepEqual(knownValues(same), ['10.21.1.24']);
    assert.equal(same.stats().detector_states_dropped, 0);
    assert.deepEqual(lines, []);

    const at = START + 8 * DAY + 2 * HOUR;
    const detections = run(same, [eventAt(at, { 'holter.user.id': 'u-1015', 'source.ip': '10.99.4.17' })]);
    assert.equal(detections.length, 1, 'the restored profile judges a new address');
  });

  it('keeps state after a severity change', () => {
    const renamed = stageOf(firstSeenDetector('source.ip').replace('severity: low', 'severity: high').replace('name: New source', 'name: Source new to the user'));
    const outcome = renamed.restore(learnedSnapshot());
    assert.deepEqual(outcome.kept, ['new-source']);
    assert.deepEqual(knownValues(renamed), ['10.21.1.24']);
  });

  it('drops state of a changed threshold', () => {
    const stricter = stageOf(firstSeenDetector('source.ip', { extra: 'max_values: 50' }));
    assert.deepEqual(stricter.restore(learnedSnapshot()).changed, ['new-source']);
    assert.deepEqual(knownValues(stricter), []);
  });

  it('keeps unchecked state without fingerprints', () => {
    // Snapshots written before fingerprints were saved have no such map.
    const { fingerprints: _fingerprints, ...oldFormat } = learnedSnapshot();
    const { logger, lines } = capturingLogger();
    const changed = new BaselineStage([detectorOf(firstSeenDetector('host.name'))], logger);

    const outcome = changed.restore(oldFormat);

    assert.deepEqual(outcome, { kept: [], changed: [], unchecked: ['new-source'] });
    assert.deepEqual(knownValues(changed), ['10.21.1.24'], 'the old state is kept as it is');
    assert.equal(changed.stats().detector_states_dropped, 0);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.level, 30);
    assert.equal(lines[0]?.detectors, 1);
    assert.match(String(lines[0]?.msg), /saved without fingerprints/);
  });

  it('drops state missing its fingerprint', () => {
    const snapshot = learnedSnapshot();
    const same = stageOf(firstSeenDetector('source.ip'));
    const outcome = same.restore({ ...snapshot, fingerprints: {} });
    assert.deepEqual(outcome.changed, ['new-source']);
    assert.deepEqual(knownValues(same), []);
  });

  it('rejects malformed fingerprints', () => {
    const snapshot = learnedSnapshot();
    const stage = stageOf(firstSeenDetector('source.ip'));
    for (const fingerprints of [['abc'], { 'new-source': 7 }, null]) {
      assert.throws(
        () => stage.restore({ ...snapshot, fingerprints } as unknown as BaselineSnapshot),
        (error: unknown) => {
          assert.ok(error instanceof HolterError);
          assert.equal(error.code, 'HOLTER_STATE_VERSION');
          assert.match(error.message, /malformed because fingerprints is not a map of detector id to fingerprint\. Delete the saved state/);
          return true;
        },
        JSON.stringify(fingerprints),
      );
    }
  });
  it('holds state of an unloaded detector', () => {
    const snapshot = learnedSnapshot();
    const { logger, lines } = capturingLogger();
    // The file of new-source failed to load, so the stage runs without it.
    const without = new BaselineStage([], logger);
    without.keepUnloadedStates = true;

    without.restore(snapshot);

    assert.equal(without.stats().detector_states_held, 1);
    assert.deepEqual(without.heldDetectorIds, ['new-source']);
    assert.deepEqual(without.snapshot().detectors, snapshot.detectors, 'the next checkpoint saves the held state again');
    assert.deepEqual(without.snapshot().fingerprints, snapshot.fingerprints);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.ruleId, 'new-source');
    assert.doesNotMatch(JSON.stringify(lines), /u-1015|10\.21\.1\.24/);

    // The file is fixed: the reload hands the held state to the detector.
    const mended = detectorOf(firstSeenDetector('source.ip'));
    assert.deepEqual(without.replaceDetectors([mended]).kept, ['new-source']);
    assert.deepEqual(knownValues(without), ['10.21.1.24']);
    assert.equal(without.stats().detector_states_held, 0);
    assert.deepEqual(without.heldDetectorIds, []);
  });

  it('lets held state go when its detector changed', () => {
    const { logger, lines } = capturingLogger();
    const without = new BaselineStage([], logger);
    without.keepUnloadedStates = true;
    without.restore(learnedSnapshot());

    const changed = detectorOf(firstSeenDetector('host.name'));
    assert.deepEqual(without.replaceDetectors([changed]).changed, ['new-source']);
    assert.deepEqual(knownValues(without), []);
    assert.deepEqual(Object.keys(without.snapshot().detectors), ['new-source']);
    assert.equal(without.stats().detector_states_held, 0);
    assert.equal(without.stats().detector_states_dropped, 1);
    assert.equal(lines.at(-1)?.msg, 'detector changed since its state was saved, so its baseline restarts empty');
  });

  it('ignores unloaded state without file errors', () => {
    const without = new BaselineStage([]);
    without.restore(learnedSnapshot());
    assert.deepEqual(without.snapshot().detectors, {});
    assert.equal(without.stats().detector_states_held, 0);
  });
});
