import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENTRA_FIELDS } from '../../src/decoders/entra.js';
import { OKTA_FIELDS } from '../../src/decoders/okta.js';
import { decodeFile, decodeOk, fixturePath, samplePath } from './helpers.js';

describe('Keycloak decoder', () => {
  it('reads unquoted lines in the default zone', async () => {
    const events = await decodeFile(samplePath('identity/crowdsec_keycloak-logs.log'));
    assert.equal(events.length, 7);
    const first = events[0];
    assert.equal(first?.['@timestamp'], '2023-05-26T02:24:19.357Z');
    assert.equal(first?.user?.name, 'user-a');
    assert.equal(first?.user?.id, undefined);
    assert.equal(first?.source?.ip, '192.168.1.1');
    assert.equal(first?.event.outcome, 'failure');
    assert.equal(first?.event.reason, 'user_not_found');
    assert.equal(events[2]?.user?.id, 'bb28055e-fdea-4df5-83a9-369ae7ede1ba');
    assert.equal(events[2]?.event.reason, 'invalid_user_credentials');
  });

  it('reads the quoted line', async () => {
    const events = await decodeFile(samplePath('identity/crowdsec_keycloak-logs.log'));
    const quoted = events[6];
    assert.equal(quoted?.user?.name, 'admindeddeedede');
    assert.equal(quoted?.user?.id, undefined);
    assert.equal(quoted?.source?.ip, '192.168.1.4');
    assert.equal((quoted?.keycloak as { client_id: string }).client_id, 'am-qa');
    assert.equal((quoted?.keycloak as { type: string }).type, 'LOGIN_ERROR');
  });

  it('reads the JSON event representation', () => {
    const json = { time: 1717243200123, type: 'LOGIN', realmId: 'hospital', clientId: 'ehr', userId: 'u-1', ipAddress: '10.0.0.9', details: { username: 'nurse1', auth_method: 'openid-connect' } };
    const [event] = decodeOk(JSON.stringify(json));
    assert.equal(event?.['@timestamp'], '2024-06-01T12:00:00.123Z');
    assert.equal(event?.event.outcome, 'success');
    assert.deepEqual(event?.event.type, ['start']);
    assert.equal(event?.user?.name, 'nurse1');
  });
});

describe('Okta decoder', () => {
  it('decodes the fixture', async () => {
    const [success, failure, lock] = await decodeFile(fixturePath('okta-system-log.ndjson'));
    assert.equal(success?.event.id, 'f2b6c0a4-3c1e-11ef-9a3e-0b6f1c2d3e4f');
    assert.equal(success?.event.action, 'user.session.start');
    assert.equal(success?.event.outcome, 'success');
    assert.equal(success?.user?.name, 'night.nurse@example-hospital.org');
    assert.equal(success?.source?.ip, '198.51.100.23');
    assert.equal(failure?.event.outcome, 'failure');
    assert.equal(failure?.event.reason, 'INVALID_CREDENTIALS');
    assert.deepEqual(lock?.event.category, ['iam']);
    assert.equal(lock?.user?.target?.name, 'radiology.tech@example-hospital.org');
  });

  it('omits display names', async () => {
    const events = await decodeFile(fixturePath('okta-system-log.ndjson'));
    assert.ok(!JSON.stringify(events).includes('Night Nurse'));
  });

  it('decodes an API array', async () => {
    const { readFile } = await import('node:fs/promises');
    const lines = (await readFile(fixturePath('okta-system-log.ndjson'), 'utf8')).trim().split('\n');
    const events = decodeOk(`[${lines.join(',')}]`);
    assert.equal(events.length, 3);
  });
});

describe('Entra decoder', () => {
  it('maps the failure code', async () => {
    const [event] = await decodeFile(samplePath('identity/msdocs_entra-signin-log-schema_sample.json'));
    assert.ok(event);
    assert.equal(event.event.outcome, 'failure');
    assert.equal(event.event.code, '50140');
    assert.match(event.event.reason ?? '', /Keep me signed in/);
    assert.equal(event['@timestamp'], '2019-03-12T16:02:15.552Z');
    assert.equal(event.event.id, '0231f922-93fa-4005-bb11-b344eca03c01');
    assert.equal(event.source, undefined, 'placeholder address must not become source.ip');
    assert.ok(!JSON.stringify(event).includes('Timothy'));
  });

  it('splits a records envelope', () => {
    const record = (resultType: string, id: string) => ({
      time: '2024-05-01T10:00:00.1234567Z', operationName: 'Sign-in activity', category: 'SignInLogs', resultType,
      properties: { id, userPrincipalName: 'a@example.org', ipAddress: '192.0.2.5', status: { errorCode: Number(resultType) } },
    });
    const events = decodeOk(JSON.stringify({ records: [record('0', 's1'), record('50126', 's2')] }));
    assert.deepEqual(events.map((event) => event.event.outcome), ['success', 'failure']);
    assert.equal(events[0]?.['@timestamp'], '2024-05-01T10:00:00.123Z');
    assert.equal(events[0]?.user?.domain, 'example.org');
    assert.equal(events[1]?.source?.ip, '192.0.2.5');
  });

  it('reads the Graph signIn shape', () => {
    const signIn = { id: 'g1', createdDateTime: '2024-05-01T10:00:00Z', userPrincipalName: 'b@example.org', ipAddress: '2001:db8::1', status: { errorCode: 50053, failureReason: 'Account is locked' } };
    const [event] = decodeOk(JSON.stringify(signIn));
    assert.equal(event?.event.outcome, 'failure');
    assert.equal(event?.event.reason, 'Account is locked');
    assert.equal(event?.source?.ip, '2001:db8::1');
  });
});

/** Collects every path in the object under `prefix`, intermediate objects included; list items share their list's path. */
function fieldPaths(value: unknown, prefix: string, paths = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) fieldPaths(item, prefix, paths);
    return paths;
  }
  paths.add(prefix);
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) fieldPaths(child, `${prefix}.${key}`, paths);
  }
  return paths;
}

describe('decoder field lists for the Sigma lint', () => {
  it('okta decoder writes only listed fields', async () => {
    const events = await decodeFile(fixturePath('okta-system-log.ndjson'));
    const written = new Set(events.flatMap((event) => [...fieldPaths(event.okta, 'okta')]));

    assert.ok(written.has('okta.security_context.as.number'), 'the fixture reaches the nested fields');
    for (const path of written) assert.ok(OKTA_FIELDS.has(path), `${path} is written but not in OKTA_FIELDS`);
  });

  it('entra decoder writes only listed fields', async () => {
    const events = await decodeFile(samplePath('identity/msdocs_entra-signin-log-schema_sample.json'));
    const written = new Set(events.flatMap((event) => [...fieldPaths(event.azure, 'azure')]));

    assert.ok(written.has('azure.signinlogs.properties.status.errorCode'), 'the sample reaches the nested fields');
    for (const path of written) assert.ok(ENTRA_FIELDS.has(path), `${path} is written but not in ENTRA_FIELDS`);
  });
});
