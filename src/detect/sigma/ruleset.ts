/**
 * A rule set: every document of every rule file validated and compiled, correlation
 * references resolved (by id or name, across files), and the log source index built.
 * One bad rule never stops the others: its errors are collected and loading goes on.
 */
import { HolterError } from '../../errors.js';
import type { SourceLocation } from '../../errors.js';
import type { RuleInfo } from '../types.js';
import { compileDetectionRule, indexKey, ruleInfo } from './compile.js';
import { correlationFingerprint, filteredFingerprint } from './fingerprint.js';
import type { CompiledLogsource, CompiledRule } from './compile.js';
import type { SigmaMapping } from './mapping.js';
import { conditionFields } from './model.js';
import type { CorrelationRule, DetectionRule, FilterDocument, Logsource, SigmaDocument } from './model.js';
import { KeywordScan } from './keyword-scan.js';
import { emptyFileError, parseRuleText, ruleError } from './parse.js';
import { KEYWORD_STRINGS } from './prefilter.js';
import type { RequiredLiteral } from './prefilter.js';
import type { EventPredicate, MatchScope } from './scope.js';
import { isValidTimeZone } from './time-parts.js';
import { validateDocument } from './validate.js';

export interface RuleSource {
  file: string;
  text: string;
}

/** Position of a correlation's referenced rule among the detection rules or the correlations. */
export type Target = { kind: 'rule'; index: number } | { kind: 'correlation'; index: number };

export interface CompiledCorrelation {
  rule: CorrelationRule;
  info: RuleInfo;
  targets: Target[];
  referenceTitles: string[];
  /** Per reference: the field each group-by entry reads (aliases applied). */
  groupFields: string[][];
  /** Per reference: the fields of `condition.field` (aliases applied); several only for a value_count list. */
  valueFields: (string[] | undefined)[];
  /** Fingerprint of the correlation's logic and of the rules it refers to (see fingerprint.ts). */
  fingerprint: string;
}

export interface RuleSetWarning {
  kind: 'logsource_unmapped';
  message: string;
  ruleId: string;
  location: SourceLocation;
}

export interface RuleSet {
  rules: CompiledRule[];
  correlations: CompiledCorrelation[];
  /**
   * Per detection rule: true when its own detections are output. False for informational rules and
   * for rules that correlations refer to without `generate: true`.
   */
  ruleEmits: boolean[];
  /** Per correlation: true when its detections are output, by the same rules as `ruleEmits`. */
  correlationEmits: boolean[];
  /** Detection rule index -> the correlations (and reference positions) fed by its matches. */
  ruleConsumers: { correlation: number; reference: number }[][];
  correlationConsumers: { correlation: number; reference: number }[][];
  /** Index key -> detection rules to test on events carrying that key. */
  index: Map<string, number[]>;
  /** Rules tested on every event (their log source condition has no indexable equality). */
  unindexed: number[];
  indexFields: string[];
  unmappedRules: number;
  /** Rules a Sigma filter was applied to (one count per filter and rule). */
  filtersApplied: number;
}

export interface BuildResult {
  ruleSet: RuleSet;
  errors: HolterError[];
  warnings: RuleSetWarning[];
}

export interface BuildOptions {
  mapping: SigmaMapping;
  placeholders?: Record<string, string[]>;
  /** IANA time zone for time modifiers; UTC when absent. */
  timeZone?: string;
}

interface Registered {
  document: SigmaDocument;
  /** Index among rules or correlations once compiled; undefined when rejected. */
  compiledIndex?: number;
}

