import kafkajs from 'kafkajs';
import type { Admin, Consumer, KafkaConfig as KafkajsConfig, LogEntry, Producer, SASLOptions } from 'kafkajs';
import type { Logger } from '../../log.js';
import type {
  BatchHandler,
  ConsumerEvents,
  ConsumerOptions,
  KafkaAdminClient,
  KafkaClient,
  KafkaConsumerClient,
  KafkaErrorInfo,
  KafkaProducerClient,
  OutgoingMessage,
  TopicPartitionOffset,
} from './client.js';
import type { KafkaConnectionSettings } from './settings.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

/** Error type of a commit made while the consumer has no group generation (kafkajs restarting it). */
export const NOT_JOINED_ERROR = 'GROUP_NOT_JOINED';

/**
 * The Kafka seam implemented with kafkajs 2.2.4. docs/kafka.md records what was checked against
 * Kafka 4.4: the APIs used here (metadata, produce, fetch, the classic consumer group protocol,
 * offset commit and fetch, create topics, list offsets) all negotiate a version the broker still
 * supports.
 */
export function createKafkajsClient(settings: KafkaConnectionSettings, logger: Logger): KafkaClient {
  const kafka = new Kafka(toKafkajsConfig(settings, logger));
  return {
    consumer: (options) => new KafkajsConsumer(kafka.consumer(toConsumerConfig(options))),
    producer: () => new KafkajsProducer(kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true })),
    admin: () => new KafkajsAdmin(kafka.admin()),
  };
}

function toKafkajsConfig(settings: KafkaConnectionSettings, logger: Logger): KafkajsConfig {
  const config: KafkajsConfig = {
    clientId: settings.clientId,
    brokers: settings.brokers,
    connectionTimeout: settings.connectionTimeoutMs,
    logLevel: logLevel.INFO,
    logCreator: () => {
      const forwarder = new KafkajsLogForwarder(logger);
      return (entry) => forwarder.forward(entry);
    },
  };
  if (settings.tls !== undefined) {
    config.ssl = { ca: settings.tls.ca, cert: settings.tls.cert, key: settings.tls.key, rejectUnauthorized: settings.tls.rejectUnauthorized };
  }
  if (settings.sasl !== undefined) {
    config.sasl = { mechanism: settings.sasl.mechanism, username: settings.sasl.username, password: settings.sasl.password } as SASLOptions;
  }
  return config;
}

function toConsumerConfig(options: ConsumerOptions): Parameters<kafkajs.Kafka['consumer']>[0] {
  return {
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs,
    // kafkajs sends a heartbeat at most this often, when the handler calls heartbeat().
    heartbeatInterval: Math.max(1000, Math.floor(options.sessionTimeoutMs / 10)),
    maxBytesPerPartition: options.maxBytesPerPartition,
    allowAutoTopicCreation: false,
    ...(options.restartOnFailure === false ? { retry: { restartOnFailure: async () => false } } : {}),
  };
}

/** How long repeated connection errors are counted before one summary line is logged. */
export const CONNECTION_ERROR_LOG_INTERVAL_MS = 30_000;

/** kafkajs 2.2.4 messages of a failed connection attempt, which it retries by itself. */
const CONNECTION_ERROR_MESSAGE = /^(Connection error|Connection timeout|Failed to connect to (seed )?broker)/;

export interface KafkajsLogForwarderOptions {
  intervalMs?: number;
  /** Injected by tests; defaults to an unref'd timer, so a pending summary never keeps the process alive. */
  schedule?: (callback: () => void, delayMs: number) => void;
}

/**
 * Sends kafkajs's own log lines to Holter's log, at levels that match what they mean for Holter:
 *
 * - `Response API(...)` lines, which kafkajs logs at error for every error code a broker returns,
 *   go to debug. The caller gets the same error and either retries (a rebalance in progress, a
 *   coordinator not available yet) or handles it (a topic that already exists), and Holter logs
 *   what it cannot handle.
 * - Connection errors, which kafkajs retries, are rate-limited: the first goes to warn, and later
 *   ones are counted and logged as one summary line per interval while they go on.
 * - `Crash` and `Restarting the consumer` go to warn. kafkajs logs a crash before it decides to
 *   restart the consumer, and when it does not, the source fails the run and logs that at error.
 *   So the final give-up still reaches error, once, and a retried crash stays a warning.
 * - INFO lines (joined the group, stopped) are routine for kafkajs but per-rebalance for Holter, so
 *   they go to debug.
 */
