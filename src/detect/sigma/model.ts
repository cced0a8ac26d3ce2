/**
 * The Sigma rule model after validation: plain data, each piece with its source location.
 * Terms follow the Sigma specification (search identifier, selection, modifier, condition,
 * correlation, timespan, group-by).
 */
import type { SourceLocation } from '../../errors.js';
import type { Severity } from '../types.js';
import type { RuleScalar } from './parse.js';

export interface Logsource {
  category?: string;
  product?: string;
  service?: string;
}

/**
 * One `field|modifier: value(s)` item of a selection. `field` is null for a keyword
 * search (a plain list of strings, or a `'|all':` key).
 */
export interface FieldItem {
  field: string | null;
  modifiers: string[];
  values: RuleScalar[];
  location: SourceLocation;
}

/** A search identifier: OR over alternatives, each alternative an AND over field items. */
export interface SearchIdentifier {
  name: string;
  alternatives: FieldItem[][];
  location: SourceLocation;
}

export interface ConditionText {
  text: string;
  location: SourceLocation;
}

/** Holter's optional custom attribute (`holter:`) that shapes the explanation. */
export interface HolterRuleOptions {
  /** Sentence template with `{field.path}` placeholders filled from the trigger event. */
  summary?: string;
  /** Plural noun for what a correlation counts, e.g. `failed logins`. */
  noun?: string;
}

interface RuleCommon {
  title: string;
  id?: string;
  name?: string;
  description?: string;
  author?: string;
  references?: string[];
  tags: string[];
  status?: string;
  level?: Severity;
  holter: HolterRuleOptions;
  location: SourceLocation;
}

export interface DetectionRule extends RuleCommon {
  kind: 'rule';
  logsource: Logsource;
  searches: Map<string, SearchIdentifier>;
  conditions: ConditionText[];
}

export type CorrelationType =
  | 'event_count'
  | 'value_count'
  | 'temporal'
  | 'temporal_ordered'
  | 'value_sum'
  | 'value_avg'
  | 'value_percentile';

export type ComparisonOperator = 'gt' | 'gte' | 'lt' | 'lte' | 'eq' | 'neq';

export interface CorrelationCondition {
  comparisons: { operator: ComparisonOperator; value: number }[];
  /**
   * Field counted or aggregated, for value_count, value_sum, value_avg and value_percentile. A list
   * (value_count only) counts distinct combinations of the fields' values.
   */
  field?: string | string[];
}

/** Returns the fields of a correlation condition's `field`, a list of one for a single name. */
export function conditionFields(condition: CorrelationCondition | undefined): string[] {
  const field = condition?.field;
  if (field === undefined) return [];
  return typeof field === 'string' ? [field] : field;
}

export interface RuleReference {
  reference: string;
  location: SourceLocation;
}

export interface CorrelationRule extends RuleCommon {
  kind: 'correlation';
  type: CorrelationType;
  rules: RuleReference[];
  groupBy: string[];
  timespanMs: number;
  /** The timespan as written (`5m`), for explanations. */
  timespanText: string;
  /** Absent for temporal types without a condition: then every referenced rule must match. */
  condition?: CorrelationCondition;
  generate: boolean;
  /** alias -> rule name -> field. */
  aliases: Map<string, Map<string, string>>;
}

export type SigmaDocument = DetectionRule | CorrelationRule;

/**
 * A Sigma filter (meta filter): a selection and condition that suppress the matches of the rules
 * it names, for environment-specific tuning of many rules at once (Sigma filters specification).
 */
export interface FilterDocument {
  kind: 'filter';
  title: string;
  id?: string;
  description?: string;
  logsource: Logsource;
  rules: RuleReference[];
  searches: Map<string, SearchIdentifier>;
  conditions: ConditionText[];
  location: SourceLocation;
}
