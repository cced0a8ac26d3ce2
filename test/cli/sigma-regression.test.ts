import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT, SHARED_DIR } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/temp.js';

const SIGMA_DIR = path.join(SHARED_DIR, 'sigma');

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}

test('replay raises regression rules from the CLI', () => {
  const cases = listFiles(path.join(SIGMA_DIR, 'regression_data')).filter((file) => path.basename(file) === 'info.yml');
  const inputs: string[] = [];
  const expected: string[] = [];
  for (const info of cases) {
    const samples = readdirSync(path.dirname(info)).filter((name) => name.endsWith('.json'));
    if (samples.length === 0) continue;
    const metadata = parse(readFileSync(info, 'utf8')) as { rule_metadata: { id: string }[] };
    expected.push(metadata.rule_metadata[0]!.id);
    inputs.push(...samples.map((name) => path.join(path.dirname(info), name)));
  }
  const ruleFolders = readdirSync(SIGMA_DIR)
    .filter((name) => name.startsWith('rules'))
    .map((name) => path.join(SIGMA_DIR, name));

  const cwd = makeTempDir('holter-sigma-');
  const result = spawnSync(
    process.execPath,
    [path.join(REPO_ROOT, 'bin', 'holter.js'), 'replay', '--quiet', '--log-level', 'silent', '--out', 'alerts.ndjson', '--summary-json', 'summary.json', ...ruleFolders.flatMap((folder) => ['--rules', folder]), ...inputs],
    { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  assert.equal(result.status, 0, result.stderr);

  const summary = JSON.parse(readFileSync(path.join(cwd, 'summary.json'), 'utf8')) as { deadLettered: number; rulesLoaded: number };
  assert.equal(summary.deadLettered, 0);
  const raised = new Set(
    readFileSync(path.join(cwd, 'alerts.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { rule: { id: string; uuid?: string } })
      .map((alert) => alert.rule.uuid ?? alert.rule.id),
  );
  const passed = expected.filter((id) => raised.has(id)).length;
  console.log(`sigma regression through holter replay: ${passed}/${expected.length} cases raised their rule (${summary.rulesLoaded} rules loaded)`);
  assert.ok(passed / expected.length >= 0.95, `only ${passed} of ${expected.length} regression cases raised their rule`);
});
