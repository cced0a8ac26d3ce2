import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { base64Offsets } from '../../../src/detect/sigma/encodings.js';
import { compileOne, compileTexts, matches, processEvent, processRule, windowsEvent } from './helpers.js';

/** True when a process creation rule with this selection matches an event with this EventData. */
function check(selection: string, data: Record<string, unknown>): boolean {
  return matches(compileOne(processRule(selection)), processEvent(data));
}

describe('plain values', () => {
  test('equality ignores case', () => {
    assert.equal(check("    selection:\n        Image: 'C:\\Windows\\System32\\whoami.exe'", { Image: 'c:\\windows\\system32\\WHOAMI.EXE' }), true);
    assert.equal(check("    selection:\n        Image: 'C:\\Windows\\System32\\whoami.exe'", { Image: 'C:\\Windows\\System32\\whoami.exe.bak' }), false);
  });

  test('list of values is OR', () => {
    const selection = "    selection:\n        User:\n            - alice\n            - bob";
    assert.equal(check(selection, { User: 'BOB' }), true);
    assert.equal(check(selection, { User: 'carol' }), false);
  });

  test('map of fields is AND', () => {
    const selection = "    selection:\n        User: alice\n        IntegrityLevel: High";
    assert.equal(check(selection, { User: 'alice', IntegrityLevel: 'High' }), true);
    assert.equal(check(selection, { User: 'alice', IntegrityLevel: 'Medium' }), false);
  });

  test('list of maps is OR', () => {
    const selection = "    selection:\n        - User: alice\n        - IntegrityLevel: System";
    assert.equal(check(selection, { User: 'bob', IntegrityLevel: 'System' }), true);
    assert.equal(check(selection, { User: 'bob', IntegrityLevel: 'High' }), false);
  });

  test('numbers match numeric strings', () => {
    const rule = compileOne(processRule('    selection:\n        ProcessId: 4460\n        TerminalSessionId: 010'));
    assert.equal(matches(rule, processEvent({ ProcessId: '4460', TerminalSessionId: 10 })), true);
    assert.equal(matches(rule, processEvent({ ProcessId: 4461, TerminalSessionId: 10 })), false);
  });

  test('hex number keeps its spelling', () => {
    assert.equal(check('    selection:\n        LogonId: 0x3e7', { LogonId: '0x3E7' }), true);
  });

  test('array field matches any element', () => {
    assert.equal(check("    selection:\n        Tags: 'beta'", { Tags: ['alpha', 'BETA'] }), true);
    assert.equal(check("    selection:\n        Tags: 'gamma'", { Tags: ['alpha', 'beta'] }), false);
  });

  test('null means absent or null', () => {
    const selection = '    selection:\n        User: alice\n    filter:\n        ParentImage: null';
    const rule = processRule(selection, 'selection and filter');
    assert.equal(matches(compileOne(rule), processEvent({ User: 'alice' })), true);
    assert.equal(matches(compileOne(rule), processEvent({ User: 'alice', ParentImage: null })), true);
    assert.equal(matches(compileOne(rule), processEvent({ User: 'alice', ParentImage: '' })), false);
  });

  test('empty string matches empty only', () => {
    assert.equal(check("    selection:\n        Description: ''", { Description: '' }), true);
    assert.equal(check("    selection:\n        Description: ''", {}), false);
  });

  test('booleans compare as text', () => {
    assert.equal(check('    selection:\n        Signed: true', { Signed: 'true' }), true);
    assert.equal(check('    selection:\n        Signed: true', { Signed: false }), false);
  });
});

describe('wildcards', () => {
  test('star and question mark', () => {
    assert.equal(check("    selection:\n        Image: '*\\prog?.exe'", { Image: 'C:\\x\\progA.exe' }), true);
    assert.equal(check("    selection:\n        Image: '*\\prog?.exe'", { Image: 'C:\\x\\progAB.exe' }), false);
    assert.equal(check("    selection:\n        CommandLine: 'a*b*c'", { CommandLine: 'axxbyyc' }), true);
    assert.equal(check("    selection:\n        CommandLine: 'a*b*c'", { CommandLine: 'axxcyyb' }), false);
  });

  test('escaped wildcards are literal', () => {
    assert.equal(check("    selection:\n        CommandLine: 'what\\?'", { CommandLine: 'what?' }), true);
    assert.equal(check("    selection:\n        CommandLine: 'what\\?'", { CommandLine: 'whatx' }), false);
    assert.equal(check("    selection:\n        CommandLine: 'a\\*b'", { CommandLine: 'a*b' }), true);
    assert.equal(check("    selection:\n        CommandLine: 'a\\*b'", { CommandLine: 'axxb' }), false);
  });

  test('escaped backslash before wildcard', () => {
    // `\\*` is one backslash followed by a wildcard.
    assert.equal(check("    selection:\n        Image: 'C:\\\\*'", { Image: 'C:\\Windows' }), true);
    // `\\\*` is a backslash followed by a literal star.
    assert.equal(check("    selection:\n        Image: 'C:\\\\\\*'", { Image: 'C:\\*' }), true);
    assert.equal(check("    selection:\n        Image: 'C:\\\\\\*'", { Image: 'C:\\Windows' }), false);
  });

  test('plain backslash stays literal', () => {
    assert.equal(check("    selection:\n        Image: 'C:\\Temp\\x.exe'", { Image: 'C:\\Temp\\x.exe' }), true);
  });
});

