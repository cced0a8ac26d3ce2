import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HolterEvent } from '../../../src/event.js';
import { DistinctValues } from '../../../src/detect/baseline/buckets.js';
import type { OpenBucketSnapshot as OpenBucketState } from '../../../src/detect/baseline/buckets.js';
import { Evidence } from '../../../src/detect/baseline/evidence.js';
import { HOUR, MINUTE, START, detectorOf, eventAt } from './helpers.js';

/**
 * A series of the bucket functions keeps its oldest open bucket in its own fields and reuses that
 * bucket's structures. These tests cover the cases that leave that path: a second open bucket, an
 * earlier bucket opening after a later one, restore and eviction.
 */

const DETECTOR = `id: open-buckets
name: Open buckets
function: high_distinct_count
by: holter.user.id
field: holter.patient.token
bucket_span: 1h
seasonality: none
unit: records
influencers: [source.ip]
learning:
  min_days: 5
  min_events: 50
  half_life_days: 14
thresholds:
  min_score: 60
severity: low
risk_score: 10
evidence_limit: 3
`;

interface DetectorState {
  series: Array<[string, { open: OpenBucketState[]; closedUntilMs: number | null }]>;
  counters: Record<string, number>;
}

function read(user: string, ms: number, token: string, ip = '10.0.0.1'): HolterEvent {
  return eventAt(ms, { 'holter.user.id': user, 'holter.patient.token': token, 'source.ip': ip });
}

function openBucketsOf(state: unknown, user = 'u-1'): OpenBucketState[] {
  const series = (state as DetectorState).series.find(([key]) => key === user);
  assert.ok(series, `no series for ${user}`);
  return series[1].open;
}

/** Returns the open bucket's fields that the tests compare, with its trigger as the event id. */
function summaryOf(bucket: OpenBucketState): Record<string, unknown> {
  return {
    startMs: bucket.startMs,
    distinct: bucket.distinct,
    events: bucket.events,
    evidenceIds: bucket.evidence.map(([, id]) => id),
    trigger: bucket.trigger.event.id,
    influencers: bucket.influencers,
  };
}

/**
 * Feeds four events with the watermark held before both buckets end: the 11:00 bucket opens
 * first, then two events of the 10:00 bucket arrive, then one more of 11:00.
 */
function twoOpenBuckets(): { detector: ReturnType<typeof detectorOf>; events: HolterEvent[] } {
  const detector = detectorOf(DETECTOR);
  const events = [
    read('u-1', START + 11 * HOUR + 10 * MINUTE, 'x', '10.0.0.2'),
    read('u-1', START + 10 * HOUR + 20 * MINUTE, 'a'),
    read('u-1', START + 10 * HOUR + 40 * MINUTE, 'b'),
    read('u-1', START + 11 * HOUR + 20 * MINUTE, 'y', '10.0.0.2'),
  ];
  for (const event of events) detector.process(event, START + 10 * HOUR);
  return { detector, events };
}

