import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidFileError, createPatientTokenizer, loadRoster } from '../../src/enrich/index.js';
import { writeTempFile } from './files.js';

const KEY = 'roster-test-key-0123456789abcdef';

describe('loadRoster', () => {
  it('holds entries by token only', async () => {
    const csv = 'patient_id,flags,employee_user_id\nMRN-1001,vip,\nMRN-1002,employee;deceased,u-1042\nMRN-1003,,\n';
    const roster = await loadRoster(writeTempFile('roster.csv', csv), KEY);
    const tokenize = createPatientTokenizer(KEY);

    assert.equal(roster.size, 3);
    assert.deepEqual(roster.get(tokenize('MRN-1001')), { vip: true, employee: false, deceased: false });
    assert.deepEqual(roster.get(tokenize('MRN-1002')), { vip: false, employee: true, deceased: true, employeeUserId: 'u-1042' });
    assert.equal(roster.get('MRN-1001'), undefined);
    assert.ok(!JSON.stringify([...(roster as unknown as { entries: Map<string, unknown> }).entries.keys()]).includes('MRN-'));
  });

  it('treats employee_user_id as employee', async () => {
    const roster = await loadRoster(writeTempFile('roster.csv', 'patient_id,flags,employee_user_id\nMRN-1,,u-9\n'), KEY);
    assert.equal(roster.get(createPatientTokenizer(KEY)('MRN-1'))?.employee, true);
  });

  it('reads the JSON form', async () => {
    const json = JSON.stringify([
      { patient_id: 'MRN-1', flags: 'VIP;Deceased' },
      { patient_id: 'MRN-2', flags: ['employee'], employee_user_id: 'u-1042' },
    ]);
    const roster = await loadRoster(writeTempFile('roster.json', json), KEY);
    const tokenize = createPatientTokenizer(KEY);
    assert.deepEqual(roster.get(tokenize('MRN-1')), { vip: true, employee: false, deceased: true });
    assert.equal(roster.get(tokenize('MRN-2'))?.employeeUserId, 'u-1042');
  });

  it('locates bad rows without echoing patient ids', async () => {
    const csv = [
      'patient_id,flags,employee_user_id',
      'MRN-SECRET-1,vip,',
      ',vip,',
      'MRN-SECRET-2,famous,',
      'MRN-SECRET-1,deceased,',
      'MRN-SECRET-3,vip,u 1',
      'MRN-SECRET-4,MRN-SECRET-5,',
    ].join('\n');
    const error = await loadRoster(writeTempFile('roster.csv', csv), KEY).catch((caught: unknown) => caught);
    assert.ok(error instanceof InvalidFileError);
    assert.equal(error.code, 'HOLTER_ROSTER_INVALID');

    const found = error.problems.map((problem) => [problem.location?.line, problem.location?.column, problem.path]);
    assert.deepEqual(found, [
      [3, 1, 'patient_id'],
      [4, 14, 'flags'],
      [5, 1, 'patient_id'],
      [6, 18, 'employee_user_id'],
      [7, 14, 'flags'],
    ]);
    assert.match(error.problems[1]?.message ?? '', /flag 'famous'/);
    assert.match(error.problems[2]?.message ?? '', /already listed on line 2/);
    assert.ok(!error.message.includes('MRN-SECRET'), error.message);
  });

  it('rejects a numeric JSON patient id', async () => {
    const error = await loadRoster(writeTempFile('roster.json', '[{"patient_id": 42}]'), KEY).catch((caught: unknown) => caught);
    assert.ok(error instanceof InvalidFileError);
    assert.match(error.problems[0]?.message ?? '', /must be a string/);
  });
});
