/**
 * Required literals: for a detection rule, up to MAX_CLAUSES clauses of (field, literal) tests.
 * For the rule to match, an event must pass at least one test of every clause, and the stage
 * evaluates the rule only on such events (literal-index.ts). A part of a condition gives no
 * clause unless it is provably necessary, so `not`, null, exists, neq, cased, numeric comparisons,
 * fieldref, time modifiers, encodings and placeholders give none. Keyword searches test the
 * event's keyword strings (KEYWORD_STRINGS), and regular expressions give the literals every match
 * contains (regex-literals.ts), when they have any. A rule without clauses is tested on every
 * event of its log source.
 */
import { expandQuantifier, parseCondition } from './condition.js';
import type { ConditionNode } from './condition.js';
import type { FieldAccessor } from './fields.js';
import type { KeywordScan } from './keyword-scan.js';
import type { DetectionRule, FieldItem } from './model.js';
import type { RuleScalar } from './parse.js';
import type { EventPredicate } from './scope.js';
import { ANY_SEQUENCE, normalise, parseSigmaString } from './pattern.js';
import type { PatternPart } from './pattern.js';
import { requiredRegexLiterals } from './regex-literals.js';

/**
 * One test on the lower-cased strings of a field. `equals`: the string is `text`, or, when
 * `number` is set, a plain decimal equal to it (as `EventID: 4688` matches "04688").
 * `contains`: the string contains `text` (startswith and endswith are tested as contains).
 */
export interface RequiredLiteral {
  accessor: FieldAccessor;
  kind: 'equals' | 'contains';
  text: string;
  number?: number;
  /**
   * For keyword literals, set by buildRuleSet: the rule set's one scan of the keyword strings, this
   * text's number in it, and the log source condition of the rule, which must hold before the scan is worth its cost.
   */
  shared?: { scan: KeywordScan; id: number; logsource: EventPredicate };
}

/** Modifiers whose value test reduces to equals or contains on the lower-cased string. */
const PLAIN_MODIFIERS = new Set(['contains', 'startswith', 'endswith', 'windash', 'all']);
/** Modifiers of a regular expression item whose matches must contain its required literals. */
const REGEX_MODIFIERS = new Set(['re', 'i', 'ignorecase', 'm', 'multiline', 's', 'dotall', 'all']);
/** Modifiers that replace the implicit contains of a keyword value. */
const IMPLICIT_CONTAINS_EXCEPTIONS = ['contains', 'startswith', 'endswith'];
/** Shortest substring taken from a value that runs as a regular expression; shorter ones pass too many events to help. */
const MIN_PATTERN_LITERAL = 3;
/**
 * The same for rules that get no clause with MIN_PATTERN_LITERAL: a rule without clauses is tested
 * on every event of its log source, and a clause of a character or two, such as a backtick, still
 * skips most of them.
 */
const MIN_FALLBACK_LITERAL = 1;
/** Splits a literal where RE2's case folding and toLowerCase may disagree (see `fromPattern`), and at windash characters. */
const UNSAFE_FOR_FOLDING = /[sS\u2013\u2014\u2015\-/]|[^\x00-\x7f]/;

/** Tests of which an event must pass one: a disjunction. */
export type Clause = RequiredLiteral[];

/** Clauses kept per rule at most: the index tracks which ones an event passed in a bit mask. */
export const MAX_CLAUSES = 4;

/**
 * Stands for the field of keyword items (no field name): the literal index tests their literals
 * against `MatchScope.keywordStrings()`, the strings keyword searches read. Never called.
 */
export const KEYWORD_STRINGS: FieldAccessor = () => undefined;

/**
 * Returns the rule's required literals as clauses, each of which an event must pass for the rule
 * to match, or null when none is provably required (then the rule is tested on every event of
 * its log source). Conditions that fail to parse return null: compilation reports them.
 */
export function requiredLiterals(rule: DetectionRule, accessor: (field: string) => FieldAccessor): Clause[] | null {
  return requiredWith(rule, { accessor, minPatternLiteral: MIN_PATTERN_LITERAL }) ?? requiredWith(rule, { accessor, minPatternLiteral: MIN_FALLBACK_LITERAL });
}

