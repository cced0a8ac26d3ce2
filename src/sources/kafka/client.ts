/**
 * The seam between Holter and a Kafka client library. The source, the dead-letter topic and the
 * tests use only these interfaces, so the library behind them (kafkajs today, see
 * kafkajs-client.ts) can change without touching them. Offsets are decimal strings, as Kafka's
 * int64 offsets do not fit a JavaScript number in general.
 */

/** One record as fetched from a partition. */
export interface ConsumedMessage {
  offset: string;
  key: Buffer | null;
  /** Null for a tombstone. */
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Records fetched from one partition, in offset order. */
export interface ConsumedBatch {
  topic: string;
  partition: number;
  messages: ConsumedMessage[];
}

/** What a batch handler may ask of the consumer while it processes a batch. */
export interface BatchControl {
  /** False once `stop` was called: the handler should finish the record in hand and return. */
  isRunning(): boolean;
  /** True when a rebalance took the partition away, so the rest of the batch belongs to another member. */
  isStale(): boolean;
  /** Tells the group coordinator this member is alive; call it during long processing. */
  heartbeat(): Promise<void>;
  /** Marks a record as processed, so the next fetch of this partition starts after it. */
  resolveOffset(offset: string): void;
}

export type BatchHandler = (batch: ConsumedBatch, control: BatchControl) => Promise<void>;

/** Partitions this member owns after a rebalance, by topic. */
export type PartitionAssignment = Record<string, number[]>;

/** Callbacks for consumer lifecycle events other than batches. */
export interface ConsumerEvents {
  /** Called once the consumer stops on an error that the client will not recover from. */
  onCrash: (error: Error) => void;
  /** Called after each join of the group, with the partitions assigned to this member. */
  onAssignment?: (assignment: PartitionAssignment) => void;
  /**
   * Called when this member stops being a member of its group until the next `onAssignment`: a
   * rebalance started, or the client crashed on a retriable error and restarts by itself (`error`
   * is then the crash).
   */
  onMembershipLost?: (cause: 'rebalancing' | 'restarting', error?: Error) => void;
}

/**
 * Facts about an error thrown by a client call, read through wrapping errors. `type` is Kafka's
 * error name (REBALANCE_IN_PROGRESS, NOT_COORDINATOR...) when the broker returned one.
 */
export interface KafkaErrorInfo {
  type?: string;
  /** True when the same call can succeed later: a lost connection, a timeout, a coordinator moving. */
  retriable: boolean;
}

/** A committed position: `offset` is the next record to read, one past the last processed. */
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

export interface ConsumerOptions {
  groupId: string;
  sessionTimeoutMs: number;
  maxBytesPerPartition: number;
  /**
   * False makes the client give up after its retries instead of restarting the consumer, so
   * `onCrash` is called at the first crash. A bounded read (a backtest) then ends rather than
   * waiting for brokers that are gone. Default true.
   */
  restartOnFailure?: boolean;
}

export interface KafkaConsumerClient {
  connect(): Promise<void>;
  subscribe(topics: string[], fromBeginning: boolean): Promise<void>;
  /**
   * Starts fetching and hands each batch to `handler`, one batch at a time. Offsets are never
   * committed automatically. The client reconnects and rejoins by itself after retriable errors,
   * such as a broker restart; `events.onCrash` is called only when it gives up.
   */
  run(handler: BatchHandler, events: ConsumerEvents): Promise<void>;
  /**
   * Makes the next fetch of a partition this member owns start at `offset`. The batch in hand of that
   * partition becomes stale: its handler should stop and leave the rest of it.
   */
  seek(topic: string, partition: number, offset: string): void;
  /**
   * Commits offsets for this member's generation. Call it from the batch handler before `stop`:
   * once stopping, a client may skip the commit without an error (kafkajs 2.2.4 does).
   */
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  /** Classifies an error thrown by `commit` or another call of this client. */
  describeError(error: unknown): KafkaErrorInfo;
  /** Stops fetching and waits for the batch in hand to return. */
  stop(): Promise<void>;
  disconnect(): Promise<void>;
}

export interface OutgoingMessage {
  key?: string | Buffer | null;
  /** Null writes a tombstone, which removes the key from a compacted topic. */
  value: string | Buffer | null;
  headers?: Record<string, string>;
  partition?: number;
}

export interface KafkaProducerClient {
  connect(): Promise<void>;
  /** Resolves once every message is acknowledged by all in-sync replicas. */
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface KafkaAdminClient {
  connect(): Promise<void>;
  /**
   * Creates the topics that do not exist yet, with the given topic configuration (such as
   * `cleanup.policy`); existing ones are left as they are. Resolves once every partition of every
   * topic has a leader, also when another client created the topic a moment earlier.
   */
  createTopics(topics: { name: string; partitions: number; config?: Record<string, string> }[]): Promise<void>;
  /** Committed offsets of a group, by partition; `-1` where the group has committed nothing. */
  fetchCommittedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string }[]>;
  /** Offset of the next record to be written to each partition (the high watermark). */
  fetchEndOffsets(topic: string): Promise<{ partition: number; offset: string }[]>;
  /** Offsets of the oldest record kept (`low`) and of the next record to be written (`high`) in each partition. */
  fetchOffsetRange(topic: string): Promise<{ partition: number; low: string; high: string }[]>;
  /**
   * Offset of the first record of each partition whose timestamp is at or after `timeMs`, or the
   * partition's high watermark when no record is that recent.
   */
  fetchOffsetsAtTime(topic: string, timeMs: number): Promise<{ partition: number; offset: string }[]>;
  /** Names of the topics the brokers know. */
  listTopics(): Promise<string[]>;
  /** Deletes consumer groups that have no members; a group that does not exist is not an error. */
  deleteGroups(groupIds: string[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface KafkaClient {
  consumer(options: ConsumerOptions): KafkaConsumerClient;
  producer(): KafkaProducerClient;
  admin(): KafkaAdminClient;
}
