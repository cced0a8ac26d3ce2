/**
 * Validation: turns one parsed YAML document into a DetectionRule or CorrelationRule,
 * or into located errors. Every problem in a document is reported, not just the first.
 */
import { isMap, isScalar, isSeq } from 'yaml';
import type { Node, YAMLMap } from 'yaml';

import type { HolterError, SourceLocation } from '../../errors.js';
import type { Severity } from '../types.js';
import type {
  ComparisonOperator,
  ConditionText,
  CorrelationCondition,
  CorrelationRule,
  CorrelationType,
  DetectionRule,
  FieldItem,
  FilterDocument,
  HolterRuleOptions,
  Logsource,
  RuleReference,
  SearchIdentifier,
  SigmaDocument,
} from './model.js';
import { durationMs, isWithinMaxDuration, maxDurationText } from './duration.js';
import { locate, mapEntries, readScalar, ruleError } from './parse.js';
import type { RuleScalar, SourceDocument } from './parse.js';

export const SEVERITIES: readonly Severity[] = ['informational', 'low', 'medium', 'high', 'critical'];

const CORRELATION_TYPES: readonly CorrelationType[] = [
  'event_count',
  'value_count',
  'temporal',
  'temporal_ordered',
  'value_sum',
  'value_avg',
  'value_percentile',
];

const OPERATORS: readonly ComparisonOperator[] = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'];

const TIMESPAN = /^(\d+)([smhd])$/;

export interface ValidateResult {
  document?: SigmaDocument;
  filter?: FilterDocument;
  /**
   * The rule or correlation as far as it could be read, when it has errors: it does not load, but
   * `holter rules validate` checks it further, so that one run reports every problem.
   */
  partial?: SigmaDocument;
  errors: HolterError[];
}

/** Context for one document: where it is and the errors found so far. */
class DocumentCheck {
  readonly errors: HolterError[] = [];

  constructor(readonly source: SourceDocument) {}

  at(node: Node | null | undefined): SourceLocation {
    return locate(this.source, node);
  }

  invalid(node: Node | null | undefined, path: string, message: string): void {
    this.errors.push(ruleError('HOLTER_RULE_INVALID', message, this.at(node), path));
  }

  unsupported(node: Node | null | undefined, path: string, message: string): void {
    this.errors.push(ruleError('HOLTER_RULE_UNSUPPORTED', message, this.at(node), path));
  }

  string(map: YAMLMap<unknown, unknown>, key: string, required: boolean): string | undefined {
    const entry = mapEntries(map).find((item) => item.key === key);
    if (!entry || entry.value === null) {
      if (required) this.invalid(map as Node, key, `Missing required attribute '${key}'. Add it to the rule.`);
      return undefined;
    }
    if (!isScalar(entry.value) || entry.value.value === null || typeof entry.value.value === 'object') {
      this.invalid(entry.value, key, `Attribute '${key}' must be a string.`);
      return undefined;
    }
    return String(entry.value.value);
  }

  stringList(map: YAMLMap<unknown, unknown>, key: string): string[] | undefined {
    const entry = mapEntries(map).find((item) => item.key === key);
    if (!entry || entry.value === null) return undefined;
    if (isScalar(entry.value) && entry.value.value !== null) return [String(entry.value.value)];
    if (!isSeq(entry.value)) {
      this.invalid(entry.value, key, `Attribute '${key}' must be a list of strings.`);
      return undefined;
    }
    const items: string[] = [];
    for (const item of entry.value.items) {
      if (!isScalar(item) || item.value === null || typeof item.value === 'object') {
        this.invalid(item as Node, key, `Every item of '${key}' must be a string.`);
        continue;
      }
      items.push(String(item.value));
    }
    return items;
  }
}

