/**
 * Snapshot, restore and rule replacement of the Sigma stage. Each test runs one timeline
 * twice: once without a break, and once stopped at a split point, saved (through a JSON
 * round trip), restored or reloaded, and fed the rest. Both runs must raise the same alerts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { buildAlert } from '../../../src/alerts/build.js';
import type { Alert } from '../../../src/alerts/types.js';
import { isHolterError } from '../../../src/errors.js';
import type { HolterEvent } from '../../../src/event.js';
import type { Detection } from '../../../src/detect/types.js';
import type { SigmaStage } from '../../../src/detect/sigma/stage.js';
import { SIGMA_STATE_VERSION } from '../../../src/detect/sigma/state.js';
import { compileTexts, holterEvent } from './helpers.js';

const START_MS = Date.parse('2024-05-01T08:00:00.000Z');
const LATENESS_MS = 60_000;

const FAILED = `title: Failed login
name: failed_login
logsource:
    product: holter
    category: authentication
detection:
    selection:
        event.outcome: failure
    condition: selection
`;

const SUCCEEDED = `title: Successful login
name: successful_login
logsource:
    product: holter
    category: authentication
detection:
    selection:
        event.outcome: success
    condition: selection
`;

const correlation = (title: string, body: string, name?: string): string =>
  `title: ${title}\n${name === undefined ? '' : `name: ${name}\n`}correlation:\n${body}`;

/** One correlation of every type, with immediate and close-evaluated conditions, and a chain. */
const CORRELATIONS: Record<string, string> = {
  burst: correlation(
    'Burst',
    `    type: event_count
    rules: [failed_login]
    group-by: [holter.user.id]
    timespan: 5m
    condition: { gte: 3 }
`,
    'burst',
  ),
  quiet: correlation(
    'Quiet user',
    `    type: event_count
    rules: [failed_login]
    group-by: [holter.user.id]
    timespan: 5m
    condition: { lte: 1 }
`,
    'quiet',
  ),
  // Fed the trigger events of a close-evaluated correlation, grouped by a field no alert copies:
  // a restored trigger must still carry it.
  quietChain: correlation(
    'Quiet by record count',
    `    type: event_count
    rules: [quiet]
    group-by: [holter.record.count]
    timespan: 1h
    condition: { gte: 1 }
    generate: true
`,
  ),
  sources: correlation(
    'Many sources',
    `    type: value_count
    rules: [failed_login]
    group-by: [holter.user.id]
    timespan: 10m
    condition: { field: source.ip, gte: 3 }
`,
  ),
  temporal: correlation(
    'Failure and success',
    `    type: temporal
    rules: [failed_login, successful_login]
    group-by: [holter.user.id]
    timespan: 10m
`,
  ),
  ordered: correlation(
    'Burst then success',
    `    type: temporal_ordered
    rules: [burst, successful_login]
    group-by: [holter.user.id]
    timespan: 10m
    generate: true
`,
  ),
  sum: correlation(
    'Records summed',
    `    type: value_sum
    rules: [failed_login, successful_login]
    group-by: [holter.user.id]
    timespan: 10m
    condition: { field: holter.record.count, gte: 25 }
`,
  ),
  average: correlation(
    'Records averaged',
    `    type: value_avg
    rules: [failed_login, successful_login]
    group-by: [holter.user.id]
    timespan: 10m
    condition: { field: holter.record.count, gt: 5 }
`,
  ),
  rare: correlation(
    'Rare source',
    `    type: value_percentile
    rules: [failed_login, successful_login]
    group-by: [holter.user.id]
    timespan: 30m
    condition: { field: source.ip, lte: 10 }
`,
  ),
};

const TITLES = ['Burst', 'Quiet user', 'Quiet by record count', 'Many sources', 'Failure and success', 'Burst then success', 'Records summed', 'Records averaged', 'Rare source'];

const MARKERS = ['MRN-MARKER-7731', 'FREE-TEXT-MARKER', 'REASON-MARKER'];

function texts(overrides: Record<string, string> = {}): string[] {
  return [FAILED, SUCCEEDED, ...Object.entries({ ...CORRELATIONS, ...overrides }).map(([, text]) => text)];
}

