import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { formatBaseline, restoreNotes } from '../../src/cli/baseline.js';
import { simulateHospital } from '../../src/sim/index.js';
import { firstSeenDetector } from '../helpers/detector-files.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/temp.js';

const HOLTER = path.join(REPO_ROOT, 'bin', 'holter.js');
const DAY_MS = 86_400_000;

function holter(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [HOLTER, ...args], { cwd, encoding: 'utf8', env: { ...process.env, HOLTER_WEBHOOK_SECRET: undefined } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Creates a folder with a detector of new source addresses, a hospital's first 6 days of records in
 * records.log and its last 2 days in later.log.
 */
function hospitalFolder(): string {
  const cwd = makeTempDir('holter-baseline-');
  const hospital = simulateHospital({ staff: 30, days: 8, seed: 7, incidents: false, traps: false });
  const cutMs = hospital.startMs + 6 * DAY_MS;
  const records = [...hospital.records()];
  const lines = (from: typeof records): string => `${from.map((record) => record.text.replace(/\n/g, ' ')).join('\n')}\n`;
  writeFileSync(path.join(cwd, 'directory.csv'), hospital.directoryCsv());
  writeFileSync(path.join(cwd, 'records.log'), lines(records.filter((record) => record.eventTimeMs < cutMs)));
  writeFileSync(path.join(cwd, 'later.log'), lines(records.filter((record) => record.eventTimeMs >= cutMs)));
  mkdirSync(path.join(cwd, 'detectors'));
  writeFileSync(path.join(cwd, 'detectors', 'new-source.yaml'), firstSeenDetector('source.ip', { minEvents: 10 }));
  writeFileSync(path.join(cwd, 'holter.yml'), `facility:\n  time_zone: ${hospital.timeZone}\nidentity:\n  directory: directory.csv\ndetectors:\n  paths: [detectors]\n`);
  return cwd;
}

function alertRules(file: string): string[] {
  const text = readFileSync(file, 'utf8').trim();
  return text === '' ? [] : text.split('\n').map((line) => (JSON.parse(line) as { rule: { id: string } }).rule.id);
}

test('changed detector restarts its baseline', () => {
  const cwd = hospitalFolder();
  const first = holter(['replay', '-c', 'holter.yml', '--quiet', '--no-progress', '--state', 'state.db', '--out', 'first.ndjson', 'records.log'], cwd);
  assert.equal(first.status, 0, first.stderr);

  const unchanged = holter(['baseline', 'show', 'u-1000', '-c', 'holter.yml', '--state', 'state.db'], cwd);
  assert.equal(unchanged.status, 0, unchanged.stderr);
  assert.match(unchanged.stdout, /^new-source \(first_seen\)$/m);
  assert.match(unchanged.stdout, /^ {4}- value: 10\.\d+\.\d+\.\d+, share percent: /m);
  assert.doesNotMatch(unchanged.stdout, /Note:/);

  // Without the configuration, the shipped detectors are loaded and the saved one is not.
  const shipped = holter(['baseline', 'show', 'u-1000', '--state', 'state.db', '--time-zone', 'America/New_York'], cwd);
  assert.match(shipped.stderr, /Note: the state store also holds detectors that are not loaded here: new-source\. Give baseline show the --config or --detectors the replay ran with\./);
  const named = holter(['baseline', 'show', 'u-1000', '--state', 'state.db', '--detectors', 'detectors', '--time-zone', 'America/New_York'], cwd);
  assert.doesNotMatch(named.stderr, /not loaded here/);

  // A detector file that fails to load is named with its error, not taken for another configuration.
  const detectorFile = path.join(cwd, 'detectors', 'new-source.yaml');
  writeFileSync(detectorFile, readFileSync(detectorFile, 'utf8').replace('function: first_seen', 'function: first_sen'));
  const broken = holter(['baseline', 'show', 'u-1000', '-c', 'holter.yml', '--state', 'state.db', '--format', 'json'], cwd);
  assert.match(broken.stderr, /^Detector file rejected: .*new-source\.yaml:\d+:\d+/m);
  assert.match(broken.stderr, /not loaded here: new-source\. Fix the rejected detector files above/);
  assert.deepEqual((JSON.parse(broken.stdout) as { notLoadedDetectors: string[] }).notLoadedDetectors, ['new-source']);

  writeFileSync(path.join(cwd, 'detectors', 'new-source.yaml'), firstSeenDetector('host.name', { minEvents: 10 }));
  const changed = holter(['baseline', 'show', 'u-1000', '-c', 'holter.yml', '--state', 'state.db'], cwd);
  assert.equal(changed.status, 1, 'no detector has a baseline for the user any more');
  assert.match(changed.stderr, /No detector has a baseline for u-1000 in state\.db\. See the notes above\./);
  assert.match(changed.stdout, /^Note: detector new-source differs from the one that saved the state, in its definition or in the facility time zone .*, so its saved baseline is not shown\./m);
  assert.doesNotMatch(changed.stdout, /10\.\d+\.\d+\.\d+/);

  const json = holter(['baseline', 'show', 'u-1000', '-c', 'holter.yml', '--state', 'state.db', '--format', 'json'], cwd);
  const body = JSON.parse(json.stdout) as { detectors: Record<string, unknown>; changedDetectors: string[]; uncheckedDetectors: string[] };
  assert.deepEqual(body.detectors, {});
  assert.deepEqual(body.changedDetectors, ['new-source']);
  assert.deepEqual(body.uncheckedDetectors, []);

  // With the saved addresses taken for known host names, every user's first PACS retrieval
  // would raise "new host.name value"; restarted, the detector is still learning.
  appendFileSync(path.join(cwd, 'records.log'), readFileSync(path.join(cwd, 'later.log')));
  const second = holter(['replay', '-c', 'holter.yml', '--quiet', '--no-progress', '--state', 'state.db', '--out', 'second.ndjson', 'records.log'], cwd);
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stderr, /resumed from the checkpoint/);
  assert.deepEqual(alertRules(path.join(cwd, 'second.ndjson')).filter((rule) => rule === 'new-source'), []);
});

test('notes on unchecked and changed detectors', () => {
  const profile = { 'new-source': { function: 'first_seen', learned: true } };
  assert.deepEqual(restoreNotes({ kept: ['new-source'], changed: [], unchecked: [] }), []);

  const changed = formatBaseline('u-1000', '2026-10-11T00:00:00Z', {}, restoreNotes({ kept: [], changed: ['record-volume'], unchecked: [] }));
  assert.equal(
    changed.split('\n')[1],
    "Note: detector record-volume differs from the one that saved the state, in its definition or in the facility time zone (facility.time_zone, or the replay's --time-zone), so its saved baseline is not shown. The next replay with this configuration starts it empty.",
  );

  const unchecked = formatBaseline('u-1000', '2026-10-11T00:00:00Z', profile, restoreNotes({ kept: [], changed: [], unchecked: ['new-source'] }));
  const lines = unchecked.split('\n');
  assert.match(lines[1] ?? '', /^Note: the state was saved before Holter recorded detector fingerprints, so a detector changed since then still shows the baseline its old definition learned\.$/);
  assert.equal(lines[3], 'new-source (first_seen)');
});

test('baseline text escapes terminal controls', () => {
  const profile = { 'new-source': { function: 'first_seen', known_values: [{ value: '10.0.0.1\u001b]0;owned\u0007', last_seen: '2026-10-10' }] } };
  const text = formatBaseline('u-1000\u202e', '2026-10-11T00:00:00Z', profile);

  assert.match(text, /^Baseline of u-1000\\u202e /);
  assert.ok(text.includes('value: 10.0.0.1\\x1b]0;owned\\x07'), text);
  assert.doesNotMatch(text, /[\u0007\u001b\u202e]/);
});
