/**
 * The scan of an event's keyword strings for the keyword literals of a rule set. Several literal
 * indexes test one event (its log source keys and the unindexed rules) and all need the same
 * result, so the strings are scanned once per event instead of once per index.
 *
 * Only the literals of rules whose log source the event meets are looked for. A Windows event then
 * looks for the Windows keyword literals, not for short Linux ones such as `-d`. For each
 * combination of log sources met, a group of literals is built once, and with it three cheap tests
 * that let most strings skip the automaton:
 *
 * - a string shorter than the group's shortest literal cannot contain one of them;
 * - a number's text (digits, sign, point, exponent, `Infinity`, `NaN`) is skipped, unless some
 *   literal of the group is made only of characters such text can contain;
 * - a case-insensitive regular expression over substrings that the group's literals share, or
 *   the literals themselves (the gate, see `sharedFactors`). V8 runs it as native code, and over
 *   the strings of the Windows mix of bench/sigma-corpus.ts a gate over the literals took about
 *   half the time of the automaton's loop in JavaScript (Node 20). A string that it does not match
 *   contains none of the literals. A string that it matches is scanned by the automaton, which
 *   gives the exact literals.
 */
import type { EventPredicate, MatchScope } from './scope.js';
import { forEachKeywordString } from './scope.js';
import { SubstringAutomaton } from './substring-automaton.js';
import { memoizable, NO_RESULTS, ValueMemo } from './value-memo.js';
import type { ValueMemoLimits } from './value-memo.js';

/**
 * Memo limits of the keyword scan, per generation. A rule set has one, and a Windows event brings
 * about 50 keyword strings, so it gets more room than a field: at most about 6 MB in its two generations.
 */
export const KEYWORD_MEMO_LIMITS: ValueMemoLimits = { maxEntries: 16_384, maxChars: 1_048_576 };

/**
 * Minimum literal length of a group with a gate. A group with a shorter literal, such as `-d`,
 * matches nearly every command line, so its gate would let most strings through to the automaton.
 */
const GATE_MIN_LITERAL = 3;
/**
 * Maximum literals of a group with a gate. A gate over the 141 keyword literals of the corpus took
 * about 1.7 times as long per string as one over the 21 that Windows process creation events meet.
 * NOTE: the limit itself is an estimate: no event mix in the benchmark meets a group this large.
 */
const GATE_MAX_LITERALS = 64;
/** Groups kept at most; past that the cache starts over. Each distinct combination of log sources met makes one. */
const MAX_GROUPS = 1_024;
/** Characters that the text of a number, lower-cased, can contain: `String` of a number or bigint. */
const NUMBER_TEXT_CHARACTERS = new Set('0123456789-+.einftya');

/**
 * The code units outside ASCII whose lower-case form contains an ASCII character: in Node 20 these
 * are U+0130 (İ, lower-cased to `i` and a combining dot) and U+212A (the Kelvin sign, lower-cased to
 * `k`). Computed once from `toLowerCase`, so a later Unicode version is followed.
 */
let asciiLowering: string | undefined;

function asciiLoweringUnits(): string {
  if (asciiLowering !== undefined) return asciiLowering;
  let units = '';
  for (let code = 0x80; code <= 0xffff; code++) {
    const lower = String.fromCharCode(code).toLowerCase();
    for (let index = 0; index < lower.length; index++) {
      if (lower.charCodeAt(index) < 0x80) {
        units += String.fromCharCode(code);
        break;
      }
    }
  }
  asciiLowering = units;
  return units;
}

/** The literals looked for in the events that meet one combination of log sources. */
interface KeywordGroup {
  /** Per literal number, 1 when the group contains it. */
  members: Uint8Array;
  empty: boolean;
  minLength: number;
  /** True when some literal can occur in the text of a number, so numbers are scanned. */
  numbers: boolean;
  /** Matches every string that contains a literal of the group, or is undefined when each string goes to the automaton. */
  gate?: RegExp;
}

