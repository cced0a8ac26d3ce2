import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { HolterConfig } from '../config/schema.js';
import { readSecret, WEBHOOK_SECRET_ENV } from '../config/load.js';
import { decodeRecord } from '../decoders/index.js';
import type { DecodeContext, GenericMapping } from '../decoders/types.js';
import { loadDetectors } from '../detect/baseline/index.js';
import { loadRiskConfig, RiskStage } from '../detect/risk/index.js';
import { loadSigmaRules, SigmaStage } from '../detect/sigma/index.js';
import type { DetectionStage } from '../detect/types.js';
import { createEnricher, loadDirectory, loadRoster } from '../enrich/index.js';
import { createPatientTokenizer, keyFingerprint } from '../enrich/tokens.js';
import { HolterError } from '../errors.js';
import type { Logger } from '../log.js';
import { isDirectory, STANDARD_STREAM } from '../paths.js';
import { Pipeline } from '../pipeline.js';
import { ConsoleSink } from '../sinks/console/sink.js';
import { DeadLetterFile, type DeadLetterSink } from '../sinks/dead-letter/writer.js';
import { createElasticsearchClient } from '../sinks/elasticsearch/client.js';
import { ElasticsearchSink } from '../sinks/elasticsearch/sink.js';
import { NdjsonSink } from '../sinks/ndjson/sink.js';
import { AlertStore } from '../sinks/store/sink.js';
import type { AlertSink } from '../sinks/types.js';
import { WebhookSink } from '../sinks/webhook/sink.js';
import type { Alert } from '../alerts/types.js';
import type { TaskStages } from '../state/task.js';

/** Characters at least in an HMAC key: the patient token key and the webhook signing secret, as the schema requires inline. */
const MIN_SECRET_LENGTH = 16;

/** Problems found while loading rules and detectors; the good ones still run. */
export interface LoadReport {
  ruleErrors: HolterError[];
  detectorErrors: HolterError[];
  /** Detection rules; correlation rules are counted apart. */
  rulesLoaded: number;
  correlationsLoaded: number;
  detectorsLoaded: number;
  /** Rule documents (detection or correlation) and detector files that did not load. One with several errors counts once. */
  rulesRejected: number;
  detectorsRejected: number;
  /** Problems in the risk settings; with any, the run goes on without risk scoring. */
  riskErrors: HolterError[];
  riskEnabled: boolean;
}

export interface AssembledPipeline {
  pipeline: Pipeline;
  store?: AlertStore;
  /** The Elasticsearch sink when `sinks.elasticsearch.nodes` is set; `holter run` bounds its shutdown with it. */
  elasticsearch?: ElasticsearchSink;
  report: LoadReport;
}

export interface AssembleOptions {
  logger: Logger;
  onAlert?: (alert: Alert) => void;
  /** Reference time for syslog lines without a year. */
  now?: Date;
  /** Destination of undecodable records. Defaults to the `dead_letter.path` file; `holter run` passes the dead-letter topic. */
  deadLetter?: DeadLetterSink;
  /** False when the caller prints the rule and detector load errors itself, as `holter replay` does. Default true. */
  logLoadErrors?: boolean;
  /** Input files of the run, which no output file may name. */
  inputs?: string[];
}

