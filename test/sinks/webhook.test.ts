import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildAlert } from '../../src/alerts/build.js';
import { silentLogger } from '../../src/log.js';
import { verifySignature } from '../../src/sinks/webhook/sign.js';
import { toWebhookPayload, WebhookSink } from '../../src/sinks/webhook/sink.js';
import { detectionFor, eventAt } from '../helpers/detections.js';
import { makeTempDir } from '../helpers/temp.js';

const SECRET = 'test-secret-0123456789';

interface Received {
  body: string;
  headers: IncomingMessage['headers'];
}

/** A real HTTP receiver on loopback that responds with the next queued status code. */
let server: Server;
let url: string;
const received: Received[] = [];
const statuses: number[] = [];

before(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: request.headers });
      response.statusCode = statuses.shift() ?? 200;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function outboxPath(): string {
  return path.join(makeTempDir('holter-outbox-'), 'outbox.db');
}

function sink(overrides: Partial<ConstructorParameters<typeof WebhookSink>[0]> = {}): WebhookSink {
  return new WebhookSink({
    url,
    secret: SECRET,
    minSeverity: 'medium',
    timeoutMs: 2000,
    maxAttempts: 3,
    initialBackoffMs: 1,
    outboxPath: outboxPath(),
    drainTimeoutMs: 5000,
    logger: silentLogger,
    ...overrides,
  });
}

// Grouped by user and patient token, so the alert carries the token for the webhook to withhold.
const alert = buildAlert(
  detectionFor(eventAt('2026-10-29T06:03:00Z'), { groupKey: { 'holter.user.id': 'u-1042', 'holter.patient.token': 'pt_0123' } }),
  new Date(),
);

/** Queues one alert, then closes the sink (which drains the outbox) and returns its counters. */
async function sendOne(webhook: WebhookSink, page = alert): Promise<Record<string, number>> {
  assert.equal(await webhook.write(page), 'queued');
  await webhook.close();
  return webhook.stats();
}

test('webhook body is signed and minimal', async () => {
  received.length = 0;
  const stats = await sendOne(sink());
  assert.equal(stats.delivered, 1);
  assert.equal(received.length, 1);

  const request = received[0]!;
  const verdict = verifySignature(
    SECRET,
    { timestamp: request.headers['x-holter-timestamp'] as string, signature: request.headers['x-holter-signature'] as string },
    request.body,
    Math.floor(Date.now() / 1000),
  );
  assert.equal(verdict, 'valid');

  const payload = JSON.parse(request.body) as Record<string, unknown>;
  assert.equal(payload.id, alert.event.id);
  assert.equal((payload.user as { id: string }).id, 'u-1042');
  assert.equal(alert.holter.patient?.token, 'pt_0123');
  assert.ok(!request.body.includes('pt_0123'), 'patient token must not be sent');
  assert.equal(payload.evidence, undefined);
});

test('webhook body of spray names source', () => {
  // The eighth victim (u-1042) triggered the spray, which is grouped by source address.
  const victim = eventAt('2026-10-29T06:07:00Z', { source: { ip: '203.0.113.9' } });
  const spray = detectionFor(victim, {
    rule: { id: 'holter-password-spray', name: 'Password spray', ruleset: 'sigma' },
    groupKey: { 'source.ip': '203.0.113.9' },
    explanation: { summary: '8 users with failed logins for source 203.0.113.9 within 10 minutes (threshold: 8 or more)' },
  });
  const body = toWebhookPayload(buildAlert(spray, new Date()));

  assert.deepEqual(body.source, { ip: '203.0.113.9' });
  assert.equal(body.user, undefined);
  assert.ok(!JSON.stringify(body).includes('u-1042'), 'the victim must not be named');
});

