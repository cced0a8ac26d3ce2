import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { verifySignature } from '../../src/sinks/webhook/sign.js';
import { REPO_ROOT, SAMPLES_DIR } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/temp.js';

const HOLTER = path.join(REPO_ROOT, 'bin', 'holter.js');
const SECRET = 'demo-test-secret-0123456789';

test('demo catches every incident and no trap', async () => {
  const received: { body: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: request.headers });
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

  const cwd = makeTempDir('holter-demo-');
  // Files left by an earlier demo with a wider mode must be narrowed, not kept.
  mkdirSync(path.join(cwd, '.holter', 'demo'), { recursive: true });
  writeFileSync(path.join(cwd, '.holter', 'demo', 'patient-roster.csv'), '', { mode: 0o644 });
  let stderr: string;
  try {
    const result = await promisify(execFile)(process.execPath, [HOLTER, 'demo', '--quiet', '--webhook', url, '--out', 'alerts.ndjson'], {
      cwd,
      env: { ...process.env, HOLTER_WEBHOOK_SECRET: SECRET },
      maxBuffer: 16 * 1024 * 1024,
    });
    stderr = result.stderr;
  } finally {
    server.close();
  }

  assert.match(stderr, /incidents caught 7\/7, traps clean 10\/10/);
  for (const file of ['patient-roster.csv', 'directory.csv']) {
    assert.equal(statSync(path.join(cwd, '.holter', 'demo', file)).mode & 0o777, 0o600, `${file} is readable by its owner only`);
  }
  assert.match(stderr, /dead-lettered\s+0\n/);
  assert.doesNotMatch(stderr, /FAIL/);

  const alerts = readFileSync(path.join(cwd, 'alerts.ndjson'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { event: { id: string }; tags?: string[]; holter: { alert: { severity: string } } });
  const paged = alerts.filter((alert) => ['medium', 'high', 'critical'].includes(alert.holter.alert.severity) && !alert.tags?.includes('holter.signal'));
  assert.ok(paged.length < alerts.length, 'signals are stored but not paged');
  // Delivery is at least once: a request that timed out on a loaded machine is sent again with
  // the same alert id, and Holter logs each such retry. Receivers deduplicate on the id.
  const receivedIds = received.map((request) => (JSON.parse(request.body) as { id: string }).id);
  assert.deepEqual(new Set(receivedIds), new Set(paged.map((alert) => alert.event.id)), 'every alert at or above medium that is not a signal is posted');
  const retries = stderr.split('\n').filter((line) => line.includes('webhook delivery failed; retrying')).length;
  assert.ok(receivedIds.length - paged.length <= retries, `${receivedIds.length - paged.length} pages posted twice, ${retries} retries logged`);

  const now = Math.floor(Date.now() / 1000);
  for (const request of received) {
    const verdict = verifySignature(SECRET, { timestamp: request.headers['x-holter-timestamp'] as string, signature: request.headers['x-holter-signature'] as string }, request.body, now, 3600);
    assert.equal(verdict, 'valid');
    assert.doesNotMatch(request.body, /pt_[0-9a-f]{8}/, 'webhook bodies carry no patient token');
    assert.doesNotMatch(request.body, /"patient/, 'webhook bodies carry no patient fields');
  }

  const listed = spawnSync(process.execPath, [HOLTER, 'alerts', '--store', '.holter/demo/alerts.db', '--json', '--limit', '100000'], { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  assert.equal(listed.status, 0, listed.stderr);
  assert.equal(listed.stdout.trim().split('\n').length, alerts.length);
});

test('eval prints precision and recall', () => {
  const result = spawnSync(process.execPath, [HOLTER, 'eval', '--staff', '60', '--days', '28', '--seeds', '42', '--json'], { cwd: makeTempDir('holter-eval-'), encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const metrics = JSON.parse(result.stdout) as { recall: number; trapsClean: number; traps: number; falseAlertsPerThousandUserDays: number };
  assert.equal(metrics.recall, 1);
  assert.equal(metrics.trapsClean, metrics.traps);
  assert.ok(metrics.falseAlertsPerThousandUserDays < 2);
  assert.match(result.stderr, /seed 42: \d+ alerts, incidents caught 7\/7/);
});

test('eval and demo reject too few days', () => {
  for (const command of ['eval', 'demo']) {
    const result = spawnSync(process.execPath, [HOLTER, command, '--days', '9'], { cwd: makeTempDir('holter-eval-'), encoding: 'utf8' });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /9 days leave no room for 21 days of learned history before the 7-day incident week\. Give at least 28\./);
  }
});

test('eval scores the rules it is given', () => {
  const cwd = makeTempDir('holter-eval-');
  const result = spawnSync(process.execPath, [HOLTER, 'eval', '--rules', 'my-rules', '--detectors', 'my-detectors'], { cwd, encoding: 'utf8' });
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /my-rules not found \(from rules\.paths or --rules\)/);
});

test('demo starts its default store empty', () => {
  const cwd = makeTempDir('holter-demo-store-');
  const run = (args: string[]): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [HOLTER, ...args], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const earlier = run(['replay', '--quiet', '--log-level', 'warn', '--store', '.holter/demo/alerts.db', path.join(SAMPLES_DIR, 'identity', 'crowdsec_opnsense-sshd.log')]);
  assert.equal(earlier.status, 0, earlier.stderr);
  assert.match(earlier.stderr, /^ {2}alerts +[1-9]\d*$/m, 'the earlier replay leaves alerts in the store');

  const demo = run(['demo', '--quiet', '--staff', '30', '--days', '28']);
  assert.equal(demo.status, 0, demo.stderr);
  const raised = Number(/^ {2}alerts +(\d+)$/m.exec(demo.stderr)?.[1]);
  const listed = run(['alerts', '--json', '--limit', '100000']);
  assert.equal(listed.status, 0, listed.stderr);
  assert.equal(listed.stdout.trim().split('\n').length, raised, 'only the demo run\'s alerts are in the store');
});
