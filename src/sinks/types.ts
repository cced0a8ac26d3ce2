import type { Alert } from '../alerts/types.js';

/**
 * A destination for alerts. `write` resolves once the alert is delivered (or durably stored) and
 * rejects when it was not; the pipeline counts a rejection as a delivery failure for that sink.
 */
export interface AlertSink {
  readonly name: string;
  write(alert: Alert): Promise<SinkOutcome>;
  close(): Promise<void>;
  /** Counters a sink keeps of its own, such as pages sent later from an outbox; read after close. */
  stats?(): Record<string, number>;
}

/**
 * The outcome of one write. `queued` means durably stored for later sending, `duplicate` that
 * the alert id was already delivered, and `filtered` that the sink's minimum severity kept it
 * out. The last two are intended, not losses.
 */
export type SinkOutcome = 'delivered' | 'queued' | 'duplicate' | 'filtered';
