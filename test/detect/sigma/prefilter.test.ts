import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { decodeRecord } from '../../../src/decoders/index.js';
import { createEnricher } from '../../../src/enrich/index.js';
import type { HolterEvent } from '../../../src/event.js';
import { KeywordScan } from '../../../src/detect/sigma/keyword-scan.js';
import { LiteralIndex, SubstringAutomaton } from '../../../src/detect/sigma/literal-index.js';
import { KEYWORD_STRINGS } from '../../../src/detect/sigma/prefilter.js';
import { MatchScope } from '../../../src/detect/sigma/scope.js';
import type { EventPredicate } from '../../../src/detect/sigma/scope.js';
import { loadSigmaRules, SigmaStage } from '../../../src/detect/sigma/stage.js';
import type { RuleSet } from '../../../src/detect/sigma/ruleset.js';
import { simulateHospital } from '../../../src/sim/index.js';
import { REPO_ROOT, SHARED_DIR } from '../../helpers/paths.js';
import { compileOne, MAPPING_FILE, processEvent, processRule, splitJsonDocuments } from './helpers.js';

const SIGMA_DIR = path.join(SHARED_DIR, 'sigma');
const CONTEXT = { defaultTimeZone: 'UTC', now: new Date('2026-06-01T00:00:00Z') };

