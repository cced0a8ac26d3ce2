/**
 * The normalised event: one shape for every source.
 *
 * Field names follow the Elastic Common Schema (ECS 8.x) wherever ECS has a field for the
 * fact. Healthcare facts that ECS lacks live under `holter.*` (documented in
 * docs/event.md). Raw source fields that Sigma rules refer to by their native names are
 * kept under the namespace ECS gives that source (`winlog.event_data.*`, `osquery.*`,
 * `okta.*`, `keycloak.*`, `fhir.*`, `dicom.*`).
 *
 * Events are plain JSON objects, so any field can be read by dotted path (see getField).
 */

export type Outcome = 'success' | 'failure' | 'unknown';

export interface EcsEventFields {
  /** Stable id: the source's own id where it has one, else a hash of input and offset. */
  id: string;
  kind: 'event';
  /** ECS categorisation: authentication, database, file, process, iam, configuration, session... */
  category: string[];
  type: string[];
  /** The action, in the source's own vocabulary where it has one (`user.session.start`, `read`, `4625`). */
  action: string;
  outcome: Outcome;
  /** `<module>.<dataset>`, e.g. `fhir.audit_event`, `dicom.audit`, `okta.system`. */
  dataset: string;
  module: string;
  provider?: string;
  code?: string;
  reason?: string;
  /** Processing time at which Holter decoded the event (ISO 8601 UTC). */
  ingested?: string;
  severity?: number;
}

export interface HolterPatientFields {
  /** Clear patient identifier: set by decoders, removed by the enrich stage. */
  id?: string;
  /** Keyed token (HMAC-SHA256 of the identifier), set by the enrich stage. */
  token?: string;
  vip?: boolean;
  employee?: boolean;
  deceased?: boolean;
  /** True when the accessing user is the patient (an employee opening their own record). */
  self_access?: boolean;
}

export interface HolterFields {
  /** The record's origin: input name, line (1-based) or byte offset, format. */
  source: { input: string; line?: number; offset?: number; format: string };
  patient?: HolterPatientFields;
  /** The clinical record or resource touched: FHIR resource type and id, EHR record type. */
  record?: { type?: string; id?: string; count?: number };
  /** DICOM objects touched by the event. Counts and bytes are totals for this one event. */
  dicom?: {
    study_uids?: string[];
    study_count?: number;
    series_count?: number;
    instance_count?: number;
    bytes?: number;
    accession?: string[];
    sop_classes?: string[];
  };
  /** Why access happened: purpose of use, break-glass (emergency override) and its stated reason. */
  access?: { purpose?: string; break_glass?: boolean; reason?: string };
  /**
   * The patient who acted, when the acting account is a patient's own (a patient portal). Decoders
   * set the clear `id` here instead of `user.*`, and the enrich stage replaces it with `token` and
   * makes that token the user id.
   */
  acting_patient?: { id?: string; token?: string };
  /** Directory facts about the acting user, set by the enrich stage. */
  user?: {
    /**
     * The person behind the account: the directory's user id when the account is known, else the
     * account name as seen (lower-cased, domain removed). Rules and detectors group by this.
     */
    id?: string;
    /** True when the directory lists the account. */
    known?: boolean;
    role?: string;
    department?: string;
    facility?: string;
    time_zone?: string;
    shift?: string;
  };
}

export interface HolterEvent {
  '@timestamp': string;
  event: EcsEventFields;
  message?: string;
  user?: {
    id?: string;
    name?: string;
    domain?: string;
    email?: string;
    full_name?: string;
    roles?: string[];
    target?: { id?: string; name?: string; domain?: string };
  };
  source?: { ip?: string; address?: string; port?: number; domain?: string };
  destination?: { ip?: string; address?: string; port?: number; domain?: string };
  host?: { name?: string; hostname?: string; ip?: string[]; id?: string };
  client?: { ip?: string; address?: string; user?: { id?: string; name?: string } };
  observer?: { vendor?: string; product?: string; type?: string; name?: string };
  service?: { name?: string; type?: string };
  user_agent?: { original?: string };
  url?: { original?: string; path?: string; query?: string };
  process?: Record<string, unknown>;
  file?: Record<string, unknown>;
  registry?: Record<string, unknown>;
  related?: { user?: string[]; ip?: string[]; hosts?: string[]; hash?: string[] };
  holter: HolterFields;
  [namespace: string]: unknown;
}

