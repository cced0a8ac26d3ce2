import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { slugify } from '../../src/decoders/dcm-codes.js';

describe('slugify', () => {
  it('lower-cases and joins words with hyphens', () => {
    assert.equal(slugify('DICOM Instances Transferred'), 'dicom-instances-transferred');
    assert.equal(slugify('  Emergency Override -- Started! '), 'emergency-override-started');
    assert.equal(slugify('read'), 'read');
    assert.equal(slugify('Ünïcode'), 'n-code');
    assert.equal(slugify('---'), '');
  });

  it('returns the same slug when repeated', () => {
    for (let round = 0; round < 3; round++) assert.equal(slugify('User Authentication'), 'user-authentication');
  });

  it('stays correct past the cache bound', () => {
    // More distinct names than the cache keeps, so it is cleared at least once on the way.
    for (let index = 0; index < 2_500; index++) assert.equal(slugify(`Name ${index} X`), `name-${index}-x`);
    assert.equal(slugify('Name 7 X'), 'name-7-x');
  });
});
