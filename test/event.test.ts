import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getField, setField } from '../src/event.js';

test('getField walks nested objects', () => {
  const event = { winlog: { event_data: { Image: 'C:\\cmd.exe' } }, user: { name: 'jdoe' } };
  assert.equal(getField(event, 'winlog.event_data.Image'), 'C:\\cmd.exe');
  assert.equal(getField(event, 'user.name'), 'jdoe');
  assert.deepEqual(getField(event, 'user'), { name: 'jdoe' });
  assert.equal(getField(event, 'user.id'), undefined);
  assert.equal(getField(event, 'nothing.here'), undefined);
});

test('getField finds literal dotted keys', () => {
  const event = { 'event.outcome': 'failure', a: { 'b.c': { d: 1 } }, x: { y: null } };
  assert.equal(getField(event, 'event.outcome'), 'failure');
  assert.equal(getField(event, 'a.b.c.d'), 1);
  assert.equal(getField(event, 'x.y'), null);
  assert.equal(getField(event, 'x.y.z'), undefined);
});

test('getField on non-objects is undefined', () => {
  assert.equal(getField(null, 'a'), undefined);
  assert.equal(getField('text', 'length'), undefined);
  assert.equal(getField({ a: 'text' }, 'a.length'), undefined);
});

test('setField creates intermediate objects', () => {
  const event: Record<string, unknown> = { a: 'scalar' };
  setField(event, 'a.b.c', 1);
  setField(event, 'x.y', true);
  assert.deepEqual(event, { a: { b: { c: 1 } }, x: { y: true } });
});
