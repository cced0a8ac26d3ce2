import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { decodeRecord } from '../../src/decoders/index.js';
import type { DecodeContext } from '../../src/decoders/types.js';
import type { HolterEvent } from '../../src/event.js';
import { simulateHospital, type SimulatedHospital, type SimulatedRecord } from '../../src/sim/index.js';
import { summarise, type RecordSummary } from './parse.js';

const CONTEXT: DecodeContext = { defaultTimeZone: 'America/New_York', now: new Date('2026-12-01T00:00:00Z') };

interface Decoded {
  record: SimulatedRecord;
  summary: RecordSummary;
  event: HolterEvent;
}

describe('simulated records through the decoders', () => {
  let hospital: SimulatedHospital;
  const decoded: Decoded[] = [];
  const deadLetters: string[] = [];

  before(() => {
    hospital = simulateHospital({ seed: 5, staff: 40 });
    let line = 0;
    for (const record of hospital.records()) {
      line++;
      // No format is set, so detection per record is tested as well.
      const result = decodeRecord({ input: 'simulated', text: record.text, line }, CONTEXT);
      if (!result.ok) {
        deadLetters.push(`${record.format} line ${line}: ${result.reason}: ${result.message}`);
        continue;
      }
      assert.equal(result.events.length, 1, `${record.format} line ${line} gives one event`);
      decoded.push({ record, summary: summarise(record), event: result.events[0] as HolterEvent });
    }
  });

  it('leaves no dead letters', () => {
    assert.deepEqual(deadLetters.slice(0, 5), []);
    assert.ok(decoded.length > 10_000, `${decoded.length} events`);
  });

  it('detects each record format', () => {
    for (const { record, event } of decoded) assert.equal(event.holter.source.format, record.format);
  });

  it('keeps event time', () => {
    for (const { record, event } of decoded) assert.equal(Date.parse(event['@timestamp']), record.eventTimeMs, record.text.slice(0, 120));
  });

  it('sets user, source and patient', () => {
    for (const { record, summary, event } of decoded) {
      assert.equal(event.user?.name, summary.account, `user.name of ${record.format}`);
      assert.equal(event.source?.ip, summary.ip, `source.ip of ${record.format}`);
      assert.equal(event.holter.patient?.id, summary.patientId, `holter.patient.id of ${record.format}`);
    }
  });

  it('sets outcomes of sign-ins', () => {
    const logins = decoded.filter(({ record }) => record.format === 'okta');
    assert.ok(logins.some(({ event }) => event.event.outcome === 'failure'));
    for (const { summary, event } of logins) {
      const expected = summary.kind === 'login-failure' ? 'failure' : 'success';
      assert.equal(event.event.outcome, expected);
      assert.ok(event.event.category.includes('authentication'), event.event.category.join(','));
    }
  });

  it('sets outcomes of chart access', () => {
    const charts = decoded.filter(({ record }) => record.format === 'fhir');
    assert.ok(charts.some(({ event }) => event.event.outcome === 'failure'), 'some searches fail');
    for (const { record, event } of charts) {
      const outcome = (JSON.parse(record.text) as { outcome: string }).outcome;
      assert.equal(event.event.outcome, outcome === '0' ? 'success' : 'failure');
    }
  });

  it('counts studies and instances', () => {
    const images = decoded.filter(({ record }) => record.format === 'dicom-audit');
    assert.ok(images.length > 500, `${images.length} image records`);
    for (const { summary, event } of images) {
      assert.equal(event.holter.dicom?.study_count, 1);
      assert.equal(event.holter.dicom?.instance_count, summary.instances);
      assert.equal(event.holter.dicom?.study_uids?.length, 1);
    }
  });

  it('flags the break-glass with its reason', () => {
    const overrides = decoded.filter(({ event }) => event.holter.access?.break_glass === true);
    assert.equal(overrides.length, 1);
    const reason = (JSON.parse((overrides[0] as Decoded).record.text) as { purposeOfEvent: Array<{ text: string }> }).purposeOfEvent[0]?.text;
    assert.equal(overrides[0]?.event.holter.access?.reason, reason);
    const label = hospital.labels.find((candidate) => candidate.name === 'break-glass-vip');
    assert.ok(label);
    assert.ok(Date.parse(overrides[0]?.event['@timestamp'] as string) >= label.startMs);
  });
});
