import path from 'node:path';
import type { HolterEvent } from '../../../src/event.js';
import { loadRiskConfig, parseRiskConfig, RiskStage } from '../../../src/detect/risk/index.js';
import type { RiskConfig } from '../../../src/detect/risk/index.js';
import type { Detection, Severity } from '../../../src/detect/types.js';
import { REPO_ROOT } from '../../helpers/paths.js';

export const RISK_FILE = path.join(REPO_ROOT, 'config', 'risk.yaml');

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Event time origin of the timelines: Monday 2025-01-06 00:00 UTC. */
export const T0 = Date.parse('2025-01-06T00:00:00.000Z');

/** Risk scores the Sigma stage gives each level. */
export const RISK_BY_SEVERITY: Record<Severity, number> = { informational: 10, low: 21, medium: 47, high: 73, critical: 99 };

let sequence = 0;

export interface DetectionSpec {
  ruleId: string;
  atMs: number;
  severity?: Severity;
  riskScore?: number;
  user?: string;
  sourceIp?: string;
  host?: string;
  tags?: string[];
  ruleTags?: string[];
  /** Number of evidence events (default 1). */
  events?: number;
}

/** Creates a detection as a single-event rule raises it, with its trigger event at `atMs`. */
export function detection(spec: DetectionSpec): Detection {
  const severity = spec.severity ?? 'medium';
  const time = new Date(spec.atMs).toISOString();
  const evidence: string[] = [];
  for (let index = 0; index < (spec.events ?? 1); index += 1) evidence.push(`ev-${(sequence += 1)}`);

  const trigger: HolterEvent = {
    '@timestamp': time,
    event: { id: evidence[evidence.length - 1] ?? 'ev-0', kind: 'event', category: ['authentication'], type: ['start'], action: 'login', outcome: 'success', dataset: 'okta.system', module: 'okta' },
    holter: { source: { input: 'test', format: 'okta' }, ...(spec.user === undefined ? {} : { user: { id: spec.user, known: true } }) },
    ...(spec.sourceIp === undefined ? {} : { source: { ip: spec.sourceIp } }),
    ...(spec.host === undefined ? {} : { host: { name: spec.host } }),
  };

  const found: Detection = {
    rule: { id: spec.ruleId, name: `Rule ${spec.ruleId}`, ruleset: 'sigma', ...(spec.ruleTags === undefined ? {} : { tags: spec.ruleTags }) },
    severity,
    riskScore: spec.riskScore ?? RISK_BY_SEVERITY[severity],
    groupKey: {},
    window: { start: time, end: time },
    explanation: { summary: `${spec.ruleId} matched` },
    evidence,
    trigger,
  };
  if (spec.tags !== undefined) found.tags = spec.tags;
  return found;
}

/** Loads the shipped config/risk.yaml, failing on any error. */
export async function shippedConfig(): Promise<RiskConfig> {
  const { config, errors } = await loadRiskConfig(RISK_FILE);
  if (config === undefined) throw new Error(errors.map((error) => error.describe()).join('\n'));
  return config;
}

/** Parses risk file text, failing on any error. */
export function configFrom(text: string): RiskConfig {
  const { config, errors } = parseRiskConfig(text, 'risk.yaml');
  if (config === undefined) throw new Error(errors.map((error) => error.describe()).join('\n'));
  return config;
}

/**
 * Observes detections in the given order, with the watermark at the latest trigger time seen minus
 * `latenessMs`, then flushes. Returns the risk detections raised.
 */
export function run(stage: RiskStage, detections: Detection[], latenessMs = 0, options: { flush?: boolean } = {}): Detection[] {
  const raised: Detection[] = [];
  let maxMs = Number.NEGATIVE_INFINITY;
  for (const item of detections) {
    maxMs = Math.max(maxMs, Date.parse(item.trigger['@timestamp']));
    raised.push(...stage.observe(item, maxMs - latenessMs));
  }
  if (options.flush !== false) raised.push(...stage.flush(maxMs + latenessMs + 1));
  return raised;
}

/** Three medium detections for `user`, one hour apart from `startMs`. */
export function threeMedium(user: string, startMs: number): Detection[] {
  return [0, 1, 2].map((hour) => detection({ ruleId: `rule-${hour}`, atMs: startMs + hour * HOUR_MS, user }));
}
