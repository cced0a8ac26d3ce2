import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ANY_SEQUENCE, compilePattern, parseSigmaString, plainPattern } from '../../../src/detect/sigma/pattern.js';
import type { PatternPart } from '../../../src/detect/sigma/pattern.js';
import { compileValueSet } from '../../../src/detect/sigma/value-set.js';
import type { PlainValue } from '../../../src/detect/sigma/value-set.js';
import { compileOne, matches, processEvent, processRule } from './helpers.js';

/** Builds the plain values of Sigma strings, as an item without modifiers (`equals`) or with one of the string modifiers. */
function plainValues(shape: 'equals' | 'startswith' | 'endswith' | 'contains', texts: string[]): PlainValue[] {
  return texts.map((text) => {
    const parts = wrap(parseSigmaString(text, false), shape);
    const pattern = plainPattern(parts);
    assert.ok(pattern !== undefined, `${shape} ${text} is plain`);
    return { pattern, test: compilePattern(parts, false) };
  });
}

function wrap(parts: PatternPart[], shape: 'equals' | 'startswith' | 'endswith' | 'contains'): PatternPart[] {
  if (shape === 'startswith') return [...parts, ANY_SEQUENCE];
  if (shape === 'endswith') return [ANY_SEQUENCE, ...parts];
  if (shape === 'contains') return [ANY_SEQUENCE, ...parts, ANY_SEQUENCE];
  return parts;
}

/** Tests every text against the set and against each value's own test, which the set must agree with. */
function assertSameAsEachValue(values: PlainValue[], texts: string[]): void {
  const combined = compileValueSet(values);
  for (const text of texts) {
    const lower = text.toLowerCase();
    const expected = values.some((value) => value.test(text, lower));
    assert.equal(combined(text, lower), expected, JSON.stringify(text));
  }
}

const TEXTS = [
  '',
  'a',
  'C:\\Windows\\System32\\cmd.exe',
  'c:\\windows\\system32\\CMD.EXE',
  'C:\\Windows\\SysWOW64\\cmd.exe /c whoami',
  'C:\\Temp\\cmd.exe.bak',
  'cmd.exe',
  '\\cmd.exe',
  'MD.EXE',
  'powershell.exe -enc SQBFAFgA',
  '\\POWERSHELL.EXE',
  // The Kelvin sign lower-cases to `k`, U+0130 to `i` and a combining dot, and ſ stays as it is.
  'C:\\\u212Aits\\rundll32.exe',
  'C:\\TEMP\\İNSTALL.EXE',
  'C:\\Temp\\ſvchost.exe',
  'kits',
  '\u212Aits',
  'İ',
  'i̇',
];

test('value set equals matches each value', () => {
  const values = plainValues('equals', ['cmd.exe', 'CMD.exe', '', 'i̇', 'kits', 'MD.EXE']);
  assertSameAsEachValue(values, TEXTS);
});

test('value set affixes match each value', () => {
  for (const shape of ['startswith', 'endswith'] as const) {
    // Affixes of several lengths that share their first or last characters, so that the table
    // keyed by the shortest one must still compare the longer ones in full.
    const values = plainValues(shape, ['\\cmd.exe', 'd.exe', '\\powershell.exe', 'c:\\', 'C:\\Windows\\', 'c:\\temp\\', '\u212Aits', 'i̇']);
    assertSameAsEachValue(values, TEXTS);
  }
});

test('value set substrings match each value', () => {
  const few = plainValues('contains', ['\\system32\\', 'whoami']);
  assertSameAsEachValue(few, TEXTS);
  // Enough substrings for the automaton, with upper-case and non-ASCII letters in the rule values.
  const many = plainValues('contains', ['\\system32\\', 'WHOAMI', '-enc', 'rundll32', '\u212Aits', 'i̇nstall', 'ſvchost', '.bak']);
  assertSameAsEachValue(many, TEXTS);
});

test('value set mixes shapes and numbers', () => {
  const [number, ...others] = plainValues('equals', ['4688', 'kits']);
  const numberValue = number as PlainValue;
  numberValue.number = 4688;
  // The reference adds the numeric comparison that compileStrings adds to an untransformed number.
  const equalsTest = numberValue.test;
  numberValue.test = (text, lower) => equalsTest(text, lower) || (/^[-+]?(\d+(\.\d*)?|\.\d+)$/.test(text) && Number(text) === 4688);
  const values = [numberValue, ...others, ...plainValues('endswith', ['\\cmd.exe']), ...plainValues('contains', ['whoami', 'rundll', 'temp', 'install'])];
  assertSameAsEachValue(values, [...TEXTS, '4688', '04688', '4688.0', '+4688', '4688x', '0x1250', '4689']);

  const combined = compileValueSet(values);
  assert.equal(combined('04688', '04688'), true);
  assert.equal(combined('4688x', '4688x'), false);
});

test('long value lists match as before', () => {
  const images = ['\\cmd.exe', '\\powershell.exe', '\\pwsh.exe', '\\wscript.exe', '\\cscript.exe', '\\mshta.exe', '\\regsvr32.exe', '\\rundll32.exe'];
  const commands = [' -enc', ' /c ', 'http://', 'https://', '.dll,'];
  const list = (values: string[]): string => values.map((value) => `            - '${value}'`).join('\n');
  const rule = compileOne(processRule(`    selection:\n        Image|endswith:\n${list(images)}\n        CommandLine|contains:\n${list(commands)}\n        ProcessId:\n            - 4460\n            - 17`));
  const event = (image: string, commandLine: string, processId: unknown = 17): ReturnType<typeof processEvent> => processEvent({ Image: image, CommandLine: commandLine, ProcessId: processId });

  assert.equal(matches(rule, event('C:\\Windows\\System32\\RUNDLL32.EXE', 'rundll32 shell32.dll,Control_RunDLL')), true);
  assert.equal(matches(rule, event('C:\\Windows\\System32\\rundll32.exe.bak', 'rundll32 shell32.dll,Control_RunDLL')), false);
  assert.equal(matches(rule, event('C:\\Windows\\System32\\cmd.exe', 'cmd whoami')), false);
  assert.equal(matches(rule, event('C:\\Windows\\System32\\cmd.exe', 'cmd /C whoami')), true);
  assert.equal(matches(rule, event('C:\\Program Files\\PowerShell\\7\\PWSH.EXE', 'pwsh -ENC SQBFAFgA', '04460')), true);
  assert.equal(matches(rule, event('C:\\Program Files\\PowerShell\\7\\PWSH.EXE', 'pwsh -ENC SQBFAFgA', 4461)), false);
});
