/**
 * The field and log source mapping (mappings/sigma.yml): how Sigma field names become
 * event paths, and which events belong to a Sigma log source.
 */
import { isMap, isSeq } from 'yaml';
import type { Node, YAMLMap } from 'yaml';

import type { HolterError, SourceLocation } from '../../errors.js';
import type { FieldItem, Logsource } from './model.js';
import { locate, mapEntries, parseRuleText, ruleError } from './parse.js';
import type { SourceDocument } from './parse.js';
import { readSelection } from './validate.js';

const LOGSOURCE_KEYS = ['category', 'product', 'service'] as const;

export interface FieldMapping {
  logsource: Logsource;
  prefixes: string[];
  names: Map<string, string[]>;
}

export interface LogsourceMapping {
  logsource: Logsource;
  /** OR over alternatives, each an AND of items on event paths. Empty: every event. */
  alternatives: FieldItem[][];
  location: SourceLocation;
}

export interface SigmaMapping {
  file: string;
  /** Event paths used to index rules by log source, most selective first. */
  indexFields: string[];
  fields: FieldMapping[];
  logsources: LogsourceMapping[];
}

export interface MappingLoadResult {
  mapping: SigmaMapping;
  errors: HolterError[];
}

/** Parses the mapping file; problems are returned as located errors. */
export function parseMapping(text: string, file: string): MappingLoadResult {
  const mapping: SigmaMapping = { file, indexFields: [], fields: [], logsources: [] };
  const parsed = parseRuleText(text, file);
  const errors = [...parsed.errors];
  const source = parsed.documents[0];
  if (!source) {
    if (errors.length === 0) errors.push(ruleError('HOLTER_RULE_INVALID', 'The Sigma mapping file is empty. Add index, fields and logsources.', { file }));
    return { mapping, errors };
  }
  const root = source.document.contents;
  if (!isMap(root)) {
    errors.push(ruleError('HOLTER_RULE_INVALID', 'The Sigma mapping must be a map with index, fields and logsources.', locate(source, root as Node)));
    return { mapping, errors };
  }

  for (const entry of mapEntries(root)) {
    if (entry.key === 'index') mapping.indexFields = readStrings(source, entry.value, 'index', errors);
    else if (entry.key === 'fields') mapping.fields = readFieldMappings(source, entry.value, errors);
    else if (entry.key === 'logsources') mapping.logsources = readLogsourceMappings(source, entry.value, errors);
    else errors.push(ruleError('HOLTER_RULE_INVALID', `Unknown key '${entry.key}' in the Sigma mapping. Use index, fields or logsources.`, locate(source, entry.keyNode), entry.key));
  }
  return { mapping, errors };
}

function readStrings(source: SourceDocument, node: Node | null, path: string, errors: HolterError[]): string[] {
  const items = isSeq(node) ? (node.items as Node[]) : [node];
  const strings: string[] = [];
  for (const item of items) {
    const value = (item as { value?: unknown } | null)?.value;
    if (typeof value !== 'string') {
      errors.push(ruleError('HOLTER_RULE_INVALID', `'${path}' must contain strings.`, locate(source, item), path));
      continue;
    }
    strings.push(value);
  }
  return strings;
}

function readLogsource(source: SourceDocument, node: Node | null, path: string, errors: HolterError[]): Logsource | undefined {
  if (!isMap(node)) {
    errors.push(ruleError('HOLTER_RULE_INVALID', `'${path}' must be a map with category, product and/or service.`, locate(source, node), path));
    return undefined;
  }
  const logsource: Logsource = {};
  for (const entry of mapEntries(node)) {
    const key = entry.key as (typeof LOGSOURCE_KEYS)[number];
    const value = (entry.value as { value?: unknown } | null)?.value;
    if (!LOGSOURCE_KEYS.includes(key) || typeof value !== 'string') {
      errors.push(ruleError('HOLTER_RULE_INVALID', `'${path}.${entry.key}' is not a log source key with a string value. Use category, product or service.`, locate(source, entry.keyNode), path));
      continue;
    }
    logsource[key] = value.toLowerCase();
  }
  return logsource;
}

