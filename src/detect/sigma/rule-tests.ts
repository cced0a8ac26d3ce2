/**
 * Inline rule tests: the `holter: { tests: [...] }` block of a rule or detector file. Each case
 * is a timeline of events (normalised events written as YAML, or raw records for the real
 * decoders) and the expected outcome: whether a detection rule matches, or which detections
 * (rule, group key, count) the engine raises. docs/rules.md describes the format.
 *
 * This module reads the block and compares outcomes; it is shared by Sigma rules (run here) and
 * detectors (src/detect/baseline/rule-tests.ts).
 */
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Node } from 'yaml';

import { HolterError } from '../../errors.js';
import type { SourceLocation } from '../../errors.js';
import { decodeRecord } from '../../decoders/index.js';
import { createEnricher } from '../../enrich/index.js';
import { setField } from '../../event.js';
import type { HolterEvent } from '../../event.js';
import type { Detection } from '../types.js';
import { DAY_MS, isWithinMaxDuration, maxDurationText } from './duration.js';
import { locate, mapEntries } from './parse.js';
import type { SourceDocument } from './parse.js';

/** Time of the first event when a case sets no `start`: a Wednesday, 08:00 UTC. */
export const DEFAULT_TEST_START = '2024-05-01T08:00:00.000Z';

/**
 * Key of the patient tokens made for raw records in tests. It is fixed, so a test gives the same
 * tokens on every run. It protects nothing, because test records name no real patients.
 */
const TEST_TOKEN_KEY = 'holter-inline-rule-tests-key';

export interface TimelineItem {
  /** Absolute event time in ms, or an offset from the enclosing start. */
  at?: { absoluteMs: number } | { offsetMs: number };
  repeat: number;
  everyMs: number;
  event?: unknown;
  raw?: string;
  format?: string;
  /** A group of items repeated as a whole; their offsets count from each repetition's start. */
  items?: TimelineItem[];
  location: SourceLocation;
}

export interface ExpectedDetection {
  rule?: string;
  group?: Record<string, string>;
  count?: number;
  location: SourceLocation;
}

export type Expectation = { kind: 'match'; match: boolean } | { kind: 'detections'; detections: ExpectedDetection[] };

export interface RuleTestCase {
  name: string;
  startMs: number;
  items: TimelineItem[];
  expectation: Expectation;
  location: SourceLocation;
}

/** Outcome of one case, for the table and the JUnit report. */
export interface RuleTestResult {
  /** Id of the rule or detector under test. */
  suite: string;
  name: string;
  location: SourceLocation;
  passed: boolean;
  /** The expected and the actual outcome, when the case failed. */
  failure?: string;
}

export interface TimelineOptions {
  file: string;
  /** IANA zone for raw records whose time stamps have no offset. */
  defaultTimeZone: string;
}

const DURATION_PART = /(\d+)(ms|s|m|h|d)/g;
const DURATION = /^(\d+(ms|s|m|h|d))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS };
const ISO_WITH_ZONE = /^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:?\d\d)$/;
/**
 * Largest number of events a case expands to. With offsets and intervals of at most 365 days, it
 * also keeps the event times of a case inside the 1e8 days after 1970 that a Date can hold.
 */
const MAX_EVENTS_PER_CASE = 100_000;

/** Reads and checks the cases of a `holter.tests` node. Every problem is a located HOLTER_RULE_INVALID error. */
export function readTestCases(source: SourceDocument, node: Node | null): { cases: RuleTestCase[]; errors: HolterError[] } {
  const reader = new CaseReader(source);
  if (!isSeq(node)) {
    reader.invalid(node, 'holter.tests', "'holter.tests' must be a list of test cases, each with a name, events and an expected outcome.");
    return { cases: [], errors: reader.errors };
  }
  const cases: RuleTestCase[] = [];
  const names = new Set<string>();
  node.items.forEach((item, index) => {
    // A repeated name is reported even when either case has other errors, so that fixing those
    // does not reveal it only on the next run. Names compare without the spaces around them,
    // because the result table and the JUnit report show them alike.
    const name = caseName(item as Node);
    if (name !== undefined && names.has(name)) reader.invalid(item as Node, `holter.tests[${index}].name`, `Test name '${name}' is used twice. Give every case its own name.`);
    if (name !== undefined) names.add(name);
    const testCase = reader.readCase(item as Node, `holter.tests[${index}]`);
    if (testCase !== undefined) cases.push(testCase);
  });
  return { cases, errors: reader.errors };
}

