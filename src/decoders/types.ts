import type { HolterEvent } from '../event.js';

/**
 * One record as read from an input, before decoding. A record is one line for
 * line-oriented inputs, or one whole document (a JSON file, an XML message).
 */
export interface RawRecord {
  /** Input name: a file path, `stdin`, or `topic/partition` for Kafka. */
  input: string;
  text: string;
  /** 1-based line number of the record's first line, for line-oriented inputs. */
  line?: number;
  /** Byte offset of the record in the input, or the Kafka offset. */
  offset?: number;
  /** Format set for the input by the user; when absent the format is detected per record. */
  format?: string;
  /** Set when the source cut the record because it exceeded the maximum size: its full size in bytes. */
  oversizeBytes?: number;
  /** Set with `oversizeBytes`: the maximum record size the source enforced, in bytes. */
  maxRecordBytes?: number;
  /** Set when the record's bytes are not valid UTF-8. `text` then has U+FFFD in place of each invalid sequence. */
  invalidUtf8?: InvalidUtf8;
}

/** The bytes of a record that is not valid UTF-8, kept because its text cannot give them back. */
export interface InvalidUtf8 {
  bytes: Buffer;
  /** Offset of the first invalid byte sequence, in bytes from the record's first byte. */
  offset: number;
}

/** Settings every decoder may need. */
export interface DecodeContext {
  /** IANA zone used for time stamps written without an offset (syslog, Keycloak, NXLog EventTime). */
  defaultTimeZone: string;
  /** Reference time for syslog lines without a year (RFC 3164): the year is chosen so the time is not in the future. */
  now: Date;
  /** Generic JSON mappings, by format name (see src/decoders/generic.ts). */
  genericMappings?: Record<string, GenericMapping>;
}

export interface GenericMapping {
  /** Path of the time stamp field in the source record. */
  timestamp: string;
  /** Optional format of the time stamp: `iso` (default), `epoch_seconds`, `epoch_millis`, or a luxon format string. */
  timestampFormat?: string;
  /** Target ECS or holter.* path -> source path. */
  fields: Record<string, string>;
  /** Constant values for target paths (e.g. event.dataset). */
  constants?: Record<string, unknown>;
}

export type DecodeResult =
  | { ok: true; events: HolterEvent[] }
  | { ok: false; reason: DeadLetterReason; message: string };

/** Bounded set of reasons a record is dead-lettered; used as a metric label and a summary key. */
export type DeadLetterReason =
  | 'format_unknown'
  | 'invalid_json'
  | 'invalid_xml'
  | 'invalid_syslog'
  | 'missing_field'
  | 'invalid_timestamp'
  | 'unsupported_resource'
  | 'too_large'
  | 'invalid_utf8'
  | 'invalid_record';

export interface Decoder {
  /** Format name used in configuration and `--format` (e.g. `fhir`, `dicom-audit`, `okta`). */
  readonly format: string;
  /** True when the record is unambiguously of this format. Must be cheap: called per record during detection. */
  detect(record: RawRecord): boolean;
  decode(record: RawRecord, context: DecodeContext): DecodeResult;
}
