import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import { formatLoadErrors } from '../../src/cli/rules-report.js';
import { loadDetectors } from '../../src/detect/baseline/loader.js';
import { HolterError } from '../../src/errors.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/temp.js';

const workDir = makeTempDir('holter-rules-report-');
after(() => rmSync(workDir, { recursive: true, force: true }));

function ruleError(file: string, line: number, column: number, message: string, keyPath?: string): HolterError {
  return new HolterError('HOLTER_RULE_INVALID', message, { location: { file: path.join(workDir, file), line, column }, path: keyPath });
}

test('load errors print as validate lines', () => {
  const text = formatLoadErrors(
    {
      ruleErrors: [ruleError('rule.yml', 11, 9, "Unknown modifier 'nosuchmod'.", 'event.outcome'), ruleError('rule.yml', 10, 9, "Invalid CIDR range '10.0.0.0/99'.", 'source.ip')],
      detectorErrors: [ruleError('bad.yaml', 1, 1, "missing required key 'name'", 'name')],
      rulesRejected: 1,
      detectorsRejected: 1,
    },
    workDir,
  );

  assert.deepEqual(text.trimEnd().split('\n'), [
    '3 errors in rule and detector files: 1 rule and 1 detector rejected, and the run goes on without them.',
    "bad.yaml:1:1: error HOLTER_RULE_INVALID missing required key 'name' (key name)",
    "rule.yml:10:9: error HOLTER_RULE_INVALID Invalid CIDR range '10.0.0.0/99'. (key source.ip)",
    "rule.yml:11:9: error HOLTER_RULE_INVALID Unknown modifier 'nosuchmod'. (key event.outcome)",
    'Run holter rules validate on these files to list every problem at once.',
  ]);
});

test('error counts match printed lines', () => {
  const floor = (): HolterError => ruleError('risk.yaml', 2, 8, 'floor (80) must be below the re-arm level of window 24h', 'floor');
  const name = ruleError('risk.yaml', 9, 5, "window name '24h' is already used by windows.0", 'windows.1');
  const modifier = (): HolterError => ruleError('rule.yml', 11, 9, "Unknown modifier 'nosuchmod'.", 'event.outcome');
  const text = formatLoadErrors({ ruleErrors: [modifier(), modifier()], detectorErrors: [], rulesRejected: 1, detectorsRejected: 0, riskErrors: [floor(), name, floor()] }, workDir);

  assert.deepEqual(text.trimEnd().split('\n'), [
    '1 error in rule and detector files: 1 rule and 0 detectors rejected, and the run goes on without them.',
    "rule.yml:11:9: error HOLTER_RULE_INVALID Unknown modifier 'nosuchmod'. (key event.outcome)",
    'Run holter rules validate on these files to list every problem at once.',
    '2 errors in the risk settings: the run goes on without risk scoring.',
    'risk.yaml:2:8: error HOLTER_RULE_INVALID floor (80) must be below the re-arm level of window 24h (key floor)',
    "risk.yaml:9:5: error HOLTER_RULE_INVALID window name '24h' is already used by windows.0 (key windows.1)",
  ]);
});

test('clean load prints nothing', () => {
  assert.equal(formatLoadErrors({ ruleErrors: [], detectorErrors: [], rulesRejected: 0, detectorsRejected: 0 }, workDir), '');
});

test('rejected detectors counted per file', async () => {
  const folder = path.join(workDir, 'detectors');
  mkdirSync(folder);
  const shipped = path.join(REPO_ROOT, 'detectors', 'mass-image-pull.yaml');
  copyFileSync(shipped, path.join(folder, 'a-good.yaml'));
  copyFileSync(shipped, path.join(folder, 'b-same-id.yaml'));
  writeFileSync(path.join(folder, 'c-broken.yaml'), 'id: broken\nfunction: nonsense\n');

  const loaded = await loadDetectors([folder], { defaultTimeZone: 'UTC' });

  assert.equal(loaded.stage.stats().detectors_loaded, 1);
  assert.ok(loaded.errors.filter((error) => error.location?.file.endsWith('c-broken.yaml')).length > 1, 'the broken file has several errors');
  assert.equal(loaded.rejected, 2);
});
