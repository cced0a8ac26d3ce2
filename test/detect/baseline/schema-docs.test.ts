import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CountSchema, HighSumSchema, NewValueSchema, SUPPORTED_FUNCTIONS, TimeOfDaySchema } from '../../../src/detect/baseline/schema.js';
import { REPO_ROOT } from '../../helpers/paths.js';

const DOCS = readFileSync(path.join(REPO_ROOT, 'docs', 'detectors.md'), 'utf8');

/** Lists every key path of an object schema: `learning.min_days`, `thresholds.ceiling`... */
function keyPaths(schema: { properties?: Record<string, unknown> }, prefix = ''): string[] {
  const paths: string[] = [];
  for (const [key, value] of Object.entries(schema.properties ?? {})) {
    const keyPath = `${prefix}${key}`;
    paths.push(keyPath);
    const child = value as { type?: string; properties?: Record<string, unknown> };
    if (child.type === 'object' && key !== 'where') paths.push(...keyPaths(child, `${keyPath}.`));
  }
  return paths;
}

describe('docs/detectors.md', () => {
  const schemas = [
    ['time_of_day', TimeOfDaySchema],
    ['high_sum', HighSumSchema],
    ['count', CountSchema],
    ['first_seen', NewValueSchema],
  ] as const;
  for (const [name, schema] of schemas) {
    it(`documents every ${name} key`, () => {
      const missing = keyPaths(schema).filter((keyPath) => !DOCS.includes(`| \`${keyPath}\` |`));
      assert.deepEqual(missing, []);
    });
  }

  it('has a section per function', () => {
    for (const fn of SUPPORTED_FUNCTIONS) assert.ok(DOCS.includes(`\`${fn}\``), fn);
  });
});
