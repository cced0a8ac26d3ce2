import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { loadDetectors } from '../detect/baseline/index.js';
import type { BaselineSnapshot, DetectorRestore } from '../detect/baseline/index.js';
import { HolterError } from '../errors.js';
import { LocalStateStore } from '../state/local-store.js';
import type { TaskState } from '../state/task.js';
import { escapeForTerminal } from '../text/escape.js';
import { applyOverrides } from './overrides.js';
import { REPLAY_JOB } from './replay.js';

export interface BaselineShowOptions {
  config?: string;
  /** The state store written by `holter replay --state`; defaults to `state.path` of the config. */
  state?: string;
  format: 'text' | 'json';
  /**
   * Facility time zone (IANA name) in place of the configured one. It must be the zone the replay
   * ran with, because the zone is part of each detector's fingerprint.
   */
  timeZone?: string;
  /** Detector files or folders in place of the configured ones, as given to the replay. */
  detectors?: string[];
}

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/**
 * `holter baseline show USER`: restores the detectors from the state store and prints what each
 * has learned about the user. Exit code 1 when no detector has a baseline for the user.
 */
export async function runBaselineShow(user: string, options: BaselineShowOptions): Promise<number> {
  const config = applyOverrides(loadConfig(options.config), { timeZone: options.timeZone, detectors: options.detectors });
  const statePath = options.state ?? config.state.path;
  if (statePath === undefined) {
    throw new HolterError('HOLTER_CONFIG_INVALID', 'No state store to read. Pass --state FILE, or set state.path, and fill it with holter replay --state FILE.', { path: 'state.path' });
  }

  if (!existsSync(statePath)) {
    throw new HolterError('HOLTER_INPUT_NOT_FOUND', `State store ${statePath} not found. Check the path, or fill it first with holter replay --state ${statePath} FILES.`);
  }
  const store = LocalStateStore.open(statePath, { readOnly: true });
  let checkpoint;
  try {
    checkpoint = store.load(REPLAY_JOB);
  } finally {
    store.close();
  }
  if (checkpoint === undefined) {
    throw new HolterError('HOLTER_INPUT_NOT_FOUND', `The state store ${statePath} has no checkpoint yet. Run holter replay --state ${statePath} FILES first.`);
  }

  const detectors = await loadDetectors(config.detectors.paths, { defaultTimeZone: config.facility.time_zone });
  // A detector file that fails to load here hides that detector's baseline, so its error is the note to give.
  for (const error of detectors.errors) process.stderr.write(`${escapeForTerminal(`Detector file rejected: ${error.describe()}`)}
`);
  const saved = (checkpoint.state as TaskState).stages?.detectors;
  const restored: DetectorRestore = saved === undefined ? { kept: [], changed: [], unchecked: [] } : detectors.stage.restore(saved as BaselineSnapshot);
  const profiles = detectors.stage.describe(user);

  // State of detectors that this configuration does not load is never shown, so the note names them.
  const loaded = new Set(detectors.stage.detectorIds);
  const notLoaded = Object.keys((saved as BaselineSnapshot | undefined)?.detectors ?? {}).filter((id) => !loaded.has(id));
  if (notLoaded.length > 0) {
    const advice =
      detectors.errors.length > 0
        ? 'Fix the rejected detector files above, or give baseline show the --config or --detectors the replay ran with.'
        : 'Give baseline show the --config or --detectors the replay ran with.';
    process.stderr.write(`Note: the state store also holds detectors that are not loaded here: ${notLoaded.join(', ')}. ${advice}\n`);
  }

  if (options.format === 'json') {
    const body = { user, savedAt: checkpoint.savedAt, detectors: profiles, changedDetectors: restored.changed, uncheckedDetectors: restored.unchecked, notLoadedDetectors: notLoaded };
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  } else {
    process.stdout.write(formatBaseline(user, checkpoint.savedAt, profiles, restoreNotes(restored)));
  }
  if (Object.keys(profiles).length > 0) return 0;

  // With state left out, the notes above give the reason, so the user id is not the likely mistake.
  const hint = restored.changed.length + notLoaded.length > 0 ? 'See the notes above.' : 'Detectors key users by holter.user.id (e.g. u-1042).';
  process.stderr.write(`${escapeForTerminal(`No detector has a baseline for ${user} in ${statePath}. ${hint}`)}\n`);
  return 1;
}