describe('string modifiers', () => {
  test('contains startswith endswith', () => {
    assert.equal(check("    selection:\n        CommandLine|contains: 'mimikatz'", { CommandLine: 'run MimiKatz now' }), true);
    assert.equal(check("    selection:\n        CommandLine|startswith: 'cmd'", { CommandLine: 'CMD /c x' }), true);
    assert.equal(check("    selection:\n        CommandLine|startswith: 'cmd'", { CommandLine: 'x cmd' }), false);
    assert.equal(check("    selection:\n        Image|endswith: '\\cmd.exe'", { Image: 'C:\\Windows\\cmd.exe' }), true);
    assert.equal(check("    selection:\n        Image|endswith: '\\cmd.exe'", { Image: 'C:\\Windows\\cmd.exe.txt' }), false);
  });

  test('contains all needs every value', () => {
    const selection = "    selection:\n        CommandLine|contains|all:\n            - ' -enc '\n            - 'hidden'";
    assert.equal(check(selection, { CommandLine: 'powershell -w hidden -enc AAA' }), true);
    assert.equal(check(selection, { CommandLine: 'powershell -enc AAA' }), false);
  });

  test('cased is case-sensitive', () => {
    assert.equal(check("    selection:\n        CommandLine|contains|cased: 'Evil'", { CommandLine: 'an Evil tool' }), true);
    assert.equal(check("    selection:\n        CommandLine|contains|cased: 'Evil'", { CommandLine: 'an evil tool' }), false);
  });

  test('windash accepts every dash form', () => {
    const selection = "    selection:\n        CommandLine|contains|windash: ' -urlcache '";
    for (const dash of ['-', '/', '\u2013', '\u2014', '\u2015']) {
      assert.equal(check(selection, { CommandLine: `certutil ${dash}urlcache x` }), true, `dash ${dash}`);
    }
    assert.equal(check(selection, { CommandLine: 'certutil urlcache x' }), false);
  });

  test('neq excludes listed values', () => {
    const selection = "    selection:\n        User|neq:\n            - alice\n            - bob";
    assert.equal(check(selection, { User: 'carol' }), true);
    assert.equal(check(selection, { User: 'Alice' }), false);
    assert.equal(check(selection, {}), false);
  });

  test('exists checks presence', () => {
    assert.equal(check('    selection:\n        ParentImage|exists: true', { ParentImage: '' }), true);
    assert.equal(check('    selection:\n        ParentImage|exists: true', {}), false);
    assert.equal(check('    selection:\n        ParentImage|exists: false', {}), true);
  });

  test('expand uses configured placeholders', () => {
    const rule = processRule("    selection:\n        User|expand: '%Administrators%'");
    const result = compileOne(rule, { placeholders: { Administrators: ['admin*', 'root'] } });
    assert.equal(matches(result, processEvent({ User: 'Administrator' })), true);
    assert.equal(matches(result, processEvent({ User: 'root' })), true);
    assert.equal(matches(result, processEvent({ User: 'alice' })), false);
  });

  test('expand keeps escaped percent literal', () => {
    const rule = processRule("    selection:\n        CommandLine|expand: '\\%plain%name%'");
    const result = compileOne(rule, { placeholders: { name: ['x'] } });
    assert.equal(matches(result, processEvent({ CommandLine: '%plainx' })), true);
  });

  test('unknown placeholder is a located error', () => {
    const result = compileTexts([processRule("    selection:\n        User|expand: '%Nobody%'")]);
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0]?.code, 'HOLTER_RULE_INVALID');
    assert.match(result.errors[0]?.message ?? '', /%Nobody%/);
    assert.equal(result.errors[0]?.location?.line, 8);
  });

  test('percent without expand is literal', () => {
    assert.equal(check("    selection:\n        CommandLine: '%name%'", { CommandLine: '%NAME%' }), true);
  });
});

