import assert from 'node:assert/strict';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { RawRecord } from '../../src/decoders/types.js';
import { DeadLetterFile } from '../../src/sinks/dead-letter/writer.js';
import { setRecordText } from '../../src/sources/encoding.js';
import { makeTempDir } from '../helpers/temp.js';

test('dead-letter file keeps invalid bytes', async () => {
  const directory = makeTempDir('holter-dead-letter-');
  try {
    const file = path.join(directory, 'dead-letter.ndjson');
    const sink = new DeadLetterFile(file);
    const invalidBytes = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0xff]);
    const invalid: RawRecord = { input: 'latin1.log', text: '', line: 2, offset: 6 };
    setRecordText(invalid, invalidBytes);
    const valid: RawRecord = { input: 'latin1.log', text: '{"a": "Zoë"}', line: 3, offset: 12, format: 'okta' };

    await sink.write(invalid, 'invalid_utf8', 'The record is not valid UTF-8.');
    await sink.write(valid, 'format_unknown', 'No decoder recognises it.');
    await sink.close();

    const [first, second] = (await readFile(file, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(first?.reason, 'invalid_utf8');
    assert.equal(first?.input, 'latin1.log');
    assert.equal(first?.line, 2);
    assert.equal(first?.offset, 6);
    assert.equal(first?.original, 'caf\uFFFD\uFFFD');
    assert.deepEqual(Buffer.from(first?.original_base64 as string, 'base64'), invalidBytes);

    assert.equal(second?.reason, 'format_unknown');
    assert.equal(second?.original, '{"a": "Zoë"}');
    assert.equal(second?.format, 'okta');
    assert.equal('original_base64' in (second ?? {}), false);
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'only the owner reads the records it keeps');
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
