/**
 * Compiles one selection item (`Field|mod1|mod2: values`) into an event predicate.
 * Modifier semantics follow the Sigma modifiers appendix 2.1. Transformation modifiers run
 * left to right on each value; type modifiers (re, cidr, exists, fieldref, lt/lte/gt/gte)
 * decide how the result is compared.
 */
import { BlockList, isIP } from 'node:net';
import type { RE2JS } from 're2js';

import type { HolterError } from '../../errors.js';
import { base64, base64Offsets, bytesToText, utf16be, utf16le, utf16WithBom } from './encodings.js';
import type { FieldAccessor } from './fields.js';
import type { FieldItem } from './model.js';
import type { RuleScalar } from './parse.js';
import { ruleError } from './parse.js';
import { ANY_SEQUENCE, compilePattern, DASH, isLiteral, literalText, parseSigmaString, plainPattern, WINDASH_CHARACTERS } from './pattern.js';
import type { PatternPart, StringTest } from './pattern.js';
import { compileValueSet } from './value-set.js';
import type { PlainValue } from './value-set.js';
import { compileRegex } from './regex.js';
import { minimumMatchLength } from './regex-literals.js';
import { memoizable, ValueMemo } from './value-memo.js';
import type { ValueMemoLimits } from './value-memo.js';
import { cachedPartReader, TIME_PART_RANGES, TIME_PARTS } from './time-parts.js';
import type { TimePart } from './time-parts.js';
import { valueStrings } from './scope.js';
import type { EventPredicate, MatchScope, ValueEntry } from './scope.js';

const TRANSFORMATIONS = new Set([
  'contains',
  'startswith',
  'endswith',
  'base64',
  'base64offset',
  'utf16le',
  'utf16be',
  'utf16',
  'wide',
  'windash',
  'expand',
]);
const TYPE_MODIFIERS = new Set(['re', 'cidr', 'exists', 'fieldref', 'lt', 'lte', 'gt', 'gte']);
const REGEX_FLAGS: Record<string, 'ignoreCase' | 'multiline' | 'dotAll'> = {
  i: 'ignoreCase',
  ignorecase: 'ignoreCase',
  m: 'multiline',
  multiline: 'multiline',
  s: 'dotAll',
  dotall: 'dotAll',
};
const PLAIN_DECIMAL = /^[-+]?(\d+(\.\d*)?|\.\d+)$/;

export interface ItemContext {
  /** Resolves a Sigma field name to the event path(s) it reads. */
  accessor(field: string): FieldAccessor;
  placeholders: Record<string, string[]>;
  /** IANA time zone in which time modifiers read dates. */
  timeZone: string;
  errors: HolterError[];
}

interface ModifierPlan {
  transformations: string[];
  typeModifier?: string;
  /** A time modifier: the item compares this part of a date, with `typeModifier` lt/lte/gt/gte or equality. */
  timePart?: TimePart;
  regexFlags: { ignoreCase: boolean; multiline: boolean; dotAll: boolean };
  all: boolean;
  cased: boolean;
  neq: boolean;
}

/** Compiles a field item; returns undefined after recording located errors. */
export function compileFieldItem(item: FieldItem, context: ItemContext): EventPredicate | undefined {
  const plan = planModifiers(item, context);
  if (!plan) return undefined;

  if (item.values.some((value) => value.kind === 'null')) return compileNull(item, plan, context);

  const accessor = item.field === null ? undefined : context.accessor(item.field);
  const read = accessor ? (scope: MatchScope) => scope.fieldEntries(accessor) : undefined;
  if (plan.timePart !== undefined) return withNegation(plan, read, compileTimePart(item, plan.timePart, plan.typeModifier, context));

  switch (plan.typeModifier) {
    case 'exists':
      return compileExists(item, context, accessor);
    case 'cidr':
      return withNegation(plan, read, compileCidr(item, context));
    case 're':
      return withNegation(plan, read, compileRegexValues(item, plan, context));
    case 'fieldref':
      return compileFieldref(item, plan, context, accessor);
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte':
      return withNegation(plan, read, compileNumeric(item, plan.typeModifier, context));
    default:
      return withNegation(plan, read, compileStrings(item, plan, context));
  }
}