describe('regular expressions', () => {
  test('re is case-sensitive by default', () => {
    assert.equal(check("    selection:\n        CommandLine|re: 'inv[o0]ke-\\w+'", { CommandLine: 'x inv0ke-Thing' }), true);
    assert.equal(check("    selection:\n        CommandLine|re: 'inv[o0]ke-\\w+'", { CommandLine: 'x INVOKE-Thing' }), false);
  });

  test('re i flag ignores case', () => {
    assert.equal(check("    selection:\n        CommandLine|re|i: 'invoke-\\w+'", { CommandLine: 'x INVOKE-Thing' }), true);
  });

  test('re m flag anchors lines', () => {
    const data = { CommandLine: 'first\nsecond line' };
    assert.equal(check("    selection:\n        CommandLine|re: '^second'", data), false);
    assert.equal(check("    selection:\n        CommandLine|re|m: '^second'", data), true);
  });

  test('re s flag lets dot match newline', () => {
    const data = { CommandLine: 'a\nb' };
    assert.equal(check("    selection:\n        CommandLine|re: 'a.b'", data), false);
    assert.equal(check("    selection:\n        CommandLine|re|s: 'a.b'", data), true);
  });

  const rejected: [string, string][] = [
    ['foo(?=bar)', 'lookahead'],
    ['(?<!x)foo', 'negative lookbehind'],
    ['(a)\\1', 'backreference'],
    ['a++', 'possessive quantifier'],
  ];
  for (const [pattern, construct] of rejected) {
    test(`re rejects ${construct}`, () => {
      const result = compileTexts([processRule(`    selection:\n        CommandLine|re: '${pattern}'`)]);
      assert.equal(result.errors.length, 1);
      assert.equal(result.errors[0]?.code, 'HOLTER_RULE_UNSUPPORTED');
      assert.match(result.errors[0]?.message ?? '', new RegExp(construct));
      assert.equal(result.errors[0]?.location?.line, 8);
      assert.equal(result.errors[0]?.location?.column, 9);
    });
  }

  test('re results survive the value memo', () => {
    // More distinct values than the memo of one regular expression keeps, each tested twice, so
    // results come from a test, from the memo and again after eviction.
    const rule = compileOne(processRule("    selection:\n        CommandLine|re: 'run-[0-9]*7 --now'"));
    const expected = /run-[0-9]*7 --now/;
    for (const round of [1, 2]) {
      for (let index = 0; index < 600; index++) {
        const commandLine = `C:\\tools\\run-${index} --now`;
        assert.equal(matches(rule, processEvent({ CommandLine: commandLine })), expected.test(commandLine), `round ${round}, ${commandLine}`);
      }
    }
  });

  test('escaped lookahead text is allowed', () => {
    assert.equal(check("    selection:\n        CommandLine|re: '\\(\\?=x'", { CommandLine: '(?=x' }), true);
  });
});

describe('cidr', () => {
  test('IPv4 ranges', () => {
    const selection = "    selection:\n        DestinationIp|cidr:\n            - '10.0.0.0/8'\n            - '192.168.1.0/24'";
    const rule = compileOne(processRule(selection));
    assert.equal(matches(rule, windowsEvent({ eventId: 1, data: { DestinationIp: '10.200.3.4' } })), true);
    assert.equal(matches(rule, windowsEvent({ eventId: 1, data: { DestinationIp: '192.168.2.1' } })), false);
    assert.equal(matches(rule, windowsEvent({ eventId: 1, data: { DestinationIp: 'not an ip' } })), false);
  });

  test('IPv6 ranges', () => {
    const selection = "    selection:\n        DestinationIp|cidr: 'fe80::/10'";
    assert.equal(check(selection, { DestinationIp: 'fe80::1c2a:3bff:fe4d:5e6f' }), true);
    assert.equal(check(selection, { DestinationIp: '2001:db8::1' }), false);
    assert.equal(check(selection, { DestinationIp: '10.0.0.1' }), false);
  });

  test('invalid range is rejected', () => {
    const result = compileTexts([processRule("    selection:\n        DestinationIp|cidr: '10.0.0.0/33'")]);
    assert.equal(result.errors[0]?.code, 'HOLTER_RULE_INVALID');
    assert.match(result.errors[0]?.message ?? '', /10\.0\.0\.0\/33/);
  });
});

