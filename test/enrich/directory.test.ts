import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Directory, InvalidFileError, loadDirectory } from '../../src/enrich/index.js';
import type { Resolution } from '../../src/enrich/index.js';
import { writeTempFile } from './files.js';

const CSV = [
  'user_id,display_name,role,department,facility,time_zone,shift,accounts',
  'u-1042,Jane Doe,cardiologist,cardiology-ward,st-jude-heart,America/New_York,day,ehr:jdoe;okta:jdoe@stjude.example.org;ad:STJUDE\\jdoe;pacs:JDOE;ssh:jdoe',
  'u-2001,Raj Patel,radiographer,radiology,st-jude-heart,America/Chicago,night,ehr:rpatel;pacs:RPATEL',
  'u-3001,John Smith,nurse,ccu,st-jude-heart,America/New_York,,okta:jsmith@stjude.example.org',
  'u-3002,Joan Smith,billing-clerk,billing,st-jude-heart,America/New_York,office,ad:BILLING\\jsmith',
  '',
].join('\n');

/** 1-based column of `text` in `line`, so expected positions read from the input itself. */
function columnOf(line: string, text: string): number {
  const index = line.indexOf(text);
  assert.ok(index >= 0, `${text} not in ${line}`);
  return index + 1;
}

function userIdOf(resolution: Resolution): string | undefined {
  return resolution.status === 'known' ? resolution.person.userId : undefined;
}

function problemsOf(error: unknown): InvalidFileError {
  assert.ok(error instanceof InvalidFileError, `expected InvalidFileError, got ${String(error)}`);
  return error;
}

