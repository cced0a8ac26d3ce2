/**
 * Fingerprints of rule logic. Saved and carried-over correlation state is keyed by them, so
 * state survives edits that do not change what a rule matches or counts (title, level,
 * description, tags, position in the file) and is dropped when the logic changes.
 */
import { createHash } from 'node:crypto';

import type { CorrelationRule, DetectionRule, FieldItem, FilterDocument, Logsource, SearchIdentifier } from './model.js';

/** Settings outside the rule that change what some rules match. */
export interface FingerprintContext {
  /** Facility time zone: part of the logic of rules with time modifiers (hour, day...). */
  timeZone: string;
  /** `%name%` values: part of the logic of rules with the expand modifier. */
  placeholders: Record<string, string[]>;
}

const TIME_PARTS = new Set(['minute', 'hour', 'day', 'week', 'month', 'year']);

/** Computes the fingerprint of a detection rule from its log source, search identifiers and conditions. */
export function detectionFingerprint(rule: Pick<DetectionRule, 'logsource' | 'searches' | 'conditions'>, context: FingerprintContext): string {
  return digest({
    logsource: canonicalLogsource(rule.logsource),
    searches: canonicalSearches(rule.searches),
    conditions: rule.conditions.map((condition) => condition.text),
    settings: settingsUsed(rule.searches, context),
  });
}

/** Computes the fingerprint of a detection rule after a Sigma filter narrowed it. */
export function filteredFingerprint(ruleFingerprint: string, filter: FilterDocument, context: FingerprintContext): string {
  return digest({ rule: ruleFingerprint, filter: detectionFingerprint(filter, context) });
}

/**
 * Computes the fingerprint of a correlation from its type, group-by, timespan, condition,
 * aliases and the fingerprints of the referenced rules in their listed order.
 */
export function correlationFingerprint(rule: CorrelationRule, referencedFingerprints: string[]): string {
  const aliases = [...rule.aliases]
    .sort(([a], [b]) => compareText(a, b))
    .map(([alias, fields]) => [alias, [...fields].sort(([a], [b]) => compareText(a, b))]);
  return digest({
    type: rule.type,
    groupBy: rule.groupBy,
    timespanMs: rule.timespanMs,
    condition: rule.condition ?? null,
    aliases,
    rules: referencedFingerprints,
  });
}

function canonicalLogsource(logsource: Logsource): [string, string, string] {
  return [logsource.category ?? '', logsource.product ?? '', logsource.service ?? ''];
}

function canonicalSearches(searches: Map<string, SearchIdentifier>): unknown[] {
  return [...searches.values()]
    .sort((a, b) => compareText(a.name, b.name))
    .map((search) => [search.name, search.alternatives.map((items) => items.map(canonicalItem))]);
}

function canonicalItem(item: FieldItem): unknown {
  return [item.field, item.modifiers.map((modifier) => modifier.toLowerCase()), item.values.map((value) => [value.kind, value.text])];
}

function settingsUsed(searches: Map<string, SearchIdentifier>, context: FingerprintContext): unknown {
  const modifiers = new Set<string>();
  for (const search of searches.values()) {
    for (const items of search.alternatives) for (const item of items) for (const modifier of item.modifiers) modifiers.add(modifier.toLowerCase());
  }
  const usesTime = [...modifiers].some((modifier) => TIME_PARTS.has(modifier));
  return {
    timeZone: usesTime ? context.timeZone : null,
    placeholders: modifiers.has('expand') ? Object.entries(context.placeholders).sort(([a], [b]) => compareText(a, b)) : null,
  };
}

function compareText(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
}