describe('encodings', () => {
  test('base64 encodes the value', () => {
    const encoded = Buffer.from('http://evil').toString('base64');
    assert.equal(check("    selection:\n        CommandLine|base64|contains: 'http://evil'", { CommandLine: `x ${encoded} y` }), true);
  });

  test('base64offset finds every alignment', () => {
    const selection = "    selection:\n        CommandLine|base64offset|contains: 'Invoke-Mimikatz'";
    for (const prefix of ['', 'a', 'ab', 'abc', 'abcd']) {
      const encoded = Buffer.from(`${prefix}Invoke-Mimikatz -DumpCreds`).toString('base64');
      assert.equal(check(selection, { CommandLine: `powershell -enc ${encoded}` }), true, `prefix '${prefix}'`);
    }
    const other = Buffer.from('Invoke-Something').toString('base64');
    assert.equal(check(selection, { CommandLine: other }), false);
  });

  test('base64offset forms are stable', () => {
    const forms = base64Offsets(Buffer.from('abc'));
    // 'abc' after 0, 1 and 2 filler bytes encodes as YWJj, AGFiYw==, AABhYmM=; only the characters built from 'abc' alone stay.
    assert.deepEqual(forms, ['YWJj', 'FiY', 'hYm']);
  });

  test('wide base64offset matches UTF-16 commands', () => {
    const selection = "    selection:\n        CommandLine|wide|base64offset|contains: 'IEX'";
    const encoded = Buffer.from('x; IEX (New-Object)', 'utf16le').toString('base64');
    assert.equal(check(selection, { CommandLine: `powershell -enc ${encoded}` }), true);
    const utf8 = Buffer.from('x; IEX (New-Object)').toString('base64');
    assert.equal(check(selection, { CommandLine: `powershell -enc ${utf8}` }), false);
  });

  test('utf16 variants encode as written', () => {
    const le = Buffer.from('cmd', 'utf16le').toString('latin1');
    const be = Buffer.from('cmd', 'utf16le').swap16().toString('latin1');
    const bom = `\u00ff\u00fe${le}`;
    assert.equal(check("    selection:\n        Payload|utf16le|contains: 'cmd'", { Payload: `x${le}y` }), true);
    assert.equal(check("    selection:\n        Payload|utf16be|contains: 'cmd'", { Payload: `x${be}y` }), true);
    assert.equal(check("    selection:\n        Payload|utf16|contains: 'cmd'", { Payload: `x${bom}y` }), true);
    assert.equal(check("    selection:\n        Payload|utf16be|contains: 'cmd'", { Payload: `x${le}y` }), false);
  });

  test('encoding a wildcard is rejected', () => {
    const result = compileTexts([processRule("    selection:\n        CommandLine|base64: 'ab*'")]);
    assert.equal(result.errors[0]?.code, 'HOLTER_RULE_UNSUPPORTED');
  });
});

describe('numeric and field modifiers', () => {
  test('lt lte gt gte', () => {
    assert.equal(check('    selection:\n        Port|lt: 1024', { Port: 80 }), true);
    assert.equal(check('    selection:\n        Port|lt: 1024', { Port: '1024' }), false);
    assert.equal(check('    selection:\n        Port|lte: 1024', { Port: '1024' }), true);
    assert.equal(check('    selection:\n        Port|gt: 1024', { Port: 1025 }), true);
    assert.equal(check('    selection:\n        Port|gte: 1024', { Port: 1023 }), false);
    assert.equal(check('    selection:\n        Port|gte: 1024', { Port: 'high' }), false);
  });

  test('numeric modifier needs a number', () => {
    const result = compileTexts([processRule("    selection:\n        Port|gt: 'many'")]);
    assert.equal(result.errors[0]?.code, 'HOLTER_RULE_INVALID');
    assert.match(result.errors[0]?.message ?? '', /'many' is not a number/);
  });

  test('fieldref compares two fields', () => {
    assert.equal(check('    selection:\n        ParentUser|fieldref: User', { User: 'alice', ParentUser: 'ALICE' }), true);
    assert.equal(check('    selection:\n        ParentUser|fieldref: User', { User: 'alice', ParentUser: 'bob' }), false);
    assert.equal(check('    selection:\n        ParentUser|fieldref|neq: User', { User: 'alice', ParentUser: 'bob' }), true);
    assert.equal(check('    selection:\n        ParentUser|fieldref: User', { ParentUser: 'bob' }), false);
  });

  test('unknown modifier is rejected', () => {
    const result = compileTexts([processRule("    selection:\n        Image|sounds_like: 'cmd'")]);
    assert.equal(result.errors[0]?.code, 'HOLTER_RULE_INVALID');
    assert.match(result.errors[0]?.message ?? '', /Unknown modifier 'sounds_like'/);
  });
});

