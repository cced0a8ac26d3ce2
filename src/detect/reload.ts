import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { HolterConfig } from '../config/schema.js';
import { formatLocation, HolterError } from '../errors.js';
import type { HolterEvent } from '../event.js';
import type { Logger } from '../log.js';
import { BaselineStage, loadDetectors, type BaselineDetector } from './baseline/index.js';
import { loadSigmaRules, SigmaStage } from './sigma/index.js';
import type { RuleSet } from './sigma/ruleset.js';
import type { Detection, DetectionStage } from './types.js';

/** The outcome of a reload, as the HTTP API and the logs report it. */
export interface ReloadOutcome {
  /** `reloaded` when the new set runs; `rejected` when a file was broken and the running set stays. */
  outcome: 'reloaded' | 'rejected';
  /** Rules and detectors running after the request: the new set when reloaded, the set that stays when rejected. */
  rulesLoaded: number;
  detectorsLoaded: number;
  /** Each problem as `file:line:column CODE message`; empty when reloaded. */
  errors: string[];
}

/** Source of a reload request: a changed rule or detector file, SIGHUP, or the HTTP API. */
export type ReloadTrigger = 'file' | 'signal' | 'api';

export interface ReloaderOptions {
  config: HolterConfig;
  /** Detection stages of every running task, read at each reload. */
  stages: () => DetectionStage[][];
  /** Raises an operator alert through the sinks when a reload is rejected. */
  raise: (detection: Detection) => Promise<void>;
  logger: Logger;
  /** Processing-time clock; injected by tests. */
  now?: () => Date;
  /** Errors of the rule and detector files when the run started; they count in `fileErrors` until a reload succeeds. */
  startErrors?: number;
  /** Called after the new set runs, so the changed state reaches the next checkpoint. */
  onReloaded?: () => void;
}

/** Rule id of the operator alert raised when a reload is rejected, or when files are rejected at start. */
export const RELOAD_REJECTED_RULE_ID = 'holter-reload-rejected';

/** How often `watchFiles` looks for changed rule and detector files. */
const FILE_CHECK_INTERVAL_MS = 2000;

/**
 * Reloads Sigma rules and detectors while the stream runs. The new set is loaded and checked in
 * full first. With any error, nothing changes and an operator alert names the files that failed.
 * Otherwise every task switches in one synchronous step, so no event is judged by a mix of old
 * and new rules. Correlations and detectors whose logic did not change keep their windows and profiles.
 */
export class DetectionReloader {
  readonly counts = { succeeded: 0, rejected: 0 };
  /** Errors in the rule and detector files as last read, at start or by the last reload; 0 once every file loads. */
  fileErrors: number;
  private running: Promise<ReloadOutcome> | undefined;
  private again = false;

  constructor(private readonly options: ReloaderOptions) {
    this.fileErrors = options.startErrors ?? 0;
  }

