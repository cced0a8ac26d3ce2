import assert from 'node:assert/strict';
import { test } from 'node:test';

import { lintRuleSources } from '../../../src/detect/sigma/lint.js';
import type { LintFinding } from '../../../src/detect/sigma/lint.js';
import { shippedMapping } from './helpers.js';

const HEADER = `id: 9a4c7f10-0000-4000-8000-000000000004
description: Test rule.
level: low
`;

const BASE_RULES = ['first', 'second'].map(
  (name) => `title: ${name}\nname: ${name}\n${HEADER}logsource: { product: holter }\ndetection:\n    selection: { event.outcome: failure }\n    condition: selection\n`,
);

function lintTemporal(type: string, rules: string, condition: string | undefined): LintFinding[] {
  const conditionLine = condition === undefined ? '' : `    condition: ${condition}\n`;
  const correlation = `title: Sequence\nname: sequence\n${HEADER}correlation:\n    type: ${type}\n    rules: ${rules}\n    group-by: [holter.user.id]\n    timespan: 10m\n${conditionLine}`;
  const text = [...BASE_RULES, correlation].join('---\n');
  return lintRuleSources([{ file: 'inline.yml', text }], shippedMapping()).filter((item) => item.code === 'HOLTER_LINT_UNREACHABLE_CORRELATION');
}

test('one rule with gte 2 is unreachable', () => {
  const findings = lintTemporal('temporal', '[first]', '{ gte: 2 }');

  assert.equal(findings.length, 1);
  assert.equal(findings[0]?.severity, 'warning');
  assert.match(findings[0]?.message ?? '', /Correlation 'Sequence' \(temporal\) names 1 rule, but no count of matched rules from 1 to 1 meets its condition \{gte: 2\}, so it never fires\./);
  assert.equal(findings[0]?.hint, 'list the 2 rules the condition needs in correlation.rules, or lower the condition to at most 1');
  assert.equal(findings[0]?.location.line, 31);
});

test('ordered with gt 2 is unreachable', () => {
  const findings = lintTemporal('temporal_ordered', '[first, second]', '{ gt: 2 }');

  assert.equal(findings.length, 1);
  assert.match(findings[0]?.hint ?? '', /list the 3 rules .* at most 2/);
});

test('condition below one is unreachable', () => {
  const findings = lintTemporal('temporal', '[first, second]', '{ lt: 1 }');

  assert.equal(findings.length, 1);
  assert.equal(findings[0]?.hint, 'change the condition so that a count from 1 to 2 meets it');
});

test('contradictory bounds ask for a new condition', () => {
  const findings = lintTemporal('temporal', '[first, second]', '{ gte: 3, lte: 1 }');

  assert.equal(findings.length, 1);
  assert.equal(findings[0]?.hint, 'change the condition so that a count from 1 to 2 meets it');
});

test('reachable temporal conditions pass', () => {
  assert.deepEqual(lintTemporal('temporal', '[first, second]', '{ gte: 2 }'), []);
  assert.deepEqual(lintTemporal('temporal', '[first, second]', undefined), []);
  assert.deepEqual(lintTemporal('temporal_ordered', '[first, second]', '{ eq: 1 }'), []);
});

test('event count is not checked', () => {
  assert.deepEqual(lintTemporal('event_count', '[first]', '{ gte: 5 }'), []);
});