export function buildRuleSet(sources: RuleSource[], options: BuildOptions): BuildResult {
  const errors: HolterError[] = [];
  const warnings: RuleSetWarning[] = [];
  const documents: SigmaDocument[] = [];
  const filters: FilterDocument[] = [];

  for (const source of sources) {
    const parsed = parseRuleText(source.text, source.file);
    errors.push(...parsed.errors);
    const empty = emptyFileError(parsed, source.file);
    if (empty !== undefined) errors.push(empty);
    for (const document of parsed.documents) {
      const result = validateDocument(document);
      errors.push(...result.errors);
      if (result.document) documents.push(result.document);
      if (result.filter) filters.push(result.filter);
    }
  }

  const registry = registerDocuments(documents, errors);
  const ruleSet: RuleSet = {
    rules: [],
    correlations: [],
    ruleEmits: [],
    correlationEmits: [],
    ruleConsumers: [],
    correlationConsumers: [],
    index: new Map(),
    unindexed: [],
    indexFields: options.mapping.indexFields,
    unmappedRules: 0,
    filtersApplied: 0,
  };

  const logsourceCache = new Map<string, CompiledLogsource | null>();
  let timeZone = options.timeZone ?? 'UTC';
  if (!isValidTimeZone(timeZone)) {
    errors.push(new HolterError('HOLTER_CONFIG_INVALID', `Invalid time zone '${timeZone}' for Sigma time modifiers; they read dates in UTC instead. Set facility.time_zone to an IANA name such as America/New_York.`, { path: 'facility.time_zone' }));
    timeZone = 'UTC';
  }
  const compileOptions = { mapping: options.mapping, placeholders: options.placeholders ?? {}, timeZone };
  for (const entry of registry.entries) {
    if (entry.document.kind !== 'rule') continue;
    const result = compileDetectionRule(entry.document, compileOptions, logsourceCache);
    errors.push(...result.errors);
    if (!result.compiled) continue;
    entry.compiledIndex = ruleSet.rules.length;
    ruleSet.rules.push(result.compiled);
    if (!result.compiled.logsource) {
      ruleSet.unmappedRules++;
      warnings.push({
        kind: 'logsource_unmapped',
        ruleId: result.compiled.info.id,
        location: entry.document.location,
        message: `Rule '${entry.document.title}' loaded but will never match: the Sigma mapping has no entry for its log source. Add one to the mapping file if Holter receives these events.`,
      });
    }
  }

  applyFilters(filters, registry, ruleSet, { compileOptions, logsourceCache }, errors);
  resolveCorrelations(registry, ruleSet, errors);
  buildIndex(ruleSet);
  rememberLogsourceResults(ruleSet);
  shareKeywordScan(ruleSet);
  return { ruleSet, errors, warnings };
}

/**
 * Applies Sigma filters: each named rule matches only where the filter's condition does not. The
 * filter's fields are read as its own log source maps them.
 */
function applyFilters(
  filters: FilterDocument[],
  registry: ReturnType<typeof registerDocuments>,
  ruleSet: RuleSet,
  context: { compileOptions: Parameters<typeof compileDetectionRule>[1]; logsourceCache: Parameters<typeof compileDetectionRule>[2] },
  errors: HolterError[],
): void {
  for (const filter of filters) {
    const asRule: DetectionRule = {
      kind: 'rule',
      title: filter.title,
      id: filter.id,
      tags: [],
      holter: {},
      location: filter.location,
      logsource: filter.logsource,
      searches: filter.searches,
      conditions: filter.conditions,
    };
    const compiled = compileDetectionRule(asRule, context.compileOptions, context.logsourceCache);
    errors.push(...compiled.errors);
    if (!compiled.compiled) continue;
    const excluded = compiled.compiled.detection;

    for (const reference of filter.rules) {
      const target = registry.byReference.get(reference.reference);
      if (target === undefined) {
        errors.push(ruleError('HOLTER_RULE_INVALID', `Filter '${filter.title}' refers to '${reference.reference}', but no loaded detection rule has that id or name (not found). Load the file that defines it or fix the reference.`, reference.location, 'filter.rules'));
        continue;
      }
      if (target.document.kind !== 'rule') {
        errors.push(ruleError('HOLTER_RULE_INVALID', `Filter '${filter.title}' refers to '${reference.reference}', which is a correlation rule. Filters apply to detection rules only: name the detection rules the correlation refers to instead.`, reference.location, 'filter.rules'));
        continue;
      }
      const outside = logsourceOutsideFilter(filter.logsource, target.document.logsource);
      if (outside !== undefined) {
        errors.push(ruleError('HOLTER_RULE_INVALID', `Filter '${filter.title}' refers to '${reference.reference}', but the rule's log source is outside the filter's: the filter has ${outside}. A filter applies only to rules whose category, product and service match every one that the filter sets. Give the filter the rule's log source, or put the rule in a filter of its own.`, reference.location, 'filter.rules'));
        continue;
      }
      const rule = target.compiledIndex === undefined ? undefined : ruleSet.rules[target.compiledIndex];
      if (rule === undefined) continue;
      const original = rule.detection;
      rule.detection = (scope) => original(scope) && !excluded(scope);
      rule.fingerprint = filteredFingerprint(rule.fingerprint, filter, context.compileOptions);
      ruleSet.filtersApplied++;
    }
  }
}

/**
 * Describes the first of category, product and service that the filter sets to another value
 * than the rule, or returns undefined when the filter's log source covers the rule's. This is how
 * pySigma (sigma/filters.py, `rule.logsource not in self.logsource`) decides whether a filter
 * applies to a rule.
 */