describe('loadDirectory', () => {
  it('resolves every account form', async () => {
    const directory = await loadDirectory(writeTempFile('directory.csv', CSV));
    const forms = ['jdoe', 'JDOE', 'STJUDE\\jdoe', 'stjude\\JDoe', 'jdoe@stjude.example.org', 'JDoe@StJude.Example.org', 'u-1042', ' jdoe '];
    for (const form of forms) assert.equal(userIdOf(directory.resolve(form)), 'u-1042', form);
  });

  it('resolves domain forms by bare name', async () => {
    const directory = await loadDirectory(writeTempFile('directory.csv', CSV));
    assert.equal(userIdOf(directory.resolve('rpatel@stjude.example.org')), 'u-2001');
    assert.equal(userIdOf(directory.resolve('STJUDE\\RPATEL')), 'u-2001');
  });

  it('keeps directory facts', async () => {
    const directory = await loadDirectory(writeTempFile('directory.csv', CSV));
    const person = directory.person('u-2001');
    assert.equal(person?.role, 'radiographer');
    assert.equal(person?.department, 'radiology');
    assert.equal(person?.timeZone, 'America/Chicago');
    assert.equal(person?.shift, 'night');
    assert.deepEqual(person?.accounts, [{ system: 'ehr', name: 'rpatel' }, { system: 'pacs', name: 'RPATEL' }]);
    assert.equal(directory.person('u-3001')?.shift, undefined);
  });

  it('reports a shared bare name as ambiguous', async () => {
    const directory = await loadDirectory(writeTempFile('directory.csv', CSV));
    assert.deepEqual(directory.resolve('jsmith'), { status: 'ambiguous', userIds: ['u-3001', 'u-3002'] });
    assert.deepEqual(directory.resolve('OTHER\\jsmith'), { status: 'ambiguous', userIds: ['u-3001', 'u-3002'] });
  });

  it('resolves a qualified name despite a shared bare name', async () => {
    const directory = await loadDirectory(writeTempFile('directory.csv', CSV));
    assert.equal(userIdOf(directory.resolve('jsmith@stjude.example.org')), 'u-3001');
    assert.equal(userIdOf(directory.resolve('billing\\JSMITH')), 'u-3002');
  });

  it('reports unknown and empty names', async () => {
    const directory = await loadDirectory(writeTempFile('directory.csv', CSV));
    assert.deepEqual(directory.resolve('mallory'), { status: 'unknown' });
    assert.deepEqual(directory.resolve('   '), { status: 'unknown' });
  });

  it('treats an account listed for two people as ambiguous', () => {
    const directory = new Directory([
      { userId: 'u-1', accounts: [{ system: 'ehr', name: 'radiology' }] },
      { userId: 'u-2', accounts: [{ system: 'ehr', name: 'RADIOLOGY' }] },
    ]);
    assert.equal(directory.resolve('radiology').status, 'ambiguous');
  });

  it('reads the JSON form', async () => {
    const json = JSON.stringify([
      {
        user_id: 'u-1042',
        role: 'cardiologist',
        department: 'cath-lab',
        facility: 'st-jude-heart',
        time_zone: 'America/New_York',
        shift: 'day',
        accounts: [
          { system: 'okta', name: 'jdoe@stjude.example.org' },
          { system: 'ad', name: 'STJUDE\\jdoe' },
        ],
      },
      { user_id: 'u-7', accounts: 'ehr:seven' },
    ]);
    const directory = await loadDirectory(writeTempFile('directory.json', json));
    assert.equal(userIdOf(directory.resolve('JDOE')), 'u-1042');
    assert.equal(directory.person('u-1042')?.department, 'cath-lab');
    assert.equal(userIdOf(directory.resolve('seven')), 'u-7');
  });

  it('locates every bad CSV row at once', async () => {
    const lines = [
      'user_id,role,department,facility,time_zone,shift,accounts',
      'u-1,nurse,ccu,st-jude,America/New_York,day,ehr:a',
      ',nurse,ccu,st-jude,America/New_York,day,ehr:b',
      'u-3,nurse,ccu,st-jude,Mars/Olympus_Mons,day,ehr:c',
      'u-4,nurse,ccu,st-jude,America/New_York,weekends,ehr:d',
      'u-5,nurse,ccu,st-jude,America/New_York,day,ehr-e',
      'u-1,nurse,ccu,st-jude,America/New_York,day,ehr:f',
      'u-7,nurse,ccu,st-jude,America/New_York,day,ehr:g,extra',
    ];
    const file = writeTempFile('directory.csv', lines.join('\n'));
    const error = problemsOf(await loadDirectory(file).catch((caught: unknown) => caught));

    assert.equal(error.code, 'HOLTER_DIRECTORY_INVALID');
    const found = error.problems.map((problem) => [problem.location?.line, problem.location?.column, problem.path]);
    assert.deepEqual(found, [
      [3, 1, 'user_id'],
      [4, columnOf(lines[3] as string, 'Mars/'), 'time_zone'],
      [5, columnOf(lines[4] as string, 'weekends'), 'shift'],
      [6, columnOf(lines[5] as string, 'ehr-e'), 'accounts'],
      [7, 1, 'user_id'],
      [8, columnOf(lines[7] as string, 'extra'), undefined],
    ]);
    for (const problem of error.problems) assert.equal(problem.location?.file, file);
    assert.equal(error.describe().match(/\[HOLTER_DIRECTORY_INVALID\]/g)?.length, error.problems.length, 'each code once, after its problem');
  });

  it('names the bad time zone and the fix', async () => {
    const csv = 'user_id,time_zone,accounts\nu-3,Mars/Olympus_Mons,ehr:c\n';
    const error = problemsOf(await loadDirectory(writeTempFile('directory.csv', csv)).catch((caught: unknown) => caught));
    const message = error.problems[0]?.message ?? '';
    assert.match(message, /Mars\/Olympus_Mons/);
    assert.match(message, /IANA name such as America\/New_York/);
    assert.match(error.message, /directory\.csv:2:5: time_zone/);
  });

  it('names the duplicate user id and its first line', async () => {
    const csv = 'user_id,accounts\nu-1,ehr:a\nu-1,ehr:b\n';
    const error = problemsOf(await loadDirectory(writeTempFile('directory.csv', csv)).catch((caught: unknown) => caught));
    assert.match(error.problems[0]?.message ?? '', /'u-1' is already used on line 2/);
  });

  it('rejects a file without a header row', async () => {
    const csv = 'u-1,nurse,ccu,st-jude,America/New_York,day,ehr:a\n';
    const error = problemsOf(await loadDirectory(writeTempFile('directory.csv', csv)).catch((caught: unknown) => caught));
    assert.match(error.problems[0]?.message ?? '', /header row/);
    assert.equal(error.problems[0]?.location?.line, 1);
  });

  it('rejects an unknown column by name', async () => {
    const csv = 'user_id,accounts,badge\nu-1,ehr:a,42\n';
    const error = problemsOf(await loadDirectory(writeTempFile('directory.csv', csv)).catch((caught: unknown) => caught));
    assert.equal(error.problems.length, 1);
    assert.match(error.problems[0]?.message ?? '', /unknown column 'badge'/);
    assert.equal(error.problems[0]?.location?.column, 18);
  });

  it('locates bad JSON entries', async () => {
    const lines = [
      '[',
      '  { "user_id": "u-1", "accounts": [] },',
      '  { "user_id": "u-2", "time_zone": "EST+5", "accounts": [ { "system": "ehr" } ] },',
      '  { "user_id": 3, "accounts": [], "pager": "x" }',
      ']',
    ];
    const error = problemsOf(await loadDirectory(writeTempFile('directory.json', lines.join('\n'))).catch((caught: unknown) => caught));
    const found = error.problems.map((problem) => [problem.location?.line, problem.location?.column, problem.path]);
    assert.deepEqual(found, [
      [3, columnOf(lines[2] as string, '"EST+5"'), 'time_zone'],
      [3, columnOf(lines[2] as string, '[ {'), 'accounts'],
      [4, columnOf(lines[3] as string, '3,'), 'user_id'],
      [4, columnOf(lines[3] as string, '"pager"'), '[2].pager'],
    ]);
    assert.match(error.problems[2]?.message ?? '', /user_id must be a string, not 3/);
  });

  it('rejects invalid JSON with its position', async () => {
    const error = problemsOf(await loadDirectory(writeTempFile('directory.json', '[ { "user_id": "u-1", }')).catch((caught: unknown) => caught));
    assert.equal(error.problems[0]?.location?.line, 1);
    assert.match(error.problems[0]?.message ?? '', /invalid JSON/);
  });

  it('rejects a missing file with its path', async () => {
    await assert.rejects(loadDirectory('/nonexistent/holter/directory.csv'), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /\/nonexistent\/holter\/directory\.csv \(ENOENT\)/);
      return true;
    });
  });
});
