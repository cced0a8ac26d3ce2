import type { Writable } from 'node:stream';
import { severityRank } from '../../alerts/build.js';
import { groupKeyEntities } from '../../alerts/entities.js';
import type { Alert } from '../../alerts/types.js';
import type { Severity } from '../../detect/types.js';
import { escapeForTerminal } from '../../text/escape.js';
import type { AlertSink, SinkOutcome } from '../types.js';

export interface ConsoleSinkOptions {
  minSeverity: Severity;
  output?: Writable;
  /** Colour the severity; defaults to whether the output is a terminal. */
  color?: boolean;
}

const COLORS: Record<Severity, string> = {
  informational: '\u001b[37m',
  low: '\u001b[36m',
  medium: '\u001b[33m',
  high: '\u001b[31m',
  critical: '\u001b[1;31m',
};
const RESET = '\u001b[0m';

/** Prints one readable block per alert: severity, time, rule, entity, then the explanation. */
export class ConsoleSink implements AlertSink {
  readonly name = 'console';
  private readonly output: Writable;
  private readonly color: boolean;

  constructor(private readonly options: ConsoleSinkOptions) {
    this.output = options.output ?? process.stdout;
    this.color = options.color ?? Boolean((this.output as { isTTY?: boolean }).isTTY);
  }

  async write(alert: Alert): Promise<SinkOutcome> {
    if (severityRank(alert.holter.alert.severity) < severityRank(this.options.minSeverity)) return 'filtered';
    this.output.write(formatAlert(alert, this.color));
    return 'delivered';
  }

  async close(): Promise<void> {}
}

export function formatAlert(alert: Alert, color: boolean): string {
  const severity = alert.holter.alert.severity.toUpperCase();
  const label = color ? `${COLORS[alert.holter.alert.severity]}${severity}${RESET}` : severity;
  const entity = describeEntity(alert);
  const explanation = alert.holter.alert.explanation;

  const lines = [`${alert['@timestamp']}  ${alert.rule.name} (${alert.rule.id})${entity ? `  ${entity}` : ''}`];
  lines.push(`    ${explanation.summary}`);
  const figures: string[] = [];
  if (explanation.actual !== undefined) figures.push(`actual ${explanation.actual}`);
  if (explanation.typical !== undefined) figures.push(`typical ${explanation.typical}`);
  if (explanation.threshold !== undefined) figures.push(`threshold ${explanation.threshold}`);
  if (figures.length > 0) lines.push(`    ${figures.join(', ')}${explanation.unit ? ` ${explanation.unit}` : ''}`);
  const evidence = alert.holter.alert.evidence.length;
  lines.push(`    window ${alert.event.start} .. ${alert.event.end}  evidence ${evidence} event${evidence === 1 ? '' : 's'}  id ${alert.event.id}`);
  // Rule names, entities and summaries come from events and rule files, so every line is escaped
  // before the colour codes, which are the only control characters this output writes itself.
  const escaped = lines.map((line) => escapeForTerminal(line));
  return `[${label}] ${escaped.join('\n')}\n`;
}

/**
 * Names the entities the alert is about. A grouped alert carries only the entities of its group
 * key, so a group keyed by another field (a client id) is named by its group key instead.
 */
function describeEntity(alert: Alert): string {
  const parts: string[] = [];
  if (alert.user?.id !== undefined) parts.push(`user ${alert.user.id}`);
  if (alert.source?.ip !== undefined) parts.push(`source ${alert.source.ip}`);
  if (alert.host?.name !== undefined) parts.push(`host ${alert.host.name}`);
  if (parts.length === 0) parts.push(...groupKeyEntities(alert.holter.alert.group_key));
  if (alert.holter.user?.role !== undefined) parts.push(`(${alert.holter.user.role}, ${alert.holter.user.department ?? 'no department'})`);
  return parts.join(' ');
}