/** Returns the trimmed `name` of a test case node, or undefined when it has no name in text. */
function caseName(node: Node): string | undefined {
  if (!isMap(node)) return undefined;
  const value = mapEntries(node).find((entry) => entry.key === 'name')?.value;
  if (!isScalar(value) || typeof value.value !== 'string') return undefined;
  const name = value.value.trim();
  return name === '' ? undefined : name;
}

/** Finds the `holter.tests` node of a document's root map, if there is one. */
export function findTestsNode(source: SourceDocument): Node | null | undefined {
  const root = source.document.contents;
  if (!isMap(root)) return undefined;
  const holter = mapEntries(root).find((entry) => entry.key === 'holter')?.value;
  if (!isMap(holter)) return undefined;
  const tests = mapEntries(holter).find((entry) => entry.key === 'tests');
  return tests === undefined ? undefined : tests.value;
}

class CaseReader {
  readonly errors: HolterError[] = [];

  constructor(private readonly source: SourceDocument) {}

  invalid(node: Node | null | undefined, path: string, message: string): void {
    this.errors.push(new HolterError('HOLTER_RULE_INVALID', message, { location: locate(this.source, node), path }));
  }

  readCase(node: Node, path: string): RuleTestCase | undefined {
    if (!isMap(node)) {
      this.invalid(node, path, `Test case ${path} must be a map with name, events and match or expect.`);
      return undefined;
    }
    const entries = new Map(mapEntries(node).map((entry) => [entry.key, entry]));
    const errorCount = this.errors.length;
    this.rejectUnknownKeys(node, path, ['name', 'start', 'event', 'raw', 'format', 'events', 'match', 'expect']);

    const nameNode = entries.get('name')?.value;
    const name = isScalar(nameNode) && typeof nameNode.value === 'string' && nameNode.value.trim() !== '' ? nameNode.value : undefined;
    if (name === undefined) this.invalid(nameNode ?? node, `${path}.name`, `Test case ${path} needs a 'name': a short phrase saying what it checks.`);

    let startMs = Date.parse(DEFAULT_TEST_START);
    const startNode = entries.get('start')?.value;
    if (startNode !== undefined) {
      const text = isScalar(startNode) ? String(startNode.value) : '';
      if (ISO_WITH_ZONE.test(text) && Number.isFinite(Date.parse(text))) startMs = Date.parse(text);
      else this.invalid(startNode, `${path}.start`, `Invalid start '${text}'. Write an ISO 8601 time with a zone, e.g. 2024-05-01T08:00:00Z.`);
    }

    const items = this.readCaseTimeline(node, entries, path);
    const expectation = this.readExpectation(node, entries, path);
    if (this.errors.length > errorCount || name === undefined || expectation === undefined) return undefined;
    return { name, startMs, items, expectation, location: locate(this.source, node) };
  }

  private readCaseTimeline(node: Node, entries: Map<string, { value: Node | null }>, path: string): TimelineItem[] {
    const forms = ['event', 'raw', 'events'].filter((key) => entries.has(key));
    if (forms.length !== 1) {
      this.invalid(node, path, `Test case ${path} needs exactly one of 'event', 'raw' or 'events' (found ${forms.length === 0 ? 'none' : forms.join(', ')}).`);
      return [];
    }
    if (forms[0] === 'events') {
      const events = entries.get('events')?.value ?? null;
      return this.readTimeline(events, `${path}.events`);
    }
    // A single event or raw record: the case map itself contains it, with an optional format.
    const item = this.readItem(node, path, ['name', 'start', 'match', 'expect']);
    return item === undefined ? [] : [item];
  }

  private readTimeline(node: Node | null, path: string): TimelineItem[] {
    if (!isSeq(node) || node.items.length === 0) {
      this.invalid(node, path, `'${path}' must be a non-empty list of events.`);
      return [];
    }
    const items: TimelineItem[] = [];
    node.items.forEach((child, index) => {
      const item = this.readItem(child as Node, `${path}[${index}]`, []);
      if (item !== undefined) items.push(item);
    });
    return items;
  }

