import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { errors } from '@elastic/elasticsearch';
import { buildAlert } from '../../src/alerts/build.js';
import { loadConfig } from '../../src/config/load.js';
import { isHolterError } from '../../src/errors.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { createElasticsearchClient, type ElasticsearchConfig } from '../../src/sinks/elasticsearch/client.js';
import { checkElasticsearchAtStart, classifyStartError, maskNodeUrl, matchesIndexPattern } from '../../src/sinks/elasticsearch/preflight.js';
import { ElasticsearchSink } from '../../src/sinks/elasticsearch/sink.js';
import { detectionFor, eventAt } from '../helpers/detections.js';

const PASSWORD = 'pw-never-logged-5521';

/** Responses of the loopback node to the start check's three requests. */
interface FakeCluster {
  infoStatus?: number;
  version?: string;
  templateExists?: boolean;
  templatePatterns?: string[];
  /** The resolve index response for the data stream's name; 404 when absent. */
  resolved?: { indices: { name: string }[]; aliases: { name: string }[]; data_streams: { name: string }[] };
}

/** Starts a loopback HTTP server that responds like an Elasticsearch node. */
async function startFakeNode(cluster: FakeCluster, port = 0): Promise<{ port: number; server: Server }> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const send = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
      response.end(JSON.stringify(body));
    };
    const url = request.url ?? '/';
    if (url === '/' || url.startsWith('/?')) {
      if (cluster.infoStatus !== undefined) return send(cluster.infoStatus, { error: { type: 'security_exception', reason: 'unable to authenticate user [elastic]' }, status: cluster.infoStatus });
      return send(200, { cluster_name: 'fake', version: { number: cluster.version ?? '8.19.0' } });
    }
    if (url.startsWith('/_index_template/')) {
      if (cluster.templateExists === false) return send(404, { error: { type: 'resource_not_found_exception' }, status: 404 });
      const name = decodeURIComponent(url.slice('/_index_template/'.length).split('?')[0] ?? '');
      return send(200, { index_templates: [{ name, index_template: { index_patterns: cluster.templatePatterns ?? ['logs-holter.alerts-default'], composed_of: [] } }] });
    }
    if (url.startsWith('/_resolve/index/')) {
      if (cluster.resolved === undefined) return send(404, { error: { type: 'index_not_found_exception' }, status: 404 });
      return send(200, cluster.resolved);
    }
    send(404, { error: { type: 'not_found' }, status: 404 });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

function settingsFor(node: string, extra: Partial<ElasticsearchConfig> = {}): ElasticsearchConfig {
  return { ...loadConfig().sinks.elasticsearch, nodes: [node], request_timeout_ms: 2000, initial_backoff_ms: 5, max_backoff_ms: 20, ...extra };
}

/** Runs the start check against `node` and returns the error it throws, with the log it wrote. */
async function failedCheck(settings: ElasticsearchConfig): Promise<{ error: unknown; log: string }> {
  let log = '';
  const logger = createLogger('debug', new Writable({ write: (chunk: Buffer, _encoding, done) => ((log += chunk.toString()), done()) }));
  const client = createElasticsearchClient(settings);
  try {
    await checkElasticsearchAtStart(client, settings, { logger });
  } catch (error) {
    return { error, log };
  } finally {
    await client.close();
  }
  assert.fail('the start check passed');
}

test('maskNodeUrl hides credentials', () => {
  assert.equal(maskNodeUrl(`https://elastic:${PASSWORD}@127.0.0.1:19200`), 'https://***@127.0.0.1:19200/');
  assert.equal(maskNodeUrl('http://127.0.0.1:9200'), 'http://127.0.0.1:9200/');
  assert.equal(maskNodeUrl(`not a url elastic:${PASSWORD}@host`), '***@host');
});

