import type { HolterEvent } from '../event.js';
import { auditdDecoder } from './auditd.js';
import { DecodeError, isDecodeError } from './decode-error.js';
import { dicomAuditDecoder } from './dicom.js';
import { entraDecoder } from './entra.js';
import { fhirDecoder } from './fhir.js';
import type { FormatDecoder } from './format-decoder.js';
import { decodeGeneric } from './generic.js';
import { describeShape, isObject, type JsonObject } from './json.js';
import { keycloakDecoder } from './keycloak.js';
import { oktaDecoder } from './okta.js';
import { osqueryDecoder } from './osquery.js';
import { syslogDecoder } from './syslog-auth.js';
import type { DecodeContext, DecodeResult, Decoder, RawRecord } from './types.js';
import { windowsDecoder } from './windows.js';

/**
 * The decoder registry: detects a record's format (unless the input sets one) and decodes
 * it into normalised events, or into a dead-letter result with a bounded reason.
 *
 * JSON is parsed once per record here and the parsed value is handed to the decoder.
 * Decoder bugs (errors other than DecodeError) propagate from here; the pipeline logs them
 * as errors and dead-letters the record, so the stream goes on and the bug is still seen.
 */

/** A record as the file source yields it; kept as a name for RawRecord, which carries `oversizeBytes`. */
export type SizedRawRecord = RawRecord;

/** JSON decoders in detection order. Each looks for keys no other format has. */
const JSON_DECODERS: FormatDecoder[] = [windowsDecoder, fhirDecoder, oktaDecoder, entraDecoder, keycloakDecoder, osqueryDecoder];

/** Text decoders in detection order: syslog-wrapped DICOM audit before plain syslog. */
const TEXT_DECODERS: FormatDecoder[] = [dicomAuditDecoder, fhirDecoder, windowsDecoder, keycloakDecoder, auditdDecoder, syslogDecoder];

const DECODERS_BY_FORMAT = new Map<string, FormatDecoder>(
  [...JSON_DECODERS, ...TEXT_DECODERS].map((decoder) => [decoder.format, decoder]),
);

/** Names of the built-in formats, plus the generic mappings configured in `context`. */
export function listFormats(context?: Pick<DecodeContext, 'genericMappings'>): string[] {
  return [...DECODERS_BY_FORMAT.keys(), ...Object.keys(context?.genericMappings ?? {})];
}

/** Detects the format of one record, or returns undefined when no decoder recognises it. */
export function detectFormat(record: RawRecord): string | undefined {
  const text = skipLeadingSpace(record.text);
  if (isJsonStart(text)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined;
    }
    return detectJson(value)?.format;
  }
  return detectText(text)?.format;
}

/**
 * Decodes one record. Every DecodeError becomes `{ ok: false, reason, message }`; any other
 * error is a decoder bug and propagates.
 */
export function decodeRecord(record: RawRecord, context: DecodeContext): DecodeResult {
  try {
    return { ok: true, events: decodeOrThrow(record, context) };
  } catch (error) {
    if (isDecodeError(error)) return { ok: false, reason: error.reason, message: error.message };
    throw error;
  }
}

/** Returns the public `Decoder` interface for one built-in format, or undefined for an unknown name. */
export function getDecoder(format: string): Decoder | undefined {
  if (!DECODERS_BY_FORMAT.has(format)) return undefined;
  return {
    format,
    detect: (record) => detectFormat(record) === format,
    decode: (record, context) => decodeRecord({ ...record, format }, context),
  };
}

function decodeOrThrow(record: SizedRawRecord, context: DecodeContext): HolterEvent[] {
  if (record.oversizeBytes !== undefined) {
    const limit = record.maxRecordBytes === undefined ? "the input's maximum record size" : `the maximum record size of ${record.maxRecordBytes} bytes`;
    throw new DecodeError(
      'too_large',
      `The record is ${record.oversizeBytes} bytes, more than ${limit}; raise decode.max_record_bytes in the configuration or split the record.`,
    );
  }

  if (record.invalidUtf8 !== undefined) {
    throw new DecodeError(
      'invalid_utf8',
      `The record is not valid UTF-8: its first invalid byte sequence starts at byte ${record.invalidUtf8.offset} of the record. Convert the input to UTF-8 (for example iconv -f WINDOWS-1252 -t UTF-8) or have the producer write UTF-8, then replay the record. The dead-letter entry keeps its original bytes.`,
    );
  }

  const text = skipLeadingSpace(record.text);
  if (record.format !== undefined) return decodeAs(record.format, text, record, context);

  if (isJsonStart(text)) {
    const value = parseJson(text);
    const decoder = detectJson(value);
    if (!decoder) {
      throw new DecodeError('format_unknown', `No decoder recognises ${describeShape(value)}; set the input's format (--format, or kafka.topics[].format for a topic).`);
    }
    return decodeJsonValue(decoder, value, record, context);
  }

  const decoder = detectText(text);
  if (!decoder?.decodeText) {
    throw new DecodeError('format_unknown', `No decoder recognises ${describeText(text)}; set the input's format (--format, or kafka.topics[].format for a topic).`);
  }
  return decoder.decodeText(text, record, context);
}

