import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HolterError } from '../../../src/errors.js';
import { loadDetectors, parseDetector } from '../../../src/detect/baseline/index.js';
import { DETECTORS_DIR, ZONE } from './events.js';
import { makeTempDir } from '../../helpers/temp.js';

const VALID = `id: test-pull
name: Test pull
function: high_sum
where:
  exists: [holter.dicom.study_count]
by: holter.user.id
field: holter.dicom.study_count
window: 1h
learning:
  min_days: 7
  min_events: 20
  half_life_days: 30
thresholds:
  factor: 1.5
  floor: 50
  ceiling: 200
severity: high
risk_score: 70
`;

function errorsOf(text: string): HolterError[] {
  return parseDetector(text, 'detector.yaml', { defaultTimeZone: ZONE }).errors;
}

function located(errors: HolterError[]): Array<[number | undefined, number | undefined, string | undefined]> {
  return errors.map((error) => [error.location?.line, error.location?.column, error.path]);
}

function folderWith(files: Record<string, string>): string {
  const folder = makeTempDir('holter-detectors-');
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(folder, name), text);
  return folder;
}

describe('loadDetectors', () => {
  it('loads the shipped detectors', async () => {
    const { stage, errors } = await loadDetectors([DETECTORS_DIR], { defaultTimeZone: ZONE });
    assert.deepEqual(errors.map((error) => error.describe()), []);
    assert.deepEqual(stage.detectorIds, ['after-hours-record-access', 'daily-record-volume', 'mass-image-pull']);
    assert.equal(stage.stats().detectors_loaded, 3);
  });

  it('rejects a bad file and keeps the rest', async () => {
    const folder = folderWith({
      'a-good.yaml': VALID,
      'b-bad.yaml': VALID.replace('id: test-pull', 'id: other').replace('risk_score: 70', 'risk_score: 700'),
      'notes.txt': 'not a detector',
    });
    const { stage, errors } = await loadDetectors([folder], { defaultTimeZone: ZONE });
    assert.deepEqual(stage.detectorIds, ['test-pull']);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.location?.file, path.join(folder, 'b-bad.yaml'));
    assert.match(errors[0]?.describe() ?? '', /b-bad\.yaml:18:13: risk_score must be <= 100, got 700 \[HOLTER_RULE_INVALID\]$/);
  });

  it('rejects a repeated id', async () => {
    const folder = folderWith({ 'a.yaml': VALID, 'b.yaml': VALID });
    const { stage, errors } = await loadDetectors([folder], { defaultTimeZone: ZONE });
    assert.equal(stage.detectorIds.length, 1);
    assert.match(errors[0]?.message ?? '', /detector id 'test-pull' is already used by .*a\.yaml/);
    assert.equal(errors[0]?.location?.line, 1);
  });

  it('reports a missing path', async () => {
    const { errors } = await loadDetectors(['/nonexistent/holter-detectors'], { defaultTimeZone: ZONE });
    assert.match(errors[0]?.message ?? '', /ENOENT/);
  });

  it('rejects an invalid default zone', async () => {
    await assert.rejects(loadDetectors([], { defaultTimeZone: 'Eastern' }), /'Eastern' is not a known IANA time zone/);
  });
});

