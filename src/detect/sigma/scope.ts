/**
 * Per-event state shared by every rule tested against one event, so work such as
 * collecting the strings for keyword search is done once per event, not once per rule.
 */
import type { HolterEvent } from '../../event.js';
import { readForScope } from './fields.js';
import type { FieldAccessor } from './fields.js';

export type EventPredicate = (scope: MatchScope) => boolean;

/** Fields left out of keyword search: Holter's own bookkeeping, not the logged content. */
const KEYWORD_EXCLUDED_ROOTS = new Set(['holter', '@timestamp']);
/** Keys of `event` left out too (`event.id`, `event.ingested`). */
const KEYWORD_EXCLUDED_EVENT_KEYS = new Set(['id', 'ingested']);

/**
 * A field value as a string, with its lower-cased form for case-insensitive tests. The
 * lower-cased form is built on first use: the prefilter's substring scans fold case as they read.
 */
export class ValueEntry {
  /** `lowerCased` is given for numbers in keyword strings, which keyword search compares as written. */
  constructor(
    readonly value: string,
    private lowerCased?: string,
  ) {}

  get lower(): string {
    return (this.lowerCased ??= this.value.toLowerCase());
  }
}

/**
 * The field cache of all scopes: per accessor slot, the entries last read and the serial number of
 * the scope that read them. It replaces a Map per scope, because the stage makes a scope per event
 * and growing a Map to a few dozen fields for each made much of its garbage. A scope whose slot
 * another scope has taken since reads the field again, so scopes alive together keep their own values.
 */
const fieldCache = {
  slots: new WeakMap<FieldAccessor, number>(),
  readBy: [] as number[],
  entries: [] as (ValueEntry[] | undefined)[],
};
/** Slots at most before the cache starts over: every rule set reload brings new accessors. */
const MAX_FIELD_SLOTS = 1 << 16;
let lastSerial = 0;

function slotOf(accessor: FieldAccessor): number {
  const slot = fieldCache.slots.get(accessor);
  if (slot !== undefined) return slot;
  if (fieldCache.readBy.length >= MAX_FIELD_SLOTS) {
    fieldCache.slots = new WeakMap();
    fieldCache.readBy = [];
    fieldCache.entries = [];
  }
  fieldCache.slots.set(accessor, fieldCache.readBy.length);
  fieldCache.readBy.push(0);
  fieldCache.entries.push(undefined);
  return fieldCache.readBy.length - 1;
}

export class MatchScope {
  private keywords?: ValueEntry[];
  private readonly serial = ++lastSerial;

  constructor(readonly event: HolterEvent) {}

  /**
   * Returns the value an accessor reads as string entries (one per array element), or
   * undefined when the field is absent or null. Each field is read once per event.
   */
  fieldEntries(accessor: FieldAccessor): ValueEntry[] | undefined {
    const slot = slotOf(accessor);
    if (fieldCache.readBy[slot] === this.serial) return fieldCache.entries[slot];
    const entries = valueEntries(readForScope(accessor, this.event, this.serial));
    fieldCache.readBy[slot] = this.serial;
    fieldCache.entries[slot] = entries;
    return entries;
  }

  /**
   * Returns every string and number in the event except `holter.*`, `@timestamp`, `event.id` and
   * `event.ingested`. Keyword searches match against these.
   */
  keywordStrings(): ValueEntry[] {
    if (this.keywords === undefined) {
      const found: ValueEntry[] = [];
      forEachKeywordString(this.event, (text, number) => found.push(number ? new ValueEntry(text, text) : new ValueEntry(text)));
      this.keywords = found;
    }
    return this.keywords;
  }
}

/**
 * Calls `visit` with each string that keyword searches read (see `MatchScope.keywordStrings`),
 * in the order of the event's keys, without collecting them. `number` is true for a number written
 * as text. With `numbers` false, numbers are skipped before their text is built.
 */
export function forEachKeywordString(event: HolterEvent, visit: KeywordVisitor, numbers = true): void {
  const root = event as unknown as Record<string, unknown>;
  for (const key in root) {
    if (!hasOwnProperty.call(root, key) || KEYWORD_EXCLUDED_ROOTS.has(key)) continue;
    const value = root[key];
    if (key !== 'event' || value === null || typeof value !== 'object' || Array.isArray(value)) {
      visitStrings(value, visit, numbers);
      continue;
    }
    // The only excluded paths below the roots, checked by key so that no path string is built.
    const fields = value as Record<string, unknown>;
    for (const child in fields) {
      if (hasOwnProperty.call(fields, child) && !KEYWORD_EXCLUDED_EVENT_KEYS.has(child)) visitStrings(fields[child], visit, numbers);
    }
  }
}

export type KeywordVisitor = (text: string, number: boolean) => void;

/** Called with the object as `this`, so that objects without a prototype are read too. */
const hasOwnProperty = Object.prototype.hasOwnProperty;

function visitStrings(value: unknown, visit: KeywordVisitor, numbers: boolean): void {
  if (typeof value === 'string') {
    visit(value, false);
    return;
  }
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (numbers) visit(String(value), true);
    return;
  }
  if (Array.isArray(value)) {
    for (const element of value) visitStrings(element, visit, numbers);
    return;
  }
  if (value !== null && typeof value === 'object') {
    // for...in with an own-key test visits what Object.keys lists, in its order, without building
    // the array. V8 turns hasOwnProperty on the object being enumerated into a check of its
    // enumeration cache. It does not do so for Object.hasOwn, which took twice as long per event.
    const object = value as Record<string, unknown>;
    for (const key in object) if (hasOwnProperty.call(object, key)) visitStrings(object[key], visit, numbers);
  }
}

/** Event value as entries, as `valueStrings` reads it, built without the intermediate array of strings. */
function valueEntries(value: unknown): ValueEntry[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return [new ValueEntry(value)];
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return [new ValueEntry(String(value))];
  if (!Array.isArray(value)) return [];
  const strings: string[] = [];
  for (const element of value) appendStrings(element, strings);
  return strings.map((text) => new ValueEntry(text));
}

/** Event value as strings: arrays match if any element matches; objects match nothing. */
export function valueStrings(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return [value];
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return [String(value)];
  if (!Array.isArray(value)) return [];
  const strings: string[] = [];
  for (const element of value) appendStrings(element, strings);
  return strings;
}

function appendStrings(value: unknown, strings: string[]): void {
  if (typeof value === 'string') strings.push(value);
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') strings.push(String(value));
  else if (Array.isArray(value)) for (const element of value) appendStrings(element, strings);
}
