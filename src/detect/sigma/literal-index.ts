/**
 * The per-field index of the required literals (prefilter.ts) of a group of rules. Exact values
 * are in a Map and substrings in an Aho-Corasick automaton. One pass over each field value then
 * finds every clause it passes, however many rules test that field. Keyword literals share one
 * scan per rule set and event (KeywordScan).
 */
import type { FieldAccessor } from './fields.js';
import { KEYWORD_STRINGS, MAX_CLAUSES } from './prefilter.js';
import type { Clause } from './prefilter.js';
import { forEachKeywordString } from './scope.js';
import type { EventPredicate, MatchScope, ValueEntry } from './scope.js';
import { memoizable, NO_RESULTS, ValueMemo } from './value-memo.js';
import type { ValueMemoLimits } from './value-memo.js';
import { SubstringAutomaton } from './substring-automaton.js';

export { SubstringAutomaton };

const PLAIN_DECIMAL = /^[-+]?(\d+(\.\d*)?|\.\d+)$/;

/**
 * Memo limits of each field with substrings, per generation. With the public corpus a stage has
 * about 150 such fields, but an event reaches only those of its log source keys, about 30 for
 * Windows events. At the limits, the memo of one field takes at most about 200 KB in its two generations.
 */
export const FIELD_MEMO_LIMITS: ValueMemoLimits = { maxEntries: 512, maxChars: 32_768 };
/**
 * Memo limits of the keyword scan, per generation. A rule set has one, and a Windows event brings
 * about 50 keyword strings, so it gets more room than a field: at most about 6 MB in its two generations.
 */
export const KEYWORD_MEMO_LIMITS: ValueMemoLimits = { maxEntries: 16_384, maxChars: 1_048_576 };

/** A rule of the group (its position in the group) and the bit of one of its clauses. */
type Target = number;

interface FieldIndex {
  accessor: FieldAccessor;
  equals: Map<string, Target[]>;
  numbers: Map<number, Target[]>;
  substrings?: SubstringAutomaton;
  /** Targets per recent value, for fields with substrings: their scan is what a lookup saves. */
  memo?: ValueMemo<readonly Target[]>;
}

export class LiteralIndex {
  /** Rules tested on every event of the group: they have no required literals. */
  private readonly unfiltered: number[] = [];
  /** Rules with required literals, by their position in the group. */
  private readonly filtered: number[] = [];
  /** Per filtered rule, the mask with a bit set for each of its clauses. */
  private readonly complete: number[] = [];
  private readonly passed: Uint8Array;
  private readonly passedStamps: Uint32Array;
  private stamp = 0;
  /** The `add` of the current `collect` call, kept in a field so that `pass` is created once, not per event. */
  private add: (rule: number) => void = () => undefined;
  private readonly fields: FieldIndex[] = [];
  /** The rule set's shared scan of the keyword strings, and the targets of each of its literal numbers. */
  private keywordScan?: KeywordScan;
  private readonly keywordTargets = new Map<number, Target[]>();
  /** Log source conditions of the rules with keyword literals: when none holds, no such rule can match and the scan is skipped. */
  private readonly keywordLogsources = new Set<EventPredicate>();

  /** Scratch list of one value's targets, reused for every value that misses the memo. */
  private readonly valueTargets: Target[] = [];
  private readonly collectTarget = (target: Target): void => {
    if (!this.valueTargets.includes(target)) this.valueTargets.push(target);
  };

  /**
   * `rules` lists rule indexes with their clauses, or null for rules without. `memoLimits` is for
   * tests: null scans every value, for a reference without the memo.
   */
  constructor(rules: { rule: number; clauses: Clause[] | null }[], memoLimits: ValueMemoLimits | null = FIELD_MEMO_LIMITS) {
    const byAccessor = new Map<FieldAccessor, { index: FieldIndex; substrings: [string, Target][] }>();
    for (const { rule, clauses } of rules) {
      if (clauses === null || clauses.length === 0 || clauses.length > MAX_CLAUSES) {
        this.unfiltered.push(rule);
        continue;
      }
      const position = this.filtered.length;
      this.filtered.push(rule);
      this.complete.push((1 << clauses.length) - 1);
      clauses.forEach((clause, bit) => {
        const target = position * 8 + bit;
        for (const literal of clause) {
          this.keywordScan ??= literal.shared?.scan;
          if (literal.shared !== undefined && literal.shared.scan === this.keywordScan) {
            append(this.keywordTargets, literal.shared.id, target);
            this.keywordLogsources.add(literal.shared.logsource);
            continue;
          }
          let entry = byAccessor.get(literal.accessor);
          if (entry === undefined) {
            entry = { index: { accessor: literal.accessor, equals: new Map(), numbers: new Map() }, substrings: [] };
            byAccessor.set(literal.accessor, entry);
          }
          if (literal.kind === 'contains') entry.substrings.push([literal.text, target]);
          else {
            append(entry.index.equals, literal.text, target);
            if (literal.number !== undefined) append(entry.index.numbers, literal.number, target);
          }
        }
      });
    }
    for (const { index, substrings } of byAccessor.values()) {
      if (substrings.length > 0) {
        index.substrings = new SubstringAutomaton(substrings);
        // Keyword strings keep numbers as written and lower-case other strings, so one text can
        // have two lower-cased forms there, and the memo keys by text alone.
        if (memoLimits !== null && index.accessor !== KEYWORD_STRINGS) index.memo = new ValueMemo(memoLimits);
      }
      this.fields.push(index);
    }
    this.passed = new Uint8Array(this.filtered.length);
    this.passedStamps = new Uint32Array(this.filtered.length);
  }

