/**
 * One case-insensitive test for the plain values of a selection item that matches when any value
 * does (no `all`, no `cased`). The corpus has items with dozens or hundreds of values, such as
 * `Image|endswith` lists of system binaries, and testing each value with its own closure took a
 * share of every candidate rule's evaluation. Here equal values are looked up in a Set, prefixes
 * and suffixes by their first or last characters, and substrings in one Aho-Corasick automaton.
 * The result is the same as testing each value with `compilePattern`.
 */
import type { PlainPattern, StringTest } from './pattern.js';
import { SubstringAutomaton } from './substring-automaton.js';

const PLAIN_DECIMAL = /^[-+]?(\d+(\.\d*)?|\.\d+)$/;

/**
 * Substrings from which one automaton replaces `includes` calls. Over the command lines of the
 * Windows mix of bench/sigma-corpus.ts (73 characters on average, Node 20), the automaton took
 * about 270 ns per value and `includes` about 30 ns per substring, so they break even near 9.
 */
const MIN_AUTOMATON_SUBSTRINGS = 10;

/**
 * Prefixes or suffixes from which they are looked up by key rather than compared one by one. Over
 * the images of the same mix, 4 suffixes took about 34 ns per value either way, and 16 took 118 ns
 * one by one against 40 ns by key.
 */
const MIN_AFFIX_TABLE = 6;

/** A plain value of an item: its pattern, the number an untransformed numeric value also equals, and its own test. */
export interface PlainValue {
  pattern: PlainPattern;
  number?: number;
  test: StringTest;
}

/**
 * Affixes of one kind (prefixes or suffixes). From MIN_AFFIX_TABLE on they are grouped by their
 * first or last `keyLength` characters, the length of the shortest one: a value can only start or
 * end with the affixes under its own key, so only those are compared. Fewer are compared one by one,
 * under the key ''.
 */
interface AffixTable {
  keyLength: number;
  byKey: Map<string, string[]>;
}

/** Compiles lower-cased tests of the values into one test that matches when any value matches. */
export function compileValueSet(values: PlainValue[]): StringTest {
  const equal = new Set<string>();
  const numbers = new Set<number>();
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  const substrings: string[] = [];
  for (const { pattern, number } of values) {
    const text = pattern.text.toLowerCase();
    if (pattern.shape === 'equals') equal.add(text);
    else if (pattern.shape === 'startswith') prefixes.push(text);
    else if (pattern.shape === 'endswith') suffixes.push(text);
    else substrings.push(text);
    if (number !== undefined) numbers.add(number);
  }

  const prefixTable = affixTable(prefixes, false);
  const suffixTable = affixTable(suffixes, true);
  const automaton = substrings.length >= MIN_AUTOMATON_SUBSTRINGS ? new SubstringAutomaton(substrings.map((text, index) => [text, index])) : undefined;
  const loopSubstrings = automaton === undefined ? substrings : [];
  const checkNumbers = numbers.size > 0;
  const checkEqual = equal.size > 0;

  return (value, lower) => {
    if (checkEqual && equal.has(lower)) return true;
    if (checkNumbers && PLAIN_DECIMAL.test(value) && numbers.has(Number(value))) return true;
    if (prefixTable !== undefined && hasAffix(prefixTable, lower, false)) return true;
    if (suffixTable !== undefined && hasAffix(suffixTable, lower, true)) return true;
    for (const text of loopSubstrings) if (lower.includes(text)) return true;
    return automaton !== undefined && containsAny(automaton, lower);
  };
}

function affixTable(affixes: string[], suffix: boolean): AffixTable | undefined {
  if (affixes.length === 0) return undefined;
  const keyLength = affixes.length < MIN_AFFIX_TABLE ? 0 : Math.min(...affixes.map((text) => text.length));
  const byKey = new Map<string, string[]>();
  for (const text of affixes) {
    const key = suffix ? text.slice(text.length - keyLength) : text.slice(0, keyLength);
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [text]);
    else if (!list.includes(text)) list.push(text);
  }
  return { keyLength, byKey };
}

function hasAffix(table: AffixTable, lower: string, suffix: boolean): boolean {
  if (lower.length < table.keyLength) return false;
  let key = '';
  if (table.keyLength > 0) key = suffix ? lower.slice(lower.length - table.keyLength) : lower.slice(0, table.keyLength);
  const candidates = table.byKey.get(key);
  if (candidates === undefined) return false;
  for (const text of candidates) if (suffix ? lower.endsWith(text) : lower.startsWith(text)) return true;
  return false;
}

/** Flag set by `markFound` during one `containsAny` call: scans run one at a time on one thread. */
let substringFound = false;
const markFound = (): void => {
  substringFound = true;
};

/** Returns true when the lower-cased value contains one of the automaton's substrings. */
function containsAny(automaton: SubstringAutomaton, lower: string): boolean {
  substringFound = false;
  automaton.scan(lower, markFound);
  return substringFound;
}
