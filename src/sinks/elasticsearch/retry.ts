import { errors } from '@elastic/elasticsearch';

/** Exponential backoff with jitter: a delay between half and all of `initial * 2^(attempt-1)`, capped. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** HTTP statuses of a whole request or a bulk item that a later attempt can fix. */
export function isRetriableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * Classifies an error thrown by the Elasticsearch client. Connection failures, timeouts and
 * 429/5xx responses are retriable. Anything else (401, 403, 404, bad request, unknown errors) is not.
 */
export function isRetriableRequestError(error: unknown): boolean {
  if (error instanceof errors.ResponseError) return isRetriableStatus(error.statusCode ?? 0);
  return error instanceof errors.ConnectionError || error instanceof errors.TimeoutError || error instanceof errors.NoLivingConnectionsError;
}

/** Describes a request failure in at most about 200 characters, without the response body. */
export function describeRequestError(error: unknown): string {
  if (error instanceof errors.ResponseError) return `HTTP ${String(error.statusCode)} ${error.message.slice(0, 200)}`;
  if (error instanceof Error) return `${error.name}: ${error.message.slice(0, 200)}`;
  return String(error);
}

/** Decides which attempts of a long retry are logged: the 1st, 2nd, 4th, 8th..., so an outage logs a few lines an hour. */
export function shouldLogAttempt(attempt: number): boolean {
  return (attempt & (attempt - 1)) === 0;
}
