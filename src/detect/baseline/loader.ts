import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { IANAZone } from 'luxon';
import { LineCounter, isMap, parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';
import { HolterError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { findTooDeep, isStackOverflowMessage, nestingMessage } from '../../yaml/limits.js';
import { documentData } from '../../yaml/locate.js';
import { DAY_MS, isWithinMaxDuration, maxDurationText, MAX_DURATION_DAYS } from '../sigma/duration.js';
import type { RuleInfo } from '../types.js';
import type { BaselineDetector } from './detector.js';
import { HighSumDetector } from './high-sum.js';
import { LocalClock } from './local-time.js';
import { locatePath } from './locate.js';
import { BucketDetector } from './bucket-detector.js';
import { Exclusions, parseExclusion } from './exclusions.js';
import { checkFieldRepeats, checkListFields, checkPatientData } from './fields.js';
import { NewValueDetector } from './new-values.js';
import { COUNT_FUNCTIONS, DEFAULTS, DURATION_PATTERN, durationMs, NEW_VALUE_FUNCTIONS, PLANNED_FUNCTIONS, SCHEMAS, SUPPORTED_FUNCTIONS } from './schema.js';
import { SEASONALITIES, seasonalModeOf, type Seasonality } from './seasonal.js';
import type { CountConfig, DetectorConfig, DetectorFunction, NewValueConfig, TimeOfDayConfig } from './schema.js';
import { BaselineStage } from './stage.js';
import { TimeOfDayDetector } from './time-of-day.js';
import { EntityKeys } from './entities.js';
import { located, validateDetector } from './validate.js';
import type { DocumentContext } from './validate.js';

export interface LoadDetectorsOptions {
  /** IANA zone for events whose user has no time zone. */
  defaultTimeZone: string;
  /** Log of the stage: a restore warns there about each detector whose changed logic restarts its baseline. */
  logger?: Logger;
}

/** Caches the detectors of one loaded set share. */
interface SharedByDetectors {
  clock?: LocalClock;
  entityKeys?: EntityKeys;
}

const FIELD_PATH = /^[A-Za-z@_][A-Za-z0-9@_.-]*$/;

const EMPTY_FILE_MESSAGE = 'a detector file must be a YAML mapping of keys such as id, name and function';

/**
 * Loads detector files (a folder contributes its `.yaml` and `.yml` files, sorted by name). A bad
 * file is rejected with every problem it has, and the other files still load. A file whose `id`
 * repeats an earlier file's is rejected.
 */
export async function loadDetectors(
  paths: string[],
  options: LoadDetectorsOptions,
): Promise<{ stage: BaselineStage; errors: HolterError[]; rejected: number }> {
  if (!IANAZone.isValidZone(options.defaultTimeZone)) {
    throw new HolterError(
      'HOLTER_CONFIG_INVALID',
      `default time zone '${options.defaultTimeZone}' is not a known IANA time zone; use an IANA name such as America/New_York`,
      { path: 'facility.time_zone' },
    );
  }

  // One clock and one entity key table for the set, so detectors share their caches.
  const clock = new LocalClock();
  const entityKeys = new EntityKeys();
  const errors: HolterError[] = [];
  const detectors: BaselineDetector[] = [];
  const seenIds = new Map<string, string>();
  // Detector files that did not load. A file contains one detector, so it counts once however many errors it has.
  let rejected = 0;

  for (const file of await expandPaths(paths, errors)) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'read failed';
      errors.push(new HolterError('HOLTER_RULE_INVALID', `cannot read detector file (${reason})`, { location: { file }, cause: error }));
      rejected++;
      continue;
    }

    const result = parseDetector(text, file, { ...options, clock, entityKeys });
    if (result.detector !== undefined) {
      const duplicate = claimDetectorId(seenIds, result.detector, file);
      if (duplicate !== undefined) {
        errors.push(duplicate);
        rejected++;
        continue;
      }
      detectors.push(result.detector);
    } else {
      rejected++;
    }
    errors.push(...result.errors);
  }

  return { stage: new BaselineStage(detectors, options.logger), errors, rejected };
}

/**
 * Records the id of a detector that loaded from `file` in `seenIds` (id to file). Returns the
 * error when an earlier file already uses the id: that detector is then rejected. `holter rules
 * validate` and `holter rules test` call it too, so they reject the same files as a run does.
 */
