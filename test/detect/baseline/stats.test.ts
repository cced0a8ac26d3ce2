import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecayedStats, judgeValue, logUpperTail, scoreOf, thresholdFor } from '../../../src/detect/baseline/stats.js';

const DAY = 86_400_000;

/** Upper tails of the standard normal distribution, from its published tables. */
const UPPER_TAILS: Array<[number, number]> = [
  [0, 0.5],
  [1, 0.158655253931457],
  [-1, 0.841344746068543],
  [3, 0.00134989803163009],
  [6, 9.86587645037698e-10],
  [10, 7.61985302416047e-24],
];

describe('logUpperTail', () => {
  for (const [z, expected] of UPPER_TAILS) {
    it(`matches the table at z = ${z}`, () => {
      const relativeError = Math.abs(Math.exp(logUpperTail(z)) - expected) / expected;
      assert.ok(relativeError < 1e-6, `relative error ${relativeError}`);
    });
  }

  it('stays finite far into the tail', () => {
    assert.ok(Number.isFinite(logUpperTail(60)));
    assert.ok(logUpperTail(60) < logUpperTail(40));
  });
});

describe('DecayedStats', () => {
  it('weights values equally at one time', () => {
    const stats = new DecayedStats();
    for (const value of [2, 4, 6]) stats.add(0, value, DAY);
    assert.equal(stats.mean, 4);
    assert.ok(Math.abs(stats.variance() - 8 / 3) < 1e-12);
  });

  it('halves old weight per half-life', () => {
    const stats = new DecayedStats();
    stats.add(0, 10, DAY);
    stats.add(DAY, 0, DAY);
    assert.ok(Math.abs(stats.mean - 10 / 3) < 1e-12, `mean ${stats.mean}`);
    assert.ok(Math.abs(stats.weight - 1.5) < 1e-12);
  });

  it('adds a gap like single zeros', () => {
    const batch = new DecayedStats();
    const single = new DecayedStats();
    for (const stats of [batch, single]) stats.add(0, 12, DAY);
    batch.addZeros(10 * 3_600_000, 10, 3_600_000, DAY);
    for (let hour = 1; hour <= 10; hour += 1) single.add(hour * 3_600_000, 0, DAY);

    assert.ok(Math.abs(batch.mean - single.mean) < 1e-9, `${batch.mean} vs ${single.mean}`);
    assert.ok(Math.abs(batch.variance() - single.variance()) < 1e-9);
    assert.ok(Math.abs(batch.weight - single.weight) < 1e-9);
  });

  it('restores from its snapshot', () => {
    const stats = new DecayedStats();
    stats.add(0, 3, DAY);
    stats.add(DAY, 5, DAY);
    const restored = DecayedStats.restore(JSON.parse(JSON.stringify(stats.snapshot())));
    assert.deepEqual(restored.snapshot(), stats.snapshot());
  });
});

describe('scores', () => {
  it('gives 10 points per factor of ten', () => {
    assert.equal(scoreOf(Math.log(1)), 0);
    assert.equal(scoreOf(Math.log(1e-5)), 50);
    assert.equal(scoreOf(Math.log(1e-12)), 100);
  });

  it('judges only the side asked', () => {
    const high = judgeValue(30, 10, 25, 'high', true);
    const low = judgeValue(30, 10, 25, 'low', true);
    assert.ok(high.score > 40, `high score ${high.score}`);
    assert.ok(low.score < 1, `low score ${low.score}`);
  });

  it('threshold reaches the minimum score', () => {
    for (const side of ['high', 'low'] as const) {
      const threshold = thresholdFor(60, 100, 400, side, false);
      const judged = judgeValue(threshold, 100, 400, side, false);
      assert.ok(Math.abs(judged.score - 60) <= 0.1, `${side}: score ${judged.score} at ${threshold}`);
    }
  });
});
