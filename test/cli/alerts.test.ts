import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { AlertStore } from '../../src/sinks/store/sink.js';
import { REPO_ROOT, SAMPLES_DIR } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/temp.js';

const HOLTER = path.join(REPO_ROOT, 'bin', 'holter.js');

function runHolter(cwd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [HOLTER, ...args], { cwd, encoding: 'utf8' });
}

/** Writes a store with the alerts that an sshd sample raises (a failed-login burst), so `holter alerts` has rows to query. */
function makeStore(): { cwd: string; store: string } {
  const cwd = makeTempDir('holter-alerts-');
  const store = path.join(cwd, 'alerts.db');
  const replay = runHolter(cwd, ['replay', '--quiet', '--no-progress', '--log-level', 'warn', '--store', store, path.join(SAMPLES_DIR, 'identity', 'crowdsec_opnsense-sshd.log')]);
  assert.equal(replay.status, 0, replay.stderr);
  return { cwd, store };
}

test('alerts rejects out-of-range limits cleanly', () => {
  const { cwd, store } = makeStore();
  for (const limit of ['99999999999999999999', '9007199254740993', '1000001', '-5', '0', 'abc', '2.5']) {
    const result = runHolter(cwd, ['alerts', '--store', store, '--limit', limit]);
    assert.equal(result.status, 2, `--limit ${limit}: ${result.stderr}`);
    assert.ok(result.stderr.includes(`"${limit}" is not a whole number from 1 to 1000000`), `--limit ${limit}: ${result.stderr}`);
    assert.doesNotMatch(result.stderr, /\n\s+at /, `--limit ${limit} printed a stack trace`);
  }
});

test('alerts accepts the largest limit', () => {
  const { cwd, store } = makeStore();
  const reader = new AlertStore(store, { readOnly: true });
  const stored = reader.count();
  void reader.close();
  assert.ok(stored > 0, 'the sample raises at least one alert');

  const result = runHolter(cwd, ['alerts', '--store', store, '--json', '--limit', '1000000']);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim().split('\n').length, stored);
});

test('demo and eval reject unsafe integers', () => {
  const cwd = makeTempDir('holter-alerts-');
  for (const args of [
    ['demo', '--seed', '99999999999999999999'],
    ['demo', '--staff', '99999999999999999999'],
    ['eval', '--days', '99999999999999999999'],
    ['eval', '--seeds', '42,99999999999999999999'],
  ]) {
    const result = runHolter(cwd, args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.ok(result.stderr.includes('"99999999999999999999" is not a whole number from 1 to '), `${args.join(' ')}: ${result.stderr}`);
  }
});

test('alert store rejects an unsafe limit', () => {
  const { store: file } = makeStore();
  const store = new AlertStore(file, { readOnly: true });
  try {
    assert.throws(() => store.query({ limit: 1e20 }), /limit must be a whole number from 0 to 9007199254740991, got 100000000000000000000/);
    assert.throws(() => store.query({ limit: -1 }), /limit must be a whole number from 0 to 9007199254740991, got -1/);
    assert.equal(store.query({ limit: 0 }).length, 0);
  } finally {
    void store.close();
  }
});