/** Returns the required literals of a one-rule process creation text, as `kind:text` strings per clause, or null. */
function clausesOf(selection: string, condition = 'selection'): string[][] | null {
  const rule = compileOne(processRule(selection, condition)).stage.ruleSet.rules[0];
  assert.ok(rule);
  if (rule.literals === null) return null;
  return rule.literals.map((clause) => clause.map((literal) => `${literal.kind}:${literal.text}${literal.number === undefined ? '' : `#${literal.number}`}`));
}

/** Returns the literals of a rule whose required literals form one clause. */
function literalsOf(selection: string, condition = 'selection'): string[] | null {
  const clauses = clausesOf(selection, condition);
  if (clauses === null) return null;
  assert.equal(clauses.length, 1, JSON.stringify(clauses));
  return clauses[0] as string[];
}

test('contains values become lower-cased substrings', () => {
  assert.deepEqual(literalsOf('    selection:\n        CommandLine|contains: [Mimikatz, "sekurlsa::"]'), ['contains:mimikatz', 'contains:sekurlsa::']);
});

test('startswith and endswith become substrings', () => {
  assert.deepEqual(clausesOf('    selection:\n        Image|endswith: \\Cmd.exe\n        CommandLine|startswith: whoami'), [['contains:\\cmd.exe'], ['contains:whoami']]);
});

test('plain values become equals with numbers', () => {
  assert.deepEqual(clausesOf('    selection:\n        LogonId: 0x3E7\n        ProcessId: 4'), [['equals:0x3e7#999'], ['equals:4#4']]);
});

test('and keeps both clauses, or joins them', () => {
  const selection = '    a:\n        Image|endswith: \\a.exe\n    b:\n        CommandLine|contains: zz';
  assert.deepEqual(clausesOf(selection, 'a and b'), [['contains:\\a.exe'], ['contains:zz']]);
  assert.deepEqual(clausesOf(selection, 'a or b'), [['contains:\\a.exe', 'contains:zz']]);
  assert.deepEqual(clausesOf(selection, 'a and not b'), [['contains:\\a.exe']]);
});

test('all modifier makes one clause per value', () => {
  assert.deepEqual(clausesOf('    selection:\n        CommandLine|contains|all: [alpha, beta]'), [['contains:alpha'], ['contains:beta']]);
});

test('clauses are capped, cheapest first', () => {
  assert.deepEqual(clausesOf('    selection:\n        CommandLine|contains|all: [aaaaaaaa, bb, cccccccccccc, dddd, eeeeeeeeeeeeeeee]'), [['contains:eeeeeeeeeeeeeeee'], ['contains:cccccccccccc'], ['contains:aaaaaaaa'], ['contains:dddd']]);
});

test('rule needs every clause passed', () => {
  const stage = compileOne(processRule('    selection:\n        Image|endswith: \\a.exe\n        CommandLine|contains: zz')).stage;
  assert.equal(stage.process(processEvent({ Image: 'C:\\a.exe', CommandLine: 'zz' }), Number.NEGATIVE_INFINITY).length, 1);
  assert.equal(stage.process(processEvent({ Image: 'C:\\a.exe', CommandLine: 'yy' }), Number.NEGATIVE_INFINITY).length, 0);
  assert.equal(stage.process(processEvent({ Image: 'C:\\b.exe', CommandLine: 'zz' }), Number.NEGATIVE_INFINITY).length, 0);
});

test('unprovable conditions get no literals', () => {
  const cases: [string, string][] = [
    ['    selection:\n        Image|endswith: \\a.exe', 'not selection'],
    ['    selection:\n        CommandLine|re: ".{1000,}"', 'selection'],
    ['    selection:\n        CommandLine|re|neq: mimikatz', 'selection'],
    ['    selection:\n        CommandLine|cased: Mimikatz', 'selection'],
    ['    selection:\n        CommandLine|neq: x', 'selection'],
    ['    selection:\n        CommandLine: null', 'selection'],
    ['    selection:\n        CommandLine|exists: true', 'selection'],
    ['    selection:\n        CommandLine|contains: ""', 'selection'],
    ['    selection:\n        CommandLine: "*"', 'selection'],
    ['    selection:\n        CommandLine: "\u00e9*\u00e9"', 'selection'],
    ['    a:\n        Image|endswith: \\a.exe\n    b:\n        CommandLine|re: ".+"', 'a or b'],
  ];
  for (const [selection, condition] of cases) assert.equal(literalsOf(selection, condition), null, `${selection.trim()} / ${condition}`);
});

test('short literals only without longer ones', () => {
  const cases: [string, string, string[]][] = [
    ['    selection:\n        CommandLine|re: "abc|d"', 'selection', ['contains:abc', 'contains:d']],
    ['    selection:\n        - "a*b"', 'selection', ['contains:a']],
    ['    selection:\n        CommandLine|contains|windash: " -s "', 'selection', ['contains: ']],
    ['    selection:\n        CommandLine: "ab*cd"', 'selection', ['contains:ab']],
    ['    selection:\n        CommandLine: "Sess*Stas"', 'selection', ['contains:ta']],
    ['    selection:\n        CommandLine: "\u00e9t\u00e9*\u00e9t\u00e9"', 'selection', ['contains:t']],
    ['    selection:\n        CommandLine|re: "\\\\w+`(?:\\\\w+|-|.)`"', 'selection', ['contains:`']],
    ['    a:\n        Image|endswith: \\a.exe\n    b:\n        CommandLine|re: x', 'a or b', ['contains:\\a.exe', 'contains:x']],
    ['    a:\n        Image|endswith: \\a.exe\n    b:\n        CommandLine|re: x', '1 of them', ['contains:\\a.exe', 'contains:x']],
  ];
  for (const [selection, condition, expected] of cases) assert.deepEqual(literalsOf(selection, condition), expected, `${selection.trim()} / ${condition}`);

  // A rule that has a clause of MIN_PATTERN_LITERAL characters or more takes no shorter ones.
  assert.deepEqual(clausesOf('    a:\n        Image|endswith: \\a.exe\n    b:\n        CommandLine|re: x', 'a and b'), [['contains:\\a.exe']]);
});

test('wildcard and windash values give substrings', () => {
  assert.deepEqual(literalsOf('    selection:\n        CommandLine: "mimi*Katz?log"'), ['contains:mimi']);
  assert.deepEqual(literalsOf('    selection:\n        CommandLine|contains|windash: " -EncodedCommand "'), ['contains:encodedcommand ']);
  assert.deepEqual(literalsOf('    selection:\n        CommandLine: "*vsadmin*delete*"'), ['contains:delete']);
});

test('windash literal still matches every dash', () => {
  const stage = compileOne(processRule('    selection:\n        CommandLine|contains|windash: " -EncodedCommand "')).stage;
  for (const dash of ['-', '/', '\u2013', '\u2014', '\u2015']) {
    assert.equal(stage.process(processEvent({ CommandLine: `powershell ${dash}encodedcommand AAA` }), Number.NEGATIVE_INFINITY).length, 1, dash);
  }
});

test('keyword values become keyword substrings', () => {
  const clauses = clausesOf('    keywords:\n        - "Sekurlsa::"\n        - "\\\\mimilib.dll"\n    filter:\n        EventID: 15', 'keywords and not filter');
  assert.deepEqual(clauses, [['contains:sekurlsa::', 'contains:\\mimilib.dll']]);
  const rule = compileOne(processRule('    keywords:\n        - "Sekurlsa::"', 'keywords')).stage.ruleSet.rules[0];
  assert.equal(rule?.literals?.[0]?.[0]?.accessor, KEYWORD_STRINGS);
});

test('keyword literal matches any string', () => {
  const stage = compileOne(processRule('    keywords:\n        - "sekurlsa::"', 'keywords')).stage;
  assert.equal(stage.process(processEvent({ CommandLine: 'mimikatz SEKURLSA::logonpasswords' }), Number.NEGATIVE_INFINITY).length, 1);
  assert.equal(stage.process(processEvent({ Nested: { Deep: ['x', 'run Sekurlsa::x'] } }), Number.NEGATIVE_INFINITY).length, 1);
  assert.equal(stage.process(processEvent({ CommandLine: 'sekurlsa:' }), Number.NEGATIVE_INFINITY).length, 0);
});

test('regular expressions give required literals', () => {
  assert.deepEqual(literalsOf('    selection:\n        CommandLine|re: "\\\\$PSHome\\\\[\\\\s*\\\\d"'), ['contains:$pshome[']);
  assert.deepEqual(literalsOf('    selection:\n        CommandLine|re: "(?i)(environment|invoke|\\\\$\\\\{?input).*&&"'), ['contains:environment', 'contains:invoke', 'contains:input']);
  assert.deepEqual(literalsOf('    selection:\n        CommandLine|re|i: "Shell"'), ['contains:hell']);
  assert.deepEqual(literalsOf('    selection:\n        - CommandLine|re: "mimi.*katz"\n        - Image|endswith: \\\\cmd.exe'), ['contains:mimi', 'contains:\\cmd.exe']);
  assert.deepEqual(clausesOf('    selection:\n        CommandLine|re|all: ["abcd", "wxyz+"]'), [['contains:abcd'], ['contains:wxy']]);
});

test('regular expression rules keep matches', () => {
  const stage = compileOne(processRule('    selection:\n        CommandLine|re: "(?i)werfault(secure)?\\\\.exe\\\\s+\\\\d{2,10}"')).stage;
  assert.equal(stage.process(processEvent({ CommandLine: 'x WERFAULTSECURE.EXE 1234' }), Number.NEGATIVE_INFINITY).length, 1);
  assert.equal(stage.process(processEvent({ CommandLine: 'werfault.exe 99' }), Number.NEGATIVE_INFINITY).length, 1);
  assert.equal(stage.process(processEvent({ CommandLine: 'werfault.ex 99' }), Number.NEGATIVE_INFINITY).length, 0);
});

test('all of needs one search', () => {
  assert.deepEqual(literalsOf('    a:\n        Image|endswith: \\a.exe\n    b:\n        CommandLine|re: x', 'all of them'), ['contains:\\a.exe']);
});

test('prefilter keeps numeric and case matches', () => {
  const loaded = compileOne(processRule('    selection:\n        ProcessId: 4\n        Image|endswith: \\CMD.exe'));
  const stage = loaded.stage;
  const event = processEvent({ ProcessId: '04', Image: 'C:\\Windows\\System32\\cmd.EXE' });
  assert.equal(stage.process(event, Number.NEGATIVE_INFINITY).length, 1);
  assert.equal(stage.process(processEvent({ ProcessId: '4', Image: 'C:\\cmd.exe.bak' }), Number.NEGATIVE_INFINITY).length, 0);
});

test('automaton finds overlapping patterns', () => {
  const automaton = new SubstringAutomaton([
    ['he', 0],
    ['she', 1],
    ['his', 2],
    ['hers', 3],
    ['rs', 4],
    ['e', 5],
  ]);
  const found = (text: string): number[] => {
    const rules = new Set<number>();
    automaton.scan(text, (rule) => rules.add(rule));
    return [...rules].sort();
  };
  assert.deepEqual(found('ushers'), [0, 1, 3, 4, 5]);
  assert.deepEqual(found('hi'), []);
  assert.deepEqual(found('ahishe'), [0, 1, 2, 5]);
  assert.deepEqual(found(''), []);
});

test('automaton matches naive substring search', () => {
  const patterns = ['ab', 'abc', 'bca', 'cab', 'a', 'cc', 'bab', 'abcab'];
  const automaton = new SubstringAutomaton(patterns.map((pattern, index) => [pattern, index]));
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let round = 0; round < 500; round++) {
    const text = Array.from({ length: Math.floor(random() * 12) }, () => 'abc'[Math.floor(random() * 3)]).join('');
    const found = new Set<number>();
    automaton.scan(text, (rule) => found.add(rule));
    const expected = patterns.flatMap((pattern, index) => (text.includes(pattern) ? [index] : []));
    assert.deepEqual([...found].sort(), expected.sort(), text);
  }
});

test('automaton scans the lower-cased text', () => {
  const patterns = ['kiwi', 'ſa', '\u0131x', 'i\u0307', 'k\u00e9', 'σ', 'ς', 'sekurlsa::'];
  const automaton = new SubstringAutomaton(patterns.map((pattern, index) => [pattern, index]));
  const texts = ['KIWI', 'gentilKiwi.com', '\u0130', 'x\u0130X', '\u212Ae\u0301', '\u212A\u00c9', 'ΟΔΟΣ', 'ΟΔΟΣ x', 'SEKURLSA::Logon', 'ſA', 'I\u0307', '\u0131X', 'ABC\u00c9kiwi'];
  for (const text of texts) {
    const found = new Set<number>();
    automaton.scan(text, (value) => found.add(value));
    const lower = text.toLowerCase();
    const expected = patterns.flatMap((pattern, index) => (lower.includes(pattern) ? [index] : []));
    assert.deepEqual([...found].sort(), expected.sort(), text);
  }
});

test('large automaton matches naive search', () => {
  // Enough states that only the states near the root get full rows, and a non-ASCII letter that
  // every state must reach through the trie's edges.
  let seed = 11;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const letters = 'abcdefgh\u00e9';
  const word = (length: number): string => Array.from({ length }, () => letters[Math.floor(random() * letters.length)]).join('');
  const patterns = Array.from({ length: 6000 }, () => word(2 + Math.floor(random() * 12)));
  const automaton = new SubstringAutomaton(patterns.map((pattern, index) => [pattern, index]));
  for (let round = 0; round < 300; round++) {
    const text = word(Math.floor(random() * 60)).replace(/[aeg]/g, (letter) => (random() < 0.5 ? letter.toUpperCase() : letter));
    const found = new Set<number>();
    automaton.scan(text, (value) => found.add(value));
    const lower = text.toLowerCase();
    const expected = patterns.flatMap((pattern, index) => (lower.includes(pattern) ? [index] : []));
    assert.deepEqual([...found].sort((x, y) => x - y), expected, text);
  }
});

/** Regression events of the corpus, decoded, and variants that test case folding, affixes and numbers. */
function corpusEvents(): HolterEvent[] {
  const decoded: HolterEvent[] = [];
  const visit = (directory: string): void => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const child = path.join(directory, entry.name);
      if (entry.isDirectory()) visit(child);
      else if (entry.name.endsWith('.json')) {
        splitJsonDocuments(readFileSync(child, 'utf8')).forEach((text, index) => {
          const result = decodeRecord({ input: child, text, line: index + 1 }, CONTEXT);
          if (result.ok) decoded.push(...result.events);
        });
      }
    }
  };
  visit(path.join(SIGMA_DIR, 'regression_data'));
  // The last two put a non-ASCII character first or last: the automata then read the lower-cased text.
  const variants = [(text: string) => text.toUpperCase(), (text: string) => `x${text}x`, (text: string) => text.slice(1), (text: string) => `\u212A${text.toUpperCase()}`, (text: string) => `${text}\u0130`];
  const events = [...decoded];
  for (const variant of variants) for (const event of decoded) events.push(mapStrings(event, variant) as HolterEvent);
  for (const event of decoded) events.push(mapNumbers(event) as HolterEvent);
  return events;
}

