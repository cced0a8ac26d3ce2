import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import type { HolterEvent } from '../../../src/event.js';
import type { Detection } from '../../../src/detect/types.js';
import { loadSigmaRules } from '../../../src/detect/sigma/stage.js';
import type { SigmaStage } from '../../../src/detect/sigma/stage.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { holterEvent, MAPPING_FILE } from './helpers.js';

const RULES_DIR = path.join(REPO_ROOT, 'rules');
const BURST = 'holter-failed-login-burst';
const BURST_THEN_SUCCESS = 'holter-failed-login-burst-then-success';
const SPRAY = 'holter-password-spray';
const BREAK_GLASS = 'holter-break-glass-access';
const SELF_LOOKUP = 'holter-self-lookup';

const START_MS = Date.parse('2024-05-01T08:00:00.000Z');

function at(offsetMs: number): string {
  return new Date(START_MS + offsetMs).toISOString();
}

async function holterStage(): Promise<SigmaStage> {
  const result = await loadSigmaRules([RULES_DIR], { mappingFile: MAPPING_FILE, allowedLatenessMs: 60_000 });
  assert.deepEqual(result.errors.map((error) => error.describe()), []);
  return result.stage;
}

/** Feeds events in the given order (the stage derives the watermark), then flushes. */
function run(stage: SigmaStage, events: HolterEvent[]): Detection[] {
  const detections: Detection[] = [];
  for (const event of events) detections.push(...stage.process(event, Number.NEGATIVE_INFINITY));
  detections.push(...stage.flush(Number.POSITIVE_INFINITY));
  return detections;
}

function byRule(detections: Detection[], ruleId: string): Detection[] {
  return detections.filter((detection) => detection.rule.id === ruleId);
}

function failure(offsetMs: number, userId = 'u-1042', sourceIp = '10.1.2.3'): HolterEvent {
  return holterEvent({ time: at(offsetMs), outcome: 'failure', userId, sourceIp });
}

function success(offsetMs: number, userId = 'u-1042'): HolterEvent {
  return holterEvent({ time: at(offsetMs), outcome: 'success', userId, sourceIp: '10.1.2.3' });
}

test('every Holter rule file loads cleanly', async () => {
  for (const file of readdirSync(RULES_DIR).filter((name) => name.endsWith('.yml'))) {
    const result = await loadSigmaRules([path.join(RULES_DIR, file), path.join(RULES_DIR, 'failed-login-burst.yml')], { mappingFile: MAPPING_FILE });
    assert.deepEqual(result.errors.map((error) => error.describe()), [], file);
    assert.deepEqual(result.warnings, [], file);
  }
});

describe('failed-login-burst', () => {
  test('nine failures never fire', async () => {
    const events = Array.from({ length: 9 }, (_, index) => failure(index * 10_000));
    assert.equal(byRule(run(await holterStage(), events), BURST).length, 0);
  });

  test('single typo produces no detection', async () => {
    assert.deepEqual(run(await holterStage(), [failure(0)]), []);
  });

  test('ten failures in 4m59s fire once', async () => {
    const events = Array.from({ length: 10 }, (_, index) => failure(Math.round((index * 299_000) / 9)));
    const detections = byRule(run(await holterStage(), events), BURST);

    assert.equal(detections.length, 1);
    const [detection] = detections as [Detection];
    assert.deepEqual(detection.groupKey, { 'holter.user.id': 'u-1042' });
    assert.deepEqual(detection.window, { start: at(0), end: at(300_000) });
    assert.equal(detection.evidence.length, 10);
    assert.deepEqual(detection.evidence, events.map((event) => event.event.id));
    assert.equal(detection.explanation.summary, '10 failed logins for user u-1042 within 5 minutes (threshold: 10 or more)');
    assert.equal(detection.explanation.actual, 10);
    assert.equal(detection.explanation.threshold, 10);
    assert.equal(detection.severity, 'medium');
    assert.equal(detection.riskScore, 47);
    assert.ok(detection.tags?.includes('attack.t1110'));
    assert.equal(detection.trigger, events[9]);
    assert.equal(detection.rule.file, path.join(RULES_DIR, 'failed-login-burst.yml'));
    assert.equal(detection.rule.line, 1);
  });

  test('ten failures over 5m01s never fire', async () => {
    const events = Array.from({ length: 10 }, (_, index) => failure(Math.round((index * 301_000) / 9)));
    assert.equal(byRule(run(await holterStage(), events), BURST).length, 0);
  });

  test('window end is exclusive', async () => {
    const events = [...Array.from({ length: 9 }, (_, index) => failure(index * 1000)), failure(300_000)];
    assert.equal(byRule(run(await holterStage(), events), BURST).length, 0);
  });

  test('one burst gives one detection', async () => {
    const events = Array.from({ length: 25 }, (_, index) => failure(index * 5000));
    const detections = byRule(run(await holterStage(), events), BURST);
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.window.start, at(0));
  });

  test('a second burst after the window fires again', async () => {
    const first = Array.from({ length: 10 }, (_, index) => failure(index * 1000));
    const second = Array.from({ length: 10 }, (_, index) => failure(400_000 + index * 1000));
    const detections = byRule(run(await holterStage(), [...first, ...second]), BURST);
    assert.equal(detections.length, 2);
    assert.equal(detections[1]?.window.start, at(400_000));
  });

  test('users are counted separately', async () => {
    const events = Array.from({ length: 10 }, (_, index) => failure(index * 1000, index % 2 === 0 ? 'u-1' : 'u-2'));
    assert.equal(byRule(run(await holterStage(), events), BURST).length, 0);
  });

  test('out-of-order event within lateness counts', async () => {
    const times = [0, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 70_000, 80_000];
    const events = [...times.map((time) => failure(time)), failure(45_000)];
    const stage = await holterStage();
    const detections = byRule(run(stage, events), BURST);

    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.evidence.length, 10);
    assert.equal(detections[0]?.evidence[5], events[9]?.event.id);
    assert.equal(stage.stats().late_events, 0);
  });

  test('late event is counted not placed', async () => {
    const onTime = Array.from({ length: 9 }, (_, index) => failure(index * 10_000));
    const advance = holterEvent({ time: at(600_000), outcome: 'success', userId: 'u-other' });
    const late = failure(95_000);
    const stage = await holterStage();
    const detections = byRule(run(stage, [...onTime, advance, late]), BURST);

    assert.equal(detections.length, 0);
    assert.equal(stage.stats().late_events, 1);
    assert.equal(stage.stats().late_correlation_hits, 2);
  });
});

