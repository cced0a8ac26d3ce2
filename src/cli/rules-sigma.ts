/**
 * Inline tests of Sigma rules for `holter rules test`: every case runs on a fresh SigmaStage
 * built from the rule set compiled once from all the rule files given, so correlations can
 * refer to rules in other files.
 */
import { HolterError, isHolterError } from '../errors.js';
import type { HolterEvent } from '../event.js';
import type { Detection } from '../detect/types.js';
import { ruleInfo } from '../detect/sigma/compile.js';
import { parseRuleText } from '../detect/sigma/parse.js';
import { compareDetections, expandTimeline, findTestsNode, listFirst, plural, readTestCases } from '../detect/sigma/rule-tests.js';
import type { RuleTestCase, RuleTestResult, TimelineEvent } from '../detect/sigma/rule-tests.js';
import type { RuleSet, RuleSource } from '../detect/sigma/ruleset.js';
import { MatchScope } from '../detect/sigma/scope.js';
import { SigmaStage } from '../detect/sigma/stage.js';
import { validateDocument } from '../detect/sigma/validate.js';

export interface SigmaSuite {
  file: string;
  /** Id of the rule as detections carry it: its name, else its UUID, else its title. */
  ruleId: string;
  cases: RuleTestCase[];
}

export interface SigmaTestOptions {
  defaultTimeZone: string;
  allowedLatenessMs: number;
}

/** Reads the test cases of every rule document that has a `holter.tests` block. */
export function readSigmaSuites(sources: RuleSource[]): { suites: SigmaSuite[]; errors: HolterError[] } {
  const suites: SigmaSuite[] = [];
  const errors: HolterError[] = [];
  for (const source of sources) {
    for (const document of parseRuleText(source.text, source.file).documents) {
      const node = findTestsNode(document);
      if (node === undefined) continue;
      const read = readTestCases(document, node);
      errors.push(...read.errors);

      // A document that does not validate is reported by the engine; its cases still appear, and fail.
      const rule = validateDocument(document).document;
      const ruleId = rule === undefined ? `${source.file} document ${document.index}` : ruleInfo(rule).id;
      if (rule?.kind === 'correlation') {
        for (const testCase of read.cases) {
          if (testCase.expectation.kind !== 'match') continue;
          const message = `Test case '${testCase.name}' uses 'match', which applies to detection rules only. Give a correlation's cases 'expect' with the detections.`;
          errors.push(new HolterError('HOLTER_RULE_INVALID', message, { location: testCase.location, path: 'holter.tests' }));
        }
      }
      suites.push({ file: source.file, ruleId, cases: read.cases });
    }
  }
  return { suites, errors };
}

/** Runs every case of a suite against the compiled rule set. */
export function runSigmaSuite(suite: SigmaSuite, ruleSet: RuleSet, options: SigmaTestOptions): RuleTestResult[] {
  const loaded = ruleSet.rules.some((rule) => rule.info.id === suite.ruleId) || ruleSet.correlations.some((correlation) => correlation.info.id === suite.ruleId);
  return suite.cases.map((testCase) => {
    const result: RuleTestResult = { suite: suite.ruleId, name: testCase.name, location: testCase.location, passed: false };
    if (!loaded) {
      result.failure = `rule ${suite.ruleId} did not load; run holter rules validate for the reason`;
      return result;
    }
    let timeline: TimelineEvent[];
    try {
      timeline = expandTimeline(testCase, { file: suite.file, defaultTimeZone: options.defaultTimeZone });
    } catch (error) {
      if (!isHolterError(error)) throw error;
      result.failure = error.message;
      return result;
    }
    const undecoded = timeline.find((item) => !item.ok);
    if (undecoded !== undefined && !undecoded.ok) {
      result.failure = undecoded.failure;
      return result;
    }
    const events = timeline.map((item) => (item as { event: HolterEvent }).event);

    result.failure =
      testCase.expectation.kind === 'match'
        ? checkMatch(ruleSet, suite.ruleId, testCase.expectation.match, events)
        : compareDetections(suite.ruleId, testCase.expectation.detections, runEvents(ruleSet, suite.ruleId, events, options));
    result.passed = result.failure === undefined;
    return result;
  });
}

/** `match: true` needs every event to meet the rule's log source and condition; `match: false` needs none to. */
function checkMatch(ruleSet: RuleSet, ruleId: string, expected: boolean, events: HolterEvent[]): string | undefined {
  const compiled = ruleSet.rules.find((rule) => rule.info.id === ruleId);
  if (compiled === undefined) return `'match' applies to detection rules, and ${ruleId} is a correlation`;
  const wrong: number[] = [];
  let outsideLogsource = 0;
  events.forEach((event, index) => {
    const scope = new MatchScope(event);
    const inLogsource = compiled.logsource !== undefined && compiled.logsource.predicate(scope);
    const matched = inLogsource && compiled.detection(scope);
    if (matched === expected) return;
    wrong.push(index + 1);
    if (!inLogsource) outsideLogsource += 1;
  });
  if (wrong.length === 0) return undefined;
  const which = events.length === 1 ? 'the event' : `event ${listFirst(wrong.map(String), ', ')} of ${plural(events.length, 'event')}`;
  if (!expected) return `expected no match, but ${which} matched`;
  let reason = '';
  if (compiled.logsource === undefined) reason = ' (the mapping has no entry for its log source)';
  else if (outsideLogsource === wrong.length) reason = ` (it does not meet the mapping's condition for the log source ${compiled.logsource.description}, so the detection was not tested)`;
  return `expected a match, but ${which} did not match${reason}`;
}

/**
 * Feeds the events in the order written, as the pipeline does, then flushes at the end of input.
 * The rule under test returns its detections even where a run suppresses them (an informational
 * level, or a correlation that refers to it without generate: true), so its cases can observe them.
 */
function runEvents(ruleSet: RuleSet, ruleId: string, events: HolterEvent[], options: SigmaTestOptions): Detection[] {
  const stage = new SigmaStage(ruleSet, { allowedLatenessMs: options.allowedLatenessMs, returnSuppressed: [ruleId] });
  const detections: Detection[] = [];
  let maxTimeMs = Number.NEGATIVE_INFINITY;
  for (const event of events) {
    const timeMs = Date.parse(event['@timestamp']);
    if (timeMs > maxTimeMs) maxTimeMs = timeMs;
    detections.push(...stage.process(event, maxTimeMs - options.allowedLatenessMs));
  }
  const endOfInput = Number.isFinite(maxTimeMs) ? maxTimeMs + options.allowedLatenessMs + 1 : Number.POSITIVE_INFINITY;
  detections.push(...stage.flush(endOfInput));
  return detections;
}
