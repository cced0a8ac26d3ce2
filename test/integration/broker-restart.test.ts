import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  INTEGRATION_SKIP,
  firstAlertsAndCommit,
  groupLag,
  HolterProcess,
  pollUntil,
  produce,
  requireServices,
  services,
  startStatelessRun,
  storedAlerts,
} from './helpers.js';

const RECORDS = 2400;
const PARTITIONS = 2;

describe('kafka broker restart mid-run', { skip: INTEGRATION_SKIP }, () => {
  const processes: HolterProcess[] = [];

  before(requireServices);

  after(async () => {
    for (const holter of processes) await holter.stop('SIGKILL');
    // Leaves the broker running for the next suites, also when the test failed mid-restart.
    await services('start', 'kafka');
  });

  test('reconnects and stores each alert once', async () => {
    // Half the records go in before the restart and half after, so the broker is always down
    // before the last alert, however fast the first half went through.
    const run = await startStatelessRun('broker-restart', RECORDS, PARTITIONS);
    const { settings, configFile, expected } = run;
    const topic = settings.topic;

    const holter = new HolterProcess(configFile);
    processes.push(holter);
    await firstAlertsAndCommit(settings, 100);

    await services('stop', 'kafka');
    const storedWhileDown = await storedAlerts(settings.dataStream);
    assert.ok(storedWhileDown.total < expected.ids.size, `the broker stopped before the last alert (${storedWhileDown.total} of ${expected.ids.size} stored)`);
    assert.ok(holter.running, `holter keeps running while the broker is down:\n${holter.stderr.slice(-3000)}`);

    await services('start', 'kafka');
    await produce(topic, run.secondHalf);
    await pollUntil('the group to commit every record after the restart', async () => ((await groupLag(settings.groupId, topic)) === 0 ? true : undefined), 120_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\nholter run output:\n${holter.stderr.slice(-6000)}`);
    });
    assert.equal(await holter.stop('SIGTERM'), 0, holter.stderr.slice(-3000));

    const stored = await storedAlerts(settings.dataStream);
    assert.equal(stored.total, expected.ids.size, 'one document per expected alert');
    assert.deepEqual(new Set(stored.ids), expected.ids);
  });
});
