import type { SizedRawRecord } from '../decoders/index.js';
import { compressedInputError, detectUnsupportedEncoding, setRecordText, unsupportedEncodingError } from './encoding.js';

/** Bytes read before an input's encoding is judged: the longest magic number checked (xz). */
const MAGIC_BYTES = 6;

/**
 * Splits a byte stream into records, keeping each record's byte offset and first line:
 * - text lines (syslog, Keycloak, auditd, NDJSON): one record per line, CRLF or LF, blank
 *   lines skipped, a last line without a newline kept;
 * - JSON documents (one pretty-printed document, or several one after another): one record
 *   per top-level value, found by tracking brackets outside strings;
 * - XML documents: one record per document, ending where the root element closes.
 *
 * The input must be UTF-8. Its first bytes are checked before any record, and a UTF-8 byte order
 * mark is skipped. UTF-16 or UTF-32, known by a byte order mark or by NUL bytes between ASCII
 * characters, is rejected with a HolterError naming the iconv command that converts it. A record
 * whose bytes are not valid UTF-8 carries `invalidUtf8`, so the decode stage dead-letters it as
 * `invalid_utf8` with its exact bytes.
 *
 * The mode is chosen from the first bytes that are not a byte order mark or whitespace:
 * `{`/`[` is JSON, `<` not followed by a digit (a syslog priority) or Event Viewer's `- <`
 * is XML, anything else is lines. A JSON file whose first value ends on its first line is
 * NDJSON and switches to lines, so one truncated line cannot swallow the lines after it.
 *
 * Records larger than `maxRecordBytes` are cut to that size and carry `oversizeBytes`, the
 * full size, so the decode stage dead-letters them as `too_large`. Memory stays bounded by
 * the limit plus one read chunk.
 */

type Mode = 'undecided' | 'lines' | 'json' | 'xml';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

export class RecordSplitter {
  private mode: Mode = 'undecided';
  /** Unconsumed bytes; `pending[0]` is at file offset `pendingOffset`, on line `pendingLine`. */
  private pending: Buffer = Buffer.alloc(0);
  private pendingOffset = 0;
  private pendingLine = 1;
  private encodingChecked = false;

  /** Bytes already dropped from an oversized record, and its kept prefix. */
  private overflowBytes = 0;
  private overflowPrefix: Buffer | undefined;
  private overflowStartOffset = 0;

  private readonly document = new DocumentScanner();
  private scanIndex = 0;
  private recordStart = -1;
  private recordLine = 0;
  private firstJsonRecord = true;

  constructor(
    private readonly input: string,
    private readonly maxRecordBytes = DEFAULT_MAX_RECORD_BYTES,
  ) {
    if (!Number.isInteger(maxRecordBytes) || maxRecordBytes <= 0) {
      throw new RangeError(`maxRecordBytes must be a positive integer, got ${String(maxRecordBytes)}`);
    }
  }

  /** Adds bytes and returns the records they complete. */
  push(chunk: Buffer): SizedRawRecord[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (!this.encodingChecked && !this.checkEncoding(false)) return [];
    return this.drain(false);
  }

  /** Returns the last record, if the input did not end with a newline or closing bracket. */
  end(): SizedRawRecord[] {
    if (!this.encodingChecked) this.checkEncoding(true);
    return this.drain(true);
  }

  /**
   * Rejects compressed, UTF-16 and UTF-32 input and skips a UTF-8 byte order mark. Returns false
   * while fewer than MAGIC_BYTES have arrived.
   */
  private checkEncoding(atEnd: boolean): boolean {
    if (this.pending.length < MAGIC_BYTES && !atEnd) return false;
    this.encodingChecked = true;

    const compressed = compressedInputError(this.input, this.pending);
    if (compressed !== undefined) throw compressed;
    const unsupported = detectUnsupportedEncoding(this.pending);
    if (unsupported !== undefined) throw unsupportedEncodingError(this.input, unsupported);
    if (this.pending[0] === 0xef && this.pending[1] === 0xbb && this.pending[2] === 0xbf) this.consume(3);
    return true;
  }

  private drain(atEnd: boolean): SizedRawRecord[] {
    if (this.mode === 'undecided' && !this.decideMode(atEnd)) return [];
    const records: SizedRawRecord[] = [];
    for (;;) {
      const record = this.mode === 'lines' ? this.nextLine(atEnd) : this.nextDocument(atEnd);
      if (record === undefined) return records;
      records.push(record);
    }
  }

