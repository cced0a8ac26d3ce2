import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { Alert } from '../alerts/types.js';
import { loadConfig } from '../config/load.js';
import type { Severity } from '../detect/types.js';
import { formatScorecard, scoreAlerts, type Scorecard } from '../eval/scorecard.js';
import type { RunSummary } from '../pipeline.js';
import { createLogger } from '../log.js';
import { simulateHospital } from '../sim/index.js';
import { createOwnerOnly } from '../sqlite-owner.js';
import { assemblePipeline, type LoadReport } from './assemble.js';
import { applyOverrides } from './overrides.js';
import { formatLoadErrors } from './rules-report.js';
import { formatSummary } from './summary.js';

export interface DemoOptions {
  days: number;
  staff: number;
  seed: number;
  store: string;
  out?: string;
  webhook?: string;
  minSeverity: Severity;
  quiet?: boolean;
  logLevel: string;
  /** Delete the store's file first, so that its alerts are this run's only: a second demo would mix two hospitals. */
  freshStore?: boolean;
  /** Rule and detector paths that replace the shipped ones, so an author can score their own. */
  rules?: string[];
  detectors?: string[];
}

/**
 * Runs the embedded demo: a simulated hospital streams through the real pipeline (decoders,
 * enrich, rules, detectors, sinks), then the alerts are scored against the injected incidents
 * and traps. Returns 0 when every incident is caught and every trap is clean.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  if (options.freshStore === true) {
    // SQLite's write-ahead log files go with it, or the new database would read them.
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${options.store}${suffix}`, { force: true });
  }
  const { scorecard, summary, report, storePath } = await runSimulation(options, true);
  process.stderr.write(formatSummary(summary, report));
  process.stderr.write(formatScorecard(scorecard));
  process.stderr.write(`Alerts are kept in ${storePath}; list them with: npx holter alerts --store ${options.store}\n`);
  return scorecard.incidentsCaught === scorecard.incidents && scorecard.trapsClean === scorecard.traps ? 0 : 1;
}

export interface SimulationRun {
  scorecard: Scorecard;
  summary: RunSummary;
  report: LoadReport;
  storePath: string | undefined;
  /** Staff times days: the denominator of false alerts per thousand user-days. */
  userDays: number;
}

/**
 * Streams a simulated hospital through the real pipeline and scores the alerts against its
 * labels. `announce` prints what is simulated before the run (the demo does, eval does not).
 */
export async function runSimulation(options: DemoOptions, announce: boolean): Promise<SimulationRun> {
  const hospital = simulateHospital({ seed: options.seed, days: options.days, staff: options.staff });
  const workDir = path.dirname(path.resolve(options.store));
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const directoryFile = path.join(workDir, 'directory.csv');
  const rosterFile = path.join(workDir, 'patient-roster.csv');
  writeOwnerOnly(directoryFile, hospital.directoryCsv());
  writeOwnerOnly(rosterFile, hospital.rosterCsv());

  const config = applyOverrides(loadConfig(), {
    directory: directoryFile,
    roster: rosterFile,
    timeZone: hospital.timeZone,
    store: options.store,
    out: options.out,
    webhook: options.webhook,
    minSeverity: options.minSeverity,
    quiet: options.quiet,
    logLevel: options.logLevel,
    deadLetter: path.join(workDir, 'dead-letter.ndjson'),
    rules: options.rules,
    detectors: options.detectors,
  });
  config.sinks.webhook.outbox_path = path.join(workDir, 'webhook-outbox.db');
  // The demo's tokens only need to be stable within the demo's own store.
  config.identity.token_key = 'holter-demo-token-key-not-for-production';

  const logger = createLogger(config.log.level);
  const alerts: Alert[] = [];
  const { pipeline, report } = await assemblePipeline(config, { logger, logLoadErrors: false, onAlert: (alert) => alerts.push(alert) });
  process.stderr.write(formatLoadErrors(report, process.cwd()));
  if (report.rulesLoaded + report.correlationsLoaded + report.detectorsLoaded === 0) {
    process.stderr.write('Note: no rule or detector loaded, so nothing can raise an alert. Check --rules and --detectors.\n');
  }

  if (announce) process.stderr.write(
    `Simulating ${hospital.directory.length} staff at ${hospital.facility} (${hospital.timeZone}) for ${options.days} days; alerts print below as they are raised.\n`,
  );
  const bar = process.stderr.isTTY && options.quiet ? createDayBar(options.days) : undefined;
  const startMs = hospital.startMs;
  for (const record of hospital.records()) {
    await pipeline.push({ input: 'demo', text: record.text, format: record.format });
    bar?.update(Math.floor((record.eventTimeMs - startMs) / 86_400_000));
  }
  bar?.stop();

  const summary = await pipeline.finish();
  await pipeline.close();
  return {
    scorecard: scoreAlerts(hospital.labels, alerts),
    summary,
    report,
    storePath: config.sinks.store.path,
    userDays: hospital.directory.length * options.days,
  };
}

function createDayBar(days: number): cliProgress.SingleBar {
  const bar = new cliProgress.SingleBar({ format: 'demo [{bar}] day {value}/{total}', stream: process.stderr }, cliProgress.Presets.shades_classic);
  bar.start(days, 0);
  return bar;
}

/**
 * Writes a file readable by its owner only, as the other stores are: the directory lists staff and
 * the roster lists patient ids with their VIP and deceased flags. A file left by an earlier demo
 * with a wider mode is narrowed before it is written.
 */
function writeOwnerOnly(file: string, text: string): void {
  createOwnerOnly(file);
  chmodSync(file, 0o600);
  writeFileSync(file, text);
}
