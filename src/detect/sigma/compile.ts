/**
 * Compilation of detection rules into closures: each search identifier, the condition and
 * the log source condition become predicates over a MatchScope, built once per rule.
 */
import type { HolterError } from '../../errors.js';
import type { RuleInfo } from '../types.js';
import { expandQuantifier, parseCondition } from './condition.js';
import type { ConditionNode } from './condition.js';
import { candidatesAccessor, pathAccessor } from './fields.js';
import type { FieldAccessor } from './fields.js';
import { detectionFingerprint } from './fingerprint.js';
import { describeLogsource, logsourceEntries, resolveFieldPaths } from './mapping.js';
import type { LogsourceMapping, SigmaMapping } from './mapping.js';
import type { DetectionRule, FieldItem, SigmaDocument } from './model.js';
import { compileFieldItem } from './modifiers.js';
import type { ItemContext } from './modifiers.js';
import { ruleError } from './parse.js';
import { requiredLiterals } from './prefilter.js';
import type { Clause } from './prefilter.js';
import type { EventPredicate } from './scope.js';

export interface CompiledLogsource {
  description: string;
  predicate: EventPredicate;
  /** Index keys (`path\0value`) of which an event must carry one; null when the rule is tested on every event. */
  indexKeys: string[] | null;
}

export interface CompiledRule {
  rule: DetectionRule;
  info: RuleInfo;
  detection: EventPredicate;
  /** Undefined when the mapping has no entry for the rule's log source: the rule never matches. */
  logsource?: CompiledLogsource;
  /** Clauses of required literals, each of which an event must pass for the rule to match; null when none is provably required (prefilter.ts). */
  literals: Clause[] | null;
  /** Reads a Sigma field name as this rule's log source maps it (used for group-by and aliases). */
  accessor(field: string): FieldAccessor;
  /** Fingerprint of the rule's logic, with the filters applied to it (see fingerprint.ts). */
  fingerprint: string;
}

export interface CompileOptions {
  mapping: SigmaMapping;
  placeholders: Record<string, string[]>;
  /** IANA time zone in which time modifiers (hour, day...) read dates: the facility's. */
  timeZone: string;
}

const ALWAYS: EventPredicate = () => true;

export function ruleInfo(document: SigmaDocument): RuleInfo {
  // A Sigma `name` is the rule's readable, unique handle, so it becomes the ECS rule.id and
  // the UUID goes to rule.uuid; rules without a name keep their UUID as the id.
  const info: RuleInfo = {
    id: document.name ?? document.id ?? document.title,
    name: document.title,
    ruleset: 'sigma',
    tags: document.tags,
    file: document.location.file,
    line: document.location.line,
  };
  if (document.id !== undefined) info.uuid = document.id;
  if (document.description !== undefined) info.description = document.description;
  if (document.author !== undefined) info.author = document.author;
  if (document.references !== undefined) info.references = document.references;
  return info;
}

/** Compiles a detection rule, or returns the located errors that stop it from loading. */
export function compileDetectionRule(
  rule: DetectionRule,
  options: CompileOptions,
  logsourceCache: Map<string, CompiledLogsource | null>,
): { compiled?: CompiledRule; errors: HolterError[] } {
  const errors: HolterError[] = [];
  const accessors = new Map<string, FieldAccessor>();
  const accessor = (field: string): FieldAccessor => {
    let found = accessors.get(field);
    if (found === undefined) {
      found = candidatesAccessor(resolveFieldPaths(options.mapping, rule.logsource, field));
      accessors.set(field, found);
    }
    return found;
  };
  const context: ItemContext = { accessor, placeholders: options.placeholders, timeZone: options.timeZone, errors };

  const searches = new Map<string, EventPredicate>();
  for (const [name, search] of rule.searches) {
    searches.set(name, compileAlternatives(search.alternatives, context));
  }

  const conditions: EventPredicate[] = [];
  for (const text of rule.conditions) {
    const tree = parseCondition(text);
    if (tree instanceof Error) {
      errors.push(tree);
      continue;
    }
    const predicate = compileCondition(tree, searches, [...rule.searches.keys()], errors);
    if (predicate) conditions.push(predicate);
  }
  if (errors.length > 0) return { errors };

  const detection = conditions.length === 1 ? (conditions[0] as EventPredicate) : anyOf(conditions);
  const logsource = compileLogsource(rule, options, logsourceCache, errors);
  if (errors.length > 0) return { errors };

  const fingerprint = detectionFingerprint(rule, { timeZone: options.timeZone, placeholders: options.placeholders });
  const literals = requiredLiterals(rule, accessor);
  const compiled: CompiledRule = { rule, info: ruleInfo(rule), detection, literals, accessor, fingerprint };
  if (logsource) compiled.logsource = logsource;
  return { compiled, errors };
}