function fail(context: ItemContext, item: FieldItem, code: 'HOLTER_RULE_INVALID' | 'HOLTER_RULE_UNSUPPORTED', message: string): undefined {
  context.errors.push(ruleError(code, message, item.location, item.field ?? 'keywords'));
  return undefined;
}

function describe(item: FieldItem): string {
  return [item.field ?? '', ...item.modifiers].join('|');
}

function planModifiers(item: FieldItem, context: ItemContext): ModifierPlan | undefined {
  const plan: ModifierPlan = {
    transformations: [],
    regexFlags: { ignoreCase: false, multiline: false, dotAll: false },
    all: false,
    cased: false,
    neq: false,
  };

  for (const raw of item.modifiers) {
    const modifier = raw.toLowerCase();
    if (TRANSFORMATIONS.has(modifier)) {
      plan.transformations.push(modifier);
    } else if (TYPE_MODIFIERS.has(modifier)) {
      if (plan.typeModifier !== undefined) {
        return fail(context, item, 'HOLTER_RULE_UNSUPPORTED', `'${describe(item)}' combines the modifiers '${plan.typeModifier}' and '${modifier}', which Holter cannot apply together. Split them into two selections.`);
      }
      plan.typeModifier = modifier;
    } else if (modifier in REGEX_FLAGS) {
      if (plan.typeModifier !== 're') {
        return fail(context, item, 'HOLTER_RULE_INVALID', `Modifier '${raw}' in '${describe(item)}' is a regular expression flag and must follow 're'.`);
      }
      plan.regexFlags[REGEX_FLAGS[modifier] as 'ignoreCase'] = true;
    } else if (modifier === 'all') {
      plan.all = true;
    } else if (modifier === 'cased') {
      plan.cased = true;
    } else if (modifier === 'neq') {
      plan.neq = true;
    } else if (TIME_PARTS.has(modifier)) {
      if (plan.timePart !== undefined) {
        return fail(context, item, 'HOLTER_RULE_INVALID', `'${describe(item)}' has two time modifiers, '${plan.timePart}' and '${modifier}'. Compare each part in its own selection item.`);
      }
      plan.timePart = modifier as TimePart;
    } else {
      return fail(context, item, 'HOLTER_RULE_INVALID', `Unknown modifier '${raw}' in '${describe(item)}'. See docs/rules.md for the supported modifiers.`);
    }
  }

  const typeModifier = plan.typeModifier;
  if (plan.timePart !== undefined) return checkTimePlan(item, plan, context);
  if (typeModifier !== undefined && plan.transformations.some((name) => name !== 'expand')) {
    return fail(context, item, 'HOLTER_RULE_UNSUPPORTED', `'${describe(item)}' combines '${typeModifier}' with value transformations (${plan.transformations.join(', ')}), which Holter does not support.`);
  }
  if (item.field === null && typeModifier !== undefined && typeModifier !== 're') {
    return fail(context, item, 'HOLTER_RULE_INVALID', `Modifier '${typeModifier}' needs a field; keyword searches accept only string modifiers and 're'.`);
  }
  return plan;
}

/** Checks that a time modifier has a field and combines only with lt, lte, gt, gte, neq and all. */
function checkTimePlan(item: FieldItem, plan: ModifierPlan, context: ItemContext): ModifierPlan | undefined {
  const part = plan.timePart as TimePart;
  if (item.field === null) {
    return fail(context, item, 'HOLTER_RULE_INVALID', `Time modifier '${part}' needs a field that contains a date, e.g. '@timestamp|${part}'.`);
  }
  const typeModifier = plan.typeModifier;
  if (plan.transformations.length > 0 || (typeModifier !== undefined && !['lt', 'lte', 'gt', 'gte'].includes(typeModifier))) {
    const others = [...plan.transformations, ...(typeModifier === undefined ? [] : [typeModifier])];
    return fail(context, item, 'HOLTER_RULE_UNSUPPORTED', `'${describe(item)}' combines the time modifier '${part}' with ${others.join(', ')}. A time modifier combines only with lt, lte, gt, gte, neq and all.`);
  }
  return plan;
}

