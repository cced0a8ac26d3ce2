/**
 * `holter rules validate` and `holter rules test`: the rule author's checks before a rule goes
 * live. Both load the files with the real engine (Sigma compiler and detector loader), so what
 * passes here loads the same way in `holter run` and `holter replay`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMap, parseDocument } from 'yaml';

import { loadConfig } from '../config/load.js';
import type { HolterConfig } from '../config/schema.js';
import { claimDetectorId, parseDetector } from '../detect/baseline/loader.js';
import { readDetectorSuite, runDetectorSuite } from '../detect/baseline/rule-tests.js';
import { loadRiskConfig } from '../detect/risk/index.js';
import { compileDetectionRule } from '../detect/sigma/compile.js';
import { listRuleFolder } from '../detect/sigma/load.js';
import { detectorFieldHint, lintRuleSources, unknownEventField } from '../detect/sigma/lint.js';
import type { SigmaMapping } from '../detect/sigma/mapping.js';
import type { RuleTestResult } from '../detect/sigma/rule-tests.js';
import { parseRuleText, ruleError } from '../detect/sigma/parse.js';
import type { RuleSource } from '../detect/sigma/ruleset.js';
import { compileRuleSet, loadMapping } from '../detect/sigma/stage.js';
import { validateDocument } from '../detect/sigma/validate.js';
import type { ValidateResult } from '../detect/sigma/validate.js';
import type { DetectionRule, SigmaDocument } from '../detect/sigma/model.js';
import type { SigmaLoadResult } from '../detect/sigma/stage.js';
import { HolterError } from '../errors.js';
import { documentData, locatePath, parseLocated } from '../yaml/locate.js';
import { checkOutputFile } from './assemble.js';
import { errorFinding, findingsJson, formatFinding, formatResultTable, junitXml, lintFinding, sortFindings } from './rules-report.js';
import type { Finding } from './rules-report.js';
import { readSigmaSuites, runSigmaSuite } from './rules-sigma.js';

export interface RulesOptions {
  config?: string;
  mapping?: string;
}

export interface ValidateOptions extends RulesOptions {
  strict?: boolean;
  format?: 'text' | 'json';
}

export interface TestOptions extends RulesOptions {
  junit?: string;
}

/** The files to check, each read once, with the engine's load results. */
interface LoadedFiles {
  config: HolterConfig;
  ruleSources: RuleSource[];
  detectorSources: RuleSource[];
  mapping: SigmaMapping;
  rules: SigmaLoadResult;
  /** Missing paths, an unreadable mapping. */
  errors: HolterError[];
}

/**
 * Runs `holter rules validate` and returns the exit code. It is 2 when a path or the mapping file
 * is not found, 1 with errors (or warnings under --strict), and 0 otherwise.
 */
export async function runRulesValidate(paths: string[], options: ValidateOptions, output: NodeJS.WritableStream = process.stdout): Promise<number> {
  const loaded = await loadFiles(paths, options);
  const findings: Finding[] = [...loaded.errors, ...loaded.rules.errors, ...checkRejectedDocuments(loaded)].map(errorFinding);
  for (const warning of loaded.rules.warnings) {
    findings.push({ severity: 'warning', code: 'HOLTER_LINT_LOGSOURCE_UNMAPPED', message: warning.message, hint: 'add an entry for this log source to the mapping file', location: warning.location });
  }
  findings.push(...lintRuleSources(loaded.ruleSources, loaded.mapping).map(lintFinding));
  findings.push(...readSigmaSuites(loaded.ruleSources).errors.map(errorFinding));
  findings.push(...validateDetectors(loaded).map(errorFinding));
  findings.push(...loaded.detectorSources.flatMap((source) => lintDetectorFields(source)));

  // The configured set includes the risk settings, which a run loads with the rules.
  const checkRisk = loaded.config.risk.enabled && (options.config !== undefined || paths.length === 0);
  if (checkRisk) findings.push(...(await loadRiskConfig(loaded.config.risk.file)).errors.map(errorFinding));

  const sorted = sortFindings(findings);
  const files = loaded.ruleSources.length + loaded.detectorSources.length + (checkRisk ? 1 : 0);
  const cwd = process.cwd();
  if (options.format === 'json') {
    output.write(findingsJson(sorted, files, cwd));
  } else {
    for (const finding of sorted) output.write(`${formatFinding(finding, cwd)}\n`);
    const errors = sorted.filter((finding) => finding.severity === 'error').length;
    output.write(`${errors} error${errors === 1 ? '' : 's'}, ${sorted.length - errors} warning${sorted.length - errors === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}\n`);
  }
  const failing = sorted.filter((finding) => finding.severity === 'error' || options.strict === true);
  if (hasMissingInput(loaded)) return 2;
  return failing.length > 0 ? 1 : 0;
}

