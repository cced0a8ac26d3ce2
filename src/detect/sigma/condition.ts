/**
 * The condition grammar of Sigma detection rules. Precedence, from loosest to tightest:
 * `or`, `and`, `not`, `x of pattern`, parentheses (Sigma rules specification 2.1,
 * "Condition").
 */
import type { HolterError, SourceLocation } from '../../errors.js';
import type { ConditionText } from './model.js';
import { ruleError } from './parse.js';

export type ConditionNode =
  | { kind: 'and' | 'or'; items: ConditionNode[] }
  | { kind: 'not'; item: ConditionNode }
  | { kind: 'identifier'; name: string; location: SourceLocation }
  /** `1 of selection*`, `all of them`; `quantity` is a count or `all`; `pattern` is null for `them`. */
  | { kind: 'quantifier'; quantity: number | 'all'; pattern: string | null; location: SourceLocation };

interface Token {
  text: string;
  offset: number;
}

const TOKEN = /\(|\)|[^\s()]+/g;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  for (const match of text.matchAll(TOKEN)) tokens.push({ text: match[0], offset: match.index ?? 0 });
  return tokens;
}

/** Parses a condition string, or returns a located error naming the problem. */
export function parseCondition(condition: ConditionText): ConditionNode | HolterError {
  const parser = new ConditionParser(condition);
  try {
    const node = parser.parseOr();
    parser.expectEnd();
    return node;
  } catch (error) {
    if (error instanceof ConditionSyntaxError) {
      return ruleError(error.code, error.message, error.location, 'detection.condition');
    }
    throw error;
  }
}

class ConditionSyntaxError extends Error {
  constructor(
    readonly code: 'HOLTER_RULE_INVALID' | 'HOLTER_RULE_UNSUPPORTED',
    message: string,
    readonly location: SourceLocation,
  ) {
    super(message);
  }
}

class ConditionParser {
  private readonly tokens: Token[];
  private position = 0;

  constructor(private readonly condition: ConditionText) {
    this.tokens = tokenize(condition.text);
  }

  private locationOf(token: Token | undefined): SourceLocation {
    const base = this.condition.location;
    if (!token || base.column === undefined || this.condition.text.includes('\n')) return base;
    return { ...base, column: base.column + token.offset };
  }

  private fail(message: string, token: Token | undefined, code: 'HOLTER_RULE_INVALID' | 'HOLTER_RULE_UNSUPPORTED' = 'HOLTER_RULE_INVALID'): never {
    throw new ConditionSyntaxError(code, message, this.locationOf(token));
  }

  private failAggregation(token: Token): never {
    this.fail(`Aggregation expressions ('| count() ...', 'near') in conditions are not supported. Write a correlation rule instead.`, token, 'HOLTER_RULE_UNSUPPORTED');
  }

  private peek(): Token | undefined {
    return this.tokens[this.position];
  }

  private peekWord(): string | undefined {
    return this.peek()?.text.toLowerCase();
  }

  expectEnd(): void {
    const token = this.peek();
    if (token === undefined) return;
    if (token.text.startsWith('|')) this.failAggregation(token);
    if (token.text === ')') this.fail(`Unbalanced ')' in condition '${this.condition.text}'. Remove it or add the matching '('.`, token);
    this.fail(`Unexpected '${token.text}' in condition '${this.condition.text}'. Join expressions with 'and' or 'or'.`, token);
  }

  parseOr(): ConditionNode {
    const items = [this.parseAnd()];
    while (this.peekWord() === 'or') {
      this.position++;
      items.push(this.parseAnd());
    }
    return items.length === 1 ? (items[0] as ConditionNode) : { kind: 'or', items };
  }

  private parseAnd(): ConditionNode {
    const items = [this.parseNot()];
    while (this.peekWord() === 'and') {
      this.position++;
      items.push(this.parseNot());
    }
    return items.length === 1 ? (items[0] as ConditionNode) : { kind: 'and', items };
  }

  private parseNot(): ConditionNode {
    if (this.peekWord() === 'not') {
      this.position++;
      return { kind: 'not', item: this.parseNot() };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): ConditionNode {
    const token = this.peek();
    if (token === undefined) this.fail(`Condition '${this.condition.text}' ends where an expression is expected.`, this.tokens[this.tokens.length - 1]);
    const word = token.text.toLowerCase();

    if (token.text === '(') {
      this.position++;
      const inner = this.parseOr();
      if (this.peek()?.text !== ')') this.fail(`Missing ')' in condition '${this.condition.text}'.`, this.peek() ?? token);
      this.position++;
      return inner;
    }
    if (token.text === ')' || word === 'and' || word === 'or') {
      this.fail(`Unexpected '${token.text}' in condition '${this.condition.text}': an identifier, 'not', 'x of' or '(' is expected.`, token);
    }
    if (token.text.startsWith('|') || word === 'near' || word === 'count' || word.startsWith('count(')) this.failAggregation(token);

    const next = this.tokens[this.position + 1];
    if (next?.text.toLowerCase() === 'of') return this.parseQuantifier(token);

    this.position++;
    return { kind: 'identifier', name: token.text, location: this.locationOf(token) };
  }

  private parseQuantifier(token: Token): ConditionNode {
    const word = token.text.toLowerCase();
    let quantity: number | 'all';
    if (word === 'all') {
      quantity = 'all';
    } else if (/^[1-9]\d*$/.test(word)) {
      quantity = Number(word);
    } else {
      this.fail(`Invalid quantifier '${token.text} of' in condition '${this.condition.text}'. Use '1 of' or 'all of'.`, token);
    }
    this.position += 2;

    const target = this.peek();
    if (target === undefined || target.text === '(' || target.text === ')') {
      this.fail(`'${token.text} of' must be followed by 'them' or a search identifier pattern.`, target ?? token);
    }
    this.position++;
    const pattern = target.text.toLowerCase() === 'them' ? null : target.text;
    return { kind: 'quantifier', quantity, pattern, location: this.locationOf(token) };
  }
}

/** Names of the search identifiers a quantifier refers to, in definition order. */
export function expandQuantifier(pattern: string | null, names: string[]): string[] {
  if (pattern === null) return names.filter((name) => !name.startsWith('_'));
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const matcher = new RegExp(`^${source}$`);
  return names.filter((name) => matcher.test(name));
}
