import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { simulateHospital } from '../../src/sim/index.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/temp.js';

const HOLTER = path.join(REPO_ROOT, 'bin', 'holter.js');

function holter(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [HOLTER, ...args], { cwd, encoding: 'utf8', env: { ...process.env, HOLTER_WEBHOOK_SECRET: undefined } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function failedLogins(from: number, to: number): string {
  const lines: string[] = [];
  for (let index = from; index < to; index++) {
    lines.push(`Mar  1 10:00:${String(10 + index * 4).padStart(2, '0')} host sshd[100]: Failed password for jdoe from 203.0.113.9 port ${40000 + index} ssh2`);
  }
  return `${lines.join('\n')}\n`;
}

function alertRules(file: string): string[] {
  const text = readFileSync(file, 'utf8').trim();
  return text === '' ? [] : text.split('\n').map((line) => (JSON.parse(line) as { rule: { id: string } }).rule.id);
}

test('replay state continues a window', () => {
  const cwd = makeTempDir('holter-state-');
  writeFileSync(path.join(cwd, 'auth.log'), failedLogins(0, 6));

  const first = holter(['replay', '--quiet', '--state', 'state.db', '--out', 'first.ndjson', 'auth.log'], cwd);
  assert.equal(first.status, 0, first.stderr);
  assert.deepEqual(alertRules(path.join(cwd, 'first.ndjson')), []);
  assert.match(first.stderr, /no earlier checkpoint; open windows saved/);

  appendFileSync(path.join(cwd, 'auth.log'), failedLogins(6, 10));
  const second = holter(['replay', '--quiet', '--state', 'state.db', '--out', 'second.ndjson', 'auth.log'], cwd);
  assert.equal(second.status, 0, second.stderr);
  assert.deepEqual(alertRules(path.join(cwd, 'second.ndjson')), ['holter-failed-login-burst']);
  assert.match(second.stderr, /skipping 6 records already processed/);
  assert.match(readFileSync(path.join(cwd, 'second.ndjson'), 'utf8'), /10 failed logins/);

  const third = holter(['replay', '--quiet', '--state', 'state.db', '--out', 'third.ndjson', 'auth.log'], cwd);
  assert.equal(third.status, 0, third.stderr);
  assert.deepEqual(alertRules(path.join(cwd, 'third.ndjson')), []);
  assert.match(third.stderr, /skipping 10 records already processed/);
});

test('replay state follows a rotated file', () => {
  const cwd = makeTempDir('holter-state-');
  writeFileSync(path.join(cwd, 'auth.log'), failedLogins(0, 6));
  assert.equal(holter(['replay', '--quiet', '--state', 'state.db', 'auth.log'], cwd).status, 0);

  // The writer renamed auth.log, wrote 4 more records to it, and started a new auth.log.
  renameSync(path.join(cwd, 'auth.log'), path.join(cwd, 'auth.log.1'));
  appendFileSync(path.join(cwd, 'auth.log.1'), failedLogins(6, 10));
  writeFileSync(path.join(cwd, 'auth.log'), '');
  const result = holter(['replay', '--quiet', '--state', 'state.db', '--out', 'alerts.ndjson', 'auth.log.1', 'auth.log'], cwd);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /auth\.log\.1 begins as .*auth\.log did when it was read/);
  assert.match(result.stderr, /skipping 6 records already processed/);
  assert.match(readFileSync(path.join(cwd, 'alerts.ndjson'), 'utf8'), /10 failed logins/, 'the window goes on where the old name left it');
});

test('replay state rereads a replaced file', () => {
  const cwd = makeTempDir('holter-state-');
  writeFileSync(path.join(cwd, 'auth.log'), failedLogins(0, 6));
  assert.equal(holter(['replay', '--quiet', '--state', 'state.db', 'auth.log'], cwd).status, 0);

  writeFileSync(path.join(cwd, 'auth.log'), `Mar  1 11:00:00 host sshd[101]: Accepted password for jdoe from 203.0.113.9 port 40100 ssh2\n${failedLogins(0, 2)}`);
  const result = holter(['replay', '--quiet', '--state', 'state.db', 'auth.log'], cwd);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /skipping 0 records/);
  assert.match(result.stderr, /records read\s+3/);
});

test('without state a replay closes its windows', () => {
  const cwd = makeTempDir('holter-state-');
  writeFileSync(path.join(cwd, 'auth.log'), failedLogins(0, 10));
  const result = holter(['replay', '--quiet', '--out', 'alerts.ndjson', 'auth.log'], cwd);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(alertRules(path.join(cwd, 'alerts.ndjson')), ['holter-failed-login-burst']);
  assert.doesNotMatch(result.stderr, /state\s{2,}/);
});

