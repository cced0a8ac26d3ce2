import type { HolterEvent } from '../event.js';
import type { JsonObject } from './json.js';
import type { DecodeContext, RawRecord } from './types.js';

/**
 * A decoder as the registry calls it: JSON formats receive the value parsed once by the
 * registry, text formats receive the record text. Both throw DecodeError to dead-letter.
 * src/decoders/index.ts wraps each one as the public `Decoder` interface.
 */
export interface FormatDecoder {
  readonly format: string;
  /** True when a parsed JSON object is unambiguously of this format. Looks at keys only. */
  matchesJson?(value: JsonObject): boolean;
  decodeJson?(value: JsonObject, record: RawRecord, context: DecodeContext): HolterEvent[];
  /**
   * True when a non-JSON text is unambiguously of this format. `text` starts at the first
   * character that is not a byte order mark or whitespace. Looks at a prefix only.
   */
  matchesText?(text: string): boolean;
  decodeText?(text: string, record: RawRecord, context: DecodeContext): HolterEvent[];
}
