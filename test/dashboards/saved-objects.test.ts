import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ALERT_MAPPINGS } from '../../src/sinks/elasticsearch/template.js';
import { REPO_ROOT } from '../helpers/paths.js';

interface SavedObject {
  id: string;
  type: string;
  attributes: Record<string, unknown>;
  references: { id: string; name: string; type: string }[];
}

const objects = readFileSync(path.join(REPO_ROOT, 'dashboards', 'holter-alerts.ndjson'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as SavedObject);

/** Lists the dotted field paths of an Elasticsearch mapping. */
function mappedFields(properties: Record<string, { properties?: Record<string, unknown> }>, prefix = ''): string[] {
  return Object.entries(properties).flatMap(([name, mapping]) => {
    const field = prefix === '' ? name : `${prefix}.${name}`;
    return mapping.properties ? [field, ...mappedFields(mapping.properties as Record<string, { properties?: Record<string, unknown> }>, field)] : [field];
  });
}

test('saved object references resolve', () => {
  const ids = new Set(objects.map((object) => `${object.type}:${object.id}`));
  for (const object of objects) {
    for (const reference of object.references) assert.ok(ids.has(`${reference.type}:${reference.id}`), `${object.id} refers to missing ${reference.type} ${reference.id}`);
  }
});

test('dashboard panels name their references', () => {
  const dashboard = objects.find((object) => object.type === 'dashboard');
  assert.ok(dashboard);
  const panels = JSON.parse(dashboard.attributes.panelsJSON as string) as { panelRefName: string }[];
  const names = new Set(dashboard.references.map((reference) => reference.name));
  assert.equal(panels.length, 5);
  for (const panel of panels) assert.ok(names.has(panel.panelRefName), panel.panelRefName);
});

test('search columns are mapped alert fields', () => {
  const fields = new Set(mappedFields((ALERT_MAPPINGS as unknown as { properties: Record<string, { properties?: Record<string, unknown> }> }).properties));
  const dataView = objects.find((object) => object.type === 'index-pattern');
  assert.equal(dataView?.attributes.timeFieldName, '@timestamp');
  assert.ok(fields.has('@timestamp'));
  for (const search of objects.filter((object) => object.type === 'search')) {
    for (const column of search.attributes.columns as string[]) assert.ok(fields.has(column), `${search.id} shows unmapped field ${column}`);
  }
});
