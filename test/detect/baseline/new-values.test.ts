import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDetector } from '../../../src/detect/baseline/index.js';
import type { BaselineSnapshot } from '../../../src/detect/baseline/index.js';
import { ZONE } from './events.js';
import { DAY, HOUR, START, eventAt, run, stageOf, workdays } from './helpers.js';

/** Returns a first_seen detector of source addresses per user, with `extra` lines appended. */
function newAddress(extra = '', fn = 'first_seen'): string {
  return `id: new-address
name: New address
function: ${fn}
by: holter.user.id
field: source.ip
over: [holter.user.role, holter.user.department]
bucket_span: 1h
history: 10d
learning:
  min_days: 3
  min_events: 30
  half_life_days: 7
thresholds:
  min_values: 1
severity: low
risk_score: 20
${extra}`;
}

const clerk = { 'holter.user.role': 'billing-clerk', 'holter.user.department': 'billing' };

/** Two events an hour from `address` on working days. */
function usual(user: string, days: number, address = '10.31.0.7', firstDay = 0): ReturnType<typeof workdays> {
  return workdays(days, 2, () => ({ ...clerk, 'holter.user.id': user, 'source.ip': address }), firstDay);
}

function from(user: string, ms: number, address: string): ReturnType<typeof workdays>[number] {
  return eventAt(ms, { ...clerk, 'holter.user.id': user, 'source.ip': address });
}

describe('first_seen', () => {
  it('raises on a new address', () => {
    const stage = stageOf(newAddress());
    const at = START + 5 * DAY + 2 * HOUR;
    const detections = run(stage, [...usual('u-1', 5), from('u-1', at, '10.99.4.17'), from('u-1', at + 60_000, '10.99.4.17')]);

    assert.equal(detections.length, 1);
    const [detection] = detections;
    assert.deepEqual(detection?.groupKey, { 'holter.user.id': 'u-1' });
    assert.equal(detection?.explanation.actual, 1);
    assert.equal(detection?.explanation.details?.basis, 'own');
    assert.deepEqual((detection?.explanation.details?.values as Array<{ value: string }>).map((entry) => entry.value), ['10.99.4.17']);
    assert.equal(detection?.evidence.length, 1, 'the second event found the address already learned');
    assert.match(detection?.explanation.summary ?? '', /^u-1 used 1 new source\.ip value \(10\.99\.4\.17\) in the hour from .*; u-1 had not used it in the last 10 days and mostly uses 10\.31\.0\.7 \(9\d%\)$/);
  });

  it('stays quiet on known addresses', () => {
    const stage = stageOf(newAddress());
    assert.deepEqual(run(stage, usual('u-1', 8)), []);
  });

  it('learns before it judges', () => {
    const stage = stageOf(newAddress());
    const detections = run(stage, [...usual('u-1', 1), from('u-1', START + DAY + 2 * HOUR, '10.99.4.17')]);
    assert.deepEqual(detections, []);
    assert.ok((stage.stats()['new-address.events_learning'] as number) > 0);
  });

  it('forgets addresses past the history window', () => {
    const stage = stageOf(newAddress());
    const early = [...usual('u-1', 4), ...usual('u-1', 1, '10.31.0.8', 4)];
    const later = usual('u-1', 12, '10.31.0.7', 5);
    const detections = run(stage, [...early, ...later, from('u-1', START + 17 * DAY + 9 * HOUR, '10.31.0.8')]);

    // New on day 4, and new again on day 17: it was last used 13 days before, beyond the 10-day window.
    assert.deepEqual(
      detections.map((detection) => detection.window.start),
      [new Date(START + 4 * DAY + 9 * HOUR).toISOString(), new Date(START + 17 * DAY + 9 * HOUR).toISOString()],
    );
  });

  it('bounds the values per entity', () => {
    const stage = stageOf(newAddress('max_values: 2\n'));
    const events = [...usual('u-1', 4), from('u-1', START + 4 * DAY + 9 * HOUR, '10.31.0.8'), from('u-1', START + 4 * DAY + 10 * HOUR, '10.31.0.9')];
    run(stage, events);
    const profile = stage.describe('u-1')['new-address'] as { known_values: Array<{ value: string }> };
    assert.deepEqual(profile.known_values.map((entry) => entry.value).sort(), ['10.31.0.8', '10.31.0.9']);
  });

  it('keeps known values across a restart', () => {
    const original = stageOf(newAddress());
    run(original, usual('u-1', 5), false);
    const restored = stageOf(newAddress());
    restored.restore(JSON.parse(JSON.stringify(original.snapshot())) as BaselineSnapshot);

    const next = [...usual('u-1', 1, '10.31.0.7', 5), from('u-1', START + 6 * DAY + 2 * HOUR, '10.99.4.17')];
    const detections = run(restored, next);
    assert.deepEqual(detections.map((detection) => (detection.explanation.details?.values as Array<{ value: string }>)[0]?.value), ['10.99.4.17']);
  });

  it('accepts an address the peer group uses', () => {
    const stage = stageOf(newAddress());
    const peers = [...usual('u-1', 5, '10.31.0.7'), ...usual('u-2', 5, '10.31.0.8')];
    const detections = run(stage, [...peers, from('u-1', START + 5 * DAY + 9 * HOUR, '10.31.0.8')]);

    assert.deepEqual(detections, []);
    assert.equal(stage.stats()['new-address.events_usual_by_peer_group'], 1);
  });

  it('judges a newcomer by the peer group', () => {
    const stage = stageOf(newAddress());
    const peers = [...usual('u-2', 5, '10.31.0.7'), ...usual('u-3', 5, '10.31.0.8')];
    const newcomer = [from('u-new', START + 5 * DAY + 9 * HOUR, '10.31.0.8'), from('u-new', START + 5 * DAY + 10 * HOUR, '203.0.113.77')];
    const detections = run(stage, [...peers, ...newcomer]);

    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.details?.basis, 'peer_group');
    assert.deepEqual((detections[0]?.explanation.details?.values as Array<{ value: string }>).map((entry) => entry.value), ['203.0.113.77']);
    assert.match(detections[0]?.explanation.summary ?? '', /u-new is still learning \(0 days, 2 events of history\), so it was judged against its peer group billing-clerk in billing, whose members had not used it in the last 10 days/);
  });
});

