import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { loadSigmaRules } from '../../../src/detect/sigma/stage.js';
import { compileTexts, MAPPING_FILE, matches, processEvent, processRule } from './helpers.js';
import { makeTempDir } from '../../helpers/temp.js';

const GOOD = processRule("    selection:\n        Image|endswith: '\\whoami.exe'");

const BAD_MODIFIER = `title: Bad modifier
id: 00000000-0000-4000-8000-0000000000b1
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|nonsense: 'x'
    condition: selection
`;

const BAD_YAML = `title: Broken YAML
detection:
    selection:
      Image: 'x
    condition: selection
`;

test('bad rules are rejected, good ones load', () => {
  const result = compileTexts([
    { file: 'rules/good.yml', text: GOOD },
    { file: 'rules/bad-modifier.yml', text: BAD_MODIFIER },
    { file: 'rules/bad-yaml.yml', text: BAD_YAML },
  ]);

  assert.equal(result.stats.rules_loaded, 1);
  const described = result.errors.map((error) => error.describe());
  assert.ok(described.some((text) => text.startsWith('rules/bad-modifier.yml:8:9: Unknown modifier')), described.join('\n'));
  assert.ok(described.some((text) => text.startsWith('rules/bad-yaml.yml:')), described.join('\n'));
  assert.ok(result.errors.every((error) => error.location?.line !== undefined));
  assert.equal(matches(result, processEvent({ Image: 'C:\\Windows\\System32\\whoami.exe' })), true);
});

test('every error in a rule is reported', () => {
  const text = `title: Many problems
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|nonsense: 'x'
        CommandLine|re: '(?=x)'
    condition: selection and missing
level: severe
`;
  const result = compileTexts([text]);
  const messages = result.errors.map((error) => error.message).join('\n');
  assert.match(messages, /Invalid level 'severe'/);
  assert.equal(result.stats.rules_loaded, 0);
});

test('missing required parts are named', () => {
  const result = compileTexts(['title: Empty\nlogsource:\n    product: windows\n']);
  assert.match(result.errors.map((error) => error.message).join('\n'), /Missing or invalid 'detection'/);
});

test('duplicate id is rejected where repeated', () => {
  const result = compileTexts([{ file: 'a.yml', text: GOOD }, { file: 'b.yml', text: GOOD }]);
  assert.equal(result.stats.rules_loaded, 1);
  assert.equal(result.errors[0]?.location?.file, 'b.yml');
  assert.match(result.errors[0]?.message ?? '', /Duplicate rule id/);
});

test('correlation lists each rule once', () => {
  const correlation = `title: Twice
correlation:
  type: temporal
  rules: [holter-failed-login, holter-failed-login]
  group-by: [holter.user.id]
  timespan: 5m
`;
  const result = compileTexts([correlation]);
  assert.equal(result.stats.correlations_loaded, 0);
  assert.match(result.errors[0]?.describe() ?? '', /inline-1\.yml:4:32: Rule 'holter-failed-login' is listed twice in correlation\.rules\. List each rule once\./);
});

test('rule named by id and name is rejected', () => {
  const rule = `title: Failed login
id: 5b7b6a3e-0000-4000-8000-000000000009
name: failed-login
logsource: { product: holter }
detection:
  selection: { event.outcome: failure }
  condition: selection
`;
  const correlation = `title: Twice by two names
correlation:
  type: event_count
  rules: [failed-login, 5b7b6a3e-0000-4000-8000-000000000009]
  group-by: [holter.user.id]
  timespan: 5m
  condition: { gte: 10 }
`;
  const result = compileTexts([rule, correlation]);
  assert.equal(result.stats.correlations_loaded, 0);
  assert.match(result.errors[0]?.describe() ?? '', /inline-2\.yml:4:25: Correlation 'Twice by two names' refers to one rule twice, as 'failed-login' and as '5b7b6a3e-0000-4000-8000-000000000009'\. List each rule once\./);
});

test('filter inside a rule is rejected', () => {
  const rule = `title: Spray with filter
logsource: { product: holter }
detection:
  selection: { event.outcome: failure }
  condition: selection
filter:
  rules: [holter-password-spray]
  backup: { source.ip: 10.9.9.9 }
  condition: not backup
`;
  const result = compileTexts([rule]);
  assert.equal(result.stats.rules_loaded, 0);
  assert.match(result.errors[0]?.describe() ?? '', /inline-1\.yml:6:1: A document has either 'filter' or 'detection', not both/);
});