export interface KeywordScanOptions {
  /**
   * Per literal, the log source conditions of the rules that use it. Without them, every literal
   * is looked for in every event.
   */
  logsources?: EventPredicate[][];
  /** For tests: null turns the memo off. */
  memoLimits?: ValueMemoLimits | null;
  /** For tests: false sends every string to the automaton, for a reference without the gate and the skips. */
  gate?: boolean;
}

export class KeywordScan {
  private readonly texts: string[];
  private readonly automaton: SubstringAutomaton;
  private readonly seenStamps: Uint32Array;
  private stamp = 0;
  private lastScope?: MatchScope;
  /** Distinct log source conditions, and per condition the numbers of its literals. */
  private readonly logsources: EventPredicate[] = [];
  private readonly literalsByLogsource: number[][] = [];
  private readonly groups = new Map<number | string, KeywordGroup>();
  /** The group of a scan built without log sources: every literal. */
  private readonly allLiterals: KeywordGroup;
  private readonly useGate: boolean;
  /** The group of the last scan. */
  private group: KeywordGroup;
  /** The event of the deferred requests, the positions of the conditions they met, and who takes the result. */
  private pendingScope?: MatchScope;
  private readonly pendingMet: number[] = [];
  private readonly pending: ((ids: readonly number[]) => void)[] = [];
  /** Reused for every event: callers read it before the next event's scan. */
  private readonly found: number[] = [];
  private readonly add = (id: number): void => {
    if (this.seenStamps[id] === this.stamp || this.group.members[id] === 0) return;
    this.seenStamps[id] = this.stamp;
    this.found.push(id);
  };
  /** Literal numbers per recent keyword string, for groups without a gate. Numbers are not cached: their strings are short and built anew per event. */
  private readonly memo?: ValueMemo<readonly number[]>;
  /** Scratch list of one string's literals, reused for every string that misses the memo. */
  private readonly stringLiterals: number[] = [];
  private readonly collectLiteral = (id: number): void => {
    if (!this.stringLiterals.includes(id)) this.stringLiterals.push(id);
  };
  private readonly visit = (text: string, number: boolean): void => {
    const group = this.group;
    if (text.length < group.minLength) return;
    if (group.gate !== undefined) {
      if (group.gate.test(text)) this.automaton.scan(text, this.add);
      return;
    }
    if (this.memo === undefined || number || !memoizable(text)) {
      this.automaton.scan(text, this.add);
      return;
    }
    let ids = this.memo.get(text);
    if (ids === undefined) {
      this.stringLiterals.length = 0;
      this.automaton.scan(text, this.collectLiteral);
      ids = this.stringLiterals.length === 0 ? NO_RESULTS : this.stringLiterals.slice();
      this.memo.set(text, ids);
    }
    for (const id of ids) this.add(id);
  };

  /** Takes lower-cased texts. A literal's number is its position in `texts`. */
  constructor(texts: string[], options: KeywordScanOptions = {}) {
    this.texts = texts;
    this.automaton = new SubstringAutomaton(texts.map((text, id) => [text, id]));
    this.seenStamps = new Uint32Array(texts.length);
    this.useGate = options.gate ?? true;
    const memoLimits = options.memoLimits === undefined ? KEYWORD_MEMO_LIMITS : options.memoLimits;
    if (memoLimits !== null) this.memo = new ValueMemo(memoLimits);

    if (options.logsources !== undefined) {
      const positions = new Map<EventPredicate, number>();
      options.logsources.forEach((logsources, id) => {
        for (const logsource of logsources) {
          let position = positions.get(logsource);
          if (position === undefined) {
            position = this.logsources.length;
            positions.set(logsource, position);
            this.logsources.push(logsource);
            this.literalsByLogsource.push([]);
          }
          const literals = this.literalsByLogsource[position] as number[];
          if (literals[literals.length - 1] !== id) literals.push(id);
        }
      });
    }
    this.allLiterals = this.buildGroup(texts.map((_, id) => id));
    this.group = this.allLiterals;
  }

