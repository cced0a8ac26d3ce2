/**
 * The per-field index of the required literals (prefilter.ts) of a group of rules. Exact values
 * are in a Map and substrings in an Aho-Corasick automaton. One pass over each field value then
 * finds every clause it passes, however many rules test that field. Keyword literals share one
 * scan per rule set and event (KeywordScan).
 */
import type { FieldAccessor } from './fields.js';
import type { KeywordScan } from './keyword-scan.js';
import { KEYWORD_STRINGS, MAX_CLAUSES } from './prefilter.js';
import type { Clause } from './prefilter.js';
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
  /**
   * Log source conditions of the rules with keyword literals, and their positions in the scan. When
   * none holds, no such rule can match and the scan is skipped.
   */
  private readonly keywordLogsources: EventPredicate[] = [];
  private keywordPositions: number[] = [];
  /** Scratch list of the positions of the conditions that hold for the current event. */
  private readonly metPositions: number[] = [];
  /** Passes the keyword clauses of a deferred scan, with the stamp and `add` of the last `collect`. */
  private readonly passKeywords = (ids: readonly number[]): void => {
    for (const id of ids) {
      const targets = this.keywordTargets.get(id);
      if (targets !== undefined) for (const target of targets) this.pass(target);
    }
  };

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
            if (!this.keywordLogsources.includes(literal.shared.logsource)) this.keywordLogsources.push(literal.shared.logsource);
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
    const scan = this.keywordScan;
    if (scan !== undefined) this.keywordPositions = this.keywordLogsources.map((logsource) => scan.positionOf(logsource));
  }

  /** The rule set's keyword scan, when some rule of the group has keyword literals: `collect` may defer to it. */
  get sharedKeywordScan(): KeywordScan | undefined {
    return this.keywordScan;
  }

  /**
   * Calls `add` for every rule of the group the event may match; a rule may be added more than once.
   * With `deferKeywords`, the keyword clauses wait for `sharedKeywordScan.flush(scope)`, which the
   * caller runs after the last index of the event. The scan then looks for the literals of every
   * log source met by the event's indexes at once.
   */
  collect(scope: MatchScope, add: (rule: number) => void, deferKeywords = false): void {
    for (const rule of this.unfiltered) add(rule);
    if (this.filtered.length === 0) return;
    if (++this.stamp === 0xffffffff) {
      this.passedStamps.fill(0);
      this.stamp = 1;
    }
    this.add = add;
    const pass = this.pass;
    if (this.keywordScan !== undefined && this.findMetKeywordLogsources(scope)) {
      if (deferKeywords) this.keywordScan.defer(scope, this.metPositions, this.passKeywords);
      else this.passKeywords(this.keywordScan.literalsIn(scope, this.metPositions));
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
        if (targets.length > 0) this.passAll(targets);
      }
    }
  }

  /**
   * Passes each target of a memo's list as `pass` does, in one loop without a call per target. A
   * Sysmon process creation event of the benchmark's Windows mix passes about 70 targets.
   */
  private passAll(targets: readonly Target[]): void {
    const stamp = this.stamp;
    const passed = this.passed;
    const passedStamps = this.passedStamps;
    const complete = this.complete;
    for (let index = 0; index < targets.length; index++) {
      const target = targets[index] as Target;
      const position = target >>> 3;
      const mask = (passedStamps[position] === stamp ? (passed[position] as number) : 0) | (1 << (target & 7));
      passedStamps[position] = stamp;
      passed[position] = mask;
      if (mask === complete[position]) this.add(this.filtered[position] as number);
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
   * Lists in `metPositions` the log source conditions of rules with keyword literals that the event
   * meets, and returns true when there is one. Keyword strings cover the whole event, so scanning
   * them costs more than testing a log source. An event of another log source, such as a hospital
   * record under a Windows rule, skips the scan.
   */
  private findMetKeywordLogsources(scope: MatchScope): boolean {
    this.metPositions.length = 0;
    for (let index = 0; index < this.keywordLogsources.length; index++) {
      if ((this.keywordLogsources[index] as EventPredicate)(scope)) this.metPositions.push(this.keywordPositions[index] as number);
    }
    return this.metPositions.length > 0;
  }
}

function append<K>(map: Map<K, Target[]>, key: K, target: Target): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [target]);
  else if (list[list.length - 1] !== target) list.push(target);
}
