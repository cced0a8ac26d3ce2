/**
 * Required literals of a regular expression of the `re` modifier: strings of which every match
 * contains at least one, so the prefilter (prefilter.ts) can skip events that contain none. The
 * same parse gives the shortest length of a match, below which a text is not run through RE2JS.
 *
 * The parser reads only the RE2 syntax it must understand to stay safe and returns null for
 * anything else (`\x41`, `\Q...\E`, octal escapes, unknown group forms). Null costs nothing but
 * speed: the rule is then evaluated on every event of its log source.
 */

/** One parsed piece of a regular expression. An `other` node matches characters the prefilter does not track. */
type RegexNode =
  | { kind: 'char'; char: string }
  | { kind: 'other' }
  | { kind: 'assertion' }
  | { kind: 'group'; alternatives: RegexNode[][] }
  | { kind: 'repeat'; node: RegexNode; min: number };

interface ParseState {
  pattern: string;
  index: number;
  /** Set by the `i` flag anywhere in the pattern, which is then read as case-insensitive throughout. */
  ignoreCase: boolean;
}

/** Escapes of one character class or one unknown character. */
const CLASS_ESCAPES = new Set(['d', 'D', 's', 'S', 'w', 'W', 'n', 'r', 't', 'f', 'v', 'a']);
/** Zero-width escapes: word boundary, text start and end. */
const ASSERTION_ESCAPES = new Set(['b', 'B', 'A', 'z']);
const REPEAT = /^\{(\d+)(,\d*)?\}/;
const FLAGS_GROUP = /^\(\?([imsU]*)(?:-([imsU]*))?([:)])/;

/**
 * Splits literal runs where RE2's case folding and toLowerCase may disagree. Case-insensitive RE2
 * folds `s` with U+017F, which toLowerCase keeps, and folds non-ASCII letters by its own tables.
 * toLowerCase of a non-ASCII character may depend on its neighbours (final sigma), so even a
 * case-sensitive literal is cut there.
 */
const UNSAFE_CASE_INSENSITIVE = /[sS]|[^\x00-\x7f]/;
const UNSAFE_CASE_SENSITIVE = /[^\x00-\x7f]/;

/**
 * Returns lower-cased strings, each at least `minLength` long, of which every match of `pattern`
 * contains one. Returns null when the pattern guarantees no such string or uses syntax this parser
 * does not read. When a match contains a literal, the lower-cased text contains the lower-cased literal.
 */
export function requiredRegexLiterals(pattern: string, ignoreCase: boolean, minLength: number): string[] | null {
  const state: ParseState = { pattern, index: 0, ignoreCase };
  const alternatives = parseAlternation(state, false);
  if (alternatives === null) return null;
  const unsafe = state.ignoreCase ? UNSAFE_CASE_INSENSITIVE : UNSAFE_CASE_SENSITIVE;
  return requiredOfAlternation(alternatives, unsafe, minLength);
}

/**
 * Returns a lower bound on the length, in UTF-16 code units, of every match of `pattern`, or 0 when
 * the parser does not read the pattern. Each literal character, class or dot matches one code
 * point, which is one or two code units, so a text shorter than the bound cannot contain a match.
 */
export function minimumMatchLength(pattern: string): number {
  const alternatives = parseAlternation({ pattern, index: 0, ignoreCase: false }, false);
  return alternatives === null ? 0 : minimumOfAlternation(alternatives);
}

function minimumOfAlternation(alternatives: RegexNode[][]): number {
  let minimum = Number.POSITIVE_INFINITY;
  for (const sequence of alternatives) {
    let length = 0;
    for (const node of sequence) length += minimumOfNode(node);
    minimum = Math.min(minimum, length);
  }
  return minimum === Number.POSITIVE_INFINITY ? 0 : minimum;
}

function minimumOfNode(node: RegexNode): number {
  switch (node.kind) {
    case 'char': {
      // The second half of a surrogate pair belongs to the code point its first half counted.
      const code = node.char.charCodeAt(0);
      return code >= 0xdc00 && code <= 0xdfff ? 0 : 1;
    }
    case 'other':
      return 1;
    case 'assertion':
      return 0;
    case 'group':
      return minimumOfAlternation(node.alternatives);
    case 'repeat':
      return node.min * minimumOfNode(node.node);
  }
}

function parseAlternation(state: ParseState, nested: boolean): RegexNode[][] | null {
  const alternatives: RegexNode[][] = [[]];
  while (state.index < state.pattern.length) {
    const char = state.pattern[state.index];
    if (char === ')') return nested ? alternatives : null;
    if (char === '|') {
      alternatives.push([]);
      state.index++;
      continue;
    }

    const atom = parseAtom(state);
    if (atom === null) return null;
    if (atom === 'flags') continue;
    let node: RegexNode = atom;
    for (let min = parseQuantifier(state); min !== undefined; min = parseQuantifier(state)) node = { kind: 'repeat', node, min };
    (alternatives[alternatives.length - 1] as RegexNode[]).push(node);
  }
  return nested ? null : alternatives;
}