test('classifyStartError separates outages from mistakes', () => {
  assert.equal(classifyStartError(new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9200')), 'unreachable');
  assert.equal(classifyStartError(new errors.TimeoutError('Request timed out')), 'unreachable');
  assert.equal(classifyStartError(new errors.ConnectionError('error:0A00010B:SSL routines:ssl3_get_record:wrong version number')), 'misconfigured');
  assert.equal(classifyStartError(new errors.ConnectionError('self-signed certificate in certificate chain')), 'misconfigured');
  assert.equal(classifyStartError(new Error('unexpected')), 'misconfigured');
});

test('start check passes on a ready cluster', async () => {
  const { port, server } = await startFakeNode({ resolved: { indices: [], aliases: [], data_streams: [{ name: 'logs-holter.alerts-default' }] } });
  const settings = settingsFor(`http://127.0.0.1:${port}`);
  const client = createElasticsearchClient(settings);
  try {
    await checkElasticsearchAtStart(client, settings, { logger: silentLogger });
  } finally {
    await client.close();
    server.close();
  }
});

test('start check rejects https to a plain node at once', async () => {
  const { port, server } = await startFakeNode({});
  try {
    const { error, log } = await failedCheck(settingsFor(`https://elastic:${PASSWORD}@127.0.0.1:${port}`, { startup_timeout_ms: 60_000 }));
    assert.ok(isHolterError(error));
    assert.equal(error.code, 'HOLTER_ELASTICSEARCH_CONNECT');
    assert.equal(error.retriable, false);
    assert.match(error.message, new RegExp(`https://\\*\\*\\*@127\\.0\\.0\\.1:${port}/`));
    assert.match(error.message, /wrong version number/);
    assert.doesNotMatch(error.message, new RegExp(PASSWORD));
    assert.equal(log, '', 'a configuration error is not retried');
  } finally {
    server.close();
  }
});

test('start check rejects a 401 without the password', async () => {
  const { port, server } = await startFakeNode({ infoStatus: 401 });
  try {
    const { error } = await failedCheck(settingsFor(`http://elastic:${PASSWORD}@127.0.0.1:${port}`));
    assert.ok(isHolterError(error));
    assert.equal(error.code, 'HOLTER_ELASTICSEARCH_CONNECT');
    assert.match(error.message, /HTTP 401/);
    assert.match(error.message, /credentials/);
    assert.doesNotMatch(error.message, new RegExp(PASSWORD));
  } finally {
    server.close();
  }
});

test('start check requires the index template', async () => {
  const { port, server } = await startFakeNode({ templateExists: false });
  try {
    const { error } = await failedCheck(settingsFor(`http://127.0.0.1:${port}`));
    assert.ok(isHolterError(error));
    assert.equal(error.code, 'HOLTER_ELASTICSEARCH_CONNECT');
    assert.match(error.message, /Index template holter-alerts not found/);
    assert.match(error.message, /Run holter setup elasticsearch/);
  } finally {
    server.close();
  }
});

test('start check rejects a template of another stream', async () => {
  const { port, server } = await startFakeNode({ templatePatterns: ['logs-other-default'] });
  try {
    const { error } = await failedCheck(settingsFor(`http://127.0.0.1:${port}`));
    assert.ok(isHolterError(error));
    assert.match(error.message, /matches logs-other-default, not the data stream logs-holter\.alerts-default/);
  } finally {
    server.close();
  }
});

test('matchesIndexPattern treats only * as a wildcard', () => {
  assert.equal(matchesIndexPattern('logs-holter.alerts-*', 'logs-holter.alerts-default'), true);
  assert.equal(matchesIndexPattern('logs-holter.alerts-default', 'logs-holter.alerts-default'), true);
  assert.equal(matchesIndexPattern('logs-holter.alerts-default', 'logs-holterxalerts-default'), false);
  assert.equal(matchesIndexPattern('logs-*-*', 'metrics-a-b'), false);
});

test('start check rejects a plain index holding the name', async () => {
  const { port, server } = await startFakeNode({ resolved: { indices: [{ name: 'logs-holter.alerts-default' }], aliases: [], data_streams: [] } });
  try {
    const { error } = await failedCheck(settingsFor(`http://127.0.0.1:${port}`));
    assert.ok(isHolterError(error));
    assert.match(error.message, /held by an index/);
    assert.equal(error.path, 'sinks.elasticsearch.data_stream');
  } finally {
    server.close();
  }
});

test('start check rejects a 7.x cluster', async () => {
  const { port, server } = await startFakeNode({ version: '7.17.0' });
  try {
    const { error } = await failedCheck(settingsFor(`http://127.0.0.1:${port}`));
    assert.ok(isHolterError(error));
    assert.match(error.message, /runs 7\.17\.0/);
  } finally {
    server.close();
  }
});

test('start check retries a refused port until the timeout', async () => {
  // A port that was just free: the connection is refused, as when the cluster is down.
  const { port, server } = await startFakeNode({});
  await new Promise((resolve) => server.close(resolve));
  const { error, log } = await failedCheck(settingsFor(`http://elastic:${PASSWORD}@127.0.0.1:${port}`, { startup_timeout_ms: 300 }));
  assert.ok(isHolterError(error));
  assert.equal(error.code, 'HOLTER_ELASTICSEARCH_CONNECT');
  assert.equal(error.retriable, true);
  assert.match(error.message, /unreachable for 300 ms/);
  assert.match(error.message, /ECONNREFUSED/);
  assert.match(log, /elasticsearch is unreachable at start; retrying before consuming/);
  assert.doesNotMatch(log + error.message, new RegExp(PASSWORD));
});

test('start check waits for a cluster that comes up', async () => {
  const { port, server } = await startFakeNode({});
  await new Promise((resolve) => server.close(resolve));
  const settings = settingsFor(`http://127.0.0.1:${port}`, { startup_timeout_ms: 30_000 });
  const client = createElasticsearchClient(settings);
  let restarted: Server | undefined;
  let sleeps = 0;
  const sleep = async (ms: number): Promise<void> => {
    sleeps++;
    if (sleeps === 2) {
      restarted = (await startFakeNode({}, port)).server;
    }
    await new Promise((resolve) => setTimeout(resolve, ms));
  };
  try {
    await checkElasticsearchAtStart(client, settings, { logger: silentLogger, sleep });
    assert.equal(sleeps, 2);
  } finally {
    await client.close();
    restarted?.close();
  }
});

test('sink watchDrain reports writes still pending', async () => {
  const refused = new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:1');
  let bulkCalls = 0;
  let expired = false;
  const client = {
    bulk: () => {
      bulkCalls++;
      return Promise.reject(refused);
    },
    close: () => Promise.resolve(),
  };
  const sink = new ElasticsearchSink({
    client: client as never,
    dataStream: 'logs-holter.alerts-default',
    maxBatchSize: 10,
    maxConcurrentRequests: 1,
    initialBackoffMs: 1,
    maxBackoffMs: 5,
    drainTimeoutMs: 50,
    logger: silentLogger,
    // After the drain timeout the retries park on a promise without a timer, so the test can end.
    sleep: (ms) => (expired ? new Promise<void>(() => undefined) : new Promise<void>((resolve) => setTimeout(resolve, ms))),
  });
  const alert = buildAlert(detectionFor(eventAt('2026-01-05T10:00:00Z')), new Date('2026-01-05T10:00:01Z'));
  const settled = { value: false };
  void sink.write(alert).then(() => (settled.value = true), () => (settled.value = true));
  assert.equal(sink.pendingWrites, 1);

  const pending = await new Promise<number>((resolve) =>
    sink.watchDrain((count) => {
      expired = true;
      resolve(count);
    }),
  );
  assert.equal(pending, 1);
  assert.equal(settled.value, false, 'the write is not settled, so no checkpoint counts it as delivered');
  assert.ok(bulkCalls > 1, 'the bulk request is still retried');
});
