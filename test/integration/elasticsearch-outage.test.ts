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
  residentBytes,
  services,
  startStatelessRun,
  storedAlerts,
} from './helpers.js';

const RECORDS = 2400;
const PARTITIONS = 2;
/** Samples of the committed offsets taken while Elasticsearch is down. */
const OUTAGE_SAMPLES = 5;
/**
 * Holter holds at most one fetched batch per partition while it waits (1 MiB each by default), so
 * its resident memory stays near its size at start. The bound leaves room for the runtime's own
 * growth; a consumer that kept fetching into memory would pass it with a larger backlog.
 */
const MAX_RESIDENT_BYTES = 400 * 1024 * 1024;

describe('elasticsearch outage mid-run', { skip: INTEGRATION_SKIP }, () => {
  const processes: HolterProcess[] = [];

  before(requireServices);

  after(async () => {
    for (const holter of processes) await holter.stop('SIGKILL');
    // Leaves Elasticsearch running for the next suites, also when the test failed mid-outage.
    await services('start', 'elasticsearch');
  });

  test('pauses, resumes and stores each alert once', async () => {
    // Half the records go in before the outage and half during it, so alerts are always waiting for
    // Elasticsearch while it is down, however fast the first half went through.
    const run = await startStatelessRun('es-outage', RECORDS, PARTITIONS);
    const { settings, configFile, expected } = run;
    const topic = settings.topic;

    const holter = new HolterProcess(configFile);
    processes.push(holter);
    await firstAlertsAndCommit(settings, 100);

    await services('stop', 'elasticsearch');
    await produce(topic, run.secondHalf);
    await pollUntil('holter to retry the bulk request', async () => (holter.stderr.includes('elasticsearch bulk request failed; retrying') ? true : undefined));

    // Back-pressure: with every alert write pending, no further offset is committed and memory stays bounded.
    const lagDuringOutage: number[] = [];
    let maxResident = 0;
    for (let sample = 0; sample < OUTAGE_SAMPLES; sample++) {
      lagDuringOutage.push((await groupLag(settings.groupId, topic)) ?? -1);
      maxResident = Math.max(maxResident, residentBytes(holter.pid ?? 0));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(holter.running, `holter keeps running during the outage:\n${holter.stderr.slice(-3000)}`);
    assert.ok((lagDuringOutage[0] ?? 0) > 0, `records wait uncommitted during the outage (lag ${String(lagDuringOutage[0])})`);
    assert.deepEqual(new Set(lagDuringOutage).size, 1, `no commit during the outage (lag samples ${lagDuringOutage.join(', ')})`);
    assert.ok(maxResident < MAX_RESIDENT_BYTES, `resident memory ${maxResident} bytes stays below ${MAX_RESIDENT_BYTES}`);

    await services('start', 'elasticsearch');
    await pollUntil('the group to commit every record after the outage', async () => ((await groupLag(settings.groupId, topic)) === 0 ? true : undefined), 120_000);
    assert.equal(await holter.stop('SIGTERM'), 0, holter.stderr.slice(-3000));
    assert.match(holter.stderr, /elasticsearch bulk request succeeded after retries/);

    const stored = await storedAlerts(settings.dataStream);
    assert.equal(stored.total, expected.ids.size, 'one document per expected alert');
    assert.deepEqual(new Set(stored.ids), expected.ids);
  });
});
