import { compileFieldPath } from '../../event.js';
import type { FieldReader, HolterEvent } from '../../event.js';
import type { WhereClause } from './schema.js';

/** Decides whether an event counts for a detector. */
export type EventFilter = (event: HolterEvent) => boolean;

type Scalar = string | number | boolean;

/**
 * Compiles a `where` clause. Every condition must hold:
 * - `field: value` or `field: [values]`: the field equals one of the values. Strings compare
 *   case-insensitively; numbers and booleans compare by type and value, so `"5"` does not equal 5.
 *   When the field is an array (`event.category`), one of its elements must match.
 * - `exists: [fields]`: each field is present and neither null nor an empty string.
 */
export function compileWhere(where: WhereClause | undefined): EventFilter {
  if (where === undefined) return () => true;

  const exists = (where.exists ?? []).map((field) => compileFieldPath(field));
  const equals: Array<{ read: FieldReader; values: Set<Scalar> }> = [];
  for (const [field, expected] of Object.entries(where)) {
    if (field === 'exists') continue;
    const list = (Array.isArray(expected) ? expected : [expected]) as Scalar[];
    equals.push({ read: compileFieldPath(field), values: new Set(list.map(normalise)) });
  }

  return (event: HolterEvent): boolean => {
    for (const read of exists) {
      const value = read(event);
      if (value === undefined || value === null || value === '') return false;
    }
    for (const condition of equals) {
      if (!matchesAny(condition.read(event), condition.values)) return false;
    }
    return true;
  };
}

function matchesAny(value: unknown, expected: Set<Scalar>): boolean {
  if (Array.isArray(value)) {
    // A loop rather than Array.some: every detector runs this on every event, and a callback
    // would allocate a closure per call.
    for (const item of value) {
      if (matchesAny(item, expected)) return true;
    }
    return false;
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return expected.has(normalise(value));
  }
  return false;
}

function normalise(value: Scalar): Scalar {
  return typeof value === 'string' ? lowerCase(value) : value;
}

/**
 * Returns `text.toLowerCase()`, but returns `text` itself when it is ASCII without capitals, because
 * toLowerCase builds a new string on every call in Node 20 even when nothing changes, and most
 * event values are already lower case.
 */
function lowerCase(text: string): string {
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if ((code >= 65 && code <= 90) || code > 127) return text.toLowerCase();
  }
  return text;
}
