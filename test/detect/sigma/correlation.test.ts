/**
 * The examples of the Sigma correlation rules specification 2.1, each run as a timeline.
 * Base rules the examples only name are written here with a Windows Security or Holter
 * log source so that they can match.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { HolterEvent } from '../../../src/event.js';
import type { Detection } from '../../../src/detect/types.js';
import type { SigmaStage } from '../../../src/detect/sigma/stage.js';
import { compileTexts, holterEvent, windowsEvent } from './helpers.js';

const START_MS = Date.parse('2024-05-01T00:00:00.000Z');
const at = (offsetMs: number): string => new Date(START_MS + offsetMs).toISOString();

function stageOf(texts: string[], allowedLatenessMs = 60_000): SigmaStage {
  const result = compileTexts(texts, { allowedLatenessMs });
  assert.deepEqual(result.errors.map((error) => error.describe()), []);
  return result.stage;
}

function run(stage: SigmaStage, events: HolterEvent[], flush = true): Detection[] {
  const detections: Detection[] = [];
  for (const event of events) detections.push(...stage.process(event, Number.NEGATIVE_INFINITY));
  if (flush) detections.push(...stage.flush(Number.POSITIVE_INFINITY));
  return detections;
}

const titled = (detections: Detection[], title: string): Detection[] => detections.filter((detection) => detection.rule.name === title);

const FAILED_LOGIN = `title: Failed login
id: 5638f7c0-ac70-491d-8465-2a65075e0d86
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
`;

function securityEvent(eventId: number, offsetMs: number, data: Record<string, unknown>): HolterEvent {
  return windowsEvent({ eventId, channel: 'Security', time: at(offsetMs), data });
}

describe('event_count example', () => {
  const correlation = `title: Many failed logins
id: 0e95725d-7320-415d-80f7-004da920fc11
correlation:
    type: event_count
    rules:
        - 5638f7c0-ac70-491d-8465-2a65075e0d86
    group-by:
        - ComputerName
    timespan: 1h
    condition:
        gte: 100
`;
  const failures = (count: number, spacingMs: number) =>
    Array.from({ length: count }, (_, index) => securityEvent(4625, index * spacingMs, { ComputerName: 'dc-01' }));

  test('100 failures in an hour fire', () => {
    const detections = titled(run(stageOf([FAILED_LOGIN, correlation]), failures(100, 30_000)), 'Many failed logins');
    assert.equal(detections.length, 1);
    assert.deepEqual(detections[0]?.groupKey, { ComputerName: 'dc-01' });
    assert.equal(detections[0]?.evidence.length, 50);
    assert.equal(detections[0]?.explanation.actual, 100);
  });

  test('99 failures never fire', () => {
    assert.equal(titled(run(stageOf([FAILED_LOGIN, correlation]), failures(99, 30_000)), 'Many failed logins').length, 0);
  });

  test('base rule is silent by default', () => {
    assert.deepEqual(run(stageOf([FAILED_LOGIN, correlation]), failures(3, 1000)), []);
  });

  test('generate true keeps base detections', () => {
    const loud = correlation.replace('correlation:', 'generate: true\ncorrelation:');
    assert.equal(titled(run(stageOf([FAILED_LOGIN, loud]), failures(3, 1000)), 'Failed login').length, 3);
  });
});

describe('value_count example', () => {
  const correlation = `title: Failed login
id: 0e95725d-7320-415d-80f7-004da920fc12
correlation:
    type: value_count
    rules:
        - 5638f7c0-ac70-491d-8465-2a65075e0d86
    group-by:
        - ComputerName
        - WorkstationName
    timespan: 1d
    condition:
        field: User
        gte: 100
`;
  const failures = (users: number) =>
    Array.from({ length: 150 }, (_, index) =>
      securityEvent(4625, index * 60_000, { ComputerName: 'dc-01', WorkstationName: 'ws-7', User: `user-${index % users}` }),
    );

  test('100 distinct users fire', () => {
    const detections = titled(run(stageOf([FAILED_LOGIN.replace('title: Failed login', 'title: Single failed login'), correlation]), failures(100)), 'Failed login');
    assert.equal(detections.length, 1);
    assert.deepEqual(detections[0]?.groupKey, { ComputerName: 'dc-01', WorkstationName: 'ws-7' });
    assert.equal(detections[0]?.explanation.actual, 100);
  });

  test('99 distinct users never fire', () => {
    const detections = titled(run(stageOf([FAILED_LOGIN.replace('title: Failed login', 'title: Single failed login'), correlation]), failures(99)), 'Failed login');
    assert.equal(detections.length, 0);
  });
});

describe('temporal example', () => {
  const recon = (name: string, command: string) => `title: Recon ${command}
name: ${name}
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: '${command}'
    condition: selection
`;
  const correlation = `title: Recon burst
correlation:
    type: temporal
    rules:
        - recon_cmd_a
        - recon_cmd_b
        - recon_cmd_c
    group-by:
        - ComputerName
        - User
    timespan: 5m
`;
  const rules = [recon('recon_cmd_a', 'whoami'), recon('recon_cmd_b', 'ipconfig'), recon('recon_cmd_c', 'net group'), correlation];
  const command = (text: string, offsetMs: number, user = 'alice') =>
    windowsEvent({ eventId: 1, time: at(offsetMs), data: { CommandLine: text, ComputerName: 'ws-1', User: user } });

  test('three commands in any order fire', () => {
    const events = [command('net group admins', 0), command('whoami /all', 60_000), command('ipconfig /all', 120_000)];
    const detections = titled(run(stageOf(rules), events), 'Recon burst');
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.actual, 3);
  });

  test('two of three never fire', () => {
    const events = [command('net group admins', 0), command('whoami /all', 60_000)];
    assert.equal(titled(run(stageOf(rules), events), 'Recon burst').length, 0);
  });

  test('commands by two users never fire', () => {
    const events = [command('net group admins', 0), command('whoami /all', 60_000, 'bob'), command('ipconfig /all', 120_000)];
    assert.equal(titled(run(stageOf(rules), events), 'Recon burst').length, 0);
  });

  test('commands spread over 5m never fire', () => {
    const events = [command('net group admins', 0), command('whoami /all', 60_000), command('ipconfig /all', 300_000)];
    assert.equal(titled(run(stageOf(rules), events), 'Recon burst').length, 0);
  });
});

describe('full example: failed logins then success', () => {
  const file = `title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
`;
  const failures = Array.from({ length: 10 }, (_, index) => securityEvent(4625, index * 30_000, { User: 'alice' }));
  const TITLE = 'Correlation - Multiple Failed Logins Followed by Successful Login';

  test('failures then success fire', () => {
    const detections = run(stageOf([file]), [...failures, securityEvent(4624, 400_000, { User: 'alice' })]);
    assert.equal(titled(detections, TITLE).length, 1);
    assert.equal(titled(detections, TITLE)[0]?.severity, 'high');
    // Without generate: true, neither the referenced correlation nor the referenced rule is output.
    assert.equal(titled(detections, 'Multiple failed logons').length, 0);
    assert.equal(titled(detections, 'Successful login').length, 0);
  });

  test('success first never fires', () => {
    const detections = run(stageOf([file]), [securityEvent(4624, 0, { User: 'alice' }), ...failures.map((event, index) => ({ ...event, '@timestamp': at(1000 + index * 1000) }))]);
    assert.equal(titled(detections, TITLE).length, 0);
  });
});

describe('value_sum example', () => {
  const rules = [
    `title: Website access
name: website_access
logsource:
    product: holter
detection:
    selection:
        event.category: web
    condition: selection
`,
    `title: Possible Exfiltration to Website
correlation:
    type: value_sum
    rules:
        - website_access
    group-by:
        - SourceIP
        - User
    timespan: 1h
    condition:
        field: bytes_sent
        gt: 1000000
`,
  ];
  const upload = (offsetMs: number, bytes: number) => {
    const event = holterEvent({ time: at(offsetMs), category: ['web'], outcome: 'success' });
    Object.assign(event, { SourceIP: '10.0.0.8', User: 'alice', bytes_sent: bytes });
    return event;
  };

  test('sum over the limit fires', () => {
    const detections = titled(run(stageOf(rules), [upload(0, 400_000), upload(60_000, 400_000), upload(120_000, 300_000)]), 'Possible Exfiltration to Website');
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.actual, 1_100_000);
  });

  test('sum at the limit never fires', () => {
    const detections = titled(run(stageOf(rules), [upload(0, 500_000), upload(60_000, 500_000)]), 'Possible Exfiltration to Website');
    assert.equal(detections.length, 0);
  });
});

describe('value_avg example', () => {
  const rules = [
    `title: Network traffic
name: rule_a_id
logsource:
    product: holter
detection:
    selection:
        event.category: network
    condition: selection
`,
    `title: Suspicious average network traffic
correlation:
    type: value_avg
    rules:
        - rule_a_id
    group-by:
        - SourceIP
        - User
    timespan: 24h
    condition:
        field: BytesOut
        gt: 500
`,
  ];
  const traffic = (offsetMs: number, bytes: number) => {
    const event = holterEvent({ time: at(offsetMs), category: ['network'], outcome: 'success' });
    Object.assign(event, { SourceIP: '10.0.0.8', User: 'alice', BytesOut: bytes });
    return event;
  };

  test('average fires when the window closes', () => {
    const stage = stageOf(rules);
    const early = run(stage, [traffic(0, 900), traffic(3_600_000, 300)], false);
    assert.equal(titled(early, 'Suspicious average network traffic').length, 0);

    const closed = run(stage, [traffic(25 * 3_600_000, 10)], false);
    const detections = titled(closed, 'Suspicious average network traffic');
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.actual, 600);
    assert.deepEqual(detections[0]?.window, { start: at(0), end: at(24 * 3_600_000) });
  });

  test('low average never fires', () => {
    assert.equal(titled(run(stageOf(rules), [traffic(0, 400), traffic(1000, 500)]), 'Suspicious average network traffic').length, 0);
  });
});

describe('field name aliases example', () => {
  const rules = [
    `title: Internal error
name: internal_error
logsource:
    product: holter
detection:
    selection:
        http.response.status_code: 500
    condition: selection
`,
    `title: New network connection
name: new_network_connection
logsource:
    product: holter
detection:
    selection:
        event.category: network
        event.type: connection
        event.outcome: success
    condition: selection
`,
    `title: Error then connection back
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip
`,
  ];
  const serverError = (offsetMs: number) => {
    const event = holterEvent({ time: at(offsetMs), category: ['web'], outcome: 'failure' });
    Object.assign(event, { http: { response: { status_code: 500 } }, source: { ip: '198.51.100.7' }, destination: { ip: '10.0.0.5' } });
    return event;
  };
  const connection = (offsetMs: number, from: string, to: string) => {
    const event = holterEvent({ time: at(offsetMs), category: ['network'], outcome: 'success' });
    event.event.type = ['connection'];
    Object.assign(event, { source: { ip: from }, destination: { ip: to } });
    return event;
  };

  test('aliased fields group together', () => {
    const detections = titled(run(stageOf(rules), [serverError(0), connection(5000, '10.0.0.5', '198.51.100.7')]), 'Error then connection back');
    assert.equal(detections.length, 1);
    assert.deepEqual(detections[0]?.groupKey, { internal_ip: '10.0.0.5', remote_ip: '198.51.100.7' });
  });

  test('other addresses never group', () => {
    const detections = titled(run(stageOf(rules), [serverError(0), connection(5000, '10.0.0.6', '198.51.100.7')]), 'Error then connection back');
    assert.equal(detections.length, 0);
  });
});

describe('upper-bound conditions', () => {
  const base = `title: Heartbeat
name: heartbeat
logsource:
    product: holter
detection:
    selection:
        event.category: heartbeat
    condition: selection
`;
  const fewer = `title: Too few heartbeats
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
  const beat = (offsetMs: number, host = 'pacs-1') => {
    const event = holterEvent({ time: at(offsetMs), category: ['heartbeat'], outcome: 'success' });
    event.host = { name: host };
    return event;
  };

  test('lt waits for the window to close', () => {
    const stage = stageOf([base, fewer], 0);
    assert.equal(titled(run(stage, [beat(0), beat(60_000)], false), 'Too few heartbeats').length, 0);
    const closed = titled(run(stage, [beat(11 * 60_000, 'other')], false), 'Too few heartbeats');
    assert.equal(closed.length, 1);
    assert.equal(closed[0]?.explanation.summary, '2 events matching Heartbeat for host pacs-1 within 10 minutes (threshold: fewer than 3)');
  });

  test('lt is evaluated at flush', () => {
    const detections = titled(run(stageOf([base, fewer]), [beat(0)]), 'Too few heartbeats');
    assert.equal(detections.length, 1);
  });

  test('lt never fires when enough arrive', () => {
    const detections = titled(run(stageOf([base, fewer]), [beat(0), beat(1000), beat(2000)]), 'Too few heartbeats');
    assert.equal(detections.length, 0);
  });

  test('range needs both bounds', () => {
    const range = fewer.replace('        lt: 3', '        gt: 1\n        lte: 2').replace('Too few heartbeats', 'Two heartbeats');
    assert.equal(titled(run(stageOf([base, range]), [beat(0), beat(1000)]), 'Two heartbeats').length, 1);
    assert.equal(titled(run(stageOf([base, range]), [beat(0), beat(1000), beat(2000)]), 'Two heartbeats').length, 0);
    assert.equal(titled(run(stageOf([base, range]), [beat(0)]), 'Two heartbeats').length, 0);
  });
});

describe('correlation state', () => {
  const base = `title: Ping
name: ping
logsource:
    product: holter
detection:
    selection:
        event.category: ping
    condition: selection
`;
  const correlation = `title: Ping burst
correlation:
    type: event_count
    rules:
        - ping
    group-by:
        - user.name
    timespan: 1m
    condition:
        gte: 2
`;
  const ping = (offsetMs: number, user: string) => holterEvent({ time: at(offsetMs), category: ['ping'], outcome: 'success', userName: user });

  test('closed groups are expired', () => {
    const stage = stageOf([base, correlation], 0);
    run(stage, Array.from({ length: 50 }, (_, index) => ping(index * 1000, `user-${index}`)), false);
    assert.equal(stage.stats().correlation_groups, 50);
    run(stage, [ping(10 * 60_000, 'late-comer')], false);
    assert.equal(stage.stats().correlation_groups, 1);
  });

  test('events without group field are counted', () => {
    const stage = stageOf([base, correlation]);
    run(stage, [holterEvent({ time: at(0), category: ['ping'], outcome: 'success' })]);
    assert.equal(stage.stats().hits_without_group_key, 1);
  });
});
