/**
 * Loading of Sigma rules: the mapping file, rule files and folders, compiled into a rule set
 * and a SigmaStage.
 */
import { existsSync } from 'node:fs';
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { LineCounter, parseAllDocuments } from 'yaml';

import { HolterError } from '../../errors.js';
import { parseMapping } from './mapping.js';
import { MAX_RULE_FILE_BYTES } from './parse.js';
import type { SigmaMapping } from './mapping.js';
import { buildRuleSet } from './ruleset.js';
import type { RuleSetWarning, RuleSource } from './ruleset.js';
import { SigmaStage } from './stage.js';

export interface SigmaOptions {
  /** Path of the field and log source mapping; defaults to mappings/sigma.yml of this repository. */
  mappingFile?: string;
  /** Values for `%name%` placeholders used with the expand modifier. */
  placeholders?: Record<string, string[]>;
  allowedLatenessMs?: number;
  /** IANA time zone in which time modifiers (hour, day...) read dates: `facility.time_zone`. Default UTC. */
  timeZone?: string;
}

export interface SigmaLoadStats {
  files: number;
  rules_loaded: number;
  correlations_loaded: number;
  /** Rule files with at least one rejected document (their other documents may still load). */
  files_with_errors: number;
  /** Documents (detection rules, correlations, filters) with at least one error, each counted once. */
  rules_rejected: number;
  rules_unmapped_logsource: number;
}

export interface SigmaLoadResult {
  stage: SigmaStage;
  errors: HolterError[];
  warnings: RuleSetWarning[];
  stats: SigmaLoadStats;
}

/** Path of the mapping shipped with Holter: mappings/sigma.yml above this module. */
export function defaultMappingFile(): string {
  let directory = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(directory, 'mappings', 'sigma.yml');
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(directory);
    if (parent === directory) throw new HolterError('HOLTER_CONFIG_NOT_FOUND', 'mappings/sigma.yml was not found above the Holter installation. Pass mappingFile.');
    directory = parent;
  }
}

/** Compiles rule texts with an already parsed mapping: for tests and for hot reload. */
export function compileRuleSet(
  sources: RuleSource[],
  options: { mapping: SigmaMapping; placeholders?: Record<string, string[]>; allowedLatenessMs?: number; timeZone?: string },
): SigmaLoadResult {
  const built = buildRuleSet(sources, { mapping: options.mapping, placeholders: options.placeholders, timeZone: options.timeZone });
  const stageOptions = options.allowedLatenessMs === undefined ? {} : { allowedLatenessMs: options.allowedLatenessMs };
  const stage = new SigmaStage(built.ruleSet, stageOptions);
  return {
    stage,
    errors: built.errors,
    warnings: built.warnings,
    stats: {
      files: new Set(sources.map((source) => source.file)).size,
      rules_loaded: built.ruleSet.rules.length,
      correlations_loaded: built.ruleSet.correlations.length,
      files_with_errors: countFilesWithErrors(built.errors),
      rules_rejected: countRejectedRules(sources, built.errors),
      rules_unmapped_logsource: built.ruleSet.unmappedRules,
    },
  };
}

function countFilesWithErrors(errors: HolterError[]): number {
  return new Set(errors.map((error) => error.location?.file ?? '')).size;
}

/**
 * Counts the rule documents that did not load, so that one rule with three errors counts once.
 * Each error belongs to the `---` separated document of its file that contains its line. Errors
 * outside the rule sources (the time zone setting) belong to no document and count nothing.
 * NOTE: a filter with one unknown rule reference counts as rejected, though it still applies to
 * the other rules it names.
 */
export function countRejectedRules(sources: RuleSource[], errors: HolterError[]): number {
  const linesByFile = new Map<string, number[]>();
  for (const error of errors) {
    const file = error.location?.file;
    if (file === undefined) continue;
    const lines = linesByFile.get(file) ?? [];
    lines.push(error.location?.line ?? 1);
    linesByFile.set(file, lines);
  }

  let rejected = 0;
  for (const source of sources) {
    const lines = linesByFile.get(source.file);
    if (lines === undefined) continue;
    const starts = documentStartLines(source.text);
    rejected += new Set(lines.map((line) => starts.filter((start) => start <= line).length)).size;
  }
  return rejected;
}

/** Returns the first line of each document of a YAML text, in order. A file too large to parse counts as one document. */
function documentStartLines(text: string): number[] {
  if (Buffer.byteLength(text, 'utf8') > MAX_RULE_FILE_BYTES) return [1];
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter });
  const list = Array.isArray(documents) ? documents : [];
  // The first document also owns anything above its first node, such as a leading comment.
  return list.map((document, index) => (index === 0 ? 1 : lineCounter.linePos(document.range[0]).line));
}

export async function loadMapping(file: string): Promise<{ mapping: SigmaMapping; errors: HolterError[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const error = new HolterError('HOLTER_CONFIG_NOT_FOUND', `Sigma mapping file '${file}' could not be read. Check the path in mappingFile.`, { cause, location: { file } });
    return { mapping: { file, indexFields: [], fields: [], logsources: [] }, errors: [error] };
  }
  return parseMapping(text, file);
}

/** Loads rules from files and folders (walked recursively for .yml and .yaml). */
export async function loadSigmaRules(paths: string[], options: SigmaOptions = {}): Promise<SigmaLoadResult> {
  const mappingFile = options.mappingFile ?? defaultMappingFile();
  const { mapping, errors: mappingErrors } = await loadMapping(mappingFile);

  const errors: HolterError[] = [...mappingErrors];
  const sources: RuleSource[] = [];
  for (const file of await collectRuleFiles(paths, errors)) {
    sources.push({ file, text: await readFile(file, 'utf8') });
  }

  const result = compileRuleSet(sources, { mapping, placeholders: options.placeholders, allowedLatenessMs: options.allowedLatenessMs, timeZone: options.timeZone });
  return { ...result, errors: [...errors, ...result.errors] };
}

/**
 * Lists a rule folder's entries by name. A folder that cannot be read adds a located error and
 * lists nothing, so the rules of the other paths still load.
 */
export async function listRuleFolder(folder: string, errors: HolterError[]): Promise<Dirent[]> {
  try {
    const entries = await readdir(folder, { withFileTypes: true });
    return entries.sort((a, b) => a.name.localeCompare(b.name));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    errors.push(new HolterError('HOLTER_INPUT_NOT_FOUND', `Folder '${folder}' could not be read (${reason}). Check its permissions or the rule path.`, { location: { file: folder }, cause: error }));
    return [];
  }
}

async function collectRuleFiles(paths: string[], errors: HolterError[]): Promise<string[]> {
  const files: string[] = [];
  const walk = async (target: string): Promise<void> => {
    const info = await stat(target).catch(() => undefined);
    if (info === undefined) {
      errors.push(new HolterError('HOLTER_INPUT_NOT_FOUND', `Rule path '${target}' does not exist. Check the rules path.`, { location: { file: target } }));
      return;
    }
    // Anything but a folder is read as a rule file, so a device or a pipe gets a located rule error.
    if (!info.isDirectory()) {
      files.push(target);
      return;
    }
    for (const entry of await listRuleFolder(target, errors)) {
      const child = path.join(target, entry.name);
      if (entry.isDirectory()) await walk(child);
      else if (/\.ya?ml$/i.test(entry.name)) files.push(child);
    }
  };
  for (const target of paths) await walk(target);
  // A file named twice (directly and through its folder) is loaded once.
  return [...new Set(files.map((file) => path.resolve(file)))];
}
