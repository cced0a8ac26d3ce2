import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertId, buildAlert, mitreFromTags } from '../../src/alerts/build.js';
import type { Detection } from '../../src/detect/types.js';
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

/** Builds a password spray as the shipped correlation raises it: grouped by source.ip, triggered by the eighth victim. */
function spray(): Detection {
  const victim = eventAt('2026-10-29T06:07:00Z', { source: { ip: '203.0.113.9' }, host: { name: 'okta-edge' } });
  return detectionFor(victim, {
    rule: { id: 'holter-password-spray', name: 'Password spray from one source address', ruleset: 'sigma' },
    groupKey: { 'source.ip': '203.0.113.9' },
    explanation: { summary: '8 users with failed logins for source 203.0.113.9 within 10 minutes (threshold: 8 or more)' },
    evidence: ['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8'],
  });
}

test('spray alert names the source', () => {
  const alert = buildAlert(spray(), created);
  assert.deepEqual(alert.source, { ip: '203.0.113.9' });
  assert.equal(alert.user, undefined);
  assert.equal(alert.host, undefined);
  assert.equal(alert.holter.user, undefined);
  assert.equal(alert.holter.patient, undefined);
});

test('spray alert keeps victims as evidence', () => {
  const alert = buildAlert(spray(), created);
  assert.equal(alert.holter.alert.evidence.length, 8);
  assert.deepEqual(alert.holter.alert.group_key, { 'source.ip': '203.0.113.9' });
  assert.deepEqual(alert.event.category, ['authentication']);
});

test('user group keeps only group fields', () => {
  const trigger = eventAt('2026-10-29T06:03:00Z', { host: { name: 'ws-icu-04' } });
  const alert = buildAlert(detectionFor(trigger), created);
  assert.deepEqual(alert.user, { id: 'u-1042' });
  assert.equal(alert.holter.user?.role, 'nurse');
  assert.equal(alert.source, undefined);
  assert.equal(alert.host, undefined);
  assert.equal(alert.holter.patient, undefined);
});

test('user and patient group keeps patient', () => {
  const detection = detectionFor(eventAt('2026-10-29T06:03:00Z'), { groupKey: { 'holter.user.id': 'u-1042', 'holter.patient.token': 'pt_0123' } });
  const alert = buildAlert(detection, created);
  assert.equal(alert.user?.id, 'u-1042');
  assert.equal(alert.holter.patient?.token, 'pt_0123');
});

test('account group keeps account name', () => {
  const detection = detectionFor(eventAt('2026-10-29T06:03:00Z'), { groupKey: { 'user.name': 'jdoe@stjude.example.org' } });
  const alert = buildAlert(detection, created);
  assert.deepEqual(alert.user, { id: 'u-1042', name: 'jdoe@stjude.example.org' });
  assert.equal(alert.holter.user?.department, 'ccu');
});

test('single event keeps trigger entities', () => {
  const trigger = eventAt('2026-10-29T06:03:00Z', { host: { name: 'ws-icu-04' } });
  const alert = buildAlert(detectionFor(trigger, { groupKey: {} }), created);
  assert.deepEqual(alert.user, { id: 'u-1042', name: 'jdoe@stjude.example.org' });
  assert.deepEqual(alert.source, { ip: '203.0.113.7' });
  assert.deepEqual(alert.host, { name: 'ws-icu-04' });
  assert.equal(alert.holter.user?.role, 'nurse');
  assert.equal(alert.holter.patient?.token, 'pt_0123');
});

test('source risk alert names no user', () => {
  const detection = detectionFor(eventAt('2026-10-29T06:07:00Z', { source: { ip: '203.0.113.9' } }), {
    rule: { id: 'risk-source', name: 'Accumulated risk of one source address', ruleset: 'detector' },
    groupKey: { 'source.ip': '203.0.113.9', 'holter.risk.window': '24h' },
  });
  const alert = buildAlert(detection, created);
  assert.deepEqual(alert.source, { ip: '203.0.113.9' });
  assert.equal(alert.user, undefined);
});
