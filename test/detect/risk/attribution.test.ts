import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { RiskStage } from '../../../src/detect/risk/index.js';
import { loadSigmaRules } from '../../../src/detect/sigma/stage.js';
import type { Detection } from '../../../src/detect/types.js';
import type { HolterEvent } from '../../../src/event.js';
import { eventAt, run as runDetector, stageOf, workdays } from '../baseline/helpers.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { HOUR_MS, T0, configFrom, detection, run } from './timeline.js';

/**
 * Every entity type weighted 1 and a threshold one high detection (risk score 73) reaches, so each
 * entity a detection adds risk to pages and the pages show where the risk went.
 */
const EVERY_ENTITY = `half_life: 12h
floor: 5
entities: { user: 1, source: 1, host: 1 }
windows:
  - { name: 24h, length: 24h, threshold: 20 }
`;

/** Returns `type value` of every entity holding risk, sorted. */
function entitiesWithRisk(stage: RiskStage): string[] {
  return stage.snapshot().entities.map((entity) => `${entity.type} ${entity.value}`).sort();
}

function failedLogin(atMs: number, user: string, sourceIp: string, host: string): HolterEvent {
  return {
    '@timestamp': new Date(atMs).toISOString(),
    event: { id: `fl-${atMs}-${user}`, kind: 'event', category: ['authentication'], type: ['start'], action: 'login', outcome: 'failure', dataset: 'okta.system', module: 'okta' },
    holter: { source: { input: 'test', format: 'okta' }, user: { id: user, known: true } },
    source: { ip: sourceIp },
    host: { name: host },
  };
}

/** Runs events through the named rule files and returns the detections, flushed at the end. */
async function sigmaDetections(files: string[], events: HolterEvent[]): Promise<Detection[]> {
  const { stage, errors } = await loadSigmaRules(files.map((file) => path.join(REPO_ROOT, 'rules', file)));
  assert.deepEqual(errors.map((error) => error.describe()), []);
  const found: Detection[] = [];
  let watermarkMs = Number.NEGATIVE_INFINITY;
  for (const event of events) {
    watermarkMs = Math.max(watermarkMs, Date.parse(event['@timestamp']));
    found.push(...stage.process(event, watermarkMs));
  }
  found.push(...stage.flush(watermarkMs + 1));
  return found;
}

describe('risk attribution', () => {
  it('spray by source adds source risk only', async () => {
    // Eight victims from one address: the shipped correlation groups by source.ip.
    const events = [0, 1, 2, 3, 4, 5, 6, 7].map((index) => failedLogin(T0 + index * 60_000, `u-${index}`, '203.0.113.9', 'okta-edge'));
    const spray = await sigmaDetections(['password-spray.yml', 'failed-login-burst.yml'], events);
    assert.deepEqual(spray.map((found) => found.rule.id), ['holter-password-spray']);

    const stage = new RiskStage(configFrom(EVERY_ENTITY));
    const raised = run(stage, spray);

    assert.deepEqual(raised.map((page) => page.rule.id), ['risk-source']);
    assert.equal(raised[0]?.groupKey['source.ip'], '203.0.113.9');
    assert.deepEqual(entitiesWithRisk(stage), ['source 203.0.113.9']);
  });

  it('correlation by user adds user risk', async () => {
    // Ten failures for one user from two addresses: the burst is about the user, not the last address.
    const events: HolterEvent[] = [];
    for (let index = 0; index < 10; index += 1) events.push(failedLogin(T0 + index * 10_000, 'u-1042', `198.51.100.${index % 2}`, 'okta-edge'));
    const burst = await sigmaDetections(['failed-login-burst.yml'], events);
    assert.deepEqual(burst.map((found) => found.rule.id), ['holter-failed-login-burst']);

    const stage = new RiskStage(configFrom(EVERY_ENTITY));
    const raised = run(stage, burst);

    assert.deepEqual(raised.map((page) => page.rule.id), ['risk-user']);
    assert.equal(raised[0]?.groupKey['holter.user.id'], 'u-1042');
    assert.deepEqual(entitiesWithRisk(stage), ['user u-1042']);
  });

  it('detector by user adds user risk', () => {
    // first_seen over source addresses: the new address is what the detector counts, not whom it is about.
    const detector = stageOf(`id: new-address
name: New address
function: first_seen
by: holter.user.id
field: source.ip
over: [holter.user.department]
bucket_span: 1h
history: 10d
learning:
  min_days: 3
  min_events: 30
  half_life_days: 7
thresholds:
  min_values: 1
severity: high
risk_score: 73
`);
    const usual = workdays(5, 2, () => ({ 'holter.user.id': 'u-1', 'holter.user.department': 'billing', 'source.ip': '10.31.0.7', 'host.name': 'ehr-app-1' }));
    const odd = eventAt(T0 + 5 * 24 * HOUR_MS + 2 * HOUR_MS, { 'holter.user.id': 'u-1', 'holter.user.department': 'billing', 'source.ip': '10.99.4.17', 'host.name': 'ehr-app-1' });
    const found = runDetector(detector, [...usual, odd]);
    assert.equal(found.length, 1);
    assert.deepEqual(found[0]?.groupKey, { 'holter.user.id': 'u-1' });

    const stage = new RiskStage(configFrom(EVERY_ENTITY));
    const raised = run(stage, found);

    assert.deepEqual(raised.map((page) => page.rule.id), ['risk-user']);
    assert.deepEqual(entitiesWithRisk(stage), ['user u-1']);
  });

  it('single event adds every entity risk', () => {
    const stage = new RiskStage(configFrom(EVERY_ENTITY));
    run(stage, [detection({ ruleId: 'r', severity: 'high', atMs: T0, user: 'u-7', sourceIp: '192.0.2.4', host: 'ws-icu-04' })]);
    assert.deepEqual(entitiesWithRisk(stage), ['host ws-icu-04', 'source 192.0.2.4', 'user u-7']);
  });

  it('group by other field adds none', () => {
    const keyed = { ...detection({ ruleId: 'client-burst', severity: 'high', atMs: T0, user: 'u-7', sourceIp: '192.0.2.4' }), groupKey: { 'keycloak.client_id': 'billing-export' } };
    const stage = new RiskStage(configFrom(EVERY_ENTITY));
    run(stage, [keyed]);

    assert.deepEqual(entitiesWithRisk(stage), []);
    assert.equal(stage.stats().detections_without_entity, 1);
  });

  it('group by alias names the entity', () => {
    // A Sigma name mapped to source.ip (Entra's IPAddress) keys the group by the trigger's address.
    const keyed = { ...detection({ ruleId: 'entra-spray', severity: 'high', atMs: T0, user: 'u-7', sourceIp: '192.0.2.4' }), groupKey: { IPAddress: '192.0.2.4' } };
    const stage = new RiskStage(configFrom(EVERY_ENTITY));
    run(stage, [keyed]);
    assert.deepEqual(entitiesWithRisk(stage), ['source 192.0.2.4']);
  });

  it('group by account name adds user risk', () => {
    const keyed = { ...detection({ ruleId: 'account-burst', severity: 'high', atMs: T0, user: 'u-7', sourceIp: '192.0.2.4' }), groupKey: { 'user.name': 'jdoe' } };
    const stage = new RiskStage(configFrom(EVERY_ENTITY));
    run(stage, [keyed]);
    assert.deepEqual(entitiesWithRisk(stage), ['user u-7']);
  });
});