/** Validates one YAML document of a rule file. */
export function validateDocument(source: SourceDocument): ValidateResult {
  const check = new DocumentCheck(source);
  const root = source.document.contents;
  if (!isMap(root)) {
    check.invalid(root as Node, '', 'A Sigma document must be a YAML map with title, logsource and detection (or correlation). A detector file is a YAML map too, with id and function (see docs/detectors.md).');
    return { errors: check.errors };
  }

  const keys = new Set(mapEntries(root).map((entry) => entry.key));
  if (keys.has('action')) {
    check.unsupported(root as Node, 'action', "Multi-document rules with 'action: global' (Sigma 1.0 collections) are not supported. Write each rule as a complete document.");
    return { errors: check.errors };
  }
  if (keys.has('filter') && (keys.has('detection') || keys.has('correlation'))) {
    const other = keys.has('detection') ? 'detection' : 'correlation';
    const node = mapEntries(root).find((entry) => entry.key === 'filter')?.keyNode ?? (root as Node);
    check.invalid(node as Node, 'filter', `A document has either 'filter' or '${other}', not both: a filter inside a rule would be ignored. Put the filter in a document of its own.`);
    return { errors: check.errors };
  }
  if (keys.has('filter')) {
    const filter = readFilter(check, root);
    if (check.errors.length > 0) return { errors: check.errors };
    return { filter, errors: [] };
  }

  const document = keys.has('correlation') ? readCorrelation(check, root) : readDetectionRule(check, root);
  if (check.errors.length > 0) return { partial: document, errors: check.errors };
  return { document, errors: [] };
}

function readCommon(check: DocumentCheck, root: YAMLMap<unknown, unknown>) {
  const title = check.string(root, 'title', true) ?? '';
  const levelText = check.string(root, 'level', false);
  let level: Severity | undefined;
  if (levelText !== undefined) {
    if ((SEVERITIES as readonly string[]).includes(levelText)) {
      level = levelText as Severity;
    } else {
      const node = mapEntries(root).find((entry) => entry.key === 'level')?.value;
      check.invalid(node, 'level', `Invalid level '${levelText}'. Use one of: ${SEVERITIES.join(', ')}.`);
    }
  }

  return {
    title,
    id: check.string(root, 'id', false),
    name: check.string(root, 'name', false),
    description: check.string(root, 'description', false),
    author: check.string(root, 'author', false),
    status: check.string(root, 'status', false),
    references: check.stringList(root, 'references'),
    tags: check.stringList(root, 'tags') ?? [],
    level,
    holter: readHolterOptions(check, root),
    location: check.at(mapEntries(root)[0]?.keyNode),
  };
}

function readHolterOptions(check: DocumentCheck, root: YAMLMap<unknown, unknown>): HolterRuleOptions {
  const entry = mapEntries(root).find((item) => item.key === 'holter');
  if (!entry) return {};
  if (!isMap(entry.value)) {
    check.invalid(entry.value, 'holter', "Attribute 'holter' must be a map with 'summary', 'noun' and/or 'tests'.");
    return {};
  }
  const options: HolterRuleOptions = {};
  for (const item of mapEntries(entry.value)) {
    // The engine ignores `holter.tests`: `holter rules test` reads and checks it (rule-tests.ts).
    if (item.key === 'tests') continue;
    if (item.key !== 'summary' && item.key !== 'noun') {
      check.invalid(item.keyNode, `holter.${item.key}`, `Unknown key 'holter.${item.key}'. Use 'summary', 'noun' or 'tests'.`);
      continue;
    }
    options[item.key] = check.string(entry.value, item.key, false);
  }
  return options;
}

function readDetectionRule(check: DocumentCheck, root: YAMLMap<unknown, unknown>): DetectionRule {
  const common = readCommon(check, root);
  const logsource = readLogsource(check, root);
  const detectionEntry = mapEntries(root).find((entry) => entry.key === 'detection');

  const searches = new Map<string, SearchIdentifier>();
  const conditions: ConditionText[] = [];
  if (!detectionEntry || !isMap(detectionEntry.value)) {
    check.invalid(detectionEntry?.value ?? (root as Node), 'detection', "Missing or invalid 'detection': it must be a map of search identifiers and a condition.");
    return { kind: 'rule', ...common, logsource, searches, conditions };
  }

  for (const entry of mapEntries(detectionEntry.value)) {
    if (entry.key === 'condition') {
      conditions.push(...readConditions(check, entry.value));
      continue;
    }
    if (entry.key === 'timeframe') {
      check.unsupported(entry.keyNode, 'detection.timeframe', "'detection.timeframe' (Sigma 1.0 aggregation) is not supported. Express the time window in a correlation rule.");
      continue;
    }
    const search = readSearchIdentifier(check, entry.key, entry.keyNode, entry.value);
    if (search) searches.set(entry.key, search);
  }
  if (conditions.length === 0 && !mapEntries(detectionEntry.value).some((entry) => entry.key === 'condition')) {
    check.invalid(detectionEntry.keyNode, 'detection.condition', "Missing 'detection.condition'. Add a condition such as 'selection and not filter'.");
  }
  return { kind: 'rule', ...common, logsource, searches, conditions };
}