/** Tests that read a part of each date value, in the facility time zone, and compare it with the rule's numbers. */
function compileTimePart(item: FieldItem, part: TimePart, operator: string | undefined, context: ItemContext): ValueTest[] | undefined {
  const [minimum, maximum] = TIME_PART_RANGES[part];
  const readPart = cachedPartReader(part, context.timeZone);
  const tests: ValueTest[] = [];
  for (const value of item.values) {
    const number = value.number;
    if (number === undefined || !Number.isInteger(number) || number < minimum || number > maximum) {
      const range = part === 'year' ? 'a whole number' : `a whole number from ${minimum} to ${maximum}`;
      return fail(context, item, 'HOLTER_RULE_INVALID', `'${describe(item)}' compares the ${part} of a date, so '${value.text}' must be ${range}.`);
    }
    tests.push((text) => {
      const actual = readPart(text);
      if (actual === undefined) return false;
      if (operator === 'lt') return actual < number;
      if (operator === 'lte') return actual <= number;
      if (operator === 'gt') return actual > number;
      if (operator === 'gte') return actual >= number;
      return actual === number;
    });
  }
  return tests;
}

function compileNull(item: FieldItem, plan: ModifierPlan, context: ItemContext): EventPredicate | undefined {
  if (item.values.length > 1 || plan.typeModifier !== undefined || plan.timePart !== undefined || plan.transformations.length > 0 || plan.all) {
    return fail(context, item, 'HOLTER_RULE_INVALID', `'${describe(item)}' mixes null with other values or modifiers. Put 'field: null' in its own selection.`);
  }
  if (item.field === null) return fail(context, item, 'HOLTER_RULE_INVALID', 'A keyword search cannot be null.');
  const accessor = context.accessor(item.field);
  const isNull = (scope: MatchScope): boolean => {
    const value = accessor(scope.event);
    return value === undefined || value === null;
  };
  return plan.neq ? (scope) => !isNull(scope) : isNull;
}

function compileExists(item: FieldItem, context: ItemContext, accessor: FieldAccessor | undefined): EventPredicate | undefined {
  const [value] = item.values;
  if (item.values.length !== 1 || value?.kind !== 'boolean' || accessor === undefined) {
    return fail(context, item, 'HOLTER_RULE_INVALID', `'${describe(item)}' needs exactly one value, true or false.`);
  }
  const expected = value.boolean === true;
  return (scope) => (accessor(scope.event) !== undefined) === expected;
}

/** A test of one value string against one rule value. */
type ValueTest = (value: string, lower: string) => boolean;

function matchesOne(entries: ValueEntry[], test: ValueTest): boolean {
  for (const entry of entries) if (test(entry.value, entry.lower)) return true;
  return false;
}

/**
 * Combines value tests into a predicate: OR over values, or AND with `all`; `neq` negates
 * the result and requires the field to be present. Keyword items (no field) search every
 * string of the event.
 */
function withNegation(
  plan: ModifierPlan,
  read: ((scope: MatchScope) => ValueEntry[] | undefined) | undefined,
  tests: ValueTest[] | undefined,
): EventPredicate | undefined {
  if (tests === undefined) return undefined;

  // Loops rather than every/some with a closure: this runs for every candidate rule and event.
  const all = plan.all;
  const combine = (entries: ValueEntry[]): boolean => {
    for (const test of tests) {
      if (matchesOne(entries, test) !== all) return !all;
    }
    return all;
  };

  if (read === undefined) return (scope) => combine(scope.keywordStrings());

  return (scope) => {
    const entries = read(scope);
    if (entries === undefined) return false;
    const matched = combine(entries);
    return plan.neq ? !matched : matched;
  };
}

