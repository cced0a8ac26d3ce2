import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import {
  INTEGRATION_SKIP,
  createTopic,
  emptyFolder,
  groupLag,
  HolterProcess,
  pollUntil,
  processesKilledAfterSuite,
  produce,
  requireServices,
  setupDataStream,
  simulatedRecords,
  testSettings,
  writeConfig,
  writeStatelessRule,
} from './helpers.js';

describe('patient token key of the changelog', { skip: INTEGRATION_SKIP }, () => {
  const processes = processesKilledAfterSuite();

  before(requireServices);

  test('a restart under another key stops at the restore', async () => {
    const settings = testSettings('token-key', { rules: [writeStatelessRule()], detectors: [emptyFolder()] });
    const configFile = writeConfig(settings);
    const otherKeyFile = configFile.replace(/\.yml$/, '-other-key.yml');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { identity: { token_key: string } };
    config.identity.token_key = 'another-integration-token-key-9876543210';
    writeFileSync(otherKeyFile, JSON.stringify(config, null, 2));

    await createTopic(settings.topic, 1);
    await setupDataStream(configFile);
    const records = simulatedRecords(40).map((value) => ({ value }));
    await produce(settings.topic, records.slice(0, 30));
    const first = new HolterProcess(configFile);
    processes.push(first);
    await pollUntil('the first records to be checkpointed and committed', async () => ((await groupLag(settings.groupId, settings.topic)) === 0 ? true : undefined)).catch((error: Error) => {
      throw new Error(`${error.message}\n${first.stderr.slice(-3000)}`);
    });
    assert.equal(await first.stop('SIGTERM'), 0, first.stderr);

    const second = new HolterProcess(otherKeyFile);
    processes.push(second);
    await produce(settings.topic, records.slice(30));
    const code = await Promise.race([second.exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 60_000))]);

    assert.notEqual(code, 'still running', second.stderr);
    assert.notEqual(code, 0, second.stderr);
    assert.match(second.stderr, new RegExp(`The checkpoint of ${settings.topic}/0 in changelog topic \\S+ was written with another patient token key`));
    assert.equal(await groupLag(settings.groupId, settings.topic), 10, 'the records after the restart stay uncommitted');
  });
});