/** Copies an event with every string outside `@timestamp` and `event.id` changed. */
function mapStrings(value: unknown, change: (text: string) => string, key = ''): unknown {
  if (typeof value === 'string') return key === '@timestamp' || key === 'id' ? value : change(value);
  if (Array.isArray(value)) return value.map((element) => mapStrings(element, change, key));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([name, child]) => [name, mapStrings(child, change, name)]));
  return value;
}

/** Copies an event with numbers written as zero-padded strings, and decimal strings as numbers. */
function mapNumbers(value: unknown): unknown {
  if (typeof value === 'number') return `0${value}`;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  if (Array.isArray(value)) return value.map(mapNumbers);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([name, child]) => [name, name === '@timestamp' ? child : mapNumbers(child)]));
  return value;
}

/** Decodes every fifth simulated record of four weeks, so the incident week (the last) is included. */
function hospitalEvents(): HolterEvent[] {
  const hospital = simulateHospital({ staff: 40, days: 28 });
  const enrich = createEnricher({ tokenKey: 'prefilter-test-key-0123456789abcdef' });
  const events: HolterEvent[] = [];
  let position = 0;
  for (const record of hospital.records()) {
    if (position++ % 5 !== 0) continue;
    const result = decodeRecord({ input: 'sim', text: record.text, format: record.format }, { defaultTimeZone: hospital.timeZone, now: CONTEXT.now });
    if (result.ok) for (const event of result.events) events.push(enrich(event));
  }
  return events;
}