describe('keywords', () => {
  test('keywords search every string', () => {
    const rule = compileOne(`title: Keywords
logsource:
    product: windows
    service: system
detection:
    keywords:
        - 'event::clear'
        - 'lsadump'
    condition: keywords
`);
    const hit = windowsEvent({ eventId: 7045, channel: 'System', data: { ImagePath: 'C:\\x.exe LSADUMP::sam' } });
    const miss = windowsEvent({ eventId: 7045, channel: 'System', data: { ImagePath: 'C:\\x.exe' } });
    assert.equal(matches(rule, hit), true);
    assert.equal(matches(rule, miss), false);
  });

  test('keywords all needs every keyword', () => {
    const text = `title: Keywords all
logsource:
    product: windows
    service: system
detection:
    keywords:
        '|all':
            - 'OabVirtualDirectory'
            - ' -ExternalUrl '
    condition: keywords
`;
    const both = windowsEvent({ eventId: 1, channel: 'System', data: { Param: 'Set-OabVirtualDirectory -ExternalUrl http://x' } });
    const one = windowsEvent({ eventId: 1, channel: 'System', data: { Param: 'Set-OabVirtualDirectory' } });
    assert.equal(matches(compileOne(text), both), true);
    assert.equal(matches(compileOne(text), one), false);
  });
});

describe('field mapping', () => {
  test('Windows system fields map to winlog', () => {
    const rule = compileOne(processRule("    selection:\n        EventID: 1\n        Channel: 'Microsoft-Windows-Sysmon/Operational'\n        Computer: 'ws-001.example.org'\n        Provider_Name: 'Microsoft-Windows-Sysmon'"));
    assert.equal(matches(rule, processEvent({})), true);
  });

  test('Security 4688 reads NewProcessName as Image', () => {
    const rule = compileOne(processRule("    selection:\n        Image|endswith: '\\whoami.exe'"));
    const security = windowsEvent({ eventId: 4688, channel: 'Security', data: { NewProcessName: 'C:\\Windows\\System32\\whoami.exe' } });
    assert.equal(matches(rule, security), true);
  });

  /** A Windows Defender rule on SourceName, which the event log writes as `Source Name`. */
  const SPACED_FIELD_RULE = `title: Spaced
logsource:
    product: windows
    service: windefend
detection:
    selection:
        SourceName: 'Real-Time Protection'
    condition: selection
`;

  test('field names match keys with spaces', () => {
    const rule = compileOne(SPACED_FIELD_RULE);
    const event = windowsEvent({ eventId: 1119, channel: 'Microsoft-Windows-Windows Defender/Operational', data: { 'Source Name': 'Real-Time Protection' } });
    assert.equal(matches(rule, event), true);
  });

  test('keys with spaces across many events', () => {
    const rule = compileOne(SPACED_FIELD_RULE);
    const channel = 'Microsoft-Windows-Windows Defender/Operational';
    // More events than the recent-object cache holds, with the key spelt with spaces in two ways,
    // so that keys cached for one event would miss the field of the next.
    for (let index = 0; index < 12; index += 1) {
      const spaced = windowsEvent({ eventId: 1119, channel, data: { 'Source Name': 'Real-Time Protection', Index: index } });
      const respaced = windowsEvent({ eventId: 1119, channel, data: { 'Sour ce Na me': 'Real-Time Protection', Index: index } });
      const other = windowsEvent({ eventId: 1119, channel, data: { 'Source Name': 'Scan', Index: index } });
      assert.equal(matches(rule, spaced), true, `spaced ${index}`);
      assert.equal(matches(rule, respaced), true, `respaced ${index}`);
      assert.equal(matches(rule, other), false, `other ${index}`);
    }
  });

  test('log source restricts the events', () => {
    const rule = compileOne(processRule("    selection:\n        Image|endswith: '\\whoami.exe'"));
    const imageLoad = windowsEvent({ eventId: 7, data: { Image: 'C:\\Windows\\System32\\whoami.exe' } });
    assert.equal(matches(rule, imageLoad), false);
  });

  test('unmapped log source loads with a warning', () => {
    const result = compileTexts([`title: AWS rule
id: 00000000-0000-4000-8000-000000000009
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventName: ConsoleLogin
    condition: selection
`]);
    assert.deepEqual(result.errors, []);
    assert.equal(result.warnings.length, 1);
    assert.equal(result.warnings[0]?.kind, 'logsource_unmapped');
    assert.equal(result.stats.rules_unmapped_logsource, 1);
    assert.equal(result.stage.stats().rules_unmapped_logsource, 1);
  });
});
