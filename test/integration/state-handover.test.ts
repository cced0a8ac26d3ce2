import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  INTEGRATION_SKIP,
  consumerGroups,
  createTopic,
  emptyFolder,
  expectedAlerts,
  failedLoginBursts,
  groupLag,
  HolterProcess,
  latestAssignment,
  logEntries,
  pollUntil,
  processesKilledAfterSuite,
  produce,
  requireServices,
  setupDataStream,
  sinkCounts,
  storedAlerts,
  testSettings,
  writeConfig,
  writeFailedLoginCorrelation,
} from './helpers.js';

const PARTITIONS = 4;
const ALL_PARTITIONS = [0, 1, 2, 3];
const USERS = 12;
const FAILURES_PER_USER = 10;

/** True when two members' partitions are disjoint, both non-empty, and together the whole topic. */
function splitBetween(first: number[] | undefined, second: number[] | undefined): boolean {
  if (first === undefined || second === undefined || first.length === 0 || second.length === 0) return false;
  return JSON.stringify([...first, ...second].sort((a, b) => a - b)) === JSON.stringify(ALL_PARTITIONS);
}

function alertsRaised(stderr: string): number {
  const match = /^ +alerts +(\d+)$/m.exec(stderr);
  assert.ok(match !== null, `no alert count in the summary:\n${stderr.slice(-2000)}`);
  return Number(match[1]);
}

describe('two members hand over open windows', { skip: INTEGRATION_SKIP }, () => {
  const processes = processesKilledAfterSuite();

  before(requireServices);

  // Every user's correlation needs 8 failed logins. The leaving member reads 7 of its users' before
  // it stops, so the alerts of its partitions come from the state the other member restores.
  test('member stops mid-window; other restores state', async () => {
    const settings = testSettings('state-handover', {
      rules: [writeFailedLoginCorrelation()],
      detectors: [emptyFolder()],
    });
    const topic = settings.topic;
    const configFile = writeConfig(settings);
    const records = failedLoginBursts(USERS, FAILURES_PER_USER);
    const expected = await expectedAlerts(
      configFile,
      records.map((record) => record.value),
    );
    assert.equal(expected.ids.size, USERS, 'the reference run raises one alert per user');
    const rounds = (from: number, to: number): { key: string; value: string }[] =>
      records.filter((record) => record.round >= from && record.round < to).map(({ key, value }) => ({ key, value }));

    await createTopic(topic, PARTITIONS);
    await setupDataStream(configFile);
    const leaving = new HolterProcess(configFile);
    const staying = new HolterProcess(configFile);
    processes.push(leaving, staying);
    await pollUntil('the partitions to be split between both members', async () =>
      splitBetween(latestAssignment(leaving.stderr, topic), latestAssignment(staying.stderr, topic)) ? true : undefined,
    );
    const leavingPartitions = latestAssignment(leaving.stderr, topic) ?? [];

    await produce(topic, rounds(0, 5));
    await pollUntil('both members to checkpoint and commit the first rounds', async () => ((await groupLag(settings.groupId, topic)) === 0 ? true : undefined));
    // These rounds reach the leaving member just before it stops, and its last checkpoint contains them.
    await produce(topic, rounds(5, 7));
    assert.equal(await leaving.stop('SIGTERM'), 0, leaving.stderr.slice(-3000));

    await pollUntil('the other member to own every partition', async () => (JSON.stringify(latestAssignment(staying.stderr, topic)) === JSON.stringify(ALL_PARTITIONS) ? true : undefined));
    await produce(topic, rounds(7, FAILURES_PER_USER));
    await pollUntil('the group to commit every record', async () => ((await groupLag(settings.groupId, topic)) === 0 ? true : undefined));
    await pollUntil('one alert per user', async () => ((await storedAlerts(settings.dataStream)).total >= USERS ? true : undefined));
    assert.equal(await staying.stop('SIGTERM'), 0, staying.stderr.slice(-3000));

    const stored = await storedAlerts(settings.dataStream);
    assert.equal(stored.total, expected.ids.size, 'one document per expected alert');
    assert.deepEqual(new Set(stored.ids), expected.ids);

    const restored = new Set(logEntries(staying.stderr, 'detection state restored from checkpoint').map((entry) => entry.partition));
    for (const partition of leavingPartitions) assert.ok(restored.has(partition), `the staying member restored partition ${partition}`);
    // The summary has no sink line when no alert was raised.
    assert.equal(alertsRaised(leaving.stderr), 0, 'the leaving member raised nothing: no window reached 8 before it stopped');
    const stayed = sinkCounts(staying.stderr, 'elasticsearch');
    assert.equal(stayed.delivered, USERS);
    assert.equal(stayed.duplicate, 0, 'no alert raised twice');
    assert.deepEqual(await consumerGroups(`${settings.groupId}-changelog-reader-`), [], 'each member deleted its changelog reader group when it stopped');
  });
});
