import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseReference } from '../../src/decoders/fhir.js';
import { decodeFile, decodeOk, decodeText, samplePath } from './helpers.js';

describe('FHIR AuditEvent decoder', () => {
  it('maps the R4 login example', async () => {
    const [event] = await decodeFile(samplePath('ehr/fhir-r4_audit-event-example-login.json'));
    assert.ok(event);
    assert.equal(event['@timestamp'], '2013-06-20T23:41:23.000Z');
    assert.equal(event.event.id, 'example-login');
    assert.deepEqual(event.event.category, ['authentication']);
    assert.deepEqual(event.event.type, ['start']);
    assert.equal(event.event.action, 'login');
    assert.equal(event.event.outcome, 'success');
    assert.equal(event.event.dataset, 'fhir.audit_event');
    assert.equal(event.user?.name, '95');
    assert.equal(event.source?.ip, '127.0.0.1');
    assert.equal(event.observer?.name, 'hl7connect.healthintersections.com.au');
    assert.equal(event.holter.source.format, 'fhir');
  });

  it('never copies agent person names', async () => {
    const [event] = await decodeFile(samplePath('ehr/fhir-r4_audit-event-example-login.json'));
    assert.ok(!JSON.stringify(event).includes('Grahame'));
  });

  it('keeps a patient requestor out of user', async () => {
    const [event] = await decodeFile(samplePath('ehr/ihe-balp_AuditEvent-ex-auditPrivacyDisclosure-source.json'));
    assert.ok(event);
    assert.equal(event.user, undefined);
    assert.deepEqual(event.holter.acting_patient, { id: 'ex-patient' });
    assert.deepEqual(event.related?.user ?? [], []);
  });

  it('recognises patient requestors in every form', () => {
    const text = readFileSync(samplePath('ehr/fhir-r4_audit-event-example-login.json'), 'utf8');
    const cases: Array<[string, Record<string, unknown>, Record<string, unknown> | undefined, string]> = [
      ['who.type only', { type: 'Patient', identifier: { system: 'urn:mrn', value: 'PAT-T' } }, undefined, 'PAT-T'],
      ['trailing slash', { reference: 'Patient/PAT-S/' }, undefined, 'PAT-S'],
      ['search reference', { reference: 'Patient?identifier=urn:mrn|PAT-Q' }, undefined, 'Patient?identifier=urn:mrn|PAT-Q'],
      ['absolute URL', { reference: 'https://ehr.example.org/fhir/Patient/PAT-A/_history/2' }, undefined, 'PAT-A'],
      ['patient agent type', { identifier: { value: 'PAT-C' } }, { coding: [{ system: 'http://snomed.info/sct', code: '116154003' }] }, 'PAT-C'],
    ];
    for (const [name, who, type, id] of cases) {
      const resource = JSON.parse(text) as { agent: Array<Record<string, unknown>> };
      const requestor = resource.agent.find((agent) => agent.requestor === true) as Record<string, unknown>;
      requestor.who = who;
      if (type !== undefined) requestor.type = type;
      const [event] = decodeOk(JSON.stringify(resource));
      assert.equal(event?.user, undefined, name);
      assert.deepEqual(event?.holter.acting_patient, { id }, name);
    }
  });

  it('decodes the Bundle into three events', async () => {
    const events = await decodeFile(samplePath('ehr/gematik-erp_2025-01-15_07_response_getAuditEvent.json'));
    assert.equal(events.length, 3);
    assert.deepEqual(events.map((event) => event.event.action), ['create', 'read', 'update']);
    assert.deepEqual(events.map((event) => event.event.type[0]), ['creation', 'access', 'change']);
    assert.deepEqual(events.map((event) => event.event.id), ['58862', '58863', '620049']);
    assert.equal(events[0]?.['@timestamp'], '2025-01-15T15:29:00.434Z');
    assert.equal(events[0]?.holter.record?.type, 'Task');
    assert.equal(events[0]?.holter.record?.id, '160.000.000.000.000.01');
    assert.equal(events[0]?.user?.name, '1-2-DOC-Testkarte-012423424');
  });

  it('flags break-glass in the XML example', async () => {
    const [event] = await decodeFile(samplePath('ehr/hl7-fhir-source_auditevent-example-breakglass-start.xml'));
    assert.ok(event);
    assert.equal(event.holter.access?.break_glass, true);
    // The coded purpose, not the outcome text ("Successful  Start of Break-Glass").
    assert.equal(event.holter.access?.reason, 'Emergency Treatment');
    assert.equal(event.holter.access?.purpose, 'ETREAT');
    assert.equal(event.event.action, 'emergency-override-started');
    assert.equal(event['@timestamp'], '2013-09-22T00:08:00.000Z');
    assert.equal(event.holter.patient?.id, 'example');
    assert.equal(event.user?.id, 'Practitioner/f001');
    assert.equal(event.source?.domain, 'custodian.net');
    assert.deepEqual((event.fhir as { audit_event: { subtype: string[] } }).audit_event.subtype, ['110127']);
    assert.ok(!JSON.stringify(event).includes('immediate emergent treatment'), 'narrative leaked');
  });

  it('reads BTG purpose and its text', () => {
    const resource = {
      resourceType: 'AuditEvent',
      id: 'btg-read',
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }],
      action: 'R',
      recorded: '2024-01-05T03:10:00-05:00',
      outcome: '0',
      purposeOfEvent: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'BTG' }], text: 'unconscious patient in ED' }],
      agent: [{ who: { identifier: { value: 'dr.house' } }, requestor: true, network: { address: '::ffff:10.1.2.3', type: '2' } }],
      source: { observer: { display: 'EHR' } },
      entity: [{ what: { reference: 'Patient/p-42' } }, { what: { reference: 'Observation/o-7/_history/3' } }],
    };
    const [event] = decodeOk(JSON.stringify(resource));
    assert.ok(event);
    assert.equal(event['@timestamp'], '2024-01-05T08:10:00.000Z');
    assert.equal(event.holter.access?.break_glass, true);
    assert.equal(event.holter.access?.reason, 'unconscious patient in ED');
    assert.equal(event.holter.patient?.id, 'p-42');
    assert.deepEqual(event.holter.record, { type: 'Observation', id: 'o-7', count: 1 });
    assert.equal(event.source?.ip, '10.1.2.3');
  });

  it('takes override reason from outcome text last', () => {
    const resource = {
      resourceType: 'AuditEvent',
      type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110113' },
      subtype: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110127', display: 'Emergency Override Started' }],
      action: 'E',
      recorded: '2024-01-05T03:10:00Z',
      outcome: '0',
      outcomeDesc: 'patient arrested in radiology',
      agent: [{ who: { identifier: { value: 'dr.house' } }, requestor: true }],
      source: { observer: { display: 'EHR' } },
    };
    const [event] = decodeOk(JSON.stringify(resource));
    assert.equal(event?.holter.access?.break_glass, true);
    assert.equal(event?.holter.access?.reason, 'patient arrested in radiology');
  });

  it('reads an R5 outcome object as failure', () => {
    const resource = {
      resourceType: 'AuditEvent',
      code: { coding: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'search' }] },
      action: 'E',
      recorded: '2024-01-05T10:00:00Z',
      outcome: { code: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-outcome', code: '8' } },
    };
    const [event] = decodeOk(JSON.stringify(resource));
    assert.equal(event?.event.outcome, 'failure');
    assert.equal(event?.event.action, 'search');
  });

  it('rejects an AuditEvent without recorded', () => {
    const result = decodeText(JSON.stringify({ resourceType: 'AuditEvent', id: 'x', action: 'R' }));
    assert.equal(result.ok, false);
    assert.equal(result.ok ? '' : result.reason, 'invalid_timestamp');
    assert.match(result.ok ? '' : result.message, /recorded/);
  });

  it('rejects a Bundle without AuditEvents', () => {
    const bundle = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: { resourceType: 'Patient', id: 'secret-patient' } }] };
    const result = decodeText(JSON.stringify(bundle));
    assert.equal(result.ok ? '' : result.reason, 'unsupported_resource');
    assert.match(result.ok ? '' : result.message, /Patient/);
    assert.doesNotMatch(result.ok ? '' : result.message, /secret-patient/);
  });

  it('rejects other resource types', () => {
    const result = decodeText(JSON.stringify({ resourceType: 'Observation', id: 'o1' }));
    assert.equal(result.ok ? '' : result.reason, 'unsupported_resource');
  });
});

