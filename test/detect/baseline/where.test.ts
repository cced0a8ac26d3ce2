import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileWhere } from '../../../src/detect/baseline/index.js';
import type { WhereClause } from '../../../src/detect/baseline/index.js';
import type { HolterEvent } from '../../../src/event.js';

/** Compiles a clause given as loose data, as the loader passes it after schema validation. */
function filterOf(clause: Record<string, unknown>): (fields: object) => boolean {
  const filter = compileWhere(clause as WhereClause);
  return (fields) => filter(fields as HolterEvent);
}

describe('compileWhere', () => {
  it('matches strings regardless of case', () => {
    const matches = filterOf({ 'observer.name': ['EHR', 'pacs'] });
    assert.equal(matches({ observer: { name: 'ehr' } }), true);
    assert.equal(matches({ observer: { name: 'PACS' } }), true);
    assert.equal(matches({ observer: { name: 'Pacs' } }), true);
    assert.equal(matches({ observer: { name: 'okta' } }), false);
  });

  it('lower-cases capitals outside ASCII', () => {
    // A value whose only capital is outside ASCII must still be lower-cased before the lookup.
    const matches = filterOf({ 'observer.name': 'århus' });
    assert.equal(matches({ observer: { name: 'Århus' } }), true);
    assert.equal(matches({ observer: { name: 'ÅRHUS' } }), true);
    assert.equal(matches({ observer: { name: 'arhus' } }), false);
  });

  it('matches one element of an array field', () => {
    const matches = filterOf({ 'event.category': 'database' });
    assert.equal(matches({ event: { category: ['authentication', 'Database'] } }), true);
    assert.equal(matches({ event: { category: ['authentication', 'session'] } }), false);
    assert.equal(matches({ event: { category: [] } }), false);
  });

  it('compares numbers and booleans by type', () => {
    const matches = filterOf({ 'holter.dicom.study_count': 5, 'holter.patient.vip': true });
    assert.equal(matches({ holter: { dicom: { study_count: 5 }, patient: { vip: true } } }), true);
    assert.equal(matches({ holter: { dicom: { study_count: '5' }, patient: { vip: true } } }), false);
    assert.equal(matches({ holter: { dicom: { study_count: 5 }, patient: { vip: 'true' } } }), false);
  });

  it('requires every exists field', () => {
    const matches = filterOf({ exists: ['holter.patient.token', 'source.ip'] });
    assert.equal(matches({ holter: { patient: { token: 'pt-1' } }, source: { ip: '10.0.0.1' } }), true);
    assert.equal(matches({ holter: { patient: { token: '' } }, source: { ip: '10.0.0.1' } }), false);
    assert.equal(matches({ holter: { patient: { token: null } }, source: { ip: '10.0.0.1' } }), false);
    assert.equal(matches({ holter: { patient: { token: 'pt-1' } } }), false);
  });
});