export function claimDetectorId(seenIds: Map<string, string>, detector: BaselineDetector, file: string): HolterError | undefined {
  const id = detector.rule.id;
  const earlier = seenIds.get(id);
  if (earlier === undefined) {
    seenIds.set(id, file);
    return undefined;
  }

  // A detector file is a block mapping, so its top-level `id` key starts the line.
  const location = { file, line: detector.rule.line, column: 1 };
  return new HolterError('HOLTER_RULE_INVALID', `detector id '${id}' is already used by ${earlier}; give each detector its own id`, { location, path: 'id' });
}

async function expandPaths(paths: string[], errors: HolterError[]): Promise<string[]> {
  const files: string[] = [];
  for (const entry of paths) {
    let info;
    try {
      info = await stat(entry);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'stat failed';
      errors.push(new HolterError('HOLTER_RULE_INVALID', `detector path not found (${reason}); check detectors.paths`, { location: { file: entry }, cause: error }));
      continue;
    }
    if (!info.isDirectory()) {
      files.push(entry);
      continue;
    }
    const names = (await readdir(entry)).filter((name) => /\.ya?ml$/i.test(name)).sort();
    files.push(...names.map((name) => path.join(entry, name)));
  }
  return files;
}

/** Parses and validates one detector file; returns the detector, or every error found. */
export function parseDetector(
  text: string,
  file: string,
  options: LoadDetectorsOptions & SharedByDetectors,
): { detector?: BaselineDetector; errors: HolterError[] } {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const list = Array.isArray(documents) ? documents : [];
  const document = list[0];
  if (document === undefined) return { errors: [new HolterError('HOLTER_RULE_INVALID', EMPTY_FILE_MESSAGE, { location: { file, line: 1, column: 1 } })] };
  const context: DocumentContext = { file, document, lineCounter };

  // A second document would be ignored by a run, so it is an error. The first is still checked,
  // so that one pass reports its problems too.
  const extraDocuments = list.slice(1).filter((extra) => extra.contents !== null || extra.errors.length > 0);
  const layoutErrors = extraDocuments.slice(0, 1).map((extra) => secondDocumentError(extra, file, lineCounter));
  const yamlErrors = list.flatMap((parsed) => parsed.errors);
  // Running out of stack leaves the parser's later errors meaningless, so only the first such error is reported.
  const overflow = yamlErrors.find((error) => isStackOverflowMessage(error.message));
  const syntaxErrors = (overflow === undefined ? yamlErrors : [overflow]).map((error) => {
    const start = lineCounter.linePos(error.pos[0]);
    const location = { file, line: start.line, column: start.col };
    if (error === overflow) return new HolterError('HOLTER_RULE_INVALID', nestingMessage(), { location });
    const reason = error.message.split('\n')[0] ?? error.message;
    return new HolterError('HOLTER_RULE_INVALID', `invalid YAML: ${reason}`, { location });
  });
  if (document.errors.length > 0) return { errors: [...syntaxErrors, ...layoutErrors] };

  // Checked before anything walks the document recursively, which a deep enough one would overflow.
  const tooDeep = findTooDeep(document);
  if (tooDeep !== undefined) {
    const start = lineCounter.linePos(tooDeep.range?.[0] ?? 0);
    return { errors: [new HolterError('HOLTER_RULE_INVALID', nestingMessage(), { location: { file, line: start.line, column: start.col } }), ...layoutErrors] };
  }

  const result = parseDetectorDocument(context, options);
  const errors = [...result.errors, ...syntaxErrors, ...layoutErrors];
  if (errors.length > 0) return { errors };
  return result;
}

function secondDocumentError(document: Document.Parsed, file: string, lineCounter: LineCounter): HolterError {
  const start = lineCounter.linePos(document.range[0]);
  return new HolterError('HOLTER_RULE_INVALID', 'a detector file holds one document; split it into files', { location: { file, line: start.line, column: start.col } });
}

