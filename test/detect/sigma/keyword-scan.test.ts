import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { HolterEvent } from '../../../src/event.js';
import { KeywordScan, sharedFactors } from '../../../src/detect/sigma/keyword-scan.js';
import { MatchScope } from '../../../src/detect/sigma/scope.js';
import type { EventPredicate } from '../../../src/detect/sigma/scope.js';
import type { SigmaLoadResult } from '../../../src/detect/sigma/stage.js';
import { compileTexts, processEvent, windowsEvent } from './helpers.js';

/** Writes a keyword rule with one log source line, such as `product: linux`. */
function keywordRule(id: number, logsource: string, keywords: string[]): string {
  return `title: Keyword rule ${id}
id: 00000000-0000-4000-8000-${String(id).padStart(12, '0')}
logsource:
    ${logsource}
detection:
    keywords:
${keywords.map((keyword) => `        - '${keyword}'`).join('\n')}
    condition: keywords
level: high
`;
}

/** Builds an auditd record, which the shipped mapping puts under `product: linux`. */
function auditdEvent(message: string): HolterEvent {
  return {
    '@timestamp': '2024-05-01T10:00:00.000Z',
    event: { id: `auditd-${message.length}`, kind: 'event', category: [], type: [], action: 'execve', outcome: 'unknown', dataset: 'auditd.log', module: 'auditd' },
    message,
  } as unknown as HolterEvent;
}

/** Returns the titles of the rules that match the event, in rule order. */
function matchedTitles(result: SigmaLoadResult, event: HolterEvent): string[] {
  return result.stage.process(event, Number.NEGATIVE_INFINITY).map((detection) => detection.rule.name);
}

const WINDOWS_AND_LINUX = [
  keywordRule(1, 'product: windows', ['sekurlsa::']),
  keywordRule(2, 'product: linux', ['bpf_probe_write_user']),
  // Short literals give no gate, so events of this log source take the scan without one.
  keywordRule(3, 'product: linux', ['-d']),
];

test('keyword rules of each log source match', () => {
  const result = compileTexts(WINDOWS_AND_LINUX);
  assert.deepEqual(result.errors, []);
  const both = 'sekurlsa::logonpasswords bpf_probe_write_user -d';
  assert.deepEqual(matchedTitles(result, processEvent({ CommandLine: both })), ['Keyword rule 1']);
  assert.deepEqual(matchedTitles(result, auditdEvent(both)), ['Keyword rule 2', 'Keyword rule 3']);
  assert.deepEqual(matchedTitles(result, auditdEvent('SEKURLSA:: -D')), ['Keyword rule 3']);
});

test('keyword scan reports literals of met log sources', () => {
  const result = compileTexts(WINDOWS_AND_LINUX);
  const literals = result.stage.ruleSet.rules.flatMap((rule) => rule.literals?.flat() ?? []);
  const scan = literals[0]?.shared?.scan;
  assert.ok(scan !== undefined);
  const idOf = (text: string): number | undefined => literals.find((literal) => literal.text === text)?.shared?.id;
  const windowsId = idOf('sekurlsa::');
  const linuxIds = [idOf('bpf_probe_write_user'), idOf('-d')];

  const windows = new MatchScope(processEvent({ CommandLine: 'sekurlsa:: bpf_probe_write_user -d' }));
  assert.deepEqual([...scan.literalsIn(windows)], [windowsId]);
  const linux = new MatchScope(auditdEvent('sekurlsa:: bpf_probe_write_user -d'));
  assert.deepEqual([...scan.literalsIn(linux)].sort(), [...linuxIds].sort());
});

test('keyword rules of two met log sources both match', () => {
  const result = compileTexts([
    keywordRule(1, 'product: windows', ['sekurlsa::']),
    keywordRule(2, 'category: process_creation\n    product: windows', ['\\perfc.dat']),
  ]);
  assert.deepEqual(result.errors, []);
  const event = processEvent({ CommandLine: 'rundll32 C:\\Windows\\PERFC.DAT,#1', ParentCommandLine: 'SEKURLSA::x' });
  assert.deepEqual(matchedTitles(result, event), ['Keyword rule 1', 'Keyword rule 2']);
  // A Security event meets only the first rule's log source.
  const security = windowsEvent({ eventId: 4624, channel: 'Security', data: { TargetUserName: 'SEKURLSA::x \\perfc.dat' } });
  assert.deepEqual(matchedTitles(result, security), ['Keyword rule 1']);
});

/** Returns the literal numbers that `scan` finds in a one-field event, sorted. */
function found(scan: KeywordScan, value: unknown): number[] {
  return [...scan.literalsIn(new MatchScope(processEvent({ Field: value })))].sort((a, b) => a - b);
}

