import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEnricher } from '../../../src/enrich/index.js';
import { DAY_SHIFT, ZONE, feed, loadShipped, local, recordAccess, shiftEvents } from './events.js';

const MARKER = 'MARKER-PATIENT-5521';

describe('detections and patient ids', () => {
  it('carry no clear patient id', async () => {
    const enrich = createEnricher({ tokenKey: 'privacy-test-key-0123456789abcdef' });
    const stage = await loadShipped('after-hours-record-access.yaml');
    const worker = { id: 'u-1042', zone: ZONE };
    feed(stage, shiftEvents(worker, '2025-01-01', 28, DAY_SHIFT));

    const probe = Array.from({ length: 6 }, (_, index) => {
      const event = recordAccess(worker, local('2025-01-29T02:00') + index * 60_000);
      event.holter.patient = { id: `${MARKER}-${index}` };
      return enrich(event);
    });
    for (const event of probe) event.holter.user = { id: 'u-1042', known: true, time_zone: ZONE };
    feed(stage, probe);
    const detections = stage.flush(Number.POSITIVE_INFINITY);

    assert.equal(detections.length, 1);
    const serialised = JSON.stringify({ detections, snapshot: stage.snapshot(), stats: stage.stats() });
    assert.ok(!serialised.includes(MARKER));
    assert.ok(serialised.includes('pt_'));
  });
});
