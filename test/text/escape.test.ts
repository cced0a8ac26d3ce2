import assert from 'node:assert/strict';
import { test } from 'node:test';

import { escapeForTerminal } from '../../src/text/escape.js';

test('escape makes C0 controls visible', () => {
  assert.equal(escapeForTerminal('evil\u001b[2J\u001b[31mRED\u001b[0m'), 'evil\\x1b[2J\\x1b[31mRED\\x1b[0m');
  assert.equal(escapeForTerminal('a\u0000b\u0007c\rd\ne'), 'a\\x00b\\x07c\\x0dd\\x0ae');
});

test('escape makes DEL and C1 controls visible', () => {
  assert.equal(escapeForTerminal('a\u007fb'), 'a\\x7fb');
  // U+009B is the one-byte control sequence introducer that some terminals still obey.
  assert.equal(escapeForTerminal('a\u009b2Jb\u0080c\u009fd'), 'a\\x9b2Jb\\x80c\\x9fd');
});

test('escape makes bidirectional controls visible', () => {
  const controls = ['\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069'];
  for (const control of controls) {
    const code = control.charCodeAt(0).toString(16).padStart(4, '0');
    assert.equal(escapeForTerminal(`X${control}Y`), `X\\u${code}Y`);
  }
});

test('escape keeps tab only on request', () => {
  assert.equal(escapeForTerminal('a\tb'), 'a\\x09b');
  assert.equal(escapeForTerminal('a\tb', { keepTab: true }), 'a\tb');
  assert.equal(escapeForTerminal('a\t\u001bb', { keepTab: true }), 'a\t\\x1bb');
});

test('escape keeps ordinary text', () => {
  const text = 'CARDIO\\jdoe ü ß 心電図 🫀 \u00a0 \u200d — "quoted" C:\\temp';
  assert.equal(escapeForTerminal(text), text);
});