/** Returns, per event, the rules that match it, found by testing every rule. */
function matchingRules(ruleSet: RuleSet, event: HolterEvent): number[] {
  const scope = new MatchScope(event);
  const found: number[] = [];
  ruleSet.rules.forEach((rule, index) => {
    if (rule.logsource?.predicate(scope) && rule.detection(scope)) found.push(index);
  });
  return found;
}

test('prefilter keeps every corpus match', async () => {
  const folders = readdirSync(SIGMA_DIR)
    .filter((name) => name.startsWith('rules'))
    .map((name) => path.join(SIGMA_DIR, name));
  const loaded = await loadSigmaRules([path.join(REPO_ROOT, 'rules'), ...folders], { mappingFile: MAPPING_FILE });
  const ruleSet = loaded.stage.ruleSet;
  const withLiterals = ruleSet.rules.filter((rule) => rule.logsource !== undefined && rule.literals !== null).length;
  assert.ok(withLiterals > 1500, `only ${withLiterals} rules have required literals`);

  const index = new LiteralIndex(ruleSet.rules.map((rule, position) => ({ rule: position, clauses: rule.literals })));
  const events = [...corpusEvents(), ...hospitalEvents()];
  let matched = 0;
  for (const event of events) {
    const passed = new Set<number>();
    index.collect(new MatchScope(event), (rule) => passed.add(rule));
    for (const rule of matchingRules(ruleSet, event)) {
      matched++;
      assert.ok(passed.has(rule), `rule '${ruleSet.rules[rule]?.info.id}' matches event ${event.event.id} but its required literals do not`);
    }
  }
  assert.ok(matched > 1000, `only ${matched} matches: the events no longer exercise the corpus`);
});