/** Validates the document of a detector file that parsed; returns the detector, or every error found. */
function parseDetectorDocument(context: DocumentContext, options: LoadDetectorsOptions & SharedByDetectors): { detector?: BaselineDetector; errors: HolterError[] } {
  const { document, file } = context;

  if (!isMap(document.contents)) {
    return { errors: [located(context, [], 'value', EMPTY_FILE_MESSAGE)] };
  }
  let data: Record<string, unknown>;
  try {
    data = documentData(document, file, 'HOLTER_RULE_INVALID', context.lineCounter) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof HolterError) return { errors: [error] };
    throw error;
  }

  const fn = checkFunction(data.function, context);
  if (typeof fn !== 'string') return { errors: [fn, ...problemsForEveryFunction(data, options.defaultTimeZone, context)] };

  // The checks the schema cannot express run on a file with schema errors too, so that one pass
  // reports every problem. Each of them reads only values that have the type it needs.
  const errors = validateDetector(fn, data, context);
  errors.push(...checkSemantics(data, fn, context));
  const exclusions = readExclusions(data, options.defaultTimeZone, context);
  if (exclusions instanceof Array) errors.push(...exclusions);
  if (errors.length > 0 || exclusions instanceof Array) return { errors };

  const config = data as unknown as DetectorConfig;
  const detector = createDetector(config, ruleInfo(config, context), { ...options, exclusions });
  detector.fingerprint = fingerprintOf(config, options.defaultTimeZone);
  return { detector, errors: [] };
}

function createDetector(config: DetectorConfig, rule: RuleInfo, options: LoadDetectorsOptions & SharedByDetectors & { exclusions: Exclusions }): BaselineDetector {
  const { clock, entityKeys, exclusions, defaultTimeZone } = options;
  if (config.function === 'time_of_day' || config.function === 'time_of_week') return new TimeOfDayDetector(config as TimeOfDayConfig, rule, { defaultTimeZone, clock, entityKeys });
  if (config.function === 'high_sum') return new HighSumDetector(config, rule, { entityKeys });
  if (config.function === 'first_seen' || config.function === 'rare') return new NewValueDetector(config as NewValueConfig, rule, { exclusions, entityKeys });
  return new BucketDetector(config as CountConfig, rule, { exclusions, defaultTimeZone, clock, entityKeys });
}

/**
 * Parses the `exclude` periods in the facility's zone; returns the errors when any is invalid. An
 * entry without text `start` and `end` is left to the schema's error.
 */
