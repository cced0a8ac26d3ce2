import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  INTEGRATION_SKIP,
  createTopic,
  emptyFolder,
  expectedAlerts,
  failedLoginBursts,
  groupLag,
  HolterProcess,
  logEntries,
  pollUntil,
  processesKilledAfterSuite,
  produce,
  requireServices,
  setupDataStream,
  storedAlerts,
  testSettings,
  writeConfig,
  writeFailedLoginCorrelation,
} from './helpers.js';

const USERS = 6;
const FAILURES_PER_USER = 10;
/** Rounds of failures produced before the first kill, and before the second; the last rounds follow. */
const FIRST_KILL_AFTER_ROUND = 4;
const SECOND_KILL_AFTER_ROUND = 7;

describe('kafka restart with open windows', { skip: INTEGRATION_SKIP }, () => {
  const processes = processesKilledAfterSuite();

  before(requireServices);

  // Each user's correlation needs 8 failed logins, and every window spans both kills: without the
  // checkpointed windows the restarted process would count at most 6 and raise nothing.
  test('sigkill twice mid-window raises each alert once', async () => {
    const settings = testSettings('state-crash', {
      rules: [writeFailedLoginCorrelation()],
      detectors: [emptyFolder()],
      // Longer than the produce before each kill takes, so the kill comes before the next checkpoint.
      checkpointIntervalMs: 3000,
    });
    const topic = settings.topic;
    const configFile = writeConfig(settings);
    const records = failedLoginBursts(USERS, FAILURES_PER_USER);
    const expected = await expectedAlerts(
      configFile,
      records.map((record) => record.value),
    );
    assert.equal(expected.ids.size, USERS, 'the reference run raises one alert per user');

    await createTopic(topic, 3);
    await setupDataStream(configFile);
    const phase = (from: number, to: number): { key: string; value: string }[] =>
      records.filter((record) => record.round >= from && record.round < to).map(({ key, value }) => ({ key, value }));

    let holter = new HolterProcess(configFile);
    processes.push(holter);
    await produce(topic, phase(0, FIRST_KILL_AFTER_ROUND));
    await pollUntil('the first rounds to be checkpointed and committed', async () => ((await groupLag(settings.groupId, topic)) === 0 ? true : undefined));

    // The next rounds go out just before each kill, so the kill always leaves records fetched or
    // waiting that no checkpoint holds.
    for (const [from, to] of [
      [FIRST_KILL_AFTER_ROUND, SECOND_KILL_AFTER_ROUND],
      [SECOND_KILL_AFTER_ROUND, FAILURES_PER_USER],
    ] as const) {
      await produce(topic, phase(from, to));
      assert.equal(await holter.stop('SIGKILL'), null);
      const lag = await groupLag(settings.groupId, topic);
      assert.ok((lag ?? 0) > 0, `the kill left records uncommitted (lag ${String(lag)})`);

      holter = new HolterProcess(configFile);
      processes.push(holter);
      await pollUntil('the restarted process to commit every record', async () => ((await groupLag(settings.groupId, topic)) === 0 ? true : undefined), 60_000);
      assert.ok(logEntries(holter.stderr, 'detection state restored from checkpoint').length > 0, holter.stderr.slice(-3000));
    }

    await pollUntil('one alert per user', async () => ((await storedAlerts(settings.dataStream)).total >= USERS ? true : undefined));
    assert.equal(await holter.stop('SIGTERM'), 0, holter.stderr.slice(-3000));
    const stored = await storedAlerts(settings.dataStream);
    assert.equal(stored.total, expected.ids.size, 'one document per expected alert');
    assert.deepEqual(new Set(stored.ids), expected.ids);
  });
});
