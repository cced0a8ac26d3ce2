import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TSchema } from '@sinclair/typebox';
import type { HolterError } from '../../../src/errors.js';
import { loadRiskConfig, parseRiskConfig } from '../../../src/detect/risk/index.js';
import { RiskFileSchema } from '../../../src/detect/risk/schema.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { RISK_FILE } from './timeline.js';

const VALID = `half_life: 12h
floor: 5
entities:
  user: 1
  source: 0.8
windows:
  - name: 24h
    length: 24h
    threshold: 100
  - name: 7d
    length: 7d
    half_life: 3d
    threshold: 180
`;

function problems(text: string): string[] {
  return parseRiskConfig(text, 'risk.yaml').errors.map((error: HolterError) => error.describe());
}

describe('loadRiskConfig', () => {
  it('loads the shipped file', async () => {
    const { config, errors } = await loadRiskConfig(RISK_FILE);
    assert.deepEqual(errors, []);
    assert.deepEqual(config?.windows.map((window) => [window.name, window.threshold, window.rearmBelow]), [
      ['24h', 100, 50],
      ['7d', 180, 90],
    ]);
    assert.deepEqual(config?.weights, { user: 1, source: 0.8 }, 'a weight of 0 turns the entity type off');
  });

  it('applies defaults', () => {
    const { config } = parseRiskConfig(VALID, 'risk.yaml');
    assert.equal(config?.windows[0]?.halfLifeMs, 12 * 3_600_000);
    assert.equal(config?.windows[1]?.halfLifeMs, 3 * 86_400_000);
    assert.equal(config?.windows[0]?.severity, 'high');
    assert.equal(config?.windows[0]?.riskScore, 75);
    assert.equal(config?.evidenceLimit, 50);
    assert.equal(config?.weights.host, undefined);
  });

  it('orders windows shortest first', () => {
    const swapped = VALID.replace('name: 24h\n    length: 24h', 'name: 30d\n    length: 30d');
    const { config } = parseRiskConfig(swapped, 'risk.yaml');
    assert.deepEqual(config?.windows.map((window) => window.name), ['7d', '30d']);
  });

  it('reports a missing file', async () => {
    const { config, errors } = await loadRiskConfig('/nonexistent/holter-risk.yaml');
    assert.equal(config, undefined);
    assert.match(errors[0]?.describe() ?? '', /^\/nonexistent\/holter-risk\.yaml: cannot read risk file \(ENOENT\)/);
  });
});