function allOf(predicates: EventPredicate[]): EventPredicate {
  if (predicates.length === 1) return predicates[0] as EventPredicate;
  return (scope) => {
    for (const predicate of predicates) if (!predicate(scope)) return false;
    return true;
  };
}

function anyOf(predicates: EventPredicate[]): EventPredicate {
  if (predicates.length === 1) return predicates[0] as EventPredicate;
  return (scope) => {
    for (const predicate of predicates) if (predicate(scope)) return true;
    return false;
  };
}

function compileAlternatives(alternatives: FieldItem[][], context: ItemContext): EventPredicate {
  const compiled = alternatives.map((items) => {
    const predicates = items.map((item) => compileFieldItem(item, context));
    return allOf(predicates.filter((predicate): predicate is EventPredicate => predicate !== undefined));
  });
  return anyOf(compiled);
}

function compileCondition(
  node: ConditionNode,
  searches: Map<string, EventPredicate>,
  names: string[],
  errors: HolterError[],
): EventPredicate | undefined {
  switch (node.kind) {
    case 'and':
    case 'or': {
      const items = node.items.map((item) => compileCondition(item, searches, names, errors));
      if (items.some((item) => item === undefined)) return undefined;
      return node.kind === 'and' ? allOf(items as EventPredicate[]) : anyOf(items as EventPredicate[]);
    }
    case 'not': {
      const inner = compileCondition(node.item, searches, names, errors);
      return inner === undefined ? undefined : (scope) => !inner(scope);
    }
    case 'identifier': {
      const search = searches.get(node.name);
      if (search === undefined) {
        errors.push(ruleError('HOLTER_RULE_INVALID', `The condition refers to '${node.name}', which is not a search identifier of this rule. Define it under detection or fix the name.`, node.location, 'detection.condition'));
      }
      return search;
    }
    case 'quantifier': {
      const matched = expandQuantifier(node.pattern, names);
      if (matched.length === 0) {
        const target = node.pattern ?? 'them';
        errors.push(ruleError('HOLTER_RULE_INVALID', `'${node.quantity} of ${target}' matches no search identifier. Fix the pattern or define a matching identifier.`, node.location, 'detection.condition'));
        return undefined;
      }
      const predicates = matched.map((name) => searches.get(name) as EventPredicate);
      if (node.quantity === 'all') return allOf(predicates);
      if (node.quantity === 1) return anyOf(predicates);
      const needed = node.quantity;
      return (scope) => {
        let count = 0;
        for (const predicate of predicates) if (predicate(scope) && ++count >= needed) return true;
        return false;
      };
    }
  }
}

function compileLogsource(
  rule: DetectionRule,
  options: CompileOptions,
  cache: Map<string, CompiledLogsource | null>,
  errors: HolterError[],
): CompiledLogsource | undefined {
  const description = describeLogsource(rule.logsource);
  const cached = cache.get(description);
  if (cached !== undefined) return cached ?? undefined;

  const entries = logsourceEntries(options.mapping, rule.logsource);
  if (entries === undefined) {
    cache.set(description, null);
    return undefined;
  }

  const context: ItemContext = { accessor: pathAccessor, placeholders: {}, timeZone: options.timeZone, errors };
  const predicates = entries
    .filter((entry) => entry.alternatives.length > 0)
    .map((entry) => compileAlternatives(entry.alternatives, context));
  const compiled: CompiledLogsource = {
    description,
    predicate: predicates.length === 0 ? ALWAYS : allOf(predicates),
    indexKeys: indexKeysFor(entries, options.mapping.indexFields),
  };
  cache.set(description, compiled);
  return compiled;
}

export function indexKey(path: string, value: string): string {
  return `${path}\u0000${value.toLowerCase()}`;
}

/**
 * Index keys from the most specific entry whose every alternative has a plain equality on
 * an index field. An event outside all these keys cannot meet that entry's condition.
 */
function indexKeysFor(entries: LogsourceMapping[], indexFields: string[]): string[] | null {
  for (const entry of entries) {
    if (entry.alternatives.length === 0) continue;
    const keys: string[] = [];
    let indexable = true;
    for (const alternative of entry.alternatives) {
      const field = indexFields.find((path) => alternative.some((item) => isPlainEquality(item, path)));
      if (field === undefined) {
        indexable = false;
        break;
      }
      const item = alternative.find((candidate) => isPlainEquality(candidate, field)) as FieldItem;
      keys.push(...item.values.map((value) => indexKey(field, value.text)));
    }
    if (indexable) return [...new Set(keys)];
  }
  return null;
}

function isPlainEquality(item: FieldItem, path: string): boolean {
  return item.field === path && item.modifiers.length === 0 && item.values.every((value) => value.kind !== 'null' && !/[*?\\]/.test(value.text));
}
