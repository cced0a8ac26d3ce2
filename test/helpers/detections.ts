import type { Detection } from '../../src/detect/types.js';
import type { HolterEvent } from '../../src/event.js';

/** Builds a minimal decoded event at `timestamp`, for tests of the alert stage and sinks. */
export function eventAt(timestamp: string, overrides: Partial<HolterEvent> = {}): HolterEvent {
  return {
    '@timestamp': timestamp,
    event: { id: `evt-${timestamp}`, kind: 'event', category: ['authentication'], type: ['start'], action: 'login', outcome: 'failure', dataset: 'okta.system', module: 'okta' },
    user: { name: 'jdoe@stjude.example.org' },
    source: { ip: '203.0.113.7' },
    holter: { source: { input: 'test', format: 'okta' }, user: { id: 'u-1042', known: true, role: 'nurse', department: 'ccu' }, patient: { token: 'pt_0123' } },
    ...overrides,
  };
}

export function detectionFor(trigger: HolterEvent, overrides: Partial<Detection> = {}): Detection {
  return {
    rule: { id: 'holter-failed-login-burst', name: 'Failed-login burst', ruleset: 'sigma', tags: ['attack.credential_access', 'attack.t1110'] },
    severity: 'high',
    riskScore: 73,
    groupKey: { 'holter.user.id': 'u-1042' },
    window: { start: '2026-10-29T06:00:00.000Z', end: '2026-10-29T06:05:00.000Z' },
    explanation: { summary: '12 failed logins for user u-1042 within 5 minutes (threshold: 10 or more)', actual: 12, threshold: 10, unit: 'events' },
    evidence: ['e1', 'e2'],
    trigger,
    ...overrides,
  };
}
