import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/temp.js';
import {
  INTEGRATION_SKIP,
  consumerGroups,
  createTopic,
  emptyFolder,
  expectedAlerts,
  groupLag,
  produce,
  requireServices,
  sampleRecords,
  simulatedRecords,
  storedAlerts,
  testSettings,
  writeConfig,
  writeStatelessRule,
} from './helpers.js';

const execFileAsync = promisify(execFile);

/** Runs `holter replay` with `args` from the repository root and returns its exit code and standard error. */
async function replay(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await execFileAsync(process.execPath, [path.join(REPO_ROOT, 'bin', 'holter.js'), 'replay', ...args], { cwd: REPO_ROOT, timeout: 120_000 });
    return { code: 0, stderr };
  } catch (error) {
    const failed = error as { code?: number; stderr?: string };
    return { code: failed.code ?? -1, stderr: failed.stderr ?? '' };
  }
}

function alertIds(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { event: { id: string } }).event.id)
    .sort();
}

describe('backtest over a Kafka range', { skip: INTEGRATION_SKIP }, () => {
  before(requireServices);

  test('raises the alerts of an in-process run', async () => {
    const settings = testSettings('backtest');
    const configFile = writeConfig(settings);
    const texts = await sampleRecords();
    const expected = await expectedAlerts(configFile, texts);
    assert.ok(expected.ids.size >= 3, `the samples should raise several alerts, raised ${expected.ids.size}`);

    await createTopic(settings.topic, 1);
    await produce(settings.topic, texts.map((value) => ({ value })));
    const out = path.join(makeTempDir('holter-it-backtest-'), 'alerts.ndjson');
    const run = await replay(['--config', configFile, '--kafka', '--quiet', '--no-progress', '--out', out]);

    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /The configured Elasticsearch sink is left out, so the backtest pages nobody/);
    assert.deepEqual(alertIds(out), [...expected.ids].sort());
    // The configured Elasticsearch sink is left out, and the production group commits nothing.
    assert.equal((await storedAlerts(settings.dataStream)).total, 0);
    assert.equal(await groupLag(settings.groupId, settings.topic), undefined);
    assert.deepEqual(await consumerGroups(`${settings.groupId}-backtest`), []);
  });

  test('reads an offset range of every partition', async () => {
    const settings = testSettings('backtest-range', { rules: [writeStatelessRule()], detectors: [emptyFolder()] });
    const configFile = writeConfig(settings);
    await createTopic(settings.topic, 2);
    const texts = simulatedRecords(60);
    await produce(settings.topic, texts.map((value, index) => ({ value, partition: index % 2 })));
    const summaryFile = path.join(makeTempDir('holter-it-backtest-'), 'summary.json');

    const run = await replay(['--config', configFile, '--kafka-topic', settings.topic, '--from', '10', '--to', '25', '--quiet', '--no-progress', '--summary-json', summaryFile]);

    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /from offset 10 to offset 25: 30 offsets in 2 of 2 partitions/);
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as { recordsRead: number; kafka: { recordsRead: number; unfinished: unknown[] } };
    assert.equal(summary.recordsRead, 30);
    assert.equal(summary.kafka.recordsRead, 30);
    assert.deepEqual(summary.kafka.unfinished, []);
  });

  test('rejects a topic the brokers do not have', async () => {
    const settings = testSettings('backtest-missing');
    const run = await replay(['--config', writeConfig(settings), '--kafka-topic', `${settings.topic}-absent`, '--quiet']);

    assert.equal(run.code, 2);
    assert.match(run.stderr, /Topic "it-backtest-missing-[^"]+-absent" not found on the brokers/);
  });
});
