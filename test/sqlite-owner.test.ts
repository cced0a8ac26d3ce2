import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';

import { HolterError } from '../src/errors.js';
import { AlertStore } from '../src/sinks/store/sink.js';
import { WebhookOutbox } from '../src/sinks/webhook/outbox.js';
import { LocalStateStore } from '../src/state/local-store.js';
import { makeTempDir } from './helpers/temp.js';

function tempFile(name: string): string {
  return path.join(makeTempDir('holter-sqlite-'), name);
}

function tablesOf(file: string): string[] {
  const db = new Database(file, { readonly: true });
  const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((row) => row.name);
  db.close();
  return names;
}

function rejected(pattern: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof HolterError && error.code === 'HOLTER_STORE_FAILED' && pattern.test(error.message);
}

test('alert store rejects another program\'s database', () => {
  const file = tempFile('patients.db');
  const other = new Database(file);
  other.exec('CREATE TABLE patients (mrn TEXT)');
  other.close();

  assert.throws(() => new AlertStore(file), rejected(/is not a Holter alert store: it has the tables patients\. Point sinks\.store\.path \(or --store\)/));
  assert.deepEqual(tablesOf(file), ['patients'], 'nothing was added');
});

test('each kind rejects the other kinds', async () => {
  const stateFile = tempFile('state.db');
  LocalStateStore.open(stateFile).close();
  const alertFile = tempFile('alerts.db');
  await new AlertStore(alertFile).close();

  assert.throws(() => new AlertStore(stateFile), rejected(/is not a Holter alert store: it is a Holter state store/));
  assert.throws(() => LocalStateStore.open(alertFile), rejected(/is not a Holter state store: it is a Holter alert store/));
  assert.throws(() => new WebhookOutbox(alertFile), rejected(/is not a Holter webhook outbox: it is a Holter alert store/));
  assert.deepEqual(tablesOf(stateFile), ['checkpoint']);
});

test('unmarked file of the same kind is adopted', async () => {
  const file = tempFile('alerts.db');
  await new AlertStore(file).close();
  const unmark = new Database(file);
  unmark.pragma('application_id = 0');
  unmark.close();

  const reopened = new AlertStore(file);
  await reopened.close();
  const check = new Database(file, { readonly: true });
  assert.notEqual(check.pragma('application_id', { simple: true }), 0, 'the store is marked again');
  check.close();
});

test('read-only alert store writes nothing', async () => {
  const empty = tempFile('empty.db');
  new Database(empty).close();
  const reader = new AlertStore(empty, { readOnly: true });
  assert.deepEqual(reader.query(), []);
  assert.equal(reader.count(), 0);
  await reader.close();
  assert.deepEqual(tablesOf(empty), [], 'no table was added');

  const written = tempFile('alerts.db');
  await new AlertStore(written).close();
  const listing = new AlertStore(written, { readOnly: true });
  assert.equal(listing.count(), 0);
  await listing.close();
});

test('each kind names a directory as one', () => {
  const directory = makeTempDir('holter-sqlite-');

  assert.throws(() => new AlertStore(directory), rejected(/The alert store .* is a directory\. Point sinks\.store\.path \(or --store\) at a file inside it\./));
  assert.throws(() => new WebhookOutbox(directory), rejected(/The webhook outbox .* is a directory\./));
  assert.throws(() => LocalStateStore.open(directory), rejected(/The state store .* is a directory\./));
});

test('new stores are owner-only', async () => {
  const previous = process.umask(0o022);
  try {
    const stateFile = tempFile('state.db');
    const state = LocalStateStore.open(stateFile);
    const alertFile = tempFile('alerts.db');
    const alerts = new AlertStore(alertFile);
    const outboxFile = path.join(path.dirname(tempFile('outbox.db')), 'new-folder', 'outbox.db');
    const outbox = new WebhookOutbox(outboxFile);
    for (const file of [stateFile, alertFile, outboxFile, `${stateFile}-wal`, `${alertFile}-wal`, `${outboxFile}-wal`]) {
      assert.equal(statSync(file).mode & 0o777, 0o600, file);
    }
    assert.equal(statSync(path.dirname(outboxFile)).mode & 0o777, 0o700, 'a folder it creates is owner-only too');
    state.close();
    await alerts.close();
    outbox.close();

    // A file someone created before keeps the mode they gave it.
    const existing = tempFile('shared-alerts.db');
    writeFileSync(existing, '', { mode: 0o640 });
    await new AlertStore(existing).close();
    assert.equal(statSync(existing).mode & 0o777, 0o640);
  } finally {
    process.umask(previous);
  }
});

test('stores reject standard output', () => {
  assert.throws(() => LocalStateStore.open('-'), rejected(/The state store cannot be - \(standard output\): it is an SQLite file\. Point state\.path \(or --state\) at a file\./));
  assert.throws(() => new WebhookOutbox('-'), rejected(/The webhook outbox cannot be - .*Point sinks\.webhook\.outbox_path at a file\./));
  assert.throws(() => new AlertStore('-'), rejected(/The alert store cannot be -/));
});
