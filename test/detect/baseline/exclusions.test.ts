import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Exclusions, parseExclusion } from '../../../src/detect/baseline/exclusions.js';
import { KnownValues } from '../../../src/detect/baseline/known-values.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('parseExclusion', () => {
  it('reads a date as local midnight', () => {
    const range = parseExclusion({ start: '2026-12-24', end: '2026-12-27' }, 'America/New_York');
    assert.deepEqual(range, [Date.parse('2026-12-24T05:00:00Z'), Date.parse('2026-12-27T05:00:00Z')]);
  });

  it('keeps an explicit offset', () => {
    const range = parseExclusion({ start: '2026-12-24T18:00:00Z', end: '2026-12-24T20:00:00Z' }, 'America/New_York');
    assert.deepEqual(range, [Date.parse('2026-12-24T18:00:00Z'), Date.parse('2026-12-24T20:00:00Z')]);
  });

  it('names an invalid start', () => {
    const problem = parseExclusion({ start: 'Christmas', end: '2026-12-27' }, 'UTC');
    assert.ok(!Array.isArray(problem));
    assert.equal(problem.key, 'start');
    assert.match(problem.message, /exclude start 'Christmas' is not an ISO 8601 date/);
  });
});

describe('Exclusions', () => {
  const exclusions = new Exclusions([
    [10 * HOUR, 12 * HOUR],
    [11 * HOUR, 13 * HOUR + 30 * 60_000],
    [2 * DAY, 2 * DAY + HOUR],
  ]);

  it('merges overlapping periods', () => {
    assert.equal(exclusions.overlaps(12 * HOUR, 13 * HOUR), true);
    assert.equal(exclusions.overlaps(13 * HOUR + 30 * 60_000, 14 * HOUR), false, 'the end is excluded');
    assert.equal(exclusions.overlaps(9 * HOUR, 10 * HOUR), false);
  });

  it('counts overlapping buckets', () => {
    // Hours 10, 11, 12 and 13 (half excluded) of day 0, and hour 0 of day 2.
    assert.equal(exclusions.countBuckets(0, 3 * DAY, HOUR), 5);
    assert.equal(exclusions.countBuckets(12 * HOUR, DAY, HOUR), 2);
    assert.equal(exclusions.countBuckets(0, 3 * DAY, DAY), 2);
  });
});

describe('KnownValues', () => {
  it('keeps shares exact across a rebase', () => {
    const known = new KnownValues();
    // A one-hour half-life over 30 days passes the rescaling point of the inflated counts.
    for (let day = 0; day < 30; day += 1) {
      known.learn('a', day * DAY, HOUR, 60 * DAY, 10);
      known.learn('a', day * DAY + 1, HOUR, 60 * DAY, 10);
      known.learn('b', day * DAY + 2, HOUR, 60 * DAY, 10);
    }
    const shareA = known.shareOf(known.lookUp('a', 30 * DAY, 60 * DAY));
    const shareB = known.shareOf(known.lookUp('b', 30 * DAY, 60 * DAY));
    assert.ok(Number.isFinite(shareA));
    assert.ok(Math.abs(shareA + shareB - 1) < 1e-9, `${shareA} + ${shareB}`);
    // Earlier days have decayed away, and the last day used a twice and b once.
    assert.ok(Math.abs(shareA - 2 / 3) < 1e-6, `share of a ${shareA}`);
  });

  it('forgets past the history window', () => {
    const known = new KnownValues();
    known.learn('old', 0, DAY, 10 * DAY, 10);
    known.learn('new', 11 * DAY, DAY, 10 * DAY, 10);
    assert.equal(known.size, 1);
    assert.equal(known.lookUp('old', 11 * DAY, 10 * DAY), undefined);
  });
});
