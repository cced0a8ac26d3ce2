import { severityRank } from '../../alerts/build.js';
import type { Alert } from '../../alerts/types.js';
import type { Severity } from '../../detect/types.js';
import { HolterError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { AlertSink, SinkOutcome } from '../types.js';
import { SIGNATURE_HEADER, signPayload, TIMESTAMP_HEADER } from './sign.js';

export interface WebhookSinkOptions {
  url: string;
  /** Signing secret; without one the request is sent unsigned and a warning is logged once. */
  secret?: string;
  minSeverity: Severity;
  timeoutMs: number;
  maxAttempts: number;
  initialBackoffMs: number;
  logger: Logger;
  /** Injected for tests; defaults to a real timer. */
  sleep?: (ms: number) => Promise<void>;
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

/** POSTs each alert as signed JSON, retrying network errors, timeouts, 408, 429 and 5xx with backoff and jitter. */
export class WebhookSink implements AlertSink {
  readonly name = 'webhook';
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: WebhookSinkOptions) {
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    if (options.secret === undefined) {
      options.logger.warn({ sink: 'webhook' }, 'webhook secret not configured; requests are sent unsigned');
    }
  }

  async write(alert: Alert): Promise<SinkOutcome> {
    if (severityRank(alert.holter.alert.severity) < severityRank(this.options.minSeverity)) return 'filtered';
    const body = JSON.stringify(toWebhookPayload(alert));

    let lastReason = '';
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      const result = await this.attempt(body, alert.event.id);
      if (result.kind === 'delivered') return 'delivered';
      if (result.kind === 'rejected') {
        throw new HolterError(
          'HOLTER_WEBHOOK_REJECTED',
          `The webhook receiver rejected alert ${alert.event.id} with HTTP ${result.status}. Check the receiver's URL, authentication and payload expectations.`,
        );
      }

      lastReason = result.reason;
      if (attempt === this.options.maxAttempts) break;
      const delayMs = result.retryAfterMs ?? this.backoffMs(attempt);
      this.options.logger.warn({ sink: 'webhook', alertId: alert.event.id, attempt, delayMs, reason: result.reason }, 'webhook delivery failed; retrying');
      await this.sleep(delayMs);
    }
    throw new HolterError(
      'HOLTER_SINK_FAILED',
      `Webhook delivery of alert ${alert.event.id} failed after ${this.options.maxAttempts} attempts (last: ${lastReason}). Check that the receiver is up.`,
      { retriable: true },
    );
  }

  async close(): Promise<void> {}

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
      const name = (error as Error).name;
      return { kind: 'retry', reason: name === 'TimeoutError' ? `timed out after ${this.options.timeoutMs} ms` : `network error: ${(error as Error).message}` };
    }
    await response.arrayBuffer().catch(() => undefined);

    if (response.ok) return { kind: 'delivered' };
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      return { kind: 'retry', reason: `HTTP ${response.status}`, retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) };
    }
    return { kind: 'rejected', status: response.status };
  }
}

/** Reads a Retry-After header given in seconds (RFC 9110 also allows a date, which is ignored here). */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, 60_000) : undefined;
}
