import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { MetricsSnapshot } from '../../src/api/metrics.js';
import { parseListen, startApiServer, type ApiServer } from '../../src/api/server.js';
import type { ReloadOutcome } from '../../src/detect/reload.js';
import { loadApiTokens } from '../../src/api/tokens.js';
import { HolterError } from '../../src/errors.js';
import { createLogger, silentLogger } from '../../src/log.js';
import type { RunSummary } from '../../src/pipeline.js';
import { makeTempDir } from '../helpers/temp.js';

const ANALYST_TOKEN = 'analyst-secret-7f3a';
const OPERATOR_TOKEN = 'operator-secret-91c2';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function writeTokens(text: string): string {
  const file = join(makeTempDir('holter-api-'), 'tokens.yaml');
  writeFileSync(file, text);
  return file;
}

function summary(): RunSummary {
  return {
    recordsRead: 120,
    eventsDecoded: 117,
    deadLettered: 3,
    deadLetteredByReason: { invalid: 2, too_large: 1 },
    alerts: 4,
    alertsByRule: { 'ehr-break-glass-vip': 3, 'holter.risk': 1 },
    duplicateAlerts: 1,
    deliveryFailures: { webhook: 2 },
    deliveryOutcomes: { elasticsearch: { delivered: 4, duplicate: 1, filtered: 0, queued: 0 } },
    sinkStats: {},
    stageStats: {},
  };
}

describe('api server', () => {
  let server: ApiServer;
  let ready = false;
  const reloads: ReloadOutcome[] = [];
  let nextReload: ReloadOutcome = { outcome: 'reloaded', rulesLoaded: 29, detectorsLoaded: 2, errors: [] };

  before(async () => {
    const tokensFile = writeTokens(
      ['tokens:', `  - name: soc-console`, `    role: analyst`, `    sha256: ${sha256(ANALYST_TOKEN)}`, `  - name: platform`, `    role: operator`, `    sha256: ${sha256(OPERATOR_TOKEN)}`, ''].join('\n'),
    );
    server = await startApiServer({
      listen: '127.0.0.1:0',
      tokens: loadApiTokens(tokensFile),
      logger: silentLogger,
      handlers: {
        readiness: () => (ready ? { ready: true } : { ready: false, status: 'starting', reason: 'The consumer has not joined group holter-test yet.' }),
        metrics: (): MetricsSnapshot => ({ summary: summary(), stageStats: { sigma: { rules_loaded: 29, events_late: 5 } }, sourceStats: { recordsFetched: 120 }, reloads: { succeeded: 2, rejected: 1, fileErrors: 3 } }),
        reload: async () => {
          reloads.push(nextReload);
          return nextReload;
        },
        baseline: (user) => (user === 'dr.house' ? { user, detectors: { 'after-hours-record-access': { hours: [8, 9, 10] } } } : undefined),
      },
    });
  });

  after(() => server.close());

  const call = (path: string, init: RequestInit = {}, token?: string): Promise<Response> =>
    fetch(`${server.url}${path}`, { ...init, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  it('health answers without a token', async () => {
    const response = await call('/healthz');
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });

  it('readiness follows the process', async () => {
    const starting = await call('/readyz');
    assert.equal(starting.status, 503);
    assert.deepEqual(await starting.json(), { status: 'starting', reason: 'The consumer has not joined group holter-test yet.' });
    ready = true;
    const joined = await call('/readyz');
    assert.equal(joined.status, 200);
    assert.deepEqual(await joined.json(), { status: 'ready' });
  });

  it('metrics exposes the run counters', async () => {
    const response = await call('/metrics');
    const text = await response.text();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    assert.match(text, /^holter_records_read_total 120$/m);
    assert.match(text, /^holter_dead_letter_total\{reason="too_large"\} 1$/m);
    assert.match(text, /^holter_alerts_total\{rule_id="ehr-break-glass-vip"\} 3$/m);
    assert.match(text, /^holter_sink_deliveries_total\{sink="elasticsearch",outcome="duplicate"\} 1$/m);
    assert.match(text, /^holter_sink_failures_total\{sink="webhook"\} 2$/m);
    assert.match(text, /^holter_rule_reloads_total\{outcome="rejected"\} 1$/m);
    assert.match(text, /^holter_rule_file_errors 3$/m);
    assert.match(text, /^holter_stage_stat_total\{stage="sigma",name="events_late"\} 5$/m);
    assert.match(text, /^holter_stage_stat\{stage="sigma",name="rules_loaded"\} 29$/m);
    assert.match(text, /^holter_source_stat_total\{name="recordsFetched"\} 120$/m);
    assert.match(text, /^holter_process_cpu_seconds_total /m);
  });

  it('metrics repeat the same totals', async () => {
    await call('/metrics');
    const text = await (await call('/metrics')).text();
    assert.match(text, /^holter_records_read_total 120$/m);
  });

  it('api rejects a call without a token', async () => {
    const response = await call('/api/v1/baseline/dr.house');
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer');
  });

  it('api rejects an unknown token', async () => {
    const response = await call('/api/v1/baseline/dr.house', {}, 'not-a-token');
    assert.equal(response.status, 401);
  });

  it('baseline answers an analyst', async () => {
    const response = await call('/api/v1/baseline/dr.house', {}, ANALYST_TOKEN);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { user: 'dr.house', detectors: { 'after-hours-record-access': { hours: [8, 9, 10] } } });
  });

  it('baseline of an unknown user is 404', async () => {
    const response = await call('/api/v1/baseline/nobody', {}, ANALYST_TOKEN);
    assert.equal(response.status, 404);
  });

  it('reload needs the operator role', async () => {
    const response = await call('/api/v1/reload', { method: 'POST' }, ANALYST_TOKEN);
    assert.equal(response.status, 403);
    assert.match(((await response.json()) as { error: string }).error, /operator role/);
    assert.equal(reloads.length, 0);
  });

  it('reload by an operator runs it', async () => {
    const response = await call('/api/v1/reload', { method: 'POST' }, OPERATOR_TOKEN);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as ReloadOutcome).rulesLoaded, 29);
    assert.equal(reloads.length, 1);
  });

  it('rejected reload answers 422', async () => {
    nextReload = { outcome: 'rejected', rulesLoaded: 29, detectorsLoaded: 2, errors: ['rules/bad.yml:3:5 HOLTER_RULE_INVALID condition is missing'] };
    const response = await call('/api/v1/reload', { method: 'POST' }, OPERATOR_TOKEN);
    assert.equal(response.status, 422);
    assert.deepEqual(((await response.json()) as ReloadOutcome).errors, nextReload.errors);
  });
});