function stageOf(ruleTexts: string[]): SigmaStage {
  const result = compileTexts(ruleTexts, { allowedLatenessMs: LATENESS_MS });
  assert.deepEqual(result.errors.map((error) => error.describe()), []);
  return result.stage;
}

/**
 * Builds a deterministic timeline of 90 logins by three users over about an hour. Most are failures
 * from a few addresses, with a rare address now and then and record counts 1 to 9. Some events
 * are up to 30 s out of order, and two are far behind the watermark (late). Events carry marker
 * values in fields that a snapshot must never save.
 */
function timeline(): HolterEvent[] {
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const events: HolterEvent[] = [];
  let timeMs = START_MS;
  for (let index = 0; index < 90; index++) {
    timeMs += Math.floor(random() * 80_000);
    let eventMs = random() < 0.15 ? timeMs - Math.floor(random() * 30_000) : timeMs;
    if (index === 40 || index === 70) eventMs = timeMs - 10 * 60_000;
    const sourceIp = pickAddress(random(), index);
    const event = holterEvent({
      time: new Date(eventMs).toISOString(),
      id: `evt-${index}`,
      outcome: random() < 0.75 ? 'failure' : 'success',
      userId: `u-${1 + Math.floor(random() * 3)}`,
      userName: `user${index % 3}@example.org`,
      sourceIp,
      holter: {
        record: { count: 1 + Math.floor(random() * 9) },
        patient: { id: MARKERS[0], token: 'tok-1' },
        access: { break_glass: true, reason: MARKERS[2] },
      },
    });
    event.message = MARKERS[1];
    events.push(event);
  }
  return events;
}

function pickAddress(roll: number, index: number): string {
  if (roll < 0.05) return `203.0.113.${index}`;
  if (roll < 0.6) return '10.0.0.1';
  if (roll < 0.8) return '10.0.0.2';
  return '10.0.0.3';
}

function feed(stage: SigmaStage, events: HolterEvent[]): Detection[] {
  const detections: Detection[] = [];
  for (const event of events) detections.push(...stage.process(event, Number.NaN));
  return detections;
}

function alertsOf(detections: Detection[]): Alert[] {
  return detections.map((detection) => buildAlert(detection, new Date(0)));
}

function roundTrip(snapshot: unknown): unknown {
  return JSON.parse(JSON.stringify(snapshot));
}

const EVENTS = timeline();
const UNINTERRUPTED = (() => {
  const stage = stageOf(texts());
  return [...feed(stage, EVENTS), ...stage.flush(Number.POSITIVE_INFINITY)];
})();

/** Runs the timeline with a break after `split` events, where `resume` turns the first stage into the one that goes on. */
function interrupted(split: number, resume: (first: SigmaStage) => SigmaStage): Detection[] {
  const first = stageOf(texts());
  const before = feed(first, EVENTS.slice(0, split));
  const second = resume(first);
  const after = feed(second, EVENTS.slice(split));
  return [...before, ...after, ...second.flush(Number.POSITIVE_INFINITY)];
}

const only = (alerts: Alert[], names: string[]): Alert[] => alerts.filter((alert) => names.includes(alert.rule.name));

describe('timeline covers every type', () => {
  test('each correlation fires uninterrupted', () => {
    const fired = new Set(UNINTERRUPTED.map((detection) => detection.rule.name));
    for (const title of TITLES) assert.ok(fired.has(title), `${title} never fired; the timeline no longer exercises it`);
  });

  test('timeline has late events', () => {
    const stage = stageOf(texts());
    feed(stage, EVENTS);
    assert.ok((stage.stats().late_events ?? 0) >= 1);
  });
});