  private readItem(node: Node, path: string, caseKeys: string[]): TimelineItem | undefined {
    if (!isMap(node)) {
      this.invalid(node, path, `Event ${path} must be a map with 'event', 'raw' or 'events'.`);
      return undefined;
    }
    const entries = new Map(mapEntries(node).map((entry) => [entry.key, entry]));
    if (caseKeys.length === 0) this.rejectUnknownKeys(node, path, ['at', 'repeat', 'every', 'event', 'raw', 'format', 'events']);
    const item: TimelineItem = { repeat: 1, everyMs: 0, location: locate(this.source, node) };

    const at = entries.get('at');
    if (at !== undefined) item.at = this.readTime(at.value, `${path}.at`);
    const repeat = entries.get('repeat');
    if (repeat !== undefined) item.repeat = this.readRepeat(repeat.value, `${path}.repeat`);
    const every = entries.get('every');
    if (every !== undefined) {
      const interval = this.readTime(every.value, `${path}.every`);
      if (interval !== undefined && 'offsetMs' in interval) item.everyMs = interval.offsetMs;
      else if (interval !== undefined) this.invalid(every.value, `${path}.every`, `'${path}.every' must be a duration such as 30s or 5m.`);
    }

    const forms = ['event', 'raw', 'events'].filter((key) => entries.has(key));
    if (forms.length !== 1) {
      this.invalid(node, path, `Event ${path} needs exactly one of 'event', 'raw' or 'events' (found ${forms.length === 0 ? 'none' : forms.join(', ')}).`);
      return undefined;
    }
    if (entries.has('format') && !entries.has('raw')) this.invalid(entries.get('format')?.keyNode, `${path}.format`, `'format' applies to 'raw' records only.`);

    let eventNode = entries.get('event')?.value;
    // An alias (`*name`) lets cases share one event written once with an anchor (`&name`).
    if (isAlias(eventNode)) {
      const alias = eventNode;
      eventNode = alias.resolve(this.source.document) as Node | undefined;
      if (eventNode === undefined) {
        // YAML anchors do not reach past `---`, so the alias would silently become an empty event.
        this.invalid(alias, `${path}.event`, `Alias *${alias.source} at ${path}.event has no anchor &${alias.source} earlier in this document. Anchors do not carry across '---': define the event in this document.`);
        return undefined;
      }
    }
    if (eventNode !== undefined) {
      if (!isMap(eventNode)) this.invalid(eventNode, `${path}.event`, `'${path}.event' must be a map of event fields, e.g. { event.outcome: failure }.`);
      else item.event = eventNode.toJSON();
    }
    const rawNode = entries.get('raw')?.value;
    if (rawNode !== undefined) {
      if (isScalar(rawNode) && typeof rawNode.value === 'string') item.raw = rawNode.value;
      else this.invalid(rawNode, `${path}.raw`, `'${path}.raw' must be the record text as a string (use a block scalar '|' for XML or syslog).`);
      const format = entries.get('format')?.value;
      if (format !== undefined) item.format = isScalar(format) ? String(format.value) : '';
    }
    if (entries.has('events')) item.items = this.readTimeline(entries.get('events')?.value ?? null, `${path}.events`);
    return item;
  }

  private readTime(node: Node | null, path: string): TimelineItem['at'] {
    const value = isScalar(node) ? node.value : undefined;
    if (value === 0) return { offsetMs: 0 };
    const text = typeof value === 'string' ? value.trim() : '';
    if (DURATION.test(text)) {
      let offsetMs = 0;
      for (const part of text.matchAll(DURATION_PART)) offsetMs += Number(part[1]) * (UNIT_MS[part[2] as string] as number);
      if (isWithinMaxDuration('holter.tests', offsetMs)) return { offsetMs };
      const max = maxDurationText('holter.tests');
      this.invalid(node, path, `Duration '${text}' at ${path} is longer than the largest allowed, ${max}. Use at most ${max}.`);
      return undefined;
    }
    if (ISO_WITH_ZONE.test(text) && Number.isFinite(Date.parse(text))) return { absoluteMs: Date.parse(text) };
    this.invalid(node, path, `Invalid time '${String(value)}' at ${path}. Write an offset such as 90s, 5m or 1h30m, or an ISO 8601 time with a zone.`);
    return undefined;
  }

