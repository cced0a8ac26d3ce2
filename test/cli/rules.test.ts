import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';

import { runRulesTest, runRulesValidate } from '../../src/cli/rules.js';
import type { TestOptions, ValidateOptions } from '../../src/cli/rules.js';
import { LINT_CODES } from '../../src/detect/sigma/lint.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/temp.js';

const RULES_DIR = path.join(REPO_ROOT, 'rules');
const DETECTORS_DIR = path.join(REPO_ROOT, 'detectors');
const workDir = makeTempDir('holter-rules-cli-');
after(() => rmSync(workDir, { recursive: true, force: true }));

let folderCount = 0;

/** Writes the files into a new folder under the temporary folder and returns the folder's path. */
function folder(files: Record<string, string>): string {
  const target = path.join(workDir, `case-${++folderCount}`);
  mkdirSync(target, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(target, name), text);
  return target;
}

/** Collects what a command writes. */
class Capture extends Writable {
  text = '';

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

async function validate(paths: string[], options: Partial<ValidateOptions> = {}): Promise<{ code: number; output: string }> {
  const capture = new Capture();
  const code = await runRulesValidate(paths, { format: 'text', ...options }, capture);
  return { code, output: capture.text };
}

async function runTests(paths: string[], options: Partial<TestOptions> = {}): Promise<{ code: number; output: string }> {
  const capture = new Capture();
  const code = await runRulesTest(paths, options, capture);
  return { code, output: capture.text };
}

test('validate checks the configured risk file', async () => {
  const risk = readFileSync(path.join(REPO_ROOT, 'config', 'risk.yaml'), 'utf8').replace(/^half_life: .*$/m, 'half_life: 999999999d');
  const target = folder({ 'risk.yaml': risk, 'holter.yml': `risk:\n  file: risk.yaml\nrules:\n  paths: [${RULES_DIR}]\ndetectors:\n  paths: [${DETECTORS_DIR}]\n` });
  const { code, output } = await validate([], { config: path.join(target, 'holter.yml') });

  assert.equal(code, 1);
  assert.match(output, /risk\.yaml:\d+:\d+: error HOLTER_RULE_INVALID half_life is 999999999d, longer than the largest allowed, 3650d/);
  assert.match(output, /^1 error, 0 warnings in \d+ files$/m);
});

const CLEAN_RULE = `title: Failed login
id: 7c0e3b52-5b0a-4a4e-9d6e-0f2a4c1d9e11
name: test-failed-login
description: One failed authentication.
level: low
logsource:
    product: holter
    category: authentication
detection:
    selection:
        event.outcome: failure
    condition: selection
`;

const PROBLEM_RULES = `title: Problem rule
logsource:
    product: holter
    category: authentication
detection:
    selection:
        Image: cmd.exe
        holter.user.idd: u-1
    unused:
        event.outcome: failure
    expanded:
        event.action|expand: '%unknown_placeholder%'
    condition: selection or expanded
---
title: Unmapped log source
id: 5b1f0c2e-2d9a-4a51-8f3e-111111111111
name: test-duplicate
description: Reads AWS CloudTrail events, which the mapping does not cover.
level: low
logsource:
    product: aws
detection:
    selection:
        foo: bar
    condition: selection
---
title: Second rule with the same name
id: 5b1f0c2e-2d9a-4a51-8f3e-222222222222
name: test-duplicate
description: Clashes with the rule above.
level: low
logsource:
    product: holter
detection:
    selection:
        event.outcome: failure
    condition: selection
---
title: Condition names nothing
id: 5b1f0c2e-2d9a-4a51-8f3e-333333333333
name: test-condition-none
description: The condition refers to no search identifier of the rule.
level: low
logsource:
    product: holter
detection:
    selection:
        event.outcome: failure
    condition: 1 of filter*
`;

describe('rules validate', () => {
  test('shipped rules and detectors are clean', async () => {
    const { code, output } = await validate([RULES_DIR, DETECTORS_DIR]);

    assert.match(output, /^0 errors, 0 warnings in \d+ files\n$/);
    assert.equal(code, 0);
  });

  test('reports every problem at once', async () => {
    const dir = folder({ 'problems.yml': PROBLEM_RULES });
    const file = path.join(dir, 'problems.yml');
    const { code, output } = await validate([dir]);
    const lines = output.trimEnd().split('\n');

    assert.equal(code, 1);
    assert.ok(lines.includes(`${file}:1:1: warning HOLTER_LINT_MISSING_ID Rule 'Problem rule' has no id. (add \`id:\` with a new UUID and keep it when the rule changes)`), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:1:1: warning HOLTER_LINT_MISSING_LEVEL `)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:1:1: warning HOLTER_LINT_MISSING_DESCRIPTION `)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:7:9: warning HOLTER_LINT_UNKNOWN_FIELD Field 'Image'`)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:8:9: warning HOLTER_LINT_UNKNOWN_FIELD Field 'holter.user.idd'`)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:9:5: warning HOLTER_LINT_UNUSED_SEARCH Search identifier 'unused'`)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:12:9: error HOLTER_RULE_INVALID Unknown placeholder '%unknown_placeholder%'`)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:15:1: warning HOLTER_LINT_LOGSOURCE_UNMAPPED `)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:27:1: error HOLTER_RULE_INVALID Duplicate rule id or name 'test-duplicate'`)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:49:16: error HOLTER_RULE_INVALID '1 of filter*' matches no search identifier`)), output);
    assert.equal(lines.at(-1), '3 errors, 8 warnings in 1 file');
  });

  test('rejected rule still gets compiled', async () => {
    const rule = CLEAN_RULE.replace('level: low', 'level: bogus').replace(
      '    selection:\n        event.outcome: failure\n    condition: selection',
      "    selection:\n        event.outcome: failure\n        event.action|re: '(a'\n        event.reason|nosuchmod: x\n    condition: selection and missing",
    );
    const dir = folder({ 'rejected.yml': `${rule}status: wrong\n` });
    const file = path.join(dir, 'rejected.yml');
    const { code, output } = await validate([dir]);
    const lines = output.trimEnd().split('\n');

    assert.equal(code, 1);
    assert.ok(lines.some((line) => line.startsWith(`${file}:5:8: error HOLTER_RULE_INVALID Invalid level 'bogus'`)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:12:9: error HOLTER_RULE_INVALID The regular expression '(a' in 'event.action|re' is not valid: `)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:13:9: error HOLTER_RULE_INVALID Unknown modifier 'nosuchmod'`)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:14:30: error HOLTER_RULE_INVALID The condition refers to 'missing'`)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:15:9: warning HOLTER_LINT_UNKNOWN_STATUS Rule 'Failed login' has status 'wrong'`)), output);
    assert.ok(!output.includes('HOLTER_LINT_MISSING_LEVEL'), 'an invalid level is not also reported missing');
    assert.equal(lines.at(-1), '4 errors, 1 warning in 1 file');
  });

  test('rejected correlation still gets its references checked', async () => {
    const correlation = ['title: Burst', 'id: 7c0e3b52-5b0a-4a4e-9d6e-0f2a4c1d9e99', 'correlation:', '    type: event_count', '    rules: [no-such-rule]', '    group-by: [user.name]', '    timespan: 5 minutes', '    condition: {gte: 3}', 'level: high', ''].join('\n');
    const dir = folder({ 'burst.yml': correlation });
    const { output } = await validate([dir]);

    assert.match(output, /burst\.yml:5:13: error HOLTER_RULE_INVALID Correlation 'Burst' refers to 'no-such-rule', but no rule in these files has that id or name/);
    assert.match(output, /burst\.yml:7:15: error HOLTER_RULE_INVALID Invalid timespan '5 minutes'/);
  });

  test('duplicate id hides no other error', async () => {
    const copy = CLEAN_RULE.replace('Failed login', 'Failed login copy').replace('name: test-failed-login', 'name: test-failed-login-copy').replace(
      '        event.outcome: failure\n',
      '        source.ip|cidr: 10.0.0.0/99\n        event.outcome|nosuchmod: failure\n',
    );
    const dir = folder({ 'duplicate.yml': `${CLEAN_RULE}---\n${copy}` });
    const file = path.join(dir, 'duplicate.yml');
    const { code, output } = await validate([dir]);
    const lines = output.trimEnd().split('\n');

    assert.equal(code, 1);
    assert.ok(lines.some((line) => line.startsWith(`${file}:14:1: error HOLTER_RULE_INVALID Duplicate rule id or name '7c0e3b52-5b0a-4a4e-9d6e-0f2a4c1d9e11'`)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:24:9: error HOLTER_RULE_INVALID 'source.ip|cidr' has an invalid CIDR range '10.0.0.0/99'`)), output);
    assert.ok(lines.some((line) => line.startsWith(`${file}:25:9: error HOLTER_RULE_INVALID Unknown modifier 'nosuchmod'`)), output);
    assert.equal(lines.at(-1), '3 errors, 0 warnings in 1 file');
  });

  test('duplicate correlation gets references checked', async () => {
    const correlation = (title: string, reference: string): string =>
      [`title: ${title}`, 'id: 7c0e3b52-5b0a-4a4e-9d6e-0f2a4c1d9e99', 'description: Failed logins.', 'correlation:', '    type: event_count', `    rules: [${reference}]`, '    group-by: [user.name]', '    timespan: 5m', '    condition: {gte: 3}', 'level: high', ''].join('\n');
    const dir = folder({ 'rule.yml': CLEAN_RULE, 'bursts.yml': `${correlation('Burst', 'test-failed-login')}---\n${correlation('Burst again', 'no-such-rule')}` });
    const { output } = await validate([dir]);

    assert.match(output, /bursts\.yml:12:1: error HOLTER_RULE_INVALID Duplicate rule id or name/);
    assert.match(output, /bursts\.yml:17:13: error HOLTER_RULE_INVALID Correlation 'Burst again' refers to 'no-such-rule', but no rule in these files has that id or name/);
  });

  test('invalid search hides no other error', async () => {
    const rule = CLEAN_RULE.replace(
      '    selection:\n        event.outcome: failure\n    condition: selection',
      '    selection:\n    network:\n        source.ip|cidr: 10.0.0.0/99\n    condition: selection or network or typo',
    );
    const dir = folder({ 'rule.yml': rule });
    const file = path.join(dir, 'rule.yml');
    const { output } = await validate([dir]);
    const errors = output.split('\n').filter((line) => line.includes(': error '));

    assert.ok(errors.some((line) => line.startsWith(`${file}:10:15: error HOLTER_RULE_INVALID Search identifier 'selection' must be`)), output);
    assert.ok(errors.some((line) => line.startsWith(`${file}:12:9: error HOLTER_RULE_INVALID 'source.ip|cidr' has an invalid CIDR range`)), output);
    assert.ok(errors.some((line) => line.startsWith(`${file}:13:40: error HOLTER_RULE_INVALID The condition refers to 'typo'`)), output);
    assert.equal(errors.length, 3, output);
  });

  test('docs list every lint code', () => {
    for (const doc of ['errors.md', 'rules.md']) {
      const text = readFileSync(path.join(REPO_ROOT, 'docs', doc), 'utf8');
      const documented = new Set([...text.matchAll(/`(HOLTER_LINT_[A-Z_]+)`/g)].map((match) => match[1]));
      assert.deepEqual([...documented].sort(), Object.keys(LINT_CODES).sort(), `docs/${doc}`);
    }
  });

  test('broken detection is not compiled', async () => {
    const rule = CLEAN_RULE.replace('level: low', 'level: bogus').replace('        event.outcome: failure\n', '        event.outcome: [failure, {a: 1}]\n');
    const dir = folder({ 'rejected.yml': rule });
    const { output } = await validate([dir]);

    assert.match(output, /Invalid level 'bogus'/);
    assert.doesNotMatch(output, /not a search identifier/, 'a search that failed validation is not reported again as unknown');
  });

  test('id that is not a UUID is a warning', async () => {
    const dir = folder({ 'named.yml': CLEAN_RULE.replace('id: 7c0e3b52-5b0a-4a4e-9d6e-0f2a4c1d9e11', 'id: failed-login') });
    const { code, output } = await validate([dir]);

    assert.equal(code, 0);
    assert.match(output, /warning HOLTER_LINT_ID_NOT_UUID Rule 'Failed login' has id 'failed-login', which is not a UUID\./);
  });

  test('warnings alone exit zero', async () => {
    const dir = folder({ 'warn.yml': CLEAN_RULE.replace('level: low\n', '') });

    const relaxed = await validate([dir]);
    assert.equal(relaxed.code, 0);
    assert.match(relaxed.output, /warning HOLTER_LINT_MISSING_LEVEL/);

    const strict = await validate([dir], { strict: true });
    assert.equal(strict.code, 1);
  });

  test('patient summary field exits one', async () => {
    const rule = `${CLEAN_RULE}holter:\n    summary: 'Login for patient {holter.patient.id}'\n`;
    const dir = folder({ 'patient.yml': rule });
    const file = path.join(dir, 'patient.yml');
    const { code, output } = await validate([dir]);

    assert.equal(code, 1, output);
    assert.ok(output.includes(`${file}:14:33: error HOLTER_LINT_SUMMARY_PATIENT_FIELD Placeholder '{holter.patient.id}'`), output);
    assert.match(output, /1 error, 0 warnings in 1 file/);
  });

  test('summary and correlation warnings need strict', async () => {
    const rule = `${CLEAN_RULE}holter:\n    summary: 'Login by {user.nmae'\n`;
    const correlation = `title: Never
id: 0b7f5d0e-3a57-4d0c-a0d2-6c1f0f8a9c21
description: Needs two rules but names one.
level: low
correlation:
    type: temporal
    rules: [test-failed-login]
    group-by: [user.name]
    timespan: 5m
    condition: { gte: 2 }
`;
    const dir = folder({ 'rule.yml': `${rule}---\n${correlation}` });

    const relaxed = await validate([dir]);
    assert.equal(relaxed.code, 0, relaxed.output);
    assert.match(relaxed.output, /warning HOLTER_LINT_SUMMARY_PLACEHOLDER/);
    assert.match(relaxed.output, /warning HOLTER_LINT_UNREACHABLE_CORRELATION Correlation 'Never' \(temporal\) names 1 rule/);

    const strict = await validate([dir], { strict: true });
    assert.equal(strict.code, 1);
  });

  test('json format lists findings', async () => {
    const dir = folder({ 'warn.yml': CLEAN_RULE.replace('id: 7c0e3b52-5b0a-4a4e-9d6e-0f2a4c1d9e11\n', '') });
    const { code, output } = await validate([dir], { format: 'json' });
    const report = JSON.parse(output) as { files: number; errors: number; warnings: number; findings: Record<string, unknown>[] };

    assert.equal(code, 0);
    assert.equal(report.files, 1);
    assert.equal(report.errors, 0);
    assert.equal(report.warnings, 1);
    assert.deepEqual(report.findings[0], {
      file: path.join(dir, 'warn.yml'),
      line: 1,
      column: 1,
      severity: 'warning',
      code: 'HOLTER_LINT_MISSING_ID',
      message: "Rule 'Failed login' has no id.",
      hint: 'add `id:` with a new UUID and keep it when the rule changes',
    });
  });

  test('missing path exits with 2', async () => {
    const missing = path.join(workDir, 'no-such-folder');
    const { code, output } = await validate([missing]);

    assert.equal(code, 2);
    assert.match(output, /error HOLTER_INPUT_NOT_FOUND Path '.*no-such-folder' does not exist/);
  });

  test('folder without rule files exits with 2', async () => {
    const { code, output } = await validate([folder({ 'notes.txt': 'not a rule' })]);

    assert.equal(code, 2);
    assert.match(output, /error HOLTER_INPUT_NOT_FOUND Folder '.*' contains no \.yml or \.yaml file/);
  });

  test('detector errors are located', async () => {
    const text = readFileSync(path.join(DETECTORS_DIR, 'mass-image-pull.yaml'), 'utf8').replace('risk_score: 70', 'risk_score: 700');
    const dir = folder({ 'pull.yaml': text, 'copy.yaml': readFileSync(path.join(DETECTORS_DIR, 'after-hours-record-access.yaml'), 'utf8'), 'copy2.yaml': readFileSync(path.join(DETECTORS_DIR, 'after-hours-record-access.yaml'), 'utf8') });
    const { code, output } = await validate([dir]);

    assert.equal(code, 1);
    assert.match(output, /pull\.yaml:\d+:\d+: error HOLTER_RULE_INVALID risk_score must be <= 100, got 700/);
    assert.match(output, /copy2\.yaml:\d+:1: error HOLTER_RULE_INVALID detector id 'after-hours-record-access' is already used by .*copy\.yaml; give each detector its own id/);
  });

  test('detector alias bomb is an error', async () => {
    const lines = ['id: bomb', 'function: count', 'x0: &a0 [a, a, a, a, a, a, a, a, a, a]'];
    for (let level = 1; level < 8; level++) lines.push(`x${level}: &a${level} [${Array(10).fill(`*a${level - 1}`).join(', ')}]`);
    const dir = folder({ 'bomb.yaml': `${lines.join('\n')}\nwhere: *a7\n` });
    const { code, output } = await validate([dir]);

    assert.equal(code, 1);
    // Located at the first alias whose node contains aliases itself: *a1, the first item of x2 in line 5.
    assert.match(output, /bomb\.yaml:5:10: error HOLTER_RULE_INVALID YAML aliases expand too far at alias \*a1 /);
  });

  test('unknown detector function hides nothing else', async () => {
    const text = ['id: Bad ID!', 'name: Bad', 'function: time_of_wek', 'by: 42', 'unitt: records', 'learning: { min_days: -1, min_events: 10, half_life_days: 7 }', 'severity: high', 'risk_score: 70', 'thresholds: { min_score: 50 }', ''].join('\n');
    const dir = folder({ 'wek.yaml': text });
    const { output } = await validate([dir]);
    const errors = output.split('\n').filter((line) => line.includes(': error '));

    assert.ok(errors.some((line) => line.includes('function "time_of_wek" is unknown')), output);
    assert.ok(errors.some((line) => line.includes('id must be lower-case letters')), output);
    assert.ok(errors.some((line) => line.includes('by must be a string, got 42')), output);
    assert.ok(errors.some((line) => line.includes('learning.min_days must be >= 0, got -1')), output);
    assert.ok(errors.some((line) => line.includes("wek.yaml:5:1: error HOLTER_RULE_INVALID unknown key 'unitt': no detector function has it")), output);
    assert.equal(errors.length, 5, output);
  });

  test('invalid bucket span adds no seasonality error', async () => {
    const text = ['id: span', 'name: Span', 'function: high_count', 'by: holter.user.id', 'bucket_span: 7x', 'seasonality: day_of_week', 'severity: low', 'risk_score: 10', 'learning: { min_days: 1, min_events: 1, half_life_days: 7 }', 'thresholds: { min_score: 50 }', ''].join('\n');
    const dir = folder({ 'span.yaml': text });
    const { output } = await validate([dir]);
    const errors = output.split('\n').filter((line) => line.includes(': error '));

    assert.equal(errors.length, 1, output);
    assert.match(errors[0] ?? '', /bucket_span must be a positive whole number with a unit \(s, m, h or d\), such as 30m, 1h or 2d, got "7x"/);
  });

  test('detector field typos are warnings', async () => {
    const text = [
      'id: typo-volume',
      'name: Records per day',
      'function: high_distinct_count',
      'where: { event.category: database, exits: [holter.patient.token] }',
      'by: holter.user.idd',
      'field: holter.patient.token',
      'over: [holter.user.role, department]',
      'bucket_span: 1d',
      'severity: medium',
      'risk_score: 40',
      'learning: { min_days: 14, min_events: 200, half_life_days: 21 }',
      'thresholds: { min_score: 60 }',
      '',
    ].join('\n');
    const dir = folder({ 'typo.yaml': text });
    const { code, output } = await validate([dir]);
    const warnings = output.split('\n').filter((line) => line.includes('warning HOLTER_LINT_UNKNOWN_FIELD'));

    assert.equal(code, 0, 'warnings alone do not fail');
    assert.equal(warnings.length, 3, output);
    assert.ok(warnings.some((line) => line.includes("Field 'exits' is not an event field") && line.includes('(where.exits)')), output);
    assert.ok(warnings.some((line) => line.includes("Field 'holter.user.idd' is not a field Holter sets (by)")), output);
    assert.ok(warnings.some((line) => line.includes("Field 'department' is not an event field") && line.includes('(over.1)')), output);
  });

  test('invalid detector YAML is reported once', async () => {
    const dir = folder({ 'broken.yaml': 'id: x\nfunction: count\nname: [unclosed\n' });

    const validated = await validate([dir]);
    assert.equal(validated.output.split('\n').filter((line) => line.includes('broken.yaml')).length, 1, validated.output);

    const tested = await runTests([dir]);
    assert.equal(tested.code, 1);
    assert.equal(tested.output.split('\n').filter((line) => line.includes('broken.yaml')).length, 1, tested.output);
  });

  test('detector schema errors hide no other problem', async () => {
    const text = [
      'id: record-volume',
      'name: Many records in a day',
      'function: high_distinct_count',
      'where:',
      '  event.category: database',
      '  "bad key!": x',
      'by: holter.user.id',
      'bucket_span: 1d',
      'severity: medium',
      'risk_score: 700',
      'exclude:',
      '  - start: not-a-date',
      '    end: 2026-01-02',
      'learning: { min_days: 14, min_events: 200, half_life_days: 21 }',
      'thresholds: { min_score: 60 }',
      '',
    ].join('\n');
    const dir = folder({ 'volume.yaml': text });
    const { code, output } = await validate([dir]);
    const errors = output.split('\n').filter((line) => line.includes(': error '));

    assert.equal(code, 1);
    assert.ok(errors.some((line) => /error HOLTER_RULE_INVALID risk_score must be <= 100, got 700/.test(line)), output);
    assert.ok(errors.some((line) => line.includes("missing required key 'field': high_distinct_count reads the field it counts distinct values of")), output);
    assert.ok(errors.some((line) => line.includes("where key 'bad key!' must be a dotted field path")), output);
    assert.ok(errors.some((line) => line.includes("exclude start 'not-a-date' is not an ISO 8601 date")), output);
    assert.equal(errors.length, 4, output);
  });

  test('durations past their limits are errors', async () => {
    const rule = FAILING_SUITE.replace('timespan: 1m', 'timespan: 99999999999999999999d').replace('                every: 10s\n                event: { event.category: [authentication], event.outcome: failure, holter.user.id: u-1 }\n          expect:\n              - group: { holter.user.id: u-2 }', '                every: 366d\n                event: { event.category: [authentication], event.outcome: failure, holter.user.id: u-1 }\n          expect:\n              - group: { holter.user.id: u-2 }');
    const detector = readFileSync(path.join(DETECTORS_DIR, 'mass-image-pull.yaml'), 'utf8').replace(/^window: .*$/m, 'window: 99999999999999d');
    const dir = folder({ 'suite.yml': rule, 'pull.yaml': detector });
    const { code, output } = await validate([dir]);
    const errors = output.split('\n').filter((line) => line.includes(': error '));

    assert.equal(code, 1);
    assert.equal(errors.length, 3, output);
    assert.match(output, /suite\.yml:31:15: error HOLTER_RULE_INVALID Timespan '99999999999999999999d' is longer than the largest allowed, 365d\./);
    assert.match(output, /suite\.yml:46:24: error HOLTER_RULE_INVALID Duration '366d' at holter\.tests\[1\]\.events\[0\]\.every is longer than the largest allowed, 365d\./);
    assert.match(output, /pull\.yaml:\d+:9: error HOLTER_RULE_INVALID window '99999999999999d' is longer than the largest allowed, 7d/);
  });

  test('second detector document is located', async () => {
    const text = readFileSync(path.join(DETECTORS_DIR, 'mass-image-pull.yaml'), 'utf8');
    const lines = text.trimEnd().split('\n').length;
    const dir = folder({ 'pull.yaml': `${text.replace('risk_score: 70', 'risk_score: 700')}---\n${text}` });
    const { code, output } = await validate([dir]);

    assert.equal(code, 1);
    assert.doesNotMatch(output, /parseAllDocuments/);
    assert.match(output, /pull\.yaml:\d+:\d+: error HOLTER_RULE_INVALID risk_score must be <= 100, got 700/);
    assert.match(output, new RegExp(`pull\\.yaml:${lines + 1}:1: error HOLTER_RULE_INVALID a detector file holds one document; split it into files`));
  });

  test('invalid tests block is an error', async () => {
    const text = `${CLEAN_RULE}holter:\n    tests:\n        - name: bad case\n          event: { event.outcome: failure }\n          match: maybe\n          extra: 1\n`;
    const dir = folder({ 'rule.yml': text });
    const file = path.join(dir, 'rule.yml');
    const { code, output } = await validate([dir]);

    assert.equal(code, 1);
    assert.match(output, new RegExp(`${escape(file)}:17:18: error HOLTER_RULE_INVALID 'holter.tests\\[0\\].match' must be true or false.`));
    assert.match(output, new RegExp(`${escape(file)}:18:11: error HOLTER_RULE_INVALID Unknown key 'extra' in holter.tests\\[0\\]`));
  });
});

