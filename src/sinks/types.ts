import type { Alert } from '../alerts/types.js';

/**
 * A destination for alerts. `write` resolves once the alert is delivered (or durably stored) and
 * rejects when it was not; the pipeline counts a rejection as a delivery failure for that sink.
 */
export interface AlertSink {
  readonly name: string;
  write(alert: Alert): Promise<SinkOutcome>;
  close(): Promise<void>;
}

/**
 * The outcome of one write. `duplicate` means the alert id was already delivered, and
 * `filtered` that the sink's minimum severity kept it out: both are intended, not losses.
 */
export type SinkOutcome = 'delivered' | 'duplicate' | 'filtered';
