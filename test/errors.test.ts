import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES, HolterError } from '../src/errors.js';
import { REPO_ROOT } from './helpers/paths.js';

test('error docs list every code', () => {
  const documented = [...readFileSync(path.join(REPO_ROOT, 'docs', 'errors.md'), 'utf8').matchAll(/^\| `(HOLTER_[A-Z_]+)` \|/gm)].map((match) => match[1]);
  assert.deepEqual([...documented].sort(), Object.keys(ERROR_CODES).sort());
});

test('error describes its location', () => {
  const error = new HolterError('HOLTER_RULE_INVALID', 'Unknown modifier "foo".', { location: { file: 'rules/x.yml', line: 7, column: 12 } });
  assert.equal(error.describe(), 'rules/x.yml:7:12: Unknown modifier "foo". [HOLTER_RULE_INVALID]');
  assert.equal(error.retriable, false);
});