function compileNumeric(item: FieldItem, operator: string, context: ItemContext): ValueTest[] | undefined {
  const tests: ValueTest[] = [];
  for (const value of item.values) {
    if (value.number === undefined || !Number.isFinite(value.number)) {
      return fail(context, item, 'HOLTER_RULE_INVALID', `'${describe(item)}' compares numbers, but '${value.text}' is not a number.`);
    }
    const limit = value.number;
    tests.push((text) => {
      if (!PLAIN_DECIMAL.test(text)) return false;
      const number = Number(text);
      if (operator === 'lt') return number < limit;
      if (operator === 'lte') return number <= limit;
      if (operator === 'gt') return number > limit;
      return number >= limit;
    });
  }
  return tests;
}

function compileCidr(item: FieldItem, context: ItemContext): ValueTest[] | undefined {
  const tests: ValueTest[] = [];
  for (const value of item.values) {
    const [network = '', prefixText] = value.text.trim().split('/');
    const family = isIP(network);
    const maximum = family === 6 ? 128 : 32;
    const prefix = prefixText === undefined ? maximum : Number(prefixText);
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > maximum) {
      return fail(context, item, 'HOLTER_RULE_INVALID', `'${describe(item)}' has an invalid CIDR range '${value.text}'. Write it as 10.0.0.0/8 or fe80::/10.`);
    }
    const list = new BlockList();
    list.addSubnet(network, prefix, family === 6 ? 'ipv6' : 'ipv4');
    tests.push((text) => {
      const address = text.trim();
      const addressFamily = isIP(address);
      if (addressFamily === 0) return false;
      return list.check(address, addressFamily === 6 ? 'ipv6' : 'ipv4');
    });
  }
  return tests;
}

function compileRegexValues(item: FieldItem, plan: ModifierPlan, context: ItemContext): ValueTest[] | undefined {
  const tests: ValueTest[] = [];
  for (const value of item.values) {
    const result = compileRegex(value.text, plan.regexFlags);
    if (!result.ok && result.invalid === true) {
      return fail(context, item, 'HOLTER_RULE_INVALID', `The regular expression '${value.text}' in '${describe(item)}' is not valid: ${result.detail}. Fix its syntax.`);
    }
    if (!result.ok) {
      return fail(context, item, 'HOLTER_RULE_UNSUPPORTED', `The regular expression '${value.text}' in '${describe(item)}' cannot run in linear time: ${result.detail}. Rewrite it without that construct.`);
    }
    const regex = result.regex;
    // RE2JS's cost grows with the pattern too, so `.{1000,}` takes microseconds even on texts too short to match.
    const minLength = minimumMatchLength(value.text);
    const memo = new ValueMemo<boolean>(REGEX_MEMO_LIMITS);
    tests.push(minLength > 1 ? (text) => text.length >= minLength && memoizedTest(regex, memo, text) : (text) => memoizedTest(regex, memo, text));
  }
  return tests;
}

/**
 * Memo limits of each regular expression, per generation. RE2JS takes microseconds per test even
 * on short texts. The public corpus has a few hundred regular expressions, so each keeps only
 * recent values: at the limits, at most about 75 KB in its two generations.
 */
const REGEX_MEMO_LIMITS: ValueMemoLimits = { maxEntries: 128, maxChars: 16_384 };

function memoizedTest(regex: RE2JS, memo: ValueMemo<boolean>, text: string): boolean {
  if (!memoizable(text)) return regex.test(text);
  const cached = memo.get(text);
  if (cached !== undefined) return cached;
  const matched = regex.test(text);
  memo.set(text, matched);
  return matched;
}