describe('failed-login-burst-then-success', () => {
  const burst = (): HolterEvent[] => Array.from({ length: 10 }, (_, index) => failure(index * 10_000));

  test('burst then success fires once', async () => {
    const events = [...burst(), success(200_000), success(210_000)];
    const detections = run(await holterStage(), events);
    const sequence = byRule(detections, BURST_THEN_SUCCESS);

    assert.equal(sequence.length, 1);
    assert.equal(byRule(detections, BURST).length, 1);
    assert.equal(sequence[0]?.severity, 'high');
    assert.deepEqual(sequence[0]?.groupKey, { 'holter.user.id': 'u-1042' });
    assert.deepEqual(sequence[0]?.window, { start: at(90_000), end: at(690_000) });
    assert.equal(sequence[0]?.evidence.length, 11);
    assert.equal(sequence[0]?.trigger, events[10]);
    assert.match(sequence[0]?.explanation.summary ?? '', /^In order for user u-1042 within 10 minutes: "Failed login burst for one user" then "Successful login" \(2 of 2 in order/);
  });

  test('success before burst never fires', async () => {
    const events = [success(0), ...burst().map((event, index) => ({ ...event, '@timestamp': at(1000 + index * 10_000) }))];
    assert.equal(byRule(run(await holterStage(), events), BURST_THEN_SUCCESS).length, 0);
  });

  test('success after ten minutes never fires', async () => {
    const events = [...burst(), success(90_000 + 600_000)];
    assert.equal(byRule(run(await holterStage(), events), BURST_THEN_SUCCESS).length, 0);
  });

  test('success of another user never fires', async () => {
    const events = [...burst(), success(200_000, 'u-2000')];
    assert.equal(byRule(run(await holterStage(), events), BURST_THEN_SUCCESS).length, 0);
  });

  test('successful logins alone stay silent', async () => {
    assert.deepEqual(run(await holterStage(), [success(0), success(1000)]), []);
  });
});

describe('password-spray', () => {
  test('eight users from one source fire', async () => {
    const events = Array.from({ length: 8 }, (_, index) => failure(index * 60_000, `u-${index}`, '203.0.113.9'));
    const detections = byRule(run(await holterStage(), events), SPRAY);

    assert.equal(detections.length, 1);
    assert.deepEqual(detections[0]?.groupKey, { 'source.ip': '203.0.113.9' });
    assert.equal(detections[0]?.explanation.summary, '8 users with failed logins for source 203.0.113.9 within 10 minutes (threshold: 8 or more)');
  });

  test('seven users never fire', async () => {
    const events = Array.from({ length: 7 }, (_, index) => failure(index * 60_000, `u-${index}`, '203.0.113.9'));
    assert.equal(byRule(run(await holterStage(), events), SPRAY).length, 0);
  });

  test('repeated user counts once', async () => {
    const events = Array.from({ length: 12 }, (_, index) => failure(index * 10_000, `u-${index % 4}`, '203.0.113.9'));
    assert.equal(byRule(run(await holterStage(), events), SPRAY).length, 0);
  });

  test('users from different sources never fire', async () => {
    const events = Array.from({ length: 8 }, (_, index) => failure(index * 60_000, `u-${index}`, `203.0.113.${index}`));
    assert.equal(byRule(run(await holterStage(), events), SPRAY).length, 0);
  });
});

describe('break-glass-access', () => {
  test('break-glass always fires with reason', async () => {
    const event = holterEvent({
      time: at(0),
      category: ['database'],
      outcome: 'success',
      userId: 'u-7',
      holter: { access: { break_glass: true, reason: 'Unconscious patient in ED' }, patient: { token: 'tok-1' } },
    });
    const detections = byRule(run(await holterStage(), [event]), BREAK_GLASS);

    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.severity, 'high');
    assert.equal(detections[0]?.riskScore, 73);
    assert.equal(detections[0]?.explanation.summary, 'Break-glass access by user u-7; stated reason: Unconscious patient in ED');
    assert.deepEqual(detections[0]?.explanation.details, { break_glass_reason: 'Unconscious patient in ED' });
    assert.equal(detections[0]?.explanation.pagerSummary, 'Break-glass access by user u-7; stated reason: [withheld: see the stored alert]');
    assert.deepEqual(detections[0]?.groupKey, {});
    assert.deepEqual(detections[0]?.window, { start: at(0), end: at(0) });
  });

  test('normal access never fires', async () => {
    const event = holterEvent({ time: at(0), category: ['database'], outcome: 'success', userId: 'u-7', holter: { access: { break_glass: false } } });
    assert.equal(byRule(run(await holterStage(), [event]), BREAK_GLASS).length, 0);
  });
});

