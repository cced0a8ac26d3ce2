import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Alert } from '../../src/alerts/types.js';
import {
  INTEGRATION_SKIP,
  createTopic,
  elasticsearch,
  emptyFolder,
  failedLoginBursts,
  groupLag,
  HolterProcess,
  latestAssignment,
  pollUntil,
  processesKilledAfterSuite,
  produce,
  requireServices,
  setupDataStream,
  sinkCounts,
  storedAlerts,
  testSettings,
  uniqueName,
  writeConfig,
  writeFailedLoginCorrelation,
} from './helpers.js';

const SOURCE_PARTITIONS = 3;
const REPARTITION_PARTITIONS = 4;
const USERS = 10;
const FAILURES_PER_USER = 10;

/** Returns the user names of the alerts in a data stream, one entry per alert document. */
async function alertedUsers(dataStream: string): Promise<string[]> {
  await elasticsearch.indices.refresh({ index: dataStream });
  const response = await elasticsearch.search<Alert>({ index: dataStream, size: 1000, _source: ['holter.alert.group_key', 'rule.id'], query: { match_all: {} } });
  return response.hits.hits.map((hit) => {
    assert.equal(hit._source?.rule.id, 'integration_failed_login_burst');
    return hit._source?.holter.alert.group_key['user.name'] ?? '';
  });
}

describe('repartition by user', { skip: INTEGRATION_SKIP }, () => {
  const processes = processesKilledAfterSuite();

  before(requireServices);

  // Source records are keyed at random, so each user's failed logins are spread over every source
  // partition and both members. Only the re-keyed events bring a user's 10 failures into one task.
  test('randomly keyed bursts fire once per user', async () => {
    const groupId = uniqueName('it-group');
    const settings = testSettings('repartition', {
      groupId,
      rules: [writeFailedLoginCorrelation()],
      detectors: [emptyFolder()],
      repartitionBy: 'user.name',
      repartitionPartitions: REPARTITION_PARTITIONS,
    });
    const topic = settings.topic;
    const repartitionTopic = `${groupId}-repartition`;
    const configFile = writeConfig(settings);
    const records = failedLoginBursts(USERS, FAILURES_PER_USER).map((record, index) => ({ key: `record-${index}`, value: record.value }));

    await createTopic(topic, SOURCE_PARTITIONS);
    await setupDataStream(configFile);
    const first = new HolterProcess(configFile);
    const second = new HolterProcess(configFile);
    processes.push(first, second);
    await pollUntil('both members to own repartition partitions', async () => {
      const ofFirst = latestAssignment(first.stderr, repartitionTopic) ?? [];
      const ofSecond = latestAssignment(second.stderr, repartitionTopic) ?? [];
      return ofFirst.length > 0 && ofSecond.length > 0 && ofFirst.length + ofSecond.length === REPARTITION_PARTITIONS ? true : undefined;
    });

    await produce(topic, records);
    await pollUntil('the source records to be forwarded and committed', async () => ((await groupLag(groupId, topic)) === 0 ? true : undefined));
    await pollUntil('the re-keyed events to be detected and committed', async () => ((await groupLag(groupId, repartitionTopic)) === 0 ? true : undefined));
    await pollUntil('one alert per user', async () => ((await storedAlerts(settings.dataStream)).total >= USERS ? true : undefined));
    assert.equal(await first.stop('SIGTERM'), 0, first.stderr.slice(-3000));
    assert.equal(await second.stop('SIGTERM'), 0, second.stderr.slice(-3000));

    const users = await alertedUsers(settings.dataStream);
    assert.equal(users.length, USERS, 'one alert document per user');
    assert.deepEqual(
      [...users].sort(),
      Array.from({ length: USERS }, (_, user) => `user${user}@example.org`).sort(),
    );
    const delivered = [first, second].map((holter) => (/^ +alerts +0$/m.test(holter.stderr) ? 0 : sinkCounts(holter.stderr, 'elasticsearch').delivered));
    assert.equal(delivered.reduce((total, count) => total + count, 0), USERS, 'each alert was raised by one member only');
  });
});
