import type { Explanation, Severity } from '../detect/types.js';

/**
 * An alert as written to every sink: an ECS document (`event.kind: alert`) with Holter's
 * explanation, group key, window and evidence under `holter.alert`.
 */
export interface Alert {
  '@timestamp': string;
  event: {
    kind: 'alert';
    id: string;
    created: string;
    severity: number;
    risk_score: number;
    dataset: 'holter.alerts';
    module: 'holter';
    category?: string[];
    start: string;
    end: string;
  };
  rule: {
    id: string;
    uuid?: string;
    name: string;
    description?: string;
    ruleset: string;
    version?: string;
    author?: string;
    reference?: string;
  };
  message: string;
  /**
   * The entities the alert is about (detectionEntities): every entity of a single event, and
   * only the group key's entities for a correlation or detector.
   */
  user?: { id?: string; name?: string };
  source?: { ip?: string };
  host?: { name?: string };
  tags?: string[];
  threat?: {
    framework: 'MITRE ATT&CK';
    tactic?: { name: string[] };
    technique?: { id: string[] };
  };
  holter: {
    alert: {
      severity: Severity;
      group_key: Record<string, string>;
      explanation: Explanation;
      evidence: string[];
    };
    user?: { role?: string; department?: string; facility?: string };
    patient?: { token?: string; vip?: boolean; employee?: boolean; deceased?: boolean };
  };
}