function compileFieldref(item: FieldItem, plan: ModifierPlan, context: ItemContext, accessor: FieldAccessor | undefined): EventPredicate | undefined {
  if (accessor === undefined) return undefined;
  const others = item.values.map((value) => context.accessor(value.text));
  const fold = (text: string): string => (plan.cased ? text : text.toLowerCase());
  const equalTo = (scope: MatchScope, other: FieldAccessor): boolean | undefined => {
    const mine = valueStrings(accessor(scope.event));
    const theirs = valueStrings(other(scope.event));
    if (mine === undefined || theirs === undefined) return undefined;
    const wanted = new Set(theirs.map(fold));
    return mine.some((text) => wanted.has(fold(text)));
  };
  return (scope) => {
    const results = others.map((other) => equalTo(scope, other));
    if (results.some((result) => result === undefined)) return false;
    const matched = plan.all ? results.every(Boolean) : results.some(Boolean);
    return plan.neq ? !matched : matched;
  };
}

type Intermediate = { kind: 'text'; parts: PatternPart[] } | { kind: 'bytes'; bytes: Buffer };

function compileStrings(item: FieldItem, plan: ModifierPlan, context: ItemContext): ValueTest[] | undefined {
  const expand = plan.transformations.includes('expand');
  const implicitContains = item.field === null && !plan.transformations.some((name) => name === 'contains' || name === 'startswith' || name === 'endswith');
  const tests: ValueTest[] = [];
  // Without `all` and `cased`, the item matches when any value does, so its plain values can share one test.
  const plainValues: PlainValue[] | undefined = plan.all || plan.cased ? undefined : [];

  for (const value of item.values) {
    let stages: Intermediate[] = [{ kind: 'text', parts: parseSigmaString(value.text, expand) }];
    for (const transformation of plan.transformations) {
      const next = applyTransformation(transformation, stages, item, value, context);
      if (next === undefined) return undefined;
      stages = next;
    }
    if (implicitContains) stages = stages.map((stage) => wrap(stage, true, true));

    for (const stage of stages) {
      const parts = stage.kind === 'bytes' ? [bytesToText(stage.bytes)] : stage.parts;
      const expanded = expandPlaceholders(parts, item, context);
      if (expanded === undefined) return undefined;
      const untransformed = stage.kind === 'text' && plan.transformations.length === 0;
      for (const variant of expanded) {
        const pattern = plainValues === undefined ? undefined : plainPattern(variant);
        const test = literalTest(variant, value, plan.cased, untransformed);
        if (pattern === undefined) {
          tests.push(test);
          continue;
        }
        const plainValue: PlainValue = { pattern, test };
        // The same numbers as literalTest: an untransformed value without wildcards.
        if (untransformed && pattern.shape === 'equals' && isLiteral(variant) && value.number !== undefined && !Number.isNaN(value.number)) plainValue.number = value.number;
        plainValues?.push(plainValue);
      }
    }
  }
  if (plainValues === undefined || plainValues.length === 0) return tests;
  // A few plain values keep their own tests, which cost less than the lookups of a shared one.
  if (plainValues.length < MIN_VALUE_SET) return [...plainValues.map((plainValue) => plainValue.test), ...tests];
  // Plain values first: their shared test is the cheapest way for the item to match.
  return [compileValueSet(plainValues), ...tests];
}

/**
 * Plain values of an item from which they share one test (value-set.ts). Log source conditions
 * and most rules of the pack have items with two or three values, which their own tests check
 * faster than the shared test's lookups.
 */
const MIN_VALUE_SET = 4;

/** Adds the numeric comparison Sigma users expect: `EventID: 4688` matches "4688" and 4688, `010` matches 10. */
function literalTest(parts: PatternPart[], value: RuleScalar, cased: boolean, untransformed: boolean): ValueTest {
  const test: StringTest = compilePattern(parts, cased);
  const number = value.number;
  if (!untransformed || number === undefined || !isLiteral(parts)) return test;
  return (text, lower) => test(text, lower) || (PLAIN_DECIMAL.test(text) && Number(text) === number);
}

