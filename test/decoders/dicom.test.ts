import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFile, decodeOk, decodeText, samplePath } from './helpers.js';

const TRANSFER = `<?xml version="1.0" encoding="UTF-8"?>
<AuditMessage>
  <EventIdentification EventActionCode="R" EventDateTime="2024-02-01T02:03:04.5Z" EventOutcomeIndicator="0">
    <EventID csd-code="110104" codeSystemName="DCM" originalText="DICOM Instances Transferred"/>
  </EventIdentification>
  <ActiveParticipant UserID="AE_PACS" UserIsRequestor="false" NetworkAccessPointID="pacs.local" NetworkAccessPointTypeCode="1">
    <RoleIDCode csd-code="110153" codeSystemName="DCM" originalText="Source Role ID"/>
  </ActiveParticipant>
  <ActiveParticipant UserID="jdoe" UserIsRequestor="true" NetworkAccessPointID="10.20.30.40" NetworkAccessPointTypeCode="2"/>
  <AuditSourceIdentification AuditSourceID="PACS1"/>
  <ParticipantObjectIdentification ParticipantObjectID="1.2.3.4.5" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="3">
    <ParticipantObjectIDTypeCode csd-code="110180" codeSystemName="DCM" originalText="Study Instance UID"/>
    <ParticipantObjectDetail type="TransferSize" value="NTI0Mjg4MDA="/>
    <SOPClass UID="1.2.840.10008.5.1.4.1.1.4" NumberOfInstances="240"/>
    <Accession Number="ACC-9"/>
  </ParticipantObjectIdentification>
  <ParticipantObjectIdentification ParticipantObjectID="MRN-7^^^HOSP&amp;1.2.3&amp;ISO^MR" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"/>
</AuditMessage>`;

describe('DICOM audit decoder', () => {
  it('sums instance counts from openatna_dicom.xml', async () => {
    const [event] = await decodeFile(samplePath('pacs/openatna_dicom.xml'));
    assert.ok(event);
    assert.equal(event.holter.dicom?.instance_count, 1503);
    assert.deepEqual(event.holter.dicom?.sop_classes, ['1.2.840.10008.5.1.4.1.1.2', '1.2.840.10008.5.1.4.1.1.11.1']);
    assert.deepEqual(event.holter.dicom?.accession, ['12341234']);
    assert.equal(event.holter.patient?.id, '102');
    assert.equal(event['@timestamp'], '2009-10-22T11:23:45.530Z');
    assert.equal(event.event.action, 'patient-record');
    assert.deepEqual(event.event.type, ['creation']);
    assert.equal(event.observer?.name, 'SYS_NAME');
    assert.deepEqual(event.related?.user, ['ENTERPRISE_SYS_NAME|SYS_NAME', 'IBM|XDSab_REG_IBM']);
  });

  it('reports the serious login failure', async () => {
    const [event] = await decodeFile(samplePath('pacs/openatna_application-login.xml'));
    assert.equal(event?.event.outcome, 'failure');
    assert.deepEqual(event?.event.category, ['authentication']);
    assert.equal(event?.event.action, 'login');
  });

  it('prefers the human requestor', async () => {
    const [event] = await decodeFile(samplePath('pacs/openatna_partid.xml'));
    assert.equal(event?.user?.name, 'asaip');
    assert.deepEqual(event?.related?.user, ['me', 'asaip']);
    assert.equal(event?.['@timestamp'], '2010-02-08T20:13:47.000Z');
    assert.equal(event?.holter.patient?.id, '221325');
  });

  it('reads csd-code spelling and ignores empty UserID', async () => {
    const [event] = await decodeFile(samplePath('pacs/ipf_start.xml'));
    assert.equal(event?.event.action, 'application-start');
    assert.deepEqual(event?.event.type, ['start']);
  });

  it('keeps a patient requestor out of user', () => {
    const withRole = TRANSFER.replace(
      '<ActiveParticipant UserID="jdoe" UserIsRequestor="true" NetworkAccessPointID="10.20.30.40" NetworkAccessPointTypeCode="2"/>',
      '<ActiveParticipant UserID="PAT-Q^^^HOSP&amp;1.2.3&amp;ISO^PI" UserIsRequestor="true"><RoleIDCode csd-code="116154003" codeSystemName="SNOMED-CT" originalText="Patient"/></ActiveParticipant>',
    );
    const [event] = decodeOk(withRole);
    assert.ok(event);
    assert.equal(event.user, undefined);
    assert.deepEqual(event.holter.acting_patient, { id: 'PAT-Q' });
    assert.ok(!JSON.stringify(event.related ?? {}).includes('PAT-Q'));
  });

  it('treats the patient object as patient requestor', () => {
    const selfAccess = TRANSFER.replace('UserID="jdoe"', 'UserID="MRN-7^^^HOSP&amp;1.2.3&amp;ISO^MR"');
    const [event] = decodeOk(selfAccess);
    assert.ok(event);
    assert.equal(event.user, undefined);
    assert.deepEqual(event.holter.acting_patient, { id: 'MRN-7' });
    assert.equal(event.related?.user, undefined);
  });

  it('maps transfers with bytes and studies', () => {
    const [event] = decodeOk(TRANSFER);
    assert.ok(event);
    assert.deepEqual(event.event.category, ['file']);
    assert.equal(event.event.action, 'dicom-instances-transferred');
    assert.deepEqual(event.holter.dicom, {
      study_uids: ['1.2.3.4.5'],
      study_count: 1,
      instance_count: 240,
      bytes: 52428800,
      accession: ['ACC-9'],
      sop_classes: ['1.2.840.10008.5.1.4.1.1.4'],
    });
    assert.equal(event.holter.patient?.id, 'MRN-7');
    assert.equal(event.user?.name, 'jdoe');
    assert.equal(event.source?.ip, '10.20.30.40');
    assert.equal(event['@timestamp'], '2024-02-01T02:03:04.500Z');
  });

  it('unwraps RFC 5424 syslog with a BOM', () => {
    const line = `<85>1 2024-02-01T02:03:05Z pacs1 ATNA 77 IHE+RFC-3881 - \uFEFF${TRANSFER.replace(/\n\s*/g, ' ')}`;
    const [event] = decodeOk(line);
    assert.equal(event?.holter.source.format, 'dicom-audit');
    assert.equal(event?.host?.name, 'pacs1');
    assert.equal(event?.holter.dicom?.instance_count, 240);
  });

  it('unwraps RFC 3164 syslog', () => {
    const line = `Feb  1 02:03:05 pacs1 atna: ${TRANSFER.replace(/^<\?xml[^>]*>/, '').replace(/\n\s*/g, ' ')}`;
    const [event] = decodeOk(line);
    assert.equal(event?.holter.source.format, 'dicom-audit');
    assert.equal(event?.event.action, 'dicom-instances-transferred');
  });

  it('dead-letters broken XML', () => {
    const result = decodeText('<AuditMessage><EventIdentification EventDateTime="2024-01-01T00:00:00Z"></AuditMessage>');
    assert.equal(result.ok ? '' : result.reason, 'invalid_xml');
    assert.match(result.ok ? '' : result.message, /line 1/);
  });

  it('rejects a DOCTYPE', () => {
    const result = decodeText('<!DOCTYPE x [<!ENTITY a "aaaa">]><AuditMessage/>', { format: 'dicom-audit' });
    assert.equal(result.ok ? '' : result.reason, 'invalid_xml');
  });
});
