/**
 * Holter's own rule pack against the pack with the public Sigma corpus loaded as well, over the
 * same events: the Sigma stage alone over decoded events, and decode, enrich and the Sigma stage
 * over raw Windows records. A rule that does not apply to an event should cost that event
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
export async function measureSigmaCorpus(options: SigmaCorpusOptions): Promise<{ rows: SigmaCorpusRow[]; summary: string; slowdown?: number }> {
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

  const regressionDir = path.join(options.corpusDir, 'regression_data');
  const hospital = decodeAndEnrich(options.records, options);
  const windows = windowsMix(regressionDir, options.context);
  const windowsRaw = windowsRecords(regressionDir);

  const rows: SigmaCorpusRow[] = [];
  /** Adds the pack and corpus rows of one measurement and returns how many times slower the corpus was. */
  const addRows = (label: string, mix: string, count: number, runs: SetRun[]): number => {
    const [packRun, corpusRun] = runs as [SetRun, SetRun];
    const packRate = packRun.eventsPerSecond;
    const corpusRate = corpusRun.eventsPerSecond;
    rows.push({ stage: `${label}, ${describe(pack)}, ${mix}`, eventsPerSecond: packRate, compared: `reference, ${count} events, ${packRun.ruleMatches} rule matches` });
    rows.push({
      stage: `${label}, ${describe(corpus)}, ${mix}`,
      eventsPerSecond: corpusRate,
      compared: `${(corpusRate / packRate).toFixed(2)}x pack (${timesSlower(packRate, corpusRate)}), ${corpusRun.ruleMatches} rule matches`,
    });
    return packRate / corpusRate;
  };
  for (const [mix, events] of [
    ['hospital mix', hospital],
    ['Windows mix', windows],
  ] as const) {
    if (events.length === 0) continue;
    addRows('Sigma stage', mix, events.length, fastestRates([pack.loaded, corpus.loaded], (stage) => {
      for (const event of events) stage.process(event, Number.NEGATIVE_INFINITY);
    }, events.length));
  }
  // The rate of a deployment that reads Windows telemetry: each record is decoded and enriched before the Sigma stage.
  let slowdown: number | undefined;
  if (windowsRaw.length > 0) {
    slowdown = addRows('decode + enrich + Sigma', 'Windows records', windowsRaw.length, fastestRates([pack.loaded, corpus.loaded], (stage) => {
      for (const record of windowsRaw) {
        const result = decodeRecord(record, options.context);
        if (result.ok) for (const event of result.events) stage.process(options.enrich(event), Number.NEGATIVE_INFINITY);
      }
    }, windowsRaw.length));
  }

  const stats = corpus.loaded.stats;
  const rejected = stats.files_with_errors;
  const summary =
    `Sigma corpus: pack and corpus together loaded ${stats.rules_loaded} rules and ${stats.correlations_loaded} correlations in ${Math.round(loadMs)} ms, ` +
    `${rejected} files with rejected rules skipped, ${stats.rules_unmapped_logsource} rules with an unmapped log source (never candidates)`;
  return slowdown === undefined ? { rows, summary } : { rows, summary, slowdown };
}

function describe(set: LoadedSet): string {
  const stats = set.loaded.stats;
  return `${set.label} (${stats.rules_loaded} rules, ${stats.correlations_loaded} correlations)`;
}

