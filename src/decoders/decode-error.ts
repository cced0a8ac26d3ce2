import { HolterError, type ErrorCode } from '../errors.js';
import type { DeadLetterReason } from './types.js';

const CODE_BY_REASON: Record<DeadLetterReason, ErrorCode> = {
  format_unknown: 'HOLTER_DECODE_FORMAT_UNKNOWN',
  invalid_json: 'HOLTER_DECODE_INVALID',
  invalid_xml: 'HOLTER_DECODE_INVALID',
  invalid_syslog: 'HOLTER_DECODE_INVALID',
  missing_field: 'HOLTER_DECODE_INVALID',
  invalid_timestamp: 'HOLTER_DECODE_TIMESTAMP',
  unsupported_resource: 'HOLTER_DECODE_INVALID',
  too_large: 'HOLTER_DECODE_TOO_LARGE',
  invalid_utf8: 'HOLTER_DECODE_INVALID',
  invalid_record: 'HOLTER_DECODE_INVALID',
};

/**
 * A record that cannot become an event. Decoders throw it from deep inside a format and
 * the registry turns it into a dead-letter result, so the message must never quote
 * record content that could be clinical: name the field and the shape instead.
 */
export class DecodeError extends HolterError {
  readonly reason: DeadLetterReason;

  constructor(reason: DeadLetterReason, message: string, options: { cause?: unknown } = {}) {
    super(CODE_BY_REASON[reason], message, options);
    this.name = 'DecodeError';
    this.reason = reason;
  }
}

export function isDecodeError(error: unknown): error is DecodeError {
  return error instanceof DecodeError;
}
