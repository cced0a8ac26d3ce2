import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, SAMPLES_DIR } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/temp.js';

const HOLTER = path.join(REPO_ROOT, 'bin', 'holter.js');

function holter(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [HOLTER, ...args], { cwd, encoding: 'utf8', env: { ...process.env, HOLTER_WEBHOOK_SECRET: undefined } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}

function workDir(): string {
  return makeTempDir('holter-cli-');
}

test('replay of every sample dead-letters nothing', () => {
  const cwd = workDir();
  const samples = listFiles(SAMPLES_DIR).filter((file) => !file.endsWith('.md'));
  const result = holter(['replay', '--quiet', '--summary-json', 'summary.json', '--log-level', 'warn', ...samples], cwd);
  assert.equal(result.status, 0, result.stderr);

  const summary = JSON.parse(readFileSync(path.join(cwd, 'summary.json'), 'utf8')) as { recordsRead: number; eventsDecoded: number; deadLettered: number };
  assert.equal(summary.deadLettered, 0);
  assert.ok(summary.recordsRead >= 150, `read ${summary.recordsRead} records`);
  assert.ok(summary.eventsDecoded >= summary.recordsRead);
  assert.match(result.stderr, /dead-lettered\s+0/);
});

test('replay dead-letters bad records with position', () => {
  const cwd = workDir();
  const input = path.join(cwd, 'mixed.ndjson');
  const good = readFileSync(path.join(SAMPLES_DIR, 'ehr', 'ihe-balp_AuditEvent-ex-auditBasicReadServer.json'), 'utf8').trim();
  writeFileSync(input, [good, '{"resourceType": "AuditEvent", "recorded": ', '{"hello": "world"}', good].join('\n') + '\n');

  const result = holter(['replay', '--quiet', '--dead-letter', 'dead.ndjson', '--summary-json', 'summary.json', input], cwd);
  assert.equal(result.status, 0, result.stderr);

  const summary = JSON.parse(readFileSync(path.join(cwd, 'summary.json'), 'utf8')) as { recordsRead: number; deadLettered: number; deadLetteredByReason: Record<string, number> };
  assert.equal(summary.recordsRead, 4);
  assert.equal(summary.deadLettered, 2);
  assert.equal(summary.deadLetteredByReason.invalid_json, 1);
  assert.equal(summary.deadLetteredByReason.format_unknown, 1);
  assert.match(result.stderr, /dead-lettered\s+2\n\s+format_unknown\s+1\n\s+invalid_json\s+1\n/);

  const entries = readFileSync(path.join(cwd, 'dead.ndjson'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { reason: string; line: number; input: string; original: string });
  assert.deepEqual(entries.map((entry) => entry.line), [2, 3]);
  assert.equal(entries[0]?.input, input);
  assert.equal(entries[1]?.original, '{"hello": "world"}');
});

test('replay writes alerts as NDJSON', () => {
  const cwd = workDir();
  const input = path.join(cwd, 'breakglass.xml');
  writeFileSync(input, readFileSync(path.join(SAMPLES_DIR, 'ehr', 'hl7-fhir-source_auditevent-example-breakglass-start.xml')));

  const result = holter(['replay', '--out', 'alerts.ndjson', input], cwd);
  assert.equal(result.status, 0, result.stderr);
  const alerts = readFileSync(path.join(cwd, 'alerts.ndjson'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { event: { kind: string }; rule: { name: string } });
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]?.event.kind, 'alert');
  assert.match(result.stdout, /\[HIGH\]/);
  assert.equal(statSync(path.join(cwd, 'alerts.ndjson')).mode & 0o077, 0, 'only the owner reads the alerts');
});

test('replay rejects a bad config with its line', () => {
  const cwd = workDir();
  writeFileSync(path.join(cwd, 'holter.yml'), 'facility:\n  time_zone: Mars/Olympus\n');
  const result = holter(['replay', '--config', 'holter.yml', path.join(SAMPLES_DIR, 'identity', 'crowdsec_sshd-logs.log')], cwd);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /holter\.yml:2:\d+: Invalid time zone "Mars\/Olympus"/);
});

test('replay names a missing input', () => {
  const result = holter(['replay', 'no-such-file.json'], workDir());
  assert.equal(result.status, 2);
  assert.match(result.stderr, /Input file no-such-file\.json not found/);
});

