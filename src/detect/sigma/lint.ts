/**
 * Lint checks for Sigma rule files: problems that do not stop a rule from loading but make it
 * wrong or hard to run (no id, a search identifier the condition never uses, a field the mapping
 * cannot resolve). Load errors come from the engine itself, so most findings are warnings. The
 * exception is a summary template that puts a patient identifier into alert text, an error.
 */
import { isMap, isNode } from 'yaml';
import type { Node } from 'yaml';

import { ENTRA_FIELDS } from '../../decoders/entra.js';
import { OKTA_FIELDS } from '../../decoders/okta.js';
import type { SourceLocation } from '../../errors.js';
import { expandQuantifier, parseCondition } from './condition.js';
import type { ConditionNode } from './condition.js';
import { CHECKED_ECS_NAMESPACES, closestField, ECS_FIELDS, EVENT_NAMESPACES } from './ecs-fields.js';
import { lintUnreachableCorrelation } from './lint-correlation.js';
import { lintSummaryTemplate } from './lint-template.js';
import type { TemplateFields } from './lint-template.js';
import { describeLogsource, logsourceEntries, resolveFieldPaths } from './mapping.js';
import type { SigmaMapping } from './mapping.js';
import type { CorrelationRule, DetectionRule, SigmaDocument } from './model.js';
import { conditionFields } from './model.js';
import { locate, parseRuleText } from './parse.js';
import type { SourceDocument } from './parse.js';
import type { RuleSource } from './ruleset.js';
import { validateDocument } from './validate.js';

/** Codes of the lint warnings, with what each means. docs/rules.md lists the same codes. */
export const LINT_CODES = {
  HOLTER_LINT_MISSING_ID: 'The rule has no `id` (a UUID that stays the same when the rule is renamed).',
  HOLTER_LINT_MISSING_LEVEL: 'The rule has no `level`, so its detections get the default severity medium.',
  HOLTER_LINT_MISSING_DESCRIPTION: 'The rule has no `description` for the analyst who reads its alerts.',
  HOLTER_LINT_ID_NOT_UUID: 'The `id` is not a UUID, which the specification asks for so that ids stay unique across rule sets.',
  HOLTER_LINT_UNKNOWN_STATUS: 'The `status` is not one of stable, test, experimental, deprecated or unsupported.',
  HOLTER_LINT_UNUSED_SEARCH: 'A search identifier is never used by the condition, so it has no effect.',
  HOLTER_LINT_UNKNOWN_FIELD: 'A field that the mapping cannot resolve to an event field for the log source, so it never has a value.',
  HOLTER_LINT_LOGSOURCE_UNMAPPED: 'The mapping has no entry for the log source, so the rule never matches.',
  HOLTER_LINT_SUMMARY_PLACEHOLDER: 'A `holter.summary` placeholder is unclosed or empty, so it renders as written or as unknown.',
  HOLTER_LINT_SUMMARY_PATIENT_FIELD: 'A `holter.summary` placeholder reads a patient identifier, which alert text must not carry (an error).',
  HOLTER_LINT_UNREACHABLE_CORRELATION: 'A temporal correlation names fewer rules than its condition needs, so it never fires.',
  HOLTER_LINT_ALL_SINGLE_VALUE: 'The `all` modifier is on a single value, which the Sigma modifiers appendix does not allow because some back-ends cannot support it.',
} as const;

export type LintCode = keyof typeof LINT_CODES;

export interface LintFinding {
  severity: 'warning' | 'error';
  code: LintCode;
  message: string;
  /** The fix, in a few words. */
  hint: string;
  location: SourceLocation;
}

/**
 * Fields that Holter itself sets in its own namespaces. A rule that names another `holter.*` or
 * `event.*` path reads a field no decoder or enrich step writes. The list follows src/event.ts
 * and docs/event.md. The intermediate objects are listed too, for `exists` checks.
 */
