import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../helpers/paths.js';

interface RuleDocument {
  name: string;
  title: string;
  holter?: { summary?: string };
}

// The rules check only the access event's own break-glass flag, so an access right after the
// same user's break-glass on the same patient fires too. The wording must not claim more.
test('VIP rule wording claims only the event', () => {
  const text = readFileSync(path.join(REPO_ROOT, 'rules', 'vip-record-access.yml'), 'utf8');
  const documents = parseAllDocuments(text).map((document) => document.toJSON() as RuleDocument);
  const correlation = documents.find((document) => document.name === 'holter-vip-access');

  assert.ok(correlation !== undefined);
  assert.match(correlation.holter?.summary ?? '', /this access did not claim break-glass/);
  for (const document of documents) {
    assert.doesNotMatch(document.title, /without break-glass/, document.name);
    assert.doesNotMatch(document.holter?.summary ?? '', /without break-glass/, document.name);
  }
});