function entriesOf(source: SourceDocument, node: Node | null, path: string, errors: HolterError[]): YAMLMap<unknown, unknown>[] {
  if (!isSeq(node)) {
    errors.push(ruleError('HOLTER_RULE_INVALID', `'${path}' must be a list.`, locate(source, node), path));
    return [];
  }
  const maps: YAMLMap<unknown, unknown>[] = [];
  for (const item of node.items) {
    if (isMap(item)) maps.push(item);
    else errors.push(ruleError('HOLTER_RULE_INVALID', `Every item of '${path}' must be a map.`, locate(source, item as Node), path));
  }
  return maps;
}

function readFieldMappings(source: SourceDocument, node: Node | null, errors: HolterError[]): FieldMapping[] {
  const mappings: FieldMapping[] = [];
  for (const map of entriesOf(source, node, 'fields', errors)) {
    const entries = new Map(mapEntries(map).map((entry) => [entry.key, entry]));
    const logsource = readLogsource(source, entries.get('logsource')?.value ?? null, 'fields.logsource', errors);
    if (!logsource) continue;
    const prefixesNode = entries.get('prefixes')?.value ?? null;
    const prefixes = prefixesNode === null ? [] : readStrings(source, prefixesNode, 'fields.prefixes', errors);
    const names = new Map<string, string[]>();
    const namesNode = entries.get('names')?.value ?? null;
    if (isMap(namesNode)) {
      for (const entry of mapEntries(namesNode)) names.set(entry.key, readStrings(source, entry.value, `fields.names.${entry.key}`, errors));
    }
    mappings.push({ logsource, prefixes, names });
  }
  return mappings;
}

function readLogsourceMappings(source: SourceDocument, node: Node | null, errors: HolterError[]): LogsourceMapping[] {
  const mappings: LogsourceMapping[] = [];
  for (const map of entriesOf(source, node, 'logsources', errors)) {
    const entries = new Map(mapEntries(map).map((entry) => [entry.key, entry]));
    const logsource = readLogsource(source, entries.get('logsource')?.value ?? null, 'logsources.logsource', errors);
    if (!logsource) continue;
    const condition = entries.get('condition');
    let alternatives: FieldItem[][] = [];
    if (condition) {
      const selection = readSelection(source, 'logsources.condition', condition.keyNode, condition.value);
      errors.push(...selection.errors);
      alternatives = selection.alternatives;
    }
    mappings.push({ logsource, alternatives, location: locate(source, map as Node) });
  }
  return mappings;
}

function matchesEntry(entry: Logsource, rule: Logsource): boolean {
  return LOGSOURCE_KEYS.every((key) => entry[key] === undefined || entry[key] === rule[key]);
}

/**
 * Returns the mapping entries that apply to a rule's log source, most specific first, or undefined
 * when some key the rule sets is named by no entry (the log source is unmapped).
 */
export function logsourceEntries(mapping: SigmaMapping, rule: Logsource): LogsourceMapping[] | undefined {
  const matching = mapping.logsources.filter((entry) => matchesEntry(entry.logsource, rule));
  const covered = new Set(matching.flatMap((entry) => LOGSOURCE_KEYS.filter((key) => entry.logsource[key] !== undefined)));
  const required = LOGSOURCE_KEYS.filter((key) => rule[key] !== undefined);
  if (required.length === 0 || !required.every((key) => covered.has(key))) return undefined;
  const specificity = (entry: LogsourceMapping): number => LOGSOURCE_KEYS.filter((key) => entry.logsource[key] !== undefined).length;
  return [...matching].sort((a, b) => specificity(b) - specificity(a));
}

/** Candidate event paths for a Sigma field name in a rule with the given log source. */
export function resolveFieldPaths(mapping: SigmaMapping, rule: Logsource, field: string): string[] {
  const applicable = mapping.fields.filter((entry) => matchesEntry(entry.logsource, rule));
  for (const entry of applicable) {
    const named = entry.names.get(field);
    if (named !== undefined && named.length > 0) return named;
  }
  const prefixed = applicable.flatMap((entry) => entry.prefixes.map((prefix) => prefix + field));
  const paths = field.includes('.') ? [field, ...prefixed] : [...prefixed, field];
  return [...new Set(paths)];
}

export function describeLogsource(logsource: Logsource): string {
  const parts = LOGSOURCE_KEYS.filter((key) => logsource[key] !== undefined).map((key) => `${key}: ${logsource[key]}`);
  return parts.length === 0 ? '(empty log source)' : parts.join(', ');
}