test('replay escapes control characters in errors', () => {
  const result = holter(['replay', 'no-such\u001b[2J\u202efile.json'], workDir());
  assert.equal(result.status, 2);
  assert.ok(!result.stderr.includes('\u001b'), result.stderr);
  assert.ok(!result.stderr.includes('\u202e'), result.stderr);
  assert.match(result.stderr, /no-such\\x1b\[2J\\u202efile\.json/);
});

test('replay rejects unusable output paths', () => {
  const cwd = workDir();
  const input = path.join(cwd, 'audit.ndjson');
  writeFileSync(input, 'not json\n');
  const cases: [string[], RegExp][] = [
    [['--dead-letter', cwd], /is a directory \(from dead_letter\.path or --dead-letter\)\. Name a file inside it\. \[HOLTER_OUTPUT_INVALID\]/],
    [['--out', cwd], /is a directory \(from sinks\.ndjson\.path or --out\)\. .*\[HOLTER_OUTPUT_INVALID\]/],
    [['--summary-json', cwd], /is a directory \(from --summary-json\)\. .*\[HOLTER_OUTPUT_INVALID\]/],
    [['--config', cwd], /Configuration file .* is a directory\. Give --config the YAML file inside it\. \[HOLTER_CONFIG_NOT_FOUND\]/],
    [['--out', input], /audit\.ndjson \(from sinks\.ndjson\.path or --out\) is also an input of this run.*\[HOLTER_OUTPUT_INVALID\]/],
    [['--summary-json', input], /\(from --summary-json\) is also an input of this run/],
    [['--dead-letter', path.join(input, 'dead-letter.ndjson')], /cannot be created, because .*audit\.ndjson is a file, not a folder/],
    [['--dead-letter', '-'], /- \(standard output\) is accepted by --out only, not by dead_letter\.path or --dead-letter\. Name a file\. \[HOLTER_OUTPUT_INVALID\]/],
  ];
  for (const [options, message] of cases) {
    const result = holter(['replay', '--quiet', '--log-level', 'warn', ...options, input], cwd);
    assert.equal(result.status, 2, `${options.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.equal(readFileSync(input, 'utf8'), 'not json\n', 'the input is unchanged');
});

test('replay --out - prints only NDJSON', () => {
  const cwd = workDir();
  const burst = Array.from({ length: 12 }, (_, i) => `Mar  1 10:00:${String(i * 4).padStart(2, '0')} host sshd[100]: Failed password for jdoe from 203.0.113.9 port 4000${i} ssh2`);
  writeFileSync(path.join(cwd, 'burst.log'), `${burst.join('\n')}\n`);

  // Without --quiet the readable alerts are printed too, and they must go to standard error.
  const result = holter(['replay', '--out', '-', '--preview', '--log-level', 'warn', 'burst.log'], cwd);
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  assert.ok(lines.length >= 1, 'at least one alert');
  for (const line of lines) assert.equal((JSON.parse(line) as { rule: { id: string } }).rule.id, 'holter-failed-login-burst');
  assert.match(result.stderr, /rules loaded\s+\d+ detection, \d+ correlation \(0 rejected\)/);
  assert.match(result.stderr, /alerts\s+\d+/);
  assert.match(result.stderr, /Rule preview/);
  assert.deepEqual(readdirSync(cwd).filter((name) => name === '-'), [], 'no file named -');
});

test('replay --out - stops quietly at a closed pipe', async () => {
  const cwd = workDir();
  // A burst of 10 failed logins for each of 200 users: one alert each.
  const lines: string[] = [];
  for (let user = 0; user < 200; user++) {
    for (let i = 0; i < 10; i++) lines.push(`Mar  1 10:${String(Math.floor(user / 10)).padStart(2, '0')}:${String(i * 4).padStart(2, '0')} host sshd[100]: Failed password for user${user} from 203.0.113.9 port ${40000 + i} ssh2`);
  }
  writeFileSync(path.join(cwd, 'bursts.log'), `${lines.join('\n')}\n`);

  const child = spawn(process.execPath, [HOLTER, 'replay', '--out', '-', '--quiet', '--log-level', 'error', 'bursts.log'], { cwd });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  // Read the first alert, then close the pipe, as `| head -1` does.
  child.stdout.once('data', () => child.stdout.destroy());
  await new Promise((resolve) => child.on('close', resolve));

  assert.ok((stderr.match(/"msg":"alert delivery failed"/g) ?? []).length <= 1, stderr);
  assert.doesNotMatch(stderr, /Cannot write alerts to standard output/);
});

test('replay prints risk setting errors', () => {
  const cwd = workDir();
  const risk = readFileSync(path.join(REPO_ROOT, 'config', 'risk.yaml'), 'utf8').replace(/^half_life: .*$/m, 'half_life: 999999999d');
  writeFileSync(path.join(cwd, 'risk.yaml'), risk);
  writeFileSync(path.join(cwd, 'holter.yml'), 'risk:\n  file: risk.yaml\n');
  writeFileSync(path.join(cwd, 'auth.log'), 'Mar  1 10:00:00 host sshd[100]: Failed password for jdoe from 203.0.113.9 port 40000 ssh2\n');

  const result = holter(['replay', '-c', 'holter.yml', '--quiet', 'auth.log'], cwd);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /^1 error in the risk settings: the run goes on without risk scoring\.$/m);
  assert.match(result.stderr, /^risk\.yaml:\d+:\d+: error HOLTER_RULE_INVALID half_life is 999999999d, longer than the largest allowed, 3650d/m);
  assert.match(result.stderr, /risk scoring\s+off \(1 error in its settings\)/);
});

test('replay rejects an input named twice', () => {
  const cwd = workDir();
  writeFileSync(path.join(cwd, 'auth.log'), 'not json\n');
  const result = holter(['replay', '--quiet', 'auth.log', path.join(cwd, 'auth.log')], cwd);
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /Input .*auth\.log is given twice \(also as auth\.log\)\. Name each input once\./);
});

test('replay rejects an unknown format name', () => {
  const cwd = workDir();
  const result = holter(['replay', '--quiet', '--format', 'nosuch', '--summary-json', 'summary.json', path.join(SAMPLES_DIR, 'identity', 'crowdsec_sshd-logs.log')], cwd);
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /nosuch/);
});

test('replay merges inputs by event time', () => {
  const cwd = workDir();
  const burst = Array.from({ length: 12 }, (_, i) => `Mar  1 10:00:${String(i * 4).padStart(2, '0')} host sshd[100]: Failed password for jdoe from 203.0.113.9 port 4000${i} ssh2`);
  writeFileSync(path.join(cwd, 'burst.log'), `${burst.join('\n')}\n`);
  writeFileSync(path.join(cwd, 'later.log'), 'Mar  2 09:00:00 host sshd[101]: Accepted password for jdoe from 203.0.113.9 port 40100 ssh2\n');

  const result = holter(['replay', '--quiet', '--out', 'alerts.ndjson', '--summary-json', 'summary.json', 'later.log', 'burst.log'], cwd);
  assert.equal(result.status, 0, result.stderr);
  const summary = JSON.parse(readFileSync(path.join(cwd, 'summary.json'), 'utf8')) as { stageStats: Record<string, Record<string, number>> };
  assert.equal(summary.stageStats.sigma?.late_events, 0);
  const rules = readFileSync(path.join(cwd, 'alerts.ndjson'), 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { rule: { id: string } }).rule.id);
  assert.ok(rules.includes('holter-failed-login-burst'), `raised ${rules.join(', ')}`);
});

test('replay rejects standard input twice', () => {
  const result = holter(['replay', '-', '-'], workDir());
  assert.equal(result.status, 2);
  assert.match(result.stderr, /Standard input \(-\) is given more than once/);
});

test('replay preview backtests each rule', () => {
  const cwd = workDir();
  const burst = Array.from({ length: 12 }, (_, i) => `Mar  1 10:00:${String(i * 4).padStart(2, '0')} host sshd[100]: Failed password for jdoe from 203.0.113.9 port 4000${i} ssh2`);
  writeFileSync(path.join(cwd, 'burst.log'), `${burst.join('\n')}\n`);

  const result = holter(['replay', '--quiet', '--preview', 'burst.log'], cwd);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^Rule preview$/m);
  assert.match(result.stdout, /holter-failed-login-burst: 1 alert$/m);
  assert.match(result.stdout, /per day\s+\(UTC\) \d{4}-03-01 1/);
  assert.match(result.stdout, /top\s+user jdoe \(1\)/);
  assert.match(result.stdout, /example\s+.*10 failed logins for user jdoe/);
});

test('usage error exits with 2', () => {
  const cwd = workDir();
  for (const args of [['replay', '--no-such-option', 'audit.ndjson'], ['eval', '--seeds', '1,x'], ['no-such-command']]) {
    const result = holter(args, cwd);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /error: /);
  }
  assert.equal(holter(['--help'], cwd).status, 0);
});

test('replay names the record size limit', () => {
  const cwd = workDir();
  writeFileSync(path.join(cwd, 'holter.yml'), 'decode:\n  max_record_bytes: 1024\n');
  writeFileSync(path.join(cwd, 'big.ndjson'), `${JSON.stringify({ note: 'x'.repeat(2000) })}\n`);

  const result = holter(['replay', '--quiet', '--config', 'holter.yml', '--dead-letter', 'dead.ndjson', 'big.ndjson'], cwd);
  assert.equal(result.status, 0, result.stderr);

  const entry = JSON.parse(readFileSync(path.join(cwd, 'dead.ndjson'), 'utf8')) as { reason: string; message: string };
  assert.equal(entry.reason, 'too_large');
  assert.match(entry.message, /more than the maximum record size of 1024 bytes/);
  assert.match(result.stderr, /dead-lettered\s+1\n\s+too_large\s+1\n/);
});

test('replay needs files or a Kafka range', () => {
  const cwd = workDir();
  writeFileSync(path.join(cwd, 'audit.ndjson'), '');
  const cases: Array<[string[], RegExp]> = [
    [['replay'], /No input given\. Name one or more files \(- for standard input\), or add --kafka/],
    [['replay', '--from', '10', 'audit.ndjson'], /--from and --to select a range of Kafka topics\. Add --kafka or --kafka-topic/],
    [['replay', '--kafka', 'audit.ndjson'], /Files \(audit\.ndjson\) and --kafka cannot be combined/],
    [['replay', '--kafka-topic', 'ehr.audit', '--state', 'state.db'], /--state resumes file inputs, and a Kafka backtest reads its whole range every time/],
    [['replay', '--kafka-topic', 'ehr.audit', '--to', '2026-12-01'], /Invalid --to value "2026-12-01"\. Use earliest, latest, an offset/],
    [['replay', '--kafka'], /kafka\.topics is empty and no --kafka-topic is given/],
  ];
  for (const [args, message] of cases) {
    const result = holter(args, cwd);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message, args.join(' '));
  }
});
