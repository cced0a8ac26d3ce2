import type { HolterEvent } from '../event.js';

export type Severity = 'informational' | 'low' | 'medium' | 'high' | 'critical';

/** The rule or detector that produced a detection; copied into the alert's ECS `rule.*` fields. */
export interface RuleInfo {
  /** Stable, readable id: a Sigma rule's `name` when it has one, else its UUID; a detector's `id`. */
  id: string;
  /** The Sigma rule's UUID (`id` in the rule file), when it has one. */
  uuid?: string;
  name: string;
  description?: string;
  /**
   * `sigma` for Sigma rules (and correlations), `detector` for behavioural detectors, `holter` for
   * alerts Holter raises about itself for operators (a rejected rules reload).
   */
  ruleset: 'sigma' | 'detector' | 'holter';
  version?: string;
  author?: string;
  references?: string[];
  tags?: string[];
  /** File the rule was loaded from, and its line. */
  file?: string;
  line?: number;
}

/** The numbers behind a detection, for the explanation a person reads. */
export interface Explanation {
  /** One sentence a person can act on. */
  summary: string;
  /**
   * The summary for pagers and webhooks when it differs: free text and patient fields are
   * withheld from it, because pages leave the system that keeps the audit trail.
   */
  pagerSummary?: string;
  actual?: number;
  typical?: number;
  threshold?: number;
  /** Unit of actual, typical and threshold: `events`, `distinct users`, `studies`, `bytes`... */
  unit?: string;
  /** Extra named facts (e.g. `learned_hours`, `break_glass_reason`), no patient identifiers. */
  details?: Record<string, unknown>;
}

/**
 * A finding of a rule or detector. The alert stage turns a detection into an alert: it derives the
 * alert id from rule id, group key and window, so reprocessing the same events yields the same id.
 */
export interface Detection {
  rule: RuleInfo;
  severity: Severity;
  /** 0 to 100. */
  riskScore: number;
  /** Field -> value the detection is grouped by, e.g. `{ 'user.id': 'u-1042' }`. Empty for single-event rules. */
  groupKey: Record<string, string>;
  /** Event-time window: start inclusive, end exclusive (ISO 8601 UTC). For single-event rules both are the event time. */
  window: { start: string; end: string };
  explanation: Explanation;
  /** `event.id` of the events that make the detection, oldest first (capped by the detector). */
  evidence: string[];
  /**
   * The last event that completed the detection; entity fields (user, source, host) are copied from it.
   * NOTE: a bucket detector's trigger has only the fields alerts and risk read (see TriggerFacts).
   */
  trigger: HolterEvent;
  /** MITRE ATT&CK tags as `attack.t1110` / `attack.credential_access`, copied from rule tags. */
  tags?: string[];
}

/**
 * A detection stage: Sigma rules, correlations or behavioural detectors. Stages are fed events in
 * arrival order. Event time can go backwards; a stage uses `watermark` (max event time seen minus
 * the allowed lateness) to close windows and to recognise late events.
 */
export interface DetectionStage {
  readonly name: string;
  process(event: HolterEvent, watermarkMs: number): Detection[];
  /** Called at end of input so open windows can be evaluated and closed. */
  flush(watermarkMs: number): Detection[];
  /** Counters for the run summary (e.g. late events, rules loaded). */
  stats(): Record<string, number>;
  /**
   * The stage's state (open windows, learned profiles) as versioned plain JSON data, for a
   * checkpoint. Stages without state leave it out.
   */
  snapshot?(): unknown;
  /**
   * Replaces the state with one taken by `snapshot` of a stage of the same kind, possibly from an
   * older Holter or before the rules changed. State of rules or detectors whose logic changed is
   * dropped; an unreadable version throws HOLTER_STATE_VERSION.
   */
  restore?(state: unknown): void;
}
