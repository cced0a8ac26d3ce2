import assert from 'node:assert/strict';
import { test } from 'node:test';

import { RE2JS } from 're2js';

import { minimumMatchLength, requiredRegexLiterals } from '../../../src/detect/sigma/regex-literals.js';

const required = (pattern: string, ignoreCase = false): string[] | null => requiredRegexLiterals(pattern, ignoreCase, 3);

test('literal runs are required', () => {
  assert.deepEqual(required('abc'), ['abc']);
  assert.deepEqual(required('ab.cdef'), ['cdef']);
  assert.deepEqual(required('\\$PSHome\\[\\s*\\d'), ['$pshome[']);
  assert.deepEqual(required('^cmd\\.exe$'), ['cmd.exe']);
});

test('alternation unions its branches', () => {
  assert.deepEqual(required('(?:abc|defg)xy'), ['abc', 'defg']);
  assert.deepEqual(required('abcd|efgh'), ['abcd', 'efgh']);
  assert.equal(required('abcd|ef'), null);
  assert.equal(required('abcd|'), null);
});

test('optional parts are not required', () => {
  assert.equal(required('(abcd)?'), null);
  assert.equal(required('(abcd)*x'), null);
  assert.equal(required('(abcd){0,3}'), null);
  assert.deepEqual(required('(abcd)+'), ['abcd']);
  assert.deepEqual(required('(abcd){2}'), ['abcd']);
  assert.deepEqual(required('abcx?'), ['abc']);
  assert.equal(required('abx?'), null);
});

test('classes and escapes break runs', () => {
  assert.deepEqual(required('ab[c]def'), ['def']);
  assert.deepEqual(required('ab[]x]def'), ['def']);
  assert.deepEqual(required('ab[[:alpha:]]def'), ['def']);
  assert.deepEqual(required('ab\\wdef'), ['def']);
  assert.deepEqual(required('ab\\p{Greek}def'), ['def']);
  assert.deepEqual(required('ab\\bdef'), ['def']);
  assert.deepEqual(required('x{abc'), ['x{abc']);
});

test('unread syntax gives no literals', () => {
  assert.equal(required('\\x41BCD'), null);
  assert.equal(required('\\QABCD\\E'), null);
  assert.equal(required('(?x)abcd'), null);
  assert.equal(required('(abcd'), null);
  assert.equal(required('abcd)'), null);
  assert.equal(required('[abcd'), null);
});

test('case folding splits unsafe letters', () => {
  assert.deepEqual(required('ShellId'), ['shellid']);
  assert.deepEqual(required('ShellId', true), ['hellid']);
  assert.deepEqual(required('(?i)ShellId'), ['hellid']);
  assert.deepEqual(required('(?i:Sh)ellId'), ['ellid']);
  assert.deepEqual(required('caf\u00e9bar'), ['caf']);
  assert.deepEqual(required('(?P<name>abcd)'), ['abcd']);
  assert.deepEqual(required('(?<name>abcd)'), ['abcd']);
});

/**
 * Every match must contain a required literal in the lower-cased text. Random texts over letters
 * that RE2 case-folds in ways toLowerCase does not (long s, Kelvin sign) test the folding rules.
 */
test('literals hold for random matches', () => {
  const patterns = ['kab+c', '(?i)sk(ab|cd)', 'a(bc|cd)d?e', '(?i)kas{1,2}k', 'ab.?ka', '(?:abk|kba)+s', 'Kab|kAB'];
  const alphabet = ['a', 'b', 'c', 'd', 'e', 'k', 's', 'A', 'B', 'K', 'S', '\u017f', '\u212a'];
  let seed = 11;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  let matched = 0;
  for (const [pattern, minLength] of patterns.flatMap((pattern) => [[pattern, 1] as const, [pattern, 2] as const])) {
    for (const ignoreCase of [false, true]) {
      const literals = requiredRegexLiterals(pattern, ignoreCase, minLength);
      assert.ok(literals !== null, pattern);
      const regex = RE2JS.compile(pattern, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
      for (let round = 0; round < 10_000; round++) {
        const text = Array.from({ length: 1 + Math.floor(random() * 7) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
        if (!regex.test(text)) continue;
        matched++;
        const lower = text.toLowerCase();
        assert.ok(literals.some((literal) => lower.includes(literal)), `${pattern} matches '${text}' without any of ${literals.join(', ')}`);
      }
    }
  }
  assert.ok(matched > 200, `only ${matched} random texts matched`);
});

test('minimum match length of patterns', () => {
  const cases: [string, number][] = [
    ['.{1000,}', 1000],
    ['abc|d', 1],
    ['(?i)a(bc)?d', 2],
    ['x{3}y*', 3],
    ['^\\bab$', 2],
    ['[ab]{2,5}', 2],
    ['\\d+\\.\\d+', 3],
    ['(?:a|)b', 1],
    ['\u{1F600}a', 2],
    ['\\Qab\\E', 0],
  ];
  for (const [pattern, expected] of cases) assert.equal(minimumMatchLength(pattern), expected, pattern);
});

test('no match shorter than minimum', () => {
  const patterns = ['kab+c', '(?i)sk(ab|cd)', 'a(bc|cd)d?e', '(?i)kas{1,2}k', 'ab.?ka', '(?:abk|kba)+s', 'Kab|kAB', '.{3,}', '[ab]{2}\\w'];
  const alphabet = ['a', 'b', 'c', 'd', 'e', 'k', 's', 'A', 'K', 'S', '\u017f', '\u212a', '\u{1F600}'];
  let seed = 5;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  let matched = 0;
  for (const pattern of patterns) {
    const minimum = minimumMatchLength(pattern);
    assert.ok(minimum > 0, pattern);
    const regex = RE2JS.compile(pattern, 0);
    for (let round = 0; round < 5_000; round++) {
      const text = Array.from({ length: Math.floor(random() * 8) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
      if (!regex.test(text)) continue;
      matched++;
      assert.ok(text.length >= minimum, `${pattern} matches '${text}', shorter than ${minimum}`);
    }
  }
  assert.ok(matched > 200, `only ${matched} random texts matched`);
});
