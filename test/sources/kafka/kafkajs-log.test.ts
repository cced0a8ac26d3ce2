import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import type { LogEntry } from 'kafkajs';
import { createLogger } from '../../../src/log.js';
import { KafkajsLogForwarder } from '../../../src/sources/kafka/kafkajs-client.js';

const { logLevel } = kafkajs;

/** Creates a forwarder that logs to a list of parsed JSON lines, and whose rate-limit interval ends only when the test calls `endInterval`. */
function forwarder(): { lines: { level: number; msg: string; count?: number }[]; forward: (entry: LogEntry) => void; endInterval: () => void } {
  const lines: { level: number; msg: string; count?: number }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  const scheduled: (() => void)[] = [];
  const instance = new KafkajsLogForwarder(createLogger('debug', stream), { intervalMs: 30_000, schedule: (callback) => scheduled.push(callback) });
  return {
    lines,
    forward: (entry) => instance.forward(entry),
    endInterval: () => scheduled.shift()?.(),
  };
}

function entry(level: number, namespace: string, message: string, extra: Record<string, unknown> = {}): LogEntry {
  return { namespace, level, label: 'ERROR', log: { timestamp: '2026-12-05T13:00:00.000Z', message, ...extra } };
}

const DEBUG = 20;
const WARN = 40;
const ERROR = 50;

test('protocol responses go to debug', () => {
  const { lines, forward } = forwarder();
  forward(entry(logLevel.ERROR, 'Connection', 'Response CreateTopics(key: 19, version: 3)', { error: 'Topic with this name already exists' }));
  forward(entry(logLevel.ERROR, 'Connection', 'Response Heartbeat(key: 12, version: 3)', { error: 'The group is rebalancing, so a rejoin is needed' }));
  forward(entry(logLevel.ERROR, 'Connection', 'Response GroupCoordinator(key: 10, version: 2)', { error: 'The coordinator is not available' }));
  assert.deepEqual(
    lines.map((line) => line.level),
    [DEBUG, DEBUG, DEBUG],
  );
});

test('connection errors are rate-limited', () => {
  const { lines, forward, endInterval } = forwarder();
  for (let i = 0; i < 147; i++) {
    forward(entry(logLevel.ERROR, 'Connection', 'Connection error: connect ECONNREFUSED 127.0.0.1:49092'));
    forward(entry(logLevel.ERROR, 'BrokerPool', 'Failed to connect to seed broker, trying another broker from the list: Connection error: connect ECONNREFUSED 127.0.0.1:49092'));
  }
  assert.equal(lines.length, 1, 'only the first error is logged during the interval');
  assert.equal(lines[0]?.level, WARN);
  assert.match(lines[0]?.msg ?? '', /^kafkajs: Connection error: connect ECONNREFUSED/);

  endInterval();
  assert.equal(lines.length, 2);
  assert.equal(lines[1]?.level, WARN);
  assert.equal(lines[1]?.count, 293);
  assert.match(lines[1]?.msg ?? '', /^kafkajs: 293 more connection errors in the last 30 s; latest: Failed to connect to seed broker/);

  endInterval();
  assert.equal(lines.length, 2, 'a quiet interval logs nothing and closes the rate limit');
  forward(entry(logLevel.ERROR, 'Connection', 'Connection timeout'));
  assert.equal(lines.length, 3, 'the next outage is logged at once');
  assert.equal(lines[2]?.level, WARN);
});

test('consumer restart and crash levels', () => {
  const { lines, forward } = forwarder();
  forward(entry(logLevel.ERROR, 'Consumer', 'Crash: KafkaJSNumberOfRetriesExceeded: Connection error: connect ECONNREFUSED 127.0.0.1:49092'));
  forward(entry(logLevel.ERROR, 'Consumer', 'Restarting the consumer in 300ms'));
  forward(entry(logLevel.INFO, 'ConsumerGroup', 'Consumer has joined the group'));
  forward(entry(logLevel.WARN, 'Cluster', 'Some other warning'));
  forward(entry(logLevel.ERROR, 'Consumer', 'Caught error when stopping the consumer: Connection closed'));
  assert.deepEqual(
    lines.map((line) => line.level),
    [WARN, WARN, DEBUG, WARN, ERROR],
  );
});