function logsourceOutsideFilter(filter: Logsource, rule: Logsource): string | undefined {
  for (const key of ['category', 'product', 'service'] as const) {
    const expected = filter[key];
    if (expected === undefined || expected === rule[key]) continue;
    const ruleValue = rule[key] === undefined ? `has no ${key}` : `has '${rule[key]}'`;
    return `${key} '${expected}' and the rule ${ruleValue}`;
  }
  return undefined;
}

/** Registers ids and names; a duplicate is rejected where it appears the second time. */
function registerDocuments(documents: SigmaDocument[], errors: HolterError[]) {
  const entries: Registered[] = [];
  const byReference = new Map<string, Registered>();
  for (const document of documents) {
    const keys = [document.id, document.name].filter((key): key is string => key !== undefined);
    const clash = keys.find((key) => byReference.has(key));
    if (clash !== undefined) {
      const first = byReference.get(clash)?.document.location;
      const where = first ? ` (first defined at ${first.file}:${first.line ?? '?'})` : '';
      errors.push(ruleError('HOLTER_RULE_INVALID', `Duplicate rule id or name '${clash}'${where}. Give every rule a unique id and name.`, document.location, 'id'));
      continue;
    }
    const entry: Registered = { document };
    entries.push(entry);
    for (const key of keys) byReference.set(key, entry);
  }
  return { entries, byReference };
}

function resolveCorrelations(registry: ReturnType<typeof registerDocuments>, ruleSet: RuleSet, errors: HolterError[]): void {
  const correlationEntries = registry.entries.filter((entry) => entry.document.kind === 'correlation');
  const state = new Map<Registered, 'visiting' | 'done' | 'failed'>();

  const visit = (entry: Registered): boolean => {
    const status = state.get(entry);
    if (status === 'done') return true;
    if (status === 'failed') return false;
    const rule = entry.document as CorrelationRule;
    if (status === 'visiting') {
      errors.push(ruleError('HOLTER_RULE_INVALID', `Correlation '${rule.title}' is part of a reference cycle. Correlations must not refer back to themselves.`, rule.location, 'correlation.rules'));
      state.set(entry, 'failed');
      return false;
    }
    state.set(entry, 'visiting');

    const targets: Target[] = [];
    const seen = new Map<Registered, string>();
    let ok = true;
    for (const reference of rule.rules) {
      const target = registry.byReference.get(reference.reference);
      if (target === undefined) {
        errors.push(ruleError('HOLTER_RULE_INVALID', `Correlation '${rule.title}' refers to '${reference.reference}', but no loaded rule has that id or name (not found). Load the file that defines it or fix the reference.`, reference.location, 'correlation.rules'));
        ok = false;
        continue;
      }
      // Its id and its name are two spellings of one rule, whose events would then count twice.
      const earlier = seen.get(target);
      if (earlier !== undefined) {
        errors.push(ruleError('HOLTER_RULE_INVALID', `Correlation '${rule.title}' refers to one rule twice, as '${earlier}' and as '${reference.reference}'. List each rule once.`, reference.location, 'correlation.rules'));
        ok = false;
        continue;
      }
      seen.set(target, reference.reference);
      if (target.document.kind === 'correlation' && !visit(target)) ok = false;
      if (target.compiledIndex === undefined) {
        if (ok) errors.push(ruleError('HOLTER_RULE_INVALID', `Correlation '${rule.title}' refers to '${reference.reference}', which was rejected. Fix that rule first.`, reference.location, 'correlation.rules'));
        ok = false;
        continue;
      }
      targets.push({ kind: target.document.kind === 'rule' ? 'rule' : 'correlation', index: target.compiledIndex });
    }
    if (!ok) {
      state.set(entry, 'failed');
      return false;
    }

    const referenced = rule.rules.map((reference) => registry.byReference.get(reference.reference) as Registered);
    const aliasFor = (field: string, target: Registered): string => {
      const fields = rule.aliases.get(field);
      if (fields === undefined) return field;
      const keys = [target.document.name, target.document.id].filter((key): key is string => key !== undefined);
      for (const key of keys) {
        const aliased = fields.get(key);
        if (aliased !== undefined) return aliased;
      }
      return field;
    };

    const referencedFingerprints = targets.map((target) =>
      target.kind === 'rule' ? (ruleSet.rules[target.index] as CompiledRule).fingerprint : (ruleSet.correlations[target.index] as CompiledCorrelation).fingerprint,
    );
    entry.compiledIndex = ruleSet.correlations.length;
    ruleSet.correlations.push({
      rule,
      info: ruleInfo(rule),
      targets,
      referenceTitles: referenced.map((target) => target.document.title),
      groupFields: referenced.map((target) => rule.groupBy.map((field) => aliasFor(field, target))),
      valueFields: referenced.map((target) => (rule.condition?.field === undefined ? undefined : conditionFields(rule.condition).map((field) => aliasFor(field, target)))),
      fingerprint: correlationFingerprint(rule, referencedFingerprints),
    });
    state.set(entry, 'done');
    return true;
  };

  for (const entry of correlationEntries) visit(entry);

  // The rules specification reserves the informational level for enrichment: "No case or
  // alerting should be triggered by such rules". Their matches still feed correlations.
  ruleSet.ruleEmits = ruleSet.rules.map((rule) => rule.rule.level !== 'informational');
  ruleSet.correlationEmits = ruleSet.correlations.map((correlation) => correlation.rule.level !== 'informational');
  ruleSet.ruleConsumers = ruleSet.rules.map(() => []);
  ruleSet.correlationConsumers = ruleSet.correlations.map(() => []);
  const quiet = { rule: new Set<number>(), correlation: new Set<number>() };
  const loud = { rule: new Set<number>(), correlation: new Set<number>() };
  ruleSet.correlations.forEach((correlation, correlationIndex) => {
    correlation.targets.forEach((target, reference) => {
      const consumers = target.kind === 'rule' ? ruleSet.ruleConsumers : ruleSet.correlationConsumers;
      consumers[target.index]?.push({ correlation: correlationIndex, reference });
      (correlation.rule.generate ? loud : quiet)[target.kind].add(target.index);
    });
  });

  // The correlation specification's `generate` defines whether the rules a correlation refers to
  // are also output as stand-alone rules, and by default only the correlation is. That holds for
  // referenced correlations as well as detection rules, so a referenced rule stays quiet unless
  // some correlation that refers to it sets generate: true.
  for (const index of quiet.rule) if (!loud.rule.has(index)) ruleSet.ruleEmits[index] = false;
  for (const index of quiet.correlation) if (!loud.correlation.has(index)) ruleSet.correlationEmits[index] = false;
}