/** Builds the whole pipeline from a validated configuration: decoders, enrich, rules, detectors, sinks. */
export async function assemblePipeline(config: HolterConfig, options: AssembleOptions): Promise<AssembledPipeline> {
  const { logger } = options;
  assertPathsExist(config.rules.paths, 'rules.paths or --rules');
  assertPathsExist(config.detectors.paths, 'detectors.paths or --detectors');
  checkOutputFile(config.dead_letter.path, 'dead_letter.path or --dead-letter', options.inputs);
  if (options.deadLetter === undefined) warnIfOthersRead(config.dead_letter.path, logger);
  if (config.sinks.ndjson.path !== undefined && config.sinks.ndjson.path !== STANDARD_STREAM) checkOutputFile(config.sinks.ndjson.path, 'sinks.ndjson.path or --out', options.inputs);
  if (config.sinks.store.path !== undefined) checkOutputFile(config.sinks.store.path, 'sinks.store.path or --store', options.inputs);
  const enrich = await buildEnricher(config, logger);

  const rules = await loadSigmaRules(config.rules.paths, {
    mappingFile: config.rules.mapping,
    placeholders: config.rules.placeholders,
    allowedLatenessMs: config.detection.allowed_lateness_seconds * 1000,
    timeZone: config.facility.time_zone,
  });
  const detectors = await loadDetectors(config.detectors.paths, { defaultTimeZone: config.facility.time_zone, logger });
  if (options.logLoadErrors !== false) {
    for (const error of [...rules.errors, ...detectors.errors]) logger.error({ code: error.code, location: error.location }, error.describe());
  }

  detectors.stage.keepUnloadedStates = detectors.errors.length > 0;
  const stages: DetectionStage[] = [rules.stage, detectors.stage];
  const risk = await loadRisk(config, options.logLoadErrors === false ? undefined : logger);

  // Each further task (holter run: one per partition) gets stages of its own. The compiled Sigma
  // rules are shared, read from the default task's stage so a task made after a reload gets the
  // reloaded set. Detectors are loaded again, because a detector object contains its state.
  // NOTE: after a rejected reload, a task made later loads the detector files as they are on disk,
  // so its detectors can differ from the running tasks' until the files are fixed.
  const allowedLatenessMs = config.detection.allowed_lateness_seconds * 1000;
  const createStages = async (): Promise<TaskStages> => {
    const taskDetectors = await loadDetectors(config.detectors.paths, { defaultTimeZone: config.facility.time_zone, logger });
    // A detector whose file is broken keeps its saved state until the file loads again.
    taskDetectors.stage.keepUnloadedStates = taskDetectors.errors.length > 0;
    const taskStages: TaskStages = { stages: [new SigmaStage(rules.stage.ruleSet, { allowedLatenessMs }), taskDetectors.stage] };
    if (risk.stage !== undefined) taskStages.risk = new RiskStage(risk.stage.config);
    return taskStages;
  };
  const { sinks, store, elasticsearch } = buildSinks(config, logger);

  const decodeContext: DecodeContext = {
    defaultTimeZone: config.facility.time_zone,
    now: options.now ?? new Date(),
    genericMappings: toGenericMappings(config),
  };

  const pipeline = new Pipeline({
    decode: decodeRecord,
    decodeContext,
    enrich,
    stages,
    risk: risk.stage,
    createStages,
    sinks,
    deadLetter: options.deadLetter ?? new DeadLetterFile(config.dead_letter.path),
    allowedLatenessMs,
    logger,
    onAlert: options.onAlert,
  });

  const report: LoadReport = {
    ruleErrors: rules.errors,
    detectorErrors: detectors.errors,
    rulesLoaded: rules.stage.stats().rules_loaded ?? 0,
    correlationsLoaded: rules.stage.stats().correlations_loaded ?? 0,
    detectorsLoaded: detectors.stage.stats().detectors_loaded ?? 0,
    rulesRejected: rules.stats.rules_rejected,
    detectorsRejected: detectors.rejected,
    riskErrors: risk.errors,
    riskEnabled: risk.stage !== undefined,
  };
  logger.info({ rulesLoaded: report.rulesLoaded, correlationsLoaded: report.correlationsLoaded, rulesRejected: report.rulesRejected, detectorsLoaded: report.detectorsLoaded, detectorsRejected: report.detectorsRejected }, 'detection loaded');
  if (options.logLoadErrors !== false && rules.errors.length + detectors.errors.length > 0) {
    // Loading stops at a document's first problems; validate also compiles and lints what it can.
    logger.warn({ rulesRejected: report.rulesRejected, detectorsRejected: report.detectorsRejected }, 'some rules or detectors were rejected; run holter rules validate on their files to list every problem at once');
  }
  return { pipeline, store, elasticsearch, report };
}

/** Returns the fingerprint of the configured patient token key, or undefined when none is configured. */
export function configuredKeyFingerprint(config: HolterConfig): string | undefined {
  const key = readSecret(config.identity.token_key, config.identity.token_key_file, 'identity.token_key');
  return key === undefined ? undefined : keyFingerprint(createPatientTokenizer(key));
}

async function buildEnricher(config: HolterConfig, logger: Logger): Promise<ReturnType<typeof createEnricher>> {
  const configuredKey = readSecret(config.identity.token_key, config.identity.token_key_file, 'identity.token_key', { minLength: MIN_SECRET_LENGTH });
  if (configuredKey === undefined) {
    logger.warn('no identity.token_key configured; patient tokens are random for this run and will not match other runs');
  }
  const tokenKey = configuredKey ?? randomBytes(32).toString('hex');

  const directory = config.identity.directory === undefined ? undefined : await loadDirectory(config.identity.directory);
  const roster = config.identity.patient_roster === undefined ? undefined : await loadRoster(config.identity.patient_roster, tokenKey);
  return createEnricher({ directory, roster, tokenKey });
}

/** Loads the risk settings; `logger` logs their errors, unless the caller prints them itself. */
async function loadRisk(config: HolterConfig, logger: Logger | undefined): Promise<{ stage?: RiskStage; errors: HolterError[] }> {
  if (!config.risk.enabled) return { errors: [] };
  const loaded = await loadRiskConfig(config.risk.file);
  for (const error of loaded.errors) logger?.error({ code: error.code, location: error.location }, error.describe());
  if (loaded.config === undefined || loaded.errors.length > 0) return { errors: loaded.errors };
  return { stage: new RiskStage(loaded.config), errors: [] };
}

/** Rejects rule or detector paths that do not exist, because a run without its rules would be silently blind. */
function assertPathsExist(paths: string[], setting: string): void {
  for (const folder of paths) {
    if (!existsSync(folder)) {
      throw new HolterError('HOLTER_CONFIG_INVALID', `${folder} not found (from ${setting}). Fix the path, or leave the setting out to use the shipped rules and detectors.`);
    }
  }
}

