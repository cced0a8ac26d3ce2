import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDecodeError } from '../../src/decoders/decode-error.js';
import { attr, parseXml } from '../../src/decoders/xml.js';

/** Returns the DecodeError message parseXml throws for a text, or fails when it parses. */
function parseError(text: string, options: { keepWhitespace?: boolean } = {}): string {
  try {
    parseXml(text, options);
  } catch (error) {
    assert.ok(isDecodeError(error), `expected a DecodeError, got ${String(error)}`);
    assert.equal(error.reason, 'invalid_xml');
    return error.message;
  }
  assert.fail('the text parsed');
}

describe('parseXml shape', () => {
  it('puts attributes under @_ and text under #text', () => {
    const document = parseXml('<?xml version="1.0"?><Root a="1"><Leaf>text</Leaf><Coded code="x">value</Coded><Empty/></Root>');
    assert.deepEqual(document, { Root: { '@_a': '1', Leaf: 'text', Coded: { '@_code': 'x', '#text': 'value' }, Empty: '' } });
  });

  it('turns repeated elements into arrays', () => {
    const document = parseXml('<Root><Item n="1"/><Other/><Item n="2"/><Item>3</Item></Root>');
    assert.deepEqual(document, { Root: { Item: [{ '@_n': '1' }, { '@_n': '2' }, '3'], Other: '' } });
  });

  it('removes namespace prefixes and xmlns declarations', () => {
    const document = parseXml('<f:AuditEvent xmlns="urn:a" xmlns:f="urn:f" xmlns:xsi="urn:x"><f:id xsi:type="t" value="7"/></f:AuditEvent>');
    assert.deepEqual(document, { AuditEvent: { id: { '@_type': 't', '@_value': '7' } } });
  });

  it('decodes entities, character references and CDATA', () => {
    const document = parseXml('<Root v="a&amp;b &#65;&#x42;">&lt;x&gt; &quot;q&apos; <![CDATA[<raw>&amp;]]></Root>');
    assert.deepEqual(document, { Root: { '@_v': 'a&b AB', '#text': '<x> "q\' <raw>&amp;' } });
  });

  it('skips comments and processing instructions', () => {
    const document = parseXml('<?xml version="1.0"?><!-- before --><Root><?pi data?><!-- inside --><Leaf>x</Leaf></Root>');
    assert.deepEqual(document, { Root: { Leaf: 'x' } });
  });

  it('trims text unless whitespace is kept', () => {
    const text = '<Event>\n  <Data Name="a"> padded </Data>\n</Event>';
    assert.deepEqual(parseXml(text), { Event: { Data: { '@_Name': 'a', '#text': 'padded' } } });
    assert.deepEqual(parseXml(text, { keepWhitespace: true }), {
      Event: { '#text': '\n  \n', Data: { '@_Name': 'a', '#text': ' padded ' } },
    });
  });

  it('keeps element names of Object.prototype as plain keys', () => {
    const document = parseXml('<Root><constructor>a</constructor><__proto__>b</__proto__><toString>c</toString><toString>d</toString></Root>');
    const root = document.Root as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(root), Object.prototype);
    assert.equal(root.constructor, 'a');
    assert.equal(Object.getOwnPropertyDescriptor(root, '__proto__')?.value, 'b');
    assert.deepEqual(root.toString, ['c', 'd']);
  });

  it('keeps attribute order, last twin wins', () => {
    const document = parseXml('<Root b="2" a="1" x:c="3" y:c="4" xmlns:x="urn:x" xmlns:y="urn:y"><Leaf z="9" xmlns="urn:d"/><Bare xmlns="urn:d"/></Root>');
    const root = document.Root as Record<string, unknown>;
    assert.deepEqual(Object.keys(root), ['@_b', '@_a', '@_c', 'Leaf', 'Bare']);
    assert.equal(root['@_c'], '4');
    assert.deepEqual(root.Leaf, { '@_z': '9' });
    assert.equal(root.Bare, '');
  });

  it('gives attributes to their own element', () => {
    const document = parseXml('<Root r="0"><A a="1"><B/><C c="3">t</C></A><D/></Root>');
    assert.deepEqual(document, { Root: { '@_r': '0', A: { '@_a': '1', B: '', C: { '@_c': '3', '#text': 't' } }, D: '' } });
  });

  it('parses attributes after a duplicate-attribute failure', () => {
    parseError('<Root><Item a="1" b="2" a="3"/></Root>');
    assert.deepEqual(parseXml('<Root><Item c="4"/></Root>'), { Root: { Item: { '@_c': '4' } } });
  });

  it('parses again after a failed document', () => {
    parseError('<Root><Open></Root>');
    assert.deepEqual(parseXml('<Root>ok</Root>'), { Root: 'ok' });
  });
});

describe('parseXml errors', () => {
  it('rejects a mismatched close tag with its position', () => {
    assert.match(parseError('<Root>\n  <Open></Root>'), /line 2, column \d+: unexpected close tag/);
  });

  it('rejects an unclosed element', () => {
    assert.match(parseError('<Root><Open>'), /unclosed tag: Open/);
  });

  it('rejects duplicate attributes and undefined entities', () => {
    assert.match(parseError('<Root a="1" a="2"/>'), /duplicate attribute: a/);
    assert.match(parseError('<Root>&nbsp;</Root>'), /undefined entity/);
  });

  it('rejects an empty document and trailing text', () => {
    assert.match(parseError(''), /root element/);
    assert.match(parseError('<Root/>tail'), /text data outside of root node/);
  });

  it('rejects a DOCTYPE in any case and position', () => {
    for (const text of ['<!DOCTYPE r><r/>', '<!doctype r><r/>', '<!DOCTYPE r [<!ENTITY e "x">', `<!-- ${'c'.repeat(5000)} --><!DOCTYPE r><r/>`]) {
      assert.match(parseError(text), /DOCTYPE/, text.slice(0, 30));
    }
  });
});

describe('attr', () => {
  it('reads string attributes only', () => {
    const root = parseXml('<Root EventDateTime="2025-01-15T07:30:00Z" empty=""><Child/></Root>').Root;
    assert.equal(attr(root, 'EventDateTime'), '2025-01-15T07:30:00Z');
    assert.equal(attr(root, 'empty'), '');
    assert.equal(attr(root, 'missing'), undefined);
    assert.equal(attr({ '@_n': 7 }, 'n'), undefined);
    assert.equal(attr('text', 'EventDateTime'), undefined);
    assert.equal(attr(undefined, 'EventDateTime'), undefined);
  });
});
