import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { alertId } from '../../../src/alerts/build.js';
import { RiskStage } from '../../../src/detect/risk/index.js';
import { loadSigmaRules } from '../../../src/detect/sigma/stage.js';
import type { Detection } from '../../../src/detect/types.js';
import type { HolterEvent } from '../../../src/event.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { DAY_MS, HOUR_MS, T0, configFrom, detection, run, shippedConfig, threeMedium } from './timeline.js';

/** Decayed sum of `score` added at each of `agesHours` before the judged time. */
function decayedSum(score: number, agesHours: number[], halfLifeHours: number): number {
  return agesHours.reduce((sum, age) => sum + score * Math.pow(2, -age / halfLifeHours), 0);
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

const ONE_WINDOW = `half_life: 12h
floor: 5
entities: { user: 1, source: 0.8, host: 0.5 }
windows:
  - { name: 24h, length: 24h, threshold: 100 }
`;

describe('RiskStage thresholds', () => {
  it('three medium detections page', async () => {
    const stage = new RiskStage(await shippedConfig());
    const raised = run(stage, threeMedium('u-1042', T0 + 9 * HOUR_MS));

    assert.equal(raised.length, 1);
    const page = raised[0] as Detection;
    assert.equal(page.rule.id, 'risk-user');
    assert.equal(page.rule.ruleset, 'detector');
    assert.deepEqual(page.groupKey, { 'holter.user.id': 'u-1042', 'holter.risk.window': '24h' });
    assert.equal(page.explanation.actual, round(decayedSum(47, [2, 1, 0], 12)));
    assert.equal(page.explanation.threshold, 100);
    assert.equal(page.explanation.unit, 'risk points');
    assert.equal(page.severity, 'high');
    assert.equal(page.riskScore, 75);
    assert.equal(page.trigger['@timestamp'], new Date(T0 + 11 * HOUR_MS).toISOString());
  });

  it('one high detection does not page', async () => {
    const stage = new RiskStage(await shippedConfig());
    const raised = run(stage, [detection({ ruleId: 'holter-break-glass-access', severity: 'high', atMs: T0, user: 'u-1042' })]);
    assert.deepEqual(raised, []);
    assert.equal(stage.stats().contributions, 1);
  });

  it('two medium detections do not page', async () => {
    const stage = new RiskStage(await shippedConfig());
    assert.deepEqual(run(stage, threeMedium('u-1042', T0).slice(0, 2)), []);
  });

  it('decay makes old detections count less', async () => {
    const stage = new RiskStage(await shippedConfig());
    const spread = [0, 1, 22].map((hour) => detection({ ruleId: `rule-${hour}`, atMs: T0 + hour * HOUR_MS, user: 'u-1042' }));
    assert.deepEqual(run(stage, spread), []);
    // Undecayed, the three would reach 141; decayed to the third detection's time they stay near 74.
    assert.ok(decayedSum(47, [22, 21, 0], 12) < 75);
    assert.equal(stage.stats().contributions, 3);
  });

  it('lists decayed scores top first', async () => {
    const stage = new RiskStage(await shippedConfig());
    const raised = run(stage, [
      detection({ ruleId: 'old-high', severity: 'high', atMs: T0, user: 'u-7', events: 2 }),
      detection({ ruleId: 'new-medium', atMs: T0 + 5 * HOUR_MS, user: 'u-7' }),
    ]);

    assert.equal(raised.length, 1);
    const details = raised[0]?.explanation.details as { contributions: Array<Record<string, unknown>> };
    assert.deepEqual(details.contributions.map((item) => item.rule_id), ['old-high', 'new-medium']);
    assert.equal(details.contributions[0]?.score, 73);
    assert.equal(details.contributions[0]?.decayed_score, round(73 * Math.pow(2, -5 / 12)));
    assert.equal(details.contributions[1]?.decayed_score, 47);
    assert.equal(
      raised[0]?.explanation.summary,
      'user u-7 reached risk 101.7 within 24h (threshold 100) from 2 detections in the 24h up to 2025-01-06T05:00:00.000Z; ' +
        'top: old-high 54.7 at 2025-01-06T00:00:00.000Z, new-medium 47 at 2025-01-06T05:00:00.000Z; ' +
        'the alert window starts at the first detection not in an earlier alert and spans 24h',
    );
  });

  it('excludes contributions one window old', () => {
    // A long half-life, so that only the window decides what counts.
    const config = configFrom(ONE_WINDOW.replace('half_life: 12h', 'half_life: 1000h'));
    const first = (): Detection => detection({ ruleId: 'r', atMs: T0, user: 'u-1', riskScore: 60 });

    const atEdge = run(new RiskStage(config), [first(), detection({ ruleId: 'r', atMs: T0 + DAY_MS, user: 'u-1', riskScore: 50 })]);
    assert.deepEqual(atEdge, []);

    const inside = run(new RiskStage(config), [first(), detection({ ruleId: 'r', atMs: T0 + DAY_MS - 1, user: 'u-1', riskScore: 50 })]);
    assert.equal(inside.length, 1);
  });
});

describe('RiskStage pages', () => {
  it('does not page again while above', async () => {
    const stage = new RiskStage(await shippedConfig());
    const burst = [0, 1, 2, 3, 4].map((hour) => detection({ ruleId: `rule-${hour}`, atMs: T0 + hour * HOUR_MS, user: 'u-1042' }));
    const raised = run(stage, burst);

    assert.equal(raised.length, 1);
    // Suppressed: the 24h window at the fourth and fifth detections, the 7d window at the fifth.
    assert.equal(stage.stats().pages_suppressed_already_raised, 3);
    // The fourth detection takes the 7d window past 180, but the 24h page covers the burst.
    assert.equal(stage.stats().pages_covered_by_shorter_window, 1);
  });

  it('pages again after falling below', () => {
    const stage = new RiskStage(configFrom(ONE_WINDOW));
    const raised = run(stage, [...threeMedium('u-1042', T0), ...threeMedium('u-1042', T0 + 40 * HOUR_MS)]);

    assert.equal(raised.length, 2);
    assert.equal(stage.stats().rearmed_fell_below_rearm_level, 1);
    assert.equal(raised[1]?.window.start, new Date(T0 + 40 * HOUR_MS).toISOString());
    assert.notEqual(alertId(raised[0] as Detection), alertId(raised[1] as Detection));
  });

  it('pages once per window while risk stays high', async () => {
    const stage = new RiskStage(configFrom(ONE_WINDOW));
    const hourly: Detection[] = [];
    for (let hour = 0; hour < 30; hour += 1) hourly.push(detection({ ruleId: 'r', atMs: T0 + hour * HOUR_MS, user: 'u-1' }));
    const raised = run(stage, hourly);

    assert.equal(raised.length, 2);
    assert.equal(stage.stats().rearmed_window_moved_on, 1);
    assert.equal(raised[0]?.window.start, new Date(T0).toISOString());
    assert.equal(raised[0]?.window.end, new Date(T0 + DAY_MS).toISOString());
    assert.equal(raised[1]?.window.start, new Date(T0 + DAY_MS).toISOString());
    assert.equal(raised[1]?.trigger['@timestamp'], new Date(T0 + DAY_MS).toISOString());
  });

  it('keeps users and addresses apart', async () => {
    const stage = new RiskStage(await shippedConfig());
    const raised = run(stage, [
      detection({ ruleId: 'r', atMs: T0, user: 'a-1', sourceIp: '10.0.0.5' }),
      detection({ ruleId: 'r', atMs: T0 + HOUR_MS, user: 'a-1', sourceIp: '10.0.0.5' }),
      detection({ ruleId: 'r', atMs: T0 + 2 * HOUR_MS, user: 'b-2', sourceIp: '10.0.0.5' }),
    ]);

    // Each user stays below 100, but the shared address collects 0.8 x 47 from all three.
    assert.equal(raised.length, 1);
    assert.equal(raised[0]?.rule.id, 'risk-source');
    assert.deepEqual(raised[0]?.groupKey, { 'source.ip': '10.0.0.5', 'holter.risk.window': '24h' });
    assert.equal(raised[0]?.explanation.actual, round(0.8 * decayedSum(47, [2, 1, 0], 12)));
    assert.equal(stage.stats().entities, 3);
  });

  it('scores hosts by their weight', async () => {
    const shipped = await shippedConfig();
    const stage = new RiskStage({ ...shipped, weights: { ...shipped.weights, host: 0.5 } });
    const hourly = [0, 1, 2, 3, 4].map((hour) => detection({ ruleId: 'r', atMs: T0 + hour * HOUR_MS, host: 'ws-ccu-04', severity: 'high' }));
    const raised = run(stage, hourly);

    // 0.5 x 73 per detection: the third reaches 100. The risk dips to 97.7 before the fourth, which
    // is above the re-arm level of 50, so the fourth does not page again.
    assert.deepEqual(raised.map((page) => [page.rule.id, page.groupKey['host.name']]), [['risk-host', 'ws-ccu-04']]);
    assert.equal(raised[0]?.trigger['@timestamp'], new Date(T0 + 2 * HOUR_MS).toISOString());
  });

  it('ignores hosts by default', async () => {
    const stage = new RiskStage(await shippedConfig());
    const hourly = [0, 1, 2, 3, 4].map((hour) => detection({ ruleId: 'r', atMs: T0 + hour * HOUR_MS, host: 'pacs01', severity: 'high' }));
    assert.deepEqual(run(stage, hourly), []);
  });

  it('re-arms at the threshold when asked', () => {
    const stage = new RiskStage(configFrom(ONE_WINDOW.replace('threshold: 100', 'threshold: 100, rearm_ratio: 1')));
    const hourly = [0, 1, 2, 3].map((hour) => detection({ ruleId: 'r', atMs: T0 + hour * HOUR_MS, host: 'ws-ccu-04', severity: 'high' }));
    const raised = run(stage, hourly);

    assert.equal(raised.length, 2);
    assert.equal(stage.stats().rearmed_fell_below_rearm_level, 1);
  });

  it('skips detections without entities', async () => {
    const stage = new RiskStage(await shippedConfig());
    assert.deepEqual(run(stage, [detection({ ruleId: 'r', atMs: T0 })]), []);
    assert.equal(stage.stats().detections_without_entity, 1);
  });

  it('ignores its own detections', async () => {
    const stage = new RiskStage(await shippedConfig());
    const raised = run(stage, threeMedium('u-1', T0));
    assert.deepEqual(run(stage, raised), []);
    assert.equal(stage.stats().detections_own_ignored, 1);
    assert.equal(stage.stats().contributions, 3);
  });
});

describe('RiskStage alert ids', () => {
  it('derives the same id on reprocessing', async () => {
    const timeline = () => threeMedium('u-1042', T0 + 9 * HOUR_MS + 750);
    const first = run(new RiskStage(await shippedConfig()), timeline());
    const second = run(new RiskStage(await shippedConfig()), timeline());

    assert.equal(first.length, 1);
    assert.equal(alertId(first[0] as Detection), alertId(second[0] as Detection));
    // Window start: the first contribution's time truncated to the second.
    assert.equal(first[0]?.window.start, '2025-01-06T09:00:00.000Z');
    assert.equal(first[0]?.window.end, '2025-01-07T09:00:00.000Z');
  });

  it('ignores arrival order within lateness', async () => {
    const [a, b, c] = threeMedium('u-1042', T0) as [Detection, Detection, Detection];
    const inOrder = run(new RiskStage(await shippedConfig()), [a, b, c], 3 * HOUR_MS);
    const shuffled = run(new RiskStage(await shippedConfig()), [c, a, b], 3 * HOUR_MS);

    assert.equal(inOrder.length, 1);
    assert.equal(alertId(shuffled[0] as Detection), alertId(inOrder[0] as Detection));
    assert.equal(shuffled[0]?.explanation.summary, inOrder[0]?.explanation.summary);
  });

  it('waits for the watermark', async () => {
    const stage = new RiskStage(await shippedConfig());
    const raised = run(stage, threeMedium('u-1', T0), HOUR_MS, { flush: false });
    assert.deepEqual(raised, []);
    assert.equal(stage.stats().pending, 1);
    assert.equal(stage.advance(T0 + 2 * HOUR_MS).length, 1);
  });
});

describe('RiskStage evidence', () => {
  it('collects evidence oldest first', async () => {
    const stage = new RiskStage(await shippedConfig());
    const inputs = [
      detection({ ruleId: 'r1', atMs: T0, user: 'u-1', events: 2 }),
      detection({ ruleId: 'r2', atMs: T0 + HOUR_MS, user: 'u-1', events: 3 }),
      detection({ ruleId: 'r3', atMs: T0 + 2 * HOUR_MS, user: 'u-1' }),
    ];
    const raised = run(stage, inputs);
    assert.deepEqual(raised[0]?.evidence, inputs.flatMap((input) => input.evidence));
  });

  it('caps evidence at evidence_limit', () => {
    const stage = new RiskStage(configFrom(`${ONE_WINDOW}evidence_limit: 4\n`));
    const raised = run(stage, threeMedium('u-1', T0).map((item) => ({ ...item, evidence: ['e1', 'e2', 'e3'].map((id) => `${item.rule.id}-${id}`) })));
    assert.deepEqual(raised[0]?.evidence, ['rule-0-e1', 'rule-0-e2', 'rule-0-e3', 'rule-1-e1']);
  });

  it('carries contributing ATT&CK tags', async () => {
    const stage = new RiskStage(await shippedConfig());
    const inputs = threeMedium('u-1', T0);
    (inputs[0] as Detection).tags = ['attack.credential_access', 'attack.t1110'];
    const raised = run(stage, inputs);
    assert.deepEqual(raised[0]?.tags, ['holter.risk', 'attack.credential_access', 'attack.t1110']);
  });
});

describe('RiskStage signals', () => {
  const SIGNALS = `${ONE_WINDOW}signals:\n  rules: [holter-self-lookup]\n`;

  it('tags listed rules as signals', () => {
    const stage = new RiskStage(configFrom(SIGNALS));
    const listed = detection({ ruleId: 'holter-self-lookup', atMs: T0, user: 'u-1', ruleTags: ['attack.collection'] });
    const marked = stage.markSignal(listed);

    assert.deepEqual(marked.tags, ['attack.collection', 'holter.signal']);
    assert.equal(listed.tags, undefined);
  });

  it('leaves other detections unchanged', () => {
    const stage = new RiskStage(configFrom(SIGNALS));
    const other = detection({ ruleId: 'holter-break-glass-access', atMs: T0, user: 'u-1' });
    assert.equal(stage.markSignal(other), other);
    assert.equal(stage.isSignal(other), false);
  });

  it('counts tagged signals toward risk', () => {
    const stage = new RiskStage(configFrom(SIGNALS));
    const quiet = threeMedium('u-1', T0).map((item) => ({ ...item, rule: { ...item.rule, tags: ['holter.signal'] } }));
    const raised = run(stage, quiet);

    assert.equal(stage.isSignal(quiet[0] as Detection), true);
    assert.equal(stage.markSignal(quiet[0] as Detection), quiet[0]);
    assert.equal(raised.length, 1);
    assert.equal(stage.stats().detections_signal, 3);
    const details = raised[0]?.explanation.details as { contributions: Array<{ signal: boolean }> };
    assert.deepEqual(details.contributions.map((item) => item.signal), [true, true, true]);
    assert.ok(!(raised[0]?.tags ?? []).includes('holter.signal'));
  });
});

describe('RiskStage scaling', () => {
  const SCALED = `${ONE_WINDOW}scale:\n  rules: { noisy-rule: 0.5 }\n  tags: { attack.discovery: 1.5, Attack.T1087: 1.2 }\n`;

  it('multiplies tag factors', () => {
    const stage = new RiskStage(configFrom(SCALED));
    const raised = run(stage, [detection({ ruleId: 'enum', severity: 'high', atMs: T0, user: 'u-1', tags: ['attack.discovery', 'attack.t1087'] })]);
    assert.equal(raised.length, 1);
    assert.equal(raised[0]?.explanation.actual, round(73 * 1.5 * 1.2));
  });

  it('prefers the rule factor', () => {
    const stage = new RiskStage(configFrom(SCALED));
    const raised = run(stage, [detection({ ruleId: 'noisy-rule', severity: 'critical', atMs: T0, user: 'u-1', tags: ['attack.discovery'] }), ...threeMedium('u-2', T0)]);
    assert.deepEqual(raised.map((page) => page.groupKey['holter.user.id']), ['u-2']);
  });
});

describe('RiskStage memory bounds', () => {
  it('forgets entities below the floor', async () => {
    const stage = new RiskStage(await shippedConfig());
    run(stage, threeMedium('u-1', T0));
    assert.equal(stage.stats().entities, 1);

    // Ten days on, u-1's risk in both windows has decayed below the floor of 5.
    run(stage, [detection({ ruleId: 'r', atMs: T0 + 10 * DAY_MS, user: 'u-2' })]);
    assert.equal(stage.stats().entities_expired, 1);
    assert.equal(stage.stats().entities, 1);
  });

  it('evicts the least recent entity', () => {
    const stage = new RiskStage(configFrom(`${ONE_WINDOW}max_entities: 2\n`));
    run(stage, ['u-1', 'u-2', 'u-1', 'u-3'].map((user, index) => detection({ ruleId: 'r', atMs: T0 + index * 60_000, user })));
    assert.equal(stage.stats().entities, 2);
    assert.equal(stage.stats().entities_evicted, 1);
    const keptUsers = stage.snapshot().entities.map((entity) => entity.value);
    assert.deepEqual(keptUsers.sort(), ['u-1', 'u-3']);
  });

  it('caps contributions per entity', () => {
    const stage = new RiskStage(configFrom(`${ONE_WINDOW}max_contributions: 2\n`));
    const raised = run(stage, [0, 1, 2, 3].map((minute) => detection({ ruleId: 'r', atMs: T0 + minute * 60_000, user: 'u-1', riskScore: 40 })));
    // Only the two newest contributions (80) remain, so the threshold of 100 is never reached.
    assert.deepEqual(raised, []);
    assert.equal(stage.stats().contributions_dropped, 2);
  });
});

describe('RiskStage with Sigma rules', () => {
  function breakGlass(user: string, atMs: number, id: string): HolterEvent {
    return {
      '@timestamp': new Date(atMs).toISOString(),
      event: { id, kind: 'event', category: ['database'], type: ['access'], action: 'read', outcome: 'success', dataset: 'fhir.audit_event', module: 'fhir' },
      holter: { source: { input: 'test', format: 'fhir' }, user: { id: user, known: true }, access: { break_glass: true } },
    };
  }

  it('pages repeated break-glass access', async () => {
    const { stage: sigma, errors } = await loadSigmaRules([path.join(REPO_ROOT, 'rules', 'break-glass-access.yml')]);
    assert.deepEqual(errors.map((error) => error.describe()), []);
    const risk = new RiskStage(await shippedConfig());

    const first = sigma.process(breakGlass('u-7', T0, 'bg-1'), T0);
    assert.equal(first.length, 1);
    assert.deepEqual(first.flatMap((found) => risk.observe(found, T0)), []);

    const second = sigma.process(breakGlass('u-7', T0 + 2 * HOUR_MS, 'bg-2'), T0 + 2 * HOUR_MS);
    const raised = second.flatMap((found) => risk.observe(found, T0 + 2 * HOUR_MS));
    assert.equal(raised.length, 1);
    assert.equal(raised[0]?.rule.id, 'risk-user');
    assert.deepEqual(raised[0]?.evidence, ['bg-1', 'bg-2']);
    assert.equal(raised[0]?.explanation.actual, round(decayedSum(first[0]?.riskScore ?? 0, [2, 0], 12)));
  });
});
