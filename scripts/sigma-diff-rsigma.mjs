// Runs RSigma (`rsigma engine eval`) over NDJSON events and reads its results, and builds the
// events RSigma reads from Holter's normalised events. Used by scripts/sigma-diff.mjs.
import { spawnSync } from 'node:child_process';

/** Sigma names of Windows fields that Holter does not read from `winlog.event_data` (mappings/sigma.yml). */
const WINDOWS_SYSTEM_FIELDS = [
  ['EventID', ['winlog.event_id']],
  ['Channel', ['winlog.channel']],
  ['Provider_Name', ['winlog.provider_name']],
  ['Computer', ['winlog.computer_name']],
  ['ComputerName', ['winlog.event_data.ComputerName', 'winlog.computer_name']],
  ['Image', ['winlog.event_data.Image', 'winlog.event_data.NewProcessName']],
  ['ParentImage', ['winlog.event_data.ParentImage', 'winlog.event_data.ParentProcessName']],
];

/** Returns RSigma's version line, or undefined when the command is not on PATH. */
export function rsigmaVersion(command) {
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return undefined;
  return probe.stdout.split('\n')[0].trim();
}

function readPath(value, path) {
  let current = value;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = current[part];
  }
  return current;
}

/**
 * Builds the event RSigma reads from a normalised Holter event, so that both engines see the
 * same values under the names the rules use. RSigma reads dotted names through nested objects,
 * as Holter does, so the normalised event stays as it is. Windows rules name the raw event
 * log fields (`Image`, `EventID`), which Holter reads from `winlog` through mappings/sigma.yml:
 * those values are copied to the top level under their Sigma names, also without spaces
 * (`Source Name` as `SourceName`), as Holter resolves them. `holter.source` (the input file
 * and line) is left out: it is bookkeeping that Holter's keyword search skips too.
 */
export function rsigmaEvent(event) {
  const copy = structuredClone(event);
  if (copy.holter?.source !== undefined) delete copy.holter.source;

  if (readPath(event, 'winlog') === undefined) return copy;
  const data = readPath(event, 'winlog.event_data') ?? {};
  for (const [key, value] of Object.entries(data)) {
    if (!(key in copy)) copy[key] = value;
    const unspaced = key.replaceAll(' ', '');
    if (!(unspaced in copy)) copy[unspaced] = value;
  }
  for (const [name, paths] of WINDOWS_SYSTEM_FIELDS) {
    const value = paths.map((path) => readPath(event, path)).find((found) => found !== undefined);
    if (value !== undefined) copy[name] = value;
  }
  return copy;
}

/**
 * Runs `rsigma engine eval` over the events and returns its results (one object per detection
 * or correlation firing). Throws with RSigma's own message when it exits with an error.
 */
export function runRsigma(command, rulesPath, events, extraArgs = []) {
  const input = events.map((event) => JSON.stringify(event)).join('\n') + '\n';
  const args = ['engine', 'eval', '-r', rulesPath, '--output-format', 'ndjson', '--quiet', '--include-event', ...extraArgs];
  const run = spawnSync(command, args, { input, encoding: 'utf8', maxBuffer: 512 * 2 ** 20 });
  if (run.error !== undefined) throw new Error(`rsigma could not be started: ${run.error.message}`);
  if (run.status !== 0) throw new Error(`rsigma ${args.join(' ')} exited with status ${run.status}: ${run.stderr.trim().slice(0, 2000)}`);
  return run.stdout
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => JSON.parse(line));
}
