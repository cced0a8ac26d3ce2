import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LoadReport } from '../../src/cli/assemble.js';
import { formatSummary } from '../../src/cli/summary.js';
import { emptyRunSummary } from '../../src/pipeline.js';
import type { RunSummary } from '../../src/pipeline.js';

function runSummary(counts: Partial<RunSummary> = {}): RunSummary {
  return { ...emptyRunSummary(), recordsRead: 10, eventsDecoded: 10, ...counts };
}

const report: LoadReport = {
  ruleErrors: [],
  detectorErrors: [],
  rulesLoaded: 28,
  correlationsLoaded: 16,
  detectorsLoaded: 3,
  rulesRejected: 0,
  detectorsRejected: 0,
  riskErrors: [],
  riskEnabled: true,
};

test('summary lists dead letters by reason', () => {
  const text = formatSummary(runSummary({ deadLettered: 3, deadLetteredByReason: { invalid_json: 1, too_large: 2 } }), report);

  assert.match(text, /dead-lettered\s+3\n\s+too_large\s+2\n\s+invalid_json\s+1\n/);
});

test('summary explains more events than records', () => {
  const text = formatSummary(runSummary({ recordsRead: 59, eventsDecoded: 61 }), report);

  assert.match(text, /events decoded\s+61\n\s+More events than records: one record can hold several events, such as a FHIR Bundle/);
});

test('summary omits the note for equal counts', () => {
  const text = formatSummary(runSummary({ recordsRead: 59, eventsDecoded: 57 }), report);

  assert.doesNotMatch(text, /More events than records/);
});

test('summary names an interrupting signal', () => {
  assert.match(formatSummary(runSummary(), report, { interruptedBy: 'SIGINT' }), /^Summary\n\s+interrupted\s+by SIGINT before the end of the input/);
  assert.doesNotMatch(formatSummary(runSummary(), report), /interrupted/);
});

test('summary escapes rule ids', () => {
  const text = formatSummary(runSummary({ alerts: 1, alertsByRule: { 'bg\u001b[41m-\u2066id': 1 } }), report);

  assert.ok(!text.includes('\u001b'), text);
  assert.ok(!text.includes('\u2066'), text);
  assert.match(text, /bg\\x1b\[41m-\\u2066id/);
});
