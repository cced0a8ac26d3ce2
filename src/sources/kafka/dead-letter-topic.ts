import type { DeadLetterReason, RawRecord } from '../../decoders/types.js';
import { HolterError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { DeadLetterSink } from '../../sinks/dead-letter/writer.js';
import type { KafkaProducerClient, OutgoingMessage } from './client.js';

/** Header names of a dead-letter record. Values are UTF-8 strings. */
export const DEAD_LETTER_HEADERS = {
  reason: 'holter.reason',
  message: 'holter.message',
  sourceTopic: 'holter.source.topic',
  sourcePartition: 'holter.source.partition',
  sourceOffset: 'holter.source.offset',
  format: 'holter.format',
  /** Size of the original value in bytes; set on every record. */
  originalBytes: 'holter.original.bytes',
  /** `true` when the value is a prefix of the original, because the whole did not fit the topic. */
  truncated: 'holter.truncated',
} as const;

/** The bytes a Kafka record carried, kept beside the RawRecord made from it. */
export interface OriginalRecord {
  key: Buffer | null;
  value: Buffer;
}

/**
 * Bytes of the value written when the whole record does not fit the dead-letter topic. Kafka's
 * default max.message.bytes is 1 MiB per record batch, and key and headers need room too; the
 * changelog's chunks stay under the same size.
 */
const PREFIX_BYTES = 900_000;

/**
 * Writes records that cannot be decoded to a dead-letter topic: the original key and value, with
 * headers naming the reason and the source topic, partition and offset. `write` resolves once the
 * broker acknowledged the record, so the source commits the offset only after that.
 */
export class DeadLetterTopic implements DeadLetterSink {
  /** Filled by the source for each record it hands to the pipeline; weak, so processed records are freed. */
  readonly originals = new WeakMap<RawRecord, OriginalRecord>();

  constructor(
    private readonly producer: KafkaProducerClient,
    readonly topic: string,
    private readonly logger: Logger,
  ) {}

  async write(record: RawRecord, reason: DeadLetterReason, message: string): Promise<void> {
    const original = this.originals.get(record) ?? { key: null, value: recordBytes(record) };
    const headers = this.headersFor(record, reason, message, original.value.length);

    // The record was accepted by its source topic, but the dead-letter topic can have a lower
    // limit, and headers add bytes. Each shorter value is marked as cut in a header, so the
    // partition moves on with what fits rather than stopping on this record.
    const values = [original.value];
    if (original.value.length > PREFIX_BYTES) values.push(original.value.subarray(0, PREFIX_BYTES));
    if (original.value.length > 0) values.push(Buffer.alloc(0));
    for (const [index, value] of values.entries()) {
      const sent: Record<string, string> = index === 0 ? headers : { ...headers, [DEAD_LETTER_HEADERS.truncated]: 'true' };
      try {
        await this.producer.send(this.topic, [{ key: original.key, value, headers: sent }]);
        return;
      } catch (error) {
        const shorter = values[index + 1];
        if (!isMessageTooLarge(error) || shorter === undefined) throw this.failure(record, error);
        this.logger.warn(
          { topic: this.topic, input: record.input, offset: record.offset, originalBytes: original.value.length, nextBytes: shorter.length },
          'dead-letter record too large for the topic; writing a shorter prefix instead',
        );
      }
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }

  private headersFor(record: RawRecord, reason: DeadLetterReason, message: string, originalBytes: number): Record<string, string> {
    const { topic, partition } = splitInput(record.input);
    const headers: Record<string, string> = {
      [DEAD_LETTER_HEADERS.reason]: reason,
      [DEAD_LETTER_HEADERS.message]: message,
      [DEAD_LETTER_HEADERS.sourceTopic]: topic,
      [DEAD_LETTER_HEADERS.sourcePartition]: partition,
      [DEAD_LETTER_HEADERS.originalBytes]: String(originalBytes),
    };
    if (record.offset !== undefined) headers[DEAD_LETTER_HEADERS.sourceOffset] = String(record.offset);
    if (record.format !== undefined) headers[DEAD_LETTER_HEADERS.format] = record.format;
    return headers;
  }

  private failure(record: RawRecord, error: unknown): HolterError {
    return new HolterError(
      'HOLTER_KAFKA_DEAD_LETTER',
      `Writing the record at ${record.input} offset ${String(record.offset)} to dead-letter topic ${this.topic} failed: ${(error as Error).message}. Check that the topic exists or can be created, and that Holter may write to it.`,
      { cause: error, retriable: true },
    );
  }
}

/** Splits a Kafka input name, `topic/partition`. Topic names cannot contain `/`. */
export function splitInput(input: string): { topic: string; partition: string } {
  const slash = input.lastIndexOf('/');
  if (slash < 0) return { topic: input, partition: '' };
  return { topic: input.slice(0, slash), partition: input.slice(slash + 1) };
}

/** True for the broker's MESSAGE_TOO_LARGE error (code 10), however the client wrapped it. */
function isMessageTooLarge(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const candidate = current as { type?: unknown; code?: unknown; cause?: unknown; originalError?: unknown };
    if (candidate.type === 'MESSAGE_TOO_LARGE' || candidate.code === 10) return true;
    current = candidate.originalError ?? candidate.cause;
  }
  return false;
}

/** The bytes the source read: kept as they were when they are not valid UTF-8, so nothing is lost. */
function recordBytes(record: RawRecord): Buffer {
  return record.invalidUtf8?.bytes ?? Buffer.from(record.text, 'utf8');
}