describe('parseDetector', () => {
  it('accepts a valid file', () => {
    assert.deepEqual(errorsOf(VALID), []);
  });

  it('reports every schema error located', () => {
    const text = VALID.replace('window: 1h', 'window: 1 hour')
      .replace('  factor: 1.5', '  factor: 0.5\n  factr: 2')
      .replace('severity: high', 'severity: urgent')
      .replace('name: Test pull\n', '');
    const errors = errorsOf(text);
    assert.deepEqual(located(errors).sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0)), [
      [1, 1, 'name'],
      [7, 9, 'window'],
      [13, 11, 'thresholds.factor'],
      [14, 3, 'thresholds.factr'],
      [17, 11, 'severity'],
    ]);
    const messages = errors.map((error) => error.message).sort();
    assert.deepEqual(messages, [
      'missing required key \'name\'',
      "severity must be one of informational, low, medium, high, critical, got \"urgent\"",
      'thresholds.factor must be >= 1, got 0.5',
      "unknown key 'factr'; expected one of factor, floor, ceiling",
      'window must be a positive whole number with a unit (s, m, h or d), such as 30m, 1h or 2d, got "1 hour"',
    ]);
  });

  it('reports a bad where value once', () => {
    const errors = errorsOf(VALID.replace('  exists: [holter.dicom.study_count]', '  exists: [holter.dicom.study_count]\n  event.outcome: { nested: 1 }'));
    assert.deepEqual(located(errors), [[6, 18, 'where.event.outcome']]);
    assert.match(errors[0]?.message ?? '', /must be a string, number, boolean or a list of them/);
  });

  it('reports YAML syntax errors located', () => {
    const errors = errorsOf('id: x\nname: [unclosed\n');
    assert.ok(errors.length > 0);
    assert.match(errors[0]?.message ?? '', /^invalid YAML/);
    assert.equal(errors[0]?.location?.file, 'detector.yaml');
  });

  it('reports a duplicate key', () => {
    const errors = errorsOf(VALID.replace('severity: high', 'severity: high\nseverity: low'));
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /invalid YAML: Map keys must be unique/);
    assert.equal(errors[0]?.location?.line, 18);
    assert.equal(errors[0]?.location?.column, 1);
  });

  it('checks a function by its own schema', () => {
    const errors = errorsOf(VALID.replace('function: high_sum', 'function: time_of_week'));
    assert.equal(errors[0]?.code, 'HOLTER_RULE_INVALID');
    assert.match(errors.map((error) => error.message).join('\n'), /unknown key 'window'/);
  });

  it('rejects an unknown function', () => {
    const errors = errorsOf(VALID.replace('function: high_sum', 'function: magic'));
    assert.equal(errors[0]?.code, 'HOLTER_RULE_INVALID');
    assert.match(errors[0]?.message ?? '', /function "magic" is unknown; use one of time_of_day, time_of_week, high_sum, count, /);
  });

  it('rejects a floor at the ceiling', () => {
    const errors = errorsOf(VALID.replace('floor: 50', 'floor: 200'));
    assert.deepEqual(located(errors), [[15, 10, 'thresholds.floor']]);
  });

  it('rejects a document that is not a mapping', () => {
    assert.match(errorsOf('- a\n- b\n')[0]?.message ?? '', /must be a YAML mapping/);
  });

  it('rejects a window past the limit', () => {
    const errors = errorsOf(VALID.replace('window: 1h', 'window: 99999999999999d'));
    assert.deepEqual(located(errors), [[8, 9, 'window']]);
    assert.equal(errors[0]?.message, "window '99999999999999d' is longer than the largest allowed, 7d; use a window of at most 7d");
  });

  it('accepts a window at the limit', () => {
    assert.deepEqual(errorsOf(VALID.replace('window: 1h', 'window: 7d')), []);
    assert.equal(errorsOf(VALID.replace('window: 1h', 'window: 169h')).length, 1);
  });

  it('rejects a bucket_span past the limit', () => {
    const text = VALID.replace('function: high_sum', 'function: count').replace('window: 1h', 'bucket_span: 8d').replace(/thresholds:\n(  .*\n)+/, 'thresholds:\n  min_score: 50\n').replace('field: holter.dicom.study_count\n', '');
    const errors = errorsOf(text);
    assert.deepEqual(errors.map((error) => error.path), ['bucket_span']);
    assert.match(errors[0]?.message ?? '', /^bucket_span '8d' is longer than the largest allowed, 7d/);
  });

  it('rejects a history past the limit', () => {
    const text = VALID.replace('function: high_sum', 'function: first_seen').replace('window: 1h', 'history: 366d').replace(/thresholds:\n(  .*\n)+/, 'thresholds:\n  min_values: 1\n');
    const errors = errorsOf(text);
    assert.deepEqual(errors.map((error) => error.path), ['history']);
    assert.match(errors[0]?.message ?? '', /^history '366d' is longer than the largest allowed, 365d/);
  });

  it('rejects learning periods past the limit', () => {
    const errors = errorsOf(VALID.replace('min_days: 7', 'min_days: 400').replace('half_life_days: 30', 'half_life_days: 3650.5'));
    assert.deepEqual(located(errors), [
      [10, 13, 'learning.min_days'],
      [12, 19, 'learning.half_life_days'],
    ]);
    assert.equal(errors[0]?.message, 'learning.min_days (400) is longer than the largest allowed, 365 days; use at most 365');
  });

  it('checks durations of an unknown function', () => {
    const errors = errorsOf(VALID.replace('function: high_sum', 'function: magic').replace('window: 1h', 'window: 8d'));
    assert.deepEqual(errors.map((error) => error.path), ['function', 'window']);
    assert.match(errors[1]?.message ?? '', /^window '8d' is longer than the largest allowed, 7d/);
  });

  it('rejects a second document', () => {
    const errors = errorsOf(`${VALID.replace('risk_score: 70', 'risk_score: 700')}---\n${VALID}`);
    assert.deepEqual(located(errors), [
      [18, 13, 'risk_score'],
      [19, 1, undefined],
    ]);
    assert.equal(errors[1]?.message, 'a detector file holds one document; split it into files');
  });

  it('accepts a document marker before the mapping', () => {
    assert.deepEqual(errorsOf(`---\n${VALID}`), []);
  });

  it('names infinite numbers as such', () => {
    const errors = errorsOf(VALID.replace('ceiling: 200', 'ceiling: .inf'));
    assert.deepEqual(located(errors), [[16, 12, 'thresholds.ceiling']]);
    assert.equal(errors[0]?.message, 'thresholds.ceiling must be a finite number, got .inf');
  });

  it('rejects values above the bounds', () => {
    const text = VALID.replace('risk_score: 70', 'risk_score: 70\nmax_entities: 99999999999999999999')
      .replace('factor: 1.5', 'factor: 1e308')
      .replace('ceiling: 200', 'ceiling: 1e300');
    const messages = errorsOf(text).map((error) => error.message);
    assert.deepEqual(messages, [
      'max_entities must be <= 10000000, got 100000000000000000000',
      'thresholds.factor must be <= 1000, got 1e+308',
      'thresholds.ceiling must be <= 1000000000000000, got 1e+300',
    ]);
  });

  it('accepts values at the bounds', () => {
    const text = VALID.replace('risk_score: 70', 'risk_score: 70\nmax_entities: 10000000').replace('factor: 1.5', 'factor: 1000').replace('ceiling: 200', 'ceiling: 1e15');
    assert.deepEqual(errorsOf(text), []);
  });

  it('locates aliases that expand too far', () => {
    const aliases = [
      'description: &a [x, x, x, x, x, x, x, x, x, x]',
      'author: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'version: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'references: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ].join('\n');
    const errors = errorsOf(`${VALID}${aliases}\n`);
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /^YAML aliases expand too far at alias \*b /);
    assert.deepEqual(located(errors), [[21, 14, undefined]]);
  });

  it('rejects deep nesting located', () => {
    const deep = `${VALID}references: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`;
    const errors = errorsOf(deep);
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /^YAML maps and lists nest deeper than 64 levels here/);
    assert.equal(errors[0]?.location?.line, 19);
  });

  it('rejects nesting just past the limit', () => {
    const errors = errorsOf(`${VALID}references: ${'['.repeat(64)}${']'.repeat(64)}\n`);
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /nest deeper than 64 levels/);
    assert.deepEqual(located(errors), [[19, 76, undefined]]);
    assert.equal(errorsOf(`${VALID}references: ${'['.repeat(63)}${']'.repeat(63)}\n`).some((error) => /nest deeper/.test(error.message)), false);
  });

  it('fills the rule info', () => {
    const { detector } = parseDetector(`# comment\n${VALID.replace('risk_score: 70', 'risk_score: 70\ntags: [attack.collection]')}`, 'x.yaml', { defaultTimeZone: ZONE });
    assert.deepEqual(detector?.rule, { id: 'test-pull', name: 'Test pull', ruleset: 'detector', file: 'x.yaml', line: 2, tags: ['attack.collection'] });
  });
});
