import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { LINT_CODES, lintRuleSources } from '../../../src/detect/sigma/lint.js';
import type { LintFinding } from '../../../src/detect/sigma/lint.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { shippedMapping } from './helpers.js';

const HEADER = `id: 9a4c7f10-0000-4000-8000-000000000001
description: Test rule.
level: low
`;

function lint(text: string): LintFinding[] {
  return lintRuleSources([{ file: 'inline.yml', text }], shippedMapping());
}

function codes(findings: LintFinding[]): string[] {
  return findings.map((finding) => finding.code);
}

test('complete rule has no findings', () => {
  const text = `title: Clean\nname: clean\n${HEADER}logsource: { product: holter }\ndetection:\n    selection: { event.outcome: failure }\n    condition: selection\n`;
  assert.deepEqual(lint(text), []);
});

test('windows plain names resolve by prefix', () => {
  const text = `title: Windows\n${HEADER}logsource: { product: windows, category: process_creation }\ndetection:\n    selection: { Image|endswith: '\\cmd.exe', CommandLine|contains: whoami }\n    condition: selection\n`;
  assert.deepEqual(lint(text), []);
});

test('quantifier patterns count as use', () => {
  const text = `title: Patterns\n${HEADER}logsource: { product: holter }\ndetection:\n    sel_a: { event.outcome: failure }\n    sel_b: { event.action: login }\n    _hidden: { event.module: okta }\n    filter: { holter.user.known: false }\n    condition: 1 of sel_* and not filter\n`;
  const findings = lint(text);

  assert.deepEqual(codes(findings), ['HOLTER_LINT_UNUSED_SEARCH']);
  assert.match(findings[0]?.message ?? '', /'_hidden'/);
  assert.equal(findings[0]?.location.line, 9);
});

test('them skips underscore identifiers', () => {
  const text = `title: Them\n${HEADER}logsource: { product: holter }\ndetection:\n    selection: { event.outcome: failure }\n    _helper: { event.action: login }\n    condition: all of them\n`;
  assert.deepEqual(codes(lint(text)), ['HOLTER_LINT_UNUSED_SEARCH']);
});

test('fieldref values are checked', () => {
  const text = `title: Fieldref\n${HEADER}logsource: { product: holter }\ndetection:\n    selection: { holter.user.id|fieldref: holter.user.name }\n    condition: selection\n`;
  const findings = lint(text);

  assert.deepEqual(codes(findings), ['HOLTER_LINT_UNKNOWN_FIELD']);
  assert.match(findings[0]?.message ?? '', /Field 'holter.user.name' .* is not a field Holter sets/);
});

test('okta fields the decoder drops are unknown', () => {
  const text = `title: Okta\n${HEADER}logsource: { product: okta }\ndetection:\n    selection: { eventType: user.session.start, okta.actor.displayName: x }\n    condition: selection\n`;
  const findings = lint(text);

  assert.deepEqual(codes(findings), ['HOLTER_LINT_UNKNOWN_FIELD']);
  assert.match(findings[0]?.message ?? '', /Field 'okta.actor.displayName' .* is not a field Holter sets .*: it reads okta.actor.displayName\./);
});

test('azure sign-in properties the decoder drops are unknown', () => {
  const text = `title: Entra\n${HEADER}logsource: { product: azure, service: signinlogs }\ndetection:\n    selection: { AppDisplayName: Outlook, userDisplayName: x }\n    condition: selection\n`;
  const findings = lint(text);

  assert.deepEqual(codes(findings), ['HOLTER_LINT_UNKNOWN_FIELD']);
  assert.match(findings[0]?.message ?? '', /Field 'userDisplayName' .* it reads azure\.signinlogs\.properties\.userDisplayName\./);
});

test('ECS fields outside holter pass', () => {
  const text = `title: Ecs\n${HEADER}logsource: { product: holter }\ndetection:\n    selection: { source.ip|cidr: 10.0.0.0/8, user_agent.original|contains: curl, '@timestamp|exists': true }\n    condition: selection\n`;
  assert.deepEqual(lint(text), []);
});

test('correlation group-by resolves through aliases', () => {
  const text = `title: Base\nname: base\n${HEADER}logsource: { product: holter }\ndetection:\n    selection: { event.outcome: failure }\n    condition: selection
---
title: Correlated
name: correlated
${HEADER}correlation:
    type: event_count
    rules: [base]
    group-by: [account, holter.user.nme]
    timespan: 5m
    condition: { gte: 2 }
    aliases:
        account:
            base: holter.user.id
`;
  const findings = lint(text);

  assert.deepEqual(codes(findings), ['HOLTER_LINT_UNKNOWN_FIELD']);
  assert.match(findings[0]?.message ?? '', /Field 'holter.user.nme' of correlation 'Correlated' \(for rule 'base'\)/);
  assert.equal(findings[0]?.location.line, 18);
});

test('unmapped log source skips field checks', () => {
  const text = `title: AWS\n${HEADER}logsource: { product: aws }\ndetection:\n    selection: { Anything: x }\n    condition: selection\n`;
  assert.deepEqual(lint(text), []);
});

test('invalid documents are left to the engine', () => {
  assert.deepEqual(lint('title: Broken\nlogsource: { product: holter }\n'), []);
});

test('every lint code is documented', () => {
  const docs = readFileSync(path.join(REPO_ROOT, 'docs', 'rules.md'), 'utf8');
  for (const code of Object.keys(LINT_CODES)) assert.ok(docs.includes(`| \`${code}\` |`), `${code} is missing from docs/rules.md`);
});