test('folders are walked recursively', async () => {
  const root = makeTempDir('holter-sigma-');
  try {
    mkdirSync(path.join(root, 'windows', 'process'), { recursive: true });
    writeFileSync(path.join(root, 'windows', 'process', 'good.yml'), GOOD);
    writeFileSync(path.join(root, 'windows', 'bad.yaml'), BAD_MODIFIER);
    writeFileSync(path.join(root, 'notes.txt'), 'not a rule');
    const result = await loadSigmaRules([root], { mappingFile: MAPPING_FILE });

    assert.equal(result.stats.rules_loaded, 1);
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0]?.location?.file, path.join(root, 'windows', 'bad.yaml'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('missing rule path is reported', async () => {
  const result = await loadSigmaRules(['/nonexistent/holter-rules'], { mappingFile: MAPPING_FILE });
  assert.equal(result.errors[0]?.code, 'HOLTER_INPUT_NOT_FOUND');
  assert.equal(result.stats.rules_loaded, 0);
});

test('device rule path is a located error', async () => {
  const result = await loadSigmaRules(['/dev/null'], { mappingFile: MAPPING_FILE });
  assert.equal(result.errors[0]?.code, 'HOLTER_RULE_INVALID');
  assert.equal(result.errors[0]?.location?.file, '/dev/null');
});

test('correlation with unknown rule is rejected', () => {
  const result = compileTexts([`title: Orphan
correlation:
    type: event_count
    rules:
        - does_not_exist
    group-by:
        - User
    timespan: 5m
    condition:
        gte: 3
`]);
  assert.equal(result.stats.correlations_loaded, 0);
  assert.equal(result.errors[0]?.location?.line, 5);
  assert.match(result.errors[0]?.message ?? '', /'does_not_exist'/);
});

test('correlation cycle is rejected', () => {
  const correlation = (name: string, target: string) => `title: ${name}
name: ${name}
correlation:
    type: event_count
    rules:
        - ${target}
    timespan: 5m
    condition:
        gte: 3
`;
  const result = compileTexts([correlation('first', 'second'), correlation('second', 'first')]);
  assert.equal(result.stats.correlations_loaded, 0);
  assert.match(result.errors.map((error) => error.message).join('\n'), /reference cycle/);
});

test('invalid timespan is located', () => {
  const result = compileTexts([GOOD, `title: Bad span
correlation:
    type: event_count
    rules:
        - 00000000-0000-4000-8000-000000000001
    timespan: 5 minutes
    condition:
        gte: 3
`]);
  assert.equal(result.errors[0]?.location?.line, 6);
  assert.match(result.errors[0]?.message ?? '', /Invalid timespan '5 minutes'/);
});

/** Writes a correlation of the GOOD rule; `body` contains its further keys, indented under `correlation:`. */
function correlationWith(body: string): string {
  return `title: Span test
correlation:
    rules:
        - 00000000-0000-4000-8000-000000000001
    group-by:
        - User
${body}`;
}

test('timespan past the limit is located', () => {
  const result = compileTexts([GOOD, correlationWith('    type: event_count\n    timespan: 99999999999999999999d\n    condition:\n        gte: 3\n')]);
  assert.equal(result.stats.correlations_loaded, 0);
  assert.equal(result.errors.length, 1);
  assert.equal(result.errors[0]?.location?.line, 8);
  assert.equal(result.errors[0]?.location?.column, 15);
  assert.equal(result.errors[0]?.message, "Timespan '99999999999999999999d' is longer than the largest allowed, 365d. Use a timespan of at most 365d.");
});

test('timespan at the limit loads', () => {
  const atLimit = compileTexts([GOOD, correlationWith('    type: event_count\n    timespan: 365d\n    condition:\n        gte: 3\n')]);
  assert.deepEqual(atLimit.errors.map((error) => error.message), []);
  assert.equal(atLimit.stats.correlations_loaded, 1);

  const pastLimit = compileTexts([GOOD, correlationWith('    type: event_count\n    timespan: 8761h\n    condition:\n        gte: 3\n')]);
  assert.equal(pastLimit.stats.correlations_loaded, 0);
});

test('unknown correlation type is the only error', () => {
  const result = compileTexts([GOOD, correlationWith('    type: event_cuont\n    timespan: 5m\n')]);
  assert.deepEqual(result.errors.map((error) => error.message), [
    "Unknown correlation type 'event_cuont'. Use one of: event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile.",
  ]);
});

test('missing correlation type is the only error', () => {
  const result = compileTexts([GOOD, correlationWith('    timespan: 5m\n')]);
  assert.deepEqual(result.errors.map((error) => error.message), ["Missing required attribute 'type'. Add it to the rule."]);
});

test('empty selection map after empty list', () => {
  const result = compileTexts([processRule('    sel2: []\n    sel3: {}', 'sel2 or sel3')]);
  assert.deepEqual(result.errors.map((error) => [error.path, error.message]), [
    ['detection.sel2', "Search identifier 'sel2' is an empty list. Add values or remove it."],
    ['detection.sel3', 'A selection map must contain at least one field.'],
  ]);
});

test('YAML aliases in detections are rejected', () => {
  const text = processRule("    values: &values ['a', 'b']\n    selection:\n        Image|endswith: *values");
  const result = compileTexts([
    { file: 'rules/alias.yml', text },
    { file: 'rules/good.yml', text: GOOD },
  ]);
  assert.equal(result.stats.rules_loaded, 1);
  const described = result.errors.map((error) => error.describe());
  assert.equal(described.length, 1, described.join('\n'));
  assert.match(described[0] ?? '', /^rules\/alias\.yml:\d+:\d+: YAML alias \*values is not supported/);
});

test('oversized rule file is rejected', () => {
  const text = `${GOOD}\n# ${'x'.repeat(1024 * 1024)}\n`;
  const result = compileTexts([{ file: 'rules/huge.yml', text }]);
  assert.equal(result.stats.rules_loaded, 0);
  assert.match(result.errors[0]?.describe() ?? '', /^rules\/huge\.yml:1:1: The rule file is larger than 1048576 bytes/);
});

const FILTERED_RULE = `title: Whoami
id: 00000000-0000-4000-8000-0000000000f1
name: whoami
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\whoami.exe'
    condition: selection
`;

const OTHER_RULE = FILTERED_RULE.replace('0000000000f1', '0000000000f2').replace('name: whoami', 'name: whoami-too').replace('title: Whoami', 'title: Whoami too');

const FILTER = `title: Ignore admin accounts
logsource:
    category: process_creation
    product: windows
filter:
    rules:
        - whoami
    selection:
        User|startswith: 'adm_'
    condition: selection
`;

test('filter suppresses the rules it names', () => {
  const result = compileTexts([
    { file: 'rules/whoami.yml', text: FILTERED_RULE },
    { file: 'rules/other.yml', text: OTHER_RULE },
    { file: 'rules/mf_admins.yml', text: FILTER },
  ]);
  assert.deepEqual(result.errors.map((error) => error.describe()), []);
  assert.equal(result.stage.stats().filters_applied, 1);

  const admin = processEvent({ Image: 'C:\\Windows\\System32\\whoami.exe', User: 'adm_jdoe' });
  const nurse = processEvent({ Image: 'C:\\Windows\\System32\\whoami.exe', User: 'jdoe' });
  const fired = (event: typeof admin): string[] => result.stage.process(event, Number.NEGATIVE_INFINITY).map((detection) => detection.rule.id).sort();
  assert.deepEqual(fired(admin), ['whoami-too']);
  assert.deepEqual(fired(nurse), ['whoami', 'whoami-too']);
});

test('filter naming an unknown rule is rejected', () => {
  const result = compileTexts([
    { file: 'rules/whoami.yml', text: FILTERED_RULE },
    { file: 'rules/mf_typo.yml', text: FILTER.replace('- whoami', '- whoamii') },
  ]);
  assert.equal(result.errors.length, 1);
  assert.match(result.errors[0]?.describe() ?? '', /^rules\/mf_typo\.yml:7:11: Filter 'Ignore admin accounts' refers to 'whoamii', but no loaded detection rule/);
});

test('rejected count is per document', () => {
  const twoErrors = GOOD.replace("        Image|endswith: '\\whoami.exe'", "        Image|endswith: '\\whoami.exe'\n        SourceIp|cidr: 10.0.0.0/99\n        CommandLine|nosuchmod: x");
  const second = BAD_MODIFIER.replace('0000000000b1', '0000000000b2').replace('Bad modifier', 'Second bad modifier');
  const result = compileTexts([
    { file: 'rules/two-errors.yml', text: twoErrors },
    { file: 'rules/two-documents.yml', text: `# Two rejected rules in one file.\n${BAD_MODIFIER}---\n${second}` },
    { file: 'rules/bad-yaml.yml', text: BAD_YAML },
  ]);

  assert.equal(result.errors.filter((error) => error.location?.file === 'rules/two-errors.yml').length, 2);
  assert.equal(result.stats.rules_rejected, 4);
  assert.equal(result.stats.rules_loaded, 0);
});

test('rejected count ignores the time zone error', () => {
  const result = compileTexts([GOOD], { timeZone: 'Mars/Olympus' });
  assert.equal(result.errors.length, 1);
  assert.equal(result.stats.rules_rejected, 0);
});
