/**
 * The time modifiers minute, hour, day, week, month and year, read in the facility's time
 * zone. New York is the facility here: in 2024 its clocks went from 02:00 EST to 03:00 EDT on
 * 10 March (07:00 UTC) and from 02:00 EDT back to 01:00 EST on 3 November (06:00 UTC).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { SigmaLoadResult } from '../../../src/detect/sigma/stage.js';
import { compileTexts, holterEvent, matches } from './helpers.js';

const ZONE = 'America/New_York';

function timeRule(selection: string): string {
  return `title: Time rule
logsource:
    product: holter
    category: authentication
detection:
    selection:
        ${selection}
    condition: selection
`;
}

/** Compiles a rule in New York time, or with no time zone option when `timeZone` is null. */
function compiled(selection: string, timeZone: string | null = ZONE): SigmaLoadResult {
  const result = compileTexts([timeRule(selection)], timeZone === null ? {} : { timeZone });
  assert.deepEqual(result.errors.map((error) => error.describe()), []);
  return result;
}

function matchesAt(result: SigmaLoadResult, time: string): boolean {
  return matches(result, holterEvent({ time }));
}

/** Event times every 10 minutes from `from` (inclusive) to `to` (exclusive), as ISO 8601 UTC. */
function every10Minutes(from: string, to: string): string[] {
  const times: string[] = [];
  for (let timeMs = Date.parse(from); timeMs < Date.parse(to); timeMs += 600_000) times.push(new Date(timeMs).toISOString());
  return times;
}

describe('hour across daylight saving', () => {
  test('spring forward skips 2 a.m.', () => {
    const twoAm = compiled("'@timestamp|hour': 2");
    const threeAm = compiled("'@timestamp|hour': 3");
    const night = every10Minutes('2024-03-10T05:00:00Z', '2024-03-10T09:00:00Z');
    assert.equal(night.filter((time) => matchesAt(twoAm, time)).length, 0);
    // 03:00 to 03:50 EDT is 07:00 to 07:50 UTC: six events.
    assert.deepEqual(night.filter((time) => matchesAt(threeAm, time)), every10Minutes('2024-03-10T07:00:00Z', '2024-03-10T08:00:00Z'));
  });

  test('spring forward edges', () => {
    const oneAm = compiled("'@timestamp|hour': 1");
    assert.equal(matchesAt(oneAm, '2024-03-10T06:59:59Z'), true);
    assert.equal(matchesAt(oneAm, '2024-03-10T07:00:00Z'), false);
  });

  test('fall back repeats 1 a.m.', () => {
    const oneAm = compiled("'@timestamp|hour': 1");
    const night = every10Minutes('2024-11-03T04:00:00Z', '2024-11-03T08:00:00Z');
    // 01:00 EDT (05:00 UTC) to 01:59 EST (06:59 UTC): two hours of UTC read as 1 a.m.
    assert.deepEqual(night.filter((time) => matchesAt(oneAm, time)), every10Minutes('2024-11-03T05:00:00Z', '2024-11-03T07:00:00Z'));
  });

  test('fall back edges', () => {
    const twoAm = compiled("'@timestamp|hour': 2");
    assert.equal(matchesAt(twoAm, '2024-11-03T06:59:59Z'), false);
    assert.equal(matchesAt(twoAm, '2024-11-03T07:00:00Z'), true);
  });

  test('after hours range', () => {
    const early = compiled("'@timestamp|hour|lt': 6");
    const late = compiled("'@timestamp|hour|gte': 22");
    // On 10 March 09:30 UTC is 05:30 EDT and 10:30 UTC is 06:30 EDT; before the change 06:30 UTC was 01:30 EST.
    assert.equal(matchesAt(early, '2024-03-10T06:30:00Z'), true);
    assert.equal(matchesAt(early, '2024-03-10T09:30:00Z'), true);
    assert.equal(matchesAt(early, '2024-03-10T10:30:00Z'), false);
    // On 4 November 03:30 UTC is 22:30 EST; 02:30 UTC is 21:30 EST.
    assert.equal(matchesAt(late, '2024-11-04T03:30:00Z'), true);
    assert.equal(matchesAt(late, '2024-11-04T02:30:00Z'), false);
  });

  test('UTC without a time zone', () => {
    const threeAm = compiled("'@timestamp|hour': 3", null);
    assert.equal(matchesAt(threeAm, '2024-03-10T03:15:00Z'), true);
    assert.equal(matchesAt(threeAm, '2024-03-10T07:15:00Z'), false);
  });
});

