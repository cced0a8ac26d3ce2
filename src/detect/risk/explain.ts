import type { HolterEvent } from '../../event.js';
import type { Detection, RuleInfo } from '../types.js';
import { decayed } from './entity.js';
import type { Contribution, EntityRisk, WindowJudgement } from './entity.js';
import { ENTITY_FIELDS, RISK_TAG, WINDOW_KEY } from './schema.js';
import type { EntityType, RiskConfig, RiskWindow } from './schema.js';

/** Contributions listed in a risk detection's explanation details; the summary names the top three. */
const MAX_LISTED_CONTRIBUTIONS = 20;
const SUMMARY_CONTRIBUTIONS = 3;

const ENTITY_NOUNS: Record<EntityType, string> = { user: 'user', source: 'source address', host: 'host' };

/** Returns the rule info of the risk detections of one entity type (`risk-user`, `risk-source`, `risk-host`). */
export function riskRule(type: EntityType, config: RiskConfig): RuleInfo {
  return {
    id: `risk-${type}`,
    name: `Accumulated risk of one ${ENTITY_NOUNS[type]}`,
    description:
      `Raised when the decayed risk that detections added to one ${ENTITY_NOUNS[type]} (${ENTITY_FIELDS[type]}) ` +
      'within a risk window reaches the window threshold.',
    ruleset: 'detector',
    tags: [RISK_TAG],
    file: config.file,
    line: config.line,
  };
}

/** Builds the risk detection of a `raise` judgement. `trigger` is the trigger event of the detection that raised it. */
export function riskDetection(
  entity: EntityRisk,
  judgement: WindowJudgement,
  trigger: HolterEvent,
  config: RiskConfig,
): Detection {
  const { window, evaluatedMs, risk } = judgement;
  const startMs = judgement.page?.startMs ?? evaluatedMs;
  const ranked = rankContributions(entity.contributing(window, evaluatedMs), window, evaluatedMs);
  const listed = ranked.slice(0, MAX_LISTED_CONTRIBUTIONS);

  return {
    rule: riskRule(entity.type, config),
    severity: window.severity,
    riskScore: window.riskScore,
    groupKey: { [ENTITY_FIELDS[entity.type]]: entity.value, [WINDOW_KEY]: window.name },
    window: { start: new Date(startMs).toISOString(), end: new Date(startMs + window.lengthMs).toISOString() },
    explanation: {
      summary: summarise(entity, window, risk, ranked, evaluatedMs),
      actual: round(risk),
      threshold: window.threshold,
      unit: 'risk points',
      details: {
        entity_type: entity.type,
        entity_field: ENTITY_FIELDS[entity.type],
        window: window.name,
        window_hours: round(window.lengthMs / 3_600_000),
        half_life_hours: round(window.halfLifeMs / 3_600_000),
        contributions_total: ranked.length,
        contributions: listed.map(({ contribution, value }) => ({
          rule_id: contribution.ruleId,
          alert_id: contribution.alertId,
          time: new Date(contribution.timeMs).toISOString(),
          severity: contribution.severity,
          score: round(contribution.score),
          decayed_score: round(value),
          signal: contribution.signal,
        })),
      },
    },
    evidence: collectEvidence(ranked.map((item) => item.contribution), config.evidenceLimit),
    trigger,
    tags: [RISK_TAG, ...attackTags(ranked.map((item) => item.contribution))],
  };
}

/** Orders contributions by decayed score, highest first; ties by time, oldest first. */
function rankContributions(
  contributions: Contribution[],
  window: RiskWindow,
  atMs: number,
): Array<{ contribution: Contribution; value: number }> {
  return contributions
    .map((contribution) => ({ contribution, value: decayed(contribution, window, atMs) }))
    .sort((a, b) => b.value - a.value || a.contribution.timeMs - b.contribution.timeMs || a.contribution.seq - b.contribution.seq);
}

function summarise(
  entity: EntityRisk,
  window: RiskWindow,
  risk: number,
  ranked: Array<{ contribution: Contribution; value: number }>,
  evaluatedMs: number,
): string {
  const top = ranked
    .slice(0, SUMMARY_CONTRIBUTIONS)
    .map(({ contribution, value }) => `${contribution.ruleId} ${round(value)} at ${new Date(contribution.timeMs).toISOString()}`)
    .join(', ');
  const count = ranked.length === 1 ? '1 detection' : `${ranked.length} detections`;
  // The alert's window is the page window (see EntityRisk.pageStartMs), not the span the risk was
  // summed over, so the text names both: a reader compares it with the window the alert shows.
  return (
    `${ENTITY_NOUNS[entity.type]} ${entity.value} reached risk ${round(risk)} within ${window.name} ` +
    `(threshold ${window.threshold}) from ${count} in the ${window.name} up to ${new Date(evaluatedMs).toISOString()}; top: ${top}; ` +
    `the alert window starts at the first detection not in an earlier alert and spans ${window.name}`
  );
}

/** Returns the event ids of the contributions' evidence, oldest contribution first, without repeats. */
function collectEvidence(contributions: Contribution[], limit: number): string[] {
  const ordered = [...contributions].sort((a, b) => a.timeMs - b.timeMs || a.seq - b.seq);
  const ids = new Set<string>();
  for (const contribution of ordered) {
    for (const id of contribution.evidence) {
      if (ids.size >= limit) return [...ids];
      ids.add(id);
    }
  }
  return [...ids];
}

function attackTags(contributions: Contribution[]): string[] {
  const tags = new Set<string>();
  for (const contribution of contributions) for (const tag of contribution.attackTags) tags.add(tag);
  return [...tags].sort();
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
