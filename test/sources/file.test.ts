import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { decodeRecord, type SizedRawRecord } from '../../src/decoders/index.js';
import { isHolterError } from '../../src/errors.js';
import { readRecords } from '../../src/sources/file.js';
import { RecordSplitter } from '../../src/sources/record-splitter.js';
import { CONTEXT, samplePath } from '../decoders/helpers.js';
import { makeTempDir } from '../helpers/temp.js';

let directory = '';

before(async () => {
  directory = makeTempDir('holter-file-source-');
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function writeInput(name: string, content: string | Buffer): Promise<string> {
  const file = path.join(directory, name);
  await writeFile(file, content);
  return file;
}

async function collect(file: string, options: { maxRecordBytes?: number; format?: string } = {}): Promise<SizedRawRecord[]> {
  const records: SizedRawRecord[] = [];
  for await (const record of readRecords(file, options)) records.push(record);
  return records;
}

/** Feeds the bytes in chunks of `size` to show that chunk boundaries do not change records. */
function splitInChunks(bytes: Buffer, size: number, maxRecordBytes?: number): SizedRawRecord[] {
  const splitter = new RecordSplitter('chunks', maxRecordBytes);
  const records: SizedRawRecord[] = [];
  for (let start = 0; start < bytes.length; start += size) records.push(...splitter.push(bytes.subarray(start, start + size)));
  records.push(...splitter.end());
  return records;
}

describe('file source', () => {
  it('splits lines with CRLF, blanks and no final newline', async () => {
    const file = await writeInput('lines.log', 'first line\r\n\r\n  \nsecond line\nthird');
    const records = await collect(file);
    assert.deepEqual(records.map((record) => [record.text, record.line, record.offset]), [
      ['first line', 1, 0],
      ['second line', 4, 17],
      ['third', 5, 29],
    ]);
    assert.equal(records[0]?.input, file);
  });

  it('reads NDJSON one record per line', async () => {
    const file = await writeInput('events.ndjson', '{"a":1}\n{"b":2}\n\n{"c":3}\n');
    const records = await collect(file);
    assert.deepEqual(records.map((record) => [record.text, record.line]), [['{"a":1}', 1], ['{"b":2}', 2], ['{"c":3}', 4]]);
  });

  it('isolates a truncated NDJSON line', async () => {
    const file = await writeInput('broken.ndjson', '{"resourceType":"AuditEvent"}\n{"resourceType":"Audit\n{"c":3}\n');
    const records = await collect(file);
    assert.equal(records.length, 3);
    const result = decodeRecord(records[1] as SizedRawRecord, CONTEXT);
    assert.equal(result.ok ? '' : result.reason, 'invalid_json');
    assert.equal(records[2]?.line, 3);
  });

  it('reads a pretty JSON document as one record', async () => {
    const file = await writeInput('doc.json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('\n\n  {\n  "a": "}{",\n  "b": [1, 2]\n}\n')]));
    const records = await collect(file);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.line, 3);
    assert.equal(records[0]?.offset, 7);
    assert.deepEqual(JSON.parse(records[0]?.text ?? ''), { a: '}{', b: [1, 2] });
  });

  it('splits concatenated JSON documents', async () => {
    const file = await writeInput('many.json', '{\n  "n": 1,\n  "s": "a\\"}"\n}\n{\n  "n": 2\n}');
    const records = await collect(file);
    assert.deepEqual(records.map((record) => [JSON.parse(record.text).n, record.line]), [[1, 1], [2, 5]]);
  });

  it('splits XML documents', async () => {
    const xml = '<?xml version="1.0"?>\n<!-- a > comment -->\n<AuditMessage a="x>y"><B/><![CDATA[</AuditMessage>]]></AuditMessage>\n<?xml version="1.0"?><AuditMessage/>\n';
    const file = await writeInput('two.xml', xml);
    const records = await collect(file);
    assert.equal(records.length, 2);
    assert.ok(records[0]?.text.endsWith(']]></AuditMessage>'));
    assert.equal(records[1]?.line, 4);
    assert.equal(records[1]?.text, '<?xml version="1.0"?><AuditMessage/>');
  });

  it('treats syslog priorities as lines', async () => {
    const records = await collect(samplePath('identity/crowdsec_opnsense-sshd.log'));
    assert.equal(records.length, 10);
  });

  it('reads Event Viewer XML as one document', async () => {
    const records = await collect(samplePath('identity/crowdsec_windows-logs.log'));
    assert.equal(records.length, 1);
    assert.ok(records[0]?.text.startsWith('- <Event'));
  });

  it('handles the CRLF XML sample', async () => {
    const records = await collect(samplePath('pacs/openatna_Registry-ITI-18.xml'));
    assert.equal(records.length, 1);
    assert.ok(decodeRecord(records[0] as SizedRawRecord, CONTEXT).ok);
  });

  it('flags an oversized line and continues', async () => {
    const file = await writeInput('big.log', `short\n${'x'.repeat(5000)}\nafter\n`);
    const records = await collect(file, { maxRecordBytes: 1000 });
    assert.equal(records.length, 3);
    assert.equal(records[1]?.oversizeBytes, 5000);
    assert.equal(records[1]?.text.length, 1000);
    assert.equal(records[1]?.line, 2);
    assert.equal(records[2]?.text, 'after');
    assert.equal(records[2]?.line, 3);
    const result = decodeRecord(records[1] as SizedRawRecord, CONTEXT);
    assert.equal(result.ok ? '' : result.reason, 'too_large');
  });

  it('flags an oversized document', async () => {
    const big = `{\n "pad": "${'y'.repeat(3000)}"\n}\n{\n "n": 2\n}\n`;
    const records = splitInChunks(Buffer.from(big), 64, 1000);
    assert.equal(records.length, 2);
    assert.equal(records[0]?.oversizeBytes, 3014);
    assert.equal(records[0]?.text.length, 1000);
    assert.equal(records[1]?.line, 4);
    assert.equal(JSON.parse(records[1]?.text ?? '').n, 2);
  });

  it('gives the same records for any chunk size', async () => {
    for (const sample of ['identity/crowdsec_sshd-logs.log', 'ehr/gematik-erp_2025-01-15_07_response_getAuditEvent.json', 'pacs/openatna_partid.xml']) {
      const bytes = await readFile(samplePath(sample));
      const whole = splitInChunks(bytes, bytes.length);
      for (const size of [1, 7, 4096]) {
        assert.deepEqual(
          splitInChunks(bytes, size).map((record) => [record.text, record.line, record.offset]),
          whole.map((record) => [record.text, record.line, record.offset]),
          `${sample} in chunks of ${size}`,
        );
      }
    }
  });

  it('copies the configured format', async () => {
    const file = await writeInput('fmt.log', 'line\n');
    const [record] = await collect(file, { format: 'syslog' });
    assert.equal(record?.format, 'syslog');
  });

  it('rejects a missing file', async () => {
    await assert.rejects(collect(path.join(directory, 'missing.log')), (error) => {
      assert.ok(isHolterError(error));
      assert.equal(error.code, 'HOLTER_INPUT_NOT_FOUND');
      assert.match(error.message, /missing\.log/);
      return true;
    });
  });

  it('rejects a bad maxRecordBytes', () => {
    assert.throws(() => new RecordSplitter('x', 0), /maxRecordBytes must be a positive integer/);
  });
});

describe('file source encoding', () => {
  it('flags invalid UTF-8 and keeps later offsets', async () => {
    const bytes = Buffer.concat([Buffer.from('first\n'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0xff]), Buffer.from(' user\r\nZoë 患者 😀\n')]);
    const file = await writeInput('latin1.log', bytes);
    const records = await collect(file);

    assert.equal(records.length, 3);
    assert.equal(records[0]?.invalidUtf8, undefined);
    assert.equal(records[1]?.line, 2);
    assert.equal(records[1]?.offset, 6);
    assert.equal(records[1]?.invalidUtf8?.offset, 3);
    assert.deepEqual(records[1]?.invalidUtf8?.bytes, bytes.subarray(6, 16), 'the exact bytes, without the CRLF');
    assert.equal(records[2]?.line, 3);
    assert.equal(records[2]?.offset, 18);
    assert.equal(records[2]?.text, 'Zoë 患者 😀');
    assert.equal(records[2]?.invalidUtf8, undefined);
  });

  it('dead-letters invalid UTF-8 as invalid_utf8', async () => {
    const file = await writeInput('latin1-decode.log', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0xff, 0x0a]));
    const [record] = await collect(file);
    const result = decodeRecord(record as SizedRawRecord, CONTEXT);

    assert.equal(result.ok, false);
    assert.equal(result.ok ? '' : result.reason, 'invalid_utf8');
    assert.match(result.ok ? '' : result.message, /first invalid byte sequence starts at byte 3 of the record/);
    assert.match(result.ok ? '' : result.message, /iconv/);
  });

  it('dead-letters invalid UTF-8 before format checks', async () => {
    const file = await writeInput('latin1-syslog.log', Buffer.concat([Buffer.from('Jan  1 10:00:00 host sshd[1]: Accepted password for caf'), Buffer.from([0xe9, 0x0a])]));
    const [record] = await collect(file, { format: 'syslog' });
    const result = decodeRecord(record as SizedRawRecord, CONTEXT);

    assert.equal(result.ok ? '' : result.reason, 'invalid_utf8');
  });

  it('flags a sequence cut off by the end', async () => {
    const file = await writeInput('cut.log', Buffer.from([0x61, 0x62, 0x63, 0xe2, 0x82]));
    const [record] = await collect(file);

    assert.equal(record?.invalidUtf8?.offset, 3);
    assert.deepEqual(record?.invalidUtf8?.bytes, Buffer.from([0x61, 0x62, 0x63, 0xe2, 0x82]));
  });

  it('flags invalid UTF-8 inside a JSON document', async () => {
    const bytes = Buffer.concat([Buffer.from('{\n  "user": "caf'), Buffer.from([0xe9]), Buffer.from('"\n}\n{\n  "n": 2\n}\n')]);
    const records = splitInChunks(bytes, bytes.length);

    assert.equal(records.length, 2);
    assert.equal(records[0]?.invalidUtf8?.offset, 16);
    assert.equal(records[1]?.invalidUtf8, undefined);
    assert.equal(records[1]?.offset, 21);
    assert.equal(records[1]?.line, 4);
  });

  it('finds invalid UTF-8 across chunk boundaries', () => {
    const bytes = Buffer.concat([Buffer.from('añb €\n'), Buffer.from([0x78, 0xf0, 0x9f, 0x98]), Buffer.from('\n😀 ok\n')]);
    const whole = splitInChunks(bytes, bytes.length);
    assert.deepEqual(
      whole.map((record) => [record.text, record.offset, record.invalidUtf8?.offset]),
      [
        ['añb €', 0, undefined],
        ['x\uFFFD', 9, 1],
        ['😀 ok', 14, undefined],
      ],
    );
    for (const size of [1, 2, 3]) {
      assert.deepEqual(
        splitInChunks(bytes, size).map((record) => [record.text, record.offset, record.invalidUtf8?.offset, record.invalidUtf8?.bytes]),
        whole.map((record) => [record.text, record.offset, record.invalidUtf8?.offset, record.invalidUtf8?.bytes]),
        `chunks of ${size}`,
      );
    }
  });

  it('skips a UTF-8 byte order mark', async () => {
    const file = await writeInput('bom.log', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('first\nsecond\n')]));
    const records = await collect(file);

    assert.deepEqual(records.map((record) => [record.text, record.line, record.offset]), [
      ['first', 1, 3],
      ['second', 2, 9],
    ]);
    assert.equal(records[0]?.invalidUtf8, undefined);
    const bytes = await readFile(file);
    assert.deepEqual(splitInChunks(bytes, 1).map((record) => record.text), ['first', 'second']);
  });

  it('rejects gzip input with the command', async () => {
    const text = await readFile(samplePath('identity/crowdsec_sshd-logs.log'));
    const file = await writeInput('sshd.log.gz', gzipSync(text));
    await assert.rejects(collect(file), (error) => {
      assert.ok(isHolterError(error));
      assert.equal(error.code, 'HOLTER_INPUT_ENCODING');
      assert.ok(error.message.includes(`is gzip-compressed`), error.message);
      assert.ok(error.message.includes(`gunzip -c ${file} | holter replay -`), error.message);
      return true;
    });
  });

  it('rejects UTF-16 with a byte order mark', async () => {
    const text = await readFile(samplePath('identity/crowdsec_sshd-logs.log'), 'utf8');
    const littleEndian = Buffer.from(`\uFEFF${text}`, 'utf16le');
    const bigEndian = Buffer.from(littleEndian).swap16();
    for (const [name, bytes] of [['sshd-utf16le.log', littleEndian], ['sshd-utf16be.log', bigEndian]] as const) {
      const file = await writeInput(name, bytes);
      await assert.rejects(collect(file), (error) => {
        assert.ok(isHolterError(error));
        assert.equal(error.code, 'HOLTER_INPUT_ENCODING');
        assert.match(error.message, new RegExp(`Input ${file.replaceAll('.', '\\.')} is UTF-16 text`));
        assert.match(error.message, /byte order mark/);
        assert.ok(error.message.includes(`iconv -f UTF-16 -t UTF-8 ${file} > ${file.replace(/\.log$/, '.utf8.log')}`), error.message);
        return true;
      });
    }
  });

  it('rejects UTF-16 without a byte order mark', async () => {
    const file = await writeInput('plain-utf16le.json', Buffer.from('{"resourceType": "AuditEvent"}\n', 'utf16le'));
    await assert.rejects(collect(file), (error) => {
      assert.ok(isHolterError(error));
      assert.match(error.message, /is UTF-16 LE text \(it starts with NUL bytes after its ASCII characters\)/);
      assert.match(error.message, /iconv -f UTF-16LE -t UTF-8/);
      return true;
    });
  });

  it('rejects UTF-16 on standard input', () => {
    const splitter = new RecordSplitter('stdin');
    assert.throws(
      () => splitter.push(Buffer.from('\uFEFFline\n', 'utf16le')),
      (error) => {
        assert.ok(isHolterError(error));
        assert.match(error.message, /^Input stdin is UTF-16 text/);
        assert.match(error.message, /Pipe it through iconv -f UTF-16 -t UTF-8 before holter\./);
        return true;
      },
    );
  });

  it('rejects a short UTF-16 input at its end', () => {
    const splitter = new RecordSplitter('short.log');
    assert.deepEqual(splitter.push(Buffer.from([0xff, 0xfe, 0x61])), []);
    assert.throws(() => splitter.end(), /is UTF-16 text/);
  });
});
