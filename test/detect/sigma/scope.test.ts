import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { HolterEvent } from '../../../src/event.js';
import { pathAccessor } from '../../../src/detect/sigma/fields.js';
import { forEachKeywordString, MatchScope } from '../../../src/detect/sigma/scope.js';

test('keyword strings skip bookkeeping fields', () => {
  const event = {
    '@timestamp': '2026-12-01T10:00:00.000Z',
    event: { id: 'evt-1', ingested: '2026-12-01T10:00:01.000Z', action: 'Mimikatz', code: 4688, category: ['process'] },
    holter: { source: { input: 'audit.log' } },
    process: { command_line: 'cmd.exe /c whoami', parent: { name: 'Explorer.EXE' } },
    tags: ['lab'],
  } as unknown as HolterEvent;

  const strings = new MatchScope(event).keywordStrings();

  assert.deepEqual(
    strings.map((entry) => entry.value),
    ['Mimikatz', '4688', 'process', 'cmd.exe /c whoami', 'Explorer.EXE', 'lab'],
  );
  assert.deepEqual(
    strings.map((entry) => entry.lower),
    ['mimikatz', '4688', 'process', 'cmd.exe /c whoami', 'explorer.exe', 'lab'],
  );
});

test('scopes alive together keep their values', () => {
  const accessor = pathAccessor('process.command_line');
  const first = new MatchScope({ process: { command_line: 'First.exe' } } as unknown as HolterEvent);
  const second = new MatchScope({ process: { command_line: 'second.exe' } } as unknown as HolterEvent);

  assert.equal(first.fieldEntries(accessor)?.[0]?.lower, 'first.exe');
  assert.equal(second.fieldEntries(accessor)?.[0]?.value, 'second.exe');
  assert.equal(first.fieldEntries(accessor)?.[0]?.value, 'First.exe');
  assert.equal(new MatchScope({} as HolterEvent).fieldEntries(accessor), undefined);
});

test('number keyword strings keep their case', () => {
  const event = { event: { id: 'x' }, measure: { ratio: Number.POSITIVE_INFINITY, count: 12 } } as unknown as HolterEvent;
  const visited: string[] = [];
  forEachKeywordString(event, (text, number) => visited.push(`${text}:${number}`));

  assert.deepEqual(visited, ['Infinity:true', '12:true']);
  assert.deepEqual(
    new MatchScope(event).keywordStrings().map((entry) => entry.lower),
    ['Infinity', '12'],
  );
});
