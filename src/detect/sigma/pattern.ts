/**
 * Sigma string values: wildcards `*` and `?`, backslash escaping, `%placeholder%` tokens
 * (with the expand modifier) and the windash character class, compiled to matchers.
 *
 * Escaping follows the Sigma rules specification 2.1 ("Escape Character"): a backslash
 * escapes `*`, `?` and `\`; before any other character it is a plain backslash.
 */
import { RE2JS } from 're2js';

export const ANY_SEQUENCE = Symbol('*');
export const ANY_CHARACTER = Symbol('?');
/** One of `-`, `/`, en dash, em dash or horizontal bar (windash modifier). */
export const DASH = Symbol('windash');

export interface Placeholder {
  placeholder: string;
}

export type PatternPart = string | typeof ANY_SEQUENCE | typeof ANY_CHARACTER | typeof DASH | Placeholder;

export const WINDASH_CHARACTERS = ['-', '/', '\u2013', '\u2014', '\u2015'];

/** Splits a Sigma string into literal text and wildcard tokens. */
export function parseSigmaString(text: string, withPlaceholders: boolean): PatternPart[] {
  const parts: PatternPart[] = [];
  let literal = '';
  const flush = (): void => {
    if (literal !== '') parts.push(literal);
    literal = '';
  };

  for (let index = 0; index < text.length; index++) {
    const char = text[index] as string;
    const next = text[index + 1];
    if (char === '\\' && (next === '*' || next === '?' || next === '\\' || (withPlaceholders && next === '%'))) {
      literal += next;
      index++;
      continue;
    }
    if (char === '*' || char === '?') {
      flush();
      parts.push(char === '*' ? ANY_SEQUENCE : ANY_CHARACTER);
      continue;
    }
    if (withPlaceholders && char === '%') {
      const end = text.indexOf('%', index + 1);
      if (end > index + 1) {
        flush();
        parts.push({ placeholder: text.slice(index + 1, end) });
        index = end;
        continue;
      }
    }
    literal += char;
  }
  flush();
  return parts;
}

export function isLiteral(parts: PatternPart[]): boolean {
  return parts.every((part) => typeof part === 'string');
}

export function literalText(parts: PatternPart[]): string {
  return parts.filter((part): part is string => typeof part === 'string').join('');
}

/** Merges neighbouring literal chunks so the shape tests below see one chunk. */
export function normalise(parts: PatternPart[]): PatternPart[] {
  const merged: PatternPart[] = [];
  for (const part of parts) {
    const last = merged[merged.length - 1];
    if (typeof part === 'string' && typeof last === 'string') merged[merged.length - 1] = last + part;
    else if (part === ANY_SEQUENCE && last === ANY_SEQUENCE) continue;
    else if (part !== '') merged.push(part);
  }
  return merged;
}

/**
 * Tests one string value. `lower` is the value lower-cased once by the caller, used when
 * the pattern is case-insensitive.
 */
export type StringTest = (value: string, lower: string) => boolean;

/**
 * A pattern that is tested by comparing strings: the whole value (`equals`, also for the empty
 * pattern), its start, its end, or a part of it (`contains`) against `text`, as written.
 */
export interface PlainPattern {
  shape: 'equals' | 'startswith' | 'endswith' | 'contains';
  text: string;
}

/** Returns the plain shape of a pattern, or undefined when it needs a regular expression or matches every value (`*`). */
export function plainPattern(input: PatternPart[]): PlainPattern | undefined {
  const parts = normalise(input);
  if (parts.length === 0) return { shape: 'equals', text: '' };
  const [first, second, third] = parts;
  if (parts.length === 1 && typeof first === 'string') return { shape: 'equals', text: first };
  if (parts.length === 2 && first === ANY_SEQUENCE && typeof second === 'string') return { shape: 'endswith', text: second };
  if (parts.length === 2 && typeof first === 'string' && second === ANY_SEQUENCE) return { shape: 'startswith', text: first };
  if (parts.length === 3 && first === ANY_SEQUENCE && typeof second === 'string' && third === ANY_SEQUENCE) return { shape: 'contains', text: second };
  return undefined;
}

/** Compiles a pattern into a test. Case-insensitive patterns are lower-cased here, once. */
export function compilePattern(input: PatternPart[], cased: boolean): StringTest {
  const parts = normalise(input);
  const fold = (text: string): string => (cased ? text : text.toLowerCase());
  const pick = (value: string, lower: string): string => (cased ? value : lower);

  const plain = plainPattern(parts);
  if (plain !== undefined) {
    const text = fold(plain.text);
    if (plain.shape === 'equals') return (value, lower) => pick(value, lower) === text;
    if (plain.shape === 'endswith') return (value, lower) => pick(value, lower).endsWith(text);
    if (plain.shape === 'startswith') return (value, lower) => pick(value, lower).startsWith(text);
    return (value, lower) => pick(value, lower).includes(text);
  }
  if (parts.length === 1 && parts[0] === ANY_SEQUENCE) return () => true;

  const regex = RE2JS.compile(patternToRegex(parts), RE2JS.DOTALL | (cased ? 0 : RE2JS.CASE_INSENSITIVE));
  return (value) => regex.matches(value);
}

function patternToRegex(parts: PatternPart[]): string {
  let source = '';
  for (const part of parts) {
    if (typeof part === 'string') source += RE2JS.quote(part);
    else if (part === ANY_SEQUENCE) source += '.*';
    else if (part === ANY_CHARACTER) source += '.';
    else if (part === DASH) source += `[${WINDASH_CHARACTERS.map((char) => RE2JS.quote(char)).join('')}]`;
    else throw new Error(`Unexpanded placeholder %${part.placeholder}% reached the matcher`);
  }
  return source;
}
