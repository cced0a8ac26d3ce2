import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { HolterEvent } from '../../../src/event.js';
import { MatchScope } from '../../../src/detect/sigma/scope.js';

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
