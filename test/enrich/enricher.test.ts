import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HolterEvent } from '../../src/event.js';
import { HolterError } from '../../src/errors.js';
import { createEnricher, createPatientTokenizer, loadDirectory, loadRoster } from '../../src/enrich/index.js';
import { writeTempFile } from './files.js';

const KEY = 'enricher-test-key-0123456789abcd';
const MARKER = 'MARKER-PATIENT-7734';

const DIRECTORY = [
  'user_id,display_name,role,department,facility,time_zone,shift,accounts',
  'u-1042,Jane Doe,cardiologist,cath-lab,st-jude-heart,America/New_York,day,ehr:jdoe;okta:jdoe@stjude.example.org;ad:STJUDE\\jdoe;pacs:JDOE',
  'u-3001,John Smith,nurse,ccu,st-jude-heart,America/New_York,,okta:jsmith@stjude.example.org',
  'u-3002,Joan Smith,billing-clerk,billing,st-jude-heart,America/New_York,office,ad:BILLING\\jsmith',
].join('\n');

const ROSTER = [
  'patient_id,flags,employee_user_id',
  `${MARKER},vip;employee,u-1042`,
  'MRN-DEAD,deceased,',
].join('\n');

function accessEvent(user: HolterEvent['user'], patientId?: string): HolterEvent {
  return {
    '@timestamp': '2025-01-15T07:30:00.000Z',
    event: { id: 'e-1', kind: 'event', category: ['database'], type: ['access'], action: 'read', outcome: 'success', dataset: 'fhir.audit_event', module: 'fhir' },
    user,
    holter: {
      source: { input: 'test', format: 'fhir' },
      ...(patientId === undefined ? {} : { patient: { id: patientId } }),
    },
  };
}

async function setup(): Promise<ReturnType<typeof createEnricher>> {
  const directory = await loadDirectory(writeTempFile('directory.csv', DIRECTORY));
  const roster = await loadRoster(writeTempFile('roster.csv', ROSTER), KEY);
  return createEnricher({ directory, roster, tokenKey: KEY });
}

