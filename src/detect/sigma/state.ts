/**
 * Snapshots of the Sigma stage's correlation state as versioned plain JSON, for checkpoints.
 *
 * Windows are saved per correlation fingerprint (fingerprint.ts), so a snapshot restores into
 * a stage whose rules changed: correlations whose logic is unchanged get their windows back,
 * the others start empty. Hits are saved without their events. Each hit keeps its time,
 * arrival number, evidence ids and value, and a reference to a shared context. A context contains
 * the few event fields an alert copies from its trigger event (user, source, host, directory
 * facts, patient token and flags) and the fields that correlations fed by this one group by.
 * Free text, clear patient identifiers and raw source fields are never saved.
 */
import { HolterError } from '../../errors.js';
import type { HolterEvent } from '../../event.js';
import type { FieldAccessor } from './fields.js';
import type { RuleSet } from './ruleset.js';
import type { GroupState, Hit, WindowsState } from './windows.js';

/** Version of the snapshot layout; restore rejects any other. */
export const SIGMA_STATE_VERSION = 1;

/** Plain JSON data: infinite times are written as null. */
export interface SigmaSnapshot {
  version: number;
  stage: 'sigma';
  /** Newest event time seen, so the restored watermark treats late events as late. */
  maxEventTimeMs: number | null;
  /** Last hit arrival number handed out; restored hits keep theirs. */
  sequence: number;
  /** Correlation fingerprint -> its windows. */
  correlations: Record<string, SavedWindows>;
}

export interface SavedWindows {
  nextSweepMs: number | null;
  /** Trigger contexts shared by the hits below. */
  contexts: SavedContext[];
  groups: SavedGroup[];
}

export interface SavedContext {
  /** The event fields an alert copies from its trigger, without `@timestamp` and `event.id`. */
  event: Record<string, unknown>;
  /** Sigma field name -> value, for the group-by and value fields of correlations fed by this one. */
  fields: Record<string, unknown>;
}

export interface SavedGroup {
  /** The stage's group id: the JSON array of the group-by values. */
  id: string;
  key: Record<string, string>;
  firedUntilMs: number | null;
  nextAnchorMs: number | null;
  hits: SavedHit[];
}

export interface SavedHit {
  timeMs: number;
  sequence: number;
  reference: number;
  evidence: string[];
  /** Index into `contexts`. */
  context: number;
  value?: string | number;
  /** The event's `@timestamp` as written, when it differs from the ISO form of `timeMs`. */
  timestamp?: string;
  /** The event's `event.id`, when it differs from the first evidence id. */
  eventId?: string;
}

/** The stage fields a snapshot carries besides the windows. */
export interface StageClock {
  maxEventTimeMs: number;
  sequence: number;
}

/** A snapshot read back: windows rebuilt per fingerprint, ready for the stage to adopt. */
export interface RestoredState extends StageClock {
  windows: Map<string, WindowsState>;
}

/** Copies the windows of every correlation into a snapshot that later processing does not change. */
export function writeSnapshot(ruleSet: RuleSet, windows: WindowsState[], clock: StageClock): SigmaSnapshot {
  const correlations: Record<string, SavedWindows> = {};
  const neededFields = downstreamFields(ruleSet);
  ruleSet.correlations.forEach((correlation, index) => {
    // Correlations with the same fingerprint see the same hits, so one copy serves them all.
    if (correlation.fingerprint in correlations) return;
    correlations[correlation.fingerprint] = writeWindows(windows[index] as WindowsState, neededFields[index] as string[]);
  });
  return {
    version: SIGMA_STATE_VERSION,
    stage: 'sigma',
    maxEventTimeMs: finiteOrNull(clock.maxEventTimeMs),
    sequence: clock.sequence,
    correlations,
  };
}