  private decideMode(atEnd: boolean): boolean {
    let i = 0;
    while (i < this.pending.length && isSpace(this.pending[i] as number)) i++;
    if (i + 2 >= this.pending.length && !atEnd) return false;

    const first = this.pending[i];
    const second = this.pending[i + 1];
    const third = this.pending[i + 2];
    if (first === 0x7b || first === 0x5b) this.mode = 'json';
    else if (first === 0x3c && !(second !== undefined && second >= 0x30 && second <= 0x39)) this.mode = 'xml';
    else if (first === 0x2d && second === 0x20 && third === 0x3c) this.mode = 'xml';
    else this.mode = 'lines';
    return true;
  }

  private nextLine(atEnd: boolean): SizedRawRecord | undefined {
    for (;;) {
      const newline = this.pending.indexOf(NEWLINE);
      if (newline < 0) {
        if (!atEnd) {
          this.limitPendingLine();
          return undefined;
        }
        if (this.pending.length === 0 && this.overflowPrefix === undefined) return undefined;
        return this.takeLine(this.pending.length, 0);
      }
      const record = this.takeLine(newline, 1);
      if (record !== undefined) return record;
    }
  }

  /** Keeps a line that has not ended yet from growing past the limit. */
  private limitPendingLine(): void {
    if (this.overflowPrefix === undefined && this.pending.length > this.maxRecordBytes) {
      this.overflowPrefix = Buffer.from(this.pending.subarray(0, this.maxRecordBytes));
      this.overflowStartOffset = this.pendingOffset;
      this.overflowBytes = this.pending.length;
      this.dropWithoutLineCount(this.pending.length);
    } else if (this.overflowPrefix !== undefined) {
      this.overflowBytes += this.pending.length;
      this.dropWithoutLineCount(this.pending.length);
    }
  }

  /** Takes bytes [0, length) as one line plus `terminator` bytes; returns undefined for blank lines. */
  private takeLine(length: number, terminator: number): SizedRawRecord | undefined {
    const offset = this.overflowPrefix === undefined ? this.pendingOffset : this.overflowStartOffset;
    const line = this.pendingLine;
    let bytes = this.pending.subarray(0, length);
    let totalBytes = length;
    if (this.overflowPrefix !== undefined) {
      totalBytes += this.overflowBytes;
      bytes = this.overflowPrefix;
      this.overflowPrefix = undefined;
      this.overflowBytes = 0;
    }
    if (bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN && totalBytes <= this.maxRecordBytes) {
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    if (bytes.length > this.maxRecordBytes) bytes = bytes.subarray(0, this.maxRecordBytes);
    const blank = isBlank(bytes) && totalBytes <= this.maxRecordBytes;
    const record = blank ? undefined : this.makeRecord(bytes, line, offset, totalBytes);
    this.consume(length + terminator);
    return record;
  }

  private nextDocument(atEnd: boolean): SizedRawRecord | undefined {
    while (this.scanIndex < this.pending.length) {
      const byte = this.pending[this.scanIndex] as number;
      if (this.recordStart < 0 && this.overflowPrefix === undefined) {
        if (isSpace(byte)) {
          this.scanIndex++;
          continue;
        }
        this.startDocument();
      }
      const complete = this.document.feed(byte, this.mode === 'json' ? 'json' : 'xml');
      this.scanIndex++;
      if (complete) return this.finishDocument();
      this.limitPendingDocument();
    }
    if (!atEnd) return undefined;

    if (this.recordStart < 0 && this.overflowPrefix === undefined) {
      this.consume(this.pending.length);
      return undefined;
    }
    return this.finishDocument();
  }

  private startDocument(): void {
    this.consume(this.scanIndex);
    this.scanIndex = 0;
    this.recordStart = 0;
    this.recordLine = this.pendingLine;
    this.document.reset();
  }

  private limitPendingDocument(): void {
    if (this.overflowPrefix === undefined && this.scanIndex > this.maxRecordBytes) {
      this.overflowPrefix = Buffer.from(this.pending.subarray(0, this.maxRecordBytes));
      this.overflowStartOffset = this.pendingOffset;
      this.overflowBytes = 0;
    }
    if (this.overflowPrefix !== undefined && this.scanIndex > 0) {
      this.overflowBytes += this.scanIndex;
      this.consume(this.scanIndex);
      this.scanIndex = 0;
    }
  }

  private finishDocument(): SizedRawRecord {
    const offset = this.overflowPrefix === undefined ? this.pendingOffset : this.overflowStartOffset;
    const totalBytes = this.overflowBytes + this.scanIndex;
    const bytes = this.overflowPrefix ?? this.pending.subarray(0, this.scanIndex);
    const firstLine = this.recordLine;
    const record = this.makeRecord(bytes, firstLine, offset, totalBytes);

    this.consume(this.scanIndex);
    this.scanIndex = 0;
    this.recordStart = -1;
    this.overflowPrefix = undefined;
    this.overflowBytes = 0;

    // A first JSON value that ends on its own first line means one value per line (NDJSON).
    if (this.mode === 'json' && this.firstJsonRecord) {
      this.firstJsonRecord = false;
      if (!record.text.includes('\n')) this.mode = 'lines';
    }
    return record;
  }

  private makeRecord(bytes: Buffer, line: number, offset: number, totalBytes: number): SizedRawRecord {
    const record: SizedRawRecord = { input: this.input, text: '', line, offset };
    setRecordText(record, bytes);
    if (totalBytes > this.maxRecordBytes) {
      record.oversizeBytes = totalBytes;
      record.maxRecordBytes = this.maxRecordBytes;
    }
    return record;
  }

  /** Drops `count` bytes from the front of `pending`, advancing offset and line count. */
  private consume(count: number): void {
    if (count === 0) return;
    const dropped = this.pending.subarray(0, count);
    let newlines = 0;
    let index = dropped.indexOf(NEWLINE);
    while (index >= 0) {
      newlines++;
      index = dropped.indexOf(NEWLINE, index + 1);
    }
    this.pendingLine += newlines;
    this.pendingOffset += count;
    this.pending = this.pending.subarray(count);
  }

  /** Drops bytes of a line that has not ended (they hold no newline). */
  private dropWithoutLineCount(count: number): void {
    this.pendingOffset += count;
    this.pending = this.pending.subarray(count);
  }
}

function isBlank(bytes: Buffer): boolean {
  for (const byte of bytes) {
    if (!isSpace(byte)) return false;
  }
  return true;
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === NEWLINE || byte === CARRIAGE_RETURN;
}

/**
 * Byte-level state machine that finds where a JSON value or an XML document ends. It does
 * not validate: malformed documents are passed on whole for the decoder to reject.
 */
class DocumentScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private started = false;
  /** XML: inside `<...>`, and which kind of markup it is. */
  private markup: 'none' | 'tag' | 'comment' | 'pi' | 'cdata' | 'declaration' = 'none';
  private tagFirst = -1;
  private tagLength = 0;
  private quote = 0;
  private lastBytes = 0;
  private previousByte = 0;

