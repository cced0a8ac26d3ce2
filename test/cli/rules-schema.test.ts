import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

import { buildDetectorSchema } from '../../src/cli/rules-schema.js';
import { REPO_ROOT } from '../helpers/paths.js';

const RULE_SCHEMA_FILE = path.join(REPO_ROOT, 'schemas', 'sigma-rule.schema.json');
const DETECTOR_SCHEMA_FILE = path.join(REPO_ROOT, 'schemas', 'detector.schema.json');

function compile(file: string): ValidateFunction {
  // strict: false because draft-07 `if`/`then` without `type` is intended here, and `hint` is an annotation.
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(JSON.parse(readFileSync(file, 'utf8')) as object);
}

function documentsOf(folder: string): { name: string; value: unknown }[] {
  const documents: { name: string; value: unknown }[] = [];
  for (const name of readdirSync(folder).filter((file) => /\.ya?ml$/.test(file))) {
    parseAllDocuments(readFileSync(path.join(folder, name), 'utf8')).forEach((document, index) => {
      documents.push({ name: `${name} document ${index + 1}`, value: document.toJS() });
    });
  }
  return documents;
}

test('shipped rules match the rule schema', () => {
  const validate = compile(RULE_SCHEMA_FILE);
  const documents = documentsOf(path.join(REPO_ROOT, 'rules'));

  assert.ok(documents.length >= 8);
  for (const { name, value } of documents) assert.ok(validate(value), `${name}: ${JSON.stringify(validate.errors)}`);
});

test('shipped detectors match the detector schema', () => {
  const validate = compile(DETECTOR_SCHEMA_FILE);
  const documents = documentsOf(path.join(REPO_ROOT, 'detectors'));

  assert.equal(documents.length, 3);
  for (const { name, value } of documents) assert.ok(validate(value), `${name}: ${JSON.stringify(validate.errors)}`);
});

test('rule schema rejects bad rules', () => {
  const validate = compile(RULE_SCHEMA_FILE);
  const rule = { title: 'x', logsource: { product: 'holter' }, detection: { selection: { 'event.outcome': 'failure' }, condition: 'selection' } };

  assert.equal(validate(rule), true);
  assert.equal(validate({ ...rule, level: 'severe' }), false);
  assert.equal(validate({ ...rule, detection: { selection: { a: 1 } } }), false);
  assert.equal(validate({ ...rule, holter: { tests: [{ name: 'no outcome', event: {} }] } }), false);
  assert.equal(validate({ ...rule, holter: { tests: [{ name: 'both forms', event: {}, events: [{ event: {} }], match: true }] } }), false);
  assert.equal(validate({ ...rule, holter: { tests: [{ name: 'ok', events: [{ at: '5m', repeat: 3, every: '10s', event: {} }], expect: [{ group: { 'holter.user.id': 'u-1' }, count: 3 }] }] } }), true);
  assert.equal(validate({ ...rule, holter: { tests: [{ name: 'bad offset', events: [{ at: 'soon', event: {} }], match: true }] } }), false);
  assert.equal(validate({ ...rule, holter: { unknown: 1 } }), false);
});

test('correlation schema needs condition field', () => {
  const validate = compile(RULE_SCHEMA_FILE);
  const correlation = { title: 'spray', correlation: { type: 'value_count', rules: ['r'], 'group-by': ['source.ip'], timespan: '10m', condition: { gte: 8, field: 'holter.user.id' } } };

  assert.equal(validate(correlation), true);
  assert.equal(validate({ ...correlation, correlation: { ...correlation.correlation, condition: { gte: 8 } } }), false);
  assert.equal(validate({ ...correlation, correlation: { ...correlation.correlation, timespan: '10 minutes' } }), false);
});

test('rule schema accepts filter documents', () => {
  const validate = compile(RULE_SCHEMA_FILE);
  const filter = { title: 'backup account', logsource: { product: 'windows' }, filter: { rules: ['holter-failed-login-burst'], backup: { 'user.name': 'svc-backup' }, condition: 'not backup' } };

  assert.equal(validate(filter), true, JSON.stringify(validate.errors));
  assert.equal(validate({ ...filter, filter: { ...filter.filter, rules: [] } }), false);
  assert.equal(validate({ ...filter, filter: { backup: filter.filter.backup, condition: 'not backup' } }), false);
  assert.equal(validate({ ...filter, detection: { selection: { a: 1 }, condition: 'selection' } }), false);
});

test('detector schema file is up to date', () => {
  const ruleSchema = JSON.parse(readFileSync(RULE_SCHEMA_FILE, 'utf8')) as { definitions: Record<string, unknown> };
  const expected = buildDetectorSchema(ruleSchema);
  const actual = JSON.parse(readFileSync(DETECTOR_SCHEMA_FILE, 'utf8')) as unknown;

  assert.deepEqual(
    actual,
    expected,
    'schemas/detector.schema.json differs from the loader schema; regenerate it from buildDetectorSchema in src/cli/rules-schema.ts',
  );
});

test('detector schema rejects bad detectors', () => {
  const validate = compile(DETECTOR_SCHEMA_FILE);
  const text = readFileSync(path.join(REPO_ROOT, 'detectors', 'mass-image-pull.yaml'), 'utf8');
  const detector = parseAllDocuments(text)[0]?.toJS() as Record<string, unknown>;

  assert.equal(validate(detector), true);
  assert.equal(validate({ ...detector, risk_score: 700 }), false);
  assert.equal(validate({ ...detector, factr: 2 }), false);
  assert.equal(validate({ ...detector, function: 'rare' }), false);
  assert.equal(validate({ ...detector, holter: { tests: [{ name: 'quiet', events: [{ event: {} }], expect: [] }] } }), true);
});
