import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KafkaAdminClient } from '../../../src/sources/kafka/client.js';
import { parseRangeBound, resolveRanges } from '../../../src/sources/kafka/range.js';
import type { RangeBound } from '../../../src/sources/kafka/range.js';

describe('parseRangeBound', () => {
  it('reads the named bounds', () => {
    assert.deepEqual(parseRangeBound('earliest', '--from'), { kind: 'earliest' });
    assert.deepEqual(parseRangeBound('latest', '--to'), { kind: 'latest' });
  });

  it('reads offsets beyond 2^53', () => {
    assert.deepEqual(parseRangeBound('9007199254740993', '--from'), { kind: 'offset', offset: 9007199254740993n });
  });

  it('reads times with a zone', () => {
    assert.deepEqual(parseRangeBound('2026-12-01T08:00:00Z', '--from'), { kind: 'time', ms: Date.UTC(2026, 11, 1, 8), text: '2026-12-01T08:00:00Z' });
    assert.deepEqual(parseRangeBound('2026-12-01T09:30+01:00', '--to'), { kind: 'time', ms: Date.UTC(2026, 11, 1, 8, 30), text: '2026-12-01T09:30+01:00' });
  });

  it('rejects times without a zone and other text', () => {
    for (const text of ['2026-12-01T08:00:00', '2026-12-01', 'yesterday', '-5', '1e3', '']) {
      assert.throws(() => parseRangeBound(text, '--from'), (error: Error) => error.message.startsWith(`Invalid --from value ${JSON.stringify(text)}.`), text);
    }
  });
});

/**
 * Returns an admin client over fixed offsets: partition 0 retains offsets 100 to 200, partition 1
 * retains 0 to 50. Offset N was produced at N seconds after the epoch.
 */
function fixedAdmin(): KafkaAdminClient {
  const retained = [
    { partition: 0, low: '100', high: '200' },
    { partition: 1, low: '0', high: '50' },
  ];
  const unused = (): never => {
    throw new Error('not used by resolveRanges');
  };
  return {
    connect: async () => undefined,
    disconnect: async () => undefined,
    listTopics: async () => ['audit'],
    fetchOffsetRange: async () => retained,
    fetchOffsetsAtTime: async (_topic, timeMs) =>
      retained.map(({ partition, low, high }) => ({ partition, offset: String(Math.min(Number(high), Math.max(Number(low), Math.ceil(timeMs / 1000)))) })),
    createTopics: unused,
    fetchCommittedOffsets: unused,
    fetchEndOffsets: unused,
    deleteGroups: unused,
  };
}

describe('resolveRanges', () => {
  it('takes what each partition keeps by default', async () => {
    const ranges = await resolveRanges(fixedAdmin(), ['audit'], { kind: 'earliest' }, { kind: 'latest' });
    assert.deepEqual(ranges, [
      { topic: 'audit', partition: 0, start: 100n, end: 200n },
      { topic: 'audit', partition: 1, start: 0n, end: 50n },
    ]);
  });

  it('clamps offsets to what a partition keeps', async () => {
    const ranges = await resolveRanges(fixedAdmin(), ['audit'], { kind: 'offset', offset: 40n }, { kind: 'offset', offset: 150n });
    assert.deepEqual(ranges, [
      { topic: 'audit', partition: 0, start: 100n, end: 150n },
      { topic: 'audit', partition: 1, start: 40n, end: 50n },
    ]);
  });

  it('maps times to offsets per partition', async () => {
    const ranges = await resolveRanges(fixedAdmin(), ['audit'], { kind: 'time', ms: 30_000, text: '' }, { kind: 'time', ms: 120_000, text: '' });
    assert.deepEqual(ranges, [
      { topic: 'audit', partition: 0, start: 100n, end: 120n },
      { topic: 'audit', partition: 1, start: 30n, end: 50n },
    ]);
  });

  it('leaves a partition empty when the range misses it', async () => {
    const ranges = await resolveRanges(fixedAdmin(), ['audit'], { kind: 'offset', offset: 180n }, { kind: 'offset', offset: 190n });
    assert.deepEqual(ranges, [
      { topic: 'audit', partition: 0, start: 180n, end: 190n },
      { topic: 'audit', partition: 1, start: 50n, end: 50n },
    ]);
  });

  it('rejects a range whose start is not before its end', async () => {
    const cases: Array<[RangeBound, RangeBound, string]> = [
      [{ kind: 'offset', offset: 8n }, { kind: 'offset', offset: 5n }, 'from offset 8 to offset 5'],
      [{ kind: 'time', ms: 2000, text: 'T2' }, { kind: 'time', ms: 1000, text: 'T1' }, 'from T2 to T1'],
      [{ kind: 'latest' }, { kind: 'latest' }, 'from latest to latest'],
      [{ kind: 'earliest' }, { kind: 'earliest' }, 'from earliest to earliest'],
    ];
    for (const [from, to, text] of cases) {
      await assert.rejects(resolveRanges(fixedAdmin(), ['audit'], from, to), new RegExp(`The range ${text} is empty in every partition`), text);
    }
  });

  it('rejects a topic the brokers do not list', async () => {
    await assert.rejects(resolveRanges(fixedAdmin(), ['audit', 'pacs'], { kind: 'earliest' }, { kind: 'latest' }), /Topic "pacs" not found on the brokers/);
  });
});
