import type { Client } from '@elastic/elasticsearch';
import type { Alert } from '../../alerts/types.js';
import { HolterError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { AlertSink, SinkOutcome } from '../types.js';
import { backoffMs, describeRequestError, isRetriableRequestError, isRetriableStatus, shouldLogAttempt } from './retry.js';

export interface ElasticsearchSinkOptions {
  client: Client;
  dataStream: string;
  maxBatchSize: number;
  maxConcurrentRequests: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  logger: Logger;
  /**
   * How long after `watchDrain` the writes still pending are given up, in milliseconds. Without it
   * `watchDrain` never reports.
   */
  drainTimeoutMs?: number;
  /** Injected by tests; defaults to a real timer. */
  sleep?: (ms: number) => Promise<void>;
}

interface PendingWrite {
  alert: Alert;
  resolve: (outcome: SinkOutcome) => void;
  reject: (error: HolterError) => void;
}

interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string };
}

/** Only the parts of the bulk response the sink reads, so large batches stay cheap to parse. */
const BULK_FILTER_PATH = ['errors', 'items.*.status', 'items.*.error.type', 'items.*.error.reason'];

/**
 * Writes alerts to an Elasticsearch data stream with the bulk API: op_type `create` and `_id` =
 * alert id, so an alert raised again (a replay, a restart) gets a 409 and reported as
 * `duplicate` instead of becoming a second document.
 *
 * Writes that arrive while requests are in flight are grouped into the next bulk request, up to
 * `maxBatchSize` alerts and `maxConcurrentRequests` requests. Items answered 429 or 5xx, and whole
 * requests that fail on the connection, a timeout, 429 or 5xx, are retried with backoff until they
 * succeed: `write` stays pending meanwhile, which holds back the source. Other item errors reject
 * that alert's `write` with HOLTER_ELASTICSEARCH_REJECTED.
 *
 * NOTE: a data stream checks `_id` only within its current write index. After a rollover, an alert
 * raised again by a replay of old records is written a second time, into the new backing index.
 */
export class ElasticsearchSink implements AlertSink {
  readonly name = 'elasticsearch';
  private readonly queue: PendingWrite[] = [];
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly sleep: (ms: number) => Promise<void>;
  /** Writes accepted and not settled yet: queued, in a request in flight, or waiting for a retry. */
  private unsettled = 0;

