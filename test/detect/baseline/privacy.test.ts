import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildAlert } from '../../../src/alerts/build.js';
import type { Detection } from '../../../src/detect/types.js';
import { createEnricher } from '../../../src/enrich/index.js';
import { toWebhookPayload } from '../../../src/sinks/webhook/sink.js';
import { DAY_SHIFT, ZONE, feed, loadShipped, local, recordAccess, shiftEvents } from './events.js';
import { DAY, HOUR, MINUTE, START, eventAt, run, stageOf, workdays } from './helpers.js';

const MARKER = 'MARKER-PATIENT-5521';

describe('detections and patient ids', () => {
  it('carry no clear patient id', async () => {
    const enrich = createEnricher({ tokenKey: 'privacy-test-key-0123456789abcdef' });
    const stage = await loadShipped('after-hours-record-access.yaml');
    const worker = { id: 'u-1042', zone: ZONE };
    feed(stage, shiftEvents(worker, '2025-01-01', 28, DAY_SHIFT));

    const probe = Array.from({ length: 6 }, (_, index) => {
      const event = recordAccess(worker, local('2025-01-29T02:00') + index * 60_000);
      event.holter.patient = { id: `${MARKER}-${index}` };
      return enrich(event);
    });
    for (const event of probe) event.holter.user = { id: 'u-1042', known: true, time_zone: ZONE };
    feed(stage, probe);
    const detections = stage.flush(Number.POSITIVE_INFINITY);

    assert.equal(detections.length, 1);
    const serialised = JSON.stringify({ detections, snapshot: stage.snapshot(), stats: stage.stats() });
    assert.ok(!serialised.includes(MARKER));
    assert.ok(serialised.includes('pt_'));
  });
});

describe('pager summaries of detectors', () => {
  const clerk = { 'holter.user.role': 'billing-clerk', 'holter.user.department': 'billing' };

  it('withhold new patient tokens of a first_seen detector', () => {
    const stage = stageOf(`id: new-patient
name: New patient
function: first_seen
by: holter.user.id
field: holter.patient.token
bucket_span: 1d
learning: { min_days: 3, min_events: 30, half_life_days: 7 }
thresholds: { min_values: 3 }
severity: high
risk_score: 40
`);
    const usual = workdays(10, 2, () => ({ ...clerk, 'holter.user.id': 'u-7', 'holter.patient.token': 'pt_usual0001' }));
    const spree = Array.from({ length: 4 }, (_, index) => eventAt(START + 11 * DAY + 10 * HOUR + index * MINUTE, { ...clerk, 'holter.user.id': 'u-7', 'holter.patient.token': `pt_new000${index}` }));
    const detections = run(stage, [...usual, ...spree]);

    assert.equal(detections.length, 1);
    const detection = detections[0] as Detection;
    assert.match(detection.explanation.summary, /pt_new0000/);
    const page = toWebhookPayload(buildAlert(detection, new Date(START)));
    assert.match(page.summary, /^u-7 used 4 new holter\.patient\.token values \(\[withheld: see the stored alert\]\)/);
    assert.doesNotMatch(page.summary, /pt_/);
  });

  it('withhold influencer values a page may not show, and keep the user', () => {
    const stage = stageOf(`id: volume
name: Volume
function: high_count
by: holter.user.id
bucket_span: 1d
influencers: [holter.patient.token, source.ip]
learning: { min_days: 3, min_events: 30, half_life_days: 7 }
thresholds: { min_score: 50 }
severity: high
risk_score: 40
`);
    const usual = workdays(10, 1, () => ({ ...clerk, 'holter.user.id': 'u-7', 'holter.patient.token': 'pt_usual0001', 'source.ip': '10.31.0.7' }));
    const burst = Array.from({ length: 200 }, (_, index) => eventAt(START + 11 * DAY + 10 * HOUR + index * MINUTE, { ...clerk, 'holter.user.id': 'u-7', 'holter.patient.token': 'pt_burst0001', 'source.ip': '10.31.0.7' }));
    const detections = run(stage, [...usual, ...burst]);

    assert.equal(detections.length, 1);
    const detection = detections[0] as Detection;
    assert.match(detection.explanation.summary, /had holter\.patient\.token pt_burst0001$/);
    assert.match(detection.explanation.pagerSummary ?? '', /^u-7 had 200 events .* had holter\.patient\.token \[withheld: see the stored alert\]$/);
  });

  it('leave a summary without withheld values alone', () => {
    const stage = stageOf(`id: volume
name: Volume
function: high_count
by: holter.user.id
bucket_span: 1d
influencers: [source.ip]
learning: { min_days: 3, min_events: 30, half_life_days: 7 }
thresholds: { min_score: 50 }
severity: high
risk_score: 40
`);
    const usual = workdays(10, 1, () => ({ ...clerk, 'holter.user.id': 'u-7', 'source.ip': '10.31.0.7' }));
    const burst = Array.from({ length: 200 }, (_, index) => eventAt(START + 11 * DAY + 10 * HOUR + index * MINUTE, { ...clerk, 'holter.user.id': 'u-7', 'source.ip': '10.31.0.8' }));
    const detections = run(stage, [...usual, ...burst]);

    assert.equal(detections.length, 1);
    assert.match(detections[0]?.explanation.summary ?? '', /had source\.ip 10\.31\.0\.8$/);
    assert.equal(detections[0]?.explanation.pagerSummary, undefined);
  });
});