describe('snapshot and restore', () => {
  test('every split gives the same alerts', () => {
    const expected = alertsOf(UNINTERRUPTED);
    for (let split = 0; split <= EVENTS.length; split++) {
      const detections = interrupted(split, (first) => {
        const second = stageOf(texts());
        second.restore(roundTrip(first.snapshot()));
        return second;
      });
      assert.deepEqual(alertsOf(detections), expected, `alerts differ after a restore at event ${split}`);
    }
  });

  test('restore keeps late-event accounting', () => {
    const first = stageOf(texts());
    feed(first, EVENTS.slice(0, 40));
    const second = stageOf(texts());
    second.restore(roundTrip(first.snapshot()));
    feed(second, EVENTS.slice(40, 41));
    assert.equal(second.stats().late_events, 1);
  });

  test('snapshot saves no event content', () => {
    const stage = stageOf(texts());
    feed(stage, EVENTS.slice(0, 60));
    const text = JSON.stringify(stage.snapshot());
    for (const marker of MARKERS) assert.ok(!text.includes(marker), `snapshot contains ${marker}`);
    assert.ok(text.includes('tok-1'), 'the patient token an alert copies is missing');
  });

  test('snapshot is versioned plain JSON', () => {
    const stage = stageOf(texts());
    feed(stage, EVENTS.slice(0, 30));
    const snapshot = stage.snapshot();
    assert.deepEqual(roundTrip(snapshot), snapshot);
    assert.equal(snapshot.version, SIGMA_STATE_VERSION);
  });

  test('snapshot shares trigger contexts', () => {
    const stage = stageOf(texts());
    feed(stage, EVENTS.slice(0, 60));
    const snapshot = stage.snapshot();
    for (const windows of Object.values(snapshot.correlations)) {
      const hits = windows.groups.reduce((sum, group) => sum + group.hits.length, 0);
      assert.ok(windows.contexts.length <= hits);
      // Three users with three user names and four addresses, plus rare addresses.
      assert.ok(windows.contexts.length <= 40, `${windows.contexts.length} contexts for ${hits} hits`);
    }
  });

  test('changed rule drops only its windows', () => {
    const changed = texts({
      sources: CORRELATIONS.sources?.replace('gte: 3', 'gte: 4') ?? '',
      burst: CORRELATIONS.burst?.replace('title: Burst', 'title: Burst\ndescription: Reworded, same logic') ?? '',
    });
    const unchanged = TITLES.filter((title) => title !== 'Many sources');
    const expected = only(alertsOf(UNINTERRUPTED), unchanged).map(withoutDescription);
    for (const split of [10, 35, 61, 80]) {
      let second: SigmaStage | undefined;
      const detections = interrupted(split, (first) => {
        second = stageOf(changed);
        second.restore(roundTrip(first.snapshot()));
        return second;
      });
      assert.deepEqual(only(alertsOf(detections), unchanged).map(withoutDescription), expected, `alerts differ after a restore at event ${split}`);
      assert.equal(second?.stats().correlation_states_kept, 8);
      assert.equal(second?.stats().correlation_states_dropped, 1);
    }
  });

  test('changed base rule drops its correlations', () => {
    const first = stageOf(texts());
    feed(first, EVENTS.slice(0, 30));
    const second = stageOf([FAILED.replace('event.outcome: failure', "event.outcome: 'failure'\n        holter.user.id|exists: true"), ...texts().slice(1)]);
    second.restore(roundTrip(first.snapshot()));
    // Every correlation reads failed_login, directly or through Burst or Quiet user.
    assert.equal(second.stats().correlation_states_kept, 0);
    assert.equal(second.stats().correlation_states_dropped, 9);
  });

  test('unknown version is rejected', () => {
    const stage = stageOf(texts());
    const snapshot = { ...stage.snapshot(), version: 99 };
    assert.throws(
      () => stage.restore(snapshot),
      (error: unknown) => isHolterError(error) && error.code === 'HOLTER_STATE_VERSION' && /version 99/.test(error.message) && /Delete the saved Sigma state/.test(error.message),
    );
  });

  test('malformed snapshot is rejected', () => {
    const stage = stageOf(texts());
    feed(stage, EVENTS.slice(0, 30));
    const snapshot = roundTrip(stage.snapshot()) as { correlations: Record<string, { groups: { hits: unknown[] }[] }> };
    const windows = Object.values(snapshot.correlations).find((entry) => entry.groups.length > 0);
    assert.ok(windows);
    (windows.groups[0] as { hits: unknown[] }).hits.push({ timeMs: 'soon' });
    assert.throws(() => stage.restore(snapshot), (error: unknown) => isHolterError(error) && error.code === 'HOLTER_STATE_VERSION' && /malformed/.test(error.message));
    assert.throws(() => stage.restore(null), (error: unknown) => isHolterError(error) && error.code === 'HOLTER_STATE_VERSION');
  });

  test('failed restore leaves stage unchanged', () => {
    const stage = stageOf(texts());
    feed(stage, EVENTS.slice(0, 30));
    const before = JSON.stringify(stage.snapshot());
    assert.throws(() => stage.restore({ version: SIGMA_STATE_VERSION, stage: 'sigma', sequence: 1, maxEventTimeMs: null, correlations: { x: {} } }));
    assert.equal(JSON.stringify(stage.snapshot()), before);
  });
});

