// `npm run diff:rsigma`: runs Holter's Sigma engine and RSigma, an independent Rust engine,
// over the same rules and events, and lists every case where they disagree. A disagreement
// that docs/sigma-differences.md does not explain makes the exit status 1. The method, and
// who is right in each known difference, is in that document.
//
// Three suites:
//   corpus: every Windows rule of ../shared/sigma against every regression event, detection
//           condition only (no log source), so one event tests some 1,500 rules;
//   pack:   the inline test timelines of rules/ (detections, correlations and their windows);
//   spec:   correlation timelines written from the Sigma correlation specification
//           (scripts/sigma-diff-cases/).
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { parse } from 'yaml';

import { readSigmaSuites } from '../dist/src/cli/rules-sigma.js';
import { decodeRecord } from '../dist/src/decoders/index.js';
import { expandTimeline } from '../dist/src/detect/sigma/rule-tests.js';
import { MatchScope } from '../dist/src/detect/sigma/scope.js';
import { loadSigmaRules, SigmaStage } from '../dist/src/detect/sigma/stage.js';
import { explain, readKnownDifferences } from './sigma-diff-known.mjs';
import { rsigmaEvent, rsigmaVersion, runRsigma } from './sigma-diff-rsigma.mjs';
import { splitJsonDocuments } from '../dist/src/sources/json-documents.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SIGMA_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'sigma');
const REGRESSION_DIR = path.join(SIGMA_DIR, 'regression_data');
const MAPPING_FILE = path.join(REPO_ROOT, 'mappings', 'sigma.yml');
const KNOWN_FILE = path.join(REPO_ROOT, 'docs', 'sigma-differences.md');
const SUITES = [
  { name: 'pack', folder: path.join(REPO_ROOT, 'rules') },
  { name: 'spec', folder: path.join(REPO_ROOT, 'scripts', 'sigma-diff-cases') },
];
/** Allowed lateness of `holter rules test`: events up to a minute behind the newest still count. */
const ALLOWED_LATENESS_MS = 60_000;
const RSIGMA = process.env.RSIGMA ?? 'rsigma';

/** Agreement counts and disagreements of one run. */
class Report {
  constructor(known) {
    this.known = known;
    this.compared = new Map();
    this.disagreements = [];
    this.notes = [];
  }

  /** Records one compared case: `holter` and `rsigma` are short outcome texts. */
  compare(suite, caseKey, holter, rsigma) {
    const counts = this.compared.get(suite) ?? { agree: 0, known: 0, unexplained: 0 };
    this.compared.set(suite, counts);
    if (holter === rsigma) {
      counts.agree++;
      return;
    }
    const knownDifference = explain(this.known, caseKey);
    if (knownDifference === undefined) counts.unexplained++;
    else counts.known++;
    this.disagreements.push({ suite, caseKey, holter, rsigma, knownDifference });
  }

  note(text) {
    this.notes.push(text);
  }

  print(verbose) {
    console.log('');
    console.log('| suite | compared | agree | known difference | unexplained |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const [suite, counts] of this.compared) {
      const total = counts.agree + counts.known + counts.unexplained;
      console.log(`| ${suite} | ${total} | ${counts.agree} | ${counts.known} | ${counts.unexplained} |`);
    }
    for (const note of this.notes) console.log(`note: ${note}`);

    const unexplained = this.disagreements.filter((item) => item.knownDifference === undefined);
    const explained = this.disagreements.filter((item) => item.knownDifference !== undefined);
    if (unexplained.length > 0) console.log(`\nUnexplained disagreements (${unexplained.length}):`);
    for (const item of unexplained) console.log(`  ${item.caseKey}\n      Holter: ${item.holter}\n      RSigma: ${item.rsigma}`);
    if (explained.length > 0) console.log(`\nKnown differences (${explained.length}; docs/sigma-differences.md${verbose ? '' : ', --verbose lists them'}):`);
    if (verbose) for (const item of explained) console.log(`  ${item.caseKey} (line ${item.knownDifference.line})\n      Holter: ${item.holter}\n      RSigma: ${item.rsigma}`);
    else for (const entry of this.known.filter((known) => known.used > 0)) console.log(`  ${entry.key}: ${entry.used} case${entry.used === 1 ? '' : 's'}`);

    const unused = this.known.filter((entry) => entry.used === 0);
    for (const entry of unused) console.log(`warning: known difference '${entry.key}' (docs/sigma-differences.md:${entry.line}) matched no disagreement in this run; remove it if the engines now agree.`);
    return unexplained.length;
  }
}

