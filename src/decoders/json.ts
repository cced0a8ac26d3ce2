/** Small readers for parsed JSON (and XML converted to the same shape). */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function asObject(value: unknown): JsonObject | undefined {
  return isObject(value) ? value : undefined;
}

/** Returns arrays as they are, a single value as a one-element array, absent as empty. */
export function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Returns objects of a value that may be one object or an array of them. An array whose items
 * are all objects is returned itself, not copied, so callers must not modify the result.
 */
export function objectsOf(value: unknown): JsonObject[] {
  if (Array.isArray(value)) {
    for (const item of value) if (!isObject(item)) return value.filter(isObject);
    return value as JsonObject[];
  }
  return isObject(value) ? [value] : [];
}

/** Returns strings as they are and finite numbers as decimal text; anything else is undefined. */
export function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Returns a non-empty string, or undefined. */
export function nonEmpty(value: unknown): string | undefined {
  const text = asString(value);
  return text === undefined || text === '' ? undefined : text;
}

/** Returns an integer from a number or a decimal string, or undefined. */
export function asInteger(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) ? number : undefined;
}

/** Names the shape of a parsed value without its content, for dead-letter messages. */
export function describeShape(value: unknown): string {
  if (Array.isArray(value)) return `a JSON array of ${value.length} items`;
  if (isObject(value)) {
    const keys = Object.keys(value);
    const shown = keys.slice(0, 8).map((key) => (key.length > 40 ? `${key.slice(0, 40)}...` : key)).join(', ');
    const more = keys.length > 8 ? ` and ${keys.length - 8} more` : '';
    return keys.length === 0 ? 'an empty JSON object' : `a JSON object with keys ${shown}${more}`;
  }
  return `a JSON ${value === null ? 'null' : typeof value}`;
}

/**
 * Returns the object without its undefined properties, so events carry no empty keys: the
 * object itself when none is undefined, else a copy. Copying instead of deleting keeps V8's
 * fast object layout, which `delete` gives up for a slower dictionary mode.
 */
export function compact<T extends Record<string, unknown>>(object: T): T {
  let complete = true;
  for (const key in object) {
    if (object[key] === undefined) {
      complete = false;
      break;
    }
  }
  if (complete) return object;

  const result: Record<string, unknown> = {};
  for (const key in object) {
    const value = object[key];
    if (value !== undefined) result[key] = value;
  }
  return result as T;
}
