import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { HolterError } from '../../src/errors.js';
import { claimDatabase, STATE_STORE } from '../../src/sqlite-owner.js';
import { fingerprintFile, renamedPosition, resumeOffset, tailFingerprint } from '../../src/sources/position.js';
import { LOCAL_CHECKPOINT_VERSION, LocalStateStore, type LocalCheckpoint } from '../../src/state/local-store.js';
import { makeTempDir } from '../helpers/temp.js';

function tempDir(): string {
  return makeTempDir('holter-state-');
}

const checkpoint: LocalCheckpoint = {
  positions: [{ input: 'audit.ndjson', fingerprint: 'ab'.repeat(32), fingerprintBytes: 4096, lastOffset: 81_920 }],
  state: { maxEventTimeMs: 1_733_300_000_000, stages: { detectors: { version: 2, detectors: { 'after-hours-record-access': { entities: [['u-1042', [1, 2, 3]]] } } } } },
  savedAt: '2026-12-04T22:40:00.000Z',
};

describe('local state store', () => {
  it('returns undefined for a new job', () => {
    const store = LocalStateStore.open(join(tempDir(), 'state.db'));
    assert.equal(store.load('replay'), undefined);
    store.close();
  });

  it('keeps a checkpoint across reopen', () => {
    const path = join(tempDir(), 'nested', 'state.db');
    const first = LocalStateStore.open(path);
    first.save('replay', checkpoint);
    first.close();

    const second = LocalStateStore.open(path);
    assert.deepEqual(second.load('replay'), checkpoint);
    assert.deepEqual(second.jobs(), ['replay']);
    second.close();
  });

  it('replaces the previous checkpoint', () => {
    const store = LocalStateStore.open(join(tempDir(), 'state.db'));
    store.save('replay', checkpoint);
    const newer = { ...checkpoint, positions: [{ ...checkpoint.positions[0]!, lastOffset: 99_000 }], savedAt: '2026-12-04T23:00:00.000Z' };
    store.save('replay', newer);
    assert.deepEqual(store.load('replay'), newer);
    store.close();
  });

  it('keeps jobs apart', () => {
    const store = LocalStateStore.open(join(tempDir(), 'state.db'));
    store.save('a', checkpoint);
    assert.equal(store.load('b'), undefined);
    store.close();
  });

  it('rejects another checkpoint version', () => {
    const path = join(tempDir(), 'state.db');
    LocalStateStore.open(path).close();
    const db = new Database(path);
    db.prepare('INSERT INTO checkpoint (job, version, saved_at, positions, state) VALUES (?, ?, ?, ?, ?)').run('replay', LOCAL_CHECKPOINT_VERSION + 1, 'x', '[]', Buffer.alloc(0));
    db.close();

    const store = LocalStateStore.open(path);
    assert.throws(
      () => store.load('replay'),
      (error: unknown) => error instanceof HolterError && error.code === 'HOLTER_STATE_VERSION' && /version 2/.test(error.message) && /delete the file/.test(error.message),
    );
    store.close();
  });

  it('reports a damaged checkpoint', () => {
    const path = join(tempDir(), 'state.db');
    LocalStateStore.open(path).close();
    const db = new Database(path);
    db.prepare('INSERT INTO checkpoint (job, version, saved_at, positions, state) VALUES (?, ?, ?, ?, ?)').run('replay', LOCAL_CHECKPOINT_VERSION, 'x', '[]', Buffer.from('not gzip'));
    db.close();

    const store = LocalStateStore.open(path);
    assert.throws(() => store.load('replay'), (error: unknown) => error instanceof HolterError && error.code === 'HOLTER_STORE_FAILED');
    store.close();
  });

  it('reports damaged pages of the store', () => {
    const path = join(tempDir(), 'state.db');
    const store = LocalStateStore.open(path);
    // Random text does not compress, so the state spans many pages beyond the one overwritten below.
    store.save('replay', { ...checkpoint, state: { noise: randomBytes(200_000).toString('base64') } });
    store.close();
    const file = openSync(path, 'r+');
    writeSync(file, Buffer.alloc(4200, 'GARBAGE'), 0, 4200, 50_000);
    closeSync(file);

    const damaged = LocalStateStore.open(path);
    assert.throws(
      () => damaged.load('replay'),
      (error: unknown) => error instanceof HolterError && error.code === 'HOLTER_STORE_FAILED' && error.message.includes(path) && /could not be read: .*Restore it from a backup, or delete it/.test(error.message),
    );
    damaged.close();
  });

  it('names a folder it cannot write', () => {
    // As root the tests cannot make a folder unwritable, so a stand-in database raises what SQLite raises there.
    const readOnly = {
      pragma: () => {
        throw new Database.SqliteError('attempt to write a readonly database', 'SQLITE_READONLY');
      },
      close: () => undefined,
    };
    assert.throws(
      () => claimDatabase(readOnly as unknown as Database.Database, '/srv/holter/state.db', STATE_STORE),
      (error: unknown) => error instanceof HolterError && /could not be opened for writing: attempt to write a readonly database\. Make the file and its folder writable/.test(error.message) && !/damaged/.test(error.message),
    );
  });

  it('rejects another program\'s database', () => {
    const path = join(tempDir(), 'alerts.db');
    const other = new Database(path);
    other.exec('CREATE TABLE alerts (id TEXT PRIMARY KEY)');
    other.close();

    assert.throws(() => LocalStateStore.open(path), (error: unknown) => error instanceof HolterError && error.code === 'HOLTER_STORE_FAILED' && /is not a Holter state store: it has the tables alerts/.test(error.message));
    const reopened = new Database(path);
    assert.deepEqual(reopened.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all(), [{ name: 'alerts' }], 'nothing was added to it');
    reopened.close();
  });

  it('rejects a database marked by another program', () => {
    const path = join(tempDir(), 'other.db');
    const other = new Database(path);
    other.pragma('application_id = 1234');
    other.close();

    assert.throws(() => LocalStateStore.open(path), (error: unknown) => error instanceof HolterError && /application_id 1234/.test(error.message));
  });

  it('adopts a store written before the mark', () => {
    const path = join(tempDir(), 'state.db');
    const store = LocalStateStore.open(path);
    store.save('job', { positions: [], state: { count: 1 }, savedAt: '2026-12-01T00:00:00.000Z' });
    store.close();
    const unmark = new Database(path);
    unmark.pragma('application_id = 0');
    unmark.close();

    const reopened = LocalStateStore.open(path);
    assert.deepEqual(reopened.load('job')?.state, { count: 1 });
    reopened.close();
  });

  it('keeps the token key fingerprint', () => {
    const path = join(tempDir(), 'state.db');
    const store = LocalStateStore.open(path);
    store.save('replay', { ...checkpoint, tokenKeyFingerprint: 'pt_0123' });
    store.close();

    const reopened = LocalStateStore.open(path);
    assert.equal(reopened.load('replay')?.tokenKeyFingerprint, 'pt_0123');
    reopened.close();
  });

  it('reads a store without the fingerprint column', () => {
    const path = join(tempDir(), 'state.db');
    const store = LocalStateStore.open(path);
    store.save('replay', checkpoint);
    store.close();
    const downgrade = new Database(path);
    downgrade.exec('ALTER TABLE checkpoint DROP COLUMN token_key_fingerprint');
    downgrade.close();

    const reader = LocalStateStore.open(path, { readOnly: true });
    assert.deepEqual(reader.load('replay'), checkpoint);
    reader.close();
    const writer = LocalStateStore.open(path);
    assert.deepEqual(writer.load('replay'), checkpoint);
    writer.save('replay', { ...checkpoint, tokenKeyFingerprint: 'pt_4567' });
    assert.equal(writer.load('replay')?.tokenKeyFingerprint, 'pt_4567');
    writer.close();
  });

  it('is used by one process at a time', () => {
    const path = join(tempDir(), 'state.db');
    const first = LocalStateStore.open(path);

    assert.throws(() => LocalStateStore.open(path), (error: unknown) => error instanceof HolterError && /is in use by another Holter process/.test(error.message));
    first.close();
    LocalStateStore.open(path).close();
  });

  it('reads without writing when read-only', () => {
    const path = join(tempDir(), 'empty.db');
    new Database(path).close();

    const reader = LocalStateStore.open(path, { readOnly: true });
    assert.equal(reader.load('job'), undefined);
    reader.close();
    const check = new Database(path, { readonly: true });
    assert.deepEqual(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all(), [], 'no table was added');
    assert.equal(check.pragma('application_id', { simple: true }), 0, 'the file was not marked');
    check.close();
  });

  it('names a directory as one', () => {
    const path = tempDir();
    assert.throws(() => LocalStateStore.open(path), (error: unknown) => error instanceof HolterError && /is a directory\. Point state\.path/.test(error.message));
  });

  it('reports a path that is not a database', () => {
    const path = join(tempDir(), 'state.db');
    writeFileSync(path, 'plain text, not SQLite '.repeat(100));
    assert.throws(() => LocalStateStore.open(path), (error: unknown) => error instanceof HolterError && error.code === 'HOLTER_STORE_FAILED' && error.message.includes(path));
  });
});