  reset(): void {
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.started = false;
    this.markup = 'none';
    this.tagFirst = -1;
    this.tagLength = 0;
    this.quote = 0;
    this.lastBytes = 0;
    this.previousByte = 0;
  }

  /** Feeds one byte; returns true when it completes the document. */
  feed(byte: number, kind: 'json' | 'xml'): boolean {
    return kind === 'json' ? this.feedJson(byte) : this.feedXml(byte);
  }

  private feedJson(byte: number): boolean {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (byte === 0x5c) this.escaped = true;
      else if (byte === 0x22) this.inString = false;
      return false;
    }
    if (byte === 0x22) this.inString = true;
    else if (byte === 0x7b || byte === 0x5b) this.depth++;
    else if (byte === 0x7d || byte === 0x5d) {
      this.depth--;
      return this.depth <= 0;
    }
    return false;
  }

  private feedXml(byte: number): boolean {
    const previous = this.previousByte;
    const beforePrevious = this.lastBytes;
    this.lastBytes = previous;
    this.previousByte = byte;

    switch (this.markup) {
      case 'comment':
        if (byte === 0x3e && previous === 0x2d && beforePrevious === 0x2d) this.markup = 'none';
        return false;
      case 'cdata':
        if (byte === 0x3e && previous === 0x5d && beforePrevious === 0x5d) this.markup = 'none';
        return false;
      case 'pi':
        if (byte === 0x3e && previous === 0x3f) this.markup = 'none';
        return false;
      case 'declaration':
        if (byte === 0x5b) this.markup = 'cdata';
        else if (byte === 0x2d && previous === 0x2d) this.markup = 'comment';
        else if (byte === 0x3e) this.markup = 'none';
        return false;
      case 'tag':
        return this.feedTag(byte, previous);
      case 'none':
        if (byte === 0x3c) {
          this.markup = 'tag';
          this.tagFirst = -1;
          this.tagLength = 0;
          this.quote = 0;
        }
        return false;
    }
  }

  private feedTag(byte: number, previous: number): boolean {
    this.tagLength++;
    if (this.tagLength === 1) {
      this.tagFirst = byte;
      if (byte === 0x3f) this.markup = 'pi';
      else if (byte === 0x21) this.markup = 'declaration';
      return false;
    }
    if (this.quote !== 0) {
      if (byte === this.quote) this.quote = 0;
      return false;
    }
    if (byte === 0x22 || byte === 0x27) {
      this.quote = byte;
      return false;
    }
    if (byte !== 0x3e) return false;

    this.markup = 'none';
    if (this.tagFirst === 0x2f) {
      this.depth--;
      return this.started && this.depth <= 0;
    }
    // A self-closing element completes the document only when it is the root.
    if (previous === 0x2f) return !this.started;
    this.started = true;
    this.depth++;
    return false;
  }
}