export class KafkajsLogForwarder {
  private readonly intervalMs: number;
  private readonly schedule: (callback: () => void, delayMs: number) => void;
  /** Connection errors since the last line logged, while a rate-limit interval is open. */
  private suppressed: { count: number; latest: string } | undefined;

  constructor(
    private readonly logger: Logger,
    options: KafkajsLogForwarderOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? CONNECTION_ERROR_LOG_INTERVAL_MS;
    this.schedule = options.schedule ?? ((callback, delayMs) => setTimeout(callback, delayMs).unref());
  }

  forward(entry: LogEntry): void {
    const { message, error, broker, groupId, topic, partition } = entry.log as Record<string, unknown>;
    const fields = { component: 'kafkajs', kafkajsNamespace: entry.namespace, broker, groupId, topic, partition, err: error };
    const raw = String(message);
    const text = `kafkajs: ${raw}`;
    if (entry.level === logLevel.ERROR || entry.level === logLevel.WARN) {
      if (raw.startsWith('Response ')) return this.logger.debug(fields, text);
      if (CONNECTION_ERROR_MESSAGE.test(raw)) return this.connectionError(fields, text);
      if (raw.startsWith('Crash: ') || raw.startsWith('Restarting the consumer')) return this.logger.warn(fields, text);
    }
    if (entry.level === logLevel.ERROR) this.logger.error(fields, text);
    else if (entry.level === logLevel.WARN) this.logger.warn(fields, text);
    else this.logger.debug(fields, text);
  }

  private connectionError(fields: Record<string, unknown>, text: string): void {
    if (this.suppressed !== undefined) {
      this.suppressed.count++;
      this.suppressed.latest = text;
      return;
    }
    this.logger.warn(fields, `${text} (kafkajs retries; repeats are counted for ${this.intervalMs / 1000} s)`);
    this.suppressed = { count: 0, latest: text };
    this.schedule(() => this.endInterval(), this.intervalMs);
  }

  /** Logs the count of the interval's connection errors, and keeps counting while they go on. */
  private endInterval(): void {
    const suppressed = this.suppressed;
    if (suppressed === undefined) return;
    if (suppressed.count === 0) {
      this.suppressed = undefined;
      return;
    }
    this.logger.warn(
      { component: 'kafkajs', count: suppressed.count, intervalMs: this.intervalMs },
      `kafkajs: ${suppressed.count} more connection errors in the last ${this.intervalMs / 1000} s; latest: ${suppressed.latest.replace(/^kafkajs: /, '')}`,
    );
    this.suppressed = { count: 0, latest: suppressed.latest };
    this.schedule(() => this.endInterval(), this.intervalMs);
  }
}

class KafkajsConsumer implements KafkaConsumerClient {
  constructor(private readonly consumer: Consumer) {}

  connect(): Promise<void> {
    return this.consumer.connect();
  }

  subscribe(topics: string[], fromBeginning: boolean): Promise<void> {
    return this.consumer.subscribe({ topics, fromBeginning });
  }

  async run(handler: BatchHandler, events: ConsumerEvents): Promise<void> {
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      // kafkajs rejoins by itself after retriable errors (restart true); only a final crash ends the run.
      if (!event.payload.restart) events.onCrash(event.payload.error);
      else events.onMembershipLost?.('restarting', event.payload.error);
    });
    const onMembershipLost = events.onMembershipLost;
    if (onMembershipLost !== undefined) {
      this.consumer.on(this.consumer.events.REBALANCING, () => onMembershipLost('rebalancing'));
    }
    const onAssignment = events.onAssignment;
    if (onAssignment !== undefined) {
      this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => onAssignment(event.payload.memberAssignment));
    }
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async (payload) => {
        const batch = {
          topic: payload.batch.topic,
          partition: payload.batch.partition,
          messages: payload.batch.messages.map((message) => ({
            offset: message.offset,
            key: message.key,
            value: message.value,
            headers: headersToStrings(message.headers),
          })),
        };
        await handler(batch, {
          isRunning: payload.isRunning,
          isStale: payload.isStale,
          heartbeat: payload.heartbeat,
          resolveOffset: payload.resolveOffset,
        });
      },
    });
  }

  seek(topic: string, partition: number, offset: string): void {
    this.consumer.seek({ topic, partition, offset });
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    try {
      await this.consumer.commitOffsets(offsets);
    } catch (error) {
      // While kafkajs restarts a crashed consumer (after a broker outage, for example), it has no
      // group generation and rejects commits with this untyped error.
      if (error instanceof Error && error.name === 'KafkaJSNonRetriableError' && /not initialized/.test(error.message)) {
        throw Object.assign(new Error(`The consumer is not in the group while it restarts: ${error.message}`, { cause: error }), { type: NOT_JOINED_ERROR, retriable: false });
      }
      throw error;
    }
  }

  describeError(error: unknown): KafkaErrorInfo {
    return describeKafkajsError(error);
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  disconnect(): Promise<void> {
    return this.consumer.disconnect();
  }
}