function buildIndex(ruleSet: RuleSet): void {
  ruleSet.rules.forEach((rule, index) => {
    if (!rule.logsource) return;
    if (rule.logsource.indexKeys === null) {
      ruleSet.unindexed.push(index);
      return;
    }
    for (const key of rule.logsource.indexKeys) {
      const bucket = ruleSet.index.get(key);
      if (bucket) bucket.push(index);
      else ruleSet.index.set(key, [index]);
    }
  });
}

/**
 * Makes each log source condition keep its result for the last scope it tested. Rules of one log
 * source share its condition. The stage tests it for each candidate rule, and the literal indexes
 * test it before the keyword scan, so without the result kept it ran several times per event. A
 * scope belongs to one event, which detection does not change.
 */
function rememberLogsourceResults(ruleSet: RuleSet): void {
  const wrapped = new Set<CompiledLogsource>();
  for (const rule of ruleSet.rules) {
    const logsource = rule.logsource;
    if (logsource === undefined || wrapped.has(logsource)) continue;
    wrapped.add(logsource);
    const condition = logsource.predicate;
    let lastScope: MatchScope | undefined;
    let lastResult = false;
    logsource.predicate = (scope) => {
      if (scope !== lastScope) {
        lastResult = condition(scope);
        lastScope = scope;
      }
      return lastResult;
    };
  }
}

/**
 * Gives every keyword literal of the rule set one shared scan (keyword-scan.ts), numbered by
 * distinct text, with the log source conditions of the rules that use each text.
 */
function shareKeywordScan(ruleSet: RuleSet): void {
  const keywordLiterals: { literal: RequiredLiteral; logsource: EventPredicate }[] = [];
  const ids = new Map<string, number>();
  const logsources: Set<EventPredicate>[] = [];
  for (const rule of ruleSet.rules) {
    // A rule with an unmapped log source never matches, so its literals are never looked up.
    if (rule.logsource === undefined) continue;
    for (const clause of rule.literals ?? []) {
      for (const literal of clause) {
        if (literal.accessor !== KEYWORD_STRINGS || literal.kind !== 'contains') continue;
        keywordLiterals.push({ literal, logsource: rule.logsource.predicate });
        let id = ids.get(literal.text);
        if (id === undefined) {
          id = ids.size;
          ids.set(literal.text, id);
          logsources.push(new Set());
        }
        logsources[id]?.add(rule.logsource.predicate);
      }
    }
  }
  if (keywordLiterals.length === 0) return;

  const scan = new KeywordScan([...ids.keys()], { logsources: logsources.map((set) => [...set]) });
  for (const { literal, logsource } of keywordLiterals) literal.shared = { scan, id: ids.get(literal.text) as number, logsource };
}

export { indexKey };
