import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { assemblePipeline } from '../../src/cli/assemble.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { DeadLetterMemory } from '../../src/sinks/dead-letter/writer.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/temp.js';

test('assembled tasks get stages of their own', async () => {
  const config = loadConfig();
  config.rules.paths = [path.join(REPO_ROOT, 'rules')];
  config.rules.mapping = path.join(REPO_ROOT, 'mappings', 'sigma.yml');
  config.detectors.paths = [path.join(REPO_ROOT, 'detectors')];
  config.risk.file = path.join(REPO_ROOT, 'config', 'risk.yaml');
  config.identity.token_key = 'assemble-test-key-0123456789';
  config.sinks.console.enabled = false;
  config.dead_letter.path = path.join(makeTempDir('holter-assemble-'), 'dead-letter.ndjson');

  const { pipeline, report } = await assemblePipeline(config, { logger: silentLogger, deadLetter: new DeadLetterMemory() });
  const first = await pipeline.createTask();
  const second = await pipeline.createTask();

  assert.deepEqual(first.stages.map((stage) => stage.name), ['sigma', 'detectors']);
  for (const [index, stage] of first.stages.entries()) assert.notEqual(stage, second.stages[index], `${stage.name} stage is not shared`);
  assert.ok(first.risk !== undefined, 'risk scoring is on');
  assert.ok(second.risk !== undefined, 'risk scoring is on');
  assert.notEqual(first.risk, second.risk);
  assert.equal(first.stages[0]?.stats().rules_loaded, report.rulesLoaded);
  assert.equal(first.stages[1]?.stats().detectors_loaded, report.detectorsLoaded);
  await pipeline.close();
});

/** Returns a configuration with only the rules of `rulesDir`, no detectors and no console output. */
function configWithRules(rulesDir: string): ReturnType<typeof loadConfig> {
  const config = loadConfig();
  config.rules.paths = [rulesDir];
  config.rules.mapping = path.join(REPO_ROOT, 'mappings', 'sigma.yml');
  config.detectors.paths = [];
  config.identity.token_key = 'assemble-test-key-0123456789';
  config.sinks.console.enabled = false;
  return config;
}

test('rejected rules point to rules validate', async () => {
  const rulesDir = makeTempDir('holter-assemble-rules-');
  writeFileSync(path.join(rulesDir, 'bad.yml'), 'title: Bad\nlogsource: { product: holter }\ndetection:\n    selection: { event.outcome: failure }\n    condition: selection\nlevel: bogus\n');
  const config = configWithRules(rulesDir);
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });

  const { pipeline, report } = await assemblePipeline(config, { logger, deadLetter: new DeadLetterMemory() });
  await pipeline.close();

  assert.equal(report.ruleErrors.length, 1);
  assert.ok(lines.some((line) => line.includes('run holter rules validate on their files')), lines.join(''));
});

test('rejected count is per rule', async () => {
  const rulesDir = makeTempDir('holter-assemble-rules-');
  const rule = "title: Two errors\nlogsource: { product: holter }\ndetection:\n    selection:\n        source.ip|cidr: 10.0.0.0/99\n        event.outcome|nosuchmod: failure\n    condition: selection\n";
  writeFileSync(path.join(rulesDir, 'bad.yml'), rule);
  const config = configWithRules(rulesDir);

  const { pipeline, report } = await assemblePipeline(config, { logger: silentLogger, deadLetter: new DeadLetterMemory() });
  await pipeline.close();

  assert.equal(report.ruleErrors.length, 2);
  assert.equal(report.rulesRejected, 1);
  assert.equal(report.detectorsRejected, 0);
});

test('dead-letter file readable by others warns', async () => {
  const folder = makeTempDir('holter-assemble-dead-letter-');
  const config = configWithRules(folder);
  config.dead_letter.path = path.join(folder, 'dead-letter.ndjson');
  writeFileSync(config.dead_letter.path, '', { mode: 0o644 });
  chmodSync(config.dead_letter.path, 0o644);
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });

  const { pipeline } = await assemblePipeline(config, { logger });
  await pipeline.close();

  assert.ok(lines.some((line) => line.includes('the dead-letter file is readable by other users') && line.includes('"mode":"644"')), lines.join(''));
});