function findFiles(directory, pattern) {
  const found = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const child = path.join(directory, entry.name);
    if (entry.isDirectory()) found.push(...findFiles(child, pattern));
    else if (pattern.test(entry.name)) found.push(child);
  }
  return found.sort();
}


/** Decodes the regression events with Holter's Windows decoder, each with a label for its case key. */
function regressionEvents() {
  const context = { defaultTimeZone: 'UTC', now: new Date('2026-06-01T00:00:00Z') };
  const events = [];
  for (const file of findFiles(REGRESSION_DIR, /\.json$/)) {
    splitJsonDocuments(readFileSync(file, 'utf8')).forEach((text, index) => {
      const label = `${path.relative(REGRESSION_DIR, path.dirname(file))}#${index + 1}`;
      const result = decodeRecord({ input: file, text, line: index + 1 }, context);
      if (!result.ok) throw new Error(`Regression sample ${label} could not be decoded (${result.reason}): ${result.message}`);
      for (const event of result.events) events.push({ label, event });
    });
  }
  return events;
}

/** Reads the rule UUID that each regression case is written for, by case folder. */
function regressionRuleIds() {
  const ids = new Map();
  for (const file of findFiles(REGRESSION_DIR, /^info\.yml$/)) {
    const info = parse(readFileSync(file, 'utf8'));
    const id = info?.rule_metadata?.[0]?.id;
    if (typeof id === 'string') ids.set(path.relative(REGRESSION_DIR, path.dirname(file)), id);
  }
  return ids;
}

/** Creates a folder of links to the corpus rule folders only, so RSigma does not read the regression info files. */
function corpusRulesFolder() {
  const folder = mkdtempSync(path.join(tmpdir(), 'holter-sigma-diff-'));
  for (const name of readdirSync(SIGMA_DIR).filter((entry) => entry.startsWith('rules'))) symlinkSync(path.join(SIGMA_DIR, name), path.join(folder, name));
  return folder;
}

/**
 * Corpus suite: each Windows rule that both engines load, against each regression event, on the
 * detection condition alone. Log sources are left out on both sides: RSigma tests every rule on
 * every event, and Holter's log source conditions are its own mapping, not rule semantics.
 */
async function corpusSuite(report) {
  const folders = readdirSync(SIGMA_DIR).filter((name) => name.startsWith('rules')).map((name) => path.join(SIGMA_DIR, name));
  const loaded = await loadSigmaRules(folders, { mappingFile: MAPPING_FILE });
  const rules = loaded.stage.ruleSet.rules.filter((rule) => rule.rule.logsource.product === 'windows' && rule.info.uuid !== undefined);
  const events = regressionEvents();

  const linkFolder = corpusRulesFolder();
  let results;
  try {
    results = runRsigma(RSIGMA, linkFolder, events.map(({ event }) => rsigmaEvent(event)));
  } finally {
    rmSync(linkFolder, { recursive: true, force: true });
  }
  const rsigmaMatches = events.map(() => new Set());
  const byEventId = new Map(events.map(({ event }, index) => [event.event.id, index]));
  for (const result of results) {
    const index = byEventId.get(result.event?.event?.id);
    if (index === undefined || !result.rule_id) continue;
    rsigmaMatches[index]?.add(result.rule_id);
  }

  const own = regressionRuleIds();
  let ownCompared = 0;
  let bothMatch = 0;
  events.forEach(({ label, event }, index) => {
    const scope = new MatchScope(event);
    const caseDirectory = label.slice(0, label.indexOf('#'));
    for (const rule of rules) {
      const uuid = rule.info.uuid;
      const holter = rule.detection(scope);
      const rsigma = rsigmaMatches[index].has(uuid);
      if (own.get(caseDirectory) === uuid) ownCompared++;
      if (holter && rsigma) bothMatch++;
      report.compare('corpus', `corpus/${uuid}/${label}`, holter ? 'matches' : 'no match', rsigma ? 'matches' : 'no match');
    }
  });
  report.note(`corpus: ${rules.length} Windows rules loaded by Holter x ${events.length} regression events; ${ownCompared} pairs are a regression case's own rule, and both engines match ${bothMatch} pairs`);
}

