import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Alert } from '../../../src/alerts/types.js';
import { decodeRecord } from '../../../src/decoders/index.js';
import { loadSigmaRules, SigmaStage } from '../../../src/detect/sigma/index.js';
import { createEnricher } from '../../../src/enrich/index.js';
import { isHolterError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { Pipeline } from '../../../src/pipeline.js';
import { DeadLetterMemory } from '../../../src/sinks/dead-letter/writer.js';
import { PartitionTasks } from '../../../src/sources/kafka/tasks.js';
import { CHECKPOINT_VERSION } from '../../../src/state/checkpoint.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { MemoryCheckpointStore } from '../../state/memory-store.js';
import { makeTempDir } from '../../helpers/temp.js';

const TOPIC = 'okta.system';
const LATENESS_MS = 60_000;

const RULES = `title: Failed login burst of one user
id: 9e0f1c6a-2b7d-4a51-8f0e-5d3c2b1a0001
name: test_failed_login_burst
status: test
correlation:
    type: event_count
    rules:
        - test_failed_login
    group-by:
        - user.name
    timespan: 10m
    condition:
        gte: 8
level: medium
---
title: Failed login
id: 9e0f1c6a-2b7d-4a51-8f0e-5d3c2b1a0002
name: test_failed_login
status: test
logsource:
    product: holter
    category: authentication
detection:
    selection:
        event.category: authentication
        event.outcome: failure
    condition: selection
level: informational
`;

async function ruleSet(): Promise<SigmaStage['ruleSet']> {
  const folder = makeTempDir('holter-tasks-');
  writeFileSync(path.join(folder, 'burst.yml'), RULES);
  const loaded = await loadSigmaRules([folder], { mappingFile: path.join(REPO_ROOT, 'mappings', 'sigma.yml'), allowedLatenessMs: LATENESS_MS });
  assert.deepEqual(loaded.errors, []);
  return loaded.stage.ruleSet;
}

/** Builds one member: a pipeline whose tasks each get fresh Sigma stages, and the tasks of its partitions. */
async function member(store: MemoryCheckpointStore, deliver: (alert: Alert) => Promise<'delivered'> = async () => 'delivered'): Promise<{ tasks: PartitionTasks; alerts: Alert[]; pipeline: Pipeline }> {
  const rules = await ruleSet();
  const alerts: Alert[] = [];
  const pipeline = new Pipeline({
    decode: decodeRecord,
    decodeContext: { defaultTimeZone: 'UTC', now: new Date('2026-12-01T00:00:00Z') },
    enrich: createEnricher({ tokenKey: 'tasks-test-key-0123456789' }),
    stages: [],
    createStages: async () => ({ stages: [new SigmaStage(rules, { allowedLatenessMs: LATENESS_MS })] }),
    sinks: [{ name: 'collector', write: async (alert) => (alerts.push(alert), deliver(alert)), close: async () => {} }],
    deadLetter: new DeadLetterMemory(),
    allowedLatenessMs: LATENESS_MS,
    logger: silentLogger,
  });
  const tasks = new PartitionTasks(
    { createTask: () => pipeline.createTask(), retireTask: (task) => pipeline.retireTask(task), push: (record, task) => pipeline.push(record, task), deliveredSoFar: () => pipeline.deliveredSoFar() },
    store,
    silentLogger,
  );
  return { tasks, alerts, pipeline };
}

/** Returns the record at `offset`: an Okta failed login of `login`, 20 s of event time after the previous one. */
function failure(login: string, offset: number): { input: string; offset: number; text: string } {
  const text = JSON.stringify({
    uuid: `00000000-0000-4000-8000-${String(offset).padStart(12, '0')}`,
    published: new Date(Date.UTC(2026, 10, 3, 9, 0, 0) + offset * 20_000).toISOString(),
    eventType: 'user.session.start',
    actor: { id: '00u1', type: 'User', alternateId: login, displayName: 'Test User' },
    client: { ipAddress: '198.51.100.7' },
    outcome: { result: 'FAILURE', reason: 'INVALID_CREDENTIALS' },
  });
  return { input: `${TOPIC}/0`, offset, text };
}

async function pushFailures(tasks: PartitionTasks, partition: number, from: number, to: number, login = 'jdoe@example.org'): Promise<void> {
  for (let offset = from; offset < to; offset++) await tasks.push(TOPIC, partition, String(offset), failure(login, offset));
}

test('partition without checkpoint starts empty', async () => {
  const { tasks } = await member(new MemoryCheckpointStore());

  assert.deepEqual(await tasks.prepare(TOPIC, 0, '42'), { action: 'process' });
  assert.equal(tasks.stats.restoredEmpty, 1);
  assert.equal(tasks.contains(TOPIC, 0, '41'), true);
  assert.equal(tasks.contains(TOPIC, 0, '42'), false);
  assert.equal(tasks.dirty, false);
});

test('checkpoint covers changed tasks only', async () => {
  const store = new MemoryCheckpointStore();
  const { tasks } = await member(store);
  await tasks.prepare(TOPIC, 0, '0');
  await tasks.prepare(TOPIC, 1, '0');
  await pushFailures(tasks, 0, 0, 3);
  await pushFailures(tasks, 1, 0, 2);

  assert.deepEqual(await tasks.checkpoint(), [
    { topic: TOPIC, partition: 0, offset: '3' },
    { topic: TOPIC, partition: 1, offset: '2' },
  ]);
  assert.deepEqual(await tasks.checkpoint(), []);

  await pushFailures(tasks, 1, 2, 3);
  assert.deepEqual(await tasks.checkpoint(), [{ topic: TOPIC, partition: 1, offset: '3' }]);
  assert.equal((await store.read(TOPIC, 1))?.checkpoint.offset, '3');
});

test('changed tasks checkpoint without records', async () => {
  const store = new MemoryCheckpointStore();
  const { tasks } = await member(store);
  await tasks.prepare(TOPIC, 0, '0');
  await pushFailures(tasks, 0, 0, 3);
  await tasks.checkpoint();
  assert.equal(tasks.dirty, false);

  // A rules reload changed the state, and no record follows.
  tasks.markChanged();
  assert.equal(tasks.dirty, true);
  assert.deepEqual(await tasks.checkpoint(), [{ topic: TOPIC, partition: 0, offset: '3' }], 'the same offset, with the changed state');
  assert.equal(tasks.dirty, false);
});

test('capture keeps state at its offset while detection goes on', async () => {
  const store = new MemoryCheckpointStore();
  const { tasks } = await member(store);
  await tasks.prepare(TOPIC, 0, '0');
  await pushFailures(tasks, 0, 0, 5);
  const captured = tasks.capture();
  await pushFailures(tasks, 0, 5, 9);

  assert.deepEqual(await tasks.persist(captured), [{ topic: TOPIC, partition: 0, offset: '5' }]);
  assert.equal(tasks.dirty, true, 'the 4 records after the capture are in no checkpoint');

  // The checkpoint contains 5 failures: 2 more stay below the burst of 8, and the third reaches it.
  const next = await member(store);
  assert.deepEqual(await next.tasks.prepare(TOPIC, 0, '5'), { action: 'process' });
  await pushFailures(next.tasks, 0, 5, 7);
  await next.pipeline.drain();
  assert.equal(next.alerts.length, 0);
  await pushFailures(next.tasks, 0, 7, 8);
  await next.pipeline.drain();
  assert.equal(next.alerts.length, 1);
});

test('capture waits for alerts raised before it only', async () => {
  const store = new MemoryCheckpointStore();
  const heldDeliveries: (() => void)[] = [];
  const { tasks, alerts, pipeline } = await member(store, () => new Promise((resolve) => heldDeliveries.push(() => resolve('delivered'))));
  await tasks.prepare(TOPIC, 0, '0');
  await pushFailures(tasks, 0, 0, 8);
  assert.equal(alerts.length, 1);

  const captured = tasks.capture();
  let written = false;
  const persisting = tasks.persist(captured).then((positions) => ((written = true), positions));
  await pushFailures(tasks, 0, 8, 16, 'other@example.org');
  assert.equal(alerts.length, 2, 'the second user raised an alert after the capture');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(written, false, 'the checkpoint waits for the first alert');
  assert.equal(await store.read(TOPIC, 0), undefined);

  heldDeliveries[0]?.();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(written, true, 'the second alert is still held, and the checkpoint does not wait for it');
  assert.deepEqual(await persisting, [{ topic: TOPIC, partition: 0, offset: '8' }]);
  assert.equal((await store.read(TOPIC, 0))?.checkpoint.offset, '8');
  for (const release of heldDeliveries) release();
  await pipeline.drain();
});

test('window survives handover to another member', async () => {
  const store = new MemoryCheckpointStore();
  const leaving = await member(store);
  await leaving.tasks.prepare(TOPIC, 0, '0');
  await pushFailures(leaving.tasks, 0, 0, 5);
  await leaving.tasks.checkpoint();
  leaving.tasks.assign({ [TOPIC]: [] });
  assert.deepEqual(leaving.tasks.partitions, []);

  const staying = await member(store);
  assert.deepEqual(await staying.tasks.prepare(TOPIC, 0, '5'), { action: 'process' });
  assert.equal(staying.tasks.stats.restores, 1);
  await pushFailures(staying.tasks, 0, 5, 10);
  await staying.pipeline.drain();

  assert.equal(leaving.alerts.length, 0);
  assert.equal(staying.alerts.length, 1, 'the 8th failure across both members raises one alert');
  assert.equal(staying.alerts[0]?.rule.id, 'test_failed_login_burst');
});

test('checkpoint ahead of commit seeks forward', async () => {
  const store = new MemoryCheckpointStore();
  const first = await member(store);
  await first.tasks.prepare(TOPIC, 0, '0');
  await pushFailures(first.tasks, 0, 0, 5);
  await first.tasks.checkpoint();

  // The commit of offset 5 failed, so the next owner is fed from the older commit at 3.
  const next = await member(store);
  assert.deepEqual(await next.tasks.prepare(TOPIC, 0, '3'), { action: 'seek', offset: '5' });
  assert.deepEqual(await next.tasks.prepare(TOPIC, 0, '5'), { action: 'process' });
  assert.equal(next.tasks.stats.restores, 1, 'restored once, not again after the seek');
  assert.equal(next.tasks.contains(TOPIC, 0, '4'), true);
  assert.equal(next.tasks.contains(TOPIC, 0, '5'), false);
});

test('rejoin keeps task whose offsets match', async () => {
  const { tasks } = await member(new MemoryCheckpointStore());
  await tasks.prepare(TOPIC, 0, '0');
  await pushFailures(tasks, 0, 0, 3);
  tasks.assign({ [TOPIC]: [0] });

  assert.deepEqual(await tasks.prepare(TOPIC, 0, '3'), { action: 'process' });
  assert.equal(tasks.stats.restores + tasks.stats.restoredEmpty, 1, 'no second restore');
  assert.equal(tasks.dirty, true, 'the records since the last checkpoint are still in the state');
});

test('rejoin behind state restores checkpoint without double counting', async () => {
  const store = new MemoryCheckpointStore();
  const { tasks, alerts, pipeline } = await member(store);
  await tasks.prepare(TOPIC, 0, '0');
  await pushFailures(tasks, 0, 0, 4);
  await tasks.checkpoint();
  await pushFailures(tasks, 0, 4, 7);

  // A rebalance gave the partition back, fed again from the commit at 4: offsets 4 to 6 are in the
  // state but not in the checkpoint, so the task goes back to the checkpoint.
  tasks.assign({ [TOPIC]: [0] });
  assert.deepEqual(await tasks.prepare(TOPIC, 0, '4'), { action: 'process' });
  assert.equal(tasks.stats.restores, 1);
  await pushFailures(tasks, 0, 4, 7);
  await pipeline.drain();
  assert.equal(alerts.length, 0, 'offsets 4 to 6 count once: 7 failures, below 8');

  await pushFailures(tasks, 0, 7, 8);
  await pipeline.drain();
  assert.equal(alerts.length, 1);
});

test('forwarded repeats are dropped across restore', async () => {
  const store = new MemoryCheckpointStore();
  const first = await member(store);
  await first.tasks.prepare(TOPIC, 0, '0');
  assert.equal(first.tasks.acceptForwarded(TOPIC, 0, { input: 'src/1', offset: 10n, event: 0 }), true);
  assert.equal(first.tasks.acceptForwarded(TOPIC, 0, { input: 'src/1', offset: 10n, event: 1 }), true);
  assert.equal(first.tasks.acceptForwarded(TOPIC, 0, { input: 'src/1', offset: 10n, event: 1 }), false);
  assert.equal(first.tasks.acceptForwarded(TOPIC, 0, { input: 'src/2', offset: 3n, event: 0 }), true, 'source partitions are tracked apart');
  await first.tasks.push(TOPIC, 0, '0', undefined);
  await first.tasks.checkpoint();

  const next = await member(store);
  await next.tasks.prepare(TOPIC, 0, '1');
  assert.equal(next.tasks.acceptForwarded(TOPIC, 0, { input: 'src/1', offset: 9n, event: 5 }), false);
  assert.equal(next.tasks.acceptForwarded(TOPIC, 0, { input: 'src/1', offset: 11n, event: 0 }), true);
  assert.equal(next.tasks.stats.forwardedDuplicates, 1);
});

test('incompatible stage state names partition', async () => {
  const store = new MemoryCheckpointStore();
  await store.write(await store.encode({ version: CHECKPOINT_VERSION, topic: TOPIC, partition: 3, offset: '7', task: { maxEventTimeMs: null, riskAdvancedMs: null, stages: { sigma: { version: 99 } } } }));
  const { tasks } = await member(store);

  await assert.rejects(tasks.prepare(TOPIC, 3, '7'), (error: unknown) => {
    assert.ok(isHolterError(error));
    assert.equal(error.code, 'HOLTER_STATE_VERSION');
    assert.match(error.message, /okta\.system\/3 at offset 7/);
    return true;
  });
  assert.deepEqual(tasks.partitions, []);
});

/** Waits until no restore started on assignment is still running. */
async function restoresSettled(tasks: PartitionTasks): Promise<void> {
  for (let turn = 0; turn < 1000 && tasks.partitionsRestoring.length > 0; turn++) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(tasks.partitionsRestoring, []);
}

test('assignment restores before first batch', async () => {
  const store = new MemoryCheckpointStore();
  const leaving = await member(store);
  await leaving.tasks.prepare(TOPIC, 0, '0');
  await pushFailures(leaving.tasks, 0, 0, 5);
  await leaving.tasks.checkpoint();

  const joining = await member(store);
  joining.tasks.assign({ [TOPIC]: [0, 1] });
  joining.tasks.restoreInBackground({ [TOPIC]: [0, 1] });
  assert.deepEqual(joining.tasks.partitionsRestoring, [`${TOPIC}/0`, `${TOPIC}/1`]);
  await restoresSettled(joining.tasks);

  assert.equal(joining.tasks.stats.restores, 1);
  assert.deepEqual(joining.tasks.partitions, [`${TOPIC}/0`], 'partition 1 has no checkpoint and gets its task on its first batch');
  assert.equal(joining.tasks.contains(TOPIC, 0, '4'), true, 'the restored state is there with no batch yet');

  assert.deepEqual(await joining.tasks.prepare(TOPIC, 0, '5'), { action: 'process' });
  assert.equal(joining.tasks.stats.restores, 1, 'the first batch keeps the task restored on assignment');
  await pushFailures(joining.tasks, 0, 5, 8);
  await joining.pipeline.drain();
  assert.equal(joining.alerts.length, 1, 'the 8th failure counts the 5 restored ones');
});

test('restored task rechecked on first batch', async () => {
  const store = new MemoryCheckpointStore();
  const writer = await member(store);
  await writer.tasks.prepare(TOPIC, 0, '0');
  await pushFailures(writer.tasks, 0, 0, 3);
  await writer.tasks.checkpoint();

  const joining = await member(store);
  joining.tasks.assign({ [TOPIC]: [0] });
  joining.tasks.restoreInBackground({ [TOPIC]: [0] });
  await restoresSettled(joining.tasks);
  assert.equal(joining.tasks.contains(TOPIC, 0, '3'), false);

  // Another member moved the partition on before this one fetched, as after a missed generation.
  await pushFailures(writer.tasks, 0, 3, 6);
  await writer.tasks.checkpoint();

  assert.deepEqual(await joining.tasks.prepare(TOPIC, 0, '6'), { action: 'process' });
  assert.equal(joining.tasks.stats.restores, 2, 'the batch starts past the restored offset, so the store is read again');
  assert.equal(joining.tasks.contains(TOPIC, 0, '5'), true);
});

test('restore dropped after revocation', async () => {
  const store = new MemoryCheckpointStore();
  const writer = await member(store);
  await writer.tasks.prepare(TOPIC, 0, '0');
  await pushFailures(writer.tasks, 0, 0, 3);
  await writer.tasks.checkpoint();

  const joining = await member(store);
  joining.tasks.assign({ [TOPIC]: [0] });
  joining.tasks.restoreInBackground({ [TOPIC]: [0] });
  joining.tasks.assign({ [TOPIC]: [] });
  await restoresSettled(joining.tasks);

  assert.deepEqual(joining.tasks.partitions, []);
  assert.equal(joining.tasks.stats.restores, 0);
});

test('first batch waits for restore', async () => {
  const store = new MemoryCheckpointStore();
  const writer = await member(store);
  await writer.tasks.prepare(TOPIC, 0, '0');
  await pushFailures(writer.tasks, 0, 0, 4);
  await writer.tasks.checkpoint();

  let releaseRead: () => void = () => {};
  const gate = new Promise<void>((resolve) => (releaseRead = resolve));
  const read = store.read.bind(store);
  store.read = async (topic, partition) => {
    await gate;
    return read(topic, partition);
  };

  const joining = await member(store);
  joining.tasks.assign({ [TOPIC]: [0] });
  joining.tasks.restoreInBackground({ [TOPIC]: [0] });
  const preparing = joining.tasks.prepare(TOPIC, 0, '4');
  releaseRead();

  assert.deepEqual(await preparing, { action: 'process' });
  assert.equal(joining.tasks.stats.restores, 1, 'one restore, not one on assignment and one on the batch');
  assert.equal(joining.tasks.stats.restoredEmpty, 0);
});