  constructor(private readonly options: ElasticsearchSinkOptions) {
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  write(alert: Alert): Promise<SinkOutcome> {
    this.unsettled++;
    const written = new Promise<SinkOutcome>((resolve, reject) => {
      this.queue.push({ alert, resolve, reject });
      this.startRequests();
    });
    const settled = (): void => {
      this.unsettled--;
    };
    written.then(settled, settled);
    return written;
  }

  /** Writes accepted and not yet indexed or rejected. */
  get pendingWrites(): number {
    return this.unsettled;
  }

  /**
   * Starts the drain timeout of a shutdown. When `drainTimeoutMs` passes with writes still pending,
   * calls `expired` with their number. The writes stay pending and the retries go on, so no
   * checkpoint or offset commit can count those alerts as delivered: the caller is expected to
   * exit, and their records are processed again on the next start. The timer does not keep the
   * process alive.
   */
  watchDrain(expired: (pending: number) => void): void {
    const timeoutMs = this.options.drainTimeoutMs;
    if (timeoutMs === undefined) return;
    const timer = setTimeout(() => {
      if (this.unsettled > 0) expired(this.unsettled);
    }, timeoutMs);
    timer.unref();
  }

  /** Waits for every pending write to settle, then closes the client. */
  async close(): Promise<void> {
    if (this.inFlight > 0 || this.queue.length > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.options.client.close();
  }

  private startRequests(): void {
    while (this.inFlight < this.options.maxConcurrentRequests && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatchSize);
      this.inFlight++;
      void this.deliver(batch).finally(() => {
        this.inFlight--;
        this.startRequests();
        if (this.inFlight === 0 && this.queue.length === 0) this.notifyIdle();
      });
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Sends one batch, retrying what can be retried until every write in it is settled. */
  private async deliver(batch: PendingWrite[]): Promise<void> {
    let remaining = batch;
    let attempt = 0;
    let lastReason = '';

    while (remaining.length > 0) {
      if (attempt > 0) {
        const delayMs = backoffMs(attempt, this.options.initialBackoffMs, this.options.maxBackoffMs);
        if (shouldLogAttempt(attempt)) {
          this.options.logger.warn({ sink: this.name, attempt, delayMs, alerts: remaining.length, reason: lastReason }, 'elasticsearch bulk request failed; retrying');
        }
        await this.sleep(delayMs);
      }
      attempt++;

      let items: BulkItemResult[];
      try {
        items = await this.sendBulk(remaining);
      } catch (error) {
        if (isRetriableRequestError(error)) {
          lastReason = describeRequestError(error);
          continue;
        }
        const failure = new HolterError(
          'HOLTER_SINK_FAILED',
          `The Elasticsearch bulk request to data stream ${this.options.dataStream} failed: ${describeRequestError(error)}. Check sinks.elasticsearch.nodes, the credentials and the privileges (create_doc on the data stream).`,
          { cause: error },
        );
        for (const pending of remaining) pending.reject(failure);
        return;
      }

      if (attempt > 1) this.options.logger.info({ sink: this.name, attempt }, 'elasticsearch bulk request succeeded after retries');
      remaining = this.settleItems(remaining, items);
      if (remaining.length > 0) lastReason = `${remaining.length} items answered 429 or 5xx`;
    }
  }

  private async sendBulk(batch: PendingWrite[]): Promise<BulkItemResult[]> {
    const operations: unknown[] = [];
    for (const pending of batch) {
      operations.push({ create: { _index: this.options.dataStream, _id: pending.alert.event.id } }, pending.alert);
    }
    const response = await this.options.client.bulk({ operations, filter_path: BULK_FILTER_PATH });
    const items = (response.items ?? []).map((item) => {
      const result = item.create ?? Object.values(item)[0];
      return { status: result?.status ?? 0, error: result?.error as BulkItemResult['error'] };
    });
    if (items.length !== batch.length) {
      // Without one item per alert the outcome of each alert is unknown; retrying is safe because of op_type create.
      throw new HolterError('HOLTER_SINK_FAILED', `Elasticsearch returned ${items.length} items for a bulk request of ${batch.length} alerts. Check that nothing between Holter and the cluster rewrites responses.`, { retriable: true });
    }
    return items;
  }

  /** Resolves or rejects each write from its bulk item; returns the writes to retry. */
  private settleItems(batch: PendingWrite[], items: BulkItemResult[]): PendingWrite[] {
    const retry: PendingWrite[] = [];
    batch.forEach((pending, index) => {
      const item = items[index] as BulkItemResult;
      if (item.status >= 200 && item.status < 300) pending.resolve('delivered');
      else if (item.status === 409) pending.resolve('duplicate');
      else if (isRetriableStatus(item.status)) retry.push(pending);
      else pending.reject(this.rejection(pending.alert, item));
    });
    return retry;
  }

  private rejection(alert: Alert, item: BulkItemResult): HolterError {
    const type = item.error?.type ?? 'unknown';
    const reason = safeReason(item.error?.reason);
    this.options.logger.error({ sink: this.name, alertId: alert.event.id, status: item.status, errorType: type }, 'elasticsearch rejected an alert');
    return new HolterError(
      'HOLTER_ELASTICSEARCH_REJECTED',
      `Elasticsearch rejected alert ${alert.event.id} with HTTP ${item.status} ${type}: ${reason}. Run holter setup elasticsearch so the index template matches the alert document.`,
    );
  }
}

/**
 * Elasticsearch's mapping errors quote the offending value ("Preview of field's value"), which can be
 * a user name or a patient token: keep only the text before it.
 */
function safeReason(reason: string | undefined): string {
  if (reason === undefined) return 'no reason given';
  const cut = reason.indexOf("Preview of field's value");
  return (cut >= 0 ? reason.slice(0, cut) : reason).trim().slice(0, 300);
}
