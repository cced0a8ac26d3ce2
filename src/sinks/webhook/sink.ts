import { severityRank } from '../../alerts/build.js';
import type { Alert } from '../../alerts/types.js';
import { SIGNAL_TAG } from '../../detect/risk/index.js';
import type { Severity } from '../../detect/types.js';
import { HolterError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { AlertSink, SinkOutcome } from '../types.js';
import { WebhookOutbox, type PendingPage } from './outbox.js';
import { SIGNATURE_HEADER, signPayload, TIMESTAMP_HEADER } from './sign.js';
import { hasUrlCredentials, redactUrlCredentials, URL_CREDENTIALS_ADVICE } from './url.js';

export interface WebhookSinkOptions {
  /** The receiver's address. Redirects are not followed, and a URL with a user name or password is rejected. */
  url: string;
  /** Signing secret; without one the request is sent unsigned and a warning is logged once. */
  secret?: string;
  minSeverity: Severity;
  timeoutMs: number;
  maxAttempts: number;
  initialBackoffMs: number;
  /** SQLite file of the durable outbox. */
  outboxPath: string;
  /** How long `close` waits for pending pages. It then aborts the requests in flight and leaves their pages for the next start. */
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

type AttemptResult =
  | { kind: 'delivered' }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  | { kind: 'rejected'; status: number }
  | { kind: 'redirected'; status: number; location: string | undefined }
  | { kind: 'interrupted' };

/** Pages sent at once. */
const CONCURRENCY = 2;

/** Abort reason of the requests that `close` cuts off at the drain timeout. */
const DRAIN_DEADLINE = Symbol('webhook drain deadline');

/**
 * POSTs each alert as signed JSON through a durable outbox: `write` queues the page in SQLite and
 * returns, and a background loop sends it, retrying network errors, timeouts, 408, 429 and 5xx
 * with backoff and jitter. A receiver that is down delays its own pages and nothing else. `close`
 * waits up to the drain timeout, then aborts the requests in flight, and pages still pending stay
 * in the outbox for the next start.
 */
export class WebhookSink implements AlertSink {
  readonly name = 'webhook';
  private readonly outbox: WebhookOutbox;
  private readonly counters = { queued: 0, duplicate: 0, rejected_before: 0, delivered: 0, failed: 0, retried: 0, pending: 0 };
  private loop: Promise<void> | undefined;
  private stopped = false;
  private outboxClosed = false;
  private wakeUp: (() => void) | undefined;
  /** Sends in progress, by alert id, so that a page is not sent twice at once. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** One controller per request in flight, aborted by `close` at the drain timeout. */
  private readonly requestControllers = new Set<AbortController>();

  constructor(private readonly options: WebhookSinkOptions) {
    if (hasUrlCredentials(options.url)) {
      throw new HolterError('HOLTER_CONFIG_INVALID', `Invalid webhook URL ${JSON.stringify(redactUrlCredentials(options.url))}. ${URL_CREDENTIALS_ADVICE}`);
    }
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
    if (outcome === 'rejected_before') {
      // Logged once a run: a replay of the same input can meet many such pages, and the summary counts them.
      if (this.counters.rejected_before === 1) {
        this.options.logger.warn(
          { sink: 'webhook', alertId: alert.event.id, outbox: this.options.outboxPath },
          "webhook page was rejected by the receiver in an earlier run and is not sent again; it stays in the outbox's failed table",
        );
      }
      return 'duplicate';
    }
    return outcome;
  }

  /** Counts of this run; `pending` is the outbox's count now, or at close once the outbox is closed. */
  stats(): Record<string, number> {
    if (this.outboxClosed) return { ...this.counters };
    return { ...this.counters, pending: this.outbox.pendingCount() };
  }

  /**
   * Waits until the outbox is empty or the drain timeout passes, then stops sending. Requests still
   * in flight at the timeout are aborted, and their pages stay pending with their attempts unchanged.
   */
  async close(): Promise<void> {
    const deadline = Date.now() + this.options.drainTimeoutMs;
    while (this.outbox.pendingCount() > 0 && Date.now() < deadline) {
      this.startLoop();
      await new Promise((resolve) => setTimeout(resolve, Math.min(25, Math.max(1, deadline - Date.now()))));
    }
    this.stopped = true;
    for (const controller of this.requestControllers) controller.abort(DRAIN_DEADLINE);
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
    this.outboxClosed = true;
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

  /**
   * Keeps up to CONCURRENCY pages in flight until none is pending. A slot is refilled as soon as
   * its send ends, so one slow request does not hold back the pages behind it.
   */
  private async sendLoop(): Promise<void> {
    while (!this.stopped) {
      this.startDueSends();
      const skipIds = new Set(this.inFlight.keys());
      const nextDueMs = this.inFlight.size < CONCURRENCY ? this.outbox.nextDueMs(skipIds) : undefined;
      if (nextDueMs === undefined && this.inFlight.size === 0) return;
      // With no free slot, or nothing else pending, only the end of a send (or a new page) gives work.
      await this.sleepUntil(nextDueMs);
    }
    // close has aborted the requests still in flight, and their pages are settled before the outbox closes.
    await Promise.all(this.inFlight.values());
  }

  private startDueSends(): void {
    const free = CONCURRENCY - this.inFlight.size;
    if (free <= 0) return;
    for (const page of this.outbox.due(Date.now(), free, new Set(this.inFlight.keys()))) {
      const sending = this.send(page)
        .catch((error: unknown) => {
          this.options.logger.error({ sink: 'webhook', alertId: page.id, err: error, code: 'HOLTER_STORE_FAILED' }, 'webhook outbox update failed after a send');
        })
        .finally(() => {
          this.inFlight.delete(page.id);
          this.wakeUp?.();
        });
      this.inFlight.set(page.id, sending);
    }
  }

  /** Sleeps until `wakeAtMs` or until `wakeUp` is called. Without a time, only `wakeUp` ends the sleep. */
  private async sleepUntil(wakeAtMs: number | undefined): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = wakeAtMs === undefined ? undefined : setTimeout(resolve, Math.max(0, wakeAtMs - Date.now()));
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
  }

  private async send(page: PendingPage): Promise<void> {
    const result = await this.attempt(page.body, page.id);
    // close aborted the request before a response arrived, so the attempt is not counted.
    if (result.kind === 'interrupted') return;
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
    if (result.kind === 'redirected') {
      this.rejectRedirect(page, attempts, result.status, result.location, now);
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

  /**
   * Moves a page whose response was a redirect to `failed`. Following it would turn the
   * POST into a GET without a body for 301 to 303, and would send the page to an address that
   * is not configured for 307 and 308, so the page counts as rejected.
   */
  private rejectRedirect(page: PendingPage, attempts: number, status: number, location: string | undefined, nowMs: number): void {
    const target = location === undefined ? 'no Location header' : redactUrlCredentials(resolveLocation(location, this.options.url));
    const reason = `HTTP ${status} redirect to ${target}, not followed`;
    this.outbox.markFailed(page, attempts, reason, nowMs, false);
    this.counters.failed++;
    this.options.logger.error(
      { sink: 'webhook', alertId: page.id, status, location: target, code: 'HOLTER_WEBHOOK_REJECTED' },
      'webhook receiver responded with a redirect, which is not followed, so the page was not delivered. Set sinks.webhook.url to the final address',
    );
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

    // One controller covers the timeout and the drain deadline, for the request and its response body.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException(`timed out after ${this.options.timeoutMs} ms`, 'TimeoutError')), this.options.timeoutMs);
    this.requestControllers.add(controller);
    let response: Response;
    try {
      response = await fetch(this.options.url, { method: 'POST', headers, body, redirect: 'manual', signal: controller.signal });
      await response.arrayBuffer().catch(() => undefined);
    } catch (error) {
      if (controller.signal.reason === DRAIN_DEADLINE) return { kind: 'interrupted' };
      // A message may quote the URL, so credentials are removed before it is logged or stored.
      return { kind: 'retry', reason: redactUrlCredentials(describeFetchError(error, this.options.timeoutMs)) };
    } finally {
      clearTimeout(timer);
      this.requestControllers.delete(controller);
    }

    if (response.ok) return { kind: 'delivered' };
    if (response.status >= 300 && response.status < 400) {
      return { kind: 'redirected', status: response.status, location: response.headers.get('location') ?? undefined };
    }
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      return { kind: 'retry', reason: `HTTP ${response.status}`, retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) };
    }
    return { kind: 'rejected', status: response.status };
  }
}

/** Resolves a Location header, which may be relative, against the URL that was requested. */
function resolveLocation(location: string, requestUrl: string): string {
  try {
    return new URL(location, requestUrl).href;
  } catch {
    return location;
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