  private readRepeat(node: Node | null, path: string): number {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_EVENTS_PER_CASE) return value;
    this.invalid(node, path, `'${path}' must be a whole number from 1 to ${MAX_EVENTS_PER_CASE}, got '${String(value)}'.`);
    return 1;
  }

  private readExpectation(node: Node, entries: Map<string, { value: Node | null }>, path: string): Expectation | undefined {
    const hasMatch = entries.has('match');
    const hasExpect = entries.has('expect');
    if (hasMatch === hasExpect) {
      this.invalid(node, path, `Test case ${path} needs exactly one of 'match' (true or false) or 'expect' (the detections).`);
      return undefined;
    }
    if (hasMatch) {
      const value = entries.get('match')?.value;
      if (isScalar(value) && typeof value.value === 'boolean') return { kind: 'match', match: value.value };
      this.invalid(value, `${path}.match`, `'${path}.match' must be true or false.`);
      return undefined;
    }

    const list = entries.get('expect')?.value ?? null;
    if (!isSeq(list)) {
      this.invalid(list, `${path}.expect`, `'${path}.expect' must be a list of detections (an empty list [] for none).`);
      return undefined;
    }
    const detections: ExpectedDetection[] = [];
    list.items.forEach((child, index) => {
      const expected = this.readExpectedDetection(child as Node, `${path}.expect[${index}]`);
      if (expected !== undefined) detections.push(expected);
    });
    return { kind: 'detections', detections };
  }

  private readExpectedDetection(node: Node, path: string): ExpectedDetection | undefined {
    if (!isMap(node)) {
      this.invalid(node, path, `Expected detection ${path} must be a map with rule, group and/or count.`);
      return undefined;
    }
    this.rejectUnknownKeys(node, path, ['rule', 'group', 'count']);
    const expected: ExpectedDetection = { location: locate(this.source, node) };
    for (const entry of mapEntries(node)) {
      const value = entry.value;
      if (entry.key === 'rule') {
        if (isScalar(value) && typeof value.value === 'string') expected.rule = value.value;
        else this.invalid(value, `${path}.rule`, `'${path}.rule' must be a rule id or name.`);
      } else if (entry.key === 'count') {
        if (isScalar(value) && typeof value.value === 'number') expected.count = value.value;
        else this.invalid(value, `${path}.count`, `'${path}.count' must be a number.`);
      } else if (entry.key === 'group') {
        expected.group = this.readGroup(value, `${path}.group`);
      }
    }
    return expected;
  }

  private readGroup(node: Node | null, path: string): Record<string, string> | undefined {
    if (!isMap(node)) {
      this.invalid(node, path, `'${path}' must map each group-by field to its value, e.g. { holter.user.id: u-1042 }.`);
      return undefined;
    }
    const group: Record<string, string> = {};
    for (const entry of mapEntries(node)) {
      if (isScalar(entry.value) && entry.value.value !== null && typeof entry.value.value !== 'object') group[entry.key] = String(entry.value.value);
      else this.invalid(entry.value, `${path}.${entry.key}`, `Group value '${path}.${entry.key}' must be a string or number.`);
    }
    return group;
  }

  private rejectUnknownKeys(node: Node, path: string, allowed: string[]): void {
    if (!isMap(node)) return;
    for (const entry of mapEntries(node)) {
      if (!allowed.includes(entry.key)) this.invalid(entry.keyNode, `${path}.${entry.key}`, `Unknown key '${entry.key}' in ${path}. Use one of: ${allowed.join(', ')}.`);
    }
  }
}

/** An event of an expanded timeline: a normalised event, or the reason its raw record failed to decode. */
export type TimelineEvent = { ok: true; event: HolterEvent } | { ok: false; failure: string };

/**
 * Expands a case's timeline into events in the order written. Normalised events get defaults
 * for the fields every event has; raw records go through the real decoders and the enrich stage
 * (no directory, a fixed token key), as `holter replay` would treat them.
 */
export function expandTimeline(testCase: RuleTestCase, options: TimelineOptions): TimelineEvent[] {
  const enrich = createEnricher({ tokenKey: TEST_TOKEN_KEY });
  const output: TimelineEvent[] = [];
  let lastMs = testCase.startMs;

  const walk = (items: TimelineItem[], baseMs: number, n: number): void => {
    for (const item of items) {
      let startMs = lastMs;
      if (item.at !== undefined) startMs = 'absoluteMs' in item.at ? item.at.absoluteMs : baseMs + item.at.offsetMs;
      for (let index = 0; index < item.repeat; index++) {
        const timeMs = startMs + index * item.everyMs;
        const number = item.repeat > 1 ? index + 1 : n;
        lastMs = timeMs;
        if (item.items !== undefined) walk(item.items, timeMs, number);
        else if (item.raw !== undefined) output.push(...decodeRaw(item, number, options, enrich));
        else output.push({ ok: true, event: buildEvent(item.event, timeMs, number, output.length + 1, testCase, options.file) });
        if (output.length > MAX_EVENTS_PER_CASE) throw new HolterError('HOLTER_RULE_INVALID', `Test case '${testCase.name}' expands to more than ${MAX_EVENTS_PER_CASE} events. Lower its repeat counts.`, { location: testCase.location });
      }
    }
  };
  walk(testCase.items, testCase.startMs, 1);
  return output;
}

