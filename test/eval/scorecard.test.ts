import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAlert } from '../../src/alerts/build.js';
import type { Alert } from '../../src/alerts/types.js';
import { SIGNAL_TAG } from '../../src/detect/risk/index.js';
import { computeMetrics } from '../../src/eval/metrics.js';
import { formatScorecard, scoreAlerts, type Label } from '../../src/eval/scorecard.js';
import { detectionFor, eventAt } from '../helpers/detections.js';

const incident: Label = {
  kind: 'incident',
  name: 'credential-stuffing',
  userId: 'u-1042',
  startMs: Date.parse('2026-10-29T06:00:00Z'),
  endMs: Date.parse('2026-10-29T06:10:00Z'),
  expect: ['holter-failed-login-burst'],
  description: 'burst',
};
const trap: Label = { ...incident, kind: 'trap', name: 'typo', userId: 'u-2000', expect: [] };

function alertFor(ruleId: string, userId: string, time: string): Alert {
  const trigger = eventAt(time);
  trigger.holter.user = { id: userId };
  return buildAlert(detectionFor(trigger, { rule: { id: ruleId, name: ruleId, ruleset: 'sigma' }, groupKey: { 'holter.user.id': userId } }), new Date());
}

test('scorecard credits the expected rule', () => {
  const card = scoreAlerts([incident, trap], [alertFor('holter-failed-login-burst', 'u-1042', '2026-10-29T06:05:00Z')]);
  assert.equal(card.incidentsCaught, 1);
  assert.equal(card.trapsClean, 1);
  assert.equal(card.unexplained.length, 0);
});

test('scorecard ignores the wrong user', () => {
  const card = scoreAlerts([incident], [alertFor('holter-failed-login-burst', 'u-9999', '2026-10-29T06:05:00Z')]);
  assert.equal(card.incidentsCaught, 0);
  assert.equal(card.unexplained.length, 1);
});

test('scorecard lists unexplained alerts', () => {
  const alerts = Array.from({ length: 12 }, (_, index) => alertFor('after-hours-record-access', `u-${3000 + index}`, '2026-10-29T06:05:00Z'));
  const text = formatScorecard(scoreAlerts([incident], alerts));

  assert.match(text, /unexplained alerts 12\n/);
  assert.match(text, /^ {4}unexplained 2026-10-29T06:05:00Z after-hours-record-access user u-3000: /m);
  assert.equal(text.match(/^ {4}unexplained /gm)?.length, 10);
  assert.match(text, /^ {4}and 2 more unexplained alerts$/m);
});

test('scorecard counts an alert on a trap', () => {
  const card = scoreAlerts([trap], [alertFor('after-hours-record-access', 'u-2000', '2026-10-29T06:05:00Z')]);
  assert.equal(card.trapsClean, 0);
  assert.equal(card.results[0]?.alerts.length, 1);
});

test('risk alert on an incident is explained', () => {
  const card = scoreAlerts([incident], [alertFor('risk-user', 'u-1042', '2026-10-29T06:06:00Z')]);
  assert.equal(card.incidentsCaught, 0, 'a risk alert alone is not the catch');
  assert.equal(card.unexplained.length, 0);
});

test('metrics add up several runs', () => {
  const caught = scoreAlerts([incident, trap], [alertFor('holter-failed-login-burst', 'u-1042', '2026-10-29T06:05:00Z')]);
  const noisy = scoreAlerts([incident, trap], [alertFor('holter-failed-login-burst', 'u-1042', '2026-10-29T06:05:00Z'), alertFor('after-hours-record-access', 'u-3000', '2026-10-29T06:05:00Z')]);
  const metrics = computeMetrics([
    { scorecard: caught, alerts: 1, userDays: 1000 },
    { scorecard: noisy, alerts: 2, userDays: 1000 },
  ]);
  assert.equal(metrics.alerts, 3);
  assert.equal(metrics.falseAlerts, 1);
  assert.equal(metrics.precision, 2 / 3);
  assert.equal(metrics.recall, 1);
  assert.equal(metrics.falseAlertsPerThousandUserDays, 0.5);
});

test('scorecard dates repeated labels', () => {
  const secondNight: Label = { ...trap, startMs: Date.parse('2026-10-30T22:00:00Z'), endMs: Date.parse('2026-10-31T06:00:00Z') };
  const lines = formatScorecard(scoreAlerts([trap, secondNight], [])).split('\n');

  assert.match(lines[1]!, /typo\s+u-2000\s+2026-10-29 06:00Z  0 alert\(s\) on the trap$/);
  assert.match(lines[2]!, /typo\s+u-2000\s+2026-10-30 22:00Z  0 alert\(s\) on the trap$/);
});

test('metrics leave signals out of precision', () => {
  const signal = alertFor('after-hours-record-access', 'u-3000', '2026-10-29T06:05:00Z');
  signal.tags = [SIGNAL_TAG];
  const unexplained = alertFor('after-hours-record-access', 'u-3001', '2026-10-29T06:05:00Z');
  const card = scoreAlerts([incident], [alertFor('holter-failed-login-burst', 'u-1042', '2026-10-29T06:05:00Z'), unexplained, ...Array.from({ length: 8 }, () => signal)]);
  assert.equal(card.signals, 8);

  const metrics = computeMetrics([{ scorecard: card, alerts: 10, userDays: 1000 }]);
  assert.equal(metrics.alerts, 2);
  assert.equal(metrics.precision, 1 / 2);
});
