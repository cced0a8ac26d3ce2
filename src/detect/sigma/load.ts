/**
 * Loading of Sigma rules: the mapping file, rule files and folders, compiled into a rule set
 * and a SigmaStage.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { HolterError } from '../../errors.js';
import { parseMapping } from './mapping.js';
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
      rules_unmapped_logsource: built.ruleSet.unmappedRules,
    },
  };
}

function countFilesWithErrors(errors: HolterError[]): number {
  return new Set(errors.map((error) => error.location?.file ?? '')).size;
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

async function collectRuleFiles(paths: string[], errors: HolterError[]): Promise<string[]> {
  const files: string[] = [];
  const walk = async (target: string): Promise<void> => {
    const info = await stat(target).catch(() => undefined);
    if (info === undefined) {
      errors.push(new HolterError('HOLTER_INPUT_NOT_FOUND', `Rule path '${target}' does not exist. Check the rules path.`, { location: { file: target } }));
      return;
    }
    if (info.isFile()) {
      files.push(target);
      return;
    }
    const entries = await readdir(target, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const child = path.join(target, entry.name);
      if (entry.isDirectory()) await walk(child);
      else if (/\.ya?ml$/i.test(entry.name)) files.push(child);
    }
  };
  for (const target of paths) await walk(target);
  // A file named twice (directly and through its folder) is loaded once.
  return [...new Set(files.map((file) => path.resolve(file)))];
}