/**
 * Runs `holter rules test` and returns the exit code. It is 2 when a path or the mapping file is
 * not found, 1 when a case fails, a tests block is invalid or a file does not load, and 0 otherwise.
 */
export async function runRulesTest(paths: string[], options: TestOptions, output: NodeJS.WritableStream = process.stdout): Promise<number> {
  if (options.junit !== undefined) checkOutputFile(options.junit, '--junit', paths);
  const loaded = await loadFiles(paths, options);
  const cwd = process.cwd();
  const testOptions = { defaultTimeZone: loaded.config.facility.time_zone, allowedLatenessMs: loaded.config.detection.allowed_lateness_seconds * 1000 };

  const sigma = readSigmaSuites(loaded.ruleSources);
  const results: RuleTestResult[] = [];
  for (const suite of sigma.suites) results.push(...runSigmaSuite(suite, loaded.rules.stage.ruleSet, testOptions));
  const blockErrors = [...sigma.errors];
  const seenIds = new Map<string, string>();
  for (const source of loaded.detectorSources) {
    const read = readDetectorSuite(source.file, source.text);
    blockErrors.push(...read.errors);
    const parsed = parseDetector(source.text, source.file, { defaultTimeZone: testOptions.defaultTimeZone });

    // A run rejects a detector whose id an earlier file uses, so its cases do not run either.
    const duplicate = parsed.detector === undefined ? undefined : claimDetectorId(seenIds, parsed.detector, source.file);
    if (duplicate !== undefined) {
      blockErrors.push(duplicate);
      continue;
    }
    if (read.suite !== undefined) {
      results.push(...runDetectorSuite(read.suite, testOptions));
      continue;
    }
    // A detector with tests reports load errors in its cases; one without reports them here.
    blockErrors.push(...parsed.errors);
  }

  // A file that does not load hides its tests, so load errors are printed, fail the run and go
  // into the JUnit report too.
  const loadErrors = sortFindings([...loaded.errors, ...loaded.rules.errors, ...checkRejectedDocuments(loaded), ...blockErrors].map(errorFinding));
  for (const finding of loadErrors) output.write(`${formatFinding(finding, cwd)}\n`);
  if (results.length > 0) output.write(formatResultTable(results, cwd));
  const failed = results.filter((result) => !result.passed).length;
  const suites = new Set(results.map((result) => result.suite)).size;
  // Load errors are failed cases of the JUnit report too, so the line counts them beside the tests.
  const loadErrorCount = loadErrors.length === 0 ? '' : `, ${loadErrors.length} load ${loadErrors.length === 1 ? 'error' : 'errors'}`;
  output.write(`${results.length - failed} passed, ${failed} failed${loadErrorCount} (${suites} ${suites === 1 ? 'rule or detector' : 'rules and detectors'})\n`);
  if (results.length === 0 && loadErrors.length === 0) output.write('No inline tests found: add holter.tests to a rule or detector (docs/rules.md, "Inline tests").\n');
  if (options.junit !== undefined) {
    mkdirSync(path.dirname(path.resolve(options.junit)), { recursive: true });
    writeFileSync(options.junit, junitXml(results, cwd, loadErrors));
  }

  if (hasMissingInput(loaded)) return 2;
  return failed > 0 || loadErrors.length > 0 ? 1 : 0;
}

