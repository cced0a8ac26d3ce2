import { escapeLines } from '../text/escape.js';
import type { RunSummary } from '../pipeline.js';
import type { LoadReport } from './assemble.js';

export interface SummaryOptions {
  /** The signal that stopped the run before the end of its input, such as SIGINT. */
  interruptedBy?: string;
}

/** Renders the end-of-run summary a person reads: what was read, what was rejected and why, what was raised. */
export function formatSummary(summary: RunSummary, report: LoadReport, options: SummaryOptions = {}): string {
  const lines: string[] = [];
  lines.push('Summary');
  if (options.interruptedBy !== undefined) {
    lines.push(`  interrupted         by ${options.interruptedBy} before the end of the input; the counts cover the records read until then`);
  }
  lines.push(`  records read        ${summary.recordsRead}`);
  lines.push(`  events decoded      ${summary.eventsDecoded}`);
  if (summary.eventsDecoded > summary.recordsRead) {
    lines.push('    More events than records: one record can hold several events, such as a FHIR Bundle or a JSON array.');
  }
  lines.push(`  dead-lettered       ${summary.deadLettered}`);
  for (const [reason, count] of sortedEntries(summary.deadLetteredByReason)) lines.push(`    ${reason.padEnd(22)} ${count}`);
  if (summary.firstEventTime !== undefined) lines.push(`  event time          ${summary.firstEventTime} .. ${summary.lastEventTime}`);
  lines.push(`  rules loaded        ${report.rulesLoaded} detection, ${report.correlationsLoaded} correlation (${report.rulesRejected} rejected)`);
  lines.push(`  detectors loaded    ${report.detectorsLoaded} (${report.detectorsRejected} rejected)`);
  lines.push(`  risk scoring        ${report.riskEnabled ? 'on' : 'off'}${report.riskErrors.length > 0 ? ` (${report.riskErrors.length} error${report.riskErrors.length === 1 ? '' : 's'} in its settings)` : ''}`);

  const late = Object.values(summary.stageStats).reduce((total, stats) => total + (stats.late_events ?? 0), 0);
  lines.push(`  late events         ${late}`);
  if (late > 0) {
    lines.push('    Late events are left out of Sigma correlation windows. Detectors still use one while its bucket');
    lines.push('    or window is open. Inputs are merged by event time, but each is read in its own order: sort an');
    lines.push('    input whose records are out of order, or raise detection.allowed_lateness_seconds.');
  }
  lines.push(`  alerts              ${summary.alerts}`);
  for (const [rule, count] of sortedEntries(summary.alertsByRule)) lines.push(`    ${rule.padEnd(40)} ${count}`);

  for (const [sink, stats] of Object.entries(summary.sinkStats)) {
    lines.push(`  ${sink.padEnd(20)}${Object.entries(stats).map(([name, count]) => `${name} ${count}`).join(', ')}`);
  }

  const failures = sortedEntries(summary.deliveryFailures);
  if (failures.length > 0) {
    lines.push('  delivery failures');
    for (const [sink, count] of failures) lines.push(`    ${sink.padEnd(22)} ${count}`);
  }
  // Rule ids and reasons come from rule files and input, so each line is escaped for the terminal.
  return `${escapeLines(lines.join('\n'))}\n`;
}

/** Counts alerts that no sink took: failed writes, and pages a sink gave up on later. */
export function countDeliveryFailures(summary: RunSummary): number {
  let failed = Object.values(summary.deliveryFailures).reduce((total, count) => total + count, 0);
  for (const stats of Object.values(summary.sinkStats)) failed += stats.failed ?? 0;
  return failed;
}

function sortedEntries(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