/** Collects the JSON lines a logger writes, so a test can check what was logged. */
function captureLog(): { lines: Record<string, unknown>[]; text: () => string; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const text = (): string => chunks.join('');
  return {
    stream,
    text,
    get lines() {
      return text()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}

describe('api authentication before body parsing', () => {
  let server: ApiServer;
  let reloads = 0;
  let failReload = false;
  const log = captureLog();
  const BODY_MARKER = 'body-marker-5d1e';
  const invalidJson = `{"note": "${BODY_MARKER}"`;
  const largeBody = JSON.stringify({ note: BODY_MARKER, padding: 'x'.repeat(70 * 1024) });

  before(async () => {
    const tokensFile = writeTokens(
      ['tokens:', `  - name: soc-console`, `    role: analyst`, `    sha256: ${sha256(ANALYST_TOKEN)}`, `  - name: platform`, `    role: operator`, `    sha256: ${sha256(OPERATOR_TOKEN)}`, ''].join('\n'),
    );
    server = await startApiServer({
      listen: '127.0.0.1:0',
      tokens: loadApiTokens(tokensFile),
      logger: createLogger('info', log.stream),
      handlers: {
        readiness: () => ({ ready: true }),
        metrics: (): MetricsSnapshot => ({ summary: summary(), stageStats: {}, reloads: { succeeded: 0, rejected: 0, fileErrors: 0 } }),
        reload: async () => {
          if (failReload) throw new Error('rule folder vanished');
          reloads += 1;
          return { outcome: 'reloaded', rulesLoaded: 1, detectorsLoaded: 0, errors: [] };
        },
        baseline: () => ({}),
      },
    });
  });

  after(() => server.close());

  const post = (body: string, token?: string): Promise<Response> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    return fetch(`${server.url}/api/v1/reload`, { method: 'POST', headers, body });
  };

  /** Returns the log lines written since `start` that record a denied request. */
  const deniedSince = (start: number): Record<string, unknown>[] => log.lines.slice(start).filter((line) => line.msg === 'http api request denied');

  const cases: { name: string; body: string; token?: string; status: number; reason: RegExp }[] = [
    { name: 'invalid JSON without a token', body: invalidJson, status: 401, reason: /missing bearer token/ },
    { name: 'large body without a token', body: largeBody, status: 401, reason: /missing bearer token/ },
    { name: 'invalid JSON with an unknown token', body: invalidJson, token: 'not-a-token', status: 401, reason: /unknown token/ },
    { name: 'large body with an unknown token', body: largeBody, token: 'not-a-token', status: 401, reason: /unknown token/ },
    { name: 'invalid JSON with the analyst role', body: invalidJson, token: ANALYST_TOKEN, status: 403, reason: /role/ },
    { name: 'large body with the analyst role', body: largeBody, token: ANALYST_TOKEN, status: 403, reason: /role/ },
  ];

  for (const { name, body, token, status, reason } of cases) {
    it(`reload rejects ${name}`, async () => {
      const start = log.lines.length;
      const response = await post(body, token);
      assert.equal(response.status, status);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer');
      await response.text();
      assert.equal(reloads, 0);

      const denials = deniedSince(start);
      assert.equal(denials.length, 1, log.text());
      const [denial] = denials;
      assert.equal(denial!.method, 'POST');
      assert.equal(denial!.route, '/api/v1/reload');
      assert.equal(denial!.status, status);
      assert.match(String(denial!.reason), reason);
    });
  }

  it('baseline rejects a missing token', async () => {
    const start = log.lines.length;
    const response = await fetch(`${server.url}/api/v1/baseline/dr.house`);
    assert.equal(response.status, 401);
    const denials = deniedSince(start);
    assert.equal(denials.length, 1, log.text());
    assert.equal(denials[0]!.method, 'GET');
    assert.equal(denials[0]!.route, '/api/v1/baseline/:user');
  });

  it('operator body errors are logged', async () => {
    const start = log.lines.length;
    const invalid = await post(invalidJson, OPERATOR_TOKEN);
    assert.equal(invalid.status, 400);
    const large = await post(largeBody, OPERATOR_TOKEN);
    assert.equal(large.status, 413);
    assert.equal(reloads, 0);

    const rejected = log.lines.slice(start).filter((line) => line.msg === 'http api request rejected');
    assert.deepEqual(
      rejected.map((line) => [line.method, line.route, line.status, line.reason]),
      [
        ['POST', '/api/v1/reload', 400, 'FST_ERR_CTP_INVALID_JSON_BODY'],
        ['POST', '/api/v1/reload', 413, 'FST_ERR_CTP_BODY_TOO_LARGE'],
      ],
    );
  });

  it('failed reload is logged as error', async () => {
    const start = log.lines.length;
    failReload = true;
    try {
      const response = await fetch(`${server.url}/api/v1/reload`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
      assert.equal(response.status, 500);
    } finally {
      failReload = false;
    }

    const failures = log.lines.slice(start).filter((line) => line.msg === 'http api request failed');
    assert.equal(failures.length, 1, log.text());
    assert.equal(failures[0]!.level, 50);
    assert.equal(failures[0]!.status, 500);
    assert.equal(failures[0]!.route, '/api/v1/reload');
    assert.match(JSON.stringify(failures[0]!.err), /rule folder vanished/);
  });

  it('log never holds a token or body', () => {
    const text = log.text();
    assert.ok(log.lines.length > 0);
    assert.ok(!text.includes(ANALYST_TOKEN), 'analyst token logged');
    assert.ok(!text.includes(OPERATOR_TOKEN), 'operator token logged');
    assert.ok(!text.includes('not-a-token'), 'unknown token logged');
    assert.ok(!text.includes(BODY_MARKER), 'request body logged');
  });
});

describe('api without tokens', () => {
  it('closes the api routes', async () => {
    const server = await startApiServer({
      listen: '127.0.0.1:0',
      tokens: [],
      logger: silentLogger,
      handlers: { readiness: () => ({ ready: true }), metrics: () => ({ summary: summary(), stageStats: {}, reloads: { succeeded: 0, rejected: 0, fileErrors: 0 } }), baseline: () => ({}) },
    });
    try {
      const response = await fetch(`${server.url}/api/v1/baseline/dr.house`, { headers: { authorization: `Bearer ${ANALYST_TOKEN}` } });
      assert.equal(response.status, 401);
      assert.match(((await response.json()) as { error: string }).error, /api\.tokens_file/);
      assert.equal((await fetch(`${server.url}/api/v1/reload`, { method: 'POST' })).status, 404);
    } finally {
      await server.close();
    }
  });
});

describe('api tokens file', () => {
  it('rejects an unknown role with its line', () => {
    const file = writeTokens(['tokens:', '  - name: soc', '    role: admin', `    sha256: ${sha256('x')}`, ''].join('\n'));
    assert.throws(
      () => loadApiTokens(file),
      (error: unknown) => error instanceof HolterError && error.location?.line === 3 && /Invalid role "admin"/.test(error.message),
    );
  });

  it('rejects a token kept in clear', () => {
    const file = writeTokens(['tokens:', '  - name: soc', '    role: analyst', '    sha256: hunter2', ''].join('\n'));
    assert.throws(
      () => loadApiTokens(file),
      (error: unknown) => error instanceof HolterError && error.location?.line === 4 && !error.message.includes('hunter2'),
    );
  });

  it('rejects a name used twice', () => {
    const entry = (role: string) => ['  - name: soc', `    role: ${role}`, `    sha256: ${sha256(role)}`];
    const file = writeTokens(['tokens:', ...entry('analyst'), ...entry('operator'), ''].join('\n'));
    assert.throws(() => loadApiTokens(file), /used twice/);
  });

  it('rejects a missing file', () => {
    assert.throws(() => loadApiTokens('/nonexistent/tokens.yaml'), /not found/);
  });
});

describe('api kafka metrics', () => {
  let server: ApiServer;
  let unavailable: string | undefined;
  let heldDetectors: string[] = [];

  before(async () => {
    const tokensFile = writeTokens(['tokens:', '  - name: soc-console', '    role: analyst', `    sha256: ${sha256(ANALYST_TOKEN)}`, ''].join('\n'));
    server = await startApiServer({
      listen: '127.0.0.1:0',
      tokens: loadApiTokens(tokensFile),
      logger: silentLogger,
      handlers: {
        readiness: () => ({ ready: false, status: 'restarting', reason: 'The consumer crashed and the Kafka client is restarting it.' }),
        metrics: (): MetricsSnapshot => ({
          summary: summary(),
          stageStats: { 'behavioural-baselines': { detectors_loaded: 2, events_late: 7, 'after-hours.entities': 40, 'after-hours.detections': 3 } },
          sourceStats: { recordsFetched: 120, restores: 2 },
          reloads: { succeeded: 0, rejected: 0, fileErrors: 0 },
          kafka: {
            member: false,
            lag: [
              { topic: 'auth-events', partition: 0, lag: 1500 },
              { topic: 'auth-events', partition: 3, lag: 0 },
            ],
            lagRefreshedAtMs: 1_764_940_000_000,
          },
          pendingDeliveries: 12,
          sinkStats: { webhook: { queued: 9, retried: 4, pending: 2 } },
        }),
        baseline: (user) => (user === 'dr.house' ? { user, detectors: {} } : undefined),
        baselineUnavailable: () => unavailable,
        baselineHeld: () => heldDetectors,
      },
    });
  });

  after(() => server.close());

  const scrape = async (): Promise<string> => (await fetch(`${server.url}/metrics`)).text();

  it('readiness explains a restart', async () => {
    const response = await fetch(`${server.url}/readyz`);
    assert.equal(response.status, 503);
    assert.deepEqual(await response.json(), { status: 'restarting', reason: 'The consumer crashed and the Kafka client is restarting it.' });
  });

  it('exports lag per partition', async () => {
    const text = await scrape();
    assert.match(text, /^# TYPE holter_kafka_consumer_lag gauge$/m);
    assert.match(text, /^holter_kafka_consumer_lag\{topic="auth-events",partition="0"\} 1500$/m);
    assert.match(text, /^holter_kafka_consumer_lag\{topic="auth-events",partition="3"\} 0$/m);
    assert.match(text, /^holter_kafka_consumer_lag_refreshed_timestamp_seconds 1764940000$/m);
  });

  it('exports membership and pending deliveries', async () => {
    const text = await scrape();
    assert.match(text, /^holter_kafka_consumer_member 0$/m);
    assert.match(text, /^holter_alerts_pending_delivery 12$/m);
  });

  it('splits counters from gauges', async () => {
    const text = await scrape();
    assert.match(text, /^# TYPE holter_stage_stat_total counter$/m);
    assert.match(text, /^# TYPE holter_stage_stat gauge$/m);
    assert.match(text, /^# TYPE holter_source_stat_total counter$/m);
    assert.match(text, /^holter_stage_stat_total\{stage="behavioural-baselines",name="events_late"\} 7$/m);
    assert.match(text, /^holter_stage_stat_total\{stage="behavioural-baselines",name="after-hours.detections"\} 3$/m);
    assert.match(text, /^holter_stage_stat\{stage="behavioural-baselines",name="detectors_loaded"\} 2$/m);
    assert.match(text, /^holter_stage_stat\{stage="behavioural-baselines",name="after-hours.entities"\} 40$/m);
    assert.doesNotMatch(text, /^holter_stage_stat\{[^}]*name="events_late"/m);
    assert.doesNotMatch(text, /^holter_stage_stat_total\{[^}]*name="detectors_loaded"/m);
    assert.match(text, /^holter_source_stat_total\{name="restores"\} 2$/m);
    assert.match(text, /^holter_sink_stat_total\{sink="webhook",name="retried"\} 4$/m);
    assert.match(text, /^holter_sink_stat\{sink="webhook",name="pending"\} 2$/m);
  });

  it('baseline waits for restores', async () => {
    const headers = { authorization: `Bearer ${ANALYST_TOKEN}` };
    unavailable = 'The detection state of partitions auth-events/3 is still being restored from the changelog.';
    const restoring = await fetch(`${server.url}/api/v1/baseline/u-1044`, { headers });
    assert.equal(restoring.status, 503);
    assert.equal(restoring.headers.get('retry-after'), '5');
    assert.deepEqual(await restoring.json(), { error: unavailable });

    const known = await fetch(`${server.url}/api/v1/baseline/dr.house`, { headers });
    assert.equal(known.status, 200, 'a user already found needs no restore');

    unavailable = undefined;
    const unknown = await fetch(`${server.url}/api/v1/baseline/u-1044`, { headers });
    assert.equal(unknown.status, 404);
  });

  it('baseline names held detectors', async () => {
    const headers = { authorization: `Bearer ${ANALYST_TOKEN}` };
    heldDetectors = ['daily-record-volume'];
    try {
      const unknown = await fetch(`${server.url}/api/v1/baseline/u-1044`, { headers });
      assert.equal(unknown.status, 404);
      const body = (await unknown.json()) as { error: string; heldDetectors: string[] };
      assert.deepEqual(body.heldDetectors, ['daily-record-volume']);
      assert.match(body.error, /saved state of daily-record-volume is held but not shown/);

      const known = await fetch(`${server.url}/api/v1/baseline/dr.house`, { headers });
      assert.equal(known.status, 200);
      assert.deepEqual(await known.json(), { user: 'dr.house', detectors: {}, heldDetectors: ['daily-record-volume'] });
    } finally {
      heldDetectors = [];
    }
  });
});

describe('api listen address', () => {
  it('reads host and port', () => {
    assert.deepEqual(parseListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
  });

  it('rejects a value without a port', () => {
    assert.throws(() => parseListen('localhost'), /Invalid api\.listen "localhost"/);
    assert.throws(() => parseListen('127.0.0.1:70000'), /Invalid api\.listen/);
  });
});