describe('parseRiskConfig errors', () => {
  it('locates a value out of range', () => {
    assert.deepEqual(problems(VALID.replace('threshold: 180', 'threshold: -3')), [
      'risk.yaml:13:16: windows.1.threshold must be > 0, got -3 [HOLTER_RULE_INVALID]',
    ]);
  });

  it('locates an unknown key', () => {
    assert.deepEqual(problems(VALID.replace('  source: 0.8', '  sourc: 0.8')), [
      "risk.yaml:5:10: unknown key 'sourc'; expected one of user, source, host [HOLTER_RULE_INVALID]",
    ]);
  });

  it('reports every problem at once', () => {
    const text = VALID.replace('half_life: 12h', 'half_life: 12 hours').replace('length: 7d', 'length: 7d\n    severity: urgent');
    assert.deepEqual(problems(text), [
      'risk.yaml:1:12: half_life must be a positive whole number with a unit (s, m, h or d), such as 12h or 7d, got "12 hours" [HOLTER_RULE_INVALID]',
      'risk.yaml:12:15: windows.1.severity must be one of informational, low, medium, high, critical, got "urgent" [HOLTER_RULE_INVALID]',
    ]);
  });

  it('reports a missing key', () => {
    const errors = parseRiskConfig(VALID.replace('floor: 5\n', ''), 'risk.yaml').errors;
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.path, 'floor');
    assert.match(errors[0]?.message ?? '', /missing required key 'floor'/);
  });

  it('rejects a floor above a re-arm level', () => {
    assert.deepEqual(problems(VALID.replace('floor: 5', 'floor: 60')), [
      "risk.yaml:2:8: floor (60) must be below the re-arm level of window '24h' (threshold 100 x rearm_ratio = 50); " +
        'an entity whose risk falls below the floor is dropped with its page state, so the floor must stay under every re-arm level [HOLTER_RULE_INVALID]',
    ]);
  });

  it('rejects repeated window names', () => {
    assert.deepEqual(problems(VALID.replace('name: 7d', 'name: 24h')), [
      "risk.yaml:10:5: window name '24h' is already used by windows.0; give each window its own name [HOLTER_RULE_INVALID]",
    ]);
  });

  it('reports a repeated floor problem once', () => {
    const twin = ['  - name: 24h', '    length: 24h', '    threshold: 100'];
    const text = ['half_life: 12h', 'floor: 80', 'entities:', '  user: 1', 'windows:', ...twin, ...twin, ''].join('\n');
    assert.deepEqual(problems(text), [
      "risk.yaml:2:8: floor (80) must be below the re-arm level of window '24h' (threshold 100 x rearm_ratio = 50); " +
        'an entity whose risk falls below the floor is dropped with its page state, so the floor must stay under every re-arm level [HOLTER_RULE_INVALID]',
      "risk.yaml:9:5: window name '24h' is already used by windows.0; give each window its own name [HOLTER_RULE_INVALID]",
    ]);
  });

  it('rejects durations past their limit', () => {
    assert.deepEqual(problems(VALID.replace('length: 7d', 'length: 99999999999999d').replace('half_life: 12h', 'half_life: 4000d')), [
      'risk.yaml:1:12: half_life is 4000d, longer than the largest allowed, 3650d [HOLTER_RULE_INVALID]',
      'risk.yaml:11:13: windows.1.length is 99999999999999d, longer than the largest allowed, 365d [HOLTER_RULE_INVALID]',
    ]);
  });

  it('rejects all weights zero', () => {
    assert.deepEqual(problems(VALID.replace('user: 1', 'user: 0').replace('source: 0.8', 'source: 0')), [
      'risk.yaml:4:3: entities gives every entity type weight 0; give user, source or host a weight above 0 [HOLTER_RULE_INVALID]',
    ]);
  });

  it('rejects empty entities', () => {
    assert.deepEqual(problems(VALID.replace('entities:\n  user: 1\n  source: 0.8', 'entities: {}')), [
      'risk.yaml:3:11: entities must weight at least one entity type: user, source or host [HOLTER_RULE_INVALID]',
    ]);
  });

  it('locates invalid YAML', () => {
    const found = problems('half_life: 12h\nwindows: [\n');
    assert.equal(found.length > 0, true);
    assert.match(found[0] ?? '', /^risk\.yaml:\d+:\d+: invalid YAML: /);
  });

  it('rejects a document that is not a mapping', () => {
    assert.deepEqual(problems('- 24h\n- 7d\n'), [
      'risk.yaml:1:1: a risk file must be a YAML mapping with keys such as half_life, entities and windows [HOLTER_RULE_INVALID]',
    ]);
  });
});

describe('docs/detectors.md Risk section', () => {
  const docs = readFileSync(path.join(REPO_ROOT, 'docs', 'detectors.md'), 'utf8');
  const start = docs.indexOf('\n### Keys of config/risk.yaml\n', docs.indexOf('\n## Risk\n'));
  const section = docs.slice(start, docs.indexOf('\n### ', start + 1));
  const documented = new Set([...section.matchAll(/^\| `([a-z_.[\]]+)` \|/gm)].map((match) => match[1] as string));

  function keysOf(schema: TSchema, prefix: string): string[] {
    const properties = (schema.properties ?? {}) as Record<string, TSchema>;
    return Object.entries(properties).flatMap(([key, child]) => {
      const name = `${prefix}${key}`;
      if (child.type === 'array' && (child.items as TSchema).properties !== undefined) return [name, ...keysOf(child.items as TSchema, `${name}[].`)];
      if (child.type === 'object' && Object.keys(child.properties ?? {}).length > 0 && key !== 'entities') return keysOf(child, `${name}.`);
      return [name];
    });
  }

  it('documents every key', () => {
    const keys = keysOf(RiskFileSchema, '');
    assert.ok(keys.includes('windows[].threshold'));
    for (const key of keys) assert.ok(documented.has(key), `key ${key} is missing from the Risk key table`);
  });

  it('documents only real keys', () => {
    const keys = new Set(keysOf(RiskFileSchema, ''));
    assert.ok(documented.size > 10);
    for (const key of documented) assert.ok(keys.has(key), `documented key ${key} is not in the schema`);
  });
});
