import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { decodeRecord } from '../../src/decoders/index.js';
import { readRecords } from '../../src/sources/file.js';
import { SAMPLES_DIR, SHARED_DIR } from '../helpers/paths.js';
import { CONTEXT } from './helpers.js';

function listFiles(directory: string, extension?: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const full = path.join(directory, name);
    if (statSync(full).isDirectory()) return listFiles(full, extension);
    return extension === undefined || name.endsWith(extension) ? [full] : [];
  });
}

const sampleFiles = listFiles(SAMPLES_DIR).filter((file) => !file.endsWith('.md'));
const regressionFiles = listFiles(path.join(SHARED_DIR, 'sigma', 'regression_data'), '.json');

describe('shared samples', () => {
  it('finds the sample files', () => {
    assert.ok(sampleFiles.length >= 35, `only ${sampleFiles.length} sample files found under ${SAMPLES_DIR}`);
  });

  for (const file of sampleFiles) {
    it(`decodes ${path.relative(SAMPLES_DIR, file)} without dead letters`, async () => {
      let records = 0;
      let events = 0;
      for await (const record of readRecords(file)) {
        records++;
        const result = decodeRecord(record, CONTEXT);
        assert.ok(result.ok, `line ${record.line}: ${result.ok ? '' : `${result.reason}: ${result.message}`}`);
        events += result.events.length;
        for (const event of result.events) {
          assert.ok(!Number.isNaN(Date.parse(event['@timestamp'])), `bad @timestamp on line ${record.line}`);
          assert.match(event['@timestamp'], /Z$/);
          assert.equal(event.event.kind, 'event');
          assert.ok(event.event.id.length > 0);
        }
      }
      assert.ok(records > 0, 'no records read');
      assert.ok(events >= records, 'fewer events than records');
    });
  }
});

describe('sigma regression events', () => {
  it('finds the regression files', () => {
    assert.ok(regressionFiles.length >= 100, `only ${regressionFiles.length} regression files found`);
  });

  it('decodes every document with its EventData names', async () => {
    let documents = 0;
    for (const file of regressionFiles) {
      for await (const record of readRecords(file)) {
        documents++;
        const where = `${path.relative(SHARED_DIR, file)}:${record.line}`;
        const result = decodeRecord(record, CONTEXT);
        assert.ok(result.ok, `${where}: ${result.ok ? '' : result.message}`);
        const expected = JSON.parse(record.text) as { Event: { System: { EventID: number; Channel: string }; EventData?: Record<string, unknown> | null } };

        for (const event of result.events) {
          const winlog = event.winlog as { event_id: number; channel: string; provider_name: string; event_data: Record<string, unknown> };
          assert.equal(winlog.event_id, expected.Event.System.EventID, where);
          assert.equal(winlog.channel, expected.Event.System.Channel, where);
          assert.equal(typeof winlog.provider_name, 'string', where);
          for (const [name, value] of Object.entries(expected.Event.EventData ?? {})) {
            if (name === '#attributes') continue;
            assert.deepEqual(winlog.event_data[name], value, `${where}: event_data.${name}`);
          }
        }
      }
    }
    // Five files hold several documents one after another, so there are more documents than files.
    assert.ok(documents > regressionFiles.length, `${documents} documents in ${regressionFiles.length} files`);
  });
});