function wrap(stage: Intermediate, before: boolean, after: boolean): Intermediate {
  const parts = stage.kind === 'bytes' ? [bytesToText(stage.bytes)] : stage.parts;
  const output = [...parts];
  if (before && output[0] !== ANY_SEQUENCE) output.unshift(ANY_SEQUENCE);
  if (after && output[output.length - 1] !== ANY_SEQUENCE) output.push(ANY_SEQUENCE);
  return { kind: 'text', parts: output };
}

function applyTransformation(
  name: string,
  stages: Intermediate[],
  item: FieldItem,
  value: RuleScalar,
  context: ItemContext,
): Intermediate[] | undefined {
  if (name === 'contains') return stages.map((stage) => wrap(stage, true, true));
  if (name === 'startswith') return stages.map((stage) => wrap(stage, false, true));
  if (name === 'endswith') return stages.map((stage) => wrap(stage, true, false));
  if (name === 'expand') return stages;
  if (name === 'windash') return stages.map(windash);

  const output: Intermediate[] = [];
  for (const stage of stages) {
    let bytes: Buffer;
    if (stage.kind === 'bytes') {
      bytes = stage.bytes;
    } else if (isLiteral(stage.parts)) {
      const text = literalText(stage.parts);
      bytes = name.startsWith('base64') ? Buffer.from(text, 'utf8') : Buffer.alloc(0);
      if (name === 'utf16le' || name === 'wide') bytes = utf16le(text);
      if (name === 'utf16be') bytes = utf16be(text);
      if (name === 'utf16') bytes = utf16WithBom(text);
    } else {
      return fail(context, item, 'HOLTER_RULE_UNSUPPORTED', `Modifier '${name}' in '${describe(item)}' cannot encode '${value.text}' because it contains wildcards or placeholders. Apply contains/startswith/endswith after the encoding modifier.`);
    }

    if (name === 'base64') output.push({ kind: 'text', parts: [base64(bytes)] });
    else if (name === 'base64offset') output.push(...base64Offsets(bytes).map((form): Intermediate => ({ kind: 'text', parts: [form] })));
    else output.push({ kind: 'bytes', bytes });
  }
  return output;
}

/** Marks every dash-like character as the windash class, so `-x` also matches `/x` and `–x`. */
function windash(stage: Intermediate): Intermediate {
  if (stage.kind === 'bytes') return stage;
  const parts: PatternPart[] = [];
  for (const part of stage.parts) {
    if (typeof part !== 'string') {
      parts.push(part);
      continue;
    }
    let literal = '';
    for (const char of part) {
      if (WINDASH_CHARACTERS.includes(char)) {
        if (literal !== '') parts.push(literal);
        literal = '';
        parts.push(DASH);
      } else {
        literal += char;
      }
    }
    if (literal !== '') parts.push(literal);
  }
  return { kind: 'text', parts };
}

/** Replaces each `%name%` placeholder by every configured value (the values may use wildcards). */
function expandPlaceholders(parts: PatternPart[], item: FieldItem, context: ItemContext): PatternPart[][] | undefined {
  let variants: PatternPart[][] = [[]];
  for (const part of parts) {
    if (typeof part === 'string' || typeof part === 'symbol') {
      variants = variants.map((variant) => [...variant, part]);
      continue;
    }
    const values = context.placeholders[part.placeholder];
    if (values === undefined) {
      return fail(context, item, 'HOLTER_RULE_INVALID', `Unknown placeholder '%${part.placeholder}%' in '${describe(item)}'. Define it under 'placeholders' in the Sigma options, or remove the expand modifier.`);
    }
    const replacements = values.map((text) => parseSigmaString(text, false));
    variants = variants.flatMap((variant) => replacements.map((replacement) => [...variant, ...replacement]));
  }
  return variants;
}