function readFilter(check: DocumentCheck, root: YAMLMap<unknown, unknown>): FilterDocument {
  const location = check.at(mapEntries(root)[0]?.keyNode);
  const title = check.string(root, 'title', true) ?? '';
  const logsource = readLogsource(check, root);
  const filterEntry = mapEntries(root).find((entry) => entry.key === 'filter');
  const filter: FilterDocument = {
    kind: 'filter',
    title,
    id: check.string(root, 'id', false),
    description: check.string(root, 'description', false),
    logsource,
    rules: [],
    searches: new Map(),
    conditions: [],
    location,
  };
  if (!filterEntry || !isMap(filterEntry.value)) {
    check.invalid(filterEntry?.value ?? (root as Node), 'filter', "'filter' must be a map with 'rules', search identifiers and a 'condition'.");
    return filter;
  }

  for (const entry of mapEntries(filterEntry.value)) {
    if (entry.key === 'rules') {
      const references = isSeq(entry.value) ? entry.value.items : [entry.value];
      for (const item of references) {
        if (isScalar(item) && typeof item.value === 'string') filter.rules.push({ reference: item.value, location: check.at(item as Node) });
        else check.invalid(item as Node, 'filter.rules', "Every entry of 'filter.rules' must be a rule id or name.");
      }
      continue;
    }
    if (entry.key === 'condition') {
      filter.conditions.push(...readConditions(check, entry.value));
      continue;
    }
    const search = readSearchIdentifier(check, entry.key, entry.keyNode, entry.value);
    if (search) filter.searches.set(entry.key, search);
  }
  if (filter.rules.length === 0) check.invalid(filterEntry.keyNode, 'filter.rules', "Missing 'filter.rules': list the ids or names of the rules the filter applies to.");
  if (filter.conditions.length === 0) check.invalid(filterEntry.keyNode, 'filter.condition', "Missing 'filter.condition'. Add a condition such as 'selection'.");
  return filter;
}

function readLogsource(check: DocumentCheck, root: YAMLMap<unknown, unknown>): Logsource {
  const entry = mapEntries(root).find((item) => item.key === 'logsource');
  if (!entry || !isMap(entry.value)) {
    check.invalid(entry?.value ?? (root as Node), 'logsource', "Missing or invalid 'logsource': it must be a map with category, product and/or service.");
    return {};
  }
  const logsource: Logsource = {};
  for (const key of ['category', 'product', 'service'] as const) {
    const value = check.string(entry.value, key, false);
    if (value !== undefined) logsource[key] = value.toLowerCase();
  }
  return logsource;
}

function readConditions(check: DocumentCheck, node: Node | null): ConditionText[] {
  if (isScalar(node) && typeof node.value === 'string') return [{ text: node.value, location: check.at(node) }];
  if (isSeq(node)) {
    const list: ConditionText[] = [];
    for (const item of node.items) {
      if (isScalar(item) && typeof item.value === 'string') list.push({ text: item.value, location: check.at(item as Node) });
      else check.invalid(item as Node, 'detection.condition', 'Every condition in the list must be a string.');
    }
    return list;
  }
  check.invalid(node, 'detection.condition', "'detection.condition' must be a string or a list of strings.");
  return [];
}

