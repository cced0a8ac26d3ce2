/**
 * Inline tests of detector files (`holter: { tests: [...] }`, the same form as in Sigma rules):
 * each case loads the detector afresh with the real loader, so no state carries over between
 * cases, and feeds its timeline through a BaselineStage in event time.
 */
import { isMap, isSeq } from 'yaml';
import type { Node } from 'yaml';
import { HolterError, isHolterError } from '../../errors.js';
import type { Detection } from '../types.js';
import { locate, mapEntries, parseRuleText } from '../sigma/parse.js';
import type { SourceDocument } from '../sigma/parse.js';
import { compareDetections, expandTimeline, findTestsNode, readTestCases } from '../sigma/rule-tests.js';
import type { RuleTestCase, RuleTestResult } from '../sigma/rule-tests.js';
import { parseDetector } from './loader.js';
import { BaselineStage } from './stage.js';

export interface DetectorSuite {
  file: string;
  detectorId: string;
  /** The file's text, loaded afresh for each case. */
  detectorText: string;
  cases: RuleTestCase[];
}

export interface DetectorTestOptions {
  defaultTimeZone: string;
  allowedLatenessMs: number;
}

/** Reads the test cases of a detector file; returns no suite when the file has none. */
export function readDetectorSuite(file: string, text: string): { suite?: DetectorSuite; errors: HolterError[] } {
  const parsed = parseRuleText(text, file);
  const source = parsed.documents[0];
  // A file that does not parse has no tests block to read; the detector loader reports why.
  if (source === undefined) return { errors: [] };
  const node = findTestsNode(source);
  if (node === undefined) return { errors: [] };

  const { cases, errors } = readTestCases(source, node);
  errors.push(...matchErrors(source, node));
  const idNode = source.document.get('id');
  const detectorId = typeof idNode === 'string' ? idNode : file;
  // A `match` case is reported above, so that `holter rules validate` finds it too; it is not run.
  const detectorCases = cases.filter((testCase) => testCase.expectation.kind === 'detections');
  return { suite: { file, detectorId, detectorText: text, cases: detectorCases }, errors };
}

/** Returns an error for each case that gives `match`, which tests a Sigma detection rule's condition. */
function matchErrors(source: SourceDocument, node: Node | null): HolterError[] {
  if (!isSeq(node)) return [];
  const errors: HolterError[] = [];
  node.items.forEach((item, index) => {
    if (!isMap(item)) return;
    const match = mapEntries(item).find((entry) => entry.key === 'match');
    if (match === undefined) return;
    const message = `Test case holter.tests[${index}] gives 'match', which applies to Sigma detection rules. Give a detector's cases 'expect': the detections they raise, or [] for none.`;
    errors.push(new HolterError('HOLTER_RULE_INVALID', message, { location: locate(source, match.keyNode), path: `holter.tests[${index}].match` }));
  });
  return errors;
}

/** Runs every case of a suite; a detector that does not load fails each of its cases. */
export function runDetectorSuite(suite: DetectorSuite, options: DetectorTestOptions): RuleTestResult[] {
  return suite.cases.map((testCase) => {
    const result: RuleTestResult = { suite: suite.detectorId, name: testCase.name, location: testCase.location, passed: false };
    const loaded = parseDetector(suite.detectorText, suite.file, { defaultTimeZone: options.defaultTimeZone });
    if (loaded.detector === undefined) {
      result.failure = `detector ${suite.detectorId} did not load: ${loaded.errors.map((error) => error.describe()).join('; ')}`;
      return result;
    }
    if (testCase.expectation.kind !== 'detections') {
      result.failure = "'match' applies to Sigma detection rules; give a detector's cases 'expect'";
      return result;
    }

    const outcome = runTimeline(new BaselineStage([loaded.detector]), testCase, suite.file, options);
    if (typeof outcome === 'string') {
      result.failure = outcome;
      return result;
    }
    result.failure = compareDetections(suite.detectorId, testCase.expectation.detections, outcome);
    result.passed = result.failure === undefined;
    return result;
  });
}

/** Feeds the timeline as the pipeline does (watermark: newest event time minus the allowed lateness), then flushes. */
function runTimeline(stage: BaselineStage, testCase: RuleTestCase, file: string, options: DetectorTestOptions): Detection[] | string {
  const detections: Detection[] = [];
  let maxTimeMs = Number.NEGATIVE_INFINITY;
  let timeline;
  try {
    timeline = expandTimeline(testCase, { file, defaultTimeZone: options.defaultTimeZone });
  } catch (error) {
    if (isHolterError(error)) return error.message;
    throw error;
  }
  for (const item of timeline) {
    if (!item.ok) return item.failure;
    const timeMs = Date.parse(item.event['@timestamp']);
    if (timeMs > maxTimeMs) maxTimeMs = timeMs;
    detections.push(...stage.process(item.event, maxTimeMs - options.allowedLatenessMs));
  }
  const endOfInput = Number.isFinite(maxTimeMs) ? maxTimeMs + options.allowedLatenessMs + 1 : Number.POSITIVE_INFINITY;
  detections.push(...stage.flush(endOfInput));
  return detections;
}