  /** Returns the position of a log source condition given to the constructor, or -1 for another. */
  positionOf(logsource: EventPredicate): number {
    return this.logsources.indexOf(logsource);
  }

  /**
   * Returns the numbers of the literals that occur in the event's keyword strings, each once, of
   * the rules whose log source the event meets. `met` lists the positions of the log source
   * conditions that the event meets; without it, every condition is tested here. The strings are
   * read from the event as they are, not collected: the automaton folds case itself.
   */
  literalsIn(scope: MatchScope, met?: readonly number[]): readonly number[] {
    const group = this.logsources.length === 0 ? this.allLiterals : this.groupOf(met ?? this.metBy(scope));
    if (scope === this.lastScope && group === this.group) return this.found;
    this.lastScope = scope;
    this.group = group;
    this.found.length = 0;
    if (group.empty) return this.found;
    if (++this.stamp === 0xffffffff) {
      this.seenStamps.fill(0);
      this.stamp = 1;
    }
    forEachKeywordString(scope.event, this.visit, group.numbers);
    return this.found;
  }

  /**
   * Records that the event meets the log source conditions at `met`, and that `deliver` takes the
   * literals found. `flush` scans once for the literals of every condition recorded for the event.
   */
  defer(scope: MatchScope, met: readonly number[], deliver: (ids: readonly number[]) => void): void {
    if (scope !== this.pendingScope) {
      this.pendingScope = scope;
      this.pending.length = 0;
      this.pendingMet.length = 0;
    }
    for (const position of met) if (!this.pendingMet.includes(position)) this.pendingMet.push(position);
    this.pending.push(deliver);
  }

  /** Scans the event for the literals deferred to it, and hands them to each `deliver` of `defer`. */
  flush(scope: MatchScope): void {
    if (scope !== this.pendingScope) return;
    const ids = this.literalsIn(scope, this.pendingMet);
    for (const deliver of this.pending) deliver(ids);
    this.pendingScope = undefined;
    this.pending.length = 0;
    this.pendingMet.length = 0;
  }

  /** Returns the positions of the log source conditions that the event meets. */
  private metBy(scope: MatchScope): number[] {
    const met: number[] = [];
    for (let position = 0; position < this.logsources.length; position++) if ((this.logsources[position] as EventPredicate)(scope)) met.push(position);
    return met;
  }

  /** Returns the group of the log source conditions at `met`, built on first use. */
  private groupOf(met: readonly number[]): KeywordGroup {
    // A bit mask while the positions fit in a small integer, which V8 hashes without building a string.
    let mask = 0;
    let small = true;
    for (const position of met) {
      if (position < 0) continue;
      if (position >= 30) small = false;
      else mask |= 1 << position;
    }
    const key = small ? mask : [...met].sort((a, b) => a - b).join(',');
    let group = this.groups.get(key);
    if (group === undefined) {
      if (this.groups.size >= MAX_GROUPS) this.groups.clear();
      const ids = new Set<number>();
      for (const position of met) for (const id of this.literalsByLogsource[position] ?? []) ids.add(id);
      group = this.buildGroup([...ids].sort((a, b) => a - b));
      this.groups.set(key, group);
    }
    return group;
  }

  private buildGroup(ids: number[]): KeywordGroup {
    const members = new Uint8Array(this.texts.length);
    for (const id of ids) members[id] = 1;
    const literals = ids.map((id) => this.texts[id] as string);
    const group: KeywordGroup = { members, empty: ids.length === 0, minLength: 0, numbers: true };
    if (!this.useGate || literals.length === 0) return group;

    group.numbers = literals.some((text) => [...text].every((character) => NUMBER_TEXT_CHARACTERS.has(character)));
    const ascii = literals.every((text) => !/[^\x00-\x7f]/.test(text));
    // Lower-casing can lengthen a string (U+0130 becomes two code units), but each code unit gives
    // at most one ASCII character, so only an ASCII literal needs as many code units as it has.
    if (ascii) group.minLength = Math.min(...literals.map((text) => text.length));
    if (ascii && group.minLength >= GATE_MIN_LITERAL && literals.length <= GATE_MAX_LITERALS) group.gate = gateFor(sharedFactors(literals));
    return group;
  }
}