/** Reads a snapshot written by writeSnapshot. Throws HOLTER_STATE_VERSION for another version or a malformed snapshot. */
export function readSnapshot(snapshot: unknown): RestoredState {
  const version = isRecord(snapshot) ? snapshot.version : undefined;
  if (!isRecord(snapshot) || version !== SIGMA_STATE_VERSION || snapshot.stage !== 'sigma') {
    throw new HolterError(
      'HOLTER_STATE_VERSION',
      `Sigma state has version ${JSON.stringify(version)} but this Holter reads version ${SIGMA_STATE_VERSION} of stage 'sigma'. ` +
        'Delete the saved Sigma state; correlation windows then start empty.',
    );
  }

  // A copy, so that the caller changing its object later cannot reach the restored windows.
  const saved = structuredClone(snapshot) as unknown as SigmaSnapshot;
  if (!isRecord(saved.correlations) || typeof saved.sequence !== 'number' || !isTime(saved.maxEventTimeMs)) {
    throw malformed('its correlations, sequence or maxEventTimeMs are missing');
  }
  const windows = new Map<string, WindowsState>();
  for (const [fingerprint, entry] of Object.entries(saved.correlations)) windows.set(fingerprint, readWindows(entry, fingerprint));
  return { maxEventTimeMs: saved.maxEventTimeMs ?? Number.NEGATIVE_INFINITY, sequence: saved.sequence, windows };
}

/**
 * Per correlation: the Sigma field names that correlations fed by it (directly or through a
 * chain) read from its firings' trigger events, for group-by and `condition.field`.
 */
function downstreamFields(ruleSet: RuleSet): string[][] {
  const memo = new Map<number, Set<string>>();
  const collect = (index: number): Set<string> => {
    const known = memo.get(index);
    if (known !== undefined) return known;
    const fields = new Set<string>();
    memo.set(index, fields);
    for (const consumer of ruleSet.correlationConsumers[index] ?? []) {
      const correlation = ruleSet.correlations[consumer.correlation];
      if (correlation === undefined) continue;
      for (const field of correlation.groupFields[consumer.reference] ?? []) fields.add(field);
      for (const field of correlation.valueFields[consumer.reference] ?? []) fields.add(field);
      for (const field of collect(consumer.correlation)) fields.add(field);
    }
    return fields;
  };
  return ruleSet.correlations.map((_, index) => [...collect(index)].sort());
}

function writeWindows(state: WindowsState, neededFields: string[]): SavedWindows {
  const contexts: SavedContext[] = [];
  const contextIndex = new Map<string, number>();
  const contextOf = (hit: Hit): number => {
    const context = projectContext(hit, neededFields);
    const text = JSON.stringify(context);
    let index = contextIndex.get(text);
    if (index === undefined) {
      index = contexts.length;
      contexts.push(JSON.parse(text) as SavedContext);
      contextIndex.set(text, index);
    }
    return index;
  };

  const groups: SavedGroup[] = [];
  for (const [id, group] of state.groups) {
    groups.push({
      id,
      key: { ...group.key },
      firedUntilMs: finiteOrNull(group.firedUntilMs),
      nextAnchorMs: finiteOrNull(group.nextAnchorMs),
      hits: group.hits.map((hit) => writeHit(hit, contextOf(hit))),
    });
  }
  return { nextSweepMs: finiteOrNull(state.nextSweepMs), contexts, groups };
}

function writeHit(hit: Hit, context: number): SavedHit {
  const saved: SavedHit = { timeMs: hit.timeMs, sequence: hit.sequence, reference: hit.reference, evidence: [...hit.evidence], context };
  if (hit.value !== undefined) saved.value = hit.value;
  const timestamp = hit.event['@timestamp'];
  if (timestamp !== new Date(hit.timeMs).toISOString()) saved.timestamp = timestamp;
  const eventId = hit.event.event.id;
  if (eventId !== hit.evidence[0]) saved.eventId = eventId;
  return saved;
}

/**
 * Copies the trigger fields of a hit's event that alerts and later correlations read. Left out on
 * purpose: `message`, `event.reason`, `holter.access.reason` (free text), `holter.patient.id`
 * and every source-specific namespace.
 */
function projectContext(hit: Hit, neededFields: string[]): SavedContext {
  const source = hit.event;
  const { id: _id, reason: _reason, ...eventFields } = source.event;
  const holter: Record<string, unknown> = { source: source.holter.source };
  if (source.holter.user !== undefined) holter.user = source.holter.user;
  const patient = source.holter.patient;
  if (patient !== undefined) holter.patient = pick(patient, ['token', 'vip', 'employee', 'deceased', 'self_access']);
  const access = source.holter.access;
  if (access !== undefined) holter.access = pick(access, ['purpose', 'break_glass']);

  const event: Record<string, unknown> = { event: eventFields, holter };
  if (source.user !== undefined) event.user = pick(source.user, ['id', 'name', 'domain']);
  if (source.source?.ip !== undefined) event.source = { ip: source.source.ip };
  if (source.host?.name !== undefined) event.host = { name: source.host.name };

  const fields: Record<string, unknown> = {};
  for (const field of neededFields) {
    const value = hit.accessor(field)(source);
    if (value !== undefined) fields[field] = value;
  }
  return { event, fields };
}