test('indexed and plain stages agree', async () => {
  const folders = readdirSync(SIGMA_DIR)
    .filter((name) => name.startsWith('rules'))
    .map((name) => path.join(SIGMA_DIR, name));
  const loaded = await loadSigmaRules([path.join(REPO_ROOT, 'rules'), ...folders], { mappingFile: MAPPING_FILE });
  const indexed = new SigmaStage(loaded.stage.ruleSet);
  const plain = new SigmaStage(loaded.stage.ruleSet, { prefilter: false });
  // The corpus events go through twice, and the second time the value memos already contain their values.
  const corpus = corpusEvents();
  const events = [...hospitalEvents(), ...corpus, ...corpus];
  events.forEach((event, position) => {
    const timed = { ...event, '@timestamp': new Date(Date.parse('2026-01-05T08:00:00Z') + position * 1000).toISOString() };
    const expected = plain.process(timed, Number.NEGATIVE_INFINITY);
    assert.deepEqual(indexed.process(timed, Number.NEGATIVE_INFINITY), expected, `event ${position}`);
  });
  assert.deepEqual(indexed.flush(Number.POSITIVE_INFINITY), plain.flush(Number.POSITIVE_INFINITY));
  assert.deepEqual(indexed.stats(), plain.stats());
  assert.ok((indexed.stats().rule_matches ?? 0) > 1000);
});

/** Loads the pack and the public corpus together, as the benchmark does. */
async function corpusRuleSet(): Promise<RuleSet> {
  const folders = readdirSync(SIGMA_DIR)
    .filter((name) => name.startsWith('rules'))
    .map((name) => path.join(SIGMA_DIR, name));
  const loaded = await loadSigmaRules([path.join(REPO_ROOT, 'rules'), ...folders], { mappingFile: MAPPING_FILE });
  return loaded.stage.ruleSet;
}

/** Returns the rules that pass the index's required literals, sorted. */
function passedRules(index: LiteralIndex, event: HolterEvent): number[] {
  const passed = new Set<number>();
  index.collect(new MatchScope(event), (rule) => passed.add(rule));
  return [...passed].sort((a, b) => a - b);
}