const HOLTER_FIELDS = new Set([
  'holter.source', 'holter.source.input', 'holter.source.line', 'holter.source.offset', 'holter.source.format',
  'holter.source.topic', 'holter.source.partition',
  'holter.patient', 'holter.patient.id', 'holter.patient.token', 'holter.patient.vip', 'holter.patient.employee',
  'holter.patient.deceased', 'holter.patient.self_access',
  'holter.acting_patient', 'holter.acting_patient.id', 'holter.acting_patient.token',
  'holter.record', 'holter.record.type', 'holter.record.id', 'holter.record.count',
  'holter.dicom', 'holter.dicom.study_uids', 'holter.dicom.study_count', 'holter.dicom.series_count',
  'holter.dicom.instance_count', 'holter.dicom.bytes', 'holter.dicom.accession', 'holter.dicom.sop_classes',
  'holter.access', 'holter.access.purpose', 'holter.access.break_glass', 'holter.access.reason',
  'holter.user', 'holter.user.id', 'holter.user.known', 'holter.user.role', 'holter.user.department',
  'holter.user.facility', 'holter.user.time_zone', 'holter.user.shift',
  'event', 'event.id', 'event.kind', 'event.category', 'event.type', 'event.action', 'event.outcome',
  'event.dataset', 'event.module', 'event.provider', 'event.code', 'event.reason', 'event.ingested', 'event.severity',
  // Further ECS event fields, which a generic JSON mapping may set.
  'event.created', 'event.start', 'event.end', 'event.duration', 'event.original', 'event.timezone', 'event.sequence',
  'event.risk_score', 'event.url', 'event.hash',
]);

const MISSING_CODES = new Set<LintCode>(['HOLTER_LINT_MISSING_ID', 'HOLTER_LINT_MISSING_LEVEL', 'HOLTER_LINT_MISSING_DESCRIPTION']);

