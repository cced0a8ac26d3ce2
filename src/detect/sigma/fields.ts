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
  if (parts.length < 3) return (event) => readPath(event, steps, 0);

  const parent = parentReader(parts.slice(0, -1));
  parent.accessors++;
  const last = parts.length - 1;
  return (event) => {
    if (readSerial !== 0 && parent.accessors >= MIN_PARENT_ACCESSORS) {
      const found = parent.read(event, readSerial);
      if (found !== NOT_PLAIN) return readPath(found, steps, last);
    }
    return readPath(event, steps, 0);
  };
}

/**
 * The serial number of the MatchScope whose field is being read (`readForScope`), or 0. Windows
 * fields share long prefixes (`winlog.event_data.`), and each step is a property lookup on
 * objects of many shapes, so accessors keep the parent object of their path per scope instead
 * of walking to it for every field. A scope belongs to one event, which detection does not change.
 */
let readSerial = 0;

/** Calls an accessor on behalf of the scope with this serial number, which lets it reuse the parent objects that other accessors reached for that scope. */
export function readForScope(accessor: FieldAccessor, event: unknown, serial: number): unknown {
  readSerial = serial;
  try {
    return accessor(event);
  } finally {
    readSerial = 0;
  }
}

/**
 * Accessors of one prefix from which they share its parent object. A prefix that only a few
 * accessors read, such as `holter.access.` in Holter's own rules, saves little, and where the
 * event lacks it each read walks the prefix twice.
 */
const MIN_PARENT_ACCESSORS = 8;

/** Result for a prefix that `readPath` would not walk key by key: a step is missing, undefined, or an array. */
const NOT_PLAIN = Symbol('not plain');

/**
 * The object at one path prefix for the last scope that read it. It keeps that scope's event
 * alive until another scope reads the prefix.
 */
class ParentReader {
  /** Accessors built for paths under this prefix. */
  accessors = 0;
  private serial = 0;
  private event: unknown;
  private parent: unknown = NOT_PLAIN;

  constructor(private readonly parts: string[]) {}

  /** Returns the object at the prefix in the event, or NOT_PLAIN, walking the prefix once per scope. */
  read(event: unknown, serial: number): unknown {
    if (serial === this.serial && event === this.event) return this.parent;
    let current = event;
    for (const part of this.parts) {
      if (current === null || typeof current !== 'object' || Array.isArray(current)) {
        current = NOT_PLAIN;
        break;
      }
      current = (current as Record<string, unknown>)[part];
      if (current === undefined) {
        current = NOT_PLAIN;
        break;
      }
    }
    this.serial = serial;
    this.event = event;
    this.parent = current;
    return current;
  }
}

const parentReaders = new Map<string, ParentReader>();

/** Returns the shared reader of one path prefix. */
function parentReader(parts: string[]): ParentReader {
  const key = parts.join('.');
  let reader = parentReaders.get(key);
  if (reader === undefined) {
    reader = new ParentReader(parts);
    parentReaders.set(key, reader);
  }
  return reader;
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