  /** Calls `add` for every rule of the group the event may match; a rule may be added more than once. */
  collect(scope: MatchScope, add: (rule: number) => void): void {
    for (const rule of this.unfiltered) add(rule);
    if (this.filtered.length === 0) return;
    if (++this.stamp === 0xffffffff) {
      this.passedStamps.fill(0);
      this.stamp = 1;
    }
    this.add = add;
    const pass = this.pass;
    if (this.keywordScan !== undefined && this.anyKeywordLogsource(scope)) {
      for (const id of this.keywordScan.literalsIn(scope)) {
        const targets = this.keywordTargets.get(id);
        if (targets !== undefined) for (const target of targets) pass(target);
      }
    }
    for (const field of this.fields) {
      const entries = field.accessor === KEYWORD_STRINGS ? scope.keywordStrings() : scope.fieldEntries(field.accessor);
      if (entries === undefined) continue;
      for (const entry of entries) {
        if (field.memo === undefined || !memoizable(entry.value)) {
          this.testValue(field, entry, pass);
          continue;
        }
        let targets = field.memo.get(entry.value);
        if (targets === undefined) {
          targets = this.valueTargetsOf(field, entry);
          field.memo.set(entry.value, targets);
        }
        for (const target of targets) pass(target);
      }
    }
  }

  /** Calls `found` with every target of one field value: its exact value, its number and its substrings. */
  private testValue(field: FieldIndex, entry: ValueEntry, found: (target: Target) => void): void {
    const exact = field.equals.size > 0 ? field.equals.get(entry.lower) : undefined;
    if (exact !== undefined) for (const target of exact) found(target);
    if (field.numbers.size > 0 && PLAIN_DECIMAL.test(entry.value)) {
      const numeric = field.numbers.get(Number(entry.value));
      if (numeric !== undefined) for (const target of numeric) found(target);
    }
    // The automaton folds case as it reads, so fields without exact values are never lower-cased.
    field.substrings?.scan(entry.value, found);
  }

  /** Returns the targets of one field value, each once, in a new list for the memo. */
  private valueTargetsOf(field: FieldIndex, entry: ValueEntry): readonly Target[] {
    this.valueTargets.length = 0;
    this.testValue(field, entry, this.collectTarget);
    return this.valueTargets.length === 0 ? NO_RESULTS : this.valueTargets.slice();
  }

  /** Records that the event passed one clause of a rule, and adds the rule once it passed them all. */
  private readonly pass = (target: Target): void => {
    const position = target >>> 3;
    const mask = (this.passedStamps[position] === this.stamp ? (this.passed[position] as number) : 0) | (1 << (target & 7));
    this.passedStamps[position] = this.stamp;
    this.passed[position] = mask;
    if (mask === this.complete[position]) this.add(this.filtered[position] as number);
  };

  /**
   * Tells whether the event meets the log source condition of a rule with keyword literals. Keyword
   * strings cover the whole event, so scanning them costs more than testing a log source. An event
   * of another log source, such as a hospital record under a Windows rule, skips the scan.
   */
  private anyKeywordLogsource(scope: MatchScope): boolean {
    for (const logsource of this.keywordLogsources) if (logsource(scope)) return true;
    return false;
  }
}

/**
 * One automaton over the keyword literals of every rule of a rule set. Several literal indexes
 * test one event (its log source keys and the unindexed rules) and all need the same result. The
 * event's keyword strings, often a kilobyte or more, are then scanned once instead of once per index.
 */
export class KeywordScan {
  private readonly automaton: SubstringAutomaton;
  private readonly seenStamps: Uint32Array;
  private stamp = 0;
  private lastScope?: MatchScope;
  /** Reused for every event: callers read it before the next event's scan. */
  private readonly found: number[] = [];
  private readonly add = (id: number): void => {
    if (this.seenStamps[id] === this.stamp) return;
    this.seenStamps[id] = this.stamp;
    this.found.push(id);
  };
  /** Literal numbers per recent keyword string. Numbers are not cached: their strings are short and built anew per event. */
  private readonly memo?: ValueMemo<readonly number[]>;
  /** Scratch list of one string's literals, reused for every string that misses the memo. */
  private readonly stringLiterals: number[] = [];
  private readonly collectLiteral = (id: number): void => {
    if (!this.stringLiterals.includes(id)) this.stringLiterals.push(id);
  };
  private readonly visit = (text: string, number: boolean): void => {
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

  /**
   * Takes lower-cased texts. A literal's number is its position in `texts`. `memoLimits` is for
   * tests: null scans every string, for a reference without the memo.
   */
  constructor(texts: string[], memoLimits: ValueMemoLimits | null = KEYWORD_MEMO_LIMITS) {
    this.automaton = new SubstringAutomaton(texts.map((text, id) => [text, id]));
    this.seenStamps = new Uint32Array(texts.length);
    if (memoLimits !== null) this.memo = new ValueMemo(memoLimits);
  }

  /**
   * Returns the numbers of the literals that occur in the event's keyword strings, each once. The
   * strings are read from the event as they are, not collected: the automaton folds case itself.
   */
  literalsIn(scope: MatchScope): readonly number[] {
    if (scope === this.lastScope) return this.found;
    this.lastScope = scope;
    this.found.length = 0;
    if (++this.stamp === 0xffffffff) {
      this.seenStamps.fill(0);
      this.stamp = 1;
    }
    forEachKeywordString(scope.event, this.visit);
    return this.found;
  }
}

function append<K>(map: Map<K, Target[]>, key: K, target: Target): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [target]);
  else if (list[list.length - 1] !== target) list.push(target);
}
