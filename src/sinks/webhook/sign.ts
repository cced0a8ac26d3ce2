import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header names of a signed webhook request. */
export const TIMESTAMP_HEADER = 'x-holter-timestamp';
export const SIGNATURE_HEADER = 'x-holter-signature';

/**
 * Signs a webhook body: HMAC-SHA256 over `<unix seconds>.<body>`, hex, sent as `v1=<hex>`. Covering
 * the time stamp lets a receiver reject replays older than its tolerance.
 */
export function signPayload(secret: string, timestampSeconds: number, body: string): string {
  const digest = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `v1=${digest}`;
}

/**
 * Verifies a signature as a receiver would: the signature matches and the time stamp is within
 * `toleranceSeconds` of `nowSeconds`. Returns a named reason for a rejection.
 */
export function verifySignature(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): 'valid' | 'missing_headers' | 'stale_timestamp' | 'bad_signature' {
  if (headers.timestamp === undefined || headers.signature === undefined) return 'missing_headers';
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return 'stale_timestamp';

  const expected = Buffer.from(signPayload(secret, timestamp, body));
  const given = Buffer.from(headers.signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'bad_signature';
  return 'valid';
}