/** Settings of one extraction: the accessor of each field name, and the shortest literal taken from a pattern. */
interface LiteralOptions {
  accessor: (field: string) => FieldAccessor;
  minPatternLiteral: number;
}

function requiredWith(rule: DetectionRule, options: LiteralOptions): Clause[] | null {
  const names = [...rule.searches.keys()];
  const conditions: (Clause[] | null)[] = [];
  for (const text of rule.conditions) {
    const tree = parseCondition(text);
    if (tree instanceof Error) return null;
    conditions.push(fromCondition(tree, rule, names, options));
  }
  return conditions.length === 0 ? null : anyOf(conditions);
}

function fromCondition(node: ConditionNode, rule: DetectionRule, names: string[], options: LiteralOptions): Clause[] | null {
  switch (node.kind) {
    case 'not':
      return null;
    case 'identifier':
      return fromSearch(node.name, rule, options);
    case 'and':
      return allOf(node.items.map((item) => fromCondition(item, rule, names, options)));
    case 'or':
      return anyOf(node.items.map((item) => fromCondition(item, rule, names, options)));
    case 'quantifier': {
      const searches = expandQuantifier(node.pattern, names).map((name) => fromSearch(name, rule, options));
      if (searches.length === 0) return null;
      // `all of` needs every search to match; `N of` needs at least one to.
      return node.quantity === 'all' ? allOf(searches) : anyOf(searches);
    }
  }
}

function fromSearch(name: string, rule: DetectionRule, options: LiteralOptions): Clause[] | null {
  const search = rule.searches.get(name);
  if (search === undefined || search.alternatives.length === 0) return null;
  return anyOf(search.alternatives.map((items) => allOf(items.map((item) => fromItem(item, options)))));
}

/** Returns the clauses of one field or keyword item, or null when its test is not a plain equals, contains or regular expression. */
function fromItem(item: FieldItem, options: LiteralOptions): Clause[] | null {
  if (item.values.length === 0) return null;
  const modifiers = item.modifiers.map((modifier) => modifier.toLowerCase());
  const fieldAccessor = item.field === null ? KEYWORD_STRINGS : options.accessor(item.field);
  if (modifiers.includes('re') && modifiers.every((modifier) => REGEX_MODIFIERS.has(modifier))) return fromRegexItem(item, modifiers, fieldAccessor, options.minPatternLiteral);
  if (!modifiers.every((modifier) => PLAIN_MODIFIERS.has(modifier))) return null;

  // A keyword value without contains, startswith or endswith matches anywhere in a string (modifiers.ts).
  if (item.field === null && !modifiers.some((modifier) => IMPLICIT_CONTAINS_EXCEPTIONS.includes(modifier))) modifiers.push('contains');
  const transformed = modifiers.some((modifier) => modifier !== 'all');
  const perValue = item.values.map((value) => fromValue(value, modifiers, transformed, fieldAccessor, options.minPatternLiteral));
  // With `all` every value must match, so each value is a clause of its own.
  if (modifiers.includes('all')) return allOf(perValue.map((literal) => (literal === null ? null : [[literal]])));
  if (perValue.some((literal) => literal === null)) return null;
  return [perValue as RequiredLiteral[]];
}

/** Clauses of a `re` item: per value, the literals of which every match contains one (regex-literals.ts). */
function fromRegexItem(item: FieldItem, modifiers: string[], accessor: FieldAccessor, minLength: number): Clause[] | null {
  const ignoreCase = modifiers.includes('i') || modifiers.includes('ignorecase');
  const perValue = item.values.map((value): Clause | null => {
    if (value.kind !== 'string' && value.kind !== 'number') return null;
    const texts = requiredRegexLiterals(value.text, ignoreCase, minLength);
    return texts === null ? null : texts.map((text) => ({ accessor, kind: 'contains', text }));
  });
  if (modifiers.includes('all')) return allOf(perValue.map((clause) => (clause === null ? null : [clause])));
  if (perValue.some((clause) => clause === null)) return null;
  return [(perValue as Clause[]).flat()];
}

