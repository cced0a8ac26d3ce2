import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAlert } from '../../src/alerts/build.js';
import type { Detection } from '../../src/detect/types.js';
import { formatAlert } from '../../src/sinks/console/sink.js';
import { detectionFor, eventAt } from '../helpers/detections.js';

const created = new Date('2026-12-01T00:00:00Z');

/** Returns the first line of the console block, which names the rule and the entity. */
function headerOf(detection: Detection): string {
  return formatAlert(buildAlert(detection, created), false).split('\n')[0] as string;
}

test('spray header names the source', () => {
  // The eighth victim (u-1042, a nurse) triggered the spray, which is grouped by source address.
  const victim = eventAt('2026-10-29T06:07:00Z', { source: { ip: '203.0.113.9' } });
  const header = headerOf(
    detectionFor(victim, {
      rule: { id: 'holter-password-spray', name: 'Password spray from one source address', ruleset: 'sigma' },
      groupKey: { 'source.ip': '203.0.113.9' },
    }),
  );

  assert.match(header, /\(holter-password-spray\) {2}source 203\.0\.113\.9$/);
  assert.doesNotMatch(header, /u-1042/);
  assert.doesNotMatch(header, /nurse/);
});

test('user header names user and role', () => {
  const header = headerOf(detectionFor(eventAt('2026-10-29T06:03:00Z')));
  assert.match(header, /\(holter-failed-login-burst\) {2}user u-1042 \(nurse, ccu\)$/);
});

test('header names host of a host group', () => {
  const trigger = eventAt('2026-10-29T06:03:00Z', { host: { name: 'ws-icu-04' } });
  const header = headerOf(detectionFor(trigger, { groupKey: { 'holter.user.id': 'u-1042', 'host.name': 'ws-icu-04' } }));
  assert.match(header, /user u-1042 host ws-icu-04 \(nurse, ccu\)$/);
});

test('header falls back to group key', () => {
  const header = headerOf(detectionFor(eventAt('2026-10-29T06:03:00Z'), { groupKey: { 'keycloak.client_id': 'billing-export' } }));
  assert.match(header, /keycloak\.client_id billing-export$/);
  assert.doesNotMatch(header, /u-1042/);
});

test('block escapes terminal controls', () => {
  const name = 'evil\u001b[2J\u001b[31mRED\u001b[0m\u202eX';
  const trigger = eventAt('2026-10-29T06:03:00Z', { user: { id: name } });
  const detection = detectionFor(trigger, {
    rule: { id: 'holter-failed-login-burst', name: 'Failed logins\u2066 burst', ruleset: 'sigma' },
    groupKey: { 'holter.user.id': name },
  });
  detection.explanation.summary = `Login failures for ${name}\r\nFAKE LINE`;
  const block = formatAlert(buildAlert(detection, created), true);

  assert.ok(block.includes('user evil\\x1b[2J\\x1b[31mRED\\x1b[0m\\u202eX'), block);
  assert.ok(block.includes('Failed logins\\u2066 burst'), block);
  assert.ok(block.includes(`Login failures for evil\\x1b[2J\\x1b[31mRED\\x1b[0m\\u202eX\\x0d\\x0aFAKE LINE`), block);
  // Only the severity colour and its reset remain as escape characters.
  assert.equal(block.split('\u001b').length - 1, 2);
  assert.doesNotMatch(block, /[\u202e\u2066\r]/);
});