  /** Reloads now. A request during a reload runs once more after it, so the last edit always lands. */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = this.reloadOnce(trigger).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.reload(trigger);
      }
    });
    return this.running;
  }

  /**
   * Checks the rule and detector files every `intervalMs` and reloads when a file was added,
   * removed or changed in size or modification time. Returns a function that stops checking.
   * It polls because Node 20's recursive fs.watch missed saves that rename a new file over the
   * old one (sed -i, vim).
   */
  watchFiles(intervalMs = FILE_CHECK_INTERVAL_MS): () => void {
    const { config, logger } = this.options;
    const paths = [...config.rules.paths, ...config.detectors.paths, config.rules.mapping];
    let last = filesSignature(paths);
    const timer = setInterval(() => {
      let current: string;
      try {
        current = filesSignature(paths);
      } catch (error) {
        logger.warn({ err: error }, 'checking rule files for changes failed; reload with SIGHUP or the API');
        return;
      }
      if (current === last) return;
      last = current;
      this.reload('file').catch((error: unknown) => logger.error({ err: error }, 'rules reload failed'));
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private async reloadOnce(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const { config, logger } = this.options;
    const taskStages = this.options.stages();
    const loaded = await this.load(Math.max(1, taskStages.length));

    if (loaded.errors.length > 0) {
      this.counts.rejected++;
      this.fileErrors = loaded.errors.length;
      const outcome: ReloadOutcome = { outcome: 'rejected', ...runningCounts(taskStages), errors: loaded.errors.map(describeError) };
      for (const error of loaded.errors) logger.error({ code: error.code, location: error.location, trigger }, `rules reload rejected: ${error.describe()}`);
      await this.options.raise(rejectedDetection(outcome.errors, trigger, this.options.now?.() ?? new Date()));
      return outcome;
    }

    // Everything is loaded before the first task changes; from here on nothing awaits.
    const kept = { correlations: 0, detectors: 0 };
    taskStages.forEach((stages, index) => {
      for (const stage of stages) {
        if (stage instanceof SigmaStage) stage.replaceRuleSet(loaded.ruleSet);
        if (stage instanceof BaselineStage) kept.detectors += stage.replaceDetectors(loaded.detectorSets[index]!).kept.length;
      }
    });
    this.counts.succeeded++;
    this.fileErrors = 0;
    this.options.onReloaded?.();
    logger.info(
      { trigger, rulesLoaded: loaded.rulesLoaded, detectorsLoaded: loaded.detectorsLoaded, tasks: taskStages.length, detectorsKept: kept.detectors, paths: [...config.rules.paths, ...config.detectors.paths] },
      'rules reloaded',
    );
    return { outcome: 'reloaded', rulesLoaded: loaded.rulesLoaded, detectorsLoaded: loaded.detectorsLoaded, errors: [] };
  }

  /**
   * Raises the operator alert for rule and detector files rejected when the run started, as for a
   * rejected reload. Loading has logged each problem already. The other rules and detectors run meanwhile.
   */
  async reportStartErrors(errors: HolterError[]): Promise<void> {
    if (errors.length === 0) return;
    await this.options.raise(rejectedDetection(errors.map(describeError), 'start', this.options.now?.() ?? new Date()));
  }

  /** Loads the rule set once (tasks share compiled rules) and a detector set per task (each keeps its own state). */
  private async load(tasks: number): Promise<{ ruleSet: RuleSet; detectorSets: BaselineDetector[][]; rulesLoaded: number; detectorsLoaded: number; errors: HolterError[] }> {
    const { config } = this.options;
    const rules = await loadSigmaRules(config.rules.paths, {
      mappingFile: config.rules.mapping,
      placeholders: config.rules.placeholders,
      allowedLatenessMs: config.detection.allowed_lateness_seconds * 1000,
      timeZone: config.facility.time_zone,
    });
    const errors = [...rules.errors];

    const detectorSets: BaselineDetector[][] = [];
    for (let task = 0; task < tasks; task++) {
      const detectors = await loadDetectors(config.detectors.paths, { defaultTimeZone: config.facility.time_zone });
      if (task === 0) errors.push(...detectors.errors);
      detectorSets.push([...detectors.stage.loadedDetectors]);
    }
    return { ruleSet: rules.stage.ruleSet, detectorSets, rulesLoaded: rules.stats.rules_loaded, detectorsLoaded: detectorSets[0]?.length ?? 0, errors };
  }
}

/** Names, sizes and modification times of every YAML file under `paths`, as one string to compare. */
function filesSignature(paths: string[]): string {
  const parts: string[] = [];
  const visit = (target: string): void => {
    let info;
    try {
      info = statSync(target);
    } catch {
      parts.push(`${target}:missing`);
      return;
    }
    if (info.isDirectory()) {
      for (const name of readdirSync(target).sort()) {
        const child = join(target, name);
        if (/\.ya?ml$/i.test(name) || statSync(child, { throwIfNoEntry: false })?.isDirectory()) visit(child);
      }
      return;
    }
    parts.push(`${target}:${info.size}:${info.mtimeMs}`);
  };
  for (const path of paths) visit(path);
  return parts.join('\n');
}

function describeError(error: HolterError): string {
  const where = error.location === undefined ? '' : `${formatLocation(error.location)} `;
  return `${where}${error.code} ${error.message}`;
}

/** Counts of the rules and detectors the first task runs now; every task runs the same set. */
function runningCounts(taskStages: DetectionStage[][]): { rulesLoaded: number; detectorsLoaded: number } {
  const counts = { rulesLoaded: 0, detectorsLoaded: 0 };
  for (const stage of taskStages[0] ?? []) {
    if (stage instanceof SigmaStage) counts.rulesLoaded = stage.stats().rules_loaded ?? 0;
    if (stage instanceof BaselineStage) counts.detectorsLoaded = stage.loadedDetectors.length;
  }
  return counts;
}

/**
 * Builds the operator alert for rule or detector files that could not be loaded, by a reload or
 * at start. It names the files and codes but carries no rule text. Its window is the minute of the
 * attempt, so saves of a broken file page at most once a minute.
 */
function rejectedDetection(errors: string[], trigger: ReloadTrigger | 'start', now: Date): Detection {
  const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  const files = [...new Set(errors.map((error) => error.split(' ')[0]!.replace(/:\d+(:\d+)?$/, '')))];
  const triggerEvent: HolterEvent = {
    '@timestamp': now.toISOString(),
    event: { id: `reload-${now.getTime()}`, kind: 'event', category: ['configuration'], type: ['change'], action: `reload-${trigger}`, outcome: 'failure', dataset: 'holter.reload', module: 'holter' },
    holter: { source: { input: 'holter', format: 'holter' } },
  };
  const counted = `${errors.length} error${errors.length === 1 ? '' : 's'} in ${files.join(', ')}`;
  const summary =
    trigger === 'start'
      ? `Rules and detectors rejected at start: ${counted}. Holter runs without them until the files are fixed, and the saved state of a rejected detector is kept until it loads again.`
      : `Rules reload rejected: ${counted}. The rules running before stay in force until the files are fixed.`;
  return {
    rule: { id: RELOAD_REJECTED_RULE_ID, name: 'Rule files rejected', ruleset: 'holter', description: 'Rule or detector files could not be loaded, by a reload or when the run started.' },
    severity: 'high',
    riskScore: 0,
    groupKey: {},
    window: { start: minute.toISOString(), end: new Date(minute.getTime() + 60_000).toISOString() },
    explanation: { summary, details: { trigger, errors: errors.slice(0, 20) } },
    evidence: [],
    trigger: triggerEvent,
  };
}
