import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { test } from 'node:test';
import type { RawRecord } from '../../src/decoders/types.js';
import { detectUnsupportedEncoding, firstInvalidUtf8Offset, setRecordText } from '../../src/sources/encoding.js';

const INVALID_SEQUENCES: [string, number[], number][] = [
  ['lone continuation byte', [0x61, 0x80], 1],
  ['overlong two-byte form', [0xc0, 0x80], 0],
  ['overlong C1 lead', [0xc1, 0xbf], 0],
  ['overlong three-byte form', [0x61, 0xe0, 0x80, 0x80], 1],
  ['encoded surrogate', [0xed, 0xa0, 0x80], 0],
  ['overlong four-byte form', [0xf0, 0x80, 0x80, 0x80], 0],
  ['code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
  ['lead byte F5', [0xf5, 0x80, 0x80, 0x80], 0],
  ['Latin-1 e acute', [0x63, 0x61, 0x66, 0xe9], 3],
  ['three-byte sequence cut short', [0x61, 0x62, 0xe2, 0x82], 2],
  ['bad third byte', [0xe2, 0x82, 0x41], 0],
  ['bad fourth byte', [0xf0, 0x9f, 0x98, 0x41], 0],
  ['invalid after valid emoji', [0xf0, 0x9f, 0x98, 0x80, 0xff], 4],
];

test('UTF-8 offset table of invalid sequences', () => {
  for (const [name, bytes, expected] of INVALID_SEQUENCES) {
    assert.equal(firstInvalidUtf8Offset(Uint8Array.from(bytes)), expected, name);
  }
});

test('UTF-8 offset accepts boundary code points', () => {
  for (const text of ['', 'plain ascii', '\u0080\u07ff', '\u0800\uffff', '\ud7ff\ue000', '\u{10000}\u{10ffff}', 'Zoë 患者 😀']) {
    assert.equal(firstInvalidUtf8Offset(Buffer.from(text, 'utf8')), -1, JSON.stringify(text));
  }
});

test('UTF-8 offset agrees with Node', () => {
  // Deterministic pseudo-random bytes, biased towards UTF-8 lead and continuation bytes.
  let seed = 12345;
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  const strict = new TextDecoder('utf-8', { fatal: true });
  for (let round = 0; round < 5000; round++) {
    const bytes = Buffer.alloc(1 + (next() % 12));
    for (let index = 0; index < bytes.length; index++) {
      const choice = next() % 4;
      if (choice === 0) bytes[index] = next() % 0x80;
      else if (choice === 1) bytes[index] = 0x80 + (next() % 0x40);
      else bytes[index] = 0xc0 + (next() % 0x40);
    }
    const offset = firstInvalidUtf8Offset(bytes);
    assert.equal(offset === -1, isUtf8(bytes), bytes.toString('hex'));
    if (offset === -1) continue;
    // Everything before the offset decodes, and no well-formed sequence of 1 to 4 bytes starts at it.
    assert.doesNotThrow(() => strict.decode(bytes.subarray(0, offset)), bytes.toString('hex'));
    for (let length = 1; length <= 4; length++) assert.equal(isUtf8(bytes.subarray(offset, offset + length)), false, `${bytes.toString('hex')} length ${length}`);
  }
});

test('record text keeps valid UTF-8 alone', () => {
  const record: RawRecord = { input: 'x', text: '' };
  setRecordText(record, Buffer.from('Zoë 患者 😀', 'utf8'));
  assert.equal(record.text, 'Zoë 患者 😀');
  assert.equal(record.invalidUtf8, undefined);
});

test('record text copies invalid bytes', () => {
  const chunk = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0xff, 0x0a]);
  const record: RawRecord = { input: 'x', text: '' };
  setRecordText(record, chunk.subarray(0, 5));
  chunk.fill(0);

  assert.equal(record.text, 'caf\uFFFD\uFFFD');
  assert.deepEqual(record.invalidUtf8, { bytes: Buffer.from([0x63, 0x61, 0x66, 0xe9, 0xff]), offset: 3 });
});

test('encoding detection by byte order mark', () => {
  assert.equal(detectUnsupportedEncoding(Uint8Array.from([0xff, 0xfe, 0x61, 0x00]))?.iconvName, 'UTF-16');
  assert.equal(detectUnsupportedEncoding(Uint8Array.from([0xfe, 0xff, 0x00, 0x61]))?.iconvName, 'UTF-16');
  assert.equal(detectUnsupportedEncoding(Uint8Array.from([0xff, 0xfe, 0x00, 0x00, 0x61, 0x00, 0x00, 0x00]))?.iconvName, 'UTF-32');
  assert.equal(detectUnsupportedEncoding(Uint8Array.from([0x00, 0x00, 0xfe, 0xff, 0x00, 0x00, 0x00, 0x61]))?.iconvName, 'UTF-32');
});

test('encoding detection by NUL bytes', () => {
  assert.equal(detectUnsupportedEncoding(Buffer.from('<14>Jan  1 host sshd', 'utf16le'))?.iconvName, 'UTF-16LE');
  assert.equal(detectUnsupportedEncoding(Buffer.from('<14>Jan  1 host sshd', 'utf16le').swap16())?.iconvName, 'UTF-16BE');
});

test('encoding detection passes UTF-8 text', () => {
  for (const text of ['\uFEFF{"a": 1}', 'Jan  1 10:00:00 host sshd[1]: ok', 'ab', '患者 Zoë']) {
    assert.equal(detectUnsupportedEncoding(Buffer.from(text, 'utf8')), undefined, JSON.stringify(text));
  }
  assert.equal(detectUnsupportedEncoding(Buffer.from('one NUL\u0000 in a UTF-8 line', 'utf8')), undefined);
});
