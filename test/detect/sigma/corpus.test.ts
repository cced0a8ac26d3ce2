import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { loadSigmaRules } from '../../../src/detect/sigma/stage.js';
import { SHARED_DIR } from '../../helpers/paths.js';
import { MAPPING_FILE } from './helpers.js';

const SIGMA_DIR = path.join(SHARED_DIR, 'sigma');

/** Short reason for a rejection: the error code and the message up to the first quote. */
function reasonOf(message: string, code: string): string {
  const feature = /^(Modifier '[^']+'|The time modifier '[^']+'|Unknown placeholder|Unknown modifier '[^']+'|[^'.:]+)/.exec(message)?.[0] ?? message;
  return `${code}: ${feature.trim()}`;
}

test('public Sigma corpus loads', async () => {
  const folders = readdirSync(SIGMA_DIR)
    .filter((name) => name.startsWith('rules'))
    .map((name) => path.join(SIGMA_DIR, name));
  const result = await loadSigmaRules(folders, { mappingFile: MAPPING_FILE });

  const rejectedFiles = new Set<string>();
  const reasons = new Map<string, number>();
  for (const error of result.errors) {
    assert.ok(error.location?.file, `error without a file: ${error.describe()}`);
    assert.notEqual(error.location.line, undefined, `error without a line: ${error.describe()}`);
    assert.ok((error.location.line ?? 0) > 0, `error line below 1: ${error.describe()}`);
    assert.match(error.code, /^HOLTER_RULE_(INVALID|UNSUPPORTED)$/, error.describe());
    rejectedFiles.add(error.location.file);
    const reason = reasonOf(error.message, error.code);
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }

  const loaded = result.stats.rules_loaded + result.stats.correlations_loaded;
  const total = loaded + rejectedFiles.size;
  console.log(`Sigma corpus: ${loaded} of ${total} rules loaded (${((100 * loaded) / total).toFixed(1)}%), ${rejectedFiles.size} rejected, ${result.stats.rules_unmapped_logsource} loaded with an unmapped log source`);
  for (const [reason, count] of [...reasons].sort((a, b) => b[1] - a[1])) console.log(`  rejected ${count}x ${reason}`);
  for (const error of result.errors) console.log(`  ${error.describe()}`);

  assert.ok(total >= 2000, `expected the full corpus, found ${total} rules`);
  assert.ok(loaded / total >= 0.95, `only ${loaded} of ${total} rules loaded`);
  assert.equal(result.warnings.length, result.stats.rules_unmapped_logsource);
});
