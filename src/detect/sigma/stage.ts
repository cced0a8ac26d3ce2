/**
 * The Sigma detection stage: tests each event against the detection rules of its log
 * source, feeds matches into correlation windows (in event time) and returns detections.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { HolterError } from '../../errors.js';
import type { HolterEvent } from '../../event.js';
import type { Detection, DetectionStage } from '../types.js';
import { correlationDetection, singleEventDetection } from './explain.js';
import { parseMapping } from './mapping.js';
import type { SigmaMapping } from './mapping.js';
import { buildRuleSet } from './ruleset.js';
import type { CompiledCorrelation, RuleSet, RuleSetWarning, RuleSource } from './ruleset.js';
import { MatchScope, valueStrings } from './scope.js';
import { CorrelationWindows } from './windows.js';
import type { Firing, Hit } from './windows.js';

/** Allowed lateness when the options set none: events up to a minute behind the newest are placed in their windows. */
export const DEFAULT_ALLOWED_LATENESS_MS = 60_000;

export interface SigmaOptions {
  /** Path of the field and log source mapping; defaults to mappings/sigma.yml of this repository. */
  mappingFile?: string;
  /** Values for `%name%` placeholders used with the expand modifier. */
  placeholders?: Record<string, string[]>;
  allowedLatenessMs?: number;
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

export class SigmaStage implements DetectionStage {
  readonly name = 'sigma';
  private readonly windows: CorrelationWindows[];
  private readonly allowedLatenessMs: number;
  private maxEventTimeMs = Number.NEGATIVE_INFINITY;
  private sequence = 0;
  /** Index field -> lower-cased value -> rule indexes, split from the rule set's `path\0value` keys once. */
  private readonly indexLookup: { parts: string[]; buckets: Map<string, number[]> }[];
  /** Per rule, the number of the last event whose candidate list took it: marks rules already added without a Set per event. */
  private readonly candidateMarks: Uint32Array;
  private candidateStamp = 0;
  /** Reused for every event: process() reads it before the next call to candidates(). */
  private readonly candidateList: number[] = [];
  private readonly counters = {
    events: 0,
    late_events: 0,
    late_correlation_hits: 0,
    events_invalid_time: 0,
    hits_without_group_key: 0,
    detections: 0,
    rule_matches: 0,
  };

  constructor(
    readonly ruleSet: RuleSet,
    options: { allowedLatenessMs?: number } = {},
  ) {
    this.windows = ruleSet.correlations.map((correlation) => new CorrelationWindows(correlation.rule));
    this.allowedLatenessMs = options.allowedLatenessMs ?? DEFAULT_ALLOWED_LATENESS_MS;
    this.indexLookup = splitIndex(ruleSet);
    this.candidateMarks = new Uint32Array(ruleSet.rules.length);
  }

  process(event: HolterEvent, watermarkMs: number): Detection[] {
    this.counters.events++;
    const timeMs = Date.parse(event['@timestamp']);
    const validTime = Number.isFinite(timeMs);
    if (!validTime) this.counters.events_invalid_time++;

    const watermarkBefore = this.watermark(watermarkMs);
    const late = validTime && timeMs < watermarkBefore;
    if (late) this.counters.late_events++;
    if (validTime && timeMs > this.maxEventTimeMs) this.maxEventTimeMs = timeMs;
    const watermark = this.watermark(watermarkMs);

    const detections: Detection[] = [];
    const scope = new MatchScope(event);
    for (const ruleIndex of this.candidates(event)) {
      const compiled = this.ruleSet.rules[ruleIndex];
      if (!compiled?.logsource?.predicate(scope) || !compiled.detection(scope)) continue;
      this.counters.rule_matches++;
      if (this.ruleSet.ruleEmits[ruleIndex]) detections.push(singleEventDetection(compiled, event));

      const consumers = this.ruleSet.ruleConsumers[ruleIndex] ?? [];
      if (consumers.length === 0 || !validTime) continue;
      if (late) {
        this.counters.late_correlation_hits += consumers.length;
        continue;
      }
      const hit = { timeMs, evidence: [event.event.id], event, accessor: compiled.accessor };
      for (const consumer of consumers) detections.push(...this.feed(consumer.correlation, consumer.reference, hit, watermark));
    }

    const closed = this.advance(watermark, false);
    if (closed.length > 0) detections.push(...closed);
    this.counters.detections += detections.length;
    return detections;
  }

  flush(watermarkMs: number): Detection[] {
    // End of input: no event can still arrive, so every window has its final content.
    const detections = this.advance(Math.max(watermarkMs, Number.POSITIVE_INFINITY), true);
    this.counters.detections += detections.length;
    return detections;
  }

  stats(): Record<string, number> {
    return {
      ...this.counters,
      rules_loaded: this.ruleSet.rules.length,
      correlations_loaded: this.ruleSet.correlations.length,
      rules_unmapped_logsource: this.ruleSet.unmappedRules,
      filters_applied: this.ruleSet.filtersApplied,
      correlation_groups: this.windows.reduce((sum, windows) => sum + windows.groupCount, 0),
      correlation_hits_dropped: this.windows.reduce((sum, windows) => sum + windows.droppedHits, 0),
    };
  }

  /** Returns the later of the caller's watermark and this stage's own (newest event time minus allowed lateness). */
  private watermark(callerWatermarkMs: number): number {
    const own = this.maxEventTimeMs - this.allowedLatenessMs;
    return Number.isNaN(callerWatermarkMs) ? own : Math.max(callerWatermarkMs, own);
  }

