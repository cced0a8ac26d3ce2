import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { HolterError } from '../../../src/errors.js';
import { loadDetectors, parseDetector } from '../../../src/detect/baseline/index.js';
import { ZONE } from './events.js';
import { makeTempDir } from '../../helpers/temp.js';

const FIRST_SEEN = `id: new-value
name: New value
function: first_seen
by: holter.user.id
field: source.ip
bucket_span: 1h
learning: { min_days: 1, min_events: 1, half_life_days: 30 }
thresholds: { min_values: 1 }
severity: low
risk_score: 10
`;

const COUNT = `id: volume
name: Volume
function: high_count
by: holter.user.id
learning: { min_days: 1, min_events: 1, half_life_days: 30 }
thresholds: { min_score: 50 }
severity: low
risk_score: 10
`;

const TIME_OF_DAY = `id: hours
name: Hours
function: time_of_day
by: holter.user.id
field: holter.patient.token
learning: { min_days: 1, min_events: 1, half_life_days: 30 }
thresholds: { min_share: 0.1, min_distinct: 1 }
severity: low
risk_score: 10
`;

function errorsOf(text: string): HolterError[] {
  return parseDetector(text, 'detector.yaml', { defaultTimeZone: ZONE }).errors;
}

/** Formats each error as `line:column key`, to compare locations and key paths at once. */
function where(errors: HolterError[]): string[] {
  return errors.map((error) => `${error.location?.line}:${error.location?.column} ${error.path}`);
}

describe('detector fields with patient data', () => {
  it('rejects a free-text field', () => {
    const errors = errorsOf(FIRST_SEEN.replace('field: source.ip', 'field: holter.access.reason'));
    assert.deepEqual(where(errors), ['5:8 field']);
    assert.match(errors[0]?.message ?? '', /^field names holter\.access\.reason, free text that can carry a patient's name/);
    assert.match(errors[0]?.message ?? '', /so remove it or use a coded field such as holter\.access\.purpose/);
  });

  it('rejects every documented free-text field', () => {
    for (const field of ['holter.access.reason', 'message', 'event.reason', 'event.original']) {
      const errors = errorsOf(FIRST_SEEN.replace('field: source.ip', `field: ${field}`));
      assert.deepEqual(where(errors), ['5:8 field'], field);
    }
  });

  it('rejects a patient identifier as entity', () => {
    const errors = errorsOf(FIRST_SEEN.replace('by: holter.user.id', 'by: holter.patient.id'));
    assert.deepEqual(where(errors), ['4:5 by']);
    assert.match(errors[0]?.message ?? '', /^by names holter\.patient\.id, a patient identifier; .* so use holter\.patient\.token/);
  });

  it('rejects an acting patient identifier', () => {
    const errors = errorsOf(FIRST_SEEN.replace('field: source.ip', 'field: holter.acting_patient.id'));
    assert.deepEqual(where(errors), ['5:8 field']);
    assert.match(errors[0]?.message ?? '', /so use holter\.acting_patient\.token/);
  });

  it('accepts the patient token and flags', () => {
    assert.deepEqual(errorsOf(FIRST_SEEN.replace('field: source.ip', 'field: holter.patient.token')), []);
    assert.deepEqual(errorsOf(FIRST_SEEN.replace('field: source.ip', 'field: holter.patient.vip')), []);
    assert.deepEqual(errorsOf(FIRST_SEEN.replace('field: source.ip', 'field: holter.access.purpose')), []);
  });

  it('rejects influencers, partition and peer group fields', () => {
    const text = COUNT.replace('by: holter.user.id', 'by: holter.user.id\npartition_field: message\nover: [holter.user.role, event.reason]\ninfluencers: [holter.access.reason, holter.patient.token]');
    const errors = errorsOf(text);
    assert.deepEqual(where(errors), ['5:18 partition_field', '6:26 over.1', '7:15 influencers.0']);
  });

  it('rejects a time_of_day peer group field', () => {
    const errors = errorsOf(TIME_OF_DAY.replace('half_life_days: 30 }', 'half_life_days: 30, peer_group: [holter.patient.mrn] }'));
    assert.deepEqual(where(errors), ['6:74 learning.peer_group.0']);
  });

  it('checks a file of an unknown function', () => {
    const errors = errorsOf(FIRST_SEEN.replace('function: first_seen', 'function: magic').replace('field: source.ip', 'field: holter.access.reason'));
    assert.deepEqual(errors.map((error) => error.path), ['function', 'field']);
  });

  it('rejects the file at load and keeps the rest', async () => {
    const folder = makeTempDir('holter-detector-fields-');
    writeFileSync(path.join(folder, 'a-reason.yaml'), FIRST_SEEN.replace('field: source.ip', 'field: holter.access.reason'));
    writeFileSync(path.join(folder, 'b-address.yaml'), FIRST_SEEN.replace('id: new-value', 'id: new-address'));
    const { stage, errors, rejected } = await loadDetectors([folder], { defaultTimeZone: ZONE });

    assert.deepEqual(stage.detectorIds, ['new-address']);
    assert.equal(rejected, 1);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.location?.file, path.join(folder, 'a-reason.yaml'));
    assert.equal(errors[0]?.location?.line, 5);
    assert.equal(errors[0]?.path, 'field');
  });
});

