import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAlert } from '../../src/alerts/build.js';
import { formatPreview } from '../../src/cli/preview.js';
import type { Detection } from '../../src/detect/types.js';
import { detectionFor, eventAt } from '../helpers/detections.js';

const created = new Date('2026-12-01T00:00:00Z');

/** Builds a spray detection grouped by source address whose trigger event is the victim `user`. */
function sprayTriggeredBy(user: string, at: string): Detection {
  const victim = eventAt(at, { source: { ip: '203.0.113.9' }, holter: { source: { input: 'test', format: 'okta' }, user: { id: user, known: false } } });
  return detectionFor(victim, {
    rule: { id: 'holter-password-spray', name: 'Password spray from one source address', ruleset: 'sigma' },
    groupKey: { 'source.ip': '203.0.113.9' },
    window: { start: at, end: at },
    explanation: { summary: '8 users with failed logins for source 203.0.113.9 within 10 minutes (threshold: 8 or more)' },
  });
}

/** Returns the `top` line of the preview. */
function topLine(preview: string): string {
  return preview.split('\n').find((line) => line.trimStart().startsWith('top')) as string;
}

test('preview top names spray source', () => {
  const alerts = [sprayTriggeredBy('user7', '2026-03-02T14:21:10.000Z'), sprayTriggeredBy('user3', '2026-03-02T15:40:00.000Z')].map((found) => buildAlert(found, created));
  const top = topLine(formatPreview(alerts));
  assert.equal(top.trim(), 'top       source 203.0.113.9 (2)');
});

test('preview top names user group', () => {
  const top = topLine(formatPreview([buildAlert(detectionFor(eventAt('2026-10-29T06:03:00Z')), created)]));
  assert.equal(top.trim(), 'top       user u-1042 (1)');
});

test('preview top falls back to group key', () => {
  const detection = detectionFor(eventAt('2026-10-29T06:03:00Z'), { groupKey: { 'keycloak.client_id': 'billing-export', 'holter.patient.token': 'pt_0123' } });
  const top = topLine(formatPreview([buildAlert(detection, created)]));
  assert.equal(top.trim(), 'top       keycloak.client_id billing-export (1)');
});

test('preview escapes terminal controls', () => {
  const detection = detectionFor(eventAt('2026-10-29T06:03:00Z'), { groupKey: { 'holter.user.id': 'evil\u001b[2J\u202eX' } });
  const alert = buildAlert(detection, created);
  alert.user = { id: 'evil\u001b[2J\u202eX' };
  const preview = formatPreview([alert]);

  assert.equal(topLine(preview).trim(), 'top       user evil\\x1b[2J\\u202eX (1)');
  assert.doesNotMatch(preview, /[\u001b\u202e]/);
});

test('preview counts days in the facility zone', () => {
  const alerts = [buildAlert(detectionFor(eventAt('2026-12-01T02:01:00Z')), created), buildAlert(detectionFor(eventAt('2026-12-01T12:00:00Z')), created)];
  const dayLine = (preview: string): string => preview.split('\n').find((line) => line.includes('per day')) ?? '';

  assert.equal(dayLine(formatPreview(alerts)).trim(), 'per day   (UTC) 2026-12-01 2');
  assert.equal(dayLine(formatPreview(alerts, 'America/New_York')).trim(), 'per day   (America/New_York) 2026-11-30 1, 2026-12-01 1');
});