describe('parseReference', () => {
  it('splits relative and absolute references', () => {
    assert.deepEqual(parseReference('Patient/MRN0001'), { type: 'Patient', id: 'MRN0001' });
    assert.deepEqual(parseReference('https://fhir.example.org/r4/Patient/123'), { type: 'Patient', id: '123' });
    assert.deepEqual(parseReference('Observation/o-1/_history/2'), { type: 'Observation', id: 'o-1' });
    assert.deepEqual(parseReference('https://h.example.org/Patient/7/_history/3'), { type: 'Patient', id: '7' });
  });

  it('rejects references without a type and id', () => {
    const rejected = [undefined, '', 'Patient', 'Patient/', '/123', '//123', '/_history/2', 'Patient/_history/2', 'patient/123', 'P/123', 'Pa1ient/123', 'urn:uuid:1234', '#contained'];
    for (const reference of rejected) assert.equal(parseReference(reference), undefined, JSON.stringify(reference));
  });

  it('reads the last two segments only', () => {
    assert.deepEqual(parseReference('a/b/Device/d/1'), undefined);
    assert.deepEqual(parseReference('x//Device/d1'), { type: 'Device', id: 'd1' });
    assert.deepEqual(parseReference('Patient/1/_history/2/_history/3'), { type: 'Patient', id: '1' });
  });
});
