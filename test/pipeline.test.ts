import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Alert } from '../src/alerts/types.js';
import { decodeRecord } from '../src/decoders/index.js';
import type { DecodeContext, RawRecord } from '../src/decoders/types.js';
import { loadSigmaRules, SigmaStage } from '../src/detect/sigma/index.js';
import { createEnricher } from '../src/enrich/index.js';
import { silentLogger } from '../src/log.js';
import { Pipeline } from '../src/pipeline.js';
import { DeadLetterMemory } from '../src/sinks/dead-letter/writer.js';
import { NdjsonSink } from '../src/sinks/ndjson/sink.js';
import type { AlertSink } from '../src/sinks/types.js';
import { REPO_ROOT } from './helpers/paths.js';
import { makeTempDir } from './helpers/temp.js';

const CONTEXT: DecodeContext = { defaultTimeZone: 'UTC', now: new Date('2026-12-01T00:00:00Z') };

/** Builds an Okta System Log failure for `login` at `time`. */
function oktaFailure(time: string, login: string, n: number): RawRecord {
  const record = {
    uuid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    published: time,
    eventType: 'user.session.start',
    severity: 'WARN',
    displayMessage: 'User login to Okta',
    actor: { id: '00u1', type: 'User', alternateId: login, displayName: 'Test User' },
    client: { ipAddress: '198.51.100.7' },
    outcome: { result: 'FAILURE', reason: 'INVALID_CREDENTIALS' },
  };
  return { input: 'test', line: n, text: JSON.stringify(record) };
}

async function holterRules(): Promise<Awaited<ReturnType<typeof loadSigmaRules>>['stage']> {
  const loaded = await loadSigmaRules([path.join(REPO_ROOT, 'rules')], { mappingFile: path.join(REPO_ROOT, 'mappings', 'sigma.yml'), allowedLatenessMs: 60_000 });
  assert.deepEqual(loaded.errors, []);
  return loaded.stage;
}

function collector(): AlertSink & { alerts: Alert[] } {
  const alerts: Alert[] = [];
  return { name: 'collector', alerts, write: async (alert) => (alerts.push(alert), 'delivered'), close: async () => {} };
}

function at(minute: number, second = 0): string {
  return new Date(Date.UTC(2026, 10, 3, 9, minute, second)).toISOString();
}

test('pipeline raises a burst once and counts late events', async () => {
  const sink = collector();
  const deadLetter = new DeadLetterMemory();
  const pipeline = new Pipeline({
    decode: decodeRecord,
    decodeContext: CONTEXT,
    enrich: createEnricher({ tokenKey: 'pipeline-test-key-0123456789' }),
    stages: [await holterRules()],
    sinks: [sink],
    deadLetter,
    allowedLatenessMs: 60_000,
    logger: silentLogger,
  });

  for (let i = 0; i < 12; i++) await pipeline.push(oktaFailure(at(0, i * 10), 'jdoe@example.org', i));
  await pipeline.push(oktaFailure(at(30), 'someone@example.org', 100));
  // Twenty minutes older than the newest event: past the one-minute allowed lateness.
  await pipeline.push(oktaFailure(at(10), 'late@example.org', 101));
  const summary = await pipeline.finish();

  assert.equal(summary.recordsRead, 14);
  assert.equal(summary.eventsDecoded, 14);
  assert.equal(summary.alerts, 1);
  assert.equal(sink.alerts[0]?.rule.id, 'holter-failed-login-burst');
  assert.equal(sink.alerts[0]?.user?.id, 'jdoe');
  assert.equal(summary.stageStats.sigma?.late_events, 1);
  assert.equal(summary.firstEventTime, at(0));
  assert.equal(summary.lastEventTime, at(30));
});

test('pipeline dead-letters a decoder crash and goes on', async () => {
  const deadLetter = new DeadLetterMemory();
  const pipeline = new Pipeline({
    decode: (record, context) => {
      if (record.line === 2) throw new TypeError('decoder bug');
      return decodeRecord(record, context);
    },
    decodeContext: CONTEXT,
    enrich: createEnricher({ tokenKey: 'pipeline-test-key-0123456789' }),
    stages: [],
    sinks: [],
    deadLetter,
    allowedLatenessMs: 0,
    logger: silentLogger,
  });

  for (let i = 1; i <= 3; i++) await pipeline.push(oktaFailure(at(i), 'jdoe@example.org', i));
  const summary = await pipeline.finish();
  assert.equal(summary.eventsDecoded, 2);
  assert.equal(summary.deadLettered, 1);
  assert.deepEqual(summary.deadLetteredByReason, { invalid_record: 1 });
  assert.equal(deadLetter.entries[0]?.line, 2);
  assert.match(deadLetter.entries[0]?.message ?? '', /decoder bug/);
});