test('keyword gate keeps case folded matches', () => {
  const literals = ['kiwi', 'kerberos::ptt', 'sekurlsa::'];
  const gated = new KeywordScan(literals);
  const plain = new KeywordScan(literals, { gate: false, memoLimits: null });
  const texts = [
    'KIWI',
    // U+0130 lower-cases to `i` and a combining dot, so the text contains `kiwi` once lower-cased.
    'KIWİ',
    // The Kelvin sign lower-cases to `k`.
    '\u212AERBEROS::PTT',
    'Sekurlsa::LogonPasswords',
    'kerberos::pt',
    'sekurlsa:',
    'ｋｉｗｉ',
    '',
  ];
  for (const text of texts) assert.deepEqual(found(gated, text), found(plain, text), JSON.stringify(text));
  assert.deepEqual(found(gated, 'KIWİ'), [0]);
  assert.deepEqual(found(gated, '\u212AERBEROS::PTT'), [1]);
  assert.deepEqual(found(gated, 'sekurlsa:'), []);
});

test('keyword scan reads numbers for digit literals', () => {
  const digits = new KeywordScan(['4688', 'sekurlsa::']);
  assert.deepEqual(found(digits, 4688), [0]);
  assert.deepEqual(found(digits, 14_688_000), [0]);
  assert.deepEqual(found(digits, [1, 4688]), [0]);
  assert.deepEqual(found(digits, 4689), []);
  // `Infinity` is the text of a number too, and keyword search folds its case.
  assert.deepEqual(found(new KeywordScan(['infinity']), Number.POSITIVE_INFINITY), [0]);
});

test('keyword scan without log sources finds every literal', () => {
  const never: EventPredicate = () => false;
  const always: EventPredicate = () => true;
  const scan = new KeywordScan(['alpha', 'beta'], { logsources: [[never], [never, always]] });
  assert.deepEqual(found(scan, 'ALPHA BETA'), [1]);
  assert.deepEqual(found(new KeywordScan(['alpha', 'beta']), 'ALPHA BETA'), [0, 1]);
});

test('non-ASCII literal matches a shorter string', () => {
  // 'İx' lower-cases to three code units (i, U+0307, x), so the string is shorter than the
  // lower-cased literal it contains.
  const result = compileTexts([keywordRule(4, 'product: windows', ['İx'])]);
  assert.deepEqual(result.errors, []);
  assert.deepEqual(matchedTitles(result, processEvent({ CommandLine: 'İx' })), ['Keyword rule 4']);
});

test('shared factors cover every literal', () => {
  const mimikatz = ['dpapi::masterkey', 'eo.oe.kiwi', 'event::clear', 'gentilkiwi.com', 'kerberos::ptt', 'kiwi legit printer', 'lsadump::', 'mimidrv.sys', '\\mimilib.dll', 'sekurlsa::', '\\perfc.dat'];
  const sets = [
    mimikatz,
    ['abc', 'abcd', 'xyz'],
    ['-enc', '-encodedcommand', 'frombase64string', 'iex (', 'invoke-expression'],
    ['${', '`i`e`x', '[char]', '[convert]::', '::frombase64'],
    ['same', 'same'],
  ];
  for (const literals of sets) {
    const factors = sharedFactors(literals);
    for (const literal of literals) assert.ok(factors.some((factor) => literal.includes(factor)), `${literal} contains one of ${JSON.stringify(factors)}`);
  }
  assert.deepEqual(sharedFactors(mimikatz), ['::', 'kiwi', 'mimi', '\\perfc.dat']);
  // Substrings of fewer than four letters replace no literal, because `abc` would pass too many strings.
  assert.deepEqual(sharedFactors(['abc', 'abcd', 'xyz']), ['abc', 'abcd', 'xyz']);
});

test('gate of shared factors keeps matches', () => {
  const literals = ['dpapi::masterkey', 'event::clear', 'kerberos::ptt', 'sekurlsa::', 'eo.oe.kiwi', 'gentilkiwi.com', 'mimidrv.sys', '\\mimilib.dll'];
  const gated = new KeywordScan(literals);
  const plain = new KeywordScan(literals, { gate: false, memoLimits: null });
  const texts = [
    'fe80::1',
    'SEKURLSA::LOGONPASSWORDS',
    'sekurlsa:',
    'sekurlsa :: x',
    '\u212AERBEROS::PTT',
    'GENTİLKIWI.COM',
    'gentil\u212Aiwi.com',
    'C:\\Windows\\mimilib.dll',
    'mimi',
    'kiwi',
    'dpapi::masterkey event::clear',
  ];
  for (const text of texts) assert.deepEqual(found(gated, text), found(plain, text), JSON.stringify(text));
  assert.deepEqual(found(gated, 'fe80::1'), []);
  assert.deepEqual(found(gated, 'dpapi::masterkey event::clear'), [0, 1]);
});