test('field memo keeps passed rules', async () => {
  const ruleSet = await corpusRuleSet();
  const rules = ruleSet.rules.map((rule, position) => ({ rule: position, clauses: rule.literals }));
  const events = corpusEvents();
  const reference = new LiteralIndex(rules, null);
  // Warm: one index for the whole stream, run twice, so the second pass reads every value from its memo.
  const warm = new LiteralIndex(rules);
  // Evicting: the smallest limits, so the generations turn over every few values.
  const evicting = new LiteralIndex(rules, { maxEntries: 2, maxChars: 4_096 });
  let passedTotal = 0;
  for (const pass of [1, 2]) {
    for (const event of events) {
      const expected = passedRules(reference, event);
      passedTotal += expected.length;
      assert.deepEqual(passedRules(warm, event), expected, `warm index, pass ${pass}, event ${event.event.id}`);
      assert.deepEqual(passedRules(evicting, event), expected, `evicting index, pass ${pass}, event ${event.event.id}`);
    }
  }
  assert.ok(passedTotal > 1000, `only ${passedTotal} rules passed: the events no longer exercise the index`);
});

test('keyword memo keeps found literals', async () => {
  const ruleSet = await corpusRuleSet();
  const texts = new Set<string>();
  for (const rule of ruleSet.rules) for (const clause of rule.literals ?? []) for (const literal of clause) if (literal.shared !== undefined) texts.add(literal.text);
  assert.ok(texts.size > 20, `only ${texts.size} keyword literals in the corpus`);
  const literals = [...texts];
  const events = corpusEvents();
  const sorted = (ids: readonly number[]): number[] => [...ids].sort((a, b) => a - b);
  const reference = new KeywordScan(literals, { memoLimits: null, gate: false });
  const warm = new KeywordScan(literals, { gate: false });
  const evicting = new KeywordScan(literals, { memoLimits: { maxEntries: 2, maxChars: 4_096 }, gate: false });
  let foundTotal = 0;
  for (const pass of [1, 2]) {
    for (const event of events) {
      const expected = sorted(reference.literalsIn(new MatchScope(event)));
      foundTotal += expected.length;
      assert.deepEqual(sorted(warm.literalsIn(new MatchScope(event))), expected, `warm scan, pass ${pass}, event ${event.event.id}`);
      assert.deepEqual(sorted(evicting.literalsIn(new MatchScope(event))), expected, `evicting scan, pass ${pass}, event ${event.event.id}`);
    }
  }
  assert.ok(foundTotal > 100, `only ${foundTotal} keyword literals found: the events no longer exercise the scan`);
});

test('keyword groups keep found literals', async () => {
  const ruleSet = await corpusRuleSet();
  const texts: string[] = [];
  const logsources: EventPredicate[][] = [];
  for (const rule of ruleSet.rules) {
    for (const clause of rule.literals ?? []) {
      for (const literal of clause) {
        if (literal.shared === undefined) continue;
        let id = texts.indexOf(literal.text);
        if (id < 0) {
          id = texts.push(literal.text) - 1;
          logsources.push([]);
        }
        if (!logsources[id]?.includes(literal.shared.logsource)) logsources[id]?.push(literal.shared.logsource);
      }
    }
  }
  const distinct = new Set(logsources.flat()).size;
  assert.ok(distinct > 5, `only ${distinct} log sources have keyword literals in the corpus`);

  // The reference scans every string for every literal; the groups must report exactly the literals of the log sources met.
  const reference = new KeywordScan(texts, { memoLimits: null, gate: false });
  const grouped = new KeywordScan(texts, { logsources });
  const sorted = (ids: readonly number[]): number[] => [...ids].sort((a, b) => a - b);

  // The regression events rarely contain a keyword literal of their own log source, so copies of
  // them carry one more string with a literal: upper-cased, as written, or with the Kelvin sign for `k`.
  const events = [...corpusEvents(), ...hospitalEvents()];
  const carriers = events.map((event, position) => {
    const literal = texts[position % texts.length] as string;
    const spellings = [literal.toUpperCase(), `x${literal}x`, literal.replaceAll('k', '\u212A')];
    return { ...event, message: spellings[position % spellings.length] } as HolterEvent;
  });

  let foundTotal = 0;
  for (const event of [...events, ...carriers]) {
    const scope = new MatchScope(event);
    const expected = sorted(reference.literalsIn(scope).filter((id) => logsources[id]?.some((logsource) => logsource(scope))));
    foundTotal += expected.length;
    assert.deepEqual(sorted(grouped.literalsIn(scope)), expected, `event ${event.event.id}`);
  }
  assert.ok(foundTotal > 100, `only ${foundTotal} keyword literals found: the events no longer exercise the groups`);
});
