import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import type { KafkaAdminClient } from '../../../src/sources/kafka/client.js';
import { ConsumerLagMonitor } from '../../../src/sources/kafka/lag.js';
import type { OwnedPartition } from '../../../src/sources/kafka/source.js';

/** Creates an admin client with fixed end and committed offsets. Setting `down` makes end offset reads fail, as in a broker outage. */
function fakeAdmin(ends: Record<string, string[]>, committed: Record<string, string[]>): KafkaAdminClient & { down: boolean; committedReads: number } {
  const unexpected = async (): Promise<never> => {
    throw new Error('not used by the lag monitor');
  };
  const admin = {
    down: false,
    committedReads: 0,
    async connect() {},
    async disconnect() {},
    async fetchEndOffsets(topic: string) {
      if (admin.down) throw new Error('Connection error: connect ECONNREFUSED 127.0.0.1:49092');
      return (ends[topic] ?? []).map((offset, partition) => ({ partition, offset }));
    },
    async fetchCommittedOffsets(_groupId: string, topic: string) {
      admin.committedReads++;
      return (committed[topic] ?? []).map((offset, partition) => ({ partition, offset }));
    },
    createTopics: unexpected,
    fetchOffsetRange: unexpected,
    fetchOffsetsAtTime: unexpected,
    listTopics: unexpected,
    deleteGroups: unexpected,
  };
  return admin;
}

test('lag uses position or commit', async () => {
  const admin = fakeAdmin({ 'auth-events': ['1000', '500', '70'] }, { 'auth-events': ['-1', '480', '-1'] });
  let owned: OwnedPartition[] = [
    { topic: 'auth-events', partition: 0, nextOffset: '250' },
    { topic: 'auth-events', partition: 1 },
    { topic: 'auth-events', partition: 2 },
  ];
  const monitor = new ConsumerLagMonitor({ admin, groupId: 'holter', ownedPartitions: () => owned, logger: silentLogger });

  await monitor.refresh();
  assert.deepEqual(monitor.lag, [
    { topic: 'auth-events', partition: 0, lag: 750 },
    { topic: 'auth-events', partition: 1, lag: 20 },
  ]);
  assert.ok(monitor.refreshedAtMs !== undefined);

  owned = [{ topic: 'auth-events', partition: 0, nextOffset: '1000' }];
  const readsBefore = admin.committedReads;
  await monitor.refresh();
  assert.deepEqual(monitor.lag, [{ topic: 'auth-events', partition: 0, lag: 0 }]);
  assert.equal(admin.committedReads, readsBefore, 'known positions need no committed offsets');
});

test('lag keeps values in outage', async () => {
  const admin = fakeAdmin({ 'auth-events': ['1000'] }, {});
  const monitor = new ConsumerLagMonitor({ admin, groupId: 'holter', ownedPartitions: () => [{ topic: 'auth-events', partition: 0, nextOffset: '900' }], logger: silentLogger });
  await monitor.refresh();
  const refreshedAtMs = monitor.refreshedAtMs;

  admin.down = true;
  await monitor.refresh();
  assert.deepEqual(monitor.lag, [{ topic: 'auth-events', partition: 0, lag: 100 }]);
  assert.equal(monitor.refreshedAtMs, refreshedAtMs, 'the refresh time shows that the lag is stale');
  await monitor.stop();
});
