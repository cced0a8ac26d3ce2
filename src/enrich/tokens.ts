import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HolterError } from '../errors.js';

/**
 * Patient tokens: `pt_` + the first 32 hex digits (128 bits) of HMAC-SHA256(key, patient id).
 * The same key always gives the same token, so a token can be searched across alerts. Only a
 * holder of the key can test a guessed identifier against a token.
 */

export const TOKEN_PREFIX = 'pt_';
export const TOKEN_HEX_LENGTH = 32;

/** Keys shorter than this are rejected: a short HMAC key lets anyone holding tokens guess the key. */
export const MIN_KEY_BYTES = 16;

export interface TokenKey {
  key: Buffer;
  /**
   * False when no key was configured and a random per-run key was made. Tokens then differ
   * between runs; the caller should warn about that.
   */
  configured: boolean;
}

/** Source of the key in configuration: the value itself, or a file that contains it. */
export interface TokenKeySource {
  value?: string;
  file?: string;
}

/**
 * Resolves the token key from configuration. A key file's trailing line break is ignored. With
 * neither value nor file, returns a random 32-byte key with `configured: false`.
 */
export function resolveTokenKey(source: TokenKeySource = {}): TokenKey {
  if (source.value !== undefined && source.file !== undefined) {
    throw new HolterError('HOLTER_CONFIG_INVALID', 'patient token key is set both as a value and as a file; set only one', {
      path: 'patient_token.key',
    });
  }

  if (source.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(source.file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'read failed';
      throw new HolterError('HOLTER_CONFIG_INVALID', `cannot read patient token key file ${source.file} (${reason}); check the path`, {
        path: 'patient_token.key_file',
        cause: error,
      });
    }
    return { key: checkKey(text.replace(/\r?\n$/, ''), 'patient_token.key_file'), configured: true };
  }

  if (source.value !== undefined) return { key: checkKey(source.value, 'patient_token.key'), configured: true };

  return { key: randomBytes(32), configured: false };
}

function checkKey(text: string | Buffer, keyPath: string): Buffer {
  const key = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  if (key.length < MIN_KEY_BYTES) {
    // The message gives the length only: the key itself is a secret.
    throw new HolterError(
      'HOLTER_CONFIG_INVALID',
      `patient token key is ${key.length} bytes long; use at least ${MIN_KEY_BYTES} random bytes (e.g. the output of openssl rand -hex 32)`,
      { path: keyPath },
    );
  }
  return key;
}

export type PatientTokenizer = (patientId: string) => string;

/**
 * Creates the token function for a key (a string key is used as its UTF-8 bytes). Identifiers
 * are trimmed before hashing, so ` 123` and `123` give one token. Case is kept because FHIR ids
 * are case-sensitive. Throws HOLTER_CONFIG_INVALID for a key shorter than MIN_KEY_BYTES.
 */
export function createPatientTokenizer(key: Buffer | string): PatientTokenizer {
  const ownKey = typeof key === 'string' ? checkKey(key, 'patient_token.key') : checkKey(Buffer.from(key), 'patient_token.key');
  return (patientId: string): string => {
    const digest = createHmac('sha256', ownKey).update(patientId.trim(), 'utf8').digest('hex');
    return TOKEN_PREFIX + digest.slice(0, TOKEN_HEX_LENGTH);
  };
}

/**
 * Returns a value that identifies a key without revealing it: the token of a fixed probe string.
 * It detects a roster tokenised with one key used by an enricher with another.
 */
export function keyFingerprint(tokenizer: PatientTokenizer): string {
  return tokenizer('holter-key-fingerprint');
}
