import assert from 'node:assert/strict';
import { test } from 'node:test';

import { lintRuleSources } from '../../../src/detect/sigma/lint.js';
import { SigmaStage } from '../../../src/detect/sigma/stage.js';
import type { HolterEvent } from '../../../src/event.js';
import { compileTexts, holterEvent, shippedMapping } from './helpers.js';

const FAILED_LOGIN = `title: Failed login
id: 00000000-0000-4000-8000-00000000c001
name: t-failed
logsource:
    product: holter
    category: authentication
detection:
    selection:
        event.outcome: failure
    condition: selection
level: informational
`;

const BURST = `title: Failed login burst
id: 00000000-0000-4000-8000-00000000c002
name: t-burst
correlation:
    type: event_count
    rules:
        - t-failed
    group-by:
        - holter.user.id
    timespan: 5m
    condition:
        gte: 3
level: medium
`;

const BURST_THEN_SUCCESS = `title: Burst then success
id: 00000000-0000-4000-8000-00000000c003
name: t-burst-success
correlation:
    type: temporal_ordered
    rules:
        - t-burst
        - t-success
    group-by:
        - holter.user.id
    timespan: 10m
level: high
---
title: Successful login
id: 00000000-0000-4000-8000-00000000c004
name: t-success
logsource:
    product: holter
    category: authentication
detection:
    selection:
        event.outcome: success
    condition: selection
level: informational
`;

function login(second: number, outcome: 'success' | 'failure', userId = 'u-1', extra: Partial<HolterEvent> = {}): HolterEvent {
  const time = new Date(Date.UTC(2024, 4, 1, 8, 0, second)).toISOString();
  return { ...holterEvent({ time, outcome, userId }), ...extra };
}

function run(stage: SigmaStage, events: HolterEvent[]): string[] {
  const ids = events.flatMap((event) => stage.process(event, Number.NEGATIVE_INFINITY).map((detection) => detection.rule.id));
  return [...ids, ...stage.flush(Number.POSITIVE_INFINITY).map((detection) => detection.rule.id)];
}

test('value_count counts field combinations', () => {
  const rule = `title: Accounts on hosts
id: 00000000-0000-4000-8000-00000000c010
name: t-pairs
correlation:
    type: value_count
    rules:
        - t-failed
    group-by:
        - source.ip
    timespan: 5m
    condition:
        field:
            - user.name
            - host.name
        gte: 3
level: medium
`;
  const result = compileTexts([FAILED_LOGIN, rule]);
  assert.deepEqual(result.errors.map((error) => error.describe()), []);

  const event = (second: number, user: string, host: string | undefined): HolterEvent => {
    const base = login(second, 'failure', 'u-1');
    base.source = { ip: '10.0.0.9' };
    base.user = { name: user };
    if (host !== undefined) base.host = { name: host };
    return base;
  };
  // Two combinations repeat and one event lacks host.name, so only the fourth distinct pair fires.
  const events = [event(0, 'ann', 'ws-1'), event(1, 'ann', 'ws-1'), event(2, 'ann', 'ws-2'), event(3, 'bob', undefined), event(4, 'bob', 'ws-1')];
  const detections = events.flatMap((item) => result.stage.process(item, Number.NEGATIVE_INFINITY));
  assert.equal(detections.length, 1);
  assert.equal(detections[0]?.explanation.actual, 3);
  assert.equal(detections[0]?.trigger, events[4]);
  assert.match(detections[0]?.explanation.summary ?? '', /3 distinct combinations of user\.name and host\.name/);
  assert.match(detections[0]?.explanation.summary ?? '', /events lacking one of the fields are not counted/);
});

test('value_count field list keeps values apart', () => {
  const rule = `title: Pairs
id: 00000000-0000-4000-8000-00000000c011
correlation:
    type: value_count
    rules:
        - t-failed
    group-by:
        - source.ip
    timespan: 5m
    condition:
        field: [user.name, host.name]
        gte: 2
level: medium
`;
  const result = compileTexts([FAILED_LOGIN, rule]);
  assert.deepEqual(result.errors.map((error) => error.describe()), []);
  const event = (user: string, host: string): HolterEvent => ({ ...login(0, 'failure'), source: { ip: '10.0.0.9' }, user: { name: user }, host: { name: host } });
  // Joined without a boundary, 'a,b'+'c' and 'a'+'b,c' would be one combination.
  const detections = [event('a,b', 'c'), event('a', 'b,c')].flatMap((item) => result.stage.process(item, Number.NEGATIVE_INFINITY));
  assert.equal(detections.length, 1);
});

test('field list rejected outside value_count', () => {
  const rule = `title: Sum of two
id: 00000000-0000-4000-8000-00000000c012
correlation:
    type: value_sum
    rules:
        - t-failed
    group-by:
        - source.ip
    timespan: 5m
    condition:
        field: [bytes, packets]
        gte: 2
`;
  const result = compileTexts([FAILED_LOGIN, rule]);
  const messages = result.errors.map((error) => error.message);
  assert.equal(messages.length, 1);
  assert.match(messages[0] ?? '', /only value_count counts combinations/);
});

test('informational rules raise no detection', () => {
  const result = compileTexts([FAILED_LOGIN, BURST]);
  assert.deepEqual(result.errors.map((error) => error.describe()), []);
  const stage = new SigmaStage(result.stage.ruleSet);
  const fired = run(stage, [login(0, 'failure'), login(1, 'failure'), login(2, 'failure')]);

  assert.deepEqual(fired, ['t-burst']);
  assert.equal(stage.stats().rule_matches, 3);
  assert.equal(stage.stats().detections_suppressed, 3);
});