/**
 * Reads Kafka's error type and retriability through kafkajs's wrappers. Its internal retrier gives
 * up with KafkaJSNumberOfRetriesExceeded, which is marked not retriable and has no type. The error
 * that ran out of retries is its `cause`, so the innermost error decides.
 */
export function describeKafkajsError(error: unknown): KafkaErrorInfo {
  let current: unknown = error;
  let type: string | undefined;
  let retriable = false;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const candidate = current as { type?: unknown; retriable?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof candidate.type === 'string') type ??= candidate.type;
    retriable = candidate.retriable === true;
    current = candidate.cause ?? candidate.originalError;
  }
  return type === undefined ? { retriable } : { type, retriable };
}

function headersToStrings(headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    // A repeated header keeps its last value, as most Kafka clients' lastHeader() does.
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) result[name] = last.toString();
  }
  return result;
}

class KafkajsProducer implements KafkaProducerClient {
  constructor(private readonly producer: Producer) {}

  connect(): Promise<void> {
    return this.producer.connect();
  }

  async send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    await this.producer.send({ topic, acks: -1, messages });
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }
}

/** How long creating a topic waits until every partition serves requests, and the delay between checks. */
const TOPIC_READY_WAIT_MS = 30_000;
const TOPIC_READY_POLL_MS = 100;

class KafkajsAdmin implements KafkaAdminClient {
  constructor(private readonly admin: Admin) {}

  connect(): Promise<void> {
    return this.admin.connect();
  }

  async createTopics(topics: { name: string; partitions: number; config?: Record<string, string> }[]): Promise<void> {
    await this.admin.createTopics({
      topics: topics.map((topic) => ({
        topic: topic.name,
        numPartitions: topic.partitions,
        configEntries: Object.entries(topic.config ?? {}).map(([name, value]) => ({ name, value })),
      })),
      waitForLeaders: true,
    });
    // kafkajs waits for leaders only of the topics it created. Another member starting at the same
    // moment may have created them a few milliseconds earlier. The metadata then already lists a
    // leader, but the broker is still opening the partition's log and returns NOT_LEADER_OR_FOLLOWER.
    // So the wait lasts until a ListOffsets request succeeds for every partition.
    await this.waitUntilServed(topics.map((topic) => topic.name));
  }

  private async waitUntilServed(names: string[]): Promise<void> {
    const deadline = Date.now() + TOPIC_READY_WAIT_MS;
    for (const name of names) {
      for (;;) {
        try {
          await this.admin.fetchTopicOffsets(name);
          break;
        } catch (error) {
          if (!describeKafkajsError(error).retriable || Date.now() > deadline) throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, TOPIC_READY_POLL_MS));
      }
    }
  }

  async fetchCommittedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string }[]> {
    const [entry] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return (entry?.partitions ?? []).map((partition) => ({ partition: partition.partition, offset: partition.offset }));
  }

  async deleteGroups(groupIds: string[]): Promise<void> {
    try {
      await this.admin.deleteGroups(groupIds);
    } catch (error) {
      // kafkajs reports each group's error in `groups`; a group already gone is what was asked for.
      const groups = (error as { groups?: { groupId: string; error?: { type?: string } }[] }).groups;
      if (groups === undefined || groups.some((group) => group.error !== undefined && group.error.type !== 'GROUP_ID_NOT_FOUND')) throw error;
    }
  }

  async fetchEndOffsets(topic: string): Promise<{ partition: number; offset: string }[]> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.map((entry) => ({ partition: entry.partition, offset: entry.high }));
  }

  async fetchOffsetRange(topic: string): Promise<{ partition: number; low: string; high: string }[]> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.map((entry) => ({ partition: entry.partition, low: entry.low, high: entry.high }));
  }

  fetchOffsetsAtTime(topic: string, timeMs: number): Promise<{ partition: number; offset: string }[]> {
    return this.admin.fetchTopicOffsetsByTimestamp(topic, timeMs);
  }

  listTopics(): Promise<string[]> {
    return this.admin.listTopics();
  }

  disconnect(): Promise<void> {
    return this.admin.disconnect();
  }
}
