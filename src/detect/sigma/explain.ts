/**
 * Detections and their explanations: one sentence a person can act on, with the actual
 * value, the threshold and the window.
 */
import type { HolterEvent } from '../../event.js';
import { getField } from '../../event.js';
import type { Detection, Explanation, RuleInfo, Severity } from '../types.js';
import { PAGER_FIELDS, WITHHELD } from '../pager.js';
import type { CompiledRule } from './compile.js';
import { isPatientIdentifierPath } from './lint-template.js';
import type { ComparisonOperator, CorrelationRule } from './model.js';
import { conditionFields } from './model.js';
import type { Firing } from './windows.js';

/** Risk score per Sigma level, documented in docs/rules.md. */
export const RISK_SCORES: Record<Severity, number> = {
  informational: 10,
  low: 21,
  medium: 47,
  high: 73,
  critical: 99,
};

/** Level used when a rule has none. */
export const DEFAULT_LEVEL: Severity = 'medium';

/** Evidence ids kept per detection; the oldest are kept. */
export const MAX_EVIDENCE = 50;

const FIELD_WORDS: Record<string, string> = {
  'holter.user.id': 'user',
  'user.name': 'user',
  'user.id': 'user',
  User: 'user',
  TargetUserName: 'user',
  SubjectUserName: 'user',
  'source.ip': 'source',
  IpAddress: 'source',
  'host.name': 'host',
  Computer: 'host',
  ComputerName: 'host',
};

const UNIT_WORDS: Record<string, string> = { s: 'second', m: 'minute', h: 'hour', d: 'day' };