/**
 * Reads a field by dotted path (`winlog.event_data.Image`). A literal key that itself
 * contains dots (`"a.b"` inside an object) is found too, as ECS documents written flat are.
 * Readers are compiled once per path and cached (see compileFieldPath).
 */
export function getField(event: unknown, path: string): unknown {
  let reader = compiledReaders.get(path);
  if (reader === undefined) {
    if (compiledReaders.size >= MAX_CACHED_READERS) compiledReaders.clear();
    reader = compileFieldPath(path);
    compiledReaders.set(path, reader);
  }
  return reader(event);
}

/** Reads one field of an event; made by compileFieldPath. */
export type FieldReader = (event: unknown) => unknown;

/**
 * Paths are few (they come from rules, detectors and mappings), so the cache rarely fills;
 * the bound only keeps a caller that builds paths from data from growing it without end.
 */
const MAX_CACHED_READERS = 10_000;
const compiledReaders = new Map<string, FieldReader>();

/**
 * Compiles a dotted path into a reader that returns what getField returns for that path. The
 * path is split and its literal-key fallbacks are prepared once, so reading builds no strings:
 * use it where one path is read from every event.
 */
export function compileFieldPath(path: string): FieldReader {
  const segments = path.split('.');
  if (segments.length === 1) {
    return (event) => (event !== null && typeof event === 'object' ? (event as Record<string, unknown>)[path] : undefined);
  }

  const fallback = compileDottedKeyLookup(path);
  const lastIndex = segments.length - 1;
  const last = segments[lastIndex] as string;
  return (event) => {
    let node = event;
    for (let index = 0; index < lastIndex; index++) {
      if (node === null || typeof node !== 'object') return lookUpDottedKeys(fallback, event);
      node = (node as Record<string, unknown>)[segments[index] as string];
      if (node === undefined) return lookUpDottedKeys(fallback, event);
    }
    if (node === null || typeof node !== 'object') return lookUpDottedKeys(fallback, event);
    const value = (node as Record<string, unknown>)[last];
    return value === undefined ? lookUpDottedKeys(fallback, event) : value;
  };
}

/**
 * One path and every split of it into a literal key (`head`) and the path left after it. The
 * nodes for the rest are shared by suffix, so a path with k dots makes k + 1 nodes.
 */
interface DottedKeyLookup {
  path: string;
  splits: Array<{ head: string; rest: DottedKeyLookup }>;
}

function compileDottedKeyLookup(path: string): DottedKeyLookup {
  const bySuffixStart = new Map<number, DottedKeyLookup>();
  const build = (start: number): DottedKeyLookup => {
    const known = bySuffixStart.get(start);
    if (known !== undefined) return known;
    const suffix = path.slice(start);
    const node: DottedKeyLookup = { path: suffix, splits: [] };
    // A suffix that starts with a dot has no split, as in the recursive search this replaces.
    let prefixEnd = suffix.indexOf('.');
    while (prefixEnd > 0) {
      node.splits.push({ head: suffix.slice(0, prefixEnd), rest: build(start + prefixEnd + 1) });
      prefixEnd = suffix.indexOf('.', prefixEnd + 1);
    }
    bySuffixStart.set(start, node);
    return node;
  };
  return build(0);
}

/**
 * The slow path of a reader, taken when the nested walk finds nothing: tries the whole path as
 * one literal key, then every split into a literal key and a rest, shortest key first.
 */
function lookUpDottedKeys(lookup: DottedKeyLookup, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  if (lookup.path in record) return record[lookup.path];

  for (const { head, rest } of lookup.splits) {
    if (!(head in record)) continue;
    const found = lookUpDottedKeys(rest, record[head]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Sets a field by dotted path, creating the objects on the way. */
export function setField(event: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let target = event;
  for (const part of parts.slice(0, -1)) {
    const next = target[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      target[part] = {};
    }
    target = target[part] as Record<string, unknown>;
  }
  target[parts[parts.length - 1] as string] = value;
}