/** Values of `status` in the Sigma rules specification. */
const STATUSES = ['stable', 'test', 'experimental', 'deprecated', 'unsupported'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Top-level event fields without a namespace (ECS base fields). */
const TOP_LEVEL_FIELDS = new Set(['@timestamp', 'message', 'tags', 'labels']);

/**
 * Lints every document of the sources, also those that fail validation (the engine reports their
 * errors), so that one run lists every problem.
 */
export function lintRuleSources(sources: RuleSource[], mapping: SigmaMapping): LintFinding[] {
  const documents: SigmaDocument[] = [];
  const rejected = new Set<SigmaDocument>();
  const sourceOf = new Map<SigmaDocument, SourceDocument>();
  const textOf = new Map<SigmaDocument, string>();
  for (const source of sources) {
    for (const parsed of parseRuleText(source.text, source.file).documents) {
      const result = validateDocument(parsed);
      const document = result.document ?? result.partial;
      if (document === undefined) continue;
      documents.push(document);
      sourceOf.set(document, parsed);
      textOf.set(document, source.text);
      if (result.partial) rejected.add(result.partial);
    }
  }

  const byReference = new Map<string, SigmaDocument>();
  for (const document of documents) {
    for (const key of [document.id, document.name]) if (key !== undefined && !byReference.has(key)) byReference.set(key, document);
  }

  const findings: LintFinding[] = [];
  for (const document of documents) {
    // In a rejected document a missing attribute may be one whose value was invalid, already an error.
    const metadata = lintMetadata(document, sourceOf.get(document));
    findings.push(...(rejected.has(document) ? metadata.filter((item) => !MISSING_CODES.has(item.code)) : metadata));
    if (document.kind === 'rule') {
      findings.push(...lintUnusedSearches(document));
      findings.push(...lintAllOnSingleValue(document));
      findings.push(...lintRuleFields(document, mapping));
    } else {
      findings.push(...lintCorrelationFields(document, byReference, mapping));
      findings.push(...lintUnreachableCorrelation(document, locationAt(sourceOf.get(document), ['correlation', 'condition']) ?? document.location));
    }
    findings.push(...lintSummary(document, sourceOf.get(document), textOf.get(document) ?? '', byReference, mapping));
  }
  return findings;
}

function finding(code: LintCode, location: SourceLocation, message: string, hint: string): LintFinding {
  return { severity: 'warning', code, message, hint, location };
}

/** Returns the YAML node at a key path of the document, such as `holter.summary`, if it is there. */
function nodeAt(source: SourceDocument | undefined, keys: string[]): Node | undefined {
  let node: unknown = source?.document.contents;
  for (const key of keys) node = isMap(node) ? node.get(key, true) : undefined;
  return isNode(node) ? node : undefined;
}

function locationAt(source: SourceDocument | undefined, keys: string[]): SourceLocation | undefined {
  const node = nodeAt(source, keys);
  return source === undefined || node === undefined ? undefined : locate(source, node);
}

function lintMetadata(document: SigmaDocument, source: SourceDocument | undefined): LintFinding[] {
  const findings: LintFinding[] = [];
  const title = document.title;
  // A warning about a value points at that value; one about a missing key at the document.
  const at = (key: string): SourceLocation => {
    return locationAt(source, [key]) ?? document.location;
  };
  if (document.id === undefined) {
    findings.push(finding('HOLTER_LINT_MISSING_ID', document.location, `Rule '${title}' has no id.`, 'add `id:` with a new UUID and keep it when the rule changes'));
  }
  if (document.level === undefined) {
    findings.push(finding('HOLTER_LINT_MISSING_LEVEL', document.location, `Rule '${title}' has no level, so its detections are medium.`, 'add `level:` informational, low, medium, high or critical'));
  }
  if (document.description === undefined || document.description.trim() === '') {
    findings.push(finding('HOLTER_LINT_MISSING_DESCRIPTION', document.location, `Rule '${title}' has no description.`, 'add `description:` saying what the rule finds and what the analyst should check'));
  }
  if (document.id !== undefined && !UUID.test(document.id)) {
    findings.push(finding('HOLTER_LINT_ID_NOT_UUID', at('id'), `Rule '${title}' has id '${document.id}', which is not a UUID.`, 'use a new random UUID as id; refer to the rule by `name` in correlations'));
  }
  if (document.status !== undefined && !STATUSES.includes(document.status)) {
    findings.push(finding('HOLTER_LINT_UNKNOWN_STATUS', at('status'), `Rule '${title}' has status '${document.status}'.`, `use one of ${STATUSES.join(', ')}`));
  }
  return findings;
}

function lintUnusedSearches(rule: DetectionRule): LintFinding[] {
  const names = [...rule.searches.keys()];
  const used = new Set<string>();
  for (const condition of rule.conditions) {
    const tree = parseCondition(condition);
    // A condition that does not parse is a load error, reported by the engine.
    if (tree instanceof Error) return [];
    collectUsed(tree, names, used);
  }

  const findings: LintFinding[] = [];
  for (const [name, search] of rule.searches) {
    if (used.has(name)) continue;
    findings.push(
      finding('HOLTER_LINT_UNUSED_SEARCH', search.location, `Search identifier '${name}' of rule '${rule.title}' is not used by the condition.`, `use '${name}' in detection.condition, or remove it`),
    );
  }
  return findings;
}

/**
 * Reports `all` on a field or keyword search with one value. Holter matches it as the value alone,
 * but the Sigma modifiers appendix does not allow it, so other tools may reject the rule.
 */
function lintAllOnSingleValue(rule: DetectionRule): LintFinding[] {
  const findings: LintFinding[] = [];
  for (const search of rule.searches.values()) {
    for (const items of search.alternatives) {
      for (const item of items) {
        if (!item.modifiers.includes('all') || item.values.length !== 1) continue;
        const subject = item.field === null ? 'a keyword search' : `field '${item.field}'`;
        const message = `The 'all' modifier of ${subject} in rule '${rule.title}' has a single value. The Sigma specification allows 'all' only on a list of values.`;
        findings.push(finding('HOLTER_LINT_ALL_SINGLE_VALUE', item.location, message, 'remove `|all`, or list the values that must all match'));
      }
    }
  }
  return findings;
}

function collectUsed(node: ConditionNode, names: string[], used: Set<string>): void {
  switch (node.kind) {
    case 'and':
    case 'or':
      for (const item of node.items) collectUsed(item, names, used);
      return;
    case 'not':
      collectUsed(node.item, names, used);
      return;
    case 'identifier':
      used.add(node.name);
      return;
    case 'quantifier':
      for (const name of expandQuantifier(node.pattern, names)) used.add(name);
  }
}

function lintRuleFields(rule: DetectionRule, mapping: SigmaMapping): LintFinding[] {
  if (logsourceEntries(mapping, rule.logsource) === undefined) return [];
  const findings: LintFinding[] = [];
  const reported = new Set<string>();
  for (const search of rule.searches.values()) {
    for (const items of search.alternatives) {
      for (const item of items) {
        const fields = item.field === null ? [] : [item.field];
        if (item.modifiers.includes('fieldref')) fields.push(...item.values.map((value) => value.text));
        for (const field of fields) {
          const problem = unresolvedReason(mapping, rule, field);
          if (problem === undefined || reported.has(field)) continue;
          reported.add(field);
          findings.push(finding('HOLTER_LINT_UNKNOWN_FIELD', item.location, `Field '${field}' of rule '${rule.title}' ${problem}`, fieldHint(field)));
        }
      }
    }
  }
  return findings;
}

/** Checks group-by and condition.field against each referenced detection rule's log source, aliases applied. */
function lintCorrelationFields(correlation: CorrelationRule, byReference: Map<string, SigmaDocument>, mapping: SigmaMapping): LintFinding[] {
  const fields = [...correlation.groupBy];
  fields.push(...conditionFields(correlation.condition));

  const findings: LintFinding[] = [];
  for (const reference of correlation.rules) {
    const target = byReference.get(reference.reference);
    if (target === undefined || target.kind !== 'rule') continue;
    if (logsourceEntries(mapping, target.logsource) === undefined) continue;
    for (const field of fields) {
      const aliased = aliasedField(correlation, field, target);
      const problem = unresolvedReason(mapping, target, aliased);
      if (problem === undefined) continue;
      const message = `Field '${aliased}' of correlation '${correlation.title}' (for rule '${reference.reference}') ${problem}`;
      findings.push(finding('HOLTER_LINT_UNKNOWN_FIELD', reference.location, message, fieldHint(aliased)));
    }
  }
  return findings;
}

/** Lints the `holter.summary` template against the fields the rule's events, or the correlation's window, fill it from. */
function lintSummary(
  document: SigmaDocument,
  source: SourceDocument | undefined,
  text: string,
  byReference: Map<string, SigmaDocument>,
  mapping: SigmaMapping,
): LintFinding[] {
  const template = document.holter.summary;
  const node = nodeAt(source, ['holter', 'summary']);
  if (template === undefined || source === undefined || node === undefined) return [];
  const fields = document.kind === 'rule' ? ruleTemplateFields(document, mapping) : correlationTemplateFields(document, byReference, mapping);
  return lintSummaryTemplate(template, fields, { source, text, node });
}

function ruleTemplateFields(rule: DetectionRule, mapping: SigmaMapping): TemplateFields {
  // Without a mapping entry the rule never matches, which HOLTER_LINT_LOGSOURCE_UNMAPPED reports.
  const mapped = logsourceEntries(mapping, rule.logsource) !== undefined;
  return {
    title: rule.title,
    unknownReason: (name) => (mapped ? unresolvedReason(mapping, rule, name) : undefined),
    eventPaths: (name) => resolveFieldPaths(mapping, rule.logsource, name),
    unknownHint: fieldHint,
  };
}

/** Names a correlation summary is filled from (explain.ts), besides the group-by fields. */
const CORRELATION_TEMPLATE_VALUES = ['actual', 'threshold', 'window'];

function correlationTemplateFields(correlation: CorrelationRule, byReference: Map<string, SigmaDocument>, mapping: SigmaMapping): TemplateFields {
  const names = [...CORRELATION_TEMPLATE_VALUES, ...correlation.groupBy];
  const targets = correlation.rules.map((reference) => byReference.get(reference.reference)).filter((target) => target?.kind === 'rule');
  return {
    title: correlation.title,
    unknownReason: (name) =>
      names.includes(name) ? undefined : `is not one of the values a correlation summary is filled from: ${names.map((item) => `{${item}}`).join(', ')}.`,
    // A group-by value comes from each referenced rule's events, through the aliases and the mapping.
    eventPaths: (name) => {
      if (!correlation.groupBy.includes(name)) return [];
      return targets.flatMap((target) => resolveFieldPaths(mapping, target.logsource, aliasedField(correlation, name, target)));
    },
    unknownHint: () => 'add the field to correlation.group-by, or use {actual}, {threshold} or {window}',
  };
}

function aliasedField(correlation: CorrelationRule, field: string, target: DetectionRule): string {
  const byRule = correlation.aliases.get(field);
  if (byRule === undefined) return field;
  for (const key of [target.name, target.id]) {
    const aliased = key === undefined ? undefined : byRule.get(key);
    if (aliased !== undefined) return aliased;
  }
  return field;
}

/**
 * Returns why the field cannot have a value for the rule's log source, or undefined when it
 * resolves. A plain name is unresolved when the mapping gives no name or prefix for it. A dotted
 * name in Holter's own namespaces must be a field Holter sets.
 */
function unresolvedReason(mapping: SigmaMapping, rule: DetectionRule, field: string): string | undefined {
  const paths = resolveFieldPaths(mapping, rule.logsource, field);
  const logsource = describeLogsource(rule.logsource);
  const asWrittenOnly = paths.length === 1 && paths[0] === field;
  if (asWrittenOnly && !field.includes('.') && !TOP_LEVEL_FIELDS.has(field)) {
    return `is not mapped for log source '${logsource}': the mapping has no name or prefix for it, and events have no top-level field of that name.`;
  }
  // A plain name's own top-level path is only a fallback after the prefixed paths.
  const read = paths.filter((path) => path.includes('.') || TOP_LEVEL_FIELDS.has(path));
  if (read.length > 0 && read.every((path) => isUnknownOwnField(path))) {
    return `is not a field Holter sets (log source '${logsource}'): ${read.length === 1 ? 'it reads' : 'it reads one of'} ${read.join(', ')}.`;
  }
  if (read.length > 0 && read.every((path) => path.includes('.') && !EVENT_NAMESPACES.has(path.split('.')[0] ?? ''))) {
    return `is in no namespace that ECS or a Holter decoder uses (log source '${logsource}'): ${read.length === 1 ? 'it reads' : 'it reads one of'} ${read.join(', ')}.`;
  }
  return undefined;
}

/** The fields of each namespace that Holter or one of its decoders writes, and only it. */
const OWN_NAMESPACES = new Map<string, ReadonlySet<string>>([
  ['holter', HOLTER_FIELDS],
  ['event', HOLTER_FIELDS],
  ['okta', OKTA_FIELDS],
  ['azure', ENTRA_FIELDS],
  // NOTE: a generic JSON mapping (docs/event.md) may write other ECS fields, which lint still reports.
  ...[...CHECKED_ECS_NAMESPACES].map((namespace): [string, ReadonlySet<string>] => [namespace, ECS_FIELDS]),
]);

function isUnknownOwnField(path: string): boolean {
  const known = OWN_NAMESPACES.get(path.split('.')[0] ?? '');
  return known !== undefined && !known.has(path);
}

/**
 * Returns why an event field path named in a detector file can never have a value, or undefined
 * when it may have one. A field never has a value when it is a plain name other than the ECS base
 * fields, or a path that Holter or one of its decoders owns but does not write.
 */
export function unknownEventField(field: string): string | undefined {
  if (!field.includes('.') && !TOP_LEVEL_FIELDS.has(field)) return `'${field}' is not an event field: events have no top-level field of that name`;
  if (isUnknownOwnField(field)) return `'${field}' is not a field Holter sets`;
  return undefined;
}

/** Returns the known field of the path's namespace closest in spelling, if one is close. */
function suggestField(field: string): string | undefined {
  const known = OWN_NAMESPACES.get(field.split('.')[0] ?? '');
  return known === undefined ? undefined : closestField(field, known);
}

/**
 * Returns the fix for a field of a detector file that never has a value: the closest known field,
 * else where the fields are listed. Detectors read event paths as written, so no mapping applies.
 */
export function detectorFieldHint(field: string): string {
  const suggestion = suggestField(field);
  if (suggestion !== undefined) return `did you mean ${suggestion}? The fields are listed in docs/event.md`;
  return 'check the spelling against the field list in docs/event.md';
}

/** Returns the fix for a field that never has a value: the closest known field, else where the fields are listed. */
export function fieldHint(field: string): string {
  const suggestion = suggestField(field);
  if (suggestion !== undefined) return `did you mean ${suggestion}? The fields are listed in docs/event.md`;
  if (OWN_NAMESPACES.has(field.split('.')[0] ?? '')) return 'check the spelling against the field list in docs/event.md';
  return 'use the event field path from docs/event.md, or add a name for it to the mapping file';
}