function readSearchIdentifier(check: DocumentCheck, name: string, keyNode: Node, node: Node | null): SearchIdentifier | undefined {
  const path = `detection.${name}`;
  const location = check.at(keyNode);

  if (isMap(node)) {
    const alternative = readFieldMap(check, path, node);
    return { name, alternatives: [alternative], location };
  }

  if (isSeq(node)) {
    const alternatives: FieldItem[][] = [];
    const keywords: RuleScalar[] = [];
    for (const item of node.items) {
      if (isMap(item)) {
        alternatives.push(readFieldMap(check, path, item));
        continue;
      }
      const scalar = readScalar(check.source, item as Node);
      if (!scalar || scalar.kind === 'null') {
        check.invalid(item as Node, path, `Items of search identifier '${name}' must be maps or keyword strings.`);
        continue;
      }
      keywords.push(scalar);
    }
    if (keywords.length > 0) {
      alternatives.push([{ field: null, modifiers: [], values: keywords, location }]);
    }
    if (alternatives.length === 0) check.invalid(node, path, `Search identifier '${name}' is an empty list. Add values or remove it.`);
    return { name, alternatives, location };
  }

  const scalar = readScalar(check.source, node);
  if (scalar && scalar.kind !== 'null') {
    return { name, alternatives: [[{ field: null, modifiers: [], values: [scalar], location }]], location };
  }
  check.invalid(node ?? keyNode, path, `Search identifier '${name}' must be a map, a list of maps or a list of keywords.`);
  return undefined;
}

function readFieldMap(check: DocumentCheck, path: string, map: YAMLMap<unknown, unknown>): FieldItem[] {
  const items: FieldItem[] = [];
  for (const entry of mapEntries(map)) {
    const [field = '', ...modifiers] = entry.key.split('|');
    const location = check.at(entry.keyNode);
    const values = readValues(check, `${path}.${entry.key}`, entry.value);
    if (values === undefined) continue;
    items.push({ field: field === '' ? null : field, modifiers, values, location });
  }
  // A map whose fields all failed to read already has an error for each of them.
  if (mapEntries(map).length === 0) {
    check.invalid(map as Node, path, 'A selection map must contain at least one field.');
  }
  return items;
}

function readValues(check: DocumentCheck, path: string, node: Node | null): RuleScalar[] | undefined {
  if (isSeq(node)) {
    const values: RuleScalar[] = [];
    for (const item of node.items) {
      const scalar = readScalar(check.source, item as Node);
      if (!scalar) {
        check.invalid(item as Node, path, `Values of '${path}' must be scalars (strings, numbers, booleans or null), not maps or lists.`);
        continue;
      }
      values.push(scalar);
    }
    if (node.items.length === 0) {
      check.invalid(node, path, `'${path}' has an empty list of values. Add a value or remove the field.`);
      return undefined;
    }
    return values;
  }
  const scalar = readScalar(check.source, node);
  if (!scalar) {
    check.invalid(node, path, `The value of '${path}' must be a scalar or a list of scalars, not a map.`);
    return undefined;
  }
  return [scalar];
}

function readCorrelation(check: DocumentCheck, root: YAMLMap<unknown, unknown>): CorrelationRule {
  const common = readCommon(check, root);
  const entry = mapEntries(root).find((item) => item.key === 'correlation');
  const correlation: CorrelationRule = {
    kind: 'correlation',
    ...common,
    type: 'event_count',
    rules: [],
    groupBy: [],
    timespanMs: 0,
    timespanText: '',
    generate: false,
    aliases: new Map(),
  };
  if (!entry || !isMap(entry.value)) {
    check.invalid(entry?.value ?? (root as Node), 'correlation', "'correlation' must be a map with type, rules, group-by, timespan and condition.");
    return correlation;
  }
  const body = entry.value;

  const type = readCorrelationType(check, body);
  if (type !== undefined) correlation.type = type;

  correlation.rules = readRuleReferences(check, body);
  correlation.groupBy = check.stringList(body, 'group-by') ?? [];
  readTimespan(check, body, correlation);
  correlation.condition = readCorrelationCondition(check, body, type);
  correlation.generate = readGenerate(check, root);
  correlation.aliases = readAliases(check, body);
  return correlation;
}

/** Returns the correlation type, or undefined when it is missing or unknown (an error is recorded). */
function readCorrelationType(check: DocumentCheck, body: YAMLMap<unknown, unknown>): CorrelationType | undefined {
  const typeText = check.string(body, 'type', true);
  if (typeText === undefined) return undefined;
  if ((CORRELATION_TYPES as readonly string[]).includes(typeText)) return typeText as CorrelationType;

  const typeNode = mapEntries(body).find((item) => item.key === 'type')?.value;
  check.invalid(typeNode, 'correlation.type', `Unknown correlation type '${typeText}'. Use one of: ${CORRELATION_TYPES.join(', ')}.`);
  return undefined;
}