function fromValue(value: RuleScalar, modifiers: string[], transformed: boolean, accessor: FieldAccessor, minLength: number): RequiredLiteral | null {
  if (value.kind !== 'string' && value.kind !== 'number') return null;
  let parts: PatternPart[] = parseSigmaString(value.text, false);
  if (modifiers.includes('contains') || modifiers.includes('endswith')) parts = [ANY_SEQUENCE, ...parts];
  if (modifiers.includes('contains') || modifiers.includes('startswith')) parts = [...parts, ANY_SEQUENCE];
  parts = normalise(parts);
  if (modifiers.includes('windash')) return fromPattern(parts, accessor, minLength);

  // These are the shapes compilePattern tests by comparing lower-cased strings. Other shapes
  // run as case-insensitive RE2 regular expressions (fromPattern).
  const [first, second, third] = parts;
  if (parts.length === 0) return { accessor, kind: 'equals', text: '' };
  if (parts.length === 1 && typeof first === 'string') {
    const literal: RequiredLiteral = { accessor, kind: 'equals', text: first.toLowerCase() };
    if (!transformed && value.number !== undefined) literal.number = value.number;
    return literal;
  }
  let middle: PatternPart | undefined;
  if (parts.length === 2 && first === ANY_SEQUENCE) middle = second;
  else if (parts.length === 2 && second === ANY_SEQUENCE) middle = first;
  else if (parts.length === 3 && first === ANY_SEQUENCE && third === ANY_SEQUENCE) middle = second;
  if (typeof middle !== 'string') return fromPattern(parts, accessor, minLength);
  return { accessor, kind: 'contains', text: middle.toLowerCase() };
}

/**
 * A substring required by a value that runs as a case-insensitive RE2 regular expression: the
 * longest piece of its literal text that is ASCII and contains no dash and no `s`. RE2 folds `s` with
 * U+017F, which toLowerCase keeps, and folds non-ASCII letters by its own tables; every other
 * ASCII character matches only what lower-cases to it. Dashes may stand for the windash class.
 */
function fromPattern(parts: PatternPart[], accessor: FieldAccessor, minLength: number): RequiredLiteral | null {
  let longest = '';
  for (const part of parts) {
    if (typeof part !== 'string') continue;
    for (const piece of part.split(UNSAFE_FOR_FOLDING)) if (piece.length > longest.length) longest = piece;
  }
  if (longest.length < minLength) return null;
  return { accessor, kind: 'contains', text: longest.toLowerCase() };
}

/** Joins operands of which one is true: one clause from each, merged into one clause. Returns null when an operand is unknown. */
function anyOf(operands: (Clause[] | null)[]): Clause[] | null {
  if (operands.some((clauses) => clauses === null)) return null;
  const known = operands as Clause[][];
  if (known.length === 1) return known[0] as Clause[];
  return [known.flatMap((clauses) => cheapestFirst(clauses)[0] as Clause)];
}

/** Joins operands that are all true: the MAX_CLAUSES cheapest of their clauses, or null when none is known. */
function allOf(operands: (Clause[] | null)[]): Clause[] | null {
  const clauses = operands.flatMap((operand) => operand ?? []);
  if (clauses.length === 0) return null;
  return cheapestFirst(clauses).slice(0, MAX_CLAUSES);
}

function cheapestFirst(clauses: Clause[]): Clause[] {
  return clauses
    .map((clause) => ({ clause, cost: selectivityCost(clause) }))
    .sort((a, b) => a.cost - b.cost)
    .map((entry) => entry.clause);
}

/** Lower is better: equals beats contains, and a short substring passes more often than a long one. */
function selectivityCost(clause: Clause): number {
  let cost = 0;
  for (const literal of clause) cost += literal.kind === 'equals' ? 1 : 1 + 16 / Math.max(1, literal.text.length);
  return cost;
}