export function describeTimespan(text: string): string {
  const match = /^(\d+)([smhd])$/.exec(text);
  if (!match) return text;
  const count = Number(match[1]);
  const unit = UNIT_WORDS[match[2] as string] as string;
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

const THRESHOLD_WORDS: Record<ComparisonOperator, (value: number) => string> = {
  gt: (value) => `more than ${value}`,
  gte: (value) => `${value} or more`,
  lt: (value) => `fewer than ${value}`,
  lte: (value) => `${value} or fewer`,
  eq: (value) => `exactly ${value}`,
  neq: (value) => `any number but ${value}`,
};

export function describeThreshold(rule: CorrelationRule): string {
  const comparisons = rule.condition?.comparisons ?? [{ operator: 'gte' as const, value: rule.rules.length }];
  return comparisons.map(({ operator, value }) => THRESHOLD_WORDS[operator](value)).join(' and ');
}

function describeGroup(groupKey: Record<string, string>): string {
  const parts = Object.entries(groupKey).map(([field, value]) => `${FIELD_WORDS[field] ?? field} ${value}`);
  return parts.length === 0 ? '' : ` for ${parts.join(' and ')}`;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

function firstThreshold(rule: CorrelationRule): number | undefined {
  return rule.condition?.comparisons[0]?.value ?? (rule.condition ? undefined : rule.rules.length);
}

function riskOf(level: Severity): number {
  return RISK_SCORES[level];
}

/** Written for a placeholder that names a patient identifier, in the stored alert too. */
const PATIENT_WITHHELD = '[withheld: patient identifier]';

/** Fills `{path}` placeholders of a rule's summary template from the event. */
function fillTemplate(template: string, read: (field: string) => unknown, pager = false): string {
  return template.replace(/\{([^{}]+)\}/g, (_, field: string) => {
    const name = field.trim();
    // `rules validate` rejects such a placeholder. A rule loaded anyway still keeps the identifier out of the alert.
    if (isPatientIdentifierPath(name)) return PATIENT_WITHHELD;
    if (pager && !PAGER_FIELDS.has(name)) return WITHHELD;
    const value = read(name);
    if (value === undefined || value === null) return 'unknown';
    return Array.isArray(value) ? value.join(', ') : String(value);
  });
}

/** Renders a rule's template twice: in full for the alert, and with only pager-safe fields for pages. */
function renderTemplate(template: string, read: (field: string) => unknown): Pick<Explanation, 'summary' | 'pagerSummary'> {
  const summary = fillTemplate(template, read);
  const pagerSummary = fillTemplate(template, read, true);
  return pagerSummary === summary ? { summary } : { summary, pagerSummary };
}

function actorOf(event: HolterEvent): string {
  const host = getField(event, 'host.name');
  const user = getField(event, 'holter.user.id') ?? getField(event, 'user.name');
  let text = '';
  if (typeof host === 'string' && host !== '') text += ` on host ${host}`;
  if (typeof user === 'string' && user !== '') text += ` by user ${user}`;
  return text;
}

function accessDetails(event: HolterEvent): Record<string, unknown> | undefined {
  const access = event.holter?.access;
  if (access?.break_glass !== true || access.reason === undefined) return undefined;
  return { break_glass_reason: access.reason };
}

/** Detection for a single event matched by a detection rule. */
export function singleEventDetection(compiled: CompiledRule, event: HolterEvent): Detection {
  const rule = compiled.rule;
  const level = rule.level ?? DEFAULT_LEVEL;
  const explanation: Explanation = rule.holter.summary
    ? renderTemplate(rule.holter.summary, (field) => compiled.accessor(field)(event))
    : { summary: `${rule.title}${actorOf(event)}.` };
  const details = accessDetails(event);
  if (details) explanation.details = details;

  const time = event['@timestamp'];
  return {
    rule: compiled.info,
    severity: level,
    riskScore: riskOf(level),
    groupKey: {},
    window: { start: time, end: time },
    explanation,
    evidence: [event.event.id],
    trigger: event,
    tags: rule.tags,
  };
}

/** Detection for a correlation window that met its condition. */
export function correlationDetection(
  rule: CorrelationRule,
  info: RuleInfo,
  referenceTitles: string[],
  firing: Firing,
): Detection {
  const level = rule.level ?? DEFAULT_LEVEL;
  const evidence = [...new Set(firing.hits.flatMap((hit) => hit.evidence))].slice(0, MAX_EVIDENCE);
  const explanation = explainCorrelation(rule, referenceTitles, firing);
  return {
    rule: info,
    severity: level,
    riskScore: riskOf(level),
    groupKey: firing.groupKey,
    window: { start: new Date(firing.startMs).toISOString(), end: new Date(firing.endMs).toISOString() },
    explanation,
    evidence,
    trigger: firing.trigger.event,
    tags: rule.tags,
  };
}

function explainCorrelation(rule: CorrelationRule, referenceTitles: string[], firing: Firing): Explanation {
  const group = describeGroup(firing.groupKey);
  const span = describeTimespan(rule.timespanText);
  const threshold = describeThreshold(rule);
  const actual = formatNumber(firing.actual);
  const fields = conditionFields(rule.condition);
  const field = fields.join(', ');
  let summary: string;
  let unit: string;

  switch (rule.type) {
    case 'event_count':
      unit = 'events';
      summary = `${actual} ${rule.holter.noun ?? `events matching ${referenceTitles.join(' or ')}`}${group} within ${span} (threshold: ${threshold})`;
      break;
    case 'value_count':
      if (fields.length > 1) {
        // Several fields count combinations: an event lacking one of them is not counted.
        const names = `${fields.slice(0, -1).join(', ')} and ${fields[fields.length - 1] ?? ''}`;
        unit = `distinct combinations of ${field}`;
        summary = `${actual} ${rule.holter.noun ?? `distinct combinations of ${names}`}${group} within ${span} (threshold: ${threshold}; events lacking one of the fields are not counted)`;
        break;
      }
      unit = `distinct ${field} values`;
      summary = `${actual} ${rule.holter.noun ?? `distinct values of ${field}`}${group} within ${span} (threshold: ${threshold})`;
      break;
    case 'value_sum':
      unit = field;
      summary = `Sum of ${field} is ${actual}${group} within ${span} (threshold: ${threshold})`;
      break;
    case 'value_avg':
      unit = field;
      summary = `Average of ${field} is ${actual}${group} within ${span} (threshold: ${threshold})`;
      break;
    case 'value_percentile':
      unit = 'percent';
      summary = `${field} '${firing.value ?? ''}' is ${actual}% of ${firing.total ?? 0} events${group} within ${span} (threshold: ${threshold} percent)`;
      break;
    case 'temporal':
      unit = 'rules';
      summary = `${actual} of ${referenceTitles.length} rules (${referenceTitles.join(', ')}) matched${group} within ${span} (threshold: ${threshold})`;
      break;
    case 'temporal_ordered':
      unit = 'rules';
      // Quoted, because rule titles start with a capital letter and some contain commas.
      summary = `In order${group} within ${span}: ${referenceTitles.map((title) => `"${title}"`).join(' then ')} (${actual} of ${referenceTitles.length} in order, threshold: ${threshold})`;
      break;
  }
  let rendered: Pick<Explanation, 'summary' | 'pagerSummary'> = { summary };
  if (rule.holter.summary) {
    const values: Record<string, unknown> = { actual, threshold, window: span, ...firing.groupKey };
    rendered = renderTemplate(rule.holter.summary, (name) => values[name]);
  }

  const explanation: Explanation = { ...rendered, actual: firing.actual, unit };
  const limit = firstThreshold(rule);
  if (limit !== undefined) explanation.threshold = limit;
  explanation.details = { timespan: rule.timespanText, correlation_type: rule.type };
  if (firing.value !== undefined) explanation.details = { ...explanation.details, value: firing.value, events: firing.total };
  return explanation;
}
