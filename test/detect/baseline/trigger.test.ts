import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildAlert } from '../../../src/alerts/build.js';
import type { BaselineSnapshot } from '../../../src/detect/baseline/stage.js';
import { TriggerFacts } from '../../../src/detect/baseline/trigger.js';
import type { HolterEvent } from '../../../src/event.js';
import type { Detection } from '../../../src/detect/types.js';
import { DAY, HOUR, MINUTE, START, eventAt, run, stageOf } from './helpers.js';

/**
 * A bucket keeps the facts of its latest event that a detection reads, not the event. The alert
 * built from a detection must be the one the whole event would have given.
 */

const CREATED = new Date('2025-02-01T00:00:00Z');

function fullEvent(overrides: Record<string, unknown> = {}): HolterEvent {
  return eventAt(START + 9 * HOUR, {
    'holter.user.id': 'u-7',
    'holter.user.role': 'billing-clerk',
    'holter.user.department': 'billing',
    'holter.user.facility': 'north',
    'holter.user.time_zone': 'Europe/Berlin',
    'holter.patient.token': 'tok-1',
    'holter.patient.vip': true,
    'holter.record.type': 'Patient',
    'user.name': 'jdoe',
    'source.ip': '10.0.0.7',
    'host.name': 'ws-12',
    'observer.name': 'ehr',
    ...overrides,
  });
}

function detectionWith(trigger: HolterEvent, groupKey: Record<string, string>): Detection {
  return {
    rule: { id: 'r', name: 'r', ruleset: 'detector' },
    severity: 'medium',
    riskScore: 40,
    groupKey,
    window: { start: trigger['@timestamp'], end: trigger['@timestamp'] },
    explanation: { summary: 's' },
    evidence: [trigger.event.id],
    trigger,
  };
}

const GROUP_KEYS: Array<Record<string, string>> = [
  { 'holter.user.id': 'u-7' },
  { 'source.ip': '10.0.0.7' },
  { 'host.name': 'ws-12', 'event.action': 'read' },
  { 'user.name': 'jdoe' },
  { 'holter.patient.token': 'tok-1' },
];

describe('trigger facts', () => {
  for (const groupKey of GROUP_KEYS) {
    it(`match the whole event's alert by ${Object.keys(groupKey).join(' and ')}`, () => {
      const event = fullEvent();
      const withPatient = 'holter.patient.token' in groupKey;
      const facts = TriggerFacts.of(event, withPatient);
      const trigger = facts.toEvent(Date.parse(event['@timestamp']), event.event.id, groupKey);

      assert.deepEqual(buildAlert(detectionWith(trigger, groupKey), CREATED), buildAlert(detectionWith(event, groupKey), CREATED));
    });
  }

  it('are reused while events agree', () => {
    const first = TriggerFacts.of(fullEvent(), false);

    // Another patient, time and id: the facts of a group by user do not change.
    assert.equal(TriggerFacts.next(first, fullEvent({ 'holter.patient.token': 'tok-2' }), false), first);
    for (const [field, value] of [
      ['event.action', 'search'],
      ['event.category', ['database', 'iam']],
      ['source.ip', '10.0.0.8'],
      ['host.name', 'ws-13'],
      ['holter.user.role', 'nurse'],
      ['user.name', 'jdoe2'],
    ] as const) {
      const next = TriggerFacts.next(first, fullEvent({ [field]: value }), false);
      assert.notEqual(next, first, `${field} changed`);
    }
    assert.notEqual(TriggerFacts.next(TriggerFacts.of(fullEvent(), true), fullEvent({ 'holter.patient.token': 'tok-2' }), true), first);
  });

  it('omit fields the event lacked', () => {
    const event = eventAt(START, { 'holter.user.id': 'u-1' });
    const trigger = TriggerFacts.of(event, false).toEvent(START, 'e-1', { 'holter.user.id': 'u-1' });

    assert.deepEqual(trigger, {
      '@timestamp': new Date(START).toISOString(),
      event: { id: 'e-1', kind: 'event', category: ['database'], type: ['access'], action: 'read', outcome: 'success', dataset: 'test', module: 'test' },
      holter: { source: { input: 'test', format: 'test' }, user: { id: 'u-1' } },
    });
  });
});

const DAILY = `id: daily-reads
name: Daily reads
function: high_count
by: holter.user.id
bucket_span: 1d
seasonality: none
unit: reads
learning:
  min_days: 5
  min_events: 20
  half_life_days: 14
thresholds:
  min_score: 60
  min_actual: 10
severity: medium
risk_score: 40
`;

describe('bucket detection trigger', () => {
  it('is the latest event in event time', () => {
    const stage = stageOf(DAILY);
    const history: HolterEvent[] = [];
    for (let day = 0; day < 10; day += 1) {
      for (let index = 0; index < 5; index += 1) history.push(eventAt(START + day * DAY + 9 * HOUR + index * MINUTE, { 'holter.user.id': 'u-1', 'source.ip': '10.0.0.1' }));
    }
    assert.deepEqual(run(stage, history, false), []);

    // A burst on day 10. Its latest event comes from another address and arrives first.
    const latestMs = START + 10 * DAY + 15 * HOUR;
    const latest = eventAt(latestMs, { 'holter.user.id': 'u-1', 'source.ip': '10.9.9.9', 'event.action': 'export' });
    const detections = [...stage.process(latest, latestMs)];
    for (let index = 0; index < 40; index += 1) {
      const ms = START + 10 * DAY + 10 * HOUR + index * MINUTE;
      detections.push(...stage.process(eventAt(ms, { 'holter.user.id': 'u-1', 'source.ip': '10.0.0.1' }), latestMs));
    }
    detections.push(...stage.flush(Number.POSITIVE_INFINITY));

    assert.equal(detections.length, 1);
    const trigger = detections[0]?.trigger;
    assert.equal(trigger?.event.id, latest.event.id);
    assert.equal(trigger?.['@timestamp'], latest['@timestamp']);
    assert.equal(trigger?.event.action, 'export');
    assert.equal(trigger?.source?.ip, '10.9.9.9');
    assert.equal(trigger?.holter.user?.id, 'u-1');
  });

  it('restores from an event snapshot', () => {
    const stage = stageOf(DAILY);
    const event = fullEvent();
    stage.process(event, Date.parse(event['@timestamp']));
    const saved = JSON.parse(JSON.stringify(stage.snapshot())) as { detectors: Record<string, { series: Array<[string, { open: Array<{ trigger: HolterEvent }> }]> }> };
    const bucket = Object.values(saved.detectors)[0]?.series[0]?.[1].open[0];
    assert.ok(bucket);
    // The layout before trigger facts saved the latest event itself.
    bucket.trigger = event;

    const restored = stageOf(DAILY);
    restored.restore(saved as unknown as BaselineSnapshot);
    const again = JSON.parse(JSON.stringify(restored.snapshot())) as typeof saved;
    const trigger = Object.values(again.detectors)[0]?.series[0]?.[1].open[0]?.trigger;
    assert.equal(trigger?.event.id, event.event.id);
    assert.equal(trigger?.holter.user?.role, 'billing-clerk');
    assert.equal(trigger?.source?.ip, '10.0.0.7');
    // Only facts a detection reads are kept, so no record type and no patient for a group by user.
    assert.equal(trigger?.holter.record, undefined);
    assert.equal(trigger?.holter.patient, undefined);
  });
});
