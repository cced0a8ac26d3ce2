import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { renderConfigReference } from '../../src/config/docs.js';
import { ConfigErrors, loadConfig, readSecret } from '../../src/config/load.js';
import { isHolterError } from '../../src/errors.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/temp.js';

function writeConfig(text: string): string {
  const dir = makeTempDir('holter-config-');
  const file = path.join(dir, 'holter.yml');
  writeFileSync(file, text);
  return file;
}

function problemsOf(file: string): string[] {
  try {
    loadConfig(file);
  } catch (error) {
    assert.ok(error instanceof ConfigErrors, `expected ConfigErrors, got ${String(error)}`);
    return error.problems.map((problem) => problem.describe());
  }
  assert.fail('expected the configuration to be rejected');
}

test('defaults apply without a file', () => {
  const config = loadConfig();
  assert.equal(config.facility.time_zone, 'UTC');
  assert.equal(config.detection.allowed_lateness_seconds, 300);
  assert.equal(config.rules.paths[0], path.join(REPO_ROOT, 'rules'));
  assert.equal(config.sinks.console.enabled, true);
  assert.equal(config.sinks.webhook.max_attempts, 6);
});

test('relative paths resolve from the file folder', () => {
  const file = writeConfig('identity:\n  directory: people.csv\nrules:\n  paths: [my-rules]\n');
  const config = loadConfig(file);
  assert.equal(config.identity.directory, path.join(path.dirname(file), 'people.csv'));
  assert.deepEqual(config.rules.paths, [path.join(path.dirname(file), 'my-rules')]);
  assert.equal(config.detectors.paths[0], path.join(REPO_ROOT, 'detectors'));
});

test('every problem is reported with its line', () => {
  const file = writeConfig(
    ['facility:', '  time_zone: Mars/Olympus', 'sinks:', '  webhook:', '    url: ftp://example', '    max_atempts: 3', '  console:', '    min_severity: loud', ''].join('\n'),
  );
  const problems = problemsOf(file);
  assert.equal(problems.length, 4);
  assert.ok(problems.some((line) => line.startsWith(`${file}:2:`) && line.includes('Mars/Olympus') && line.includes('IANA')));
  assert.ok(problems.some((line) => line.startsWith(`${file}:5:`) && line.includes('sinks.webhook.url')));
  assert.ok(problems.some((line) => line.startsWith(`${file}:6:`) && line.includes('Unknown key sinks.webhook.max_atempts')));
  assert.ok(problems.some((line) => line.startsWith(`${file}:8:`) && line.includes('"loud"') && line.includes('"critical"')));
});

test('a topic name alone is told the map keys', () => {
  const problems = problemsOf(writeConfig('kafka:\n  topics: [ehr-audit]\n'));
  assert.equal(problems.length, 1);
  assert.match(problems[0] ?? '', /holter\.yml:2:\d+: Invalid value at kafka\.topics\.0: "ehr-audit" must be object\. Write it as a map with the keys name, format/);
});

test('invalid YAML names the line', () => {
  const file = writeConfig('facility:\n  time_zone: [UTC\n');
  const problems = problemsOf(file);
  assert.ok(problems[0]?.includes('HOLTER_CONFIG_YAML'));
  assert.match(problems[0] ?? '', /holter\.yml:\d+:\d+/);
});