test('informational rule unused by correlations stays quiet', () => {
  const result = compileTexts([FAILED_LOGIN]);
  const stage = new SigmaStage(result.stage.ruleSet);
  assert.deepEqual(run(stage, [login(0, 'failure')]), []);
  assert.equal(stage.stats().rule_matches, 1);
});

test('informational correlation feeds but does not alert', () => {
  const quietBurst = BURST.replace('level: medium', 'level: informational');
  const result = compileTexts([FAILED_LOGIN, quietBurst, BURST_THEN_SUCCESS.replace('    timespan: 10m', '    timespan: 10m\n    generate: true')]);
  assert.deepEqual(result.errors.map((error) => error.describe()), []);
  const stage = new SigmaStage(result.stage.ruleSet);
  const fired = run(stage, [login(0, 'failure'), login(1, 'failure'), login(2, 'failure'), login(30, 'success')]);
  assert.deepEqual(fired, ['t-burst-success']);
});

test('returnSuppressed shows a quiet rule', () => {
  const result = compileTexts([FAILED_LOGIN, BURST]);
  const stage = new SigmaStage(result.stage.ruleSet, { returnSuppressed: ['t-failed'] });
  const fired = run(stage, [login(0, 'failure'), login(1, 'failure'), login(2, 'failure')]);
  assert.deepEqual(fired, ['t-failed', 't-failed', 't-failed', 't-burst']);
});

test('referenced correlation is quiet without generate', () => {
  const result = compileTexts([FAILED_LOGIN, BURST, BURST_THEN_SUCCESS]);
  assert.deepEqual(result.errors.map((error) => error.describe()), []);
  const stage = new SigmaStage(result.stage.ruleSet);
  const fired = run(stage, [login(0, 'failure'), login(1, 'failure'), login(2, 'failure'), login(30, 'success')]);
  assert.deepEqual(fired, ['t-burst-success']);
});

test('generate true keeps referenced correlation', () => {
  const loud = BURST_THEN_SUCCESS.replace('    timespan: 10m', '    timespan: 10m\n    generate: true');
  const result = compileTexts([FAILED_LOGIN, BURST, loud]);
  assert.deepEqual(result.errors.map((error) => error.describe()), []);
  const stage = new SigmaStage(result.stage.ruleSet);
  const fired = run(stage, [login(0, 'failure'), login(1, 'failure'), login(2, 'failure'), login(30, 'success')]);
  assert.deepEqual(fired, ['t-burst', 't-burst-success']);
});

const SSH_RULE = `title: Failed login
id: 00000000-0000-4000-8000-00000000c020
name: t-auth
logsource:
    product: holter
    category: authentication
detection:
    selection:
        event.outcome: failure
    condition: selection
level: low
`;

test('filter outside rule logsource is rejected', () => {
  const filter = `title: Ignore the backup account
logsource:
    product: windows
    service: security
filter:
    rules:
        - t-auth
    selection:
        user.name: svc_backup
    condition: selection
`;
  const result = compileTexts([{ file: 'rules/auth.yml', text: SSH_RULE }, { file: 'rules/mf_backup.yml', text: filter }]);
  assert.equal(result.errors.length, 1);
  assert.match(result.errors[0]?.describe() ?? '', /^rules\/mf_backup\.yml:7:11: Filter 'Ignore the backup account' refers to 't-auth', but the rule's log source is outside the filter's: the filter has product 'windows' and the rule has 'holter'/);
  assert.equal(result.stage.stats().filters_applied, 0);

  const backup = login(0, 'failure', 'u-1', { user: { name: 'svc_backup' } });
  assert.deepEqual(run(new SigmaStage(result.stage.ruleSet), [backup]), ['t-auth']);
});

test('filter with broader logsource applies', () => {
  const filter = `title: Ignore the backup account
logsource:
    product: holter
filter:
    rules:
        - t-auth
    selection:
        user.name: svc_backup
    condition: selection
`;
  const result = compileTexts([SSH_RULE, filter]);
  assert.deepEqual(result.errors.map((error) => error.describe()), []);
  assert.equal(result.stage.stats().filters_applied, 1);
  const backup = login(0, 'failure', 'u-1', { user: { name: 'svc_backup' } });
  const nurse = login(1, 'failure', 'u-2', { user: { name: 'nurse' } });
  assert.deepEqual(run(new SigmaStage(result.stage.ruleSet), [backup, nurse]), ['t-auth']);
});

test('filter naming a correlation is rejected', () => {
  const filter = `title: Ignore bursts
logsource:
    product: holter
filter:
    rules:
        - t-burst
    selection:
        user.name: svc_backup
    condition: selection
`;
  const result = compileTexts([FAILED_LOGIN, BURST, filter]);
  assert.equal(result.errors.length, 1);
  assert.match(result.errors[0]?.message ?? '', /refers to 't-burst', which is a correlation rule\. Filters apply to detection rules only/);
});

test('all on single value is a lint warning', () => {
  const rule = SSH_RULE.replace('        event.outcome: failure', '        event.outcome: failure\n        user.name|contains|all: adm');
  const findings = lintRuleSources([{ file: 'rules/all.yml', text: rule }], shippedMapping());
  const found = findings.filter((item) => item.code === 'HOLTER_LINT_ALL_SINGLE_VALUE');
  assert.equal(found.length, 1);
  assert.equal(found[0]?.severity, 'warning');
  assert.equal(found[0]?.location.line, 10);

  const list = SSH_RULE.replace('        event.outcome: failure', "        event.outcome: failure\n        user.name|contains|all: ['adm', 'svc']");
  const clean = lintRuleSources([{ file: 'rules/all.yml', text: list }], shippedMapping());
  assert.deepEqual(clean.filter((item) => item.code === 'HOLTER_LINT_ALL_SINGLE_VALUE'), []);
});