function readExclusions(data: Record<string, unknown>, zone: string, context: DocumentContext): Exclusions | HolterError[] {
  const entries = Array.isArray(data.exclude) ? (data.exclude as unknown[]) : [];
  const ranges: Array<[number, number]> = [];
  const errors: HolterError[] = [];
  entries.forEach((entry, index) => {
    if (!isRecord(entry) || typeof entry.start !== 'string' || typeof entry.end !== 'string') return;
    const parsed = parseExclusion({ start: entry.start, end: entry.end }, zone);
    if (Array.isArray(parsed)) ranges.push(parsed);
    else errors.push(located(context, ['exclude', String(index), parsed.key], 'value', parsed.message));
  });
  return errors.length > 0 ? errors : new Exclusions(ranges);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function checkFunction(value: unknown, context: DocumentContext): DetectorFunction | HolterError {
  const supported = SUPPORTED_FUNCTIONS.join(', ');
  if (value === undefined) return located(context, [], 'value', `missing required key 'function'; use one of ${supported}`, 'function');
  if ((SUPPORTED_FUNCTIONS as readonly unknown[]).includes(value)) return value as DetectorFunction;

  const position = locatePath(context.document, context.lineCounter, ['function']);
  const location = { file: context.file, line: position.line, column: position.column };
  if ((PLANNED_FUNCTIONS as readonly unknown[]).includes(value)) {
    const message = `function '${String(value)}' is not supported yet; supported functions: ${supported}`;
    return new HolterError('HOLTER_RULE_UNSUPPORTED', message, { location, path: 'function' });
  }
  return new HolterError('HOLTER_RULE_INVALID', `function ${JSON.stringify(value)} is unknown; use one of ${supported}`, { location, path: 'function' });
}

/**
 * Returns the problems that a file with an unknown `function` has whichever function it should
 * name: those that every function's schema reports, invalid `where` keys, patient data and
 * repeated fields, durations past their limits and invalid `exclude` dates.
 * They are then reported with the function error, not only after it is fixed.
 */
function problemsForEveryFunction(data: Record<string, unknown>, zone: string, context: DocumentContext): HolterError[] {
  let common: Map<string, HolterError> | undefined;
  for (const fn of SUPPORTED_FUNCTIONS) {
    const problems = new Map(validateDetector(fn, { ...data, function: fn }, context).map((problem) => [problem.describe(), problem]));
    common = common === undefined ? problems : new Map([...common].filter(([key]) => problems.has(key)));
  }
  // An unknown key is reported by every schema, but each lists its own keys, so the messages differ.
  const known = new Set(SUPPORTED_FUNCTIONS.flatMap((fn) => Object.keys((SCHEMAS[fn] as { properties?: Record<string, unknown> }).properties ?? {})));
  const unknownKeys = Object.keys(data)
    .filter((key) => !known.has(key))
    .map((key) => located(context, [key], 'key', `unknown key '${key}': no detector function has it; check its spelling against docs/detectors.md`));
  const exclusions = readExclusions(data, zone, context);
  const durations = checkDurationLimits(data, context);
  const fields = [...checkPatientData(data, context), ...checkFieldRepeats(data, context), ...checkListFields(data, context)];
  return [...(common?.values() ?? []), ...unknownKeys, ...checkWhereKeys(data, context), ...fields, ...durations, ...(exclusions instanceof Array ? exclusions : [])];
}

function checkWhereKeys(data: Record<string, unknown>, context: DocumentContext): HolterError[] {
  const errors: HolterError[] = [];
  for (const field of Object.keys(isRecord(data.where) ? data.where : {})) {
    if (field !== 'exists' && !FIELD_PATH.test(field)) {
      errors.push(located(context, ['where', field], 'key', `where key '${field}' must be a dotted field path such as event.category`));
    }
  }
  return errors;
}

/** Checks what the schema cannot express. */
function checkSemantics(data: Record<string, unknown>, fn: DetectorFunction, context: DocumentContext): HolterError[] {
  const errors = checkWhereKeys(data, context);
  errors.push(...checkPatientData(data, context));
  errors.push(...checkFieldRepeats(data, context));
  errors.push(...checkListFields(data, context));
  errors.push(...checkFunctionKeys(data, fn, context));
  errors.push(...checkDurationLimits(data, context));

  const thresholds = isRecord(data.thresholds) ? data.thresholds : {};
  const { floor, ceiling } = thresholds;
  if (fn === 'high_sum' && typeof floor === 'number' && typeof ceiling === 'number' && floor >= ceiling) {
    const message =
      `thresholds.floor (${floor}) must be below thresholds.ceiling (${ceiling}); ` +
      'the ceiling always alerts, so a floor at or above it has no effect';
    errors.push(located(context, ['thresholds', 'floor'], 'value', message));
  }
  return errors;
}

/**
 * Checks every duration against the largest value its setting allows. A value of the wrong form
 * is left to the schema's error.
 */
function checkDurationLimits(data: Record<string, unknown>, context: DocumentContext): HolterError[] {
  const errors: HolterError[] = [];
  const pattern = new RegExp(DURATION_PATTERN);
  for (const key of ['bucket_span', 'window', 'history'] as const) {
    const value = data[key];
    if (typeof value !== 'string' || !pattern.test(value) || isWithinMaxDuration(key, durationMs(value))) continue;
    const max = maxDurationText(key);
    errors.push(located(context, [key], 'value', `${key} '${value}' is longer than the largest allowed, ${max}; use a ${key} of at most ${max}`));
  }

  const learning = isRecord(data.learning) ? data.learning : {};
  for (const key of ['min_days', 'half_life_days'] as const) {
    const value = learning[key];
    const setting = `learning.${key}` as const;
    // ajv reports a value that is not a finite number.
    if (typeof value !== 'number' || !Number.isFinite(value) || isWithinMaxDuration(setting, value * DAY_MS)) continue;
    const max = MAX_DURATION_DAYS[setting];
    errors.push(located(context, ['learning', key], 'value', `${setting} (${value}) is longer than the largest allowed, ${max} days; use at most ${max}`));
  }
  return errors;
}

/** Checks the keys a function needs or ignores, which one schema for a whole family cannot express. */
function checkFunctionKeys(data: Record<string, unknown>, fn: DetectorFunction, context: DocumentContext): HolterError[] {
  const errors: HolterError[] = [];
  const thresholds = isRecord(data.thresholds) ? data.thresholds : undefined;
  if ((COUNT_FUNCTIONS as readonly string[]).includes(fn)) {
    const needsField = fn.includes('distinct') || fn.endsWith('sum');
    if (needsField && data.field === undefined) {
      errors.push(located(context, [], 'value', `missing required key 'field': ${fn} reads the field it ${fn.endsWith('sum') ? 'sums' : 'counts distinct values of'}`, 'field'));
    }
    if (!needsField && data.field !== undefined) {
      errors.push(located(context, ['field'], 'key', `key 'field' has no effect for ${fn}, which counts events; remove it, or use distinct_count to count distinct values`));
    }
    // A seasonality the bucket span cannot follow (hour_of_week with 1d buckets, say).
    // An invalid bucket_span is the schema's error; judged against the default span it would add a false one.
    const spanValid = data.bucket_span === undefined || (typeof data.bucket_span === 'string' && new RegExp(DURATION_PATTERN).test(data.bucket_span));
    if (spanValid && typeof data.seasonality === 'string' && (SEASONALITIES as readonly string[]).includes(data.seasonality)) {
      const span = typeof data.bucket_span === 'string' ? data.bucket_span : DEFAULTS.bucket_span;
      const resolved = seasonalModeOf(data.seasonality as Seasonality, durationMs(span), span);
      if ('error' in resolved) errors.push(located(context, ['seasonality'], 'value', resolved.error));
    }
  }
  if (fn === 'time_of_week' && thresholds?.min_active_days !== undefined) {
    const message = "key 'thresholds.min_active_days' has no effect for time_of_week, which judges each day of the week apart; remove it, or use time_of_day";
    errors.push(located(context, ['thresholds', 'min_active_days'], 'key', message));
  }
  // Without a thresholds mapping the schema already reports it missing.
  if (fn === 'rare' && thresholds !== undefined && thresholds.max_share === undefined) {
    errors.push(located(context, ['thresholds'], 'value', "missing required key 'thresholds.max_share': rare needs the share below which a value is rare", 'thresholds.max_share'));
  }
  if (fn === 'first_seen' && thresholds?.max_share !== undefined) {
    errors.push(located(context, ['thresholds', 'max_share'], 'key', "key 'thresholds.max_share' has no effect for first_seen; remove it, or use function rare"));
  }
  if ((NEW_VALUE_FUNCTIONS as readonly string[]).includes(fn)) errors.push(...checkHistoryCoversBucket(data, context));
  return errors;
}

/**
 * Rejects a `history` shorter than the bucket of `first_seen` or `rare`. A value would then be
 * forgotten within one bucket, so a value the entity uses in every bucket could still be judged
 * new. The default history, 30 days, is longer than the longest bucket. A duration of the wrong
 * form is left to the schema's error.
 */
function checkHistoryCoversBucket(data: Record<string, unknown>, context: DocumentContext): HolterError[] {
  const pattern = new RegExp(DURATION_PATTERN);
  const { history, bucket_span: bucketSpan } = data;
  if (typeof history !== 'string' || !pattern.test(history)) return [];
  if (bucketSpan !== undefined && (typeof bucketSpan !== 'string' || !pattern.test(bucketSpan))) return [];

  const span = typeof bucketSpan === 'string' ? bucketSpan : DEFAULTS.bucket_span;
  if (durationMs(history) >= durationMs(span)) return [];
  const spanName = bucketSpan === undefined ? `the default bucket_span ${span}` : `bucket_span ${span}`;
  const message =
    `history '${history}' is shorter than ${spanName}, so a value is forgotten within one bucket and a value used in every bucket ` +
    `can still be judged new; use a history of at least ${span}`;
  return [located(context, ['history'], 'value', message)];
}

/**
 * Hashes the keys that decide what a detector learns and judges. Two loads of a detector with
 * the same fingerprint can share learned state; names, descriptions, severity, risk score, tags
 * and inline tests do not count.
 */
export function fingerprintOf(config: DetectorConfig, defaultTimeZone: string): string {
  // The default zone decides local hours and the dates of `exclude`, so it is part of the logic.
  const logic: Record<string, unknown> = { ...config, default_time_zone: defaultTimeZone };
  for (const key of PRESENTATION_KEYS) delete logic[key];
  return createHash('sha256').update(canonicalJson(logic)).digest('hex').slice(0, 16);
}

const PRESENTATION_KEYS = ['name', 'description', 'version', 'author', 'references', 'severity', 'risk_score', 'tags', 'holter'];

/** JSON with the keys of every object sorted, so key order in the file does not change the hash. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function ruleInfo(config: DetectorConfig, context: DocumentContext): RuleInfo {
  const idLine = locatePath(context.document, context.lineCounter, ['id'], 'key').line;
  const rule: RuleInfo = { id: config.id, name: config.name, ruleset: 'detector', file: context.file, line: idLine };
  if (config.description !== undefined) rule.description = config.description;
  if (config.version !== undefined) rule.version = config.version;
  if (config.author !== undefined) rule.author = config.author;
  if (config.references !== undefined) rule.references = config.references;
  if (config.tags !== undefined) rule.tags = config.tags;
  return rule;
}