/** Reads one atom, or returns `flags` for a standalone `(?i)` group, which matches nothing. */
function parseAtom(state: ParseState): RegexNode | 'flags' | null {
  const { pattern } = state;
  const char = pattern[state.index] as string;
  if (char === '(') return parseGroup(state);
  if (char === '[') return skipClass(state) ? { kind: 'other' } : null;
  if (char === '\\') return parseEscape(state);
  if (char === '*' || char === '+' || char === '?') return null;
  if (char === '{' && REPEAT.test(pattern.slice(state.index))) return null;

  state.index++;
  if (char === '.') return { kind: 'other' };
  if (char === '^' || char === '$') return { kind: 'assertion' };
  return { kind: 'char', char };
}

function parseGroup(state: ParseState): RegexNode | 'flags' | null {
  const rest = state.pattern.slice(state.index);
  if (rest.startsWith('(?')) {
    const flags = FLAGS_GROUP.exec(rest);
    const named = /^\(\?P?<[A-Za-z_][A-Za-z0-9_]*>/.exec(rest);
    if (flags !== null) {
      if ((flags[1] ?? '').includes('i') || (flags[2] ?? '').includes('i')) state.ignoreCase = true;
      state.index += flags[0].length;
      if (flags[3] === ')') return 'flags';
    } else if (named !== null) {
      state.index += named[0].length;
    } else {
      return null;
    }
  } else {
    state.index++;
  }

  const alternatives = parseAlternation(state, true);
  if (alternatives === null || state.pattern[state.index] !== ')') return null;
  state.index++;
  return { kind: 'group', alternatives };
}

/** Moves past a character class, `[^...]` and POSIX `[:alpha:]` members included; false when it is not closed. */
function skipClass(state: ParseState): boolean {
  const { pattern } = state;
  let index = state.index + 1;
  if (pattern[index] === '^') index++;
  // A ']' right after '[' or '[^' is a member of the class.
  if (pattern[index] === ']') index++;
  while (index < pattern.length) {
    const char = pattern[index];
    if (char === ']') {
      state.index = index + 1;
      return true;
    }
    if (char === '\\') index += 2;
    else if (char === '[' && pattern[index + 1] === ':') {
      const end = pattern.indexOf(':]', index + 2);
      if (end < 0) return false;
      index = end + 2;
    } else index++;
  }
  return false;
}

function parseEscape(state: ParseState): RegexNode | null {
  const { pattern } = state;
  const next = pattern[state.index + 1];
  if (next === undefined) return null;
  state.index += 2;
  if (next === 'p' || next === 'P') {
    if (pattern[state.index] !== '{') {
      state.index++;
      return { kind: 'other' };
    }
    const end = pattern.indexOf('}', state.index);
    if (end < 0) return null;
    state.index = end + 1;
    return { kind: 'other' };
  }
  if (CLASS_ESCAPES.has(next)) return { kind: 'other' };
  if (ASSERTION_ESCAPES.has(next)) return { kind: 'assertion' };
  // Other letters and digits (\x41, \Q, \0, \C...) have a meaning this parser does not read.
  if (/[A-Za-z0-9]/.test(next)) return null;
  return { kind: 'char', char: next };
}

/** Reads a quantifier after an atom and returns its minimum count, or undefined when there is none. */
function parseQuantifier(state: ParseState): number | undefined {
  const { pattern } = state;
  const char = pattern[state.index];
  let min: number | undefined;
  if (char === '*' || char === '?') {
    min = 0;
    state.index++;
  } else if (char === '+') {
    min = 1;
    state.index++;
  } else if (char === '{') {
    const repeat = REPEAT.exec(pattern.slice(state.index));
    if (repeat === null) return undefined;
    min = Number(repeat[1]);
    state.index += repeat[0].length;
  } else {
    return undefined;
  }
  // A trailing '?' makes the quantifier lazy, which changes what is captured, not what matches.
  if (pattern[state.index] === '?') state.index++;
  return min;
}

/** Returns the union of the alternatives' required strings: every match takes one alternative, so one of them is in it. */
function requiredOfAlternation(alternatives: RegexNode[][], unsafe: RegExp, minLength: number): string[] | null {
  const union = new Set<string>();
  for (const sequence of alternatives) {
    const required = requiredOfSequence(sequence, unsafe, minLength);
    if (required === null) return null;
    for (const text of required) union.add(text);
  }
  return [...union];
}

/**
 * Every node of a sequence matches, so each run of literal characters and each required set of
 * a group is required: returns the most selective one, the set whose shortest string is longest.
 */
function requiredOfSequence(sequence: RegexNode[], unsafe: RegExp, minLength: number): string[] | null {
  let best: string[] | null = null;
  const consider = (candidate: string[] | null): void => {
    if (candidate !== null && (best === null || shortest(candidate) > shortest(best))) best = candidate;
  };

  let run = '';
  const endRun = (): void => {
    for (const piece of run.split(unsafe)) if (piece.length >= minLength) consider([piece.toLowerCase()]);
    run = '';
  };
  for (const node of sequence) {
    if (node.kind === 'char') {
      run += node.char;
      continue;
    }
    endRun();
    consider(requiredOfNode(node, unsafe, minLength));
  }
  endRun();
  return best;
}

function requiredOfNode(node: RegexNode, unsafe: RegExp, minLength: number): string[] | null {
  if (node.kind === 'group') return requiredOfAlternation(node.alternatives, unsafe, minLength);
  if (node.kind === 'repeat') return node.min >= 1 ? requiredOfNode(node.node, unsafe, minLength) : null;
  return null;
}

function shortest(texts: string[]): number {
  return Math.min(...texts.map((text) => text.length));
}