/** Builds the events of a rule-test case as `holter rules test` does; throws when a raw record does not decode. */
function caseEvents(suite, testCase) {
  const timeline = expandTimeline(testCase, { file: suite.file, defaultTimeZone: 'UTC' });
  const failed = timeline.find((item) => !item.ok);
  if (failed !== undefined) throw new Error(`${suite.file}: case '${testCase.name}': ${failed.failure}`);
  return timeline.map((item) => item.event);
}

/** Feeds a timeline to a fresh stage, as `holter rules test` does, and returns every detection. */
function holterDetections(ruleSet, events) {
  const stage = new SigmaStage(ruleSet, { allowedLatenessMs: ALLOWED_LATENESS_MS });
  const detections = [];
  let maxTimeMs = Number.NEGATIVE_INFINITY;
  for (const event of events) {
    maxTimeMs = Math.max(maxTimeMs, Date.parse(event['@timestamp']));
    detections.push(...stage.process(event, maxTimeMs - ALLOWED_LATENESS_MS));
  }
  detections.push(...stage.flush(Number.POSITIVE_INFINITY));
  return detections;
}

function groupText(entries) {
  const parts = entries.map(([field, value]) => `${field}=${value}`).sort();
  return `{${parts.join(', ')}}`;
}

/** Keeps the first firing of each correlation and group, with the number of firings. */
function describeFirings(firings) {
  const first = new Map();
  for (const firing of firings) {
    const key = `${firing.rule} ${firing.group}`;
    const seen = first.get(key);
    if (seen === undefined) first.set(key, { ...firing, times: 1 });
    else seen.times++;
  }
  return first;
}

function firingText(firing) {
  if (firing === undefined) return 'no detection';
  return `first detection at ${firing.time} with count ${firing.count}`;
}

/**
 * Rule-test suite: every case of every rule under `folder` runs through both engines with all the
 * folder's rules loaded. For each detection rule, the script compares the events it matches
 * (condition only, as in the corpus suite). For each correlation and group, it compares whether
 * the correlation fires, and the time and count of its first detection.
 */
