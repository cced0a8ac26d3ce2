import assert from 'node:assert/strict';
import { XMLParser } from 'fast-xml-parser';
import type { SimulatedRecord } from '../../src/sim/index.js';

/** What the simulator tests need from one record, read straight from its wire format. */
export interface RecordSummary {
  format: string;
  timeMs: number;
  /** The time stamp as written, with its offset. */
  timeText: string;
  kind: 'login-failure' | 'login-success' | 'sso' | 'chart' | 'break-glass' | 'image';
  /** Account name as the source wrote it (EHR login, Okta login, PACS user). */
  account: string;
  ip: string;
  patientId?: string;
  instances?: number;
}

const SYSLOG_5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) (<\?xml.*<\/AuditMessage>)$/;
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$/;
const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['ActiveParticipant', 'ParticipantObjectIdentification', 'SOPClass'].includes(name) });

/** Parses one record, asserting the parts of its shape that the real format requires. */
export function summarise(record: SimulatedRecord): RecordSummary {
  switch (record.format) {
    case 'fhir':
      return summariseFhir(record);
    case 'okta':
      return summariseOkta(record);
    case 'dicom-audit':
      return summariseDicom(record);
  }
}

function summariseFhir(record: SimulatedRecord): RecordSummary {
  const event = JSON.parse(record.text);
  assert.equal(event.resourceType, 'AuditEvent');
  assert.match(event.recorded, ISO_WITH_OFFSET);
  assert.equal(Date.parse(event.recorded), record.eventTimeMs);
  assert.ok(['0', '4', '8'].includes(event.outcome), `outcome ${event.outcome}`);
  assert.ok(Array.isArray(event.subtype), 'subtype is an array of Codings');
  assert.equal(event.subtype.length, 1);
  assert.ok(typeof event.source?.observer?.display === 'string');

  const requestor = event.agent.find((agent: { requestor?: boolean }) => agent.requestor === true);
  assert.ok(requestor, 'AuditEvent has a requestor agent');
  const patient = event.entity.find((entity: { what?: { reference?: string } }) => entity.what?.reference?.startsWith('Patient/'));
  assert.ok(patient, 'AuditEvent names a patient');

  let kind: RecordSummary['kind'] = 'chart';
  if (event.type.code === 'rest') {
    assert.equal(event.type.system, 'http://terminology.hl7.org/CodeSystem/audit-event-type');
    assert.ok(['read', 'search'].includes(event.subtype[0].code));
  } else {
    assert.equal(event.type.code, '110113');
    assert.equal(event.subtype[0].code, '110127');
    assert.equal(event.purposeOfEvent[0].coding[0].code, 'BTG');
    assert.ok(event.purposeOfEvent[0].text.length > 0, 'break-glass states a reason');
    kind = 'break-glass';
  }

  return {
    format: record.format,
    timeMs: record.eventTimeMs,
    timeText: event.recorded,
    kind,
    account: requestor.who.identifier.value,
    ip: requestor.network.address,
    patientId: patient.what.reference.slice('Patient/'.length),
  };
}

function summariseOkta(record: SimulatedRecord): RecordSummary {
  const event = JSON.parse(record.text);
  assert.match(event.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.match(event.published, /Z$/);
  assert.equal(Date.parse(event.published), record.eventTimeMs);
  assert.equal(event.actor.type, 'User');
  assert.ok(event.actor.id.startsWith('00u'));
  assert.ok(['SUCCESS', 'FAILURE'].includes(event.outcome.result));
  assert.ok(typeof event.client.userAgent.rawUserAgent === 'string');
  assert.ok(['INFO', 'WARN'].includes(event.severity));

  let kind: RecordSummary['kind'];
  if (event.eventType === 'user.authentication.sso') {
    assert.equal(event.target[0].type, 'AppInstance');
    kind = 'sso';
  } else {
    assert.equal(event.eventType, 'user.session.start');
    kind = event.outcome.result === 'SUCCESS' ? 'login-success' : 'login-failure';
    if (kind === 'login-failure') assert.equal(event.outcome.reason, 'INVALID_CREDENTIALS');
  }
  return { format: record.format, timeMs: record.eventTimeMs, timeText: event.published, kind, account: event.actor.alternateId, ip: event.client.ipAddress };
}

function summariseDicom(record: SimulatedRecord): RecordSummary {
  const match = SYSLOG_5424.exec(record.text);
  assert.ok(match, 'record is an RFC 5424 syslog line carrying an AuditMessage');
  assert.equal(match[1], '85');
  assert.match(match[2] as string, ISO_WITH_OFFSET);
  assert.equal(Date.parse(match[2] as string), record.eventTimeMs);

  const message = xml.parse(match[8] as string).AuditMessage;
  const identification = message.EventIdentification;
  assert.equal(identification.EventDateTime, match[2]);
  assert.ok(['110104', '110106'].includes(identification.EventID['csd-code']));

  const requestor = message.ActiveParticipant.find((participant: { UserIsRequestor: string }) => participant.UserIsRequestor === 'true');
  const objects = message.ParticipantObjectIdentification;
  const study = objects.find((object: { ParticipantObjectIDTypeCode: Record<string, string> }) => object.ParticipantObjectIDTypeCode['csd-code'] === '110180');
  const patient = objects.find((object: { ParticipantObjectTypeCode: string; ParticipantObjectTypeCodeRole: string }) => object.ParticipantObjectTypeCode === '1' && object.ParticipantObjectTypeCodeRole === '1');
  assert.ok(study, 'message names a study');
  assert.ok(patient, 'message names a patient');
  assert.match(study.ParticipantObjectID, /^2\.25\.\d{20,39}$/);
  const sopClass = study.ParticipantObjectDescription.SOPClass[0];
  assert.match(sopClass.UID, /^1\.2\.840\.10008\.5\.1\.4\.1\.1\./);

  return {
    format: record.format,
    timeMs: record.eventTimeMs,
    timeText: match[2] as string,
    kind: 'image',
    account: requestor.UserID,
    ip: requestor.NetworkAccessPointID,
    patientId: (patient.ParticipantObjectID as string).split('^^^')[0],
    instances: Number(sopClass.NumberOfInstances),
  };
}
