/**
 * The user name and password part (`user:password@`) of a URL with a scheme. The part runs up to
 * the last `@` before the path, query or fragment, as in the WHATWG URL parser, so a password
 * that contains `@` is matched whole.
 */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi;

/**
 * Replaces the user name and password of every URL in `text` with `***`, so that a URL can be
 * shown in an error message, a log line or a reason stored in the outbox.
 */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1***@');
}

/** True when `url` contains a user name or password, such as `http://pager:password@host/`. */
export function hasUrlCredentials(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return redactUrlCredentials(url) !== url;
  }
}

/**
 * Advice for a webhook URL with credentials. fetch rejects such a URL (Node.js 20), so the
 * page could never be sent, and the password would show wherever the URL is printed.
 */
export const URL_CREDENTIALS_ADVICE =
  'It contains a user name or password, but fetch rejects such a URL and the password would appear in logs. ' +
  'Remove them from the URL and authenticate with the signing secret instead (sinks.webhook.secret_file or HOLTER_WEBHOOK_SECRET), which the receiver checks in X-Holter-Signature.';