describe('input positions', () => {
  it('resumes a file that grew', async () => {
    const file = join(tempDir(), 'audit.log');
    writeFileSync(file, 'line one\nline two\n');
    const saved = { input: file, ...(await fingerprintFile(file)), lastOffset: 9 };
    appendFileSync(file, 'line three\n');
    assert.equal(await resumeOffset(file, saved), 9);
  });

  it('restarts a replaced file', async () => {
    const file = join(tempDir(), 'audit.log');
    writeFileSync(file, 'line one\nline two\n');
    const saved = { input: file, ...(await fingerprintFile(file)), lastOffset: 9 };
    writeFileSync(file, 'rotated one\nrotated two\nrotated three\n');
    assert.equal(await resumeOffset(file, saved), undefined);
  });

  it('restarts a truncated file', async () => {
    const file = join(tempDir(), 'audit.log');
    writeFileSync(file, 'line one\nline two\n');
    const saved = { input: file, ...(await fingerprintFile(file)), lastOffset: 9 };
    writeFileSync(file, 'line one\n');
    assert.equal(await resumeOffset(file, saved), undefined);
  });

  it('restarts a long file cut back', async () => {
    const file = join(tempDir(), 'audit.log');
    const lines = Array.from({ length: 1000 }, (_, index) => `record ${index}\n`).join('');
    writeFileSync(file, lines);
    const saved = { input: file, ...(await fingerprintFile(file)), lastOffset: lines.length - 'record 999\n'.length };
    writeFileSync(file, lines.slice(0, 5000));
    assert.equal(saved.fingerprintBytes, 4096, 'the first 4096 bytes are unchanged');
    assert.equal(await resumeOffset(file, saved), undefined);
  });

  it('hashes at most the first 4096 bytes', async () => {
    const file = join(tempDir(), 'big.log');
    writeFileSync(file, 'x'.repeat(10_000));
    const first = await fingerprintFile(file);
    appendFileSync(file, 'more');
    assert.equal(first.fingerprintBytes, 4096);
    assert.deepEqual(await fingerprintFile(file), first);
  });

  it('restarts a replaced file with the same start', async () => {
    const file = join(tempDir(), 'audit.log');
    const head = Array.from({ length: 500 }, (_, index) => `record ${index}\n`).join('');
    writeFileSync(file, `${head}old tail one\nold tail two\n`);
    const lastOffset = head.length + 'old tail one\n'.length;
    const saved = { input: file, ...(await fingerprintFile(file)), lastOffset, tailFingerprint: await tailFingerprint(file, lastOffset) };
    appendFileSync(file, 'grown\n');
    assert.equal(await resumeOffset(file, saved), lastOffset, 'a file that grew resumes');
    writeFileSync(file, `${head}new tail one\nnew tail two\nnew tail three\n`);
    assert.equal(saved.fingerprintBytes, 4096, 'the first 4096 bytes are the same');
    assert.equal(await resumeOffset(file, saved), undefined);
  });

  it('finds the position of a renamed file', async () => {
    const folder = tempDir();
    const rotated = join(folder, 'audit.log');
    writeFileSync(rotated, 'line one\nline two\n');
    const other = join(folder, 'other.log');
    writeFileSync(other, 'other one\n');
    const saved = [
      { input: other, ...(await fingerprintFile(other)), lastOffset: 0 },
      { input: rotated, ...(await fingerprintFile(rotated)), lastOffset: 9 },
    ];
    const renamed = join(folder, 'audit.log.1');
    renameSync(rotated, renamed);
    appendFileSync(renamed, 'line three\n');
    writeFileSync(rotated, 'new one\n');

    assert.equal((await renamedPosition(renamed, saved))?.input, rotated);
    assert.equal(await renamedPosition(rotated, saved), undefined, 'the new file under the old name begins otherwise');
    writeFileSync(renamed, 'line one\n');
    assert.equal(await renamedPosition(renamed, saved), undefined, 'a file shorter than the saved prefix is not a continuation');
  });

  it('starts without a saved position', async () => {
    const file = join(tempDir(), 'audit.log');
    writeFileSync(file, 'line\n');
    assert.equal(await resumeOffset(file, undefined), undefined);
  });
});
