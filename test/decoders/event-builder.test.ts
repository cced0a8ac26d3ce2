import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import { addRelatedIp, normaliseIp, setSourceAddress } from '../../src/decoders/event-builder.js';
import type { HolterEvent } from '../../src/event.js';

function emptyEvent(): HolterEvent {
  return {
    '@timestamp': '2025-01-15T07:30:00.000Z',
    event: { id: 'e-1', kind: 'event', category: [], type: ['info'], action: 'test', outcome: 'unknown', dataset: 'test.test', module: 'test' },
    holter: { source: { input: 'test', format: 'test' } },
  };
}

describe('normaliseIp', () => {
  it('accepts IPv4 and IPv6 addresses', () => {
    assert.equal(normaliseIp('10.21.1.54'), '10.21.1.54');
    assert.equal(normaliseIp(' 0.0.0.0 '), '0.0.0.0');
    assert.equal(normaliseIp('255.255.255.255'), '255.255.255.255');
    assert.equal(normaliseIp('2001:db8::1'), '2001:db8::1');
    assert.equal(normaliseIp('[2001:db8::1]'), '2001:db8::1');
    assert.equal(normaliseIp('fe80::1%eth0'), 'fe80::1%eth0');
  });

  it('reduces IPv4-mapped IPv6 to IPv4', () => {
    assert.equal(normaliseIp('::ffff:10.0.0.7'), '10.0.0.7');
    assert.equal(normaliseIp('::FFFF:10.0.0.7'), '10.0.0.7');
  });

  it('rejects host names and malformed IPv4', () => {
    const rejected = ['ehr.example.org', 'localhost', '-', '', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.04', '1..3.4', '1.2.3.4.', '1.2.3.4\n5', '１.2.3.4'];
    for (const text of rejected) assert.equal(normaliseIp(text), undefined, JSON.stringify(text));
    assert.equal(normaliseIp(42), undefined);
  });

  it('agrees with isIP on texts without a colon', () => {
    const parts = ['0', '00', '1', '9', '10', '99', '100', '199', '200', '249', '250', '255', '256', '300', '999', '1000', '', 'a', ' 1', '1 '];
    let checked = 0;
    for (const a of parts) {
      for (const b of ['1', '255', '01', '']) {
        for (const separator of ['.', ',', '..']) {
          const text = [a, b, '2', a].join(separator);
          const trimmed = text.trim();
          assert.equal(normaliseIp(text), isIP(trimmed) === 4 ? trimmed : undefined, JSON.stringify(text));
          checked++;
        }
      }
    }
    assert.equal(checked, parts.length * 12);
  });
});

describe('setSourceAddress', () => {
  it('sets source.ip and related.ip once', () => {
    const event = emptyEvent();
    setSourceAddress(event, ' 10.0.0.7 ');
    addRelatedIp(event, '10.0.0.7');
    addRelatedIp(event, '::ffff:10.0.0.7');
    assert.deepEqual(event.source, { ip: '10.0.0.7' });
    assert.deepEqual(event.related, { ip: ['10.0.0.7'] });
  });

  it('sets source.domain for a host name', () => {
    const event = emptyEvent();
    setSourceAddress(event, 'pacs01.example.org');
    assert.deepEqual(event.source, { domain: 'pacs01.example.org' });
    assert.equal(event.related, undefined);
  });
});
