import { severityRank } from '../../alerts/build.js';
import type { Alert } from '../../alerts/types.js';
import { SIGNAL_TAG } from '../../detect/risk/index.js';
import type { Severity } from '../../detect/types.js';
import type { Logger } from '../../log.js';
import type { AlertSink, SinkOutcome } from '../types.js';
import { WebhookOutbox, type PendingPage } from './outbox.js';
import { SIGNATURE_HEADER, signPayload, TIMESTAMP_HEADER } from './sign.js';

export interface WebhookSinkOptions {
  url: string;
  /** Signing secret; without one the request is sent unsigned and a warning is logged once. */
  secret?: string;
  minSeverity: Severity;
  timeoutMs: number;
  maxAttempts: number;
  initialBackoffMs: number;
  /** SQLite file of the durable outbox. */
  outboxPath: string;
  /** How long `close` waits for pending pages before leaving them for the next start. */
  drainTimeoutMs: number;
  logger: Logger;
}

/**
 * The webhook body: the minimum a responder needs to act, and no more. No patient token, no
 * evidence event ids, no record content: the alert id leads to the full alert in the store.
 */
export interface WebhookPayload {
  id: string;
  timestamp: string;
  severity: Severity;
  risk_score: number;
  rule: { id: string; name: string };
  summary: string;
  group_key: Record<string, string>;
  window: { start: string; end: string };
  user?: { id?: string };
  source?: { ip?: string };
}

export function toWebhookPayload(alert: Alert): WebhookPayload {
  const payload: WebhookPayload = {
    id: alert.event.id,
    timestamp: alert['@timestamp'],
    severity: alert.holter.alert.severity,
    risk_score: alert.event.risk_score,
    rule: { id: alert.rule.id, name: alert.rule.name },
    summary: alert.holter.alert.explanation.pagerSummary ?? alert.holter.alert.explanation.summary,
    group_key: withoutPatientFields(alert.holter.alert.group_key),
    window: { start: alert.event.start, end: alert.event.end },
  };
  if (alert.user?.id !== undefined) payload.user = { id: alert.user.id };
  if (alert.source?.ip !== undefined) payload.source = { ip: alert.source.ip };
  return payload;
}

/** Drops patient fields (even tokens) from a group key: a page needs the person and the rule, not the patient. */
function withoutPatientFields(groupKey: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [field, value] of Object.entries(groupKey)) {
    if (!field.startsWith('holter.patient.')) kept[field] = value;
  }
  return kept;
}

type AttemptResult = { kind: 'delivered' } | { kind: 'retry'; reason: string; retryAfterMs?: number } | { kind: 'rejected'; status: number };

/** Pages sent at once. */
const CONCURRENCY = 2;

/**
 * POSTs each alert as signed JSON through a durable outbox: `write` queues the page in SQLite and
 * returns, and a background loop sends it, retrying network errors, timeouts, 408, 429 and 5xx
 * with backoff and jitter. A receiver that is down delays its own pages and nothing else. `close`
 * waits up to the drain timeout; pages still pending stay in the outbox for the next start.
 */
export class WebhookSink implements AlertSink {
  readonly name = 'webhook';
  private readonly outbox: WebhookOutbox;
  private readonly counters = { queued: 0, duplicate: 0, delivered: 0, failed: 0, retried: 0, pending: 0 };
  private loop: Promise<void> | undefined;
  private stopped = false;
  private wakeUp: (() => void) | undefined;

  constructor(private readonly options: WebhookSinkOptions) {
    this.outbox = new WebhookOutbox(options.outboxPath);
    if (options.secret === undefined) {
      options.logger.warn({ sink: 'webhook' }, 'webhook secret not configured; requests are sent unsigned');
    }
    const requeued = this.outbox.requeueExhausted(Date.now());
    if (requeued > 0) options.logger.warn({ sink: 'webhook', pages: requeued }, 'webhook pages that ran out of attempts in an earlier run are sent again');
    const left = this.outbox.pendingCount();
    if (left > 0) {
      this.outbox.retryAllNow(Date.now());
      options.logger.info({ sink: 'webhook', pending: left }, 'webhook pages left by an earlier run are being sent');
      this.startLoop();
    }
  }

  async write(alert: Alert): Promise<SinkOutcome> {
    if (severityRank(alert.holter.alert.severity) < severityRank(this.options.minSeverity)) return 'filtered';
    // Signals feed entity risk; the risk alert they build up pages, they do not page on their own.
    if (alert.tags?.includes(SIGNAL_TAG)) return 'filtered';
    const outcome = this.outbox.enqueue(alert.event.id, JSON.stringify(toWebhookPayload(alert)), Date.now());
    this.counters[outcome]++;
    if (outcome === 'queued') this.startLoop();
    return outcome;
  }