/**
 * Throws HOLTER_OUTPUT_INVALID when an output file cannot be written where it is named: the path
 * is a directory, a folder on its way is a file, or it is one of the run's `inputs`. Checked
 * before any record is read, because a write fails only when the first output arrives, mid-run.
 */
export function checkOutputFile(filePath: string, setting: string, inputs: string[] = []): void {
  if (filePath === STANDARD_STREAM) throw new HolterError('HOLTER_OUTPUT_INVALID', `- (standard output) is accepted by --out only, not by ${setting}. Name a file.`);
  if (isDirectory(filePath)) throw new HolterError('HOLTER_OUTPUT_INVALID', `${filePath} is a directory (from ${setting}). Name a file inside it.`);

  const blocking = existingAncestor(path.dirname(path.resolve(filePath)));
  if (!isDirectory(blocking)) throw new HolterError('HOLTER_OUTPUT_INVALID', `${filePath} (from ${setting}) cannot be created, because ${blocking} is a file, not a folder. Name another path.`);

  const target = canonicalPath(filePath);
  if (inputs.some((input) => input !== '-' && canonicalPath(input) === target)) {
    throw new HolterError('HOLTER_OUTPUT_INVALID', `${filePath} (from ${setting}) is also an input of this run, and writing to it would change what is read. Name another file.`);
  }
}

/**
 * Warns when an existing dead-letter file is readable by other users. Holter creates it owner-only,
 * but does not change the mode of a file someone made before.
 */
function warnIfOthersRead(filePath: string, logger: Logger): void {
  let mode: number;
  try {
    mode = statSync(filePath).mode;
  } catch {
    return;
  }
  if ((mode & 0o077) !== 0) {
    logger.warn({ path: filePath, mode: (mode & 0o777).toString(8) }, 'the dead-letter file is readable by other users, and its records keep patient identifiers; run chmod 600 on it');
  }
}

/** Returns the nearest ancestor of `folder` that exists, itself included; folders missing below it are created on write. */
function existingAncestor(folder: string): string {
  let current = folder;
  while (!existsSync(current) && path.dirname(current) !== current) current = path.dirname(current);
  return current;
}

/** Resolves links, so that two names of one file compare equal; a file not yet created keeps its absolute path. */
function canonicalPath(filePath: string): string {
  try {
    return realpathSync(filePath);
  } catch {
    return path.resolve(filePath);
  }
}

function buildSinks(config: HolterConfig, logger: Logger): { sinks: AlertSink[]; store?: AlertStore; elasticsearch?: ElasticsearchSink } {
  const sinks: AlertSink[] = [];
  // With `--out -` standard output carries the NDJSON alone, so that a pipe to jq reads only JSON.
  const consoleOutput = config.sinks.ndjson.path === STANDARD_STREAM ? process.stderr : process.stdout;
  if (config.sinks.console.enabled) sinks.push(new ConsoleSink({ minSeverity: config.sinks.console.min_severity, output: consoleOutput }));
  if (config.sinks.ndjson.path !== undefined) sinks.push(new NdjsonSink(config.sinks.ndjson.path));

  let store: AlertStore | undefined;
  if (config.sinks.store.path !== undefined) {
    store = new AlertStore(config.sinks.store.path);
    sinks.push(store);
  }

  const webhook = config.sinks.webhook;
  if (webhook.url !== undefined) {
    sinks.push(
      new WebhookSink({
        url: webhook.url,
        secret: readSecret(webhook.secret, webhook.secret_file, 'sinks.webhook.secret', { minLength: MIN_SECRET_LENGTH, envName: WEBHOOK_SECRET_ENV }),
        minSeverity: webhook.min_severity,
        timeoutMs: webhook.timeout_ms,
        maxAttempts: webhook.max_attempts,
        initialBackoffMs: webhook.initial_backoff_ms,
        outboxPath: webhook.outbox_path,
        drainTimeoutMs: webhook.drain_timeout_ms,
        logger,
      }),
    );
  }

  const settings = config.sinks.elasticsearch;
  let elasticsearch: ElasticsearchSink | undefined;
  if (settings.nodes.length > 0) {
    elasticsearch = new ElasticsearchSink({
      client: createElasticsearchClient(settings),
      dataStream: settings.data_stream,
      maxBatchSize: settings.max_batch_size,
      maxConcurrentRequests: settings.max_concurrent_requests,
      initialBackoffMs: settings.initial_backoff_ms,
      maxBackoffMs: settings.max_backoff_ms,
      drainTimeoutMs: settings.drain_timeout_ms,
      logger,
    });
    sinks.push(elasticsearch);
  }
  return { sinks, store, elasticsearch };
}

function toGenericMappings(config: HolterConfig): Record<string, GenericMapping> {
  const mappings: Record<string, GenericMapping> = {};
  for (const [name, mapping] of Object.entries(config.decode.generic)) {
    mappings[name] = {
      timestamp: mapping.timestamp,
      timestampFormat: mapping.timestamp_format,
      fields: mapping.fields,
      constants: mapping.constants,
    };
  }
  return mappings;
}