/** Says how many times slower the corpus ran than the pack, or faster when it was. */
function timesSlower(packRate: number, corpusRate: number): string {
  return corpusRate <= packRate ? `${(packRate / corpusRate).toFixed(1)} times slower` : `${(corpusRate / packRate).toFixed(1)} times faster`;
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
 * order with rising event times, so correlation windows see time pass as in a stream. Each
 * repetition gets its own instance fields (see `makeInstance`).
 */
export function windowsMix(regressionDir: string, context: DecodeContext, count = WINDOWS_EVENTS): HolterEvent[] {
  const decoded: HolterEvent[] = [];
  for (const record of regressionRecords(regressionDir)) {
    const result = decodeRecord(record, context);
    if (result.ok) decoded.push(...result.events);
  }
  if (decoded.length === 0) return [];

  const startMs = Date.parse('2026-01-05T08:00:00Z');
  const events: HolterEvent[] = [];
  for (let index = 0; index < count; index++) {
    const original = decoded[index % decoded.length] as HolterEvent;
    const event = structuredClone(original);
    event['@timestamp'] = new Date(startMs + index * 10).toISOString();
    event.event.id = `bench-windows-${index}`;
    const repetition = Math.floor(index / decoded.length);
    makeInstance(event, repetition, Date.parse(event['@timestamp']) - Date.parse(original['@timestamp']));
    events.push(event);
  }
  return events;
}

/** Returns the regression events as the corpus stores them: one raw record per JSON document. */
function regressionRecords(regressionDir: string): RawRecord[] {
  if (!existsSync(regressionDir)) return [];
  const records: RawRecord[] = [];
  for (const file of findJsonFiles(regressionDir)) {
    splitJsonDocuments(readFileSync(file, 'utf8')).forEach((text, index) => records.push({ input: file, text, line: index + 1 }));
  }
  return records;
}

/**
 * Returns the Windows mix as raw records, for the decoder. Each regression document repeats in
 * order, one every 10 ms of event time (`Event.System.TimeCreated`). The instance fields of each
 * repetition are rewritten as `windowsMix` does, and so is the record id (`EventRecordID`).
 */
export function windowsRecords(regressionDir: string, count = WINDOWS_EVENTS): RawRecord[] {
  const documents = regressionRecords(regressionDir).map((record) => JSON.parse(record.text) as unknown);
  if (documents.length === 0) return [];

  const startMs = Date.parse('2026-01-05T08:00:00Z');
  const records: RawRecord[] = [];
  for (let index = 0; index < count; index++) {
    const document = structuredClone(documents[index % documents.length]);
    const created = (document as { Event?: { System?: { TimeCreated?: { '#attributes'?: { SystemTime?: unknown } } } } }).Event?.System?.TimeCreated?.['#attributes'];
    const timeMs = startMs + index * 10;
    const originalMs = typeof created?.SystemTime === 'string' ? Date.parse(created.SystemTime) : Number.NaN;
    if (created !== undefined && !Number.isNaN(originalMs)) created.SystemTime = new Date(timeMs).toISOString();
    makeInstance(document, Math.floor(index / documents.length), Number.isNaN(originalMs) ? 0 : timeMs - originalMs);
    records.push({ input: 'bench-windows', text: JSON.stringify(document), line: index + 1 });
  }
  return records;
}

/**
 * The kind of each instance field, by the end of its dotted path: `processid` also covers
 * `ParentProcessId` and `TargetProcessId`, `.pid` covers `process.parent.pid`. Paths compare
 * without case, because Windows spells `ProcessGuid` and `SourceProcessGUID` both ways.
 */
const INSTANCE_KEY_SUFFIXES: [string, InstanceKind][] = [
  ['processguid', 'guid'],
  ['logonguid', 'guid'],
  ['entity_id', 'guid'],
  ['processid', 'count'],
  ['threadid', 'count'],
  ['.pid', 'count'],
  ['thread.id', 'count'],
  ['record_id', 'count'],
  ['eventrecordid', 'count'],
  ['logonid', 'logon'],
  ['sourceport', 'port'],
  ['utctime', 'time'],
  ['detection time', 'time'],
];
type InstanceKind = 'guid' | 'count' | 'logon' | 'port' | 'time';

/** Added to an id once per repetition. It is larger than any id of the regression events, so no two repetitions share an id. */
const ID_STRIDE = 10_000_019;
/** Process ids up to 4 (Idle and System) and logon ids up to 0x3e7 (SYSTEM, LOCAL SERVICE, NETWORK SERVICE) name well-known instances that rules test, so they stay. */
const WELL_KNOWN_PROCESS_ID = 4;
const WELL_KNOWN_LOGON_ID = 0x3e7;
const EPHEMERAL_PORT_FIRST = 49_152;
const EPHEMERAL_PORTS = 16_384;
const GUID = /^(\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-)([0-9A-Fa-f]{12})(\}?)$/;
const SYSMON_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/**
 * Makes the instance fields of one repetition of a regression event unique, as they are in real
 * Windows telemetry, and leaves the descriptive fields (Image, CommandLine, User, Hashes and the
 * like) as written, because real telemetry repeats those. Per-value caches then see what they
 * would in production instead of the same regression events over and over. By the end of the
 * field's path (INSTANCE_KEY_SUFFIXES):
 *
 * - GUIDs (ProcessGuid, LogonGuid, ECS entity_id): the last group of 12 hex digits plus
 *   `repetition * ID_STRIDE`, so one process keeps one GUID across the fields that carry it;
 * - process, thread and record ids: plus `repetition * ID_STRIDE`, except the well-known
 *   process ids 0 to 4;
 * - logon ids (`0x3b5e64`): the same in hex, except the well-known ids up to 0x3e7;
 * - source ports in the ephemeral range 49152 to 65535: one further per repetition, within it;
 * - times (UtcTime, CreationUtcTime, Defender's Detection Time): shifted by as much as the
 *   event time, in the same format.
 *
 * The first repetition keeps its ids, so it is the regression events as written, at new times.
 */
