import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  INTEGRATION_SKIP,
  createTopic,
  expectedAlerts,
  groupLag,
  HolterProcess,
  pollUntil,
  produce,
  requireServices,
  sampleRecords,
  setupDataStream,
  simulatedRecords,
  storedAlerts,
  uniqueName,
  writeConfig,
} from './helpers.js';

/** Rules the shared samples are known to raise: a break-glass access and a failed login burst. */
const BREAK_GLASS_RULE = 'holter-break-glass-access';
const FAILED_LOGIN_BURST_RULE = 'holter-failed-login-burst';

describe('kafka topic to elasticsearch', { skip: INTEGRATION_SKIP }, () => {
  const topic = uniqueName('it-alerts');
  const dataStream = `logs-holter.alerts-${uniqueName('it').replaceAll('-', '')}`;
  const settings = { topic, groupId: uniqueName('it-group'), dataStream, deadLetterTopic: `${topic}.dead-letter` };
  const configFile = writeConfig(settings);
  let texts: string[] = [];
  let expected: Awaited<ReturnType<typeof expectedAlerts>>;
  const processes: HolterProcess[] = [];

  before(async () => {
    await requireServices();
    texts = [...(await sampleRecords()), ...simulatedRecords(400)];
    expected = await expectedAlerts(configFile, texts);
    await createTopic(topic, 1);
    await setupDataStream(configFile);
    await produce(topic, texts.map((text) => ({ value: text })));
  });

  after(async () => {
    for (const holter of processes) await holter.stop('SIGKILL');
  });

  it('raises the expected alerts', async () => {
    assert.equal(expected.deadLettered, 0, 'every sample and simulated record decodes');
    assert.ok(expected.ruleIds.has(BREAK_GLASS_RULE), 'the samples raise a break-glass alert');
    assert.ok(expected.ruleIds.has(FAILED_LOGIN_BURST_RULE), 'the samples raise a failed login burst alert');

    const holter = new HolterProcess(configFile);
    processes.push(holter);
    await pollUntil('the group to commit every record', async () => ((await groupLag(settings.groupId, topic)) === 0 ? true : undefined));
    assert.equal(await holter.stop('SIGTERM'), 0, holter.stderr);

    const stored = await storedAlerts(dataStream);
    assert.deepEqual(new Set(stored.ids), expected.ids, holter.stderr);
    assert.equal(stored.total, expected.ids.size, 'one document per alert id');
  });

  it('replay with new group adds nothing', async () => {
    const before = await storedAlerts(dataStream);
    const replayGroup = uniqueName('it-replay');
    const replayConfig = writeConfig({ ...settings, groupId: replayGroup });

    const holter = new HolterProcess(replayConfig);
    processes.push(holter);
    await pollUntil('the replay group to commit every record', async () => ((await groupLag(replayGroup, topic)) === 0 ? true : undefined));
    assert.equal(await holter.stop('SIGTERM'), 0, holter.stderr);

    const after = await storedAlerts(dataStream);
    assert.equal(after.total, before.total, 'no second document for a replayed alert');
    assert.deepEqual(new Set(after.ids), new Set(before.ids));
    assert.match(holter.stderr, new RegExp(`sink elasticsearch +delivered 0, duplicate ${before.total},`), 'every replayed alert is reported as a duplicate');
  });
});