function readRuleReferences(check: DocumentCheck, body: YAMLMap<unknown, unknown>): RuleReference[] {
  const entry = mapEntries(body).find((item) => item.key === 'rules');
  if (!entry || entry.value === null) {
    check.invalid(body as Node, 'correlation.rules', "Missing 'correlation.rules': list the ids or names of the rules to correlate.");
    return [];
  }
  const nodes = isSeq(entry.value) ? (entry.value.items as Node[]) : [entry.value];
  const references: RuleReference[] = [];
  for (const node of nodes) {
    if (!isScalar(node) || node.value === null || typeof node.value === 'object') {
      check.invalid(node, 'correlation.rules', 'Every item of correlation.rules must be a rule id or name.');
      continue;
    }
    const reference = String(node.value);
    // A temporal correlation counts entries, so a rule listed twice would count one event twice.
    if (references.some((earlier) => earlier.reference === reference)) {
      check.invalid(node, 'correlation.rules', `Rule '${reference}' is listed twice in correlation.rules. List each rule once.`);
      continue;
    }
    references.push({ reference, location: check.at(node) });
  }
  return references;
}

function readTimespan(check: DocumentCheck, body: YAMLMap<unknown, unknown>, correlation: CorrelationRule): void {
  const text = check.string(body, 'timespan', true);
  if (text === undefined) return;
  const match = TIMESPAN.exec(text.trim());
  const node = mapEntries(body).find((item) => item.key === 'timespan')?.value;
  if (!match || Number(match[1]) === 0) {
    check.invalid(node, 'correlation.timespan', `Invalid timespan '${text}'. Write a positive number and a unit s, m, h or d, e.g. '5m'.`);
    return;
  }
  const timespanMs = durationMs(text);
  if (!isWithinMaxDuration('correlation.timespan', timespanMs)) {
    const max = maxDurationText('correlation.timespan');
    check.invalid(node, 'correlation.timespan', `Timespan '${text.trim()}' is longer than the largest allowed, ${max}. Use a timespan of at most ${max}.`);
    return;
  }
  correlation.timespanMs = timespanMs;
  correlation.timespanText = text.trim();
}

function readCorrelationCondition(
  check: DocumentCheck,
  body: YAMLMap<unknown, unknown>,
  type: CorrelationType | undefined,
): CorrelationCondition | undefined {
  const entry = mapEntries(body).find((item) => item.key === 'condition');
  const needsField = type === 'value_count' || type === 'value_sum' || type === 'value_avg' || type === 'value_percentile';
  const temporal = type === 'temporal' || type === 'temporal_ordered';
  if (!entry) {
    // Whether a condition is required depends on the type, so a missing or unknown type decides nothing here.
    if (type !== undefined && !temporal) check.invalid(body as Node, 'correlation.condition', `Correlation type '${type}' requires a condition, e.g. 'condition: {gte: 10}'.`);
    return undefined;
  }
  if (!isMap(entry.value)) {
    check.invalid(entry.value, 'correlation.condition', "'correlation.condition' must be a map such as '{gte: 10}'.");
    return undefined;
  }

  const condition: CorrelationCondition = { comparisons: [] };
  // An operator with an invalid value has its own error, so it still counts as a comparison here.
  let operators = 0;
  for (const item of mapEntries(entry.value)) {
    const path = `correlation.condition.${item.key}`;
    if (item.key === 'field') {
      const field = readConditionField(check, entry.value, item.value, type);
      if (field !== undefined) condition.field = field;
      continue;
    }
    if (!(OPERATORS as readonly string[]).includes(item.key)) {
      check.invalid(item.keyNode, path, `Unknown condition operator '${item.key}'. Use gt, gte, lt, lte, eq or neq.`);
      continue;
    }
    operators += 1;
    const scalar = readScalar(check.source, item.value);
    if (!scalar || scalar.number === undefined || Number.isNaN(scalar.number)) {
      check.invalid(item.value, path, `Condition '${item.key}' needs a number, got '${scalar?.text ?? 'a map or list'}'.`);
      continue;
    }
    if (!Number.isFinite(scalar.number)) {
      check.invalid(item.value, path, `Condition '${item.key}' must be a finite number, got '${scalar.text}', which is infinite or too large for a 64-bit float.`);
      continue;
    }
    if (type === 'value_percentile' && (scalar.number < 0 || scalar.number > 100)) {
      // Still recorded below, so the rule is not also reported as having no comparison.
      check.invalid(item.value, path, `value_percentile compares the share of a value in percent, so '${item.key}' must be between 0 and 100, got ${scalar.text}.`);
    }
    condition.comparisons.push({ operator: item.key as ComparisonOperator, value: scalar.number });
  }
  if (operators === 0) {
    check.invalid(entry.value, 'correlation.condition', 'The correlation condition has no comparison. Add gt, gte, lt, lte, eq or neq.');
  }
  // A `field` that is present but invalid has its own error already.
  const fieldWritten = mapEntries(entry.value).some((item) => item.key === 'field');
  if (needsField && condition.field === undefined && !fieldWritten) {
    check.invalid(entry.value, 'correlation.condition.field', `Correlation type '${type}' requires 'condition.field', the field whose values are counted or aggregated.`);
  }
  return condition;
}

