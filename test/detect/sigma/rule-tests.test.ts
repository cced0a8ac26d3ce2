import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRuleText } from '../../../src/detect/sigma/parse.js';
import { expandTimeline, findTestsNode, readTestCases } from '../../../src/detect/sigma/rule-tests.js';

/** Reads the cases of a file's `holter.tests` block. */
function casesOf(text: string): ReturnType<typeof readTestCases> {
  const source = parseRuleText(text, 'rule.yml').documents[0];
  assert.ok(source !== undefined);
  return readTestCases(source, findTestsNode(source) ?? null);
}

describe('inline test timelines', () => {
  it('repeats at one time without every', () => {
    const { cases, errors } = casesOf(['holter:', '  tests:', '    - name: burst', '      events:', '        - repeat: 3', '          event: { holter.user.id: u-1 }', '      expect: []', ''].join('\n'));
    assert.deepEqual(errors, []);
    const times = expandTimeline(cases[0] as (typeof cases)[number], { file: 'rule.yml', defaultTimeZone: 'UTC' }).map((item) => (item.ok ? item.event['@timestamp'] : item.failure));
    assert.deepEqual(times, ['2024-05-01T08:00:00.000Z', '2024-05-01T08:00:00.000Z', '2024-05-01T08:00:00.000Z']);
  });

  it('spaces repeats by every', () => {
    const { cases } = casesOf(['holter:', '  tests:', '    - name: burst', '      events:', '        - repeat: 2', '          every: 90s', '          event: { holter.user.id: u-1 }', '      expect: []', ''].join('\n'));
    const times = expandTimeline(cases[0] as (typeof cases)[number], { file: 'rule.yml', defaultTimeZone: 'UTC' }).map((item) => (item.ok ? item.event['@timestamp'] : item.failure));
    assert.deepEqual(times, ['2024-05-01T08:00:00.000Z', '2024-05-01T08:01:30.000Z']);
  });
});

describe('inline test names', () => {
  it('rejects a name repeated after an invalid case', () => {
    const { cases, errors } = casesOf(['holter:', '  tests:', '    - name: quiet', '      event: {}', '      expect: 3', '    - name: quiet', '      event: {}', '      expect: []', ''].join('\n'));
    assert.equal(cases.length, 1);
    assert.deepEqual(errors.map((error) => error.path), ['holter.tests[0].expect', 'holter.tests[1].name']);
  });

  it('compares names without surrounding spaces', () => {
    const { errors } = casesOf(['holter:', '  tests:', '    - name: quiet', '      event: {}', '      expect: []', "    - name: ' quiet '", '      event: {}', '      expect: []', ''].join('\n'));
    assert.deepEqual(errors.map((error) => error.message), ["Test name 'quiet' is used twice. Give every case its own name."]);
  });
});
