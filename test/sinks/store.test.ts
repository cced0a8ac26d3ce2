import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { buildAlert } from '../../src/alerts/build.js';
import { AlertStore } from '../../src/sinks/store/sink.js';
import { detectionFor, eventAt } from '../helpers/detections.js';
import { makeTempDir } from '../helpers/temp.js';

test('store keeps each alert id once', async () => {
  const file = path.join(makeTempDir('holter-store-'), 'alerts.db');
  const alert = buildAlert(detectionFor(eventAt('2026-10-29T06:03:00Z')), new Date());

  const store = new AlertStore(file);
  assert.equal(await store.write(alert), 'delivered');
  assert.equal(await store.write(alert), 'duplicate');
  await store.close();

  const reopened = new AlertStore(file);
  assert.equal(await reopened.write(alert), 'duplicate');
  assert.equal(reopened.count(), 1);
  const found = reopened.query({ userId: 'u-1042' });
  assert.equal(found[0]?.event.id, alert.event.id);
  assert.equal(reopened.query({ ruleId: 'other' }).length, 0);
  await reopened.close();
});

test('store path that cannot be created fails clearly', () => {
  const dir = makeTempDir('holter-store-');
  const notAFolder = path.join(dir, 'plain-file');
  writeFileSync(notAFolder, '');
  const file = path.join(notAFolder, 'alerts.db');

  assert.throws(() => new AlertStore(file), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'HOLTER_STORE_FAILED');
    assert.ok(error.message.includes(file));
    return true;
  });
});
