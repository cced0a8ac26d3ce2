import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { CHECKED_ECS_NAMESPACES, closestField, ECS_FIELDS, editDistance } from '../../../src/detect/sigma/ecs-fields.js';
import { fieldHint, lintRuleSources, unknownEventField } from '../../../src/detect/sigma/lint.js';
import type { LintFinding } from '../../../src/detect/sigma/lint.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { shippedMapping } from './helpers.js';

const HEADER = `id: 9a4c7f10-0000-4000-8000-000000000003
description: Test rule.
level: low
`;

function lint(text: string): LintFinding[] {
  return lintRuleSources([{ file: 'inline.yml', text }], shippedMapping());
}

function ruleWithSelection(logsource: string, selection: string): string {
  return `title: Ecs\n${HEADER}logsource: ${logsource}\ndetection:\n    selection: ${selection}\n    condition: selection\n`;
}

/**
 * Paths under the checked namespaces that docs/event.md quotes but that are not event fields: the
 * FHIR AuditEvent's own `network.address`, `network.uri` and `source.observer`, an Okta event type,
 * and `user.identifier`, which sits under `winlog`.
 */
const SOURCE_PATHS_IN_DOCS = new Set(['network.address', 'network.uri', 'source.observer', 'user.session.start', 'user.identifier']);

test('misspelt ECS fields are reported', () => {
  const findings = lint(ruleWithSelection('{ product: holter }', '{ user.nmae: alice, source.ipp: 10.0.0.1 }'));

  assert.deepEqual(findings.map((item) => item.code), ['HOLTER_LINT_UNKNOWN_FIELD', 'HOLTER_LINT_UNKNOWN_FIELD']);
  assert.match(findings[0]?.message ?? '', /Field 'user.nmae' .* is not a field Holter sets/);
  assert.equal(findings[0]?.hint, 'did you mean user.name? The fields are listed in docs/event.md');
  assert.equal(findings[1]?.hint, 'did you mean source.ip? The fields are listed in docs/event.md');
});

test('distant ECS field has no suggestion', () => {
  const findings = lint(ruleWithSelection('{ product: holter }', '{ http.request.method: POST }'));

  assert.deepEqual(findings.map((item) => item.code), ['HOLTER_LINT_UNKNOWN_FIELD']);
  assert.equal(findings[0]?.hint, 'check the spelling against the field list in docs/event.md');
});

test('decoder ECS fields pass', () => {
  const selection = '{ user.name: a, user.target.name: b, source.port: 22, destination.ip: 10.0.0.2, process.parent.executable: x, file.directory: y, log.syslog.appname: sshd, related.ip: 10.0.0.3, observer.name: pacs, user_agent.original: curl }';
  assert.deepEqual(lint(ruleWithSelection('{ product: holter }', selection)), []);
});

test('windows rules are not affected', () => {
  assert.deepEqual(lint(ruleWithSelection('{ product: windows, category: process_creation }', '{ user.nmae: alice }')), []);
});

test('mapped okta names are not affected', () => {
  assert.deepEqual(lint(ruleWithSelection('{ product: okta }', '{ client.ipAddress: 10.0.0.1, client.zone: null }')), []);
});

test('unknown namespace is reported', () => {
  const findings = lint(ruleWithSelection('{ product: okta }', '{ debugContext.debugData.requestUri: /admin }'));

  assert.deepEqual(findings.map((item) => item.code), ['HOLTER_LINT_UNKNOWN_FIELD']);
  assert.match(findings[0]?.message ?? '', /is in no namespace that ECS or a Holter decoder uses/);
});

test('detector ECS fields are checked', () => {
  assert.equal(unknownEventField('host.nmae'), "'host.nmae' is not a field Holter sets");
  assert.equal(unknownEventField('host.name'), undefined);
  assert.equal(fieldHint('host.nmae'), 'did you mean host.name? The fields are listed in docs/event.md');
});

test('edit distance counts a swap once', () => {
  assert.equal(editDistance('user.nmae', 'user.name'), 1);
  assert.equal(editDistance('source.ipp', 'source.ip'), 1);
  assert.equal(editDistance('abc', 'xyz'), 3);
  assert.equal(editDistance('', 'ab'), 2);
});

test('closest field respects the limit', () => {
  assert.equal(closestField('user.nmae', ECS_FIELDS), 'user.name');
  assert.equal(closestField('user.fullname', ECS_FIELDS), 'user.full_name');
  assert.equal(closestField('process.command', ECS_FIELDS), undefined);
});

test('docs event fields are in the list', () => {
  const docs = readFileSync(path.join(REPO_ROOT, 'docs', 'event.md'), 'utf8');
  const quoted = [...docs.matchAll(/`([a-z_]+(?:\.[a-z_]+)+)`/g)].map((match) => match[1] as string);
  const checked = quoted.filter((field) => CHECKED_ECS_NAMESPACES.has(field.split('.')[0] ?? '') && !SOURCE_PATHS_IN_DOCS.has(field));

  assert.ok(checked.length >= 20, `only ${checked.length} ECS fields found in docs/event.md`);
  for (const field of checked) assert.ok(ECS_FIELDS.has(field), `${field} is in docs/event.md but not in ECS_FIELDS`);
});