/**
 * Tells whether a path named on the command line or in the configuration, or the mapping file, was
 * not found. Holter exits with 2 on such errors, as `holter replay` does for a missing input,
 * because the command could not check what it was asked to. Status 1 is kept for problems found
 * in files that were read.
 */
function hasMissingInput(loaded: LoadedFiles): boolean {
  return loaded.errors.some((error) => error.code === 'HOLTER_INPUT_NOT_FOUND' || error.code === 'HOLTER_CONFIG_NOT_FOUND');
}

async function loadFiles(paths: string[], options: RulesOptions): Promise<LoadedFiles> {
  const config = loadConfig(options.config);
  const errors: HolterError[] = [];
  let ruleFiles: string[];
  let detectorFiles: string[];
  if (paths.length === 0) {
    ruleFiles = await collectYamlFiles(config.rules.paths, true, errors);
    detectorFiles = await collectYamlFiles(config.detectors.paths, false, errors);
  } else {
    ({ ruleFiles, detectorFiles } = await classifyFiles(await collectYamlFiles(paths, true, errors, true), config.detectors.paths));
  }

  const ruleSources = await readSources(ruleFiles);
  const detectorSources = await readSources(detectorFiles);
  const mappingFile = options.mapping ?? config.rules.mapping;
  const { mapping, errors: mappingErrors } = await loadMapping(mappingFile);
  errors.push(...mappingErrors);
  const rules = compileRuleSet(ruleSources, { mapping, placeholders: config.rules.placeholders, allowedLatenessMs: config.detection.allowed_lateness_seconds * 1000, timeZone: config.facility.time_zone });
  return { config, ruleSources, detectorSources, mapping, rules, errors };
}

async function readSources(files: string[]): Promise<RuleSource[]> {
  return Promise.all(files.map(async (file) => ({ file, text: await readFile(file, 'utf8') })));
}

/**
 * Lists the YAML files of files and folders, each once. Rule folders are walked recursively, as
 * the Sigma loader does; detector folders are not, as the detector loader does. With
 * `requireFiles`, for paths named on the command line, a folder without YAML files is an error.
 * A configured folder may be empty, for example at a facility without detectors of its own.
 */
async function collectYamlFiles(targets: string[], recursive: boolean, errors: HolterError[], requireFiles = false): Promise<string[]> {
  const files: string[] = [];
  const walk = async (target: string, top: boolean): Promise<void> => {
    const info = await stat(target).catch(() => undefined);
    if (info === undefined) {
      errors.push(new HolterError('HOLTER_INPUT_NOT_FOUND', `Path '${target}' does not exist. Check the rule or detector path.`, { location: { file: target } }));
      return;
    }
    // Anything but a folder is read as a rule file, so a device or a pipe gets a located rule error.
    if (!info.isDirectory()) {
      files.push(path.resolve(target));
      return;
    }
    if (!top && !recursive) return;
    for (const entry of await listRuleFolder(target, errors)) {
      const child = path.join(target, entry.name);
      if (entry.isDirectory()) await walk(child, false);
      else if (/\.ya?ml$/i.test(entry.name)) files.push(path.resolve(child));
    }
  };
  for (const target of targets) {
    const before = files.length;
    await walk(target, true);
    if (!requireFiles || files.length > before) continue;
    // A folder named for checking that contains no rule or detector file is most often a wrong path.
    if ((await stat(target).catch(() => undefined))?.isDirectory() === true) {
      errors.push(new HolterError('HOLTER_INPUT_NOT_FOUND', `Folder '${target}' contains no .yml or .yaml file. Check the rule or detector path.`, { location: { file: target } }));
    }
  }
  return [...new Set(files)];
}

/** Top-level keys that only detector files have. */
const DETECTOR_KEYS = ['function', 'by', 'where', 'bucket_span', 'learning', 'thresholds'];
/** Top-level keys that only Sigma rules, correlations and filters have. */
const SIGMA_KEYS = ['title', 'logsource', 'detection', 'correlation', 'filter'];