describe('bucket functions with several open buckets', () => {
  it('keeps an earlier bucket opened later first', () => {
    const { detector, events } = twoOpenBuckets();
    const ids = events.map((event) => event.event.id);

    assert.deepEqual(openBucketsOf(detector.snapshot()).map(summaryOf), [
      { startMs: START + 10 * HOUR, distinct: ['a', 'b'], events: 2, evidenceIds: [ids[1], ids[2]], trigger: ids[2], influencers: [[['10.0.0.1', 2]]] },
      { startMs: START + 11 * HOUR, distinct: ['x', 'y'], events: 2, evidenceIds: [ids[0], ids[3]], trigger: ids[3], influencers: [[['10.0.0.2', 2]]] },
    ]);
  });

  it('moves the next bucket up after a close', () => {
    const { detector, events } = twoOpenBuckets();
    const ids = events.map((event) => event.event.id);
    detector.advance(START + 11 * HOUR);
    const later = read('u-1', START + 11 * HOUR + 30 * MINUTE, 'x', '10.0.0.3');
    detector.process(later, START + 11 * HOUR);

    const state = detector.snapshot() as DetectorState;
    assert.equal(state.counters.buckets_learning, 1);
    assert.deepEqual(openBucketsOf(state).map(summaryOf), [
      {
        startMs: START + 11 * HOUR,
        distinct: ['x', 'y'],
        events: 3,
        evidenceIds: [ids[0], ids[3], later.event.id],
        trigger: later.event.id,
        influencers: [[['10.0.0.2', 2], ['10.0.0.3', 1]]],
      },
    ]);
  });

  it('restores two open buckets', () => {
    const { detector: original } = twoOpenBuckets();
    const restored = detectorOf(DETECTOR);
    restored.restore(JSON.parse(JSON.stringify(original.snapshot())));
    assert.deepEqual(JSON.parse(JSON.stringify(restored.snapshot())), JSON.parse(JSON.stringify(original.snapshot())));

    // An event for each restored bucket must join that bucket, not open a new one.
    const more = [read('u-1', START + 10 * HOUR + 50 * MINUTE, 'c'), read('u-1', START + 11 * HOUR + 50 * MINUTE, 'z')];
    for (const detector of [original, restored]) {
      for (const event of more) detector.process(event, START + 10 * HOUR);
    }
    const buckets = openBucketsOf(restored.snapshot());
    assert.deepEqual(buckets.map((bucket) => bucket.distinct), [['a', 'b', 'c'], ['x', 'y', 'z']]);
    assert.deepEqual(buckets.map((bucket) => bucket.events), [3, 3]);
    assert.deepEqual(JSON.parse(JSON.stringify(restored.snapshot())), JSON.parse(JSON.stringify(original.snapshot())));
  });

  it('starts the next bucket empty', () => {
    const detector = detectorOf(DETECTOR);
    // 20 values, so the first bucket's distinct values move from the list to a Set.
    for (let index = 0; index < 20; index += 1) detector.process(read('u-1', START + 10 * HOUR + index * MINUTE, `p-${index}`), START + 10 * HOUR);
    const next = read('u-1', START + 11 * HOUR + 5 * MINUTE, 'q', '10.0.0.9');
    detector.process(next, START + 11 * HOUR + 5 * MINUTE);

    const [bucket] = openBucketsOf(detector.snapshot());
    assert.ok(bucket);
    assert.deepEqual(summaryOf(bucket), { startMs: START + 11 * HOUR, distinct: ['q'], events: 1, evidenceIds: [next.event.id], trigger: next.event.id, influencers: [[['10.0.0.9', 1]]] });
  });

  it('restores a repeated key once', () => {
    const { detector: original } = twoOpenBuckets();
    const state = JSON.parse(JSON.stringify(original.snapshot())) as DetectorState;
    state.series.push(...state.series);
    const restored = detectorOf(DETECTOR);
    restored.restore(state);
    restored.flush(START + 12 * HOUR);

    // Only the two buckets of the series that the key ends with close, as with one listing.
    assert.equal(restored.stats().buckets_learning, 2);
    assert.equal(restored.stats().entities, 1);
  });

  it('drops the open bucket of an evicted series', () => {
    const detector = detectorOf(`${DETECTOR}max_entities: 1\n`);
    detector.process(read('u-1', START + 10 * HOUR + 10 * MINUTE, 'a'), START + 10 * HOUR);
    detector.process(read('u-2', START + 10 * HOUR + 20 * MINUTE, 'b'), START + 10 * HOUR);
    detector.process(read('u-1', START + 10 * HOUR + 30 * MINUTE, 'c'), START + 10 * HOUR);
    detector.advance(START + 11 * HOUR);

    const stats = detector.stats();
    assert.equal(stats.entities_evicted, 2);
    // Only the bucket of the series still held closes: the evicted series' buckets are gone.
    assert.equal(stats.buckets_learning, 1);
    assert.deepEqual(openBucketsOf(detector.snapshot()), []);
  });
});

describe('DistinctValues', () => {
  it('keeps first-event order past the list', () => {
    const values = new DistinctValues();
    const expected = Array.from({ length: 20 }, (_, index) => `v-${19 - index}`);
    for (const value of [...expected, 'v-3', 'v-19']) values.add(value);
    assert.equal(values.size, 20);
    assert.deepEqual(values.values(), expected);
  });

  it('is empty after clear', () => {
    const values = new DistinctValues();
    for (const value of ['a', 'b', 'c']) values.add(value);
    values.clear();
    values.add('c');
    assert.equal(values.size, 1);
    assert.deepEqual(values.values(), ['c']);
  });
});

describe('Evidence', () => {
  it('refills after clear', () => {
    const evidence = new Evidence(2, [
      [3, 'c'],
      [1, 'a'],
    ]);
    evidence.clear();
    evidence.add(9, 'z');
    assert.deepEqual(evidence.toJSON(), [[9, 'z']]);
    evidence.add(5, 'y');
    evidence.add(7, 'x');
    assert.deepEqual(evidence.ids(), ['y', 'x']);
  });
});
