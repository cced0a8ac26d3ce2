/**
 * The per-field index of the required literals (prefilter.ts) of a group of rules. Exact values
 * are in a Map and substrings in an Aho-Corasick automaton. One pass over each field value then
 * finds every clause it passes, however many rules test that field.
 */
import type { FieldAccessor } from './fields.js';
import { MAX_CLAUSES } from './prefilter.js';
import type { Clause } from './prefilter.js';
import type { MatchScope } from './scope.js';

const PLAIN_DECIMAL = /^[-+]?(\d+(\.\d*)?|\.\d+)$/;

/** A rule of the group (its position in the group) and the bit of one of its clauses. */
type Target = number;

interface FieldIndex {
  accessor: FieldAccessor;
  equals: Map<string, Target[]>;
  numbers: Map<number, Target[]>;
  substrings?: SubstringAutomaton;
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
  private readonly fields: FieldIndex[] = [];

  /** `rules` lists rule indexes with their clauses, or null for rules without. */
  constructor(rules: { rule: number; clauses: Clause[] | null }[]) {
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
      if (substrings.length > 0) index.substrings = new SubstringAutomaton(substrings);
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
    const pass = (target: Target): void => {
      const position = target >>> 3;
      const mask = (this.passedStamps[position] === this.stamp ? (this.passed[position] as number) : 0) | (1 << (target & 7));
      this.passedStamps[position] = this.stamp;
      this.passed[position] = mask;
      if (mask === this.complete[position]) add(this.filtered[position] as number);
    };
    for (const field of this.fields) {
      const entries = scope.fieldEntries(field.accessor);
      if (entries === undefined) continue;
      for (const entry of entries) {
        const exact = field.equals.get(entry.lower);
        if (exact !== undefined) for (const target of exact) pass(target);
        if (field.numbers.size > 0 && PLAIN_DECIMAL.test(entry.value)) {
          const numeric = field.numbers.get(Number(entry.value));
          if (numeric !== undefined) for (const target of numeric) pass(target);
        }
        field.substrings?.scan(entry.lower, pass);
      }
    }
  }
}

function append<K>(map: Map<K, Target[]>, key: K, target: Target): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [target]);
  else if (list[list.length - 1] !== target) list.push(target);
}

/**
 * Aho-Corasick automaton over UTF-16 code units: reports every pattern that occurs in a text
 * in one pass. `outputs[state]` contains the values of every pattern that ends at that state,
 * including those reached through failure links, merged when the automaton is built.
 */
export class SubstringAutomaton {
  private readonly next: Map<number, number>[] = [new Map()];
  private readonly fail: number[] = [0];
  private readonly outputs: number[][] = [[]];

  constructor(patterns: [string, number][]) {
    for (const [pattern, rule] of patterns) {
      let state = 0;
      for (let index = 0; index < pattern.length; index++) {
        const code = pattern.charCodeAt(index);
        let target = this.next[state]?.get(code);
        if (target === undefined) {
          target = this.next.length;
          this.next.push(new Map());
          this.fail.push(0);
          this.outputs.push([]);
          this.next[state]?.set(code, target);
        }
        state = target;
      }
      const output = this.outputs[state] as number[];
      if (!output.includes(rule)) output.push(rule);
    }
    this.link();
  }

  /** Sets failure links breadth first, so a state's failure target is complete before its children. */
  private link(): void {
    const queue: number[] = [...(this.next[0] as Map<number, number>).values()];
    for (let head = 0; head < queue.length; head++) {
      const state = queue[head] as number;
      for (const [code, child] of this.next[state] as Map<number, number>) {
        let fallback = this.fail[state] as number;
        while (fallback !== 0 && !(this.next[fallback] as Map<number, number>).has(code)) fallback = this.fail[fallback] as number;
        const target = (this.next[fallback] as Map<number, number>).get(code);
        this.fail[child] = target !== undefined && target !== child ? target : 0;
        const inherited = this.outputs[this.fail[child] as number] as number[];
        if (inherited.length > 0) this.outputs[child] = [...new Set([...(this.outputs[child] as number[]), ...inherited])];
        queue.push(child);
      }
    }
  }

  /** Calls `found` with the value of every pattern that occurs in `text`, once per occurrence. */
  scan(text: string, found: (rule: number) => void): void {
    let state = 0;
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index);
      let target = (this.next[state] as Map<number, number>).get(code);
      while (target === undefined && state !== 0) {
        state = this.fail[state] as number;
        target = (this.next[state] as Map<number, number>).get(code);
      }
      state = target ?? 0;
      const output = this.outputs[state] as number[];
      for (let position = 0; position < output.length; position++) found(output[position] as number);
    }
  }
}
