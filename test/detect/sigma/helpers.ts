/**
 * Helpers for the Sigma tests: events built in the shape the decoders produce, and rule
 * sets compiled from inline YAML with the mapping shipped in mappings/sigma.yml.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { HolterEvent } from '../../../src/event.js';
import { compileRuleSet } from '../../../src/detect/sigma/stage.js';
import type { SigmaLoadResult } from '../../../src/detect/sigma/stage.js';
import { parseMapping } from '../../../src/detect/sigma/mapping.js';
import type { SigmaMapping } from '../../../src/detect/sigma/mapping.js';
import { REPO_ROOT } from '../../helpers/paths.js';

export const MAPPING_FILE = path.join(REPO_ROOT, 'mappings', 'sigma.yml');

let cachedMapping: SigmaMapping | undefined;

export function shippedMapping(): SigmaMapping {
  if (cachedMapping === undefined) {
    const result = parseMapping(readFileSync(MAPPING_FILE, 'utf8'), MAPPING_FILE);
    if (result.errors.length > 0) throw new Error(result.errors.map((error) => error.describe()).join('\n'));
    cachedMapping = result.mapping;
  }
  return cachedMapping;
}

let counter = 0;

export interface WindowsEventOptions {
  eventId: number;
  channel?: string;
  provider?: string;
  computer?: string;
  data?: Record<string, unknown>;
  time?: string;
}

export const SYSMON_CHANNEL = 'Microsoft-Windows-Sysmon/Operational';

/** Builds a Windows event in the shape of the Windows decoder: System fields under winlog, EventData names kept. */
export function windowsEvent(options: WindowsEventOptions): HolterEvent {
  counter++;
  const channel = options.channel ?? SYSMON_CHANNEL;
  return {
    '@timestamp': options.time ?? '2024-05-01T10:00:00.000Z',
    event: {
      id: `win-${counter}`,
      kind: 'event',
      category: [],
      type: [],
      action: String(options.eventId),
      outcome: 'unknown',
      dataset: 'windows.test',
      module: 'windows',
    },
    winlog: {
      event_id: options.eventId,
      channel,
      provider_name: options.provider ?? (channel === SYSMON_CHANNEL ? 'Microsoft-Windows-Sysmon' : 'Microsoft-Windows-Security-Auditing'),
      computer_name: options.computer ?? 'ws-001.example.org',
      event_data: options.data ?? {},
    },
    holter: { source: { input: 'test', format: 'windows' } },
  };
}

export interface HolterEventOptions {
  time: string;
  id?: string;
  category?: string[];
  outcome?: 'success' | 'failure' | 'unknown';
  userId?: string;
  userName?: string;
  sourceIp?: string;
  holter?: Record<string, unknown>;
}

/** Builds a normalised Holter event (for the rules in rules/). */
export function holterEvent(options: HolterEventOptions): HolterEvent {
  counter++;
  const event: HolterEvent = {
    '@timestamp': options.time,
    event: {
      id: options.id ?? `evt-${counter}`,
      kind: 'event',
      category: options.category ?? ['authentication'],
      type: ['start'],
      action: 'user.session.start',
      outcome: options.outcome ?? 'failure',
      dataset: 'okta.system',
      module: 'okta',
    },
    holter: { source: { input: 'test', format: 'okta' }, ...(options.holter ?? {}) },
  };
  if (options.userName !== undefined) event.user = { name: options.userName };
  if (options.userId !== undefined) event.holter.user = { id: options.userId, known: true };
  if (options.sourceIp !== undefined) event.source = { ip: options.sourceIp };
  return event;
}

/** Compiles inline rule texts; file names are `inline-<n>.yml` unless given. */
export function compileTexts(
  texts: (string | { file: string; text: string })[],
  options: { placeholders?: Record<string, string[]>; allowedLatenessMs?: number; timeZone?: string } = {},
): SigmaLoadResult {
  const sources = texts.map((entry, index) => (typeof entry === 'string' ? { file: `inline-${index + 1}.yml`, text: entry } : entry));
  return compileRuleSet(sources, { mapping: shippedMapping(), ...options });
}

/** Compiles one rule and fails loudly if it does not load. */
export function compileOne(text: string, options: { placeholders?: Record<string, string[]> } = {}): SigmaLoadResult {
  const result = compileTexts([text], options);
  if (result.errors.length > 0) throw new Error(result.errors.map((error) => error.describe()).join('\n'));
  return result;
}

/** True when the compiled rule set produces a detection or a match for the event. */
export function matches(result: SigmaLoadResult, event: HolterEvent): boolean {
  const before = result.stage.stats().rule_matches ?? 0;
  result.stage.process(event, Number.NEGATIVE_INFINITY);
  return (result.stage.stats().rule_matches ?? 0) > before;
}

/** Writes a Windows process creation rule over one selection, for modifier tests. */
export function processRule(selection: string, condition = 'selection'): string {
  return `title: Test rule
id: 00000000-0000-4000-8000-000000000001
logsource:
    category: process_creation
    product: windows
detection:
${selection}
    condition: ${condition}
level: medium
`;
}

export function processEvent(data: Record<string, unknown>): HolterEvent {
  return windowsEvent({ eventId: 1, data });
}

export { splitJsonDocuments } from '../../../src/sources/json-documents.js';