function makeInstance(value: unknown, repetition: number, shiftMs: number, keyPath = ''): void {
  if (value === null || typeof value !== 'object') return;
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    const child = object[key];
    const childPath = `${keyPath}.${key}`;
    if (child !== null && typeof child === 'object') {
      makeInstance(child, repetition, shiftMs, childPath);
      continue;
    }
    const kind = instanceKind(childPath);
    if (kind !== undefined) object[key] = rewriteInstanceValue(kind, child, repetition, shiftMs);
  }
}

/** `keyPath` starts with a dot, so `.pid` also matches a top-level `pid`. */
function instanceKind(keyPath: string): InstanceKind | undefined {
  const lower = keyPath.toLowerCase();
  for (const [suffix, kind] of INSTANCE_KEY_SUFFIXES) if (lower.endsWith(suffix)) return kind;
  return undefined;
}

/** Returns the value of one repetition. A value of another shape than its kind expects is returned unchanged. */
function rewriteInstanceValue(kind: InstanceKind, value: unknown, repetition: number, shiftMs: number): unknown {
  const offset = repetition * ID_STRIDE;
  if (kind === 'time') return typeof value === 'string' ? shiftTime(value, shiftMs) : value;
  if (kind === 'guid') {
    const match = typeof value === 'string' ? GUID.exec(value) : null;
    if (match === null) return value;
    const node = ((parseInt(match[2] as string, 16) + offset) % 2 ** 48).toString(16).toUpperCase().padStart(12, '0');
    return `${match[1]}${node}${match[3]}`;
  }
  if (kind === 'logon') {
    if (typeof value !== 'string' || !/^0x[0-9a-fA-F]+$/.test(value) || parseInt(value, 16) <= WELL_KNOWN_LOGON_ID) return value;
    return `0x${(parseInt(value, 16) + offset).toString(16)}`;
  }
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined;
  if (number === undefined) return value;
  let rewritten: number;
  if (kind === 'port') rewritten = number < EPHEMERAL_PORT_FIRST ? number : EPHEMERAL_PORT_FIRST + ((number - EPHEMERAL_PORT_FIRST + repetition) % EPHEMERAL_PORTS);
  else rewritten = number <= WELL_KNOWN_PROCESS_ID ? number : number + offset;
  return typeof value === 'number' ? rewritten : String(rewritten);
}

function shiftTime(value: string, shiftMs: number): string {
  if (ISO_TIME.test(value)) return new Date(Date.parse(value) + shiftMs).toISOString();
  if (!SYSMON_TIME.test(value)) return value;
  const shifted = new Date(Date.parse(`${value.replace(' ', 'T')}Z`) + shiftMs).toISOString();
  return shifted.slice(0, 23).replace('T', ' ');
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

/** The fastest pass of one rule set over one mix, and the rule matches of its last pass. */
interface SetRun {
  eventsPerSecond: number;
  ruleMatches: number;
}

/**
 * Events per second on one core for each rule set: the fastest of ROUNDS passes of `feed`, each on
 * a fresh stage, over `count` events. The rule sets take turns, so a busy spell on the shared
 * machine slows one pass of each rather than every pass of one. The rule matches show that a
 * change to the stage kept what matches.
 */
function fastestRates(ruleSets: SigmaLoadResult[], feed: (stage: SigmaStage) => void, count: number): SetRun[] {
  const best: SetRun[] = ruleSets.map(() => ({ eventsPerSecond: 0, ruleMatches: 0 }));
  for (let round = 0; round < ROUNDS; round++) {
    ruleSets.forEach((loaded, index) => {
      const stage = new SigmaStage(loaded.stage.ruleSet);
      const started = process.hrtime.bigint();
      feed(stage);
      stage.flush(Number.POSITIVE_INFINITY);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const run = best[index] as SetRun;
      run.eventsPerSecond = Math.max(run.eventsPerSecond, count / seconds);
      run.ruleMatches = stage.stats().rule_matches ?? 0;
    });
  }
  return best;
}