  stats(): Record<string, number> {
    return { ...this.counters };
  }

  /** Waits until the outbox is empty or the drain timeout passes, then stops sending. */
  async close(): Promise<void> {
    const deadline = Date.now() + this.options.drainTimeoutMs;
    while (this.outbox.pendingCount() > 0 && Date.now() < deadline) {
      this.startLoop();
      await new Promise((resolve) => setTimeout(resolve, Math.min(25, Math.max(1, deadline - Date.now()))));
    }
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;

    this.counters.pending = this.outbox.pendingCount();
    if (this.counters.pending > 0) {
      this.options.logger.warn(
        { sink: 'webhook', pending: this.counters.pending, outbox: this.options.outboxPath },
        'webhook receiver did not take every page before the drain timeout; the rest are sent on the next start',
      );
    }
    this.outbox.close();
  }

  private startLoop(): void {
    if (this.stopped) return;
    if (this.loop === undefined) {
      this.loop = this.sendLoop().finally(() => {
        this.loop = undefined;
      });
    }
    this.wakeUp?.();
  }

  /** Sends due pages until none is pending, sleeping until the next retry is due. */
  private async sendLoop(): Promise<void> {
    while (!this.stopped) {
      const pages = this.outbox.due(Date.now(), CONCURRENCY);
      if (pages.length > 0) {
        await Promise.all(pages.map((page) => this.send(page)));
        continue;
      }
      const nextDueMs = this.outbox.nextDueMs();
      if (nextDueMs === undefined) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, nextDueMs - Date.now()));
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  private async send(page: PendingPage): Promise<void> {
    const result = await this.attempt(page.body, page.id);
    const attempts = page.attempts + 1;
    const now = Date.now();

    if (result.kind === 'delivered') {
      this.outbox.markDelivered(page.id, now);
      this.counters.delivered++;
      return;
    }
    if (result.kind === 'rejected') {
      const reason = `HTTP ${result.status}`;
      this.outbox.markFailed(page, attempts, reason, now, false);
      this.counters.failed++;
      this.options.logger.error(
        { sink: 'webhook', alertId: page.id, status: result.status, code: 'HOLTER_WEBHOOK_REJECTED' },
        "webhook receiver rejected the page; check the receiver's URL, authentication and payload expectations",
      );
      return;
    }
    if (attempts >= this.options.maxAttempts) {
      this.outbox.markFailed(page, attempts, result.reason, now, true);
      this.counters.failed++;
      this.options.logger.error(
        { sink: 'webhook', alertId: page.id, attempts, reason: result.reason, code: 'HOLTER_SINK_FAILED' },
        'webhook delivery failed after the last attempt; check that the receiver is up. The page is sent again at the next start',
      );
      return;
    }

    const delayMs = result.retryAfterMs ?? this.backoffMs(attempts);
    this.outbox.reschedule(page.id, attempts, now + delayMs);
    this.counters.retried++;
    this.options.logger.warn({ sink: 'webhook', alertId: page.id, attempt: attempts, delayMs, reason: result.reason }, 'webhook delivery failed; retrying');
  }

  /** Exponential backoff with full jitter, capped at one minute. */
  private backoffMs(attempt: number): number {
    const ceiling = Math.min(60_000, this.options.initialBackoffMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  private async attempt(body: string, alertId: string): Promise<AttemptResult> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'holter-webhook/1', 'x-holter-alert-id': alertId };
    if (this.options.secret !== undefined) {
      const timestamp = Math.floor(Date.now() / 1000);
      headers[TIMESTAMP_HEADER] = String(timestamp);
      headers[SIGNATURE_HEADER] = signPayload(this.options.secret, timestamp, body);
    }

    let response: Response;
    try {
      response = await fetch(this.options.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (error) {
      return { kind: 'retry', reason: describeFetchError(error, this.options.timeoutMs) };
    }
    await response.arrayBuffer().catch(() => undefined);

    if (response.ok) return { kind: 'delivered' };
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      return { kind: 'retry', reason: `HTTP ${response.status}`, retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) };
    }
    return { kind: 'rejected', status: response.status };
  }
}

/** Names a failed request's cause: fetch wraps it (ECONNREFUSED, a DNS error) in a generic TypeError. */
function describeFetchError(error: unknown, timeoutMs: number): string {
  if ((error as Error).name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return `network error: ${cause?.code ?? cause?.message ?? (error as Error).message}`;
}

/** Reads a Retry-After header given in seconds (RFC 9110 also allows a date, which is ignored here). */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, 60_000) : undefined;
}