async function ruleTestSuite(report, suiteName, folder) {
  const files = findFiles(folder, /\.ya?ml$/);
  const loaded = await loadSigmaRules([folder], { mappingFile: MAPPING_FILE, allowedLatenessMs: ALLOWED_LATENESS_MS });
  if (loaded.errors.length > 0) throw new Error(`${folder} does not load in Holter:\n${loaded.errors.map((error) => error.describe()).join('\n')}`);
  const ruleSet = loaded.stage.ruleSet;
  const sources = files.map((file) => ({ file, text: readFileSync(file, 'utf8') }));
  const { suites, errors } = readSigmaSuites(sources);
  if (errors.length > 0) throw new Error(`Invalid test cases in ${folder}:\n${errors.map((error) => error.describe()).join('\n')}`);

  const correlationIds = new Map(ruleSet.correlations.map((correlation) => [correlation.info.uuid ?? correlation.info.id, correlation]));
  let cases = 0;
  for (const suite of suites) {
    for (const testCase of suite.cases) {
      cases++;
      const events = caseEvents(suite, testCase);
      const prefix = `${suiteName}/${suite.ruleId}/${testCase.name}`;

      // Detection rules: which events each matches, by position in the timeline.
      const results = runRsigma(RSIGMA, folder, events.map(rsigmaEvent), ['--correlation-event-mode', 'refs', '--max-correlation-events', '100000']);
      const eventIndex = new Map(events.map((event, index) => [event.event.id, index + 1]));
      for (const rule of ruleSet.rules) {
        const uuid = rule.info.uuid ?? rule.info.id;
        const holter = events.map((event, index) => (rule.detection(new MatchScope(event)) ? index + 1 : 0)).filter((index) => index > 0);
        const rsigma = results
          .filter((result) => result.correlation_type === undefined && result.rule_id === uuid)
          .map((result) => eventIndex.get(result.event?.event?.id) ?? 0)
          .sort((a, b) => a - b);
        if (holter.length === 0 && rsigma.length === 0) continue;
        report.compare(suiteName, `${prefix}/${rule.info.id}`, matchedText(holter), matchedText(rsigma));
      }

      // Correlations: per group, the first detection.
      const holterFirings = holterDetections(ruleSet, events)
        .filter((detection) => correlationIds.has(detection.rule.uuid ?? detection.rule.id))
        .map((detection) => ({
          rule: detection.rule.uuid ?? detection.rule.id,
          group: groupText(Object.entries(detection.groupKey)),
          time: detection.trigger['@timestamp'],
          count: detection.explanation.actual,
        }));
      const rsigmaFirings = results
        .filter((result) => result.correlation_type !== undefined)
        .map((result) => ({
          rule: result.rule_id,
          group: groupText(result.group_key),
          time: lastRefTime(result),
          count: result.aggregated_value,
        }));
      const holterFirst = describeFirings(holterFirings);
      const rsigmaFirst = describeFirings(rsigmaFirings);
      for (const key of new Set([...holterFirst.keys(), ...rsigmaFirst.keys()])) {
        const [rule, ...group] = key.split(' ');
        const name = correlationIds.get(rule)?.info.id ?? rule;
        report.compare(suiteName, `${prefix}/${name} ${group.join(' ')}`, firingText(holterFirst.get(key)), firingText(rsigmaFirst.get(key)));
      }
    }
  }
  report.note(`${suiteName}: ${cases} test cases of ${suites.length} rules in ${path.relative(REPO_ROOT, folder)}`);
}

function matchedText(positions) {
  return positions.length === 0 ? 'no match' : `matches event ${positions.join(', ')}`;
}

/** Returns the time of the newest event a correlation firing refers to, as ISO 8601 (RSigma keeps whole seconds). */
function lastRefTime(result) {
  const refs = result.event_refs ?? [];
  if (refs.length === 0) return 'unknown';
  const newest = Math.max(...refs.map((ref) => ref.timestamp));
  return new Date(newest * 1000).toISOString();
}

async function main() {
  const verbose = process.argv.includes('--verbose');
  const version = rsigmaVersion(RSIGMA);
  if (version === undefined) {
    console.log(`sigma-diff: skipped, because '${RSIGMA}' is not on PATH. Install RSigma with 'cargo install rsigma' (or set RSIGMA to its path) to compare the engines.`);
    return 0;
  }
  console.log(`sigma-diff: Holter against ${version}`);
  const report = new Report(readKnownDifferences(KNOWN_FILE));
  await corpusSuite(report);
  for (const suite of SUITES) await ruleTestSuite(report, suite.name, suite.folder);
  const unexplained = report.print(verbose);
  console.log(unexplained === 0 ? '\nsigma-diff: no unexplained disagreement' : `\nsigma-diff: ${unexplained} unexplained disagreement${unexplained === 1 ? '' : 's'}: fix the engine that is wrong, or add the case to docs/sigma-differences.md with the reason`);
  return unexplained === 0 ? 0 : 1;
}

process.exitCode = await main();
