/**
 * Per-event state shared by every rule tested against one event, so work such as
 * collecting the strings for keyword search is done once per event, not once per rule.
 */
import type { HolterEvent } from '../../event.js';
import type { FieldAccessor } from './fields.js';

export type EventPredicate = (scope: MatchScope) => boolean;

/** Fields left out of keyword search: Holter's own bookkeeping, not the logged content. */
const KEYWORD_EXCLUDED_ROOTS = new Set(['holter', '@timestamp']);
/** Keys of `event` left out too (`event.id`, `event.ingested`). */
const KEYWORD_EXCLUDED_EVENT_KEYS = new Set(['id', 'ingested']);

/** A field value as a string, with its lower-cased form for case-insensitive tests. */
export interface ValueEntry {
  value: string;
  lower: string;
}

export class MatchScope {
  private keywords?: ValueEntry[];
  // Created on the first field read: many events are tested against no rule at all.
  private fields?: Map<FieldAccessor, ValueEntry[] | undefined>;

  constructor(readonly event: HolterEvent) {}

  /**
   * Returns the value an accessor reads as string entries (one per array element), or
   * undefined when the field is absent or null. Each field is read and lower-cased once per event.
   */
  fieldEntries(accessor: FieldAccessor): ValueEntry[] | undefined {
    const fields = (this.fields ??= new Map());
    const cached = fields.get(accessor);
    if (cached !== undefined || fields.has(accessor)) return cached;
    const strings = valueStrings(accessor(this.event));
    const entries = strings?.map((value) => ({ value, lower: value.toLowerCase() }));
    fields.set(accessor, entries);
    return entries;
  }

  /**
   * Returns every string and number in the event except `holter.*`, `@timestamp`, `event.id` and
   * `event.ingested`, each with its lower-cased form. Keyword searches match against these.
   */
  keywordStrings(): { value: string; lower: string }[] {
    if (this.keywords === undefined) {
      const found: { value: string; lower: string }[] = [];
      const event = this.event as unknown as Record<string, unknown>;
      for (const key of Object.keys(event)) {
        if (KEYWORD_EXCLUDED_ROOTS.has(key)) continue;
        const value = event[key];
        if (key !== 'event' || value === null || typeof value !== 'object' || Array.isArray(value)) {
          collectStrings(value, found);
          continue;
        }
        // The only excluded paths below the roots, checked by key so that no path string is built.
        const fields = value as Record<string, unknown>;
        for (const child of Object.keys(fields)) {
          if (!KEYWORD_EXCLUDED_EVENT_KEYS.has(child)) collectStrings(fields[child], found);
        }
      }
      this.keywords = found;
    }
    return this.keywords;
  }
}

function collectStrings(value: unknown, found: { value: string; lower: string }[]): void {
  if (typeof value === 'string') {
    found.push({ value, lower: value.toLowerCase() });
    return;
  }
  if (typeof value === 'number' || typeof value === 'bigint') {
    const text = String(value);
    found.push({ value: text, lower: text });
    return;
  }
  if (Array.isArray(value)) {
    for (const element of value) collectStrings(element, found);
    return;
  }
  if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) collectStrings(object[key], found);
  }
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
