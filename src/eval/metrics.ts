import type { Scorecard } from './scorecard.js';

/** Detection quality over one or more labelled simulations. */
export interface EvalMetrics {
  /** Alerts scored: those raised, without the signals that only feed entity risk. */
  alerts: number;
  /** Alerts explained by an incident (its expected rules, or a risk alert built from them), over all alerts. */
  precision: number;
  /** Incidents caught on the right entity, over all incidents. */
  recall: number;
  incidents: number;
  incidentsCaught: number;
  traps: number;
  trapsClean: number;
  falseAlerts: number;
  falseAlertsPerThousandUserDays: number;
  userDays: number;
}

/**
 * Adds up scorecards; an empty alert list counts as precision 1 (nothing raised, nothing wrong).
 * `alerts` of a run counts every alert raised. Signals are left out of precision, because the
 * scorecard does not judge them: counted, they would pass as explained.
 */
export function computeMetrics(runs: readonly { scorecard: Scorecard; alerts: number; userDays: number }[]): EvalMetrics {
  let alerts = 0;
  let falseAlerts = 0;
  let incidents = 0;
  let incidentsCaught = 0;
  let traps = 0;
  let trapsClean = 0;
  let userDays = 0;
  for (const run of runs) {
    alerts += run.alerts - run.scorecard.signals;
    falseAlerts += run.scorecard.unexplained.length;
    incidents += run.scorecard.incidents;
    incidentsCaught += run.scorecard.incidentsCaught;
    traps += run.scorecard.traps;
    trapsClean += run.scorecard.trapsClean;
    userDays += run.userDays;
  }
  return {
    alerts,
    precision: alerts === 0 ? 1 : (alerts - falseAlerts) / alerts,
    recall: incidents === 0 ? 1 : incidentsCaught / incidents,
    incidents,
    incidentsCaught,
    traps,
    trapsClean,
    falseAlerts,
    falseAlertsPerThousandUserDays: userDays === 0 ? 0 : (falseAlerts / userDays) * 1000,
    userDays,
  };
}

export function formatMetrics(metrics: EvalMetrics): string {
  return [
    `  alerts                          ${metrics.alerts} (signals kept for risk not counted)`,
    `  precision                       ${metrics.precision.toFixed(3)}`,
    `  recall                          ${metrics.recall.toFixed(3)} (${metrics.incidentsCaught}/${metrics.incidents} incidents)`,
    `  traps clean                     ${metrics.trapsClean}/${metrics.traps}`,
    `  false alerts                    ${metrics.falseAlerts} over ${metrics.userDays} user-days`,
    `  false alerts per 1000 user-days ${metrics.falseAlertsPerThousandUserDays.toFixed(2)} (target: under 2)`,
    '',
  ].join('\n');
}
