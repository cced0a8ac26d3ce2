import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRecord, detectFormat, getDecoder, listFormats } from '../../src/decoders/index.js';
import type { GenericMapping } from '../../src/decoders/types.js';
import { CONTEXT, decodeText } from './helpers.js';

const MAPPING: GenericMapping = {
  timestamp: 'ts',
  timestampFormat: 'epoch_millis',
  fields: { 'user.name': 'actor.login', 'source.ip': 'client', 'event.action': 'what' },
  constants: { 'event.category': ['database'], 'event.outcome': 'success' },
};
const GENERIC_CONTEXT = { ...CONTEXT, genericMappings: { 'ehr-access': MAPPING } };

describe('decoder registry', () => {
  it('lists the built-in formats', () => {
    const formats = listFormats();
    for (const name of ['fhir', 'dicom-audit', 'okta', 'entra', 'windows', 'keycloak', 'syslog', 'osquery', 'auditd']) {
      assert.ok(formats.includes(name), name);
    }
    assert.ok(listFormats(GENERIC_CONTEXT).includes('ehr-access'));
  });

  it('detects formats from the record', () => {
    assert.equal(detectFormat({ input: 't', text: '{"resourceType":"AuditEvent"}' }), 'fhir');
    assert.equal(detectFormat({ input: 't', text: 'type=SYSCALL msg=audit(1.0:1): pid=1' }), 'auditd');
    assert.equal(detectFormat({ input: 't', text: '<AuditMessage/>' }), 'dicom-audit');
    assert.equal(detectFormat({ input: 't', text: 'plain words' }), undefined);
    assert.equal(detectFormat({ input: 't', text: '{"a":' }), undefined);
  });

  it('exposes the Decoder interface', () => {
    const decoder = getDecoder('okta');
    assert.ok(decoder);
    assert.equal(decoder.detect({ input: 't', text: '{"resourceType":"AuditEvent"}' }), false);
    assert.equal(getDecoder('nope'), undefined);
  });

  it('dead-letters truncated JSON', () => {
    const result = decodeText('{"resourceType":"AuditEvent","recorded":"2024-');
    assert.equal(result.ok ? '' : result.reason, 'invalid_json');
    assert.doesNotMatch(result.ok ? '' : result.message, /2024/);
  });

  it('names an unknown JSON shape', () => {
    const result = decodeText('{"mrn":"12345","diagnosis":"confidential"}');
    assert.equal(result.ok ? '' : result.reason, 'format_unknown');
    assert.match(result.ok ? '' : result.message, /keys mrn, diagnosis/);
    assert.doesNotMatch(result.ok ? '' : result.message, /confidential|12345/);
    assert.match(result.ok ? '' : result.message, /--format/);
  });

  it('describes unknown text without content', () => {
    const result = decodeText('Patient Jane Roe admitted');
    assert.equal(result.ok ? '' : result.reason, 'format_unknown');
    assert.doesNotMatch(result.ok ? '' : result.message, /Jane|Roe/);
  });

  it('rejects an unknown configured format', () => {
    const result = decodeText('{}', { format: 'nope' });
    assert.equal(result.ok ? '' : result.reason, 'format_unknown');
    assert.match(result.ok ? '' : result.message, /fhir/);
  });

  it('dead-letters oversized records', () => {
    const result = decodeRecord({ input: 't', text: '{"x":', oversizeBytes: 2_000_000 } as never, CONTEXT);
    assert.equal(result.ok ? '' : result.reason, 'too_large');
    assert.match(result.ok ? '' : result.message, /2000000 bytes/);
  });
});

describe('generic JSON mapping', () => {
  it('maps fields and constants', () => {
    const text = JSON.stringify({ ts: 1717243200000, actor: { login: 'clerk7' }, client: '10.9.8.7', what: 'chart-open' });
    const result = decodeText(text, { format: 'ehr-access' }, GENERIC_CONTEXT);
    assert.ok(result.ok);
    const [event] = result.events;
    assert.equal(event?.['@timestamp'], '2024-06-01T12:00:00.000Z');
    assert.equal(event?.user?.name, 'clerk7');
    assert.equal(event?.source?.ip, '10.9.8.7');
    assert.equal(event?.event.action, 'chart-open');
    assert.deepEqual(event?.event.category, ['database']);
    assert.equal(event?.event.outcome, 'success');
    assert.deepEqual(event?.related?.user, ['clerk7']);
  });

  it('reports the missing timestamp path', () => {
    const result = decodeText('{"actor":{"login":"x"}}', { format: 'ehr-access' }, GENERIC_CONTEXT);
    assert.equal(result.ok ? '' : result.reason, 'missing_field');
    assert.match(result.ok ? '' : result.message, /"ts"/);
  });

  it('reads a luxon format in the default zone', () => {
    const context = { ...CONTEXT, genericMappings: { app: { timestamp: 'when', timestampFormat: 'dd/MM/yyyy HH:mm', fields: {} } } };
    const result = decodeText('{"when":"01/07/2024 09:15"}', { format: 'app' }, context);
    assert.ok(result.ok);
    assert.equal(result.events[0]?.['@timestamp'], '2024-07-01T13:15:00.000Z');
  });

  it('rejects prototype paths', () => {
    const context = { ...CONTEXT, genericMappings: { bad: { timestamp: 't', timestampFormat: 'epoch_seconds', fields: { '__proto__.polluted': 'x' } } } };
    const result = decodeText('{"t":1,"x":"y"}', { format: 'bad' }, context);
    assert.equal(result.ok ? '' : result.reason, 'invalid_record');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
