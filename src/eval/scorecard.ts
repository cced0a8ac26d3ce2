import type { Alert } from '../alerts/types.js';
import { SIGNAL_TAG } from '../detect/risk/index.js';
import type { Label } from '../sim/labels.js';

export type { Label };

export interface LabelResult {
  label: Label;
  /** For an incident: caught by at least one expected rule on the right entity. For a trap: no alert on its user in its time range. */
  passed: boolean;
  alerts: Alert[];
}

export interface Scorecard {
  results: LabelResult[];
  /** Alerts that match no incident: false alerts, unless a trap already counts them. */
  unexplained: Alert[];
  incidentsCaught: number;
  incidents: number;
  trapsClean: number;
  traps: number;
  /** Alerts of rules tagged holter.signal: kept for risk and investigation, never paged, so not scored. */
  signals: number;
}

/** How long after an incident ends its alert may still come (correlation windows close later). */
const LATE_ALERT_SLACK_MS = 2 * 60 * 60 * 1000;

/** Matches alerts against labels: every incident caught on the right entity, no trap alerting. */
export function scoreAlerts(labels: readonly Label[], allAlerts: readonly Alert[]): Scorecard {
  const alerts = allAlerts.filter((alert) => !alert.tags?.includes(SIGNAL_TAG));
  const explained = new Set<Alert>();
  const results: LabelResult[] = [];

  for (const label of labels) {
    if (label.kind === 'incident') {
      const hits = alerts.filter((alert) => label.expect.includes(alert.rule.id) && onEntity(alert, label) && inRange(alert, label, LATE_ALERT_SLACK_MS));
      for (const hit of hits) explained.add(hit);
      // Other alerts on the incident's entity during the incident (a risk alert it built up, a
      // second rule it also tripped) are explained by it too, but do not count as the catch.
      for (const alert of alerts) {
        if (onEntity(alert, label) && inRange(alert, label, LATE_ALERT_SLACK_MS)) explained.add(alert);
      }
      results.push({ label, passed: hits.length > 0, alerts: hits });
    } else {
      const hits = alerts.filter((alert) => alert.user?.id === label.userId && inRange(alert, label, 0));
      results.push({ label, passed: hits.length === 0, alerts: hits });
    }
  }

  const incidents = results.filter((result) => result.label.kind === 'incident');
  const traps = results.filter((result) => result.label.kind === 'trap');
  return {
    results,
    unexplained: alerts.filter((alert) => !explained.has(alert)),
    incidentsCaught: incidents.filter((result) => result.passed).length,
    incidents: incidents.length,
    trapsClean: traps.filter((result) => result.passed).length,
    traps: traps.length,
    signals: allAlerts.length - alerts.length,
  };
}

function onEntity(alert: Alert, label: Label): boolean {
  if (alert.user?.id === label.userId) return true;
  if (alert.user?.id !== undefined && label.targetUserIds?.includes(alert.user.id)) return true;
  return label.sourceIp !== undefined && alert.source?.ip === label.sourceIp;
}

function inRange(alert: Alert, label: Label, slackMs: number): boolean {
  const time = Date.parse(alert['@timestamp']);
  return time >= label.startMs && time <= label.endMs + slackMs;
}

/** Unexplained alerts listed one per line under a scorecard; the count covers the rest. */
const MAX_UNEXPLAINED_LISTED = 10;

export function formatScorecard(scorecard: Scorecard): string {
  const lines = ['Scorecard (simulated incidents and traps)'];
  for (const result of scorecard.results) {
    const mark = result.passed ? 'ok  ' : 'FAIL';
    const what = result.label.kind === 'incident' ? `caught by ${result.alerts.length} alert(s)` : `${result.alerts.length} alert(s) on the trap`;
    // The start time distinguishes labels of the same name and user, such as two nights on call.
    lines.push(`  ${mark} ${result.label.kind.padEnd(8)} ${result.label.name.padEnd(34)} ${result.label.userId.padEnd(10)} ${formatStart(result.label.startMs)}  ${what}`);
  }
  lines.push(`  incidents caught ${scorecard.incidentsCaught}/${scorecard.incidents}, traps clean ${scorecard.trapsClean}/${scorecard.traps}, unexplained alerts ${scorecard.unexplained.length}`);
  // The false alerts that the rate counts, so that a rule or detector to tune can be found.
  for (const alert of scorecard.unexplained.slice(0, MAX_UNEXPLAINED_LISTED)) {
    lines.push(`    unexplained ${alert['@timestamp']} ${alert.rule.id} user ${alert.user?.id ?? '-'}: ${alert.holter.alert.explanation.summary}`);
  }
  if (scorecard.unexplained.length > MAX_UNEXPLAINED_LISTED) lines.push(`    and ${scorecard.unexplained.length - MAX_UNEXPLAINED_LISTED} more unexplained alerts`);
  if (scorecard.signals > 0) lines.push(`  signals kept for risk and not scored: ${scorecard.signals}`);
  return `${lines.join('\n')}\n`;
}

/** Formats a label's start as UTC date and minute, e.g. `2026-11-03 22:00Z`. */
function formatStart(startMs: number): string {
  const iso = new Date(startMs).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
}
