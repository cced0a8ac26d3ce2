import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { INTEGRATION_SKIP, groupLag, HolterProcess, pollUntil, produce, requireServices, services, startStatelessRun } from './helpers.js';

const RECORDS = 400;
const PARTITIONS = 2;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/** Returns the value of one series in the Prometheus text, or undefined when it is absent. */
function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('probes during a broker outage', { skip: INTEGRATION_SKIP }, () => {
  let holter: HolterProcess | undefined;

  before(requireServices);

  after(async () => {
    await holter?.stop('SIGKILL');
    // Leaves the broker running for the next suites, also when the test failed mid-outage.
    await services('start', 'kafka');
  });

  test('readyz and lag follow the broker', async () => {
    const run = await startStatelessRun('probes', RECORDS, PARTITIONS);
    const { settings, configFile } = run;
    const topic = settings.topic;
    const port = await freePort();
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(configFile, JSON.stringify({ ...config, api: { listen: `127.0.0.1:${port}` } }, null, 2));
    const url = `http://127.0.0.1:${port}`;
    const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();
    const lagSeries = (partition: number): string => `holter_kafka_consumer_lag{topic="${topic}",partition="${partition}"}`;
    const withOutput = (error: unknown): never => {
      throw new Error(`${(error as Error).message}\nholter run output:\n${holter?.stderr.slice(-6000)}`);
    };

    holter = new HolterProcess(configFile);
    await pollUntil('the API to report ready', async () => ((await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined)).catch(withOutput);

    // The lag is read every 15 s, so the first half shows as 0 on both partitions within a few refreshes.
    await pollUntil(
      'the lag gauge to reach 0 on every partition',
      async () => {
        const text = await metrics();
        return [0, 1].every((partition) => metricValue(text, lagSeries(partition)) === 0) ? true : undefined;
      },
      120_000,
      1000,
    ).catch(withOutput);
    assert.equal(metricValue(await metrics(), 'holter_kafka_consumer_member'), 1);

    await services('stop', 'kafka');
    const outage = await pollUntil(
      '/readyz to report the consumer out of its group',
      async () => {
        const response = await fetch(`${url}/readyz`);
        return response.status === 503 ? ((await response.json()) as { status: string; reason: string }) : undefined;
      },
      180_000,
      1000,
    ).catch(withOutput);
    assert.ok(['restarting', 'rebalancing'].includes(outage.status), `unexpected status ${outage.status}: ${outage.reason}`);
    assert.match(outage.reason, new RegExp(settings.groupId));
    assert.equal(metricValue(await metrics(), 'holter_kafka_consumer_member'), 0);
    assert.ok(holter.running, `holter keeps running while the broker is down:\n${holter.stderr.slice(-3000)}`);

    await services('start', 'kafka');
    await pollUntil('/readyz to report ready again', async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined), 180_000, 1000).catch(withOutput);
    await produce(topic, run.secondHalf);
    await pollUntil('the group to commit every record', async () => ((await groupLag(settings.groupId, topic)) === 0 ? true : undefined), 120_000).catch(withOutput);
    await pollUntil(
      'the lag gauge to return to 0 after the second half',
      async () => {
        const text = await metrics();
        return [0, 1].every((partition) => metricValue(text, lagSeries(partition)) === 0) ? true : undefined;
      },
      60_000,
      1000,
    ).catch(withOutput);

    const log = holter.stderr;
    assert.doesNotMatch(log, /"level":50[^\n]*Response Heartbeat/, 'heartbeat responses during a rebalance are not errors');
    const connectionErrorLines = log.split('\n').filter((line) => /kafkajs: (Connection error|Failed to connect)/.test(line)).length;
    assert.ok(connectionErrorLines <= 12, `connection errors are rate-limited, but ${connectionErrorLines} lines were logged`);
    assert.equal(await holter.stop('SIGTERM'), 0, holter.stderr.slice(-3000));
  });
});