function decodeAs(format: string, text: string, record: RawRecord, context: DecodeContext): HolterEvent[] {
  const mapping = context.genericMappings?.[format];
  if (mapping) {
    const value = parseJson(text);
    if (!isObject(value)) throw new DecodeError('invalid_record', `Format "${format}" expects a JSON object, but the record is ${describeShape(value)}.`);
    return decodeGeneric(format, mapping, value, record, context);
  }

  const decoder = DECODERS_BY_FORMAT.get(format);
  if (!decoder) {
    throw new DecodeError('format_unknown', `Format "${format}" is not known; use one of: ${listFormats(context).join(', ')}.`);
  }
  if (isJsonStart(text) && decoder.decodeJson) return decodeJsonValue(decoder, parseJson(text), record, context);
  if (decoder.decodeText) return decoder.decodeText(text, record, context);
  if (decoder.decodeJson) return decodeJsonValue(decoder, parseJson(text), record, context);
  throw new DecodeError('invalid_record', `Format "${format}" cannot decode ${describeText(text)}.`);
}

/** A JSON array decodes element by element with one decoder (the Okta API returns arrays of LogEvents). */
function decodeJsonValue(decoder: FormatDecoder, value: unknown, record: RawRecord, context: DecodeContext): HolterEvent[] {
  const items = Array.isArray(value) ? value : [value];
  const events: HolterEvent[] = [];
  for (const item of items) {
    if (!isObject(item) || !decoder.decodeJson) {
      throw new DecodeError('invalid_record', `Format "${decoder.format}" expects JSON objects, but the record contains ${describeShape(item)}.`);
    }
    events.push(...decoder.decodeJson(item, record, context));
  }
  return events;
}

function detectJson(value: unknown): FormatDecoder | undefined {
  if (Array.isArray(value)) {
    const first = value[0];
    const decoder = isObject(first) ? detectJsonObject(first) : undefined;
    if (decoder && value.every((item) => isObject(item) && detectJsonObject(item) === decoder)) return decoder;
    return undefined;
  }
  return isObject(value) ? detectJsonObject(value) : undefined;
}

function detectJsonObject(value: JsonObject): FormatDecoder | undefined {
  return JSON_DECODERS.find((decoder) => decoder.matchesJson?.(value));
}

function detectText(text: string): FormatDecoder | undefined {
  return TEXT_DECODERS.find((decoder) => decoder.matchesText?.(text));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // V8's message names the position and the unexpected token, but may quote a few record
    // characters, so only the position is kept.
    const position = /position (\d+)/.exec(String((error as Error).message))?.[1];
    const where = position === undefined ? 'at its end' : `at character ${position}`;
    throw new DecodeError(
      'invalid_json',
      `The record is not valid JSON (parsing stopped ${where}); check that it is complete and not cut off.`,
    );
  }
}

function isJsonStart(text: string): boolean {
  const first = text.charCodeAt(0);
  return first === 123 || first === 91; // '{' or '['
}

/** Skips a byte order mark and leading whitespace without copying when there is none. */
function skipLeadingSpace(text: string): string {
  let start = 0;
  while (start < text.length) {
    const code = text.charCodeAt(start);
    if (code !== 0xfeff && code !== 32 && code !== 9 && code !== 10 && code !== 13) break;
    start++;
  }
  return start === 0 ? text : text.slice(start);
}

/** Names the shape of a non-JSON text without quoting it, for dead-letter messages. */
function describeText(text: string): string {
  if (text.length === 0) return 'an empty record';
  const first = text[0] as string;
  let start = 'punctuation';
  if (first === '<') start = '"<" (XML or a syslog priority)';
  else if (/\d/.test(first)) start = 'a digit';
  else if (/\p{L}/u.test(first)) start = 'a letter';
  const lines = text.split('\n', 3).length;
  return `a ${text.length}-character text${lines > 1 ? ' of several lines' : ''} starting with ${start}`;
}
