import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HolterError } from '../../src/errors.js';
import { createPatientTokenizer, resolveTokenKey } from '../../src/enrich/index.js';
import { writeTempFile } from './files.js';

const KEY_A = 'a'.repeat(32);
const KEY_B = 'b'.repeat(32);

describe('patient tokens', () => {
  it('are stable for one key', () => {
    assert.equal(createPatientTokenizer(KEY_A)('PAT-0001'), createPatientTokenizer(Buffer.from(KEY_A))('PAT-0001'));
  });

  it('differ across keys and ids', () => {
    const tokenA = createPatientTokenizer(KEY_A)('PAT-0001');
    assert.notEqual(tokenA, createPatientTokenizer(KEY_B)('PAT-0001'));
    assert.notEqual(tokenA, createPatientTokenizer(KEY_A)('PAT-0002'));
  });

  it('have the documented form', () => {
    const token = createPatientTokenizer(KEY_A)('PAT-0001');
    assert.match(token, /^pt_[0-9a-f]{32}$/);
    assert.ok(!token.includes('PAT-0001'));
  });

  it('match HMAC-SHA256 truncated to 32 hex digits', async () => {
    const { createHmac } = await import('node:crypto');
    const expected = createHmac('sha256', KEY_A).update('PAT-0001').digest('hex').slice(0, 32);
    assert.equal(createPatientTokenizer(KEY_A)('PAT-0001'), `pt_${expected}`);
  });

  it('match HMAC-SHA256 for long keys and ids', async () => {
    const { createHmac } = await import('node:crypto');
    const keys = [KEY_A, 'k'.repeat(64), 'k'.repeat(65), '\u00e9'.repeat(100)];
    // Ids around the tokenizer's 1024-byte reuse limit, in one-, two- and three-byte UTF-8 characters.
    const ids = ['x', 'x'.repeat(1024), 'x'.repeat(1025), '\u00fc'.repeat(512), '\u00fc'.repeat(513), '\u20ac'.repeat(341), '\u20ac'.repeat(342), 'PAT-0001'];
    for (const key of keys) {
      const tokenize = createPatientTokenizer(key);
      for (const id of ids) {
        const expected = createHmac('sha256', key).update(id).digest('hex').slice(0, 32);
        assert.equal(tokenize(id), `pt_${expected}`, `key of ${key.length} characters, id of ${id.length} characters`);
      }
    }
  });

  it('match HMAC-SHA256 for many ids', async () => {
    const { createHmac } = await import('node:crypto');
    const tokenize = createPatientTokenizer(KEY_A);
    // 2,000 inner digests cover every byte value many times over, so each passes between the two hashes unchanged.
    for (let index = 0; index < 2_000; index++) {
      const id = `MRN${String(index).padStart(8, '0')}`;
      const expected = createHmac('sha256', KEY_A).update(id).digest('hex').slice(0, 32);
      assert.equal(tokenize(id), `pt_${expected}`, id);
    }
  });

  it('ignore surrounding white space but keep case', () => {
    const tokenize = createPatientTokenizer(KEY_A);
    assert.equal(tokenize(' abc '), tokenize('abc'));
    assert.notEqual(tokenize('ABC'), tokenize('abc'));
  });

  it('reject a short key without echoing it', () => {
    assert.throws(() => createPatientTokenizer('short-secret'), (error: unknown) => {
      assert.ok(error instanceof HolterError);
      assert.equal(error.code, 'HOLTER_CONFIG_INVALID');
      assert.ok(!error.message.includes('short-secret'));
      assert.match(error.message, /12 bytes/);
      return true;
    });
  });
});

describe('resolveTokenKey', () => {
  it('reads a key file without its line break', () => {
    const file = writeTempFile('token.key', `${KEY_A}\n`);
    const key = resolveTokenKey({ file });
    assert.equal(key.configured, true);
    assert.equal(key.key.toString('utf8'), KEY_A);
  });

  it('uses a configured value', () => {
    assert.equal(resolveTokenKey({ value: KEY_B }).key.toString('utf8'), KEY_B);
  });

  it('makes a random unconfigured key', () => {
    const first = resolveTokenKey();
    const second = resolveTokenKey();
    assert.equal(first.configured, false);
    assert.equal(first.key.length, 32);
    assert.notDeepEqual(first.key, second.key);
  });

  it('rejects both value and file', () => {
    assert.throws(() => resolveTokenKey({ value: KEY_A, file: '/tmp/x' }), /set only one/);
  });

  it('rejects an unreadable key file', () => {
    assert.throws(() => resolveTokenKey({ file: '/nonexistent/holter.key' }), /ENOENT/);
  });
});