function readWindows(entry: unknown, fingerprint: string): WindowsState {
  if (!isRecord(entry) || !Array.isArray(entry.contexts) || !Array.isArray(entry.groups) || !isTime(entry.nextSweepMs)) {
    throw malformed(`the windows of correlation ${fingerprint} lack contexts, groups or nextSweepMs`);
  }
  const contexts = (entry.contexts as unknown[]).map((context) => readContext(context, fingerprint));
  const groups = new Map<string, GroupState>();
  for (const saved of entry.groups as unknown[]) {
    const group = readGroup(saved, contexts, fingerprint);
    groups.set(group.id, group.state);
  }
  return { groups, nextSweepMs: (entry.nextSweepMs as number | null) ?? Number.NEGATIVE_INFINITY };
}

interface RestoredContext {
  event: Record<string, unknown> & { event: Record<string, unknown> };
  accessor(field: string): FieldAccessor;
}

function readContext(context: unknown, fingerprint: string): RestoredContext {
  if (!isRecord(context) || !isRecord(context.event) || !isRecord(context.event.event) || !isRecord(context.fields)) {
    throw malformed(`a trigger context of correlation ${fingerprint} lacks event or fields`);
  }
  const fields = context.fields;
  const readers = new Map<string, FieldAccessor>();
  return {
    event: context.event as RestoredContext['event'],
    // A restored hit has no full event: its accessor returns the saved value whatever event it is given.
    accessor(field) {
      let reader = readers.get(field);
      if (reader === undefined) {
        const value = fields[field];
        reader = () => value;
        readers.set(field, reader);
      }
      return reader;
    },
  };
}

function readGroup(saved: unknown, contexts: RestoredContext[], fingerprint: string): { id: string; state: GroupState } {
  const valid =
    isRecord(saved) &&
    typeof saved.id === 'string' &&
    isRecord(saved.key) &&
    Array.isArray(saved.hits) &&
    isTime(saved.firedUntilMs) &&
    isTime(saved.nextAnchorMs);
  if (!valid) throw malformed(`a group of correlation ${fingerprint} lacks id, key, hits, firedUntilMs or nextAnchorMs`);

  const key = saved.key as Record<string, string>;
  const hits = (saved.hits as unknown[]).map((hit) => readHit(hit, contexts, fingerprint));
  return {
    id: saved.id as string,
    state: {
      key,
      hits,
      firedUntilMs: (saved.firedUntilMs as number | null) ?? Number.NEGATIVE_INFINITY,
      nextAnchorMs: (saved.nextAnchorMs as number | null) ?? Number.NEGATIVE_INFINITY,
    },
  };
}

function readHit(saved: unknown, contexts: RestoredContext[], fingerprint: string): Hit {
  const valid =
    isRecord(saved) &&
    typeof saved.timeMs === 'number' &&
    typeof saved.sequence === 'number' &&
    typeof saved.reference === 'number' &&
    Array.isArray(saved.evidence) &&
    typeof saved.context === 'number' &&
    contexts[saved.context] !== undefined;
  if (!valid) throw malformed(`a hit of correlation ${fingerprint} lacks timeMs, sequence, reference, evidence or a known context`);

  const hit = saved as unknown as SavedHit;
  const context = contexts[hit.context] as RestoredContext;
  const event = {
    ...context.event,
    '@timestamp': hit.timestamp ?? new Date(hit.timeMs).toISOString(),
    event: { ...context.event.event, id: hit.eventId ?? hit.evidence[0] ?? '' },
  } as unknown as HolterEvent;
  const restored: Hit = { timeMs: hit.timeMs, sequence: hit.sequence, reference: hit.reference, evidence: hit.evidence, event, accessor: context.accessor };
  if (hit.value !== undefined) restored.value = hit.value;
  return restored;
}

function malformed(detail: string): HolterError {
  return new HolterError('HOLTER_STATE_VERSION', `Sigma state is malformed: ${detail}. Delete the saved Sigma state; correlation windows then start empty.`);
}

function pick<T extends object>(source: T, keys: (keyof T)[]): Partial<T> {
  const picked: Partial<T> = {};
  for (const key of keys) if (source[key] !== undefined) picked[key] = source[key];
  return picked;
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

function isTime(value: unknown): boolean {
  return value === null || typeof value === 'number';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
