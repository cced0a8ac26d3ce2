import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { HolterEvent } from '../../../src/event.js';
import { pathAccessor } from '../../../src/detect/sigma/fields.js';
import { forEachKeywordString, MatchScope, valueStrings } from '../../../src/detect/sigma/scope.js';

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

test('scope reads paths as accessors do', () => {
  const paths = ['winlog.event_data.Image', 'winlog.event_data.SourceName', 'winlog.event_data.Hashes', 'dns.answers.data', 'a.b.c.d'];
  const events = [
    { winlog: { event_data: { Image: 'C:\\cmd.exe', 'Source Name': 'Service Control Manager', Hashes: ['MD5=1', 'SHA1=2'] } } },
    // A flat key with dots, an array on the way and a present key whose value is undefined.
    { winlog: { 'event_data.Image': 'flat.exe', event_data: undefined }, dns: { answers: [{ data: '10.0.0.1' }, { data: ['10.0.0.2', 3] }] } },
    { winlog: { event_data: null }, a: { b: [{ c: { d: 'one' } }, { c: { d: 'two' } }] } },
    { winlog: 'text', a: { 'b.c.d': 'flat' } },
    { winlog: [{ event_data: { Image: 'in array.exe' } }] },
    {},
  ];
  for (const event of events) {
    for (const path of paths) {
      const accessor = pathAccessor(path);
      const direct = valueStrings(accessor(event));
      const scoped = new MatchScope(event as unknown as HolterEvent).fieldEntries(accessor)?.map((entry) => entry.value);
      assert.deepEqual(scoped, direct, `${path} of ${JSON.stringify(event)}`);
    }
  }
});

test('scopes of one event object see its changes', () => {
  const image = pathAccessor('winlog.event_data.Image');
  const user = pathAccessor('winlog.event_data.User');
  const event = { winlog: { event_data: { Image: 'first.exe', User: 'alice' } } } as unknown as HolterEvent & { winlog: { event_data: unknown } };
  const first = new MatchScope(event);
  assert.equal(first.fieldEntries(image)?.[0]?.value, 'first.exe');

  event.winlog.event_data = { Image: 'second.exe', User: 'bob' };
  const second = new MatchScope(event);
  assert.equal(second.fieldEntries(user)?.[0]?.value, 'bob');
  assert.equal(second.fieldEntries(image)?.[0]?.value, 'second.exe');
});

test('scopes of two events read their own parents', () => {
  const image = pathAccessor('winlog.event_data.Image');
  const user = pathAccessor('winlog.event_data.User');
  const one = new MatchScope({ winlog: { event_data: { Image: 'one.exe', User: 'alice' } } } as unknown as HolterEvent);
  const two = new MatchScope({ winlog: { event_data: { Image: 'two.exe' } } } as unknown as HolterEvent);
  assert.equal(one.fieldEntries(image)?.[0]?.value, 'one.exe');
  assert.equal(two.fieldEntries(image)?.[0]?.value, 'two.exe');
  assert.equal(one.fieldEntries(user)?.[0]?.value, 'alice');
  assert.equal(two.fieldEntries(user), undefined);
});