/**
 * Sorts files named on the command line into detectors and Sigma rules. A file that a run loads
 * as a detector, being directly in a configured detector folder or named in `detectors.paths`,
 * is a detector. So is a file with a detector key and no Sigma key at its top level, even one
 * that lacks `function`, so that its errors are the detector loader's. The rest are Sigma rules.
 */
async function classifyFiles(files: string[], detectorPaths: string[]): Promise<{ ruleFiles: string[]; detectorFiles: string[] }> {
  const configured = new Set(detectorPaths.map((entry) => path.resolve(entry)));
  const ruleFiles: string[] = [];
  const detectorFiles: string[] = [];
  for (const file of files) {
    const inDetectorPath = configured.has(file) || configured.has(path.dirname(file));
    const isDetector = inDetectorPath || hasDetectorKeys(await readFile(file, 'utf8'));
    (isDetector ? detectorFiles : ruleFiles).push(file);
  }
  return { ruleFiles, detectorFiles };
}

function hasDetectorKeys(text: string): boolean {
  // Only the first document is read: a detector file has one, and a rule file's YAML errors are the engine's to report.
  const root = parseDocument(text.split(/^---\s*$/m).find((part) => part.trim() !== '') ?? '').contents;
  if (!isMap(root)) return false;
  return DETECTOR_KEYS.some((key) => root.has(key)) && !SIGMA_KEYS.some((key) => root.has(key));
}

/**
 * Checks the rules and correlations that the engine rejected before compiling them, as far as
 * they could be read. Returns the errors that loading did not already report. So a bad level does
 * not hide a bad regular expression, and a duplicate id does not hide a bad CIDR range. A bad
 * timespan does not hide a reference to a missing rule either.
 */
function checkRejectedDocuments(loaded: LoadedFiles): HolterError[] {
  const reported = new Set(loaded.rules.errors.map(findingKey));
  const options = { mapping: loaded.mapping, placeholders: loaded.config.rules.placeholders, timeZone: loaded.config.facility.time_zone };
  const logsourceCache = new Map();
  const validated = loaded.ruleSources.flatMap((source) => parseRuleText(source.text, source.file).documents.map((document) => validateDocument(document)));
  const names = new Set(validated.flatMap((result) => [result.document ?? result.partial].flatMap((document) => [document?.id, document?.name])));

  const errors: HolterError[] = [];
  for (const { document, failedSearches } of rejectedDocuments(validated)) {
    let found: HolterError[] = [];
    if (document.kind === 'rule') {
      found = compileDetectionRule(withEmptySearches(document, failedSearches), options, logsourceCache).errors;
    } else if (document.kind === 'correlation') {
      found = document.rules
        .filter((reference) => !names.has(reference.reference))
        .map((reference) => ruleError('HOLTER_RULE_INVALID', `Correlation '${document.title}' refers to '${reference.reference}', but no rule in these files has that id or name. Load the file that defines it or fix the reference.`, reference.location, 'correlation.rules'));
    }
    for (const error of found) if (!reported.has(findingKey(error))) errors.push(error);
  }
  return errors;
}

/**
 * Lists the documents the engine never compiles: those that failed validation, and valid ones
 * whose id or name repeats an earlier document's, in the order the engine registers them.
 */
function rejectedDocuments(validated: ValidateResult[]): { document: SigmaDocument; failedSearches: string[] }[] {
  const rejected: { document: SigmaDocument; failedSearches: string[] }[] = [];
  const registered = new Set<string>();
  for (const result of validated) {
    if (result.partial !== undefined) {
      rejected.push({ document: result.partial, failedSearches: failedSearchNames(result) });
      continue;
    }
    if (result.document === undefined) continue;
    const keys = [result.document.id, result.document.name].filter((key): key is string => key !== undefined);
    if (keys.some((key) => registered.has(key))) rejected.push({ document: result.document, failedSearches: [] });
    else for (const key of keys) registered.add(key);
  }
  return rejected;
}