const FAILING_SUITE = `${CLEAN_RULE}holter:
    tests:
        - name: failure matches
          event: { event.category: [authentication], event.outcome: failure }
          match: true
        - name: success matches by mistake
          event: { event.category: [authentication], event.outcome: success }
          match: true
---
title: Failed login burst
id: 0f4e8a0c-8f86-4f4f-b0a4-4a1f7d7e2b10
name: test-burst
description: Three failed logins for one user within a minute.
level: medium
correlation:
    type: event_count
    rules: [test-failed-login]
    group-by: [holter.user.id]
    timespan: 1m
    condition: { gte: 3 }
holter:
    tests:
        - name: three failures fire
          events:
              - repeat: 3
                every: 10s
                event: { event.category: [authentication], event.outcome: failure, holter.user.id: u-1 }
          expect:
              - group: { holter.user.id: u-1 }
                count: 3
        - name: wrong count is reported
          events:
              - repeat: 4
                every: 10s
                event: { event.category: [authentication], event.outcome: failure, holter.user.id: u-1 }
          expect:
              - group: { holter.user.id: u-2 }
                count: 4
`;

describe('rules test', () => {
  test('shipped rules pass their tests', async () => {
    const { code, output } = await runTests([RULES_DIR, DETECTORS_DIR]);
    const rows = output.split('\n').filter((line) => /^(pass|FAIL) /.test(line));

    assert.equal(code, 0, output);
    assert.ok(rows.length >= 29, output);
    assert.ok(rows.every((row) => row.startsWith('pass ')), output);
    for (const rule of ['holter-failed-login-burst', 'holter-failed-login-burst-then-success', 'holter-password-spray', 'holter-break-glass-access', 'holter-self-lookup']) {
      assert.ok(rows.some((row) => row.includes(` ${rule} `)), `no test of ${rule}`);
    }
  });

  test('JUnit path checked and its folders created', async () => {
    const dir = folder({ 'suite.yml': FAILING_SUITE });
    await assert.rejects(runTests([dir], { junit: dir }), /is a directory \(from --junit\)\. Name a file inside it\./);

    const junit = path.join(dir, 'reports', 'rules', 'junit.xml');
    await runTests([dir], { junit });
    assert.match(readFileSync(junit, 'utf8'), /<testsuites name="holter rules test" /);
  });

  test('failing case shows table, exit code and JUnit', async () => {
    const dir = folder({ 'suite.yml': FAILING_SUITE });
    const junit = path.join(dir, 'report.xml');
    const { code, output } = await runTests([dir], { junit });
    const lines = output.trimEnd().split('\n');

    assert.equal(code, 1);
    assert.match(lines[0] ?? '', /^RESULT +RULE +TEST +LOCATION$/);
    assert.match(output, /\npass +test-failed-login +failure matches +.*suite\.yml:15:11\n/);
    assert.match(output, /\nFAIL +test-failed-login +success matches by mistake +.*suite\.yml:18:11\n +expected a match, but the event did not match\n/);
    assert.match(output, /\npass +test-burst +three failures fire /);
    assert.match(output, /\nFAIL +test-burst +wrong count is reported .*\n +detection 1 of test-burst: expected group \{holter\.user\.id=u-2\}, got \{holter\.user\.id=u-1\} and count 4, got 3\n/);
    assert.equal(lines.at(-1), '2 passed, 2 failed (2 rules and detectors)');

    const xml = readFileSync(junit, 'utf8');
    assert.match(xml, /<testsuites name="holter rules test" tests="4" failures="2">/);
    assert.match(xml, /<testsuite name="test-failed-login" tests="2" failures="1">/);
    assert.match(xml, /<testcase name="failure matches" classname="test-failed-login" file="[^"]*suite\.yml" line="15"\/>/);
    assert.match(xml, /<failure message="detection 1 of test-burst: expected group \{holter\.user\.id=u-2\}, got \{holter\.user\.id=u-1\} and count 4, got 3">/);
  });

  test('event outside the log source is named', async () => {
    const rule = CLEAN_RULE.replace('    category: authentication\n', '    category: record_access\n');
    const text = `${rule}holter:\n    tests:\n        - name: failure without a patient\n          event: { event.outcome: failure }\n          match: true\n`;
    const dir = folder({ 'outside.yml': text });
    const { code, output } = await runTests([dir]);

    assert.equal(code, 1);
    assert.match(output, /expected a match, but the event did not match \(it does not meet the mapping's condition for the log source category: record_access, product: holter, so the detection was not tested\)/);
  });

  test('missing detection is reported', async () => {
    const text = FAILING_SUITE.replace('repeat: 3\n', 'repeat: 2\n');
    const dir = folder({ 'suite.yml': text });
    const { code, output } = await runTests([dir]);

    assert.equal(code, 1);
    assert.match(output, /\n +expected 1 detection of test-burst, got 0\n/);
  });

  test('unexpected detection is reported', async () => {
    const text = FAILING_SUITE.replace('          expect:\n              - group: { holter.user.id: u-1 }\n                count: 3\n', '          expect: []\n');
    const dir = folder({ 'suite.yml': text });
    const { output } = await runTests([dir]);

    assert.match(output, /\n +expected 0 detections of test-burst, got 1: group \{holter\.user\.id=u-1\} count 3 at 2024-05-01T08:00:00\.000Z\n/);
  });

  test('rule load error fails the run', async () => {
    const dir = folder({ 'suite.yml': FAILING_SUITE.replace('condition: selection\n', 'condition: selection and missing\n') });
    const { code, output } = await runTests([dir]);

    assert.equal(code, 1);
    assert.match(output, /error HOLTER_RULE_INVALID The condition refers to 'missing'/);
    assert.match(output, /FAIL +test-failed-login +failure matches .*\n +rule test-failed-login did not load; run holter rules validate for the reason\n/);
  });

  test('JUnit lists load errors as failures', async () => {
    const passing = FAILING_SUITE.slice(0, FAILING_SUITE.indexOf('        - name: success matches by mistake'));
    const broken = [
      'title: Burst',
      'correlation:',
      '    type: event_count',
      '    rules: [test-failed-login]',
      '    timespan: 5 minutes',
      '    condition: {gte: 3}',
      '---',
      'title: Spray',
      'correlation:',
      '    type: value_count',
      '    rules: [no-such-rule]',
      '    timespan: 5m',
      '    condition: {greater: 3, field: user.name}',
      '',
    ].join('\n');
    const dir = folder({ 'good.yml': passing, 'broken.yml': broken });
    const junit = path.join(dir, 'report.xml');
    const { code, output } = await runTests([dir], { junit });
    const xml = readFileSync(junit, 'utf8');
    const file = path.join(dir, 'broken.yml');

    assert.equal(code, 1);
    assert.match(output, /\n1 passed, 0 failed, 4 load errors \(1 rule or detector\)\n/);
    assert.doesNotMatch(output, /No inline tests found/);
    assert.match(xml, /<testsuites name="holter rules test" tests="5" failures="4">/);
    assert.match(xml, /<testsuite name="test-failed-login" tests="1" failures="0">/);
    assert.match(xml, new RegExp(`<testsuite name="load ${escape(file)}" tests="4" failures="4">`));
    assert.match(xml, new RegExp(`<testcase name="${escape(file)}:5:15 HOLTER_RULE_INVALID" classname="load ${escape(file)}" file="${escape(file)}" line="5">`));
    assert.match(xml, /<failure message="Invalid timespan &apos;5 minutes&apos;\. .*\(key correlation\.timespan\)" type="HOLTER_RULE_INVALID">/);
    assert.match(xml, new RegExp(`<testcase name="${escape(file)}:11:13 HOLTER_RULE_INVALID" `));
    assert.match(xml, /<failure message="Correlation &apos;Spray&apos; refers to &apos;no-such-rule&apos;, but no rule in these files has that id or name\./);
    assert.match(xml, new RegExp(`<testcase name="${escape(file)}:13:16 HOLTER_RULE_INVALID" `));
    assert.match(xml, /<failure message="Unknown condition operator &apos;greater&apos;\./);
  });

  test('undecodable raw record fails its case', async () => {
    const text = `${CLEAN_RULE}holter:\n    tests:\n        - name: broken record\n          raw: '{"resourceType": "AuditEvent"'\n          format: fhir\n          match: true\n`;
    const dir = folder({ 'rule.yml': text });
    const { code, output } = await runTests([dir]);

    assert.equal(code, 1);
    assert.match(output, /FAIL +test-failed-login +broken record .*\n +the raw record at line 15 could not be decoded \(invalid_json\)/);
  });

  test('folder without tests says so', async () => {
    const dir = folder({ 'rule.yml': CLEAN_RULE });
    const { code, output } = await runTests([dir]);

    assert.equal(code, 0);
    assert.match(output, /No inline tests found/);
  });
});

describe('rules test on detectors', () => {
  /** Copies the shipped detector files that carry inline tests, changed by `change`, into a new folder. */
  function changedDetectors(change: (text: string) => string): string {
    const dir = folder({});
    for (const name of ['after-hours-record-access.yaml', 'mass-image-pull.yaml']) {
      writeFileSync(path.join(dir, name), change(readFileSync(path.join(DETECTORS_DIR, name), 'utf8')));
    }
    return dir;
  }

  test('shipped detectors pass inline tests', async () => {
    const { code, output } = await runTests([DETECTORS_DIR]);

    assert.equal(code, 0, output);
    assert.match(output.trimEnd().split('\n').at(-1) ?? '', /^(\d+) passed, 0 failed \(\d+ rules and detectors\)$/);
    assert.match(output, /pass +after-hours-record-access +day worker at 02:00 fires/);
    assert.match(output, /pass +mass-image-pull +burst against own history fires/);
  });


  test('wrong detector count fails', async () => {
    const { code, output } = await runTests([changedDetectors((text) => text.replace('count: 6', 'count: 7'))]);

    assert.equal(code, 1);
    assert.match(output, /FAIL +after-hours-record-access +day worker at 02:00 fires .*\n +detection 1 of after-hours-record-access: expected count 7, got 6\n/);
  });

  test('repeated detector id fails the run', async () => {
    const text = readFileSync(path.join(DETECTORS_DIR, 'mass-image-pull.yaml'), 'utf8');
    const dir = folder({ 'a.yaml': text, 'b.yaml': text });
    const validated = await validate([dir]);
    const { code, output } = await runTests([path.join(dir, 'a.yaml'), path.join(dir, 'b.yaml')]);
    const duplicate = validated.output.split('\n').find((line) => line.includes('is already used by'));

    assert.equal(code, 1);
    assert.ok(duplicate !== undefined, validated.output);
    assert.ok(output.split('\n').includes(duplicate), output);
    assert.doesNotMatch(output, /b\.yaml:\d+:\d+ *$/m);
    assert.match(output.trimEnd().split('\n').at(-1) ?? '', /^\d+ passed, 0 failed, 1 load error \(1 rule or detector\)$/);
  });

  test('detector that does not load fails its cases', async () => {
    const { code, output } = await runTests([changedDetectors((text) => text.replace('risk_score: 70', 'risk_score: 700'))]);

    assert.equal(code, 1);
    assert.match(output, /FAIL +mass-image-pull +pull reaching the ceiling fires at once .*\n +detector mass-image-pull did not load: .*risk_score must be <= 100, got 700/);
  });
});

describe('rules validate on detector files', () => {
  const COUNT_DETECTOR = ['id: volume', 'name: Volume', 'function: high_count', 'by: holter.user.id', 'learning: { min_days: 1, min_events: 1, half_life_days: 7 }', 'thresholds: { min_score: 50 }', 'severity: low', 'risk_score: 10', ''].join('\n');

  test('detector without function gets detector errors', async () => {
    const text = COUNT_DETECTOR.replace('function: high_count\n', 'bucket_span: 1h\n');
    const dir = folder({ 'volume.yaml': text });
    const { code, output } = await validate([dir]);

    assert.equal(code, 1);
    assert.match(output, /volume\.yaml:1:1: error HOLTER_RULE_INVALID missing required key 'function'; use one of time_of_day, /);
    assert.doesNotMatch(output, /title|logsource|HOLTER_LINT_ID_NOT_UUID/);
  });

  test('configured detector folder holds detectors', async () => {
    const detectors = folder({ 'named.yaml': 'id: named\nname: Only a name\n' });
    const config = folder({ 'holter.yml': `detectors:\n  paths: [${detectors}]\n` });
    const { output } = await validate([path.join(detectors, 'named.yaml')], { config: path.join(config, 'holter.yml') });

    assert.match(output, /named\.yaml:1:1: error HOLTER_RULE_INVALID missing required key 'function'/);
    assert.doesNotMatch(output, /Missing required attribute 'title'/);
  });

  test('file without detector keys stays a rule', async () => {
    const dir = folder({ 'named.yaml': 'id: named\nname: Only a name\n' });
    const { output } = await validate([dir]);

    assert.match(output, /named\.yaml:1:1: error HOLTER_RULE_INVALID Missing required attribute 'title'/);
  });

  test('patient data in a detector is an error', async () => {
    const text = COUNT_DETECTOR.replace('by: holter.user.id', 'by: holter.user.id\ninfluencers: [holter.access.reason, holter.patient.token]');
    const dir = folder({ 'volume.yaml': text });
    const { code, output } = await validate([dir]);

    assert.equal(code, 1);
    assert.match(output, /volume\.yaml:5:15: error HOLTER_RULE_INVALID influencers\.0 names holter\.access\.reason, free text that can carry a patient's name/);
    assert.match(output, /^1 error, 0 warnings in 1 file$/m);
  });

  test('match in a detector case is an error', async () => {
    const tests = ['holter:', '  tests:', '    - name: one event', '      event: { holter.user.id: u-1 }', '      match: true', ''].join('\n');
    const dir = folder({ 'volume.yaml': `${COUNT_DETECTOR}${tests}` });
    const validated = await validate([dir]);
    const tested = await runTests([dir]);
    const line = "volume.yaml:13:7: error HOLTER_RULE_INVALID Test case holter.tests[0] gives 'match', which applies to Sigma detection rules.";

    assert.equal(validated.code, 1);
    assert.ok(validated.output.includes(line), validated.output);
    assert.equal(tested.code, 1);
    assert.ok(tested.output.includes(line), tested.output);
    assert.match(tested.output, /^0 passed, 0 failed, 1 load error \(0 rules and detectors\)$/m);
  });

  test('repeated case name is found beside other errors', async () => {
    const tests = [
      'holter:',
      '  tests:',
      '    - name: quiet user',
      '      event: { holter.user.id: u-1 }',
      '      expect: 3',
      '    - name: " quiet user"',
      '      event: { holter.user.id: u-1 }',
      '      expect: []',
      '',
    ].join('\n');
    const dir = folder({ 'volume.yaml': `${COUNT_DETECTOR}${tests}` });
    const { code, output } = await validate([dir]);

    assert.equal(code, 1);
    assert.match(output, /volume\.yaml:13:15: error HOLTER_RULE_INVALID 'holter\.tests\[0\]\.expect' must be a list of detections/);
    assert.match(output, /volume\.yaml:14:7: error HOLTER_RULE_INVALID Test name 'quiet user' is used twice\. Give every case its own name\./);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('readable output of untrusted text', () => {
  test('validate escapes rule text', async () => {
    // YAML double quotes turn \u202e and \e into the characters themselves.
    const rule = CLEAN_RULE.replace('title: Failed login', 'title: "Failed \\u202e login \\e[2J"').replace('event.outcome: failure', 'event.outcome: failure\n        "bogus\\u202efield": 1');
    const target = folder({ 'rule.yml': rule });
    const { output } = await validate([target]);

    assert.match(output, /Field 'bogus\\u202efield' of rule 'Failed \\u202e login \\x1b\[2J'/);
    assert.doesNotMatch(output, /[\u001b\u202e]/);
  });

  test('rules test escapes case names and failures', async () => {
    const rule = FAILING_SUITE.replace('- name: success matches by mistake', '- name: "success \\u202e matches \\e[31m"');
    const target = folder({ 'rule.yml': rule });
    const { code, output } = await runTests([target]);

    assert.equal(code, 1);
    assert.match(output, /FAIL +test-failed-login +success \\u202e matches \\x1b\[31m /);
    assert.doesNotMatch(output, /[\u001b\u202e]/);
  });
});

describe('long failures of rules test', () => {
  const MANY_FAILURES = `${CLEAN_RULE}holter:
    tests:
        - name: many failures expected none
          events:
              - repeat: 100000
                every: 1s
                event: { event.category: [authentication], event.outcome: failure }
          expect: []
        - name: many successes match
          events:
              - repeat: 100000
                every: 1s
                event: { event.category: [authentication], event.outcome: success }
          match: true
`;

  test('lists the first ten items', async () => {
    const { code, output } = await runTests([folder({ 'rule.yml': MANY_FAILURES })]);
    const lines = output.split('\n');

    assert.equal(code, 1);
    const detections = lines.find((line) => line.includes('expected 0 detections of test-failed-login, got 100000: ')) ?? '';
    assert.equal(detections.split('; ').length, 11, detections);
    assert.match(detections, /at 2024-05-01T08:00:09\.000Z; and 99990 more$/);
    const events = lines.find((line) => line.includes('expected a match, but event ')) ?? '';
    assert.match(events, /event 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, and 99990 more of 100000 events did not match/);
    assert.ok(output.length < 2000, `output has ${output.length} characters`);
  });
});

describe('rules edge cases', () => {
  test('empty rule files are rejected', async () => {
    const target = folder({ 'empty.yml': '', 'comments.yml': '# nothing here yet\n', 'rule.yml': CLEAN_RULE });
    const { code, output } = await validate([target]);

    assert.equal(code, 1);
    assert.match(output, /empty\.yml:1:1: error HOLTER_RULE_INVALID The file is empty or contains only comments, so it defines no rule or detector\./);
    assert.match(output, /comments\.yml:1:1: error HOLTER_RULE_INVALID The file is empty or contains only comments/);
    assert.match(output, /^2 errors, 0 warnings in 3 files$/m);
  });

  test('empty file beside detectors is rejected', async () => {
    const detector = readFileSync(path.join(DETECTORS_DIR, 'mass-image-pull.yaml'), 'utf8');
    const { code, output } = await validate([folder({ 'empty.yaml': '', 'pull.yaml': detector })]);

    assert.equal(code, 1);
    assert.match(output, /empty\.yaml:1:1: error HOLTER_RULE_INVALID The file is empty or contains only comments/);
    assert.match(output, /^1 error, 0 warnings in 2 files$/m);
  });

  test('device path is a located rule error', async () => {
    const { code, output } = await validate(['/dev/null']);

    assert.equal(code, 1);
    assert.match(output, /^\/dev\/null:1:1: error HOLTER_RULE_INVALID The file is empty/m);
  });

  test('missing path in rules test exits with 2', async () => {
    const { code, output } = await runTests([path.join(workDir, 'no-such-rules')]);

    assert.equal(code, 2);
    assert.match(output, /error HOLTER_INPUT_NOT_FOUND Path '.*no-such-rules' does not exist/);
  });

  test('deep nesting is a located error', async () => {
    const deep = `${CLEAN_RULE}references: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`;
    const { code, output } = await validate([folder({ 'deep.yml': deep })]);

    assert.equal(code, 1);
    assert.match(output, /deep\.yml:13:\d+: error HOLTER_RULE_INVALID YAML maps and lists nest deeper than 64 levels here\./);
    assert.doesNotMatch(output, /call stack/);
    assert.match(output, /^1 error, 0 warnings in 1 file$/m);
  });

  test('nesting past the limit is rejected', async () => {
    const deep = `${CLEAN_RULE}references: ${'['.repeat(64)}${']'.repeat(64)}\n`;
    const { code, output } = await validate([folder({ 'deep.yml': deep })]);

    assert.equal(code, 1);
    assert.match(output, /deep\.yml:13:76: error HOLTER_RULE_INVALID YAML maps and lists nest deeper than 64 levels here\./);
  });

  test('infinite correlation threshold reported once', async () => {
    const correlation = FAILING_SUITE.split('\n---\n')[1]?.replace('condition: { gte: 3 }', 'condition: { gte: 1e309 }') ?? '';
    const { code, output } = await validate([folder({ 'rule.yml': `${CLEAN_RULE}---\n${correlation}` })]);

    assert.equal(code, 1);
    assert.match(output, /error HOLTER_RULE_INVALID Condition 'gte' must be a finite number, got '1e309'/);
    assert.doesNotMatch(output, /has no comparison/);
  });

  test('detector field typo gets a suggestion', async () => {
    const text = readFileSync(path.join(DETECTORS_DIR, 'mass-image-pull.yaml'), 'utf8').replace(/^by: holter\.user\.id$/m, 'by: holter.user.idd');
    const { output } = await validate([folder({ 'pull.yaml': text })]);

    assert.match(output, /warning HOLTER_LINT_UNKNOWN_FIELD Field 'holter\.user\.idd' is not a field Holter sets \(by\).*\(did you mean holter\.user\.id\?/);
  });
});
