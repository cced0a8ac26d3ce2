import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { INTEGRATION_SKIP, kafka, requireServices, uniqueName } from './helpers.js';

const MEMBERS = 4;
const TOPICS = 5;
const PARTITIONS = 4;

describe('topic creation by members starting together', { skip: INTEGRATION_SKIP }, () => {
  before(requireServices);

  // Members of one group create the changelog and repartition topics when they start. The one that
  // finds the topic just created by another must not read it before its partitions have leaders.
  test('every member reads the new topic right after creating it', async () => {
    const admins = Array.from({ length: MEMBERS }, () => kafka.admin());
    await Promise.all(admins.map((admin) => admin.connect()));
    try {
      for (let round = 0; round < TOPICS; round++) {
        const name = uniqueName('it-topic-race');
        // Settled, not all: every member's calls end before the next round or the disconnect.
        const ends = await Promise.allSettled(
          admins.map(async (admin) => {
            await admin.createTopics([{ name, partitions: PARTITIONS, config: { 'cleanup.policy': 'compact' } }]);
            return admin.fetchEndOffsets(name);
          }),
        );
        for (const end of ends) {
          if (end.status === 'rejected') throw end.reason;
          assert.deepEqual(end.value.map((entry) => entry.offset), Array(PARTITIONS).fill('0'), `end offsets of ${name}`);
        }
      }
    } finally {
      await Promise.all(admins.map((admin) => admin.disconnect()));
    }
  });
});
