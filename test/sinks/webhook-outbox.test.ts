import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { buildAlert } from '../../src/alerts/build.js';
import { silentLogger } from '../../src/log.js';
import { WebhookOutbox } from '../../src/sinks/webhook/outbox.js';
import { WebhookSink } from '../../src/sinks/webhook/sink.js';
import { detectionFor, eventAt } from '../helpers/detections.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { makeTempDir } from '../helpers/temp.js';

/** A loopback receiver that accepts every page and keeps the alert ids it got. */
let receiver: Receiver;
let url: string;
const receivedIds: string[] = [];

before(async () => {
  receiver = await startReceiver((body) => {
    receivedIds.push((JSON.parse(body) as { id: string }).id);
    return 200;
  });
  url = receiver.url;
});

after(() => receiver.close());

function outboxPath(): string {
  return path.join(makeTempDir('holter-outbox-'), 'outbox.db');
}

function sink(outbox: string, target: string): WebhookSink {
  return new WebhookSink({ url: target, minSeverity: 'low', timeoutMs: 2000, maxAttempts: 2, initialBackoffMs: 1, outboxPath: outbox, drainTimeoutMs: 5000, logger: silentLogger });
}

const alert = buildAlert(detectionFor(eventAt('2026-10-29T06:03:00Z')), new Date());

test('page out of attempts is resent at start', async () => {
  const outbox = outboxPath();

  // Port 9 (discard) refuses the connection on loopback, as a receiver that is down.
  const down = sink(outbox, 'http://127.0.0.1:9/hook');
  assert.equal(await down.write(alert), 'queued');
  await down.close();
  assert.equal(down.stats().failed, 1);

  const up = sink(outbox, url);
  await up.close();
  assert.equal(up.stats().delivered, 1);
  assert.deepEqual(receivedIds.filter((id) => id === alert.event.id), [alert.event.id]);
});

test('rejected page is not resent', () => {
  const outbox = new WebhookOutbox(outboxPath());
  outbox.enqueue('rejected-1', '{}', 0);
  outbox.enqueue('exhausted-1', '{}', 0);
  outbox.markFailed({ id: 'rejected-1', body: '{}', attempts: 1 }, 1, 'HTTP 400', 1, false);
  outbox.markFailed({ id: 'exhausted-1', body: '{}', attempts: 6 }, 6, 'connection refused', 1, true);

  assert.equal(outbox.requeueExhausted(2), 1);
  assert.deepEqual(outbox.due(2, 10).map((page) => [page.id, page.attempts]), [['exhausted-1', 0]]);
  assert.equal(outbox.requeueExhausted(3), 0, 'a page is queued again once per failure');
  outbox.close();
});

test('rejected page is not sent on replay', async () => {
  const rejecting = await startReceiver(() => 400);
  const outbox = outboxPath();
  try {
    const first = sink(outbox, rejecting.url);
    assert.equal(await first.write(alert), 'queued');
    await first.close();
    assert.equal(first.stats().failed, 1);

    // The same input replayed with the same outbox, now to a receiver that would take the page.
    const before = receivedIds.length;
    const replay = sink(outbox, url);
    assert.equal(await replay.write(alert), 'duplicate');
    await replay.close();
    assert.equal(replay.stats().rejected_before, 1);
    assert.equal(replay.stats().queued, 0);
    assert.equal(replay.stats().failed, 0, 'the earlier rejection is not counted again');
    assert.equal(receivedIds.length, before, 'the rejected page is not sent again');

    const rows = new Database(outbox, { readonly: true });
    assert.equal((rows.prepare('SELECT count(*) AS n FROM failed').get() as { n: number }).n, 1);
    assert.equal((rows.prepare('SELECT count(*) AS n FROM delivered').get() as { n: number }).n, 0);
    rows.close();
  } finally {
    await rejecting.close();
  }
});

test('enqueue reports an earlier rejection', () => {
  const outbox = new WebhookOutbox(outboxPath());
  outbox.enqueue('rejected-1', '{}', 0);
  outbox.enqueue('exhausted-1', '{}', 0);
  outbox.markFailed({ id: 'rejected-1', body: '{}', attempts: 1 }, 1, 'HTTP 400', 1, false);
  outbox.markFailed({ id: 'exhausted-1', body: '{}', attempts: 6 }, 6, 'connection refused', 1, true);

  assert.equal(outbox.enqueue('rejected-1', '{}', 2), 'rejected_before');
  assert.equal(outbox.enqueue('exhausted-1', '{}', 2), 'queued', 'a page that ran out of attempts may be queued again');
  assert.equal(outbox.pendingCount(), 1);
  outbox.close();
});

test('outbox without exhausted column opens', () => {
  const file = outboxPath();
  const old = new Database(file);
  old.exec(`
    CREATE TABLE pending (id TEXT PRIMARY KEY, body TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_ms INTEGER NOT NULL);
    CREATE TABLE delivered (id TEXT PRIMARY KEY, delivered_ms INTEGER NOT NULL);
    CREATE TABLE failed (id TEXT PRIMARY KEY, body TEXT NOT NULL, attempts INTEGER NOT NULL, reason TEXT NOT NULL, failed_ms INTEGER NOT NULL);
    INSERT INTO failed VALUES ('old-1', '{}', 6, 'HTTP 503', 1);
  `);
  old.close();

  const outbox = new WebhookOutbox(file);
  assert.equal(outbox.requeueExhausted(2), 0, 'a failure of unknown kind is left for an operator');
  assert.equal(outbox.pendingCount(), 0);
  outbox.close();
});
