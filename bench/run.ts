/**
 * `npm run bench`: events per second through decode, normalise, enrich and detect on one core,
 * over simulated hospital telemetry, beside reference figures measured in the same run over the
 * same bytes. Compare ratios, not absolute rates: the machines are shared and noisy.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SaxesParser } from 'saxes';
import { assemblePipeline } from '../src/cli/assemble.js';
import { applyOverrides } from '../src/cli/overrides.js';
import { loadConfig } from '../src/config/load.js';
import { decodeRecord } from '../src/decoders/index.js';
import type { DecodeContext } from '../src/decoders/types.js';
import { createEnricher, loadDirectory, loadRoster } from '../src/enrich/index.js';
import { silentLogger } from '../src/log.js';
import { simulateHospital, type SimulatedRecord } from '../src/sim/index.js';
import { measureSigmaCorpus } from './sigma-corpus.js';

const TOTAL_EVENTS = Number(process.env.HOLTER_BENCH_EVENTS ?? 1_000_000);
const CHUNK = 50_000;
/** Records of the run kept for the Sigma corpus section: the first ones, as the pipeline read them. */
const SIGMA_CORPUS_RECORDS = 100_000;
/**
 * How many times slower Holter may process Windows records (decode, enrich, Sigma) with the public
 * corpus loaded than with its own pack: the corpus has about 50 times the rules.
 */
const CORPUS_SLOWDOWN_TARGET = 3;
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Timing {
  records: number;
  bytes: number;
  ms: number;
}

const timings = { jsonParse: timing(), parseOnly: timing(), decode: timing(), pipeline: timing() };
let peakRss = 0;
let peakHeap = 0;

function timing(): Timing {
  return { records: 0, bytes: 0, ms: 0 };
}

function sampleMemory(): void {
  const usage = process.memoryUsage();
  peakRss = Math.max(peakRss, usage.rss);
  peakHeap = Math.max(peakHeap, usage.heapUsed);
}

function measure(target: Timing, records: SimulatedRecord[], work: (record: SimulatedRecord) => void): void {
  const started = process.hrtime.bigint();
  for (const record of records) work(record);
  target.ms += Number(process.hrtime.bigint() - started) / 1e6;
  target.records += records.length;
  for (const record of records) target.bytes += record.text.length;
}

/**
 * The XML reference is a bare saxes pass (strict well-formedness checks, no tree built): of the
 * strict JavaScript XML parsers measured for Holter (saxes 6, @rgrove/parse-xml 4,
 * fast-xml-parser 5 with its validator), it is the fastest. The decoders build their objects on
 * the same parser, so the reference is what they cannot do without.
 */
const xmlReference = new SaxesParser();

/** The least any decoder must do: parse the record's syntax (JSON, or the XML inside a syslog line). */
function parseOnly(record: SimulatedRecord): void {
  if (record.text.charCodeAt(0) === 123) {
    JSON.parse(record.text);
    return;
  }
  const declaration = record.text.indexOf('<?xml');
  xmlReference.write(record.text.slice(declaration >= 0 ? declaration : record.text.indexOf('<AuditMessage'))).close();
}

