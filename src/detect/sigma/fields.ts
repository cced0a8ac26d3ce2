/**
 * Reading event fields by precomputed path. A Sigma field may resolve to several candidate
 * paths, for example `Image` on Sysmon and on Security 4688 events. The first candidate
 * present in the event is used.
 */
export type FieldAccessor = (event: unknown) => unknown;

/** Builds an accessor for one dotted path, split once here rather than per event. */
export function pathAccessor(path: string): FieldAccessor {
  const parts = path.split('.');
  if (parts.length === 1) {
    return (event) => (event !== null && typeof event === 'object' ? (event as Record<string, unknown>)[path] : undefined);
  }
  const steps: PathSteps = { parts, rests: parts.map((_, index) => parts.slice(index).join('.')) };
  return (event) => readPath(event, steps, 0);
}

/** A dotted path split into keys, and per key the rest of the path from it joined again, built once. */
interface PathSteps {
  parts: string[];
  rests: string[];
}

/**
 * Walks the parts. Where a step is missing, it tries the rest of the path as one literal
 * key, because flat ECS documents write `"event.outcome"` as a single key.
 */
function readPath(value: unknown, steps: PathSteps, start: number): unknown {
  const parts = steps.parts;
  let current = value;
  for (let index = start; index < parts.length; index++) {
    if (current === null || typeof current !== 'object') return undefined;
    if (Array.isArray(current)) return readFromElements(current, steps, index);
    const record = current as Record<string, unknown>;
    const key = parts[index] as string;
    // A present key takes one lookup. `in` runs only to tell an absent key from one set to undefined.
    const next = record[key];
    if (next !== undefined || key in record) {
      current = next;
      continue;
    }
    if (index < parts.length - 1) {
      const rest = steps.rests[index] as string;
      return rest in record ? record[rest] : undefined;
    }
    const spaced = keysWithoutSpaces(record).get(key);
    return spaced === undefined ? undefined : record[spaced];
  }
  return current;
}

/** The result for the many objects with no key that contains a space. */
const NO_SPACED_KEYS: ReadonlyMap<string, string> = new Map();
/**
 * The last objects looked at and their keys. A rule set reads many absent fields of the same few
 * objects of one event (its root and `winlog.event_data`) in a row, so a few entries hit nearly
 * always. Most objects have no key with a space, and they share one empty map.
 */
const RECENT_OBJECTS = 4;
const recentRecords: object[] = [];
const recentKeys: ReadonlyMap<string, string>[] = [];
let nextRecent = 0;

/**
 * Keys that contain spaces, by their spelling without spaces. Sigma writes event log field
 * names with spaces removed (`Source Name` becomes `SourceName`, Sigma rules specification
 * 2.1, "Field Usage").
 */
function keysWithoutSpaces(record: Record<string, unknown>): ReadonlyMap<string, string> {
  const recent = recentRecords.indexOf(record);
  if (recent >= 0) return recentKeys[recent] as ReadonlyMap<string, string>;

  let keys: Map<string, string> | undefined;
  for (const key in record) {
    if (!Object.prototype.hasOwnProperty.call(record, key) || !key.includes(' ')) continue;
    (keys ??= new Map()).set(key.replaceAll(' ', ''), key);
  }
  recentRecords[nextRecent] = record;
  recentKeys[nextRecent] = keys ?? NO_SPACED_KEYS;
  nextRecent = (nextRecent + 1) % RECENT_OBJECTS;
  return keys ?? NO_SPACED_KEYS;
}

/** Collects the values a path through an array (`dns.answers.data`) finds in its elements. */
function readFromElements(elements: unknown[], steps: PathSteps, start: number): unknown {
  const found = elements.map((element) => readPath(element, steps, start)).filter((value) => value !== undefined);
  return found.length === 0 ? undefined : found.flat();
}

const sharedAccessors = new Map<string, FieldAccessor>();

/**
 * Returns one accessor per distinct list of candidate paths, shared by every rule, so that
 * a MatchScope can cache each field's value once per event whatever rule reads it.
 */
export function candidatesAccessor(paths: string[]): FieldAccessor {
  const key = paths.join('\u0000');
  let accessor = sharedAccessors.get(key);
  if (accessor === undefined) {
    accessor = buildCandidatesAccessor(paths);
    sharedAccessors.set(key, accessor);
  }
  return accessor;
}

function buildCandidatesAccessor(paths: string[]): FieldAccessor {
  const accessors = paths.map(pathAccessor);
  if (accessors.length === 1) return accessors[0] as FieldAccessor;
  return (event) => {
    for (const accessor of accessors) {
      const value = accessor(event);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}