describe('createEnricher', () => {
  it('sets directory facts for a known account', async () => {
    const enrich = await setup();
    const event = enrich(accessEvent({ name: 'STJUDE\\JDOE' }));
    assert.deepEqual(event.holter.user, {
      id: 'u-1042',
      known: true,
      role: 'cardiologist',
      department: 'cath-lab',
      facility: 'st-jude-heart',
      time_zone: 'America/New_York',
      shift: 'day',
    });
  });

  it('lower-cases and strips unknown accounts', async () => {
    const enrich = await setup();
    assert.deepEqual(enrich(accessEvent({ name: 'CORP\\Mallory' })).holter.user, { id: 'mallory', known: false });
    assert.deepEqual(enrich(accessEvent({ name: 'Eve@Example.org' })).holter.user, { id: 'eve', known: false });
  });

  it('does not guess an ambiguous name', async () => {
    const enrich = await setup();
    assert.deepEqual(enrich(accessEvent({ name: 'jsmith' })).holter.user, { id: 'jsmith', known: false });
    assert.equal(enrich.stats().users_ambiguous, 1);
  });

  it('falls back to the e-mail when the name is ambiguous', async () => {
    const enrich = await setup();
    const event = enrich(accessEvent({ name: 'jsmith', email: 'jsmith@stjude.example.org' }));
    assert.equal(event.holter.user?.id, 'u-3001');
  });

  it('marks events without a user as unknown', async () => {
    const enrich = await setup();
    assert.deepEqual(enrich(accessEvent(undefined)).holter.user, { known: false });
  });

  it('never lets the clear patient id through', async () => {
    const enrich = await setup();
    const event = enrich(accessEvent({ name: 'jdoe' }, MARKER));
    const serialised = JSON.stringify(event);

    assert.ok(!serialised.includes(MARKER), serialised);
    assert.equal(event.holter.patient?.id, undefined);
    assert.ok(!('id' in (event.holter.patient ?? {})));
    assert.equal(event.holter.patient?.token, createPatientTokenizer(KEY)(MARKER));
  });

  it('knows a patient actor by token', async () => {
    const enrich = await setup();
    const event = accessEvent(undefined, 'MRN-OTHER');
    event.holter.acting_patient = { id: MARKER };
    enrich(event);
    const token = createPatientTokenizer(KEY)(MARKER);

    assert.ok(!JSON.stringify(event).includes(MARKER));
    assert.deepEqual(event.holter.acting_patient, { token });
    assert.deepEqual(event.holter.user, { id: token, known: false, role: 'patient' });
    assert.deepEqual(event.user, { id: token, name: token });
    assert.equal(event.holter.patient?.token, createPatientTokenizer(KEY)('MRN-OTHER'));
  });

  it('sets self_access for an employee patient', async () => {
    const enrich = await setup();
    const own = enrich(accessEvent({ name: 'jdoe@stjude.example.org' }, MARKER));
    assert.equal(own.holter.patient?.self_access, true);
    assert.equal(own.holter.patient?.vip, true);
    assert.equal(own.holter.patient?.employee, true);
    assert.equal(own.holter.patient?.deceased, false);

    const other = enrich(accessEvent({ name: 'BILLING\\jsmith' }, MARKER));
    assert.equal(other.holter.patient?.self_access, false);
  });

  it('sets roster flags and defaults', async () => {
    const enrich = await setup();
    const dead = enrich(accessEvent({ name: 'jdoe' }, 'MRN-DEAD'));
    assert.deepEqual(dead.holter.patient, {
      token: createPatientTokenizer(KEY)('MRN-DEAD'),
      vip: false,
      employee: false,
      deceased: true,
      self_access: false,
    });
    const unlisted = enrich(accessEvent({ name: 'jdoe' }, 'MRN-OTHER'));
    assert.equal(unlisted.holter.patient?.vip, false);
    assert.equal(unlisted.holter.patient?.self_access, false);
  });

  it('leaves flags unset without a roster', () => {
    const enrich = createEnricher({ tokenKey: KEY });
    const event = enrich(accessEvent({ name: 'jdoe' }, MARKER));
    assert.deepEqual(Object.keys(event.holter.patient ?? {}), ['token']);
    assert.deepEqual(event.holter.user, { id: 'jdoe' });
  });

  it('leaves known out without a directory', () => {
    const enrich = createEnricher({ tokenKey: KEY });
    assert.deepEqual(enrich(accessEvent({ name: 'vendor-test' })).holter.user, { id: 'vendor-test' });
    assert.deepEqual(enrich(accessEvent(undefined)).holter.user, {});
  });

  it('drops an empty patient id', () => {
    const enrich = createEnricher({ tokenKey: KEY });
    const event = enrich(accessEvent({ name: 'jdoe' }, '  '));
    assert.deepEqual(event.holter.patient, {});
  });

  it('keeps other patient fields in order', () => {
    const enrich = createEnricher({ tokenKey: KEY });
    const event = accessEvent({ name: 'jdoe' });
    event.holter.patient = { vip: true, id: 'MRN-1', employee: false };
    const enriched = enrich(event);
    assert.deepEqual(Object.keys(enriched.holter.patient ?? {}), ['vip', 'employee', 'token']);
    assert.equal(enriched.holter.patient?.token, createPatientTokenizer(KEY)('MRN-1'));
    assert.equal(enriched.holter.patient?.vip, true);
  });

  it('replaces an earlier token in place', () => {
    const enrich = createEnricher({ tokenKey: KEY });
    const event = accessEvent({ name: 'jdoe' });
    event.holter.patient = { token: 'pt_stale', id: 'MRN-1' };
    const enriched = enrich(event);
    assert.deepEqual(enriched.holter.patient, { token: createPatientTokenizer(KEY)('MRN-1') });
  });

  it('leaves a patient without an id alone', () => {
    const enrich = createEnricher({ tokenKey: KEY });
    const event = accessEvent({ name: 'jdoe' });
    const patient = { token: 'pt_given' };
    event.holter.patient = patient;
    assert.equal(enrich(event).holter.patient, patient);
    assert.equal(enrich(event).holter.patient?.token, 'pt_given');
  });

  it('rejects a roster tokenised with another key', async () => {
    const roster = await loadRoster(writeTempFile('roster.csv', ROSTER), 'another-key-0123456789abcdef0123');
    assert.throws(() => createEnricher({ roster, tokenKey: KEY }), (error: unknown) => {
      assert.ok(error instanceof HolterError);
      assert.equal(error.code, 'HOLTER_CONFIG_INVALID');
      return true;
    });
  });
});
