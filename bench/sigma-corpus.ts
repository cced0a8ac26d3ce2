/**
 * The Sigma stage alone, with Holter's own rule pack and with the public Sigma corpus loaded as
 * well, over the same events. A rule that does not apply to an event should cost that event
 * nothing, so the two rates should stay close. Part of `npm run bench` (bench/run.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { decodeRecord } from '../src/decoders/index.js';
import type { DecodeContext, RawRecord } from '../src/decoders/types.js';
import type { Enricher } from '../src/enrich/index.js';
import type { HolterEvent } from '../src/event.js';
import { loadSigmaRules, SigmaStage } from '../src/detect/sigma/index.js';
import type { SigmaLoadResult } from '../src/detect/sigma/index.js';
import { splitJsonDocuments } from '../src/sources/json-documents.js';

/** Passes over the events per rule set; the fastest is reported, because the machines are shared. */
const ROUNDS = 3;
/** Windows events in the Windows mix: the regression events repeated, one every 10 ms of event time. */
const WINDOWS_EVENTS = 20_000;

export interface SigmaCorpusOptions {
  repoRoot: string;
  /** Folder of the public Sigma corpus (`rules*` folders and `regression_data`). */
  corpusDir: string;
  /** Simulated hospital records, decoded and enriched here: the benchmark's own event mix. */
  records: RawRecord[];
  enrich: Enricher;
  context: DecodeContext;
}

export interface SigmaCorpusRow {
  stage: string;
  eventsPerSecond: number;
  compared: string;
}

interface LoadedSet {
  label: string;
  loaded: SigmaLoadResult;
}

/** Measures both rule sets over both event mixes; without the corpus, returns no rows and a summary that says why. */
export async function measureSigmaCorpus(options: SigmaCorpusOptions): Promise<{ rows: SigmaCorpusRow[]; summary: string }> {
  const corpusFolders = existsSync(options.corpusDir)
    ? readdirSync(options.corpusDir)
        .filter((name) => name.startsWith('rules'))
        .map((name) => path.join(options.corpusDir, name))
    : [];
  if (corpusFolders.length === 0) {
    return { rows: [], summary: `Sigma corpus section skipped: no rules* folders in ${options.corpusDir}` };
  }

  const packFolder = path.join(options.repoRoot, 'rules');
  const mappingFile = path.join(options.repoRoot, 'mappings', 'sigma.yml');
  const pack: LoadedSet = { label: 'pack', loaded: await loadSigmaRules([packFolder], { mappingFile }) };
  const loadStarted = process.hrtime.bigint();
  const corpus: LoadedSet = { label: 'pack + corpus', loaded: await loadSigmaRules([packFolder, ...corpusFolders], { mappingFile }) };
  const loadMs = Number(process.hrtime.bigint() - loadStarted) / 1e6;

  const hospital = decodeAndEnrich(options.records, options);
  const windows = windowsMix(path.join(options.corpusDir, 'regression_data'), options.context);

  const rows: SigmaCorpusRow[] = [];
  for (const [mix, events] of [
    ['hospital mix', hospital],
    ['Windows mix', windows],
  ] as const) {
    if (events.length === 0) continue;
    const [packRate, corpusRate] = fastestRates([pack.loaded, corpus.loaded], events) as [number, number];
    rows.push({ stage: `Sigma stage, ${describe(pack)}, ${mix}`, eventsPerSecond: packRate, compared: `reference, ${events.length} events` });
    rows.push({ stage: `Sigma stage, ${describe(corpus)}, ${mix}`, eventsPerSecond: corpusRate, compared: `${(corpusRate / packRate).toFixed(2)}x pack (${(packRate / corpusRate).toFixed(1)} times slower)` });
  }

  const stats = corpus.loaded.stats;
  const rejected = stats.files_with_errors;
  const summary =
    `Sigma corpus: ${stats.rules_loaded} rules and ${stats.correlations_loaded} correlations loaded with the pack in ${Math.round(loadMs)} ms, ` +
    `${rejected} files with rejected rules skipped, ${stats.rules_unmapped_logsource} rules with an unmapped log source (never candidates)`;
  return { rows, summary };
}

function describe(set: LoadedSet): string {
  const stats = set.loaded.stats;
  return `${set.label} (${stats.rules_loaded + stats.correlations_loaded} rules)`;
}

function decodeAndEnrich(records: RawRecord[], options: SigmaCorpusOptions): HolterEvent[] {
  const events: HolterEvent[] = [];
  for (const record of records) {
    const result = decodeRecord(record, options.context);
    if (result.ok) for (const event of result.events) events.push(options.enrich(event));
  }
  return events;
}

/**
 * Windows events, which the corpus rules are written for and the simulated hospital does not
 * produce: the regression events of the corpus, decoded by the Windows decoder and repeated in
 * order with rising event times, so correlation windows see time pass as in a stream.
 */
function windowsMix(regressionDir: string, context: DecodeContext): HolterEvent[] {
  if (!existsSync(regressionDir)) return [];
  const decoded: HolterEvent[] = [];
  for (const file of findJsonFiles(regressionDir)) {
    splitJsonDocuments(readFileSync(file, 'utf8')).forEach((text, index) => {
      const result = decodeRecord({ input: file, text, line: index + 1 }, context);
      if (result.ok) decoded.push(...result.events);
    });
  }
  if (decoded.length === 0) return [];

  const startMs = Date.parse('2026-01-05T08:00:00Z');
  const events: HolterEvent[] = [];
  for (let index = 0; index < WINDOWS_EVENTS; index++) {
    const event = structuredClone(decoded[index % decoded.length] as HolterEvent);
    event['@timestamp'] = new Date(startMs + index * 10).toISOString();
    event.event.id = `bench-windows-${index}`;
    events.push(event);
  }
  return events;
}

function findJsonFiles(directory: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const child = path.join(directory, entry.name);
    if (entry.isDirectory()) found.push(...findJsonFiles(child));
    else if (entry.name.endsWith('.json')) found.push(child);
  }
  return found.sort();
}

/**
 * Events per second of `SigmaStage.process` on one core for each rule set: the fastest of ROUNDS
 * passes, each on a fresh stage. The rule sets take turns, so a busy spell on the shared machine
 * slows one pass of each rather than every pass of one.
 */
function fastestRates(ruleSets: SigmaLoadResult[], events: HolterEvent[]): number[] {
  const best = ruleSets.map(() => 0);
  for (let round = 0; round < ROUNDS; round++) {
    ruleSets.forEach((loaded, index) => {
      const stage = new SigmaStage(loaded.stage.ruleSet);
      const started = process.hrtime.bigint();
      for (const event of events) stage.process(event, Number.NEGATIVE_INFINITY);
      stage.flush(Number.POSITIVE_INFINITY);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      best[index] = Math.max(best[index] as number, events.length / seconds);
    });
  }
  return best;
}