test('webhook sends the pager summary', async () => {
  received.length = 0;
  const detection = detectionFor(eventAt('2026-10-29T06:03:00Z'), {
    explanation: { summary: 'Break-glass access by user u-1042; stated reason: patient MRN-SECRET', pagerSummary: 'Break-glass access by user u-1042; stated reason: [withheld]' },
  });
  await sendOne(sink(), buildAlert(detection, new Date()));

  const payload = JSON.parse(received[0]!.body) as { summary: string };
  assert.equal(payload.summary, 'Break-glass access by user u-1042; stated reason: [withheld]');
  assert.ok(!received[0]!.body.includes('MRN-SECRET'));
});

test('webhook retries 503 then delivers', async () => {
  received.length = 0;
  statuses.push(503, 503);
  const stats = await sendOne(sink());
  assert.equal(received.length, 3);
  assert.equal(stats.delivered, 1);
  assert.equal(stats.retried, 2);
  assert.equal(stats.failed, 0);
});

test('webhook gives up after max attempts', async () => {
  received.length = 0;
  statuses.push(500, 500, 500);
  const stats = await sendOne(sink());
  assert.equal(received.length, 3);
  assert.equal(stats.failed, 1);
  assert.equal(stats.pending, 0);
});

test('webhook does not retry a 400', async () => {
  received.length = 0;
  statuses.push(400);
  const stats = await sendOne(sink());
  assert.equal(received.length, 1);
  assert.equal(stats.failed, 1);
});

test('webhook skips alerts below minimum severity', async () => {
  received.length = 0;
  const webhook = sink({ minSeverity: 'critical' });
  assert.equal(await webhook.write(alert), 'filtered');
  await webhook.close();
  assert.equal(received.length, 0);
});

test('webhook retries a refused connection', async () => {
  const stats = await sendOne(sink({ url: 'http://127.0.0.1:9/hook', maxAttempts: 2 }));
  assert.equal(stats.failed, 1);
});

test('webhook write does not wait for the receiver', async () => {
  received.length = 0;
  statuses.push(503, 503, 503, 503);
  const webhook = sink({ initialBackoffMs: 60_000, maxAttempts: 5, drainTimeoutMs: 0 });
  const started = Date.now();
  assert.equal(await webhook.write(alert), 'queued');
  const second = buildAlert(detectionFor(eventAt('2026-10-29T07:03:00Z'), { window: { start: '2026-10-29T07:00:00.000Z', end: '2026-10-29T07:05:00.000Z' } }), new Date());
  assert.equal(await webhook.write(second), 'queued');
  assert.ok(Date.now() - started < 30_000, 'writes return while the receiver is failing');
  await webhook.close();
  assert.equal(webhook.stats().pending, 2);
  statuses.length = 0;
});

test('pending pages survive a restart', async () => {
  received.length = 0;
  statuses.push(503);
  const file = outboxPath();
  const first = sink({ outboxPath: file, initialBackoffMs: 60_000, drainTimeoutMs: 0 });
  assert.equal(await first.write(alert), 'queued');
  await first.close();
  assert.equal(first.stats().pending, 1);

  const second = sink({ outboxPath: file });
  await second.close();
  assert.equal(second.stats().delivered, 1);
  assert.equal(second.stats().pending, 0);
  assert.equal(received.filter((request) => request.body.includes(alert.event.id)).length, 2);

  const third = sink({ outboxPath: file });
  assert.equal(await third.write(alert), 'duplicate', 'a delivered alert is not paged again');
  await third.close();
});

test('signature check rejects tampering and stale time', () => {
  const now = 1_800_000_000;
  const body = '{"id":"a"}';
  const good = { timestamp: String(now), signature: '' };
  good.signature = `v1=${'0'.repeat(64)}`;
  assert.equal(verifySignature(SECRET, good, body, now), 'bad_signature');
  assert.equal(verifySignature(SECRET, { timestamp: String(now - 1000), signature: 'v1=x' }, body, now), 'stale_timestamp');
  assert.equal(verifySignature(SECRET, { timestamp: undefined, signature: undefined }, body, now), 'missing_headers');
});