function decodeRaw(item: TimelineItem, n: number, options: TimelineOptions, enrich: ReturnType<typeof createEnricher>): TimelineEvent[] {
  const text = substitute(item.raw as string, n) as string;
  const record = { input: options.file, text, line: item.location.line, ...(item.format === undefined ? {} : { format: item.format }) };
  const result = decodeRecord(record, { defaultTimeZone: options.defaultTimeZone, now: new Date() });
  if (!result.ok) return [{ ok: false, failure: `the raw record at line ${item.location.line ?? '?'} could not be decoded (${result.reason}): ${result.message}` }];
  return result.events.map((event) => ({ ok: true, event: enrich(event) }));
}

/** Builds a normalised event: defaults for the fields every event has, then the fields the case gives. */
function buildEvent(fields: unknown, timeMs: number, n: number, sequence: number, testCase: RuleTestCase, file: string): HolterEvent {
  const event: HolterEvent = {
    '@timestamp': new Date(timeMs).toISOString(),
    event: { id: `test-${testCase.location.line ?? 0}-${sequence}`, kind: 'event', category: [], type: [], action: 'test', outcome: 'unknown', dataset: 'holter.test', module: 'holter' },
    holter: { source: { input: file, line: testCase.location.line, format: 'test' } },
  };
  applyFields(event as unknown as Record<string, unknown>, '', substitute(fields, n));
  return event;
}

/** Sets each leaf of a (possibly nested) map of fields by its dotted path; lists are leaves. */
function applyFields(event: Record<string, unknown>, prefix: string, fields: unknown): void {
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) return;
  for (const [key, value] of Object.entries(fields as Record<string, unknown>)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) applyFields(event, path, value);
    else setField(event, path, value);
  }
}

/** Replaces `{n}` in every string with the repetition number, so repeated events can differ. */
function substitute(value: unknown, n: number): unknown {
  if (typeof value === 'string') return value.replaceAll('{n}', String(n));
  if (Array.isArray(value)) return value.map((item) => substitute(item, n));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, substitute(item, n)]));
  }
  return value;
}

/**
 * Compares the detections raised with the expected ones, rule by rule and in order. Only the
 * rule under test and the rules the expectation names are compared. Returns what differs, or
 * undefined when they agree.
 */
export function compareDetections(ruleId: string, expected: ExpectedDetection[], detections: Detection[]): string | undefined {
  const ruleIds = [ruleId, ...expected.map((item) => item.rule).filter((rule): rule is string => rule !== undefined)];
  const problems: string[] = [];
  for (const id of new Set(ruleIds)) {
    const wanted = expected.filter((item) => (item.rule ?? ruleId) === id);
    const raised = detections.filter((detection) => detection.rule.id === id);
    if (wanted.length !== raised.length) {
      problems.push(`expected ${plural(wanted.length, 'detection')} of ${id}, got ${raised.length}${raised.length === 0 ? '' : `: ${listFirst(raised.map(describeDetection), '; ')}`}`);
      continue;
    }
    wanted.forEach((item, index) => {
      const detection = raised[index] as Detection;
      const differences: string[] = [];
      if (item.group !== undefined && !sameGroup(item.group, detection.groupKey)) differences.push(`group ${formatGroup(item.group)}, got ${formatGroup(detection.groupKey)}`);
      if (item.count !== undefined && detection.explanation.actual !== item.count) differences.push(`count ${item.count}, got ${detection.explanation.actual ?? 'none'}`);
      if (differences.length > 0) problems.push(`detection ${index + 1} of ${id}: expected ${differences.join(' and ')}`);
    });
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}

function sameGroup(expected: Record<string, string>, actual: Record<string, string>): boolean {
  const keys = Object.keys(expected);
  if (keys.length !== Object.keys(actual).length) return false;
  return keys.every((key) => actual[key] === expected[key]);
}

function formatGroup(group: Record<string, string>): string {
  const parts = Object.entries(group).map(([key, value]) => `${key}=${value}`);
  return parts.length === 0 ? '{}' : `{${parts.join(', ')}}`;
}

function describeDetection(detection: Detection): string {
  const count = detection.explanation.actual === undefined ? '' : ` count ${detection.explanation.actual}`;
  return `group ${formatGroup(detection.groupKey)}${count} at ${detection.window.start}`;
}

/** Number of items a failure message lists before it counts the rest, so a case that repeats an event 100,000 times still prints one short line. */
export const LISTED_ITEMS = 10;

/** Joins the first LISTED_ITEMS items with the separator and appends "and N more" for the rest. */
export function listFirst(items: string[], separator: string): string {
  if (items.length <= LISTED_ITEMS) return items.join(separator);
  return `${items.slice(0, LISTED_ITEMS).join(separator)}${separator}and ${items.length - LISTED_ITEMS} more`;
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
