/**
 * Cases where Holter and RSigma disagree (docs/sigma-differences.md), pinned on Holter's side.
 * Tests marked `todo` fail today: they describe a Holter bug that the differential check found.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { readSigmaSuites } from '../../../src/cli/rules-sigma.js';
import type { Detection } from '../../../src/detect/types.js';
import type { HolterEvent } from '../../../src/event.js';
import { compileTexts, holterEvent } from './helpers.js';

const START_MS = Date.parse('2024-05-01T08:00:00.000Z');
const at = (offsetMs: number): string => new Date(START_MS + offsetMs).toISOString();

function run(texts: string[], events: HolterEvent[]): Detection[] {
  const result = compileTexts(texts, { allowedLatenessMs: 60_000 });
  assert.deepEqual(
    result.errors.map((error) => error.describe()),
    [],
  );
  const detections: Detection[] = [];
  for (const event of events) detections.push(...result.stage.process(event, Number.NEGATIVE_INFINITY));
  detections.push(...result.stage.flush(Number.POSITIVE_INFINITY));
  return detections;
}

const byRule = (detections: Detection[], id: string): Detection[] => detections.filter((detection) => detection.rule.id === id);

function actionRule(name: string, action: string): string {
  return `title: Action ${action}
name: ${name}
logsource:
    product: holter
detection:
    selection:
        event.action: ${action}
    condition: selection
level: informational
`;
}

function actionEvent(action: string, offsetMs: number, host = 'ws-1'): HolterEvent {
  const event = holterEvent({ time: at(offsetMs), category: ['process'] });
  event.event.action = action;
  event.host = { name: host };
  return event;
}

describe('temporal without a condition', () => {
  const correlation = `title: Three commands on one host
name: recon
correlation:
    type: temporal
    rules:
        - recon_a
        - recon_b
        - recon_c
    group-by:
        - host.name
    timespan: 5m
`;
  const texts = [correlation, actionRule('recon_a', 'whoami'), actionRule('recon_b', 'ipconfig'), actionRule('recon_c', 'net')];

  test('fires once every rule matched', () => {
    const detections = byRule(run(texts, [actionEvent('net', 0), actionEvent('ipconfig', 60_000), actionEvent('whoami', 120_000)]), 'recon');
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.window.start, at(0));
    assert.equal(detections[0]?.trigger['@timestamp'], at(120_000));
  });

  test('two of three rules do not fire', () => {
    const detections = byRule(run(texts, [actionEvent('net', 0), actionEvent('whoami', 60_000)]), 'recon');
    assert.deepEqual(detections, []);
  });
});

describe('event_count window edges', () => {
  const correlation = `title: Two blocks within a minute
name: block_pair
correlation:
    type: event_count
    rules:
        - block
    group-by:
        - host.name
    timespan: 1m
    condition:
        gte: 2
`;
  const texts = [correlation, actionRule('block', 'block')];

  test('event one timespan later is outside', () => {
    const detections = byRule(run(texts, [actionEvent('block', 0), actionEvent('block', 60_000)]), 'block_pair');
    assert.deepEqual(detections, []);
  });

  test('event 1 ms inside the timespan counts', () => {
    const detections = byRule(run(texts, [actionEvent('block', 0), actionEvent('block', 59_999)]), 'block_pair');
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.actual, 2);
  });

  test('milliseconds past the timespan are outside', () => {
    const detections = byRule(run(texts, [actionEvent('block', 0), actionEvent('block', 60_689)]), 'block_pair');
    assert.deepEqual(detections, []);
  });
});

describe('upper bound on the count', () => {
  const correlation = `title: Fewer than three heartbeats
name: heartbeat_gap
correlation:
    type: event_count
    rules:
        - heartbeat
    group-by:
        - host.name
    timespan: 10m
    condition:
        lt: 3
`;
  const texts = [correlation, actionRule('heartbeat', 'heartbeat')];

  test('counts the whole window', () => {
    const events = [0, 60_000, 120_000, 180_000].map((offsetMs) => actionEvent('heartbeat', offsetMs));
    assert.deepEqual(byRule(run(texts, events), 'heartbeat_gap'), []);
  });

  test('fires with the final count', () => {
    const detections = byRule(run(texts, [actionEvent('heartbeat', 0), actionEvent('heartbeat', 60_000)]), 'heartbeat_gap');
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.actual, 2);
  });
});

describe('inline test anchors', () => {
  // YAML 1.2 (section 3.2.2.2): an alias must refer to an anchor earlier in the same document,
  // and `---` starts a new document. Holter's test reader turns such an alias into an event
  // with no fields, so a `match: false` or `expect: []` case passes without testing anything.
  const text = `title: Failed login
name: failed-login
logsource:
    product: holter
detection:
    selection:
        event.outcome: failure
    condition: selection
holter:
    tests:
        - name: defines the anchor
          event: &failure { event.outcome: failure }
          match: true
---
title: Success login
name: success-login
logsource:
    product: holter
detection:
    selection:
        event.outcome: success
    condition: selection
holter:
    tests:
        - name: alias from the first document
          event: *failure
          match: false
`;

  test('alias across documents is rejected', () => {
    const { errors } = readSigmaSuites([{ file: 'anchors.yml', text }]);
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /failure/);
    assert.equal(errors[0]?.location?.line, 26);
  });
});
