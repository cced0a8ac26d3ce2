import { isUtf8 } from 'node:buffer';
import path from 'node:path';
import type { RawRecord } from '../decoders/types.js';
import { HolterError } from '../errors.js';

/**
 * Text encodings of inputs. Holter reads UTF-8 only. A record whose bytes are not valid UTF-8 is
 * flagged, so the decode stage dead-letters it with its exact bytes. An input in UTF-16 or UTF-32
 * is rejected before its first record, because every record of it would be dead-lettered.
 */

/** An encoding recognised from an input's first bytes that Holter cannot read. */
export interface UnsupportedEncoding {
  /** Name as iconv spells it. Given `UTF-16` or `UTF-32`, iconv reads the byte order mark. */
  iconvName: 'UTF-16' | 'UTF-16LE' | 'UTF-16BE' | 'UTF-32';
  /** Evidence the name was recognised from, quoted in the error message. */
  evidence: string;
}

/** Bytes of an input's start that the NUL-pattern check looks at. */
const SNIFF_MAX_BYTES = 512;

/**
 * Sets `record.text` from `bytes`. When the bytes are not valid UTF-8, `text` has U+FFFD in place
 * of each invalid sequence and `record.invalidUtf8` keeps a copy of the bytes for the dead letter.
 */
export function setRecordText(record: RawRecord, bytes: Buffer): void {
  record.text = bytes.toString('utf8');
  if (isUtf8(bytes)) return;

  // A copy, because `bytes` is often a view of a whole read chunk that would stay in memory.
  record.invalidUtf8 = { bytes: Buffer.from(bytes), offset: firstInvalidUtf8Offset(bytes) };
}

/**
 * Returns the index of the first byte of the first ill-formed UTF-8 sequence, or -1 when all of
 * `bytes` is well-formed. Overlong forms, surrogates (U+D800 to U+DFFF), code points above
 * U+10FFFF and a sequence cut off by the end of `bytes` are ill-formed, as for node:buffer isUtf8.
 */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let index = 0;
  while (index < bytes.length) {
    const length = wellFormedSequenceLength(bytes, index);
    if (length === 0) return index;
    index += length;
  }
  return -1;
}

/** Returns the length of the well-formed sequence starting at `index`, or 0 when it is ill-formed. */
function wellFormedSequenceLength(bytes: Uint8Array, index: number): number {
  const lead = bytes[index] as number;
  if (lead <= 0x7f) return 1;

  let length: number;
  let secondMin = 0x80;
  let secondMax = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) secondMin = 0xa0;
    else if (lead === 0xed) secondMax = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) secondMin = 0x90;
    else if (lead === 0xf4) secondMax = 0x8f;
  } else {
    return 0;
  }

  if (index + length > bytes.length) return 0;
  const second = bytes[index + 1] as number;
  if (second < secondMin || second > secondMax) return 0;
  for (let next = index + 2; next < index + length; next++) {
    const continuation = bytes[next] as number;
    if (continuation < 0x80 || continuation > 0xbf) return 0;
  }
  return length;
}

/**
 * Recognises UTF-16 and UTF-32 from an input's first bytes: by their byte order mark, or, for
 * UTF-16 without one, by ASCII characters alternating with NUL bytes in at least three of four
 * byte pairs. UTF-16 text that starts with characters outside ASCII and has no byte order mark is
 * not recognised; its records are dead-lettered as invalid_utf8 instead.
 */
export function detectUnsupportedEncoding(head: Uint8Array): UnsupportedEncoding | undefined {
  const [first, second, third, fourth] = head;
  if (first === 0xff && second === 0xfe && third === 0x00 && fourth === 0x00) return { iconvName: 'UTF-32', evidence: 'a UTF-32 little-endian byte order mark' };
  if (first === 0x00 && second === 0x00 && third === 0xfe && fourth === 0xff) return { iconvName: 'UTF-32', evidence: 'a UTF-32 big-endian byte order mark' };
  if (first === 0xff && second === 0xfe) return { iconvName: 'UTF-16', evidence: 'a UTF-16 little-endian byte order mark' };
  if (first === 0xfe && second === 0xff) return { iconvName: 'UTF-16', evidence: 'a UTF-16 big-endian byte order mark' };

  const pairs = Math.floor(Math.min(head.length, SNIFF_MAX_BYTES) / 2);
  if (pairs < 2) return undefined;
  let littleEndian = 0;
  let bigEndian = 0;
  for (let pair = 0; pair < pairs; pair++) {
    const low = head[2 * pair] as number;
    const high = head[2 * pair + 1] as number;
    if (low !== 0 && low <= 0x7f && high === 0) littleEndian++;
    else if (low === 0 && high !== 0 && high <= 0x7f) bigEndian++;
  }
  if (littleEndian * 4 >= pairs * 3) return { iconvName: 'UTF-16LE', evidence: 'NUL bytes after its ASCII characters' };
  if (bigEndian * 4 >= pairs * 3) return { iconvName: 'UTF-16BE', evidence: 'NUL bytes before its ASCII characters' };
  return undefined;
}

/** Builds the error for an input in an encoding Holter cannot read, with the iconv command that converts it. */
export function unsupportedEncodingError(input: string, encoding: UnsupportedEncoding): HolterError {
  const conversion = `iconv -f ${encoding.iconvName} -t UTF-8`;
  const fix =
    input === 'stdin'
      ? `Pipe it through ${conversion} before holter.`
      : `Convert it first, for example: ${conversion} ${shellQuote(input)} > ${shellQuote(utf8Name(input))}`;
  return new HolterError('HOLTER_INPUT_ENCODING', `Input ${input} is ${encoding.iconvName.replace(/(LE|BE)$/, ' $1')} text (it starts with ${encoding.evidence}), but Holter reads UTF-8 only. ${fix}`);
}

/** Compressed formats recognised by their magic bytes, with the command that decompresses to standard output. */
const COMPRESSIONS: { name: string; magic: number[]; command: string }[] = [
  { name: 'gzip', magic: [0x1f, 0x8b], command: 'gunzip -c' },
  { name: 'bzip2', magic: [0x42, 0x5a, 0x68], command: 'bunzip2 -c' },
  { name: 'xz', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], command: 'xz -dc' },
  { name: 'zstd', magic: [0x28, 0xb5, 0x2f, 0xfd], command: 'zstd -dc' },
];

/**
 * Returns HOLTER_INPUT_ENCODING for an input that starts as a compressed file does, naming the
 * command to pipe it through, or undefined. Such input would otherwise become undecodable records.
 */
export function compressedInputError(input: string, head: Uint8Array): HolterError | undefined {
  const compression = COMPRESSIONS.find(({ magic }) => head.length >= magic.length && magic.every((byte, index) => head[index] === byte));
  if (compression === undefined) return undefined;
  const fix = input === 'stdin' ? `Pipe it through ${compression.command} before holter.` : `Decompress it first, for example: ${compression.command} ${shellQuote(input)} | holter replay -`;
  return new HolterError('HOLTER_INPUT_ENCODING', `Input ${input} is ${compression.name}-compressed, and Holter reads plain UTF-8 text only. ${fix}`);
}

/** Names the converted copy of a file: `auth.log` becomes `auth.utf8.log`. */
function utf8Name(file: string): string {
  const parsed = path.parse(file);
  return path.join(parsed.dir, `${parsed.name}.utf8${parsed.ext}`);
}

function shellQuote(value: string): string {
  if (/^[\w./@%+:,-]+$/.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
