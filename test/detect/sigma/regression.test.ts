import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { parse } from 'yaml';

import { decodeRecord } from '../../../src/decoders/index.js';
import { loadSigmaRules } from '../../../src/detect/sigma/stage.js';
import { SHARED_DIR } from '../../helpers/paths.js';
import { MAPPING_FILE, splitJsonDocuments } from './helpers.js';

const SIGMA_DIR = path.join(SHARED_DIR, 'sigma');
const REGRESSION_DIR = path.join(SIGMA_DIR, 'regression_data');

function findFiles(directory: string, name: RegExp): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const child = path.join(directory, entry.name);
    if (entry.isDirectory()) found.push(...findFiles(child, name));
    else if (name.test(entry.name)) found.push(child);
  }
  return found.sort();
}

interface Outcome {
  info: string;
  ruleId: string;
  passed: boolean;
  reason?: string;
}

test('regression samples match their rules', async () => {
  const folders = readdirSync(SIGMA_DIR)
    .filter((name) => name.startsWith('rules'))
    .map((name) => path.join(SIGMA_DIR, name));
  const loaded = await loadSigmaRules(folders, { mappingFile: MAPPING_FILE, allowedLatenessMs: Number.POSITIVE_INFINITY });
  const ruleIds = new Set(loaded.stage.ruleSet.rules.map((rule) => rule.info.id));
  const context = { defaultTimeZone: 'UTC', now: new Date('2026-06-01T00:00:00Z') };

  const outcomes: Outcome[] = [];
  for (const infoFile of findFiles(REGRESSION_DIR, /^info\.yml$/)) {
    const info = parse(readFileSync(infoFile, 'utf8')) as { rule_metadata?: { id?: string }[] };
    const ruleId = info.rule_metadata?.[0]?.id ?? '';
    const label = path.relative(REGRESSION_DIR, path.dirname(infoFile));
    const samples = readdirSync(path.dirname(infoFile)).filter((name) => name.endsWith('.json'));
    if (samples.length === 0) {
      outcomes.push({ info: label, ruleId, passed: false, reason: 'no JSON sample beside info.yml (only an .evtx is referenced)' });
      continue;
    }
    if (!ruleIds.has(ruleId)) {
      outcomes.push({ info: label, ruleId, passed: false, reason: 'rule not loaded' });
      continue;
    }

    let matched = false;
    let decodeProblem: string | undefined;
    for (const sample of samples) {
      const file = path.join(path.dirname(infoFile), sample);
      splitJsonDocuments(readFileSync(file, 'utf8')).forEach((text, index) => {
        const result = decodeRecord({ input: file, text, line: index + 1 }, context);
        if (!result.ok) {
          decodeProblem = `decode failed (${result.reason}): ${result.message}`;
          return;
        }
        for (const event of result.events) {
          const detections = loaded.stage.process(event, Number.NEGATIVE_INFINITY);
          if (detections.some((detection) => (detection.rule.uuid ?? detection.rule.id) === ruleId)) matched = true;
        }
      });
    }
    outcomes.push({ info: label, ruleId, passed: matched, reason: matched ? undefined : (decodeProblem ?? 'rule did not match the decoded event') });
  }

  const passed = outcomes.filter((outcome) => outcome.passed).length;
  const withSamples = outcomes.filter((outcome) => !outcome.reason?.startsWith('no JSON sample')).length;
  console.log(`Sigma regression: ${passed} of ${withSamples} samples matched (${((100 * passed) / withSamples).toFixed(1)}%); ${outcomes.length - withSamples} cases have no JSON sample`);
  for (const outcome of outcomes.filter((item) => !item.passed)) console.log(`  not matched: ${outcome.info} (${outcome.ruleId}): ${outcome.reason}`);

  assert.ok(existsSync(REGRESSION_DIR));
  assert.ok(withSamples >= 100, `expected the regression set, found ${withSamples} cases`);
  assert.ok(passed / withSamples >= 0.95, `only ${passed} of ${withSamples} regression samples matched`);
});
