import type { Logger } from '../../log.js';
import type { KafkaAdminClient } from './client.js';
import type { OwnedPartition } from './source.js';

/** How often `holter run` reads the partitions' end offsets for the lag metric, by default. */
export const DEFAULT_LAG_REFRESH_INTERVAL_MS = 15_000;

export interface ConsumerLag {
  topic: string;
  partition: number;
  /** End offset (high watermark) minus the next offset to process, never below zero. */
  lag: number;
}

export interface ConsumerLagMonitorOptions {
  admin: KafkaAdminClient;
  groupId: string;
  /** The partitions this member owns now, with the next offset to process where the source has one. */
  ownedPartitions: () => OwnedPartition[];
  intervalMs?: number;
  logger: Logger;
}

/**
 * Reads the consumer lag of the owned partitions every `intervalMs` with the admin client. A
 * partition that this member has not read since its assignment falls back to the group's
 * committed offset, and gets no sample while the group has committed nothing for it. When a
 * refresh fails (the brokers are down), the previous samples stay and `refreshedAtMs` stays old,
 * so a stale lag is distinguishable from a current one.
 */
export class ConsumerLagMonitor {
  private current: ConsumerLag[] = [];
  private refreshedAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private connected = false;
  private failing = false;

  constructor(private readonly options: ConsumerLagMonitorOptions) {}

  get lag(): ConsumerLag[] {
    return this.current;
  }

  /** When the latest successful refresh finished, in epoch milliseconds. */
  get refreshedAtMs(): number | undefined {
    return this.refreshedAt;
  }

  start(): void {
    const intervalMs = this.options.intervalMs ?? DEFAULT_LAG_REFRESH_INTERVAL_MS;
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  /** Reads the end offsets once; a refresh still running is joined instead of starting another. */
  refresh(): Promise<void> {
    this.refreshing ??= this.readLag().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.refreshing;
    if (this.connected) await this.options.admin.disconnect().catch(() => undefined);
  }

  private async readLag(): Promise<void> {
    const owned = this.options.ownedPartitions();
    const byTopic = new Map<string, OwnedPartition[]>();
    for (const entry of owned) byTopic.set(entry.topic, [...(byTopic.get(entry.topic) ?? []), entry]);
    try {
      if (!this.connected) {
        await this.options.admin.connect();
        this.connected = true;
      }
      const lag: ConsumerLag[] = [];
      for (const [topic, partitions] of byTopic) {
        const ends = new Map((await this.options.admin.fetchEndOffsets(topic)).map((entry) => [entry.partition, BigInt(entry.offset)]));
        const committed = partitions.some((entry) => entry.nextOffset === undefined)
          ? new Map((await this.options.admin.fetchCommittedOffsets(this.options.groupId, topic)).map((entry) => [entry.partition, BigInt(entry.offset)]))
          : new Map<number, bigint>();
        for (const { partition, nextOffset } of partitions) {
          const end = ends.get(partition);
          const next = nextOffset === undefined ? committed.get(partition) : BigInt(nextOffset);
          if (end === undefined || next === undefined || next < 0n) continue;
          lag.push({ topic, partition, lag: Number(end > next ? end - next : 0n) });
        }
      }
      this.current = lag;
      this.refreshedAt = Date.now();
      if (this.failing) this.options.logger.info({ groupId: this.options.groupId }, 'consumer lag read again after failures');
      this.failing = false;
    } catch (error) {
      // Logged once per run of failures: during a broker outage every refresh fails the same way.
      if (!this.failing) this.options.logger.warn({ groupId: this.options.groupId, err: error }, 'reading the consumer lag failed; the lag metric keeps its last values until a refresh succeeds');
      this.failing = true;
    }
  }
}