describe('self-lookup', () => {
  const HOUR_MS = 3_600_000;

  function ownRecord(offsetMs: number, userId = 'u-9', token = 'tok-9', action = 'read'): HolterEvent {
    const event = holterEvent({ time: at(offsetMs), category: ['database'], outcome: 'success', userId, holter: { patient: { token, self_access: true } } });
    event.event.action = action;
    return event;
  }

  test('own record access fires', async () => {
    const event = ownRecord(0);
    const detections = byRule(run(await holterStage(), [event]), SELF_LOOKUP);

    assert.equal(detections.length, 1);
    assert.deepEqual(detections[0]?.groupKey, { 'holter.user.id': 'u-9', 'holter.patient.token': 'tok-9' });
    assert.deepEqual(detections[0]?.window, { start: at(0), end: at(HOUR_MS) });
    assert.deepEqual(detections[0]?.evidence, [event.event.id]);
    assert.equal(detections[0]?.trigger, event);
    assert.equal(detections[0]?.severity, 'medium');
    assert.equal(
      detections[0]?.explanation.summary,
      'User u-9 opened their own patient record; further accesses to it within 1 hour raise no new alert',
    );
  });

  test('one chart opening fires once', async () => {
    // A chart opening reads the Patient, then searches and reads related resources seconds apart.
    const events = [ownRecord(0, 'u-9', 'tok-9', 'read'), ownRecord(9_000, 'u-9', 'tok-9', 'search'), ownRecord(33_000), ownRecord(62_000, 'u-9', 'tok-9', 'search')];
    const detections = run(await holterStage(), events);

    assert.equal(byRule(detections, SELF_LOOKUP).length, 1);
    assert.equal(detections.length, 1, 'the access rule produces no detections of its own');
    assert.equal(byRule(detections, 'holter-self-lookup-access').length, 0);
  });

  test('repeated openings within the hour fire once', async () => {
    const events = [ownRecord(0), ownRecord(20 * 60_000), ownRecord(HOUR_MS - 1000)];
    assert.equal(byRule(run(await holterStage(), events), SELF_LOOKUP).length, 1);
  });

  test('next hour fires again', async () => {
    const events = [ownRecord(0), ownRecord(30 * 60_000), ownRecord(HOUR_MS), ownRecord(HOUR_MS + 60_000)];
    const detections = byRule(run(await holterStage(), events), SELF_LOOKUP);

    assert.equal(detections.length, 2);
    assert.deepEqual(detections.map((detection) => detection.window.start), [at(0), at(HOUR_MS)]);
    assert.deepEqual(detections[1]?.evidence, [events[2]?.event.id]);
  });

  test('each user and patient fires separately', async () => {
    const events = [ownRecord(0, 'u-9', 'tok-9'), ownRecord(1000, 'u-10', 'tok-10'), ownRecord(2000, 'u-9', 'tok-11'), ownRecord(3000, 'u-9', 'tok-9')];
    const detections = byRule(run(await holterStage(), events), SELF_LOOKUP);

    assert.deepEqual(
      detections.map((detection) => detection.groupKey),
      [
        { 'holter.user.id': 'u-9', 'holter.patient.token': 'tok-9' },
        { 'holter.user.id': 'u-10', 'holter.patient.token': 'tok-10' },
        { 'holter.user.id': 'u-9', 'holter.patient.token': 'tok-11' },
      ],
    );
  });

  test('other patient record never fires', async () => {
    const event = holterEvent({ time: at(0), category: ['database'], outcome: 'success', userId: 'u-9', holter: { patient: { token: 'tok-3', self_access: false } } });
    assert.equal(byRule(run(await holterStage(), [event]), SELF_LOOKUP).length, 0);
  });
});