test('pipeline counts a failing sink and still delivers to others', async () => {
  const folder = makeTempDir('holter-pipeline-');
  writeFileSync(path.join(folder, 'marker'), '');
  const failing = new NdjsonSink(folder); // a folder, not a file: every write fails
  const sink = collector();
  const pipeline = new Pipeline({
    decode: decodeRecord,
    decodeContext: CONTEXT,
    enrich: createEnricher({ tokenKey: 'pipeline-test-key-0123456789' }),
    stages: [await holterRules()],
    sinks: [failing, sink],
    deadLetter: new DeadLetterMemory(),
    allowedLatenessMs: 60_000,
    logger: silentLogger,
  });

  for (let i = 0; i < 10; i++) await pipeline.push(oktaFailure(at(0, i), 'jdoe@example.org', i));
  const summary = await pipeline.finish();
  assert.equal(summary.alerts, 1);
  assert.equal(sink.alerts.length, 1);
  assert.equal(summary.deliveryFailures.ndjson, 1);
  assert.equal(summary.deliveryOutcomes.collector?.delivered, 1);
});

test('pipeline tasks keep separate windows and watermarks', async () => {
  const sink = collector();
  const rules = await holterRules();
  const pipeline = new Pipeline({
    decode: decodeRecord,
    decodeContext: CONTEXT,
    enrich: createEnricher({ tokenKey: 'pipeline-test-key-0123456789' }),
    stages: [],
    createStages: async () => ({ stages: [new SigmaStage(rules.ruleSet, { allowedLatenessMs: 60_000 })] }),
    sinks: [sink],
    deadLetter: new DeadLetterMemory(),
    allowedLatenessMs: 60_000,
    logger: silentLogger,
  });
  const first = await pipeline.createTask();
  const second = await pipeline.createTask();

  // Six failures in each task: ten would fire in one task, but each task counts only its own.
  for (let i = 0; i < 6; i++) await pipeline.push(oktaFailure(at(20, i * 10), 'jdoe@example.org', i), first);
  for (let i = 0; i < 6; i++) await pipeline.push(oktaFailure(at(0, i * 10), 'jdoe@example.org', 10 + i), second);
  await pipeline.drain();
  assert.equal(sink.alerts.length, 0);
  assert.equal(first.watermarkMs, Date.parse(at(20, 50)) - 60_000);
  assert.equal(second.watermarkMs, Date.parse(at(0, 50)) - 60_000, 'twenty minutes behind the first task, and not late there');

  const restored = await pipeline.createTask();
  restored.restore(first.snapshot());
  pipeline.retireTask(first);
  for (let i = 6; i < 10; i++) await pipeline.push(oktaFailure(at(21, i), 'jdoe@example.org', 20 + i), restored);
  await pipeline.drain();
  assert.equal(sink.alerts.length, 1, 'the restored task continues the six failures of the first');

  const summary = await pipeline.finish({ closeWindows: false });
  assert.equal(summary.alerts, 1);
  assert.equal(summary.stageStats.sigma?.late_events, 0);
  assert.equal(summary.stageStats.sigma?.events, 16, 'the retired task still counts');
  assert.equal(summary.stageStats.sigma?.rules_loaded, rules.ruleSet.rules.length, 'every task loads the same rules, so they are not added up');
  const liveGroups = (restored.stats().sigma?.correlation_groups ?? 0) + (second.stats().sigma?.correlation_groups ?? 0);
  assert.ok(liveGroups > 0);
  assert.equal(summary.stageStats.sigma?.correlation_groups, liveGroups, "the retired task's groups live on in the restored task, not twice");
});

test('pipeline bounds alerts in flight', async () => {
  const folder = makeTempDir('holter-pipeline-');
  writeFileSync(
    path.join(folder, 'failure.yml'),
    ['title: Failed login', 'id: 5b1e0c55-3f7a-4e21-9d1c-6a2f0e4b7c01', 'status: test', 'logsource:', '    product: holter', '    category: authentication', 'detection:', '    selection:', '        event.outcome: failure', '    condition: selection', 'level: medium', ''].join('\n'),
  );
  const loaded = await loadSigmaRules([folder], { mappingFile: path.join(REPO_ROOT, 'mappings', 'sigma.yml'), allowedLatenessMs: 60_000 });
  assert.deepEqual(loaded.errors, []);
  const heldDeliveries: (() => void)[] = [];
  const pipeline = new Pipeline({
    decode: decodeRecord,
    decodeContext: CONTEXT,
    enrich: createEnricher({ tokenKey: 'pipeline-test-key-0123456789' }),
    stages: [loaded.stage],
    sinks: [{ name: 'held', write: () => new Promise((resolve) => heldDeliveries.push(() => resolve('delivered'))), close: async () => {} }],
    deadLetter: new DeadLetterMemory(),
    allowedLatenessMs: 60_000,
    logger: silentLogger,
    maxPendingDeliveries: 2,
  });

  await pipeline.push(oktaFailure(at(0), 'first@example.org', 1));
  let thirdDetected = false;
  const pushes = pipeline.push(oktaFailure(at(1), 'second@example.org', 2)).then(async () => {
    await pipeline.push(oktaFailure(at(2), 'third@example.org', 3));
    thirdDetected = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(heldDeliveries.length, 2);
  assert.equal(thirdDetected, false, 'detection waits while 2 alerts are in flight');

  heldDeliveries[0]?.();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(heldDeliveries.length, 3, 'the third record was detected once a delivery settled');

  for (const release of heldDeliveries.slice(1)) release();
  await pushes;
  await pipeline.drain();
  assert.equal(thirdDetected, true);
});