/** Eight levels of ten aliases each: 10^8 values once expanded, which the yaml library refuses. */
function aliasBomb(lastKey: string): string {
  const lines = ['x0: &a0 [a, a, a, a, a, a, a, a, a, a]'];
  for (let level = 1; level < 8; level++) lines.push(`x${level}: &a${level} [${Array(10).fill(`*a${level - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n${lastKey}: *a7\n`;
}

test('alias bomb is rejected', () => {
  const problems = problemsOf(writeConfig(aliasBomb('labels')));
  assert.equal(problems.length, 1);
  assert.match(problems[0] ?? '', /holter\.yml: .*YAML aliases expand too far .*HOLTER_CONFIG_YAML/);
});

test('top-level list is rejected', () => {
  const problems = problemsOf(writeConfig('- facility\n'));
  assert.match(problems[0] ?? '', /must be a YAML mapping/);
});

test('both secret forms are rejected', () => {
  const problems = problemsOf(writeConfig('identity:\n  token_key: 0123456789abcdef0123\n  token_key_file: key.txt\n'));
  assert.ok(problems.some((line) => line.includes('Keep one of them')));
});

test('missing file names the path', () => {
  assert.throws(() => loadConfig('/nonexistent/holter.yml'), /\/nonexistent\/holter\.yml not found/);
});

test('configuration reference is current', () => {
  const written = readFileSync(path.join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
  assert.equal(written, renderConfigReference(), 'docs/configuration.md is stale: run npm run docs:config');
});

test('short secret rejected from file and inline', () => {
  const folder = makeTempDir('holter-secret-');
  const file = path.join(folder, 'webhook.secret');
  writeFileSync(file, 'short\n');

  assert.throws(
    () => readSecret(undefined, file, 'sinks.webhook.secret', { minLength: 16 }),
    (error: unknown) => isHolterError(error) && error.code === 'HOLTER_CONFIG_INVALID' && error.message.includes(`The secret in the file ${file} (from sinks.webhook.secret_file) has 5 characters. Use at least 16`),
  );
  assert.throws(() => readSecret('x', undefined, 'sinks.webhook.secret', { minLength: 16, envName: 'HOLTER_WEBHOOK_SECRET' }), /The secret of sinks\.webhook\.secret \(or HOLTER_WEBHOOK_SECRET\) has 1 characters/);
  assert.throws(() => readSecret(undefined, folder, 'identity.token_key', { minLength: 16 }), /Secret file .* \(from identity\.token_key_file\) is a directory/);

  writeFileSync(file, `${'k'.repeat(16)}\r\n\n`);
  assert.equal(readSecret(undefined, file, 'sinks.webhook.secret', { minLength: 16 }), 'k'.repeat(16));
  assert.equal(readSecret(undefined, undefined, 'sinks.webhook.secret', { minLength: 16 }), undefined);
});

test('webhook secret comes from the environment', () => {
  const folder = makeTempDir('holter-secret-env-');
  const file = path.join(folder, 'holter.yml');
  writeFileSync(file, 'sinks:\n  webhook:\n    url: http://127.0.0.1:9/hook\n    secret_file: missing.secret\n');
  const previous = process.env.HOLTER_WEBHOOK_SECRET;
  try {
    process.env.HOLTER_WEBHOOK_SECRET = 'env-secret-0123456789';
    const config = loadConfig(file);
    assert.equal(config.sinks.webhook.secret, 'env-secret-0123456789');
    assert.equal(config.sinks.webhook.secret_file, undefined, 'the environment replaces the file');

    process.env.HOLTER_WEBHOOK_SECRET = '';
    assert.equal(loadConfig(file).sinks.webhook.secret, undefined, 'an empty variable counts as unset');
  } finally {
    if (previous === undefined) delete process.env.HOLTER_WEBHOOK_SECRET;
    else process.env.HOLTER_WEBHOOK_SECRET = previous;
  }
});

test('short inline secret not echoed', () => {
  const folder = makeTempDir('holter-secret-echo-');
  const file = path.join(folder, 'holter.yml');
  writeFileSync(file, 'identity:\n  token_key: hunter2\n');
  assert.throws(
    () => loadConfig(file),
    (error: unknown) => {
      assert.ok(error instanceof ConfigErrors);
      assert.match(error.message, /identity\.token_key: \(value withheld\) must NOT have fewer than 16 characters/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    },
  );
});

test('webhook URL with credentials is rejected', () => {
  const file = writeConfig('sinks:\n  webhook:\n    url: http://pager:s3cretpw@127.0.0.1:18080/hook\n');
  const problems = problemsOf(file);
  assert.equal(problems.length, 1);
  const problem = problems[0] ?? '';
  assert.ok(problem.startsWith(`${file}:3:`), problem);
  assert.ok(problem.includes('sinks.webhook.url'), problem);
  assert.ok(problem.includes('http://***@127.0.0.1:18080/hook'), problem);
  assert.ok(problem.includes('secret'), 'the message says where credentials go instead');
  assert.ok(!problem.includes('s3cretpw'), problem);
  assert.ok(!problem.includes('pager:'), problem);
});

test('webhook URL errors hide credentials', () => {
  // Neither URL passes the earlier checks: the scheme is upper case, or the host is missing.
  for (const url of ['HTTP://pager:s3cretpw@127.0.0.1/hook', 'http://pager:s3cretpw@']) {
    const problems = problemsOf(writeConfig(`sinks:\n  webhook:\n    url: "${url}"\n`));
    assert.ok(problems.length > 0, url);
    for (const problem of problems) assert.ok(!problem.includes('s3cretpw'), problem);
  }
});

test('lag interval is read and bounded', () => {
  assert.equal(loadConfig().kafka.lag_interval_ms, 15_000);
  assert.equal(loadConfig(writeConfig('kafka:\n  lag_interval_ms: 5000\n')).kafka.lag_interval_ms, 5000);

  const problems = problemsOf(writeConfig('kafka:\n  lag_interval_ms: 10\n'));
  assert.equal(problems.length, 1);
  assert.match(problems[0] ?? '', /holter\.yml:2:\d+: .*kafka\.lag_interval_ms.*1000/);
});