describe('rare', () => {
  it('raises on a value below max_share', () => {
    const stage = stageOf(newAddress('', 'rare').replace('  min_values: 1', '  min_values: 1\n  max_share: 0.05'));
    const events = usual('u-1', 5).map((event, index) => (index % 40 === 0 ? { ...event, source: { ip: '10.31.0.9' } } : event));
    const detections = run(stage, [...events, from('u-1', START + 5 * DAY + 9 * HOUR, '10.31.0.9'), from('u-1', START + 5 * DAY + 10 * HOUR, '10.31.0.7')]);

    assert.equal(detections.length, 1);
    const [value] = detections[0]?.explanation.details?.values as Array<{ value: string; share_percent: number }>;
    assert.equal(value?.value, '10.31.0.9');
    assert.ok((value?.share_percent as number) > 0, 'the address was used before');
    assert.ok((value?.share_percent as number) < 5, 'the address is below max_share');
  });

  it('requires max_share', () => {
    const { errors } = parseDetector(newAddress('', 'rare'), 'test.yaml', { defaultTimeZone: ZONE });
    assert.match(errors.map((error) => error.describe()).join('\n'), /missing required key 'thresholds\.max_share'/);
  });

  it('first_seen rejects max_share', () => {
    const { errors } = parseDetector(newAddress().replace('  min_values: 1', '  max_share: 0.1'), 'test.yaml', { defaultTimeZone: ZONE });
    assert.match(errors.map((error) => error.describe()).join('\n'), /key 'thresholds\.max_share' has no effect for first_seen/);
  });
});
