import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertId, buildAlert, mitreFromTags } from '../../src/alerts/build.js';
import { detectionFor, eventAt } from '../helpers/detections.js';

const created = new Date('2026-12-01T00:00:00Z');

test('alert id is stable for rule, group and window', () => {
  const detection = detectionFor(eventAt('2026-10-29T06:03:00Z'));
  const again = detectionFor(eventAt('2026-10-29T06:04:00Z'));
  assert.equal(alertId(detection), alertId(again));
  assert.match(alertId(detection), /^[0-9a-f]{32}$/);
});

test('alert id changes with window or group', () => {
  const base = detectionFor(eventAt('2026-10-29T06:03:00Z'));
  const otherWindow = { ...base, window: { start: '2026-10-29T07:00:00.000Z', end: '2026-10-29T07:05:00.000Z' } };
  const otherGroup = { ...base, groupKey: { 'holter.user.id': 'u-2000' } };
  assert.notEqual(alertId(base), alertId(otherWindow));
  assert.notEqual(alertId(base), alertId(otherGroup));
});

test('alert carries ECS and explanation fields', () => {
  const alert = buildAlert(detectionFor(eventAt('2026-10-29T06:03:00Z')), created);
  assert.equal(alert.event.kind, 'alert');
  assert.equal(alert.event.severity, 4);
  assert.equal(alert.event.risk_score, 73);
  assert.equal(alert['@timestamp'], '2026-10-29T06:03:00Z');
  assert.equal(alert.event.created, '2026-12-01T00:00:00.000Z');
  assert.equal(alert.user?.id, 'u-1042');
  assert.equal(alert.source?.ip, '203.0.113.7');
  assert.equal(alert.holter.alert.explanation.actual, 12);
  assert.deepEqual(alert.holter.alert.evidence, ['e1', 'e2']);
  assert.equal(alert.holter.user?.role, 'nurse');
  assert.deepEqual(alert.threat?.technique?.id, ['T1110']);
});

test('MITRE tags split into tactics and techniques', () => {
  const threat = mitreFromTags(['attack.credential_access', 'attack.t1110.003', 'attack.g0016', 'detection.threat_hunting']);
  assert.deepEqual(threat?.tactic?.name, ['credential-access']);
  assert.deepEqual(threat?.technique?.id, ['T1110.003']);
  assert.equal(mitreFromTags(['cve.2021-44228']), undefined);
});