/** Runs the benchmark with its directory, roster and dead-letter file in `work`. */
async function main(work: string): Promise<void> {
  const staff = Math.max(300, Math.ceil(TOTAL_EVENTS / 1500));
  const hospital = simulateHospital({ staff, days: 35 });
  const config = applyOverrides(loadConfig(), { quiet: true, timeZone: hospital.timeZone, deadLetter: path.join(work, 'dead-letter.ndjson') });
  const directoryFile = path.join(work, 'directory.csv');
  const rosterFile = path.join(work, 'roster.csv');
  writeFileSync(directoryFile, hospital.directoryCsv());
  writeFileSync(rosterFile, hospital.rosterCsv());
  config.identity.directory = directoryFile;
  config.identity.patient_roster = rosterFile;
  const tokenKey = 'holter-bench-token-key-0123456789';
  config.identity.token_key = tokenKey;

  const { pipeline, report } = await assemblePipeline(config, { logger: silentLogger });
  const context: DecodeContext = { defaultTimeZone: hospital.timeZone, now: new Date() };
  let decodeFailures = 0;
  const jsonRecords: SimulatedRecord[] = [];

  let chunk: SimulatedRecord[] = [];
  let seen = 0;
  const sigmaRecords: SimulatedRecord[] = [];
  const runChunk = async (): Promise<void> => {
    jsonRecords.length = 0;
    for (const record of chunk) if (record.text.charCodeAt(0) === 123) jsonRecords.push(record);
    measure(timings.jsonParse, jsonRecords, (record) => JSON.parse(record.text));
    measure(timings.parseOnly, chunk, parseOnly);
    measure(timings.decode, chunk, (record) => {
      if (!decodeRecord({ input: 'bench', text: record.text, format: record.format }, context).ok) decodeFailures++;
    });

    const started = process.hrtime.bigint();
    for (const record of chunk) await pipeline.push({ input: 'bench', text: record.text, format: record.format });
    timings.pipeline.ms += Number(process.hrtime.bigint() - started) / 1e6;
    timings.pipeline.records += chunk.length;
    sampleMemory();
    chunk = [];
  };

  for (const record of hospital.records()) {
    chunk.push(record);
    if (sigmaRecords.length < SIGMA_CORPUS_RECORDS) sigmaRecords.push(record);
    if (chunk.length === CHUNK) await runChunk();
    if (++seen >= TOTAL_EVENTS) break;
  }
  if (chunk.length > 0) await runChunk();
  const summary = await pipeline.finish();
  await pipeline.close();

  const rate = (t: Timing): number => (t.records / t.ms) * 1000;
  const parseRate = rate(timings.parseOnly);
  const rows: [string, number, string][] = [
    ['JSON.parse only (JSON records)', rate(timings.jsonParse), `${timings.jsonParse.records} records`],
    ['parse only (JSON.parse / saxes 6 XML parse)', parseRate, 'reference'],
    ['decode + normalise', rate(timings.decode), `${(rate(timings.decode) / parseRate).toFixed(2)}x parse-only`],
    ['decode + enrich + rules + detectors', rate(timings.pipeline), `${(rate(timings.pipeline) / parseRate).toFixed(2)}x parse-only`],
  ];

  const sigmaCorpus = await measureSigmaCorpus({
    repoRoot: REPO_ROOT,
    corpusDir: path.resolve(REPO_ROOT, '..', 'shared', 'sigma'),
    records: sigmaRecords.map((record) => ({ input: 'bench', text: record.text, format: record.format })),
    enrich: createEnricher({ directory: await loadDirectory(directoryFile), roster: await loadRoster(rosterFile, tokenKey), tokenKey }),
    context,
  });
  sampleMemory();

  const rsigma = rsigmaRow();
  console.log(`Holter benchmark: ${seen} simulated records (${hospital.directory.length} staff, ${Math.round(timings.parseOnly.bytes / 1e6)} MB), one core, Node ${process.version}`);
  console.log(`rules loaded ${report.rulesLoaded}, detectors loaded ${report.detectorsLoaded}, alerts ${summary.alerts}, dead letters ${summary.deadLettered}, decode failures ${decodeFailures}`);
  console.log('');
  console.log('| stage | events/s | compared |');
  console.log('| --- | ---: | --- |');
  for (const [name, eventsPerSecond, note] of rows) console.log(`| ${name} | ${Math.round(eventsPerSecond).toLocaleString('en-US')} | ${note} |`);
  if (rsigma !== undefined) console.log(rsigma);
  console.log('');
  console.log(sigmaCorpus.summary);
  if (sigmaCorpus.rows.length > 0) {
    console.log('');
    console.log('| Sigma rules, pack and corpus | events/s | compared |');
    console.log('| --- | ---: | --- |');
    for (const row of sigmaCorpus.rows) console.log(`| ${row.stage} | ${Math.round(row.eventsPerSecond).toLocaleString('en-US')} | ${row.compared} |`);
  }
  if (sigmaCorpus.slowdown !== undefined) {
    const met = sigmaCorpus.slowdown <= CORPUS_SLOWDOWN_TARGET ? 'met' : 'NOT met';
    console.log('');
    console.log(`target: Windows records with the corpus at most ${CORPUS_SLOWDOWN_TARGET} times slower than with the pack: ${met} (${sigmaCorpus.slowdown.toFixed(1)} times slower)`);
  }
  console.log('');
  console.log(`peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB, peak heap used ${(peakHeap / 2 ** 20).toFixed(0)} MiB`);
  console.log(`target: pipeline >= 0.5x parse-only: ${rate(timings.pipeline) / parseRate >= 0.5 ? 'met' : 'NOT met'}`);
}

/** RSigma, an open Rust Sigma engine, when its command is installed; otherwise a note. */
function rsigmaRow(): string | undefined {
  const probe = spawnSync('rsigma', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) return '| rsigma | not installed | `cargo install rsigma` to compare |';
  return `| ${probe.stdout.split('\n')[0]?.trim() ?? 'rsigma'} | installed | not timed here; \`npm run diff:rsigma\` compares the two engines' results |`;
}

const work = mkdtempSync(path.join(tmpdir(), 'holter-bench-'));
try {
  await main(work);
} finally {
  rmSync(work, { recursive: true, force: true });
}
