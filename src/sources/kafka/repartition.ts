import type { DecodeResult, DeadLetterReason, RawRecord } from '../../decoders/types.js';
import { HolterError } from '../../errors.js';
import { getField, type HolterEvent } from '../../event.js';
import type { KafkaProducerClient, OutgoingMessage } from './client.js';
import { splitInput } from './dead-letter-topic.js';

/**
 * Format name of a repartition topic's records: one normalised, enriched event as JSON. The
 * detection step reads them without decoding or enriching again.
 */
export const FORWARDED_EVENT_FORMAT = 'holter.event';

/** Headers of a forwarded event, naming the source record it came from. */
export const FORWARDED_HEADERS = {
  sourceTopic: 'holter.source.topic',
  sourcePartition: 'holter.source.partition',
  sourceOffset: 'holter.source.offset',
  /** Index of the event among those decoded from the source record, from 0. */
  sourceEvent: 'holter.source.event',
} as const;

/**
 * Events are sent once this many bytes are waiting. One produce request then stays well below
 * Kafka's default 1 MiB limit on a partition's record batch, whatever partitions the keys pick.
 */
const SEND_AT_BYTES = 512 * 1024;

/** The pipeline's part in the first step: decoding, enrichment and the dead-letter output. */
export interface RepartitionHost {
  decode(record: RawRecord): DecodeResult;
  enrich(event: HolterEvent): HolterEvent;
  reject(record: RawRecord, reason: DeadLetterReason, message: string): Promise<void>;
  countForwarded(events: number): void;
}

/**
 * The first step when rules group by a field other than the source topic's key. It decodes and
 * enriches source records and writes each event to the repartition topic keyed by that field, so
 * every value of the field is detected in one partition's task. Records that cannot be decoded
 * are dead-lettered here. The caller commits a source offset only after `flush` resolves.
 */
export class Repartitioner {
  private pending: OutgoingMessage[] = [];
  private pendingBytes = 0;
  /** Events written without the field; they go to a partition the client picks. */
  eventsWithoutKey = 0;
  eventsForwarded = 0;

  constructor(
    private readonly producer: KafkaProducerClient,
    readonly topic: string,
    readonly field: string,
    private readonly host: RepartitionHost,
  ) {}

  /** Decodes, enriches and queues the events of one source record, sending when enough are queued. */
  async add(record: RawRecord): Promise<void> {
    const result = this.host.decode(record);
    if (!result.ok) {
      await this.host.reject(record, result.reason, result.message);
      return;
    }

    this.host.countForwarded(result.events.length);
    const { topic, partition } = splitInput(record.input);
    for (const [index, decoded] of result.events.entries()) {
      const event = this.host.enrich(decoded);
      const value = JSON.stringify(event);
      const key = keyOf(getField(event, this.field));
      if (key === null) this.eventsWithoutKey++;
      const headers: Record<string, string> = { [FORWARDED_HEADERS.sourceTopic]: topic, [FORWARDED_HEADERS.sourcePartition]: partition };
      if (record.offset !== undefined) headers[FORWARDED_HEADERS.sourceOffset] = String(record.offset);
      headers[FORWARDED_HEADERS.sourceEvent] = String(index);
      this.pending.push({ key, value, headers });
      this.pendingBytes += value.length + (key?.length ?? 0);
    }
    if (this.pendingBytes >= SEND_AT_BYTES) await this.flush();
  }

  /** Sends the queued events and resolves once all in-sync replicas acknowledged them. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const messages = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    try {
      await this.producer.send(this.topic, messages);
    } catch (error) {
      throw new HolterError('HOLTER_KAFKA_CONSUME', `Writing ${messages.length} events to the repartition topic ${this.topic} failed: ${(error as Error).message}. Check that the topic exists and Holter may write to it; uncommitted source records are processed again on restart.`, {
        cause: error,
        retriable: true,
      });
    }
    this.eventsForwarded += messages.length;
  }
}

/** Position of a forwarded event in its source: `topic/partition`, offset and event index. */
export interface SourcePosition {
  input: string;
  offset: bigint;
  event: number;
}

/** Reads the source position from a forwarded event's headers, or undefined when they lack it. */
export function sourcePositionOf(headers: Record<string, string>): SourcePosition | undefined {
  const topic = headers[FORWARDED_HEADERS.sourceTopic];
  const partition = headers[FORWARDED_HEADERS.sourcePartition];
  const offset = headers[FORWARDED_HEADERS.sourceOffset];
  const event = Number(headers[FORWARDED_HEADERS.sourceEvent] ?? '0');
  if (topic === undefined || partition === undefined || offset === undefined || !/^\d+$/.test(offset) || !Number.isInteger(event)) return undefined;
  return { input: `${topic}/${partition}`, offset: BigInt(offset), event };
}

/** Reads a forwarded event back; a record that is not one is reported with its position. */
export function readForwardedEvent(record: RawRecord): HolterEvent {
  try {
    const event = JSON.parse(record.text) as HolterEvent;
    if (typeof event === 'object' && event !== null && typeof event['@timestamp'] === 'string') return event;
  } catch {
    // Reported below with the record's position.
  }
  throw new HolterError('HOLTER_KAFKA_CONSUME', `The record at ${record.input} offset ${String(record.offset)} is not an event forwarded by Holter. Only Holter may write to the repartition topic.`);
}

/** Returns the partition key for a field value: strings and finite numbers as text, the first of a list; else null. */
function keyOf(value: unknown): string | null {
  const first = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (typeof first === 'string') return first === '' ? null : first;
  if (typeof first === 'number' && Number.isFinite(first)) return String(first);
  return null;
}
