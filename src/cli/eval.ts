import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatScorecard } from '../eval/scorecard.js';
import { computeMetrics, formatMetrics } from '../eval/metrics.js';
import { runSimulation } from './demo.js';

export interface EvalOptions {
  days: number;
  staff: number;
  seeds: number[];
  verbose?: boolean;
  json?: boolean;
  /** Rule and detector paths that replace the shipped ones. */
  rules?: string[];
  detectors?: string[];
}

/**
 * Runs the labelled evaluation: one simulated hospital per seed through the real pipeline, scored
 * against its incidents and traps. Exits 1 when an incident is missed, a trap alerts, or false
 * alerts reach two per thousand user-days.
 */
export async function runEval(options: EvalOptions): Promise<number> {
  const runs = [];
  for (const seed of options.seeds) {
    const store = path.join(mkdtempSync(path.join(tmpdir(), 'holter-eval-')), 'alerts.db');
    const run = await runSimulation({ days: options.days, staff: options.staff, seed, store, minSeverity: 'informational', quiet: true, logLevel: 'error', rules: options.rules, detectors: options.detectors }, false);
    runs.push({ scorecard: run.scorecard, alerts: run.summary.alerts, userDays: run.userDays });
    process.stderr.write(`seed ${seed}: ${run.summary.alerts} alerts, incidents caught ${run.scorecard.incidentsCaught}/${run.scorecard.incidents}, traps clean ${run.scorecard.trapsClean}/${run.scorecard.traps}, unexplained ${run.scorecard.unexplained.length}\n`);
    if (options.verbose) process.stderr.write(formatScorecard(run.scorecard));
  }

  const metrics = computeMetrics(runs);
  if (options.json) process.stdout.write(`${JSON.stringify(metrics, null, 2)}\n`);
  else process.stdout.write(`Evaluation over ${options.seeds.length} simulated hospital(s) of ${options.staff} staff and ${options.days} days\n${formatMetrics(metrics)}`);

  const passed = metrics.incidentsCaught === metrics.incidents && metrics.trapsClean === metrics.traps && metrics.falseAlertsPerThousandUserDays < 2;
  return passed ? 0 : 1;
}
