import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/paths.js';
import {
  ELASTICSEARCH_URL,
  INTEGRATION_SKIP,
  createTopic,
  elasticsearch,
  firstAlertsAndCommit,
  groupLag,
  HolterProcess,
  pollUntil,
  produce,
  requireServices,
  services,
  startStatelessRun,
  storedAlerts,
  testSettings,
  writeConfig,
} from './helpers.js';

const execFileAsync = promisify(execFile);
const PASSWORD = 'it-password-not-in-logs';
/** Drain timeout of the shutdown test, short so the test stays quick. */
const DRAIN_TIMEOUT_MS = 3000;

/** Rewrites keys of `sinks.elasticsearch` in a configuration file that writeConfig wrote as JSON. */
function patchElasticsearch(configFile: string, patch: Record<string, unknown>): void {
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as { sinks: { elasticsearch: Record<string, unknown> } };
  Object.assign(config.sinks.elasticsearch, patch);
  writeFileSync(configFile, JSON.stringify(config));
}

/** Runs `holter setup elasticsearch` and returns its exit code and output. */
async function runSetup(configFile: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [path.join(REPO_ROOT, 'bin', 'holter.js'), 'setup', 'elasticsearch', '--config', configFile]);
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: (failed.stdout ?? '') + (failed.stderr ?? '') };
  }
}

describe('elasticsearch checks at start and shutdown', { skip: INTEGRATION_SKIP }, () => {
  const processes: HolterProcess[] = [];

  before(requireServices);

  after(async () => {
    for (const holter of processes) await holter.stop('SIGKILL');
    await services('start', 'elasticsearch');
  });

  test('run rejects https to a plain node', async () => {
    const settings = testSettings('es-tls');
    await createTopic(settings.topic, 1);
    const configFile = writeConfig(settings);
    const port = new URL(ELASTICSEARCH_URL).port;
    patchElasticsearch(configFile, { nodes: [`https://elastic:${PASSWORD}@127.0.0.1:${port}`] });

    const holter = new HolterProcess(configFile);
    processes.push(holter);
    assert.equal(await holter.exited, 2, holter.stderr.slice(-3000));
    assert.match(holter.stderr, /HOLTER_ELASTICSEARCH_CONNECT/);
    assert.match(holter.stderr, new RegExp(`https://\\*\\*\\*@127\\.0\\.0\\.1:${port}/`));
    assert.match(holter.stderr, /wrong version number/);
    assert.doesNotMatch(holter.stderr, new RegExp(PASSWORD));
    assert.equal(await groupLag(settings.groupId, settings.topic), undefined, 'the group never committed');
  });

  test('run rejects a missing template', async () => {
    const settings = testSettings('es-notemplate');
    await createTopic(settings.topic, 1);
    const configFile = writeConfig(settings);

    const holter = new HolterProcess(configFile);
    processes.push(holter);
    assert.equal(await holter.exited, 2, holter.stderr.slice(-3000));
    assert.match(holter.stderr, /Index template \S+ not found/);
    assert.match(holter.stderr, /Run holter setup elasticsearch/);
  });

  test('setup rejects a plain index with the name', async () => {
    const settings = testSettings('es-plainindex');
    const configFile = writeConfig(settings);
    await elasticsearch.indices.create({ index: settings.dataStream });
    try {
      const { code, output } = await runSetup(configFile);
      assert.equal(code, 2, output);
      assert.match(output, /held by an index/);
      assert.doesNotMatch(output, /created by the template on the first alert written/);
    } finally {
      await elasticsearch.indices.delete({ index: settings.dataStream });
    }
  });

  test('shutdown gives up at drain timeout', async () => {
    const run = await startStatelessRun('es-drain', 1200, 2);
    const { settings, configFile, expected } = run;
    patchElasticsearch(configFile, { drain_timeout_ms: DRAIN_TIMEOUT_MS });

    const first = new HolterProcess(configFile);
    processes.push(first);
    await firstAlertsAndCommit(settings, 50);

    await services('stop', 'elasticsearch');
    await produce(settings.topic, run.secondHalf);
    await pollUntil('holter to retry the bulk request', async () => (first.stderr.includes('elasticsearch bulk request failed; retrying') ? true : undefined));
    // Commits of alerts indexed before the outage have had time to finish.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const lagBefore = await groupLag(settings.groupId, settings.topic);
    assert.ok((lagBefore ?? 0) > 0, `records wait uncommitted (lag ${String(lagBefore)})`);

    const signalledAt = Date.now();
    assert.equal(await first.stop('SIGTERM'), 1, first.stderr.slice(-3000));
    const stopMs = Date.now() - signalledAt;
    assert.ok(stopMs < DRAIN_TIMEOUT_MS + 15_000, `holter exits soon after the drain timeout (took ${stopMs} ms)`);
    assert.match(first.stderr, /did not index every alert within sinks\.elasticsearch\.drain_timeout_ms/);
    const lagAfter = await groupLag(settings.groupId, settings.topic);
    assert.equal(lagAfter, lagBefore, 'no offset of an alert not indexed was committed');

    await services('start', 'elasticsearch');
    const second = new HolterProcess(configFile);
    processes.push(second);
    await pollUntil('the group to commit every record', async () => ((await groupLag(settings.groupId, settings.topic)) === 0 ? true : undefined), 120_000);
    assert.equal(await second.stop('SIGTERM'), 0, second.stderr.slice(-3000));

    const stored = await storedAlerts(settings.dataStream);
    assert.equal(stored.total, expected.ids.size, 'one document per expected alert');
    assert.deepEqual(new Set(stored.ids), expected.ids);
  });
});