/**
 * Reads `condition.field`: a field name, or for value_count a list of names. The correlation
 * specification links several values in `field` by AND, so value_count counts distinct
 * combinations of their values.
 */
function readConditionField(
  check: DocumentCheck,
  condition: YAMLMap<unknown, unknown>,
  value: unknown,
  type: CorrelationType | undefined,
): string | string[] | undefined {
  if (!isSeq(value)) return check.string(condition, 'field', false);
  const path = 'correlation.condition.field';
  if (type !== 'value_count') {
    check.invalid(value, path, `'condition.field' of a ${type ?? 'correlation'} rule must be one field name, because only value_count counts combinations of several fields. Name one field.`);
    return undefined;
  }
  const fields = check.stringList(condition, 'field');
  if (fields === undefined) return undefined;
  if (fields.length === 0) {
    check.invalid(value, path, "'condition.field' is an empty list. Name the field or fields whose distinct values are counted.");
    return undefined;
  }
  const repeated = fields.find((field, index) => fields.indexOf(field) !== index);
  if (repeated !== undefined) {
    check.invalid(value, path, `'condition.field' lists '${repeated}' twice. List each field once.`);
    return undefined;
  }
  return fields.length === 1 ? fields[0] : fields;
}

function readGenerate(check: DocumentCheck, root: YAMLMap<unknown, unknown>): boolean {
  const outer = mapEntries(root).find((item) => item.key === 'generate');
  const correlation = mapEntries(root).find((item) => item.key === 'correlation');
  const inner = isMap(correlation?.value) ? mapEntries(correlation.value).find((item) => item.key === 'generate') : undefined;
  const entry = outer ?? inner;
  if (!entry) return false;
  if (isScalar(entry.value) && typeof entry.value.value === 'boolean') return entry.value.value;
  check.invalid(entry.value, 'generate', "'generate' must be true or false.");
  return false;
}

function readAliases(check: DocumentCheck, body: YAMLMap<unknown, unknown>): Map<string, Map<string, string>> {
  const aliases = new Map<string, Map<string, string>>();
  const entry = mapEntries(body).find((item) => item.key === 'aliases');
  if (!entry) return aliases;
  if (!isMap(entry.value)) {
    check.invalid(entry.value, 'correlation.aliases', "'correlation.aliases' must map each alias to a map of rule name -> field.");
    return aliases;
  }
  for (const alias of mapEntries(entry.value)) {
    if (!isMap(alias.value)) {
      check.invalid(alias.value ?? alias.keyNode, `correlation.aliases.${alias.key}`, `Alias '${alias.key}' must map rule names to field names.`);
      continue;
    }
    const fields = new Map<string, string>();
    for (const item of mapEntries(alias.value)) {
      const field = check.string(alias.value, item.key, true);
      if (field !== undefined) fields.set(item.key, field);
    }
    aliases.set(alias.key, fields);
  }
  return aliases;
}

/** Reads a selection (a map, or a list of maps) outside a rule, e.g. a log source condition in the mapping file. */
export function readSelection(
  source: SourceDocument,
  path: string,
  keyNode: Node,
  node: Node | null,
): { alternatives: FieldItem[][]; errors: HolterError[] } {
  const check = new DocumentCheck(source);
  const search = readSearchIdentifier(check, path, keyNode, node);
  return { alternatives: search?.alternatives ?? [], errors: check.errors };
}