test('baseline show prints a learned profile', () => {
  const cwd = makeTempDir('holter-state-');
  const hospital = simulateHospital({ staff: 30, days: 8, seed: 7, incidents: false, traps: false });
  writeFileSync(path.join(cwd, 'directory.csv'), hospital.directoryCsv());
  writeFileSync(path.join(cwd, 'records.log'), [...hospital.records()].map((record) => record.text.replace(/\n/g, ' ')).join('\n') + '\n');

  const replay = holter(['replay', '--quiet', '--state', 'state.db', '--directory', 'directory.csv', '--time-zone', hospital.timeZone, 'records.log'], cwd);
  assert.equal(replay.status, 0, replay.stderr);

  const user = hospital.directory[0]!.user_id;
  const text = holter(['baseline', 'show', user, '--state', 'state.db', '--time-zone', hospital.timeZone], cwd);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^Baseline of ${user} `, 'm'));
  assert.match(text.stdout, /^after-hours-record-access \(time_of_day\)$/m);
  assert.match(text.stdout, /^\s+Mon [ .+#]{24}$/m);
  assert.match(text.stdout, /^ {2}active dates by local hour \(decayed count; /m);
  assert.match(text.stdout, /^ {4}00h [\d.]+ +01h [\d.]+ .* 07h [\d.]+$/m);
  assert.match(text.stdout, /^daily-record-volume \(high_distinct_count\)$/m);
  assert.match(text.stdout, /^ {4}- typical: [\d.]+, .*learned: (true|false), /m);
  assert.doesNotMatch(text.stdout, /[{}"]/, 'profiles are printed as text, not JSON');

  const json = holter(['baseline', 'show', user, '--state', 'state.db', '--time-zone', hospital.timeZone, '--format', 'json'], cwd);
  const profile = JSON.parse(json.stdout) as { user: string; detectors: Record<string, { hour_of_week_percent?: number[] }> };
  assert.equal(profile.user, user);
  assert.equal(profile.detectors['after-hours-record-access']?.hour_of_week_percent?.length, 168);

  const unknown = holter(['baseline', 'show', 'u-nobody', '--state', 'state.db'], cwd);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /No detector has a baseline for u-nobody/);
});

test('baseline show needs a state store', () => {
  const cwd = makeTempDir('holter-state-');
  const result = holter(['baseline', 'show', 'u-1042'], cwd);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /Pass --state FILE, or set state\.path/);

  const empty = holter(['baseline', 'show', 'u-1042', '--state', 'empty.db'], cwd);
  assert.equal(empty.status, 2);
  assert.match(empty.stderr, /State store empty.db not found/);
});

test('replay state waits for a complete line', () => {
  const cwd = makeTempDir('holter-state-');
  const lines = failedLogins(0, 4);
  const lastLine = failedLogins(4, 5);
  writeFileSync(path.join(cwd, 'auth.log'), lines + lastLine.slice(0, 30));

  const first = holter(['replay', '--quiet', '--state', 'state.db', 'auth.log'], cwd);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /records read\s+4/);
  assert.match(first.stderr, /held back\s+1 record/);

  appendFileSync(path.join(cwd, 'auth.log'), lastLine.slice(30));
  const second = holter(['replay', '--quiet', '--state', 'state.db', 'auth.log'], cwd);
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stderr, /skipping 4 records already processed/);
  assert.match(second.stderr, /records read\s+1\b/);
  assert.match(second.stderr, /dead-lettered\s+0/);
});

test('replay state warns about late input', () => {
  const cwd = makeTempDir('holter-state-');
  writeFileSync(path.join(cwd, 'later.log'), 'Mar  2 09:00:00 host sshd[101]: Accepted password for jdoe from 203.0.113.9 port 40100 ssh2\n');
  writeFileSync(path.join(cwd, 'earlier.log'), failedLogins(0, 3));
  assert.equal(holter(['replay', '--quiet', '--state', 'state.db', 'later.log'], cwd).status, 0);

  const result = holter(['replay', '--quiet', '--state', 'state.db', 'earlier.log'], cwd);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /late after restore\s+3 events were older than the saved state's watermark/);
});

test('replay state notes standard input', () => {
  const cwd = makeTempDir('holter-state-');
  const result = spawnSync(process.execPath, [HOLTER, 'replay', '--quiet', '--state', 'state.db', '-'], { cwd, encoding: 'utf8', input: failedLogins(0, 2) });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /standard input has no saved position/);
  assert.match(result.stderr, /identity\.token_key is not set/);
});

test('replay state rejects another token key', () => {
  const cwd = makeTempDir('holter-state-');
  writeFileSync(path.join(cwd, 'auth.log'), failedLogins(0, 3));
  writeFileSync(path.join(cwd, 'key-a.yml'), 'identity:\n  token_key: first-key-0123456789abcdef\n');
  writeFileSync(path.join(cwd, 'key-b.yml'), 'identity:\n  token_key: second-key-0123456789abcdef\n');

  const first = holter(['replay', '--quiet', '--config', 'key-a.yml', '--state', 'state.db', 'auth.log'], cwd);
  assert.equal(first.status, 0, first.stderr);

  const other = holter(['replay', '--quiet', '--config', 'key-b.yml', '--state', 'state.db', 'auth.log'], cwd);
  assert.notEqual(other.status, 0);
  assert.match(other.stderr, /saved with a patient token key, but this run is configured with another/);
  assert.match(other.stderr, /delete \S*state\.db to start with empty state/);
  assert.doesNotMatch(other.stderr, /skipping/);

  // Without a key the run would tokenise with a random one, which is another key too.
  const keyless = holter(['replay', '--quiet', '--state', 'state.db', 'auth.log'], cwd);
  assert.notEqual(keyless.status, 0);
  assert.match(keyless.stderr, /no patient token key is configured now/);

  const same = holter(['replay', '--quiet', '--config', 'key-a.yml', '--state', 'state.db', 'auth.log'], cwd);
  assert.equal(same.status, 0, same.stderr);
  assert.match(same.stderr, /skipping 3 records already processed/);
});

test('replay state records a key for old state', () => {
  const cwd = makeTempDir('holter-state-');
  writeFileSync(path.join(cwd, 'auth.log'), failedLogins(0, 3));
  writeFileSync(path.join(cwd, 'key-a.yml'), 'identity:\n  token_key: first-key-0123456789abcdef\n');
  writeFileSync(path.join(cwd, 'key-b.yml'), 'identity:\n  token_key: second-key-0123456789abcdef\n');
  assert.equal(holter(['replay', '--quiet', '--config', 'key-a.yml', '--state', 'state.db', 'auth.log'], cwd).status, 0);

  // A store written before fingerprints were kept has none: it is accepted, then takes the key.
  const db = new Database(path.join(cwd, 'state.db'));
  db.prepare('UPDATE checkpoint SET token_key_fingerprint = NULL').run();
  db.close();
  const old = holter(['replay', '--quiet', '--config', 'key-b.yml', '--state', 'state.db', 'auth.log'], cwd);
  assert.equal(old.status, 0, old.stderr);
  assert.match(old.stderr, /skipping 3 records already processed/);

  const other = holter(['replay', '--quiet', '--config', 'key-a.yml', '--state', 'state.db', 'auth.log'], cwd);
  assert.notEqual(other.status, 0);
  assert.match(other.stderr, /saved with a patient token key, but this run is configured with another/);
});

/**
 * Starts `holter replay` with `args`, writes `input` to its standard input and keeps it open, so
 * the replay waits on it. Sends `signal` once `ready` holds for the output so far, and returns the
 * exit code and the output.
 */
async function signalReplay(
  args: string[],
  cwd: string,
  input: string,
  ready: (stdout: string, stderr: string) => boolean,
  signal: NodeJS.Signals,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [HOLTER, 'replay', ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.write(input);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (ready(stdout, stderr)) resolve();
    };
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      check();
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      check();
    });
    void exited.then(() => reject(new Error(`replay exited before the signal:\n${stderr}`)));
  });

  child.kill(signal);
  const [code] = await exited;
  child.stdin.destroy();
  return { code, stdout, stderr };
}

test('interrupted replay saves its checkpoint', async () => {
  const cwd = makeTempDir('holter-state-');
  writeFileSync(path.join(cwd, 'auth.log'), failedLogins(0, 10));

  // The alert on the standard input record shows that every record of auth.log was processed.
  const accepted = 'Mar  1 10:05:00 host sshd[101]: Accepted password for jdoe from 203.0.113.9 port 40100 ssh2\n';
  const { code, stderr } = await signalReplay(['--state', 'state.db', 'auth.log', '-'], cwd, accepted, (stdout) => stdout.includes('holter-failed-login-burst-then-success'), 'SIGINT');
  assert.equal(code, 130, stderr);
  assert.match(stderr, /SIGINT received; stopping reading/);
  assert.match(stderr, /interrupted\s+by SIGINT before the end of the input/);
  assert.match(stderr, /records read\s+11\n/);
  assert.match(stderr, /no earlier checkpoint; open windows saved/);

  const next = holter(['replay', '--quiet', '--state', 'state.db', 'auth.log'], cwd);
  assert.equal(next.status, 0, next.stderr);
  assert.match(next.stderr, /skipping 10 records already processed/);
});

test('terminated replay exits with 143', async () => {
  const cwd = makeTempDir('holter-state-');

  // The note on standard input comes after the signal handlers are installed.
  const { code, stderr } = await signalReplay(['--state', 'state.db', '-'], cwd, '', (_stdout, err) => err.includes('standard input has no saved position'), 'SIGTERM');
  assert.equal(code, 143, stderr);
  assert.match(stderr, /interrupted\s+by SIGTERM/);
});