  /** Rules whose log source index keys the event carries, plus the unindexed rules; each once, in rule order. */
  private candidates(event: HolterEvent): number[] {
    const found = this.candidateList;
    found.length = 0;
    if (++this.candidateStamp === 0xffffffff) {
      this.candidateMarks.fill(0);
      this.candidateStamp = 1;
    }
    for (const rule of this.ruleSet.unindexed) this.addCandidate(rule);
    for (const { parts, buckets } of this.indexLookup) {
      const value = readPath(event, parts);
      if (value !== undefined && value !== null) this.addIndexed(buckets, value);
    }
    if (found.length > 1) found.sort(ascending);
    return found;
  }

  /** Adds the rules indexed under a value; array elements count one by one, as valueStrings reads them. */
  private addIndexed(buckets: Map<string, number[]>, value: unknown): void {
    if (Array.isArray(value)) {
      for (const element of value) if (element !== undefined && element !== null) this.addIndexed(buckets, element);
      return;
    }
    let text: string;
    if (typeof value === 'string') text = value;
    else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') text = String(value);
    else return;
    const bucket = buckets.get(text.toLowerCase());
    if (bucket) for (const rule of bucket) this.addCandidate(rule);
  }

  private addCandidate(rule: number): void {
    if (this.candidateMarks[rule] === this.candidateStamp) return;
    this.candidateMarks[rule] = this.candidateStamp;
    this.candidateList.push(rule);
  }

  private feed(correlationIndex: number, reference: number, source: Omit<Hit, 'reference' | 'sequence'>, watermark: number): Detection[] {
    const correlation = this.ruleSet.correlations[correlationIndex] as CompiledCorrelation;
    const group = groupOf(correlation, reference, source);
    if (group === undefined) {
      this.counters.hits_without_group_key++;
      return [];
    }

    const hit: Hit = { ...source, reference, sequence: ++this.sequence };
    const valueField = correlation.valueFields[reference];
    if (valueField !== undefined) {
      const value = hitValue(correlation, source, valueField);
      if (value === undefined) return [];
      hit.value = value;
    }
    const firings = (this.windows[correlationIndex] as CorrelationWindows).add(hit, group.id, group.key, watermark);
    return this.fire(correlationIndex, firings, watermark);
  }

  /** Detections for the firings, and the firings passed on to correlations that refer to this one. */
  private fire(correlationIndex: number, firings: Firing[], watermark: number): Detection[] {
    const correlation = this.ruleSet.correlations[correlationIndex] as CompiledCorrelation;
    const detections: Detection[] = [];
    for (const firing of firings) {
      const detection = correlationDetection(correlation.rule, correlation.info, correlation.referenceTitles, firing);
      detections.push(detection);

      const trigger = firing.trigger;
      const forwarded = { timeMs: trigger.timeMs, evidence: detection.evidence, event: trigger.event, accessor: trigger.accessor };
      for (const consumer of this.ruleSet.correlationConsumers[correlationIndex] ?? []) {
        if (trigger.timeMs < watermark && Number.isFinite(watermark)) {
          this.counters.late_correlation_hits++;
          continue;
        }
        detections.push(...this.feed(consumer.correlation, consumer.reference, forwarded, watermark));
      }
    }
    return detections;
  }

  private advance(watermark: number, force: boolean): Detection[] {
    let detections: Detection[] | undefined;
    for (let index = 0; index < this.windows.length; index++) {
      const firings = (this.windows[index] as CorrelationWindows).advance(watermark, force);
      if (firings.length === 0) continue;
      detections ??= [];
      detections.push(...this.fire(index, firings, watermark));
    }
    return detections ?? [];
  }
}

function readPath(event: HolterEvent, parts: string[]): unknown {
  let current: unknown = event;
  for (const part of parts) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function ascending(a: number, b: number): number {
  return a - b;
}

/** Splits the rule set's `path\0value` index keys into one value map per index field, in index field order. */
function splitIndex(ruleSet: RuleSet): { parts: string[]; buckets: Map<string, number[]> }[] {
  const byField = new Map<string, Map<string, number[]>>(ruleSet.indexFields.map((field) => [field, new Map()]));
  for (const [key, rules] of ruleSet.index) {
    const separator = key.indexOf('\u0000');
    const buckets = byField.get(key.slice(0, separator));
    if (buckets !== undefined) buckets.set(key.slice(separator + 1), rules);
  }
  return [...byField].map(([field, buckets]) => ({ parts: field.split('.'), buckets }));
}

function groupOf(correlation: CompiledCorrelation, reference: number, hit: Omit<Hit, 'reference' | 'sequence'>): { id: string; key: Record<string, string> } | undefined {
  const fields = correlation.groupFields[reference] ?? [];
  const key: Record<string, string> = {};
  const values: string[] = [];
  correlation.rule.groupBy.forEach((name, position) => {
    const strings = valueStrings(hit.accessor(fields[position] as string)(hit.event));
    if (strings === undefined || strings.length === 0) return;
    const value = strings.join(',');
    key[name] = value;
    values.push(value);
  });
  if (values.length !== correlation.rule.groupBy.length) return undefined;
  return { id: JSON.stringify(values), key };
}

function hitValue(correlation: CompiledCorrelation, hit: Omit<Hit, 'reference' | 'sequence'>, field: string): string | number | undefined {
  const strings = valueStrings(hit.accessor(field)(hit.event));
  if (strings === undefined || strings.length === 0) return undefined;
  if (correlation.rule.type === 'value_count') return strings.join(',');
  const number = Number(strings[0]);
  return Number.isFinite(number) ? number : undefined;
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
  options: { mapping: SigmaMapping; placeholders?: Record<string, string[]>; allowedLatenessMs?: number },
): SigmaLoadResult {
  const built = buildRuleSet(sources, { mapping: options.mapping, placeholders: options.placeholders });
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

  const result = compileRuleSet(sources, { mapping, placeholders: options.placeholders, allowedLatenessMs: options.allowedLatenessMs });
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
