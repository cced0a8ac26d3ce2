import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { compileOne, compileTexts, matches, processEvent, processRule } from './helpers.js';

const SEARCHES = `    sel_a:
        User: a
    sel_b:
        IntegrityLevel: b
    filter_c:
        Company: c
    _hidden:
        Product: h`;

/** Evaluates a condition over the searches above; each flag sets the field its search needs. */
function evaluate(condition: string, flags: { a?: boolean; b?: boolean; c?: boolean; h?: boolean }): boolean {
  const data: Record<string, string> = {};
  if (flags.a) data.User = 'a';
  if (flags.b) data.IntegrityLevel = 'b';
  if (flags.c) data.Company = 'c';
  if (flags.h) data.Product = 'h';
  return matches(compileOne(processRule(SEARCHES, condition)), processEvent(data));
}

describe('condition grammar', () => {
  test('and binds tighter than or', () => {
    // a or (b and c)
    assert.equal(evaluate('sel_a or sel_b and filter_c', { a: true }), true);
    assert.equal(evaluate('sel_a or sel_b and filter_c', { b: true }), false);
    assert.equal(evaluate('sel_a or sel_b and filter_c', { b: true, c: true }), true);
  });

  test('not binds tighter than and', () => {
    // (not a) and b
    assert.equal(evaluate('not sel_a and sel_b', { b: true }), true);
    assert.equal(evaluate('not sel_a and sel_b', { a: true, b: true }), false);
    assert.equal(evaluate('not sel_a and sel_b', {}), false);
  });

  test('parentheses override precedence', () => {
    assert.equal(evaluate('(sel_a or sel_b) and filter_c', { a: true }), false);
    assert.equal(evaluate('(sel_a or sel_b) and filter_c', { a: true, c: true }), true);
    assert.equal(evaluate('not (sel_a or sel_b)', { b: true }), false);
    assert.equal(evaluate('not (sel_a or sel_b)', {}), true);
  });

  test('keywords ignore case', () => {
    assert.equal(evaluate('sel_a AND NOT filter_c', { a: true }), true);
  });

  test('one of pattern', () => {
    assert.equal(evaluate('1 of sel_*', { b: true }), true);
    assert.equal(evaluate('1 of sel_*', { c: true }), false);
  });

  test('all of pattern', () => {
    assert.equal(evaluate('all of sel_*', { a: true }), false);
    assert.equal(evaluate('all of sel_*', { a: true, b: true }), true);
  });

  test('one of them skips underscore', () => {
    assert.equal(evaluate('1 of them', { h: true }), false);
    assert.equal(evaluate('1 of them', { c: true }), true);
  });

  test('all of them skips underscore', () => {
    assert.equal(evaluate('all of them', { a: true, b: true, c: true }), true);
    assert.equal(evaluate('all of them', { a: true, b: true }), false);
  });

  test('quantifier with not and filter', () => {
    assert.equal(evaluate('1 of sel_* and not 1 of filter_*', { a: true }), true);
    assert.equal(evaluate('1 of sel_* and not 1 of filter_*', { a: true, c: true }), false);
  });

  test('condition list is OR', () => {
    const text = processRule(SEARCHES, '\n        - sel_a and sel_b\n        - filter_c');
    assert.equal(matches(compileOne(text), processEvent({ Company: 'c' })), true);
    assert.equal(matches(compileOne(text), processEvent({ User: 'a' })), false);
  });
});

describe('condition errors', () => {
  function errorFor(condition: string) {
    const result = compileTexts([processRule(SEARCHES, condition)]);
    assert.equal(result.errors.length, 1, `expected one error for '${condition}'`);
    return result.errors[0];
  }

  test('unknown identifier is located', () => {
    const error = errorFor('sel_a and sel_zz');
    assert.equal(error?.code, 'HOLTER_RULE_INVALID');
    assert.match(error?.message ?? '', /'sel_zz'/);
    assert.equal(error?.location?.line, 15);
    assert.equal(error?.location?.column, 26);
  });

  test('pattern matching nothing is rejected', () => {
    assert.match(errorFor('1 of nothing_*')?.message ?? '', /matches no search identifier/);
  });

  test('unbalanced parentheses are rejected', () => {
    assert.match(errorFor('(sel_a or sel_b')?.message ?? '', /Missing '\)'/);
    assert.match(errorFor('sel_a)')?.message ?? '', /Unbalanced '\)'/);
  });

  test('dangling operator is rejected', () => {
    assert.match(errorFor('sel_a and')?.message ?? '', /ends where an expression is expected/);
  });

  test('aggregation is unsupported', () => {
    const error = errorFor('sel_a | count() > 5');
    assert.equal(error?.code, 'HOLTER_RULE_UNSUPPORTED');
    assert.match(error?.message ?? '', /correlation rule/);
  });
});