describe('rule replacement', () => {
  test('same rules give the same alerts', () => {
    const expected = alertsOf(UNINTERRUPTED);
    for (const split of [0, 12, 33, 50, 77, EVENTS.length]) {
      const detections = interrupted(split, (first) => {
        first.replaceRuleSet(stageOf(texts()).ruleSet);
        return first;
      });
      assert.deepEqual(alertsOf(detections), expected, `alerts differ after a replacement at event ${split}`);
    }
  });

  test('changed rule starts empty, others keep', () => {
    const changed = texts({ sources: CORRELATIONS.sources?.replace('gte: 3', 'gte: 4') ?? '' });
    const unchanged = TITLES.filter((title) => title !== 'Many sources');
    const expected = only(alertsOf(UNINTERRUPTED), unchanged);
    let replaced: SigmaStage | undefined;
    const detections = interrupted(45, (first) => {
      first.replaceRuleSet(stageOf(changed).ruleSet);
      replaced = first;
      return first;
    });
    assert.deepEqual(only(alertsOf(detections), unchanged), expected);
    assert.equal(replaced?.stats().correlation_states_kept, 8);
    assert.equal(replaced?.stats().correlation_states_dropped, 1);
    const isMany = (detection: Detection): boolean => detection.rule.name === 'Many sources';
    const firedBefore = feed(stageOf(texts()), EVENTS.slice(0, 45)).filter(isMany).length;
    const firedAfter = detections.filter(isMany).slice(firedBefore);
    assert.ok(firedAfter.length > 0, 'the changed correlation never fired after the replacement');
    for (const detection of firedAfter) assert.ok((detection.explanation.actual ?? 0) >= 4);
  });

  test('added rule matches after replacement', () => {
    const stage = stageOf(texts());
    feed(stage, EVENTS.slice(0, 20));
    const added = `title: Login from rare range
logsource:
    product: holter
    category: authentication
detection:
    selection:
        source.ip|cidr: 203.0.113.0/24
    condition: selection
`;
    stage.replaceRuleSet(stageOf([...texts(), added]).ruleSet);
    const detections = [...feed(stage, EVENTS.slice(20)), ...stage.flush(Number.POSITIVE_INFINITY)];
    const rare = EVENTS.slice(20).filter((event) => event.source?.ip?.startsWith('203.0.113.'));
    assert.ok(rare.length > 0);
    assert.equal(detections.filter((detection) => detection.rule.name === 'Login from rare range').length, rare.length);
    assert.equal(stage.stats().rules_loaded, 3);
  });

  test('removed rule drops its windows', () => {
    const stage = stageOf(texts());
    feed(stage, EVENTS.slice(0, 20));
    const withoutRare = texts().filter((text) => !text.startsWith('title: Rare source'));
    stage.replaceRuleSet(stageOf(withoutRare).ruleSet);
    const detections = [...feed(stage, EVENTS.slice(20)), ...stage.flush(Number.POSITIVE_INFINITY)];
    assert.equal(detections.filter((detection) => detection.rule.name === 'Rare source').length, 0);
    assert.equal(stage.stats().correlation_states_dropped, 1);
    assert.equal(stage.stats().correlations_loaded, 8);
  });
});

function withoutDescription(alert: Alert): Alert {
  const copy = structuredClone(alert);
  delete copy.rule.description;
  return copy;
}
