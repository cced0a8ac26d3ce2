import assert from 'node:assert/strict';
import { test } from 'node:test';

import { lintRuleSources } from '../../../src/detect/sigma/lint.js';
import type { LintFinding } from '../../../src/detect/sigma/lint.js';
import { scanTemplate } from '../../../src/detect/sigma/lint-template.js';
import { compileOne, holterEvent, shippedMapping } from './helpers.js';

const HEADER = `id: 9a4c7f10-0000-4000-8000-000000000002
description: Test rule.
level: low
`;

function lint(text: string): LintFinding[] {
  return lintRuleSources([{ file: 'inline.yml', text }], shippedMapping());
}

/** Builds a detection rule on Holter's own events whose summary is the given YAML value. */
function ruleWithSummary(summary: string): string {
  return `title: Summary\n${HEADER}logsource: { product: holter }\ndetection:\n    selection: { event.outcome: failure }\n    condition: selection\nholter:\n    summary: ${summary}\n`;
}

function correlationWithSummary(summary: string, groupBy = '[holter.user.id]', aliases = ''): string {
  return `title: Base\nname: base\n${HEADER}logsource: { product: holter }\ndetection:\n    selection: { event.outcome: failure }\n    condition: selection
---
title: Counted
name: counted
${HEADER}correlation:
    type: event_count
    rules: [base]
    group-by: ${groupBy}
    timespan: 5m
    condition: { gte: 2 }
${aliases}holter:
    summary: ${summary}
`;
}

test('known placeholders have no findings', () => {
  assert.deepEqual(lint(ruleWithSummary("'Failed login by {user.name} from {source.ip}, patient {holter.patient.token}'")), []);
});

test('scan splits placeholders like the renderer', () => {
  const scan = scanTemplate('a {user.name} b { } c {} d {open e {source.ip} f {last');

  assert.deepEqual(scan.placeholders.map((item) => item.name), ['user.name', 'source.ip']);
  assert.deepEqual(scan.malformed.map((item) => [item.kind, item.text]), [
    ['empty', '{ }'],
    ['empty', '{}'],
    ['unclosed', '{open e'],
    ['unclosed', '{last'],
  ]);
});

test('unclosed placeholder is located', () => {
  const findings = lint(ruleWithSummary("'Login by {user.name from {source.ip}'"));

  assert.deepEqual(findings.map((item) => item.code), ['HOLTER_LINT_SUMMARY_PLACEHOLDER']);
  assert.equal(findings[0]?.severity, 'warning');
  assert.match(findings[0]?.message ?? '', /without a closing '\}' in '\{user.name from'/);
  assert.equal(findings[0]?.location.line, 10);
  assert.equal(findings[0]?.location.column, 24);
});

test('empty placeholder is reported', () => {
  const findings = lint(ruleWithSummary("'Login by {}'"));

  assert.deepEqual(findings.map((item) => item.code), ['HOLTER_LINT_SUMMARY_PLACEHOLDER']);
  assert.match(findings[0]?.message ?? '', /empty placeholder '\{\}'/);
});

test('unknown placeholder field is reported', () => {
  const findings = lint(ruleWithSummary("'Login by {user.name} with {nosuch.field} and {holter.user.nme}'"));

  assert.deepEqual(findings.map((item) => item.code), ['HOLTER_LINT_UNKNOWN_FIELD', 'HOLTER_LINT_UNKNOWN_FIELD']);
  assert.match(findings[0]?.message ?? '', /Placeholder '\{nosuch.field\}' .* always renders as 'unknown': 'nosuch.field' is in no namespace/);
  assert.match(findings[1]?.message ?? '', /'\{holter.user.nme\}' .* 'holter.user.nme' is not a field Holter sets/);
  assert.equal(findings[0]?.location.line, 10);
  assert.equal(findings[0]?.location.column, 41);
  assert.equal(findings[1]?.location.column, 60);
});