/**
 * Explains the saved states that the configured detectors did not take as they are: states of
 * changed detectors are left out, and states saved without fingerprints are shown unchecked.
 */
export function restoreNotes(restored: DetectorRestore): string[] {
  const notes = restored.changed.map(
    (id) =>
      `Note: detector ${id} differs from the one that saved the state, in its definition or in the facility time zone (facility.time_zone, or the replay's --time-zone), ` +
      'so its saved baseline is not shown. The next replay with this configuration starts it empty.',
  );
  if (restored.unchecked.length > 0) {
    notes.push('Note: the state was saved before Holter recorded detector fingerprints, so a detector changed since then still shows the baseline its old definition learned.');
  }
  return notes;
}

/** Renders profiles for a terminal: notes first, then one block per detector, hours of the week as a grid. */
export function formatBaseline(user: string, savedAt: string, profiles: Record<string, Record<string, unknown>>, notes: string[] = []): string {
  const lines = [`Baseline of ${user} (state saved ${savedAt})`, ...notes];
  for (const [detector, profile] of Object.entries(profiles)) {
    lines.push('', `${detector} (${String(profile.function)})`);
    for (const [key, value] of Object.entries(profile)) {
      if (key === 'function') continue;
      if (key === 'hour_of_week_percent' && Array.isArray(value)) {
        lines.push(...hourOfWeekGrid(value as number[]));
        continue;
      }
      if (key === 'active_days_by_hour' && Array.isArray(value) && value.length === 24) {
        lines.push(...activeDatesByHour(value as number[]));
        continue;
      }
      if (Array.isArray(value) && value.some(isPlainObject)) {
        // Known values and bucket series: one line each, so a long list stays readable.
        lines.push(`  ${key.replaceAll('_', ' ')}:`, ...value.map((item) => `    - ${isPlainObject(item) ? formatEntries(item) : formatValue(item)}`));
        continue;
      }
      lines.push(`  ${key.replaceAll('_', ' ')}: ${formatValue(value)}`);
    }
  }
  // Known values and user ids come from events.
  return `${lines.map((line) => escapeForTerminal(line)).join('\n')}\n`;
}

/**
 * Draws the share of activity per local hour of the week: blank for none, `.` under 0.5%, `+`
 * under 2%, `#` from 2%. Rows are Monday to Sunday, columns hours 00 to 23.
 */
function hourOfWeekGrid(percent: number[]): string[] {
  const rows = ['  activity by local hour (. under 0.5%, + under 2%, # 2% or more of the week):', '        0         1         2   ', '        012345678901234567890123'];
  for (let day = 0; day < 7; day++) {
    const cells = percent.slice(day * 24, day * 24 + 24).map(shareSymbol);
    rows.push(`    ${WEEKDAYS[day]} ${cells.join('')}`);
  }
  return rows;
}

/**
 * Lists the decayed count of dates with activity at each local hour. A detected hour's date counts
 * here while its events are taken out of the shares of the grid, so the two can disagree.
 */
function activeDatesByHour(counts: number[]): string[] {
  const rows = ['  active dates by local hour (decayed count; a detected hour counts here but not in the grid):'];
  for (let start = 0; start < 24; start += 8) {
    const cells = counts.slice(start, start + 8).map((count, index) => `${String(start + index).padStart(2, '0')}h ${String(count).padEnd(5)}`);
    rows.push(`    ${cells.join('  ').trimEnd()}`);
  }
  return rows;
}

function shareSymbol(percent: number): string {
  if (percent <= 0) return ' ';
  if (percent < 0.5) return '.';
  if (percent < 2) return '+';
  return '#';
}

function formatValue(value: unknown): string {
  if (Array.isArray(value)) return value.map((item) => (isPlainObject(item) ? `(${formatEntries(item)})` : formatValue(item))).join(', ');
  if (isPlainObject(value)) return formatEntries(value);
  return String(value);
}

/** `key: value` pairs on one line, with words in place of underscores in the keys. */
function formatEntries(object: Record<string, unknown>): string {
  return Object.entries(object)
    .map(([key, value]) => `${key.replaceAll('_', ' ')}: ${Array.isArray(value) ? `[${formatValue(value)}]` : formatValue(value)}`)
    .join(', ');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
