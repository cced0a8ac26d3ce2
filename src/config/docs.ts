import { ConfigSchema } from './schema.js';

interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  patternProperties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

/**
 * Renders the configuration reference (docs/configuration.md) from the schema, so the docs
 * cannot drift from what is validated. `npm run docs:config` writes it; a test compares.
 */
export function renderConfigReference(): string {
  const lines = [
    '# Configuration reference',
    '',
    'Generated from src/config/schema.ts by `npm run docs:config`; do not edit by hand.',
    '',
    'Holter reads one YAML file (`--config FILE`). Every key is optional: a run with no file uses the',
    'defaults below. Unknown keys are rejected by name, and every error names the file, line and key path.',
    'Relative paths in the file are read from the file\'s folder.',
    '',
    '| key | type | default | description |',
    '| --- | --- | --- | --- |',
  ];
  walk(ConfigSchema as unknown as SchemaNode, '', lines);
  return `${lines.join('\n')}\n`;
}

function walk(node: SchemaNode, prefix: string, lines: string[]): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const keyPath = prefix === '' ? key : `${prefix}.${key}`;
    if (child.type === 'object' && child.properties !== undefined) {
      walk(child, keyPath, lines);
      continue;
    }
    lines.push(`| \`${keyPath}\` | ${describeType(child)} | ${describeDefault(child)} | ${child.description ?? ''} |`);
    const entry = mapEntry(child);
    if (entry?.type === 'object' && entry.properties !== undefined) walk(entry, `${keyPath}.<name>`, lines);
  }
}

/** Returns the schema of a map's values (TypeBox writes `Record` as `patternProperties`). */
function mapEntry(node: SchemaNode): SchemaNode | undefined {
  return node.type === 'object' ? Object.values(node.patternProperties ?? {})[0] : undefined;
}

function describeType(node: SchemaNode): string {
  if (node.enum !== undefined) return node.enum.map((value) => `\`${String(value)}\``).join(' \\| ');
  const limits: string[] = [];
  if (node.minimum !== undefined) limits.push(`>= ${node.minimum}`);
  if (node.maximum !== undefined) limits.push(`<= ${node.maximum}`);
  if (node.minLength !== undefined) limits.push(`at least ${node.minLength} characters`);
  if (node.pattern !== undefined) limits.push(`matches \`${node.pattern}\``);
  let type = node.type ?? 'any';
  if (type === 'array') type = `list of ${node.items?.type ?? 'any'}`;
  if (type === 'object') type = `map of ${mapEntry(node)?.type ?? 'any'}`;
  return limits.length > 0 ? `${type} (${limits.join(', ')})` : type;
}

function describeDefault(node: SchemaNode): string {
  if (node.default === undefined) return '';
  return `\`${JSON.stringify(node.default)}\``;
}