describe('detector field lists', () => {
  it('rejects a repeated influencer', () => {
    const errors = errorsOf(COUNT.replace('by: holter.user.id', 'by: holter.user.id\ninfluencers: [source.ip, source.ip]'));
    assert.deepEqual(where(errors), ['5:26 influencers.1']);
    assert.equal(errors[0]?.message, 'influencers lists source.ip twice (items 0 and 1); remove the repeat');
  });

  it('rejects a repeated peer group field', () => {
    const errors = errorsOf(FIRST_SEEN.replace('bucket_span: 1h', 'over: [holter.user.role, holter.user.department, holter.user.role]'));
    assert.deepEqual(where(errors), ['6:50 over.2']);
  });

  it('rejects a partition by the entity', () => {
    const errors = errorsOf(COUNT.replace('by: holter.user.id', 'by: holter.user.id\npartition_field: holter.user.id'));
    assert.deepEqual(where(errors), ['5:18 partition_field']);
    assert.match(errors[0]?.message ?? '', /^partition_field holter\.user\.id is the by field, so each entity has one partition/);
  });

  it('accepts a partition by another field', () => {
    assert.deepEqual(errorsOf(COUNT.replace('by: holter.user.id', 'by: holter.user.id\npartition_field: event.action')), []);
  });

  it('rejects a partition by a list field', () => {
    const errors = errorsOf(COUNT.replace('by: holter.user.id', 'by: holter.user.id\npartition_field: event.category'));
    assert.deepEqual(where(errors), ['5:18 partition_field']);
    assert.match(errors[0]?.message ?? '', /^partition_field names event\.category, which events carry as a list/);
  });

  it('rejects a distinct count of a list field', () => {
    const text = COUNT.replace('function: high_count', 'function: high_distinct_count\nfield: holter.dicom.accession');
    assert.deepEqual(where(errorsOf(text)), ['4:8 field']);
  });

  it('rejects a list influencer', () => {
    const errors = errorsOf(COUNT.replace('by: holter.user.id', 'by: holter.user.id\ninfluencers: [source.ip, related.ip]'));
    assert.deepEqual(where(errors), ['5:26 influencers.1']);
  });
});

describe('detector history', () => {
  it('rejects a history shorter than the bucket', () => {
    const errors = errorsOf(FIRST_SEEN.replace('bucket_span: 1h', 'bucket_span: 1d\nhistory: 30m'));
    assert.deepEqual(where(errors), ['7:10 history']);
    assert.match(errors[0]?.message ?? '', /^history '30m' is shorter than bucket_span 1d, .*; use a history of at least 1d$/);
  });

  it('judges a history against the default bucket', () => {
    const errors = errorsOf(FIRST_SEEN.replace('bucket_span: 1h\n', 'history: 30m\n').replace('function: first_seen', 'function: rare').replace('min_values: 1', 'max_share: 0.1'));
    assert.deepEqual(where(errors), ['6:10 history']);
    assert.match(errors[0]?.message ?? '', /shorter than the default bucket_span 1h/);
  });

  it('accepts a history as long as the bucket', () => {
    assert.deepEqual(errorsOf(FIRST_SEEN.replace('bucket_span: 1h', 'bucket_span: 1d\nhistory: 24h')), []);
  });
});

describe('peer group keys of another function', () => {
  it('points learning.peer_group at over', () => {
    const errors = errorsOf(COUNT.replace('half_life_days: 30 }', 'half_life_days: 30, peer_group: [holter.user.role] }'));
    assert.deepEqual(where(errors), ['5:61 learning.peer_group']);
    assert.equal(errors[0]?.message, "unknown key 'learning.peer_group' for high_count; did you mean 'over'? high_count names its peer group fields there");
  });

  it('points over at learning.peer_group', () => {
    const errors = errorsOf(TIME_OF_DAY.replace('field: holter.patient.token', 'field: holter.patient.token\nover: [holter.user.role]'));
    assert.deepEqual(where(errors), ['6:1 over']);
    assert.match(errors[0]?.message ?? '', /did you mean 'learning\.peer_group'\?/);
  });

  it('says high_sum has no peer group', () => {
    const text = `id: sum
name: Sum
function: high_sum
by: holter.user.id
field: holter.dicom.study_count
over: [holter.user.role]
learning: { min_days: 1, min_events: 1, half_life_days: 30 }
thresholds: { factor: 2, floor: 10, ceiling: 100 }
severity: low
risk_score: 10
`;
    const errors = errorsOf(text);
    assert.deepEqual(where(errors), ['6:1 over']);
    assert.equal(errors[0]?.message, "unknown key 'over': high_sum judges each entity by its own history and has no peer group");
  });
});
