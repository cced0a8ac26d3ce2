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

    try {
      await this.producer.send(this.topic, [{ key: original.key, value: original.value, headers }]);
      return;
    } catch (error) {
      if (!isMessageTooLarge(error) || record.text.length === 0) throw this.failure(record, error);
      this.logger.warn({ topic: this.topic, input: record.input, offset: record.offset, originalBytes: original.value.length }, 'dead-letter record too large for the topic; writing the decoded prefix instead');
    }

    // The record was accepted by its source topic but not by the dead-letter topic: keep what the
    // source read (a prefix for oversized records) and say so in a header.
    const prefix: OutgoingMessage = { key: original.key, value: recordBytes(record), headers: { ...headers, [DEAD_LETTER_HEADERS.truncated]: 'true' } };
    try {
      await this.producer.send(this.topic, [prefix]);
    } catch (error) {
      throw this.failure(record, error);
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