/**
 * Returns substrings of the literals such that each literal contains one of them: a substring
 * that several literals share, such as `::` in `sekurlsa::` and `kerberos::ptt`, or else the
 * literal itself. A gate over fewer and shorter alternatives runs faster. Over the strings of the
 * Windows mix of bench/sigma-corpus.ts, a gate over the 4 substrings chosen for the 21 literals
 * that Windows events meet took about half the time of one over the literals (Node 20).
 *
 * Substrings are chosen greedily, the one in the most literals first and the longer one of a tie.
 * A substring that matches many strings costs time but never a match, because the automaton
 * decides which literals a string that passes the gate contains. Short substrings made of letters
 * or digits would pass most strings, so a shared substring needs SHARED_FACTOR_MIN_LENGTH
 * characters, or 2 when none of them is a letter, digit, space or path character.
 */
export function sharedFactors(literals: string[]): string[] {
  const texts = [...new Set(literals)];
  // Per substring that at least two literals contain, the positions of those literals in `texts`.
  const covers = new Map<string, number[]>();
  for (const text of texts) {
    for (let start = 0; start < text.length; start++) {
      for (let end = start + 2; end <= Math.min(text.length, start + SHARED_FACTOR_MAX_LENGTH); end++) {
        const factor = text.slice(start, end);
        if (covers.has(factor) || (factor.length < SHARED_FACTOR_MIN_LENGTH && COMMON_CHARACTER.test(factor))) continue;
        const cover: number[] = [];
        texts.forEach((other, position) => {
          if (other.includes(factor)) cover.push(position);
        });
        if (cover.length >= 2) covers.set(factor, cover);
      }
    }
  }

  const covered = new Uint8Array(texts.length);
  const factors: string[] = [];
  for (;;) {
    let best: string | undefined;
    let bestCount = 1;
    for (const [factor, cover] of covers) {
      let count = 0;
      for (const position of cover) if (covered[position] === 0) count++;
      if (count > bestCount || (count === bestCount && best !== undefined && (factor.length > best.length || (factor.length === best.length && factor < best)))) {
        best = factor;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    factors.push(best);
    for (const position of covers.get(best) as number[]) covered[position] = 1;
  }
  texts.forEach((text, position) => {
    if (covered[position] === 0) factors.push(text);
  });
  return factors;
}

/** Maximum length of a shared substring: longer ones are rarely shared and would only slow the choice. */
const SHARED_FACTOR_MAX_LENGTH = 12;
/** Minimum length of a substring that several keyword literals share and that replaces them in a gate. */
const SHARED_FACTOR_MIN_LENGTH = 4;
/** Characters that make a substring shorter than SHARED_FACTOR_MIN_LENGTH too common to replace literals in a gate. */
const COMMON_CHARACTER = /[a-z0-9\s\\/.\-_]/;

/**
 * Returns a regular expression that matches every string whose lower-cased form contains one of
 * the ASCII literals. Without the `u` flag, `i` makes an ASCII character match itself and its
 * other case only: no code unit outside ASCII matches an ASCII character (ECMAScript's
 * Canonicalize keeps a code unit whose upper case would be ASCII). `toLowerCase` maps each ASCII
 * character to one ASCII character, and the code units outside ASCII to code units outside ASCII,
 * except those of `asciiLoweringUnits`. The expression matches these too, so such a string always
 * goes to the automaton.
 */
function gateFor(literals: string[]): RegExp {
  const alternatives = [...new Set(literals)].map((text) => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'));
  const lowering = asciiLoweringUnits();
  if (lowering.length > 0) alternatives.push(`[${[...lowering].map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}]`);
  return new RegExp(alternatives.join('|'), 'i');
}
