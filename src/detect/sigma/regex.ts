/**
 * Regular expressions for the `re` modifier, run by RE2JS so matching takes time linear
 * in the input. Constructs RE2 cannot run in linear time (lookaround, backreferences,
 * possessive quantifiers, atomic groups) are named in the rejection.
 */
import { RE2JS } from 're2js';

export interface RegexFlags {
  ignoreCase: boolean;
  multiline: boolean;
  dotAll: boolean;
}

/** A compiled pattern, or the reason it cannot be compiled. */
export type RegexCompileResult = { ok: true; regex: RE2JS } | { ok: false; construct: string; detail: string; invalid?: boolean };

const UNSUPPORTED_CONSTRUCTS: { test: RegExp; construct: string }[] = [
  { test: /\(\?=/, construct: 'lookahead (?=...)' },
  { test: /\(\?!/, construct: 'negative lookahead (?!...)' },
  { test: /\(\?<=/, construct: 'lookbehind (?<=...)' },
  { test: /\(\?<!/, construct: 'negative lookbehind (?<!...)' },
  { test: /\(\?>/, construct: 'atomic group (?>...)' },
  { test: /\\[1-9]/, construct: 'backreference \\1..\\9' },
  { test: /\\k[<{']/, construct: 'named backreference \\k<name>' },
  { test: /[*+?}][+]/, construct: 'possessive quantifier (*+, ++, ?+)' },
];

/** Removes escaped characters and character classes, where the constructs above are literal. */
function stripLiterals(pattern: string): string {
  let output = '';
  let inClass = false;
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index];
    if (char === '\\') {
      const next = pattern[index + 1] ?? '';
      // Keep escapes that are constructs themselves (backreferences), drop escaped literals.
      output += /[1-9k]/.test(next) && !inClass ? `\\${next}` : '__';
      index++;
      continue;
    }
    if (inClass) {
      if (char === ']') inClass = false;
      output += '_';
      continue;
    }
    if (char === '[') {
      inClass = true;
      output += '_';
      // A ']' right after '[' or '[^' is a literal member of the class.
      if (pattern[index + 1] === '^') {
        index++;
        output += '_';
      }
      if (pattern[index + 1] === ']') {
        index++;
        output += '_';
      }
      continue;
    }
    output += char;
  }
  return output;
}

export function compileRegex(pattern: string, flags: RegexFlags): RegexCompileResult {
  const structure = stripLiterals(pattern);
  for (const { test, construct } of UNSUPPORTED_CONSTRUCTS) {
    if (test.test(structure)) return { ok: false, construct, detail: `the pattern uses ${construct}` };
  }

  let mask = 0;
  if (flags.ignoreCase) mask |= RE2JS.CASE_INSENSITIVE;
  if (flags.multiline) mask |= RE2JS.MULTILINE;
  if (flags.dotAll) mask |= RE2JS.DOTALL;
  try {
    return { ok: true, regex: RE2JS.compile(pattern, mask) };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    // A pattern that JavaScript rejects too is a syntax error, not a construct RE2 lacks.
    return { ok: false, construct: 'syntax RE2 does not accept', detail, invalid: !isJavaScriptRegex(pattern) };
  }
}

function isJavaScriptRegex(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
