import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  INTEGRATION_SKIP,
  createTopic,
  emptyFolder,
  failedLoginBursts,
  groupLag,
  HolterProcess,
  logEntries,
  pollUntil,
  produce,
  requireServices,
  setupDataStream,
  storedAlerts,
  testSettings,
  writeConfig,
  writeFailedLoginCorrelation,
} from './helpers.js';

const OPERATOR_TOKEN = 'integration-operator-token';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/** Reads a counter from the Prometheus text; 0 when the series is absent. */
function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('rules reload while running', { skip: INTEGRATION_SKIP }, () => {
  let holter: HolterProcess | undefined;

  before(requireServices);

  after(async () => {
    await holter?.stop('SIGKILL');
  });

  // Five failed logins open the correlation window. Three more after three reloads (file change,
  // API, SIGHUP) complete it, so the alert shows that the window survived every reload.
  test('reloads keep windows; broken file pages', async () => {
    const rulesFolder = writeFailedLoginCorrelation();
    const settings = testSettings('reload', {
      rules: [rulesFolder],
      detectors: [emptyFolder()],
    });
    const topic = settings.topic;
    const configFile = writeConfig(settings);
    const port = await freePort();
    const tokensFile = path.join(path.dirname(configFile), 'tokens.yaml');
    writeFileSync(tokensFile, `tokens:\n  - name: integration\n    role: operator\n    sha256: ${createHash('sha256').update(OPERATOR_TOKEN).digest('hex')}\n`);
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(configFile, JSON.stringify({ ...config, api: { listen: `127.0.0.1:${port}`, tokens_file: tokensFile } }, null, 2));
    const url = `http://127.0.0.1:${port}`;
    const ruleFile = path.join(rulesFolder, 'failed-login-burst.yml');
    const brokenFile = path.join(rulesFolder, 'broken.yml');
    const records = failedLoginBursts(1, 8).map(({ key, value }) => ({ key, value }));
    const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();

    await createTopic(topic, 1);
    await setupDataStream(configFile);
    holter = new HolterProcess(configFile);
    await pollUntil('the API to report ready', async () => ((await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined));

    await produce(topic, records.slice(0, 5));
    await pollUntil('the first records to be committed', async () => ((await groupLag(settings.groupId, topic)) === 0 ? true : undefined));

    writeFileSync(ruleFile, readFileSync(ruleFile, 'utf8').replace('level: medium', 'level: high'));
    await pollUntil('the file change to reload', async () => (metricValue(await metrics(), 'holter_rule_reloads_total{outcome="succeeded"}') >= 1 ? true : undefined));

    writeFileSync(brokenFile, 'title: Broken\nlogsource:\n    product: holter\ndetection:\n    selection:\n        event.outcome: failure\n');
    await pollUntil('the broken file to be rejected', async () => (metricValue(await metrics(), 'holter_rule_reloads_total{outcome="rejected"}') >= 1 ? true : undefined));
    const paged = await pollUntil('the operator alert in Elasticsearch', async () => {
      const stored = await storedAlerts(settings.dataStream);
      return stored.ruleIds.includes('holter-reload-rejected') ? stored : undefined;
    });
    assert.equal(paged.total, 1, 'only the operator alert so far');

    const unauthorized = await fetch(`${url}/api/v1/reload`, { method: 'POST' });
    assert.equal(unauthorized.status, 401);
    rmSync(brokenFile);
    const reloaded = await fetch(`${url}/api/v1/reload`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    assert.equal(reloaded.status, 200, await reloaded.clone().text());
    assert.equal(((await reloaded.json()) as { outcome: string }).outcome, 'reloaded');

    const before = metricValue(await metrics(), 'holter_rule_reloads_total{outcome="succeeded"}');
    holter.signal('SIGHUP');
    await pollUntil('SIGHUP to reload', async () => (metricValue(await metrics(), 'holter_rule_reloads_total{outcome="succeeded"}') > before ? true : undefined));

    await produce(topic, records.slice(5));
    const done = await pollUntil('the correlation alert', async () => {
      const stored = await storedAlerts(settings.dataStream);
      return stored.ruleIds.includes('integration_failed_login_burst') ? stored : undefined;
    });
    assert.equal(done.total, 2, 'the operator alert and one correlation alert');
    assert.match(await metrics(), /^holter_records_read_total 8$/m);

    assert.equal(await holter.stop('SIGTERM'), 0, holter.stderr.slice(-3000));
    assert.ok(logEntries(holter.stderr, 'rules reloaded').length >= 3, 'file, API and SIGHUP reloads logged');
  });

  test('files broken at start page', async () => {
    await holter?.stop('SIGKILL');
    const detectorsFolder = emptyFolder();
    const brokenFile = path.join(detectorsFolder, 'broken.yaml');
    writeFileSync(brokenFile, 'id: broken\nfunction: high_sum\nfactor: 0.5\n');
    const settings = testSettings('start-errors', { rules: [writeFailedLoginCorrelation()], detectors: [detectorsFolder] });
    const configFile = writeConfig(settings);
    const port = await freePort();
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(configFile, JSON.stringify({ ...config, api: { listen: `127.0.0.1:${port}` } }, null, 2));
    const url = `http://127.0.0.1:${port}`;
    const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();

    await createTopic(settings.topic, 1);
    await setupDataStream(configFile);
    holter = new HolterProcess(configFile);
    await pollUntil('the API to report ready', async () => ((await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined));

    assert.ok(metricValue(await metrics(), 'holter_rule_file_errors') >= 1, 'the broken file shows in the metrics');
    const paged = await pollUntil('the operator alert in Elasticsearch', async () => {
      const stored = await storedAlerts(settings.dataStream);
      return stored.ruleIds.includes('holter-reload-rejected') ? stored : undefined;
    });
    assert.equal(paged.total, 1);

    rmSync(brokenFile);
    await pollUntil('the fixed files to reload', async () => (metricValue(await metrics(), 'holter_rule_file_errors') === 0 ? true : undefined));
    assert.equal(await holter.stop('SIGTERM'), 0, holter.stderr.slice(-3000));
  });
});