test('misspelt ECS placeholder gets a suggestion', () => {
  const findings = lint(ruleWithSummary("'Login by {user.nmae}'"));

  assert.deepEqual(findings.map((item) => item.code), ['HOLTER_LINT_UNKNOWN_FIELD']);
  assert.equal(findings[0]?.hint, 'did you mean user.name? The fields are listed in docs/event.md');
});

test('patient identifier placeholder is an error', () => {
  for (const field of ['holter.patient.id', 'holter.patient', ' holter.patient.id ']) {
    const findings = lint(ruleWithSummary(`'Record of {${field}} opened'`));

    assert.deepEqual(findings.map((item) => item.code), ['HOLTER_LINT_SUMMARY_PATIENT_FIELD'], field);
    assert.equal(findings[0]?.severity, 'error', field);
    assert.match(findings[0]?.message ?? '', /reads holter.patient(\.id)?, a patient identifier/, field);
  }
});

test('patient flags and token are allowed', () => {
  const summary = "'{holter.patient.token} vip {holter.patient.vip} employee {holter.patient.employee} deceased {holter.patient.deceased} self {holter.patient.self_access}'";
  assert.deepEqual(lint(ruleWithSummary(summary)), []);
});

test('block scalar placeholder is located', () => {
  const findings = lint(ruleWithSummary('>-\n        Access by {user.name}\n        to {nosuch.field}'));

  assert.deepEqual(findings.map((item) => item.code), ['HOLTER_LINT_UNKNOWN_FIELD']);
  assert.equal(findings[0]?.location.line, 12);
  assert.equal(findings[0]?.location.column, 12);
});

test('correlation summary allows group-by fields', () => {
  assert.deepEqual(lint(correlationWithSummary("'{actual} failures by {holter.user.id} in {window} (threshold {threshold})'")), []);
});

test('correlation summary rejects other fields', () => {
  const findings = lint(correlationWithSummary("'{actual} failures by {user.name}'"));

  assert.deepEqual(findings.map((item) => item.code), ['HOLTER_LINT_UNKNOWN_FIELD']);
  assert.match(findings[0]?.message ?? '', /'\{user.name\}' in the holter.summary of rule 'Counted' .* filled from: \{actual\}, \{threshold\}, \{window\}, \{holter.user.id\}\./);
  assert.equal(findings[0]?.location.file, 'inline.yml');
  assert.equal(findings[0]?.location.line, 23);
});

test('correlation group-by patient field is an error', () => {
  const findings = lint(correlationWithSummary("'{actual} opens of {holter.patient.id}'", '[holter.patient.id]'));

  assert.deepEqual(findings.map((item) => item.code), ['HOLTER_LINT_SUMMARY_PATIENT_FIELD']);
  assert.equal(findings[0]?.severity, 'error');
});

test('aliased patient field is an error', () => {
  const aliases = '    aliases:\n        person:\n            base: holter.patient.id\n';
  const findings = lint(correlationWithSummary("'{actual} opens of {person}'", '[person]', aliases));

  assert.deepEqual(findings.map((item) => item.code), ['HOLTER_LINT_SUMMARY_PATIENT_FIELD']);
  assert.match(findings[0]?.message ?? '', /'\{person\}' .* reads holter.patient.id/);
});

test('rendered summary withholds patient ids', () => {
  // A rule that skipped validate still loads; its alert must not carry the identifier.
  const loaded = compileOne(ruleWithSummary("'Patient {holter.patient.id} by {holter.user.id}'"));
  const event = holterEvent({ time: '2026-03-01T10:00:00Z', userId: 'u-7', holter: { patient: { id: 'MRN-0042', token: 'tok-1' } } });
  const [detection] = loaded.stage.process(event, Number.NEGATIVE_INFINITY);

  assert.equal(detection?.explanation.summary, 'Patient [withheld: patient identifier] by u-7');
});
