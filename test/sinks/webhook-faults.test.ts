import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { buildAlert } from '../../src/alerts/build.js';
import type { Alert } from '../../src/alerts/types.js';
import { isHolterError } from '../../src/errors.js';
import { createLogger, silentLogger, type Logger } from '../../src/log.js';
import { WebhookSink, type WebhookSinkOptions } from '../../src/sinks/webhook/sink.js';
import { detectionFor, eventAt } from '../helpers/detections.js';
import { makeTempDir } from '../helpers/temp.js';

const SECRET = 'test-secret-0123456789';

/** One request as the loopback receiver saw it. */
interface SeenRequest {
  method: string;
  path: string;
  alertId: string | undefined;
}

/** A loopback HTTP server whose handler each test sets, with the requests it saw. */
interface TestReceiver {
  url: string;
  origin: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

async function startTestReceiver(handle: (request: IncomingMessage, response: ServerResponse) => void): Promise<TestReceiver> {
  const seen: SeenRequest[] = [];
  const server = createServer((request, response) => {
    seen.push({ method: request.method ?? '', path: request.url ?? '', alertId: request.headers['x-holter-alert-id'] as string | undefined });
    request.resume();
    request.on('end', () => handle(request, response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/hook`,
    origin,
    seen,
    close: () => {
      // A receiver that never responds keeps its connections open, so they are ended for close to return.
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Creates a logger that keeps every JSON line it writes, with the same redaction as the real one. */
function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
      callback();
    },
  });
  return { logger: createLogger('debug', destination), lines };
}

/** Waits until `condition` returns true or `limitMs` passes, whichever comes first. The caller asserts afterwards. */
async function waitFor(condition: () => boolean, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

function outboxPath(): string {
  return path.join(makeTempDir('holter-outbox-'), 'outbox.db');
}

function sink(url: string, overrides: Partial<WebhookSinkOptions> = {}): WebhookSink {
  return new WebhookSink({
    url,
    secret: SECRET,
    minSeverity: 'low',
    timeoutMs: 2000,
    maxAttempts: 3,
    initialBackoffMs: 1,
    outboxPath: outboxPath(),
    drainTimeoutMs: 5000,
    logger: silentLogger,
    ...overrides,
  });
}

/** Builds an alert whose id depends on `hour`, so that each hour gives a distinct page. */
function alertAt(hour: number): Alert {
  const start = `2026-10-29T${String(hour).padStart(2, '0')}:00:00.000Z`;
  const end = `2026-10-29T${String(hour).padStart(2, '0')}:05:00.000Z`;
  return buildAlert(detectionFor(eventAt(`2026-10-29T${String(hour).padStart(2, '0')}:03:00Z`), { window: { start, end } }), new Date());
}

interface OutboxRows {
  pending: { id: string; attempts: number }[];
  delivered: { id: string }[];
  failed: { id: string; reason: string; exhausted: number }[];
}

function readOutbox(file: string): OutboxRows {
  const db = new Database(file, { readonly: true });
  try {
    return {
      pending: db.prepare('SELECT id, attempts FROM pending ORDER BY id').all() as OutboxRows['pending'],
      delivered: db.prepare('SELECT id FROM delivered ORDER BY id').all() as OutboxRows['delivered'],
      failed: db.prepare('SELECT id, reason, exhausted FROM failed ORDER BY id').all() as OutboxRows['failed'],
    };
  } finally {
    db.close();
  }
}

for (const status of [301, 302, 303, 307, 308]) {
  test(`webhook does not follow a ${status}`, async () => {
    const receiver = await startTestReceiver((request, response) => {
      if (request.url === '/hook') {
        response.statusCode = status;
        response.setHeader('location', '/final');
      }
      response.end();
    });
    const { logger, lines } = capturingLogger();
    const file = outboxPath();
    const page = alertAt(6);
    try {
      const webhook = sink(receiver.url, { outboxPath: file, logger });
      assert.equal(await webhook.write(page), 'queued');
      await webhook.close();

      assert.deepEqual(receiver.seen.map((request) => `${request.method} ${request.path}`), ['POST /hook']);
      assert.equal(webhook.stats().delivered, 0);
      assert.equal(webhook.stats().failed, 1);
      assert.equal(webhook.stats().retried, 0);

      const rows = readOutbox(file);
      assert.deepEqual(rows.delivered, []);
      assert.deepEqual(rows.pending, []);
      assert.equal(rows.failed.length, 1);
      assert.equal(rows.failed[0]!.id, page.event.id);
      assert.equal(rows.failed[0]!.exhausted, 0, 'a redirect is a rejection, not sent again at the next start');
      assert.match(rows.failed[0]!.reason, new RegExp(`HTTP ${status}`));
      assert.ok(rows.failed[0]!.reason.includes(`${receiver.origin}/final`), rows.failed[0]!.reason);

      const logged = lines.find((line) => line.includes('redirect'));
      assert.ok(logged !== undefined, lines.join('\n'));
      assert.ok(logged.includes(`${receiver.origin}/final`), logged);
      assert.ok(logged.includes('sinks.webhook.url'), logged);
      assert.ok(!lines.some((line) => line.includes(SECRET)), 'the signing secret is not logged');
    } finally {
      await receiver.close();
    }
  });
}

test('redirect reason hides Location credentials', async () => {
  const receiver = await startTestReceiver((_request, response) => {
    response.statusCode = 302;
    response.setHeader('location', 'http://relay:hunter2pw@127.0.0.1:9/final');
    response.end();
  });
  const { logger, lines } = capturingLogger();
  const file = outboxPath();
  try {
    const webhook = sink(receiver.url, { outboxPath: file, logger });
    await webhook.write(alertAt(6));
    await webhook.close();

    const reason = readOutbox(file).failed[0]?.reason ?? '';
    assert.ok(reason.includes('http://***@127.0.0.1:9/final'), reason);
    assert.ok(!reason.includes('hunter2pw'), reason);
    assert.ok(!lines.some((line) => line.includes('hunter2pw')), lines.join('\n'));
  } finally {
    await receiver.close();
  }
});

test('webhook URL with credentials is rejected', () => {
  assert.throws(
    () => sink('http://pager:s3cretpw@127.0.0.1:18080/hook'),
    (error: unknown) =>
      isHolterError(error) &&
      error.code === 'HOLTER_CONFIG_INVALID' &&
      error.message.includes('http://***@127.0.0.1:18080/hook') &&
      !error.message.includes('s3cretpw') &&
      !error.message.includes('pager'),
  );
});

test('close aborts a hanging receiver', async () => {
  const receiver = await startTestReceiver(() => {
    // Never responds, as a receiver that hangs.
  });
  const file = outboxPath();
  const pages = [alertAt(6), alertAt(7), alertAt(8)];
  try {
    const webhook = sink(receiver.url, { outboxPath: file, timeoutMs: 20_000, drainTimeoutMs: 300 });
    for (const page of pages) assert.equal(await webhook.write(page), 'queued');
    // The drain timeout starts at close, so both requests reach the receiver first even on a busy machine.
    await waitFor(() => receiver.seen.length >= 2, 5000);
    assert.equal(webhook.stats().pending, 3, 'pages in flight or waiting count as pending while the sink runs');
    await webhook.close();

    // Two pages are sent at once, so the third waits for a free slot and is never sent.
    assert.equal(receiver.seen.length, 2, 'two requests are in flight at once');
    assert.equal(new Set(receiver.seen.map((request) => request.alertId)).size, 2);

    assert.equal(webhook.stats().pending, 3);
    assert.equal(webhook.stats().retried, 0, 'an aborted request is not a failed attempt');
    assert.equal(webhook.stats().failed, 0);
    const rows = readOutbox(file);
    assert.deepEqual(
      rows.pending.map((row) => row.attempts),
      [0, 0, 0],
      'pages interrupted by close keep their attempts',
    );
    assert.deepEqual(rows.failed, []);
  } finally {
    await receiver.close();
  }
});

test('pages interrupted by close are sent next start', async () => {
  let respond = false;
  const receiver = await startTestReceiver((_request, response) => {
    if (respond) response.end();
  });
  const file = outboxPath();
  try {
    const first = sink(receiver.url, { outboxPath: file, timeoutMs: 20_000, drainTimeoutMs: 100, maxAttempts: 1 });
    await first.write(alertAt(6));
    await first.close();
    assert.equal(first.stats().pending, 1);

    respond = true;
    const second = sink(receiver.url, { outboxPath: file, maxAttempts: 1 });
    await second.close();
    assert.equal(second.stats().delivered, 1);
    assert.equal(second.stats().failed, 0, 'the interrupted request did not use up the only attempt');
  } finally {
    await receiver.close();
  }
});