describe('other time parts', () => {
  test('day and month at midnight', () => {
    // 03:30 UTC on 1 May is 23:30 EDT on 30 April.
    assert.equal(matchesAt(compiled("'@timestamp|day': 30"), '2024-05-01T03:30:00Z'), true);
    assert.equal(matchesAt(compiled("'@timestamp|day': 1"), '2024-05-01T03:30:00Z'), false);
    assert.equal(matchesAt(compiled("'@timestamp|month': 4"), '2024-05-01T03:30:00Z'), true);
    assert.equal(matchesAt(compiled("'@timestamp|month': 5"), '2024-05-01T04:30:00Z'), true);
  });

  test('year at new year', () => {
    assert.equal(matchesAt(compiled("'@timestamp|year': 2024"), '2025-01-01T04:59:00Z'), true);
    assert.equal(matchesAt(compiled("'@timestamp|year': 2025"), '2025-01-01T05:00:00Z'), true);
  });

  test('week is the ISO week', () => {
    // Monday 30 December 2024 starts ISO week 1 of 2025; 28 December 2020 is in week 53.
    assert.equal(matchesAt(compiled("'@timestamp|week': 1"), '2024-12-30T12:00:00Z'), true);
    assert.equal(matchesAt(compiled("'@timestamp|week': 52"), '2024-12-29T12:00:00Z'), true);
    assert.equal(matchesAt(compiled("'@timestamp|week': 53"), '2020-12-28T12:00:00Z'), true);
  });

  test('minute and a list of values', () => {
    const quarter = compiled("'@timestamp|minute': [0, 15, 30, 45]");
    assert.equal(matchesAt(quarter, '2024-05-01T10:15:30Z'), true);
    assert.equal(matchesAt(quarter, '2024-05-01T10:16:00Z'), false);
  });

  test('neq inverts the comparison', () => {
    const notThree = compiled("'@timestamp|hour|neq': 3");
    assert.equal(matchesAt(notThree, '2024-05-01T07:30:00Z'), false);
    assert.equal(matchesAt(notThree, '2024-05-01T08:30:00Z'), true);
  });
});

describe('date values', () => {
  const eventWith = (created: unknown) => {
    const event = holterEvent({ time: '2024-05-01T12:00:00Z' });
    event.event = { ...event.event, created } as typeof event.event;
    return event;
  };

  test('local time without offset', () => {
    const result = compiled("event.created|hour: 1");
    assert.equal(matches(result, eventWith('2024-11-03 01:30:00')), true);
    assert.equal(matches(result, eventWith('2024-11-03T01:30:00')), true);
  });

  test('offset in the value', () => {
    // 01:30 at +01:00 is 00:30 UTC, 20:30 the day before in New York.
    assert.equal(matches(compiled("event.created|hour: 20"), eventWith('2024-05-01T01:30:00+01:00')), true);
  });

  test('non-dates never match', () => {
    const result = compiled("event.created|hour|gte: 0");
    for (const value of [1714557600, '1714557600', 'yesterday', '', 'T10:00']) {
      assert.equal(matches(result, eventWith(value)), false, String(value));
    }
    assert.equal(matches(result, holterEvent({ time: '2024-05-01T12:00:00Z' })), false);
  });
});

describe('time modifier validation', () => {
  const rejected = (selection: string) => compileTexts([timeRule(selection)], { timeZone: ZONE }).errors;

  test('out of range number', () => {
    for (const selection of ["'@timestamp|hour': 24", "'@timestamp|minute': 60", "'@timestamp|day': 0", "'@timestamp|month': 13", "'@timestamp|hour': 2.5", "'@timestamp|hour': three"]) {
      const errors = rejected(selection);
      assert.equal(errors.length, 1, selection);
      assert.equal(errors[0]?.code, 'HOLTER_RULE_INVALID', selection);
      assert.match(errors[0]?.message ?? '', /must be a whole number/, selection);
    }
  });

  test('string modifiers cannot combine', () => {
    const errors = rejected("'@timestamp|hour|contains': 3");
    assert.equal(errors[0]?.code, 'HOLTER_RULE_UNSUPPORTED');
    assert.match(errors[0]?.message ?? '', /combines the time modifier 'hour' with contains/);
  });

  test('two time modifiers rejected', () => {
    const errors = rejected("'@timestamp|hour|minute': 3");
    assert.equal(errors[0]?.code, 'HOLTER_RULE_INVALID');
    assert.match(errors[0]?.message ?? '', /two time modifiers/);
  });

  test('keyword needs a field', () => {
    const errors = rejected("'|hour': 3");
    assert.equal(errors[0]?.code, 'HOLTER_RULE_INVALID');
    assert.match(errors[0]?.message ?? '', /needs a field/);
  });

  test('invalid time zone reported', () => {
    const result = compileTexts([timeRule("'@timestamp|hour': 3")], { timeZone: 'Mars/Olympus_Mons' });
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0]?.code, 'HOLTER_CONFIG_INVALID');
    assert.match(result.errors[0]?.message ?? '', /Mars\/Olympus_Mons/);
  });

  test('time zone is part of fingerprint', () => {
    const plain = timeRule('event.outcome: failure');
    const timed = timeRule("'@timestamp|hour': 3").replace('title: Time rule', 'title: Timed rule');
    const york = compileTexts([plain, timed], { timeZone: ZONE }).stage.ruleSet.rules;
    const paris = compileTexts([plain, timed], { timeZone: 'Europe/Paris' }).stage.ruleSet.rules;
    assert.equal(york[0]?.fingerprint, paris[0]?.fingerprint);
    assert.notEqual(york[1]?.fingerprint, paris[1]?.fingerprint);
  });
});