/** Names the search identifiers that validation dropped from a rejected rule, from the key paths of its errors. */
function failedSearchNames(result: ValidateResult): string[] {
  const searches = result.partial?.kind === 'rule' ? result.partial.searches : new Map();
  const names = result.errors.flatMap((error) => (error.path?.startsWith('detection.') === true ? [error.path.split('.')[1] ?? ''] : []));
  return [...new Set(names)].filter((name) => name !== 'condition' && name !== 'timeframe' && !searches.has(name));
}

/**
 * Returns the rule with an empty search for each identifier that failed validation. The condition
 * then compiles against the names the author wrote, so that it reports its own mistakes without
 * repeating validation's as references to unknown identifiers.
 */
function withEmptySearches(rule: DetectionRule, names: string[]): DetectionRule {
  if (names.length === 0) return rule;
  const searches = new Map(rule.searches);
  for (const name of names) searches.set(name, { name, alternatives: [], location: rule.location });
  return { ...rule, searches };
}

function findingKey(error: HolterError): string {
  return `${error.location?.file ?? ''}:${error.location?.line ?? 0}:${error.location?.column ?? 0}:${error.message}`;
}

/** Keys of a detector file that name one event field, and those that name a list of them. */
const DETECTOR_FIELD_KEYS = ['by', 'field', 'partition_field'];
const DETECTOR_FIELD_LIST_KEYS = ['over', 'influencers'];

/**
 * Warns about each event field that a detector file names and that events never have, such as a
 * misspelt Holter field. Such a detector loads, but never reads a value from that field.
 */
function lintDetectorFields(source: RuleSource): Finding[] {
  const located = parseLocated(source.file, source.text);
  if (located.document.errors.length > 0 || !isMap(located.document.contents)) return [];
  let data: Record<string, unknown>;
  try {
    data = (documentData(located.document, source.file, 'HOLTER_RULE_INVALID') ?? {}) as Record<string, unknown>;
  } catch {
    return [];
  }

  const named: { field: string; path: (string | number)[] }[] = [];
  for (const key of DETECTOR_FIELD_KEYS) if (typeof data[key] === 'string') named.push({ field: data[key] as string, path: [key] });
  for (const key of DETECTOR_FIELD_LIST_KEYS) {
    const list = data[key];
    if (Array.isArray(list)) list.forEach((item, index) => typeof item === 'string' && named.push({ field: item, path: [key, index] }));
  }
  const where = data.where;
  if (where !== null && typeof where === 'object' && !Array.isArray(where)) {
    for (const [key, value] of Object.entries(where)) {
      if (key !== 'exists') named.push({ field: key, path: ['where', key] });
      else if (Array.isArray(value)) value.forEach((item, index) => typeof item === 'string' && named.push({ field: item, path: ['where', 'exists', index] }));
    }
  }

  const findings: Finding[] = [];
  for (const { field, path } of named) {
    const problem = unknownEventField(field);
    if (problem === undefined) continue;
    const { line, column } = locatePath(located, path);
    findings.push({
      severity: 'warning',
      code: 'HOLTER_LINT_UNKNOWN_FIELD',
      message: `Field ${problem} (${path.join('.')}), so the detector never sees a value there.`,
      hint: detectorFieldHint(field),
      location: { file: source.file, line, column },
    });
  }
  return findings;
}

/** Loads each detector file as the real loader does, with duplicate ids, and checks its tests block. */
function validateDetectors(loaded: LoadedFiles): HolterError[] {
  const errors: HolterError[] = [];
  const seenIds = new Map<string, string>();
  for (const source of loaded.detectorSources) {
    const result = parseDetector(source.text, source.file, { defaultTimeZone: loaded.config.facility.time_zone });
    errors.push(...result.errors);
    errors.push(...readDetectorSuite(source.file, source.text).errors);
    if (result.detector === undefined) continue;
    const duplicate = claimDetectorId(seenIds, result.detector, source.file);
    if (duplicate !== undefined) errors.push(duplicate);
  }
  return errors;
}
