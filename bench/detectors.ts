/**
 * Detector benchmark. It measures the heap bytes per entity of each detector file under
 * detectors/ (the shipped ones and the examples) at 10,000 and 100,000 users. It then measures
 * events per second at 100,000 users with every detector on, beside the Sigma rules alone, in the
 * same run over the same events.
 *
 * Run compiled, with garbage collection exposed: `node --expose-gc dist/bench/detectors.js`.
 * HOLTER_BENCH_USERS sets the user counts (default `10000,100000`); the last one is used for the
 * rates. The events are synthetic enriched events (record reads, image retrievals, sign-ins),
 * because the simulator's hospital is too small for 100,000 users.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HolterEvent } from '../src/event.js';
import { BaselineStage, loadDetectors } from '../src/detect/baseline/index.js';
import { loadSigmaRules } from '../src/detect/sigma/index.js';
import type { DetectionStage } from '../src/detect/types.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DETECTORS_DIR = path.join(REPO_ROOT, 'detectors');
const ZONE = 'America/New_York';
const USER_COUNTS = (process.env.HOLTER_BENCH_USERS ?? '10000,100000').split(',').map(Number);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Monday 2026-10-05 00:00 in New York. */
const START = Date.parse('2026-10-05T04:00:00Z');
/** Working hours with one event per user each (local 09:00 to 12:00). */
const HOURS = [9, 10, 11, 12];
const ROLES: Array<[string, string]> = [
  ['nurse', 'ccu'],
  ['cardiologist', 'cardiology-ward'],
  ['radiographer', 'radiology'],
  ['billing-clerk', 'billing'],
  ['resident', 'cardiology-ward'],
  ['echo-tech', 'echo-lab'],
];

const gc = (globalThis as { gc?: () => void }).gc;

/**
 * Returns the synthetic event of `user` at `ms` in hour slot `slot`: 70% record reads, 20% image
 * retrievals, 10% sign-ins over a user's slots. `n` is the event's sequence number.
 */
function eventOf(user: number, ms: number, slot: number, n: number): HolterEvent {
  const [role, department] = ROLES[user % ROLES.length] as [string, string];
  const kind = (user * 7 + slot) % 10;
  const ip = `10.${20 + (user % 20)}.${(user >> 8) & 255}.${user & 255}`;
  let observer = 'okta.example.org';
  if (kind < 7) observer = 'ehr.example.org';
  else if (kind < 9) observer = 'pacs.example.org';
  const base = { '@timestamp': new Date(ms).toISOString(), source: { ip }, observer: { name: observer } };
  const holterUser = { id: `u-${user}`, known: true, role, department, time_zone: ZONE };
  if (kind < 7) {
    return {
      ...base,
      event: { id: `e-${n}`, kind: 'event', category: ['database'], type: ['access'], action: 'read', outcome: 'success', dataset: 'fhir.audit_event', module: 'fhir' },
      holter: { source: { input: 'bench', format: 'fhir' }, user: holterUser, patient: { token: `pt-${(n * 7919) % 50_000}`, vip: false, employee: false, deceased: false, self_access: false }, record: { type: 'Patient' } },
    };
  }
  if (kind < 9) {
    return {
      ...base,
      event: { id: `e-${n}`, kind: 'event', category: ['file'], type: ['access'], action: 'dicom-instances-transferred', outcome: 'success', dataset: 'dicom.audit', module: 'dicom' },
      holter: { source: { input: 'bench', format: 'dicom-audit' }, user: holterUser, patient: { token: `pt-${(n * 7919) % 50_000}` }, dicom: { study_count: 1 + (n % 3), instance_count: 40, bytes: 20_000_000 } },
    };
  }
  return {
    ...base,
    event: { id: `e-${n}`, kind: 'event', category: ['authentication', 'session'], type: ['start'], action: 'user.session.start', outcome: 'success', dataset: 'okta.system', module: 'okta' },
    user: { name: `user${user}@example.org` },
    holter: { source: { input: 'bench', format: 'okta' }, user: holterUser },
  };
}

/**
 * Feeds `days` working days for `users` users through the stages, one event per user and hour,
 * in event-time order, and returns the milliseconds spent in the stages on days from `timedFromDay`.
 */
function feed(stages: DetectionStage[], users: number, days: number, timedFromDay = 0): { ms: number; events: number } {
  let n = 0;
  let ms = 0;
  let events = 0;
  const chunk: HolterEvent[] = [];
  for (let day = 0; day < days; day += 1) {
    for (const [hourIndex, hour] of HOURS.entries()) {
      const hourStart = START + day * DAY + hour * HOUR;
      const slot = day * HOURS.length + hourIndex;
      for (let first = 0; first < users; first += 10_000) {
        chunk.length = 0;
        const last = Math.min(users, first + 10_000);
        for (let user = first; user < last; user += 1) chunk.push(eventOf(user, hourStart + Math.floor(((user - first) * HOUR) / (last - first + 1)), slot, (n += 1)));
        const started = process.hrtime.bigint();
        for (const event of chunk) {
          const watermarkMs = Date.parse(event['@timestamp']);
          for (const stage of stages) stage.process(event, watermarkMs);
        }
        if (day >= timedFromDay) {
          ms += Number(process.hrtime.bigint() - started) / 1e6;
          events += chunk.length;
        }
      }
    }
  }
  return { ms, events };
}

/** Heap in use after garbage collection, plus array buffers: a Float64Array's storage lives outside the V8 heap. */
function heapUsed(): number {
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

async function loadOne(file: string): Promise<BaselineStage> {
  const { stage, errors } = await loadDetectors([file], { defaultTimeZone: ZONE });
  if (errors.length > 0) throw new Error(errors.map((error) => error.describe()).join('\n'));
  return stage;
}

function detectorFiles(): string[] {
  const files: string[] = [];
  for (const folder of [DETECTORS_DIR, path.join(DETECTORS_DIR, 'examples')]) {
    for (const name of readdirSync(folder).filter((entry) => /\.ya?ml$/.test(entry)).sort()) files.push(path.join(folder, name));
  }
  return files;
}

/**
 * Returns the heap that one detector's state takes per entity after `users` users' events, and
 * the number of entities. The stage is loaded before the first reading, so compiled filters and
 * caches do not count, and it is unreachable once this returns.
 */
async function bytesPerEntity(file: string, users: number): Promise<{ bytes: number; entities: number }> {
  let stage: BaselineStage | undefined = await loadOne(file);
  stage.flush(START);
  const before = heapUsed();
  feed([stage], users, 3);
  // Close the open windows, so the figure is the learned state that stays between events.
  stage.flush(START + 30 * DAY);
  const after = heapUsed();
  const entities = stage.stats()[`${stage.detectorIds[0]}.entities`] ?? 0;
  stage = undefined;
  return { bytes: (after - before) / Math.max(1, entities), entities };
}

async function measureBytes(): Promise<void> {
  const rows: string[][] = [];
  for (const file of detectorFiles()) {
    const row = [path.relative(REPO_ROOT, file)];
    for (const users of USER_COUNTS) {
      const { bytes, entities } = await bytesPerEntity(file, users);
      // A detector keyed by something other than users (log sources) has too few entities to divide by.
      row.push(entities < 100 ? `${entities} entities (not per user)` : `${Math.round(bytes)} B x ${entities}`);
      heapUsed();
    }
    rows.push(row);
  }
  printTable(['detector file', ...USER_COUNTS.map((users) => `${users} users: bytes/entity x entities`)], rows);
}

async function measureRates(): Promise<void> {
  const users = USER_COUNTS[USER_COUNTS.length - 1] as number;
  const rules = async (): Promise<DetectionStage> => {
    const loaded = await loadSigmaRules([path.join(REPO_ROOT, 'rules')], { timeZone: ZONE });
    if (loaded.errors.length > 0) throw new Error(loaded.errors.map((error) => error.describe()).join('\n'));
    return loaded.stage;
  };
  const detectors = async (): Promise<DetectionStage> => {
    const { stage, errors } = await loadDetectors([DETECTORS_DIR, path.join(DETECTORS_DIR, 'examples')], { defaultTimeZone: ZONE });
    if (errors.length > 0) throw new Error(errors.map((error) => error.describe()).join('\n'));
    return stage;
  };
  const shipped = async (): Promise<DetectionStage> => (await loadDetectors([DETECTORS_DIR], { defaultTimeZone: ZONE })).stage;
  // The labels count the files, so a detector added to detectors/ is named in every row.
  const files = detectorFiles();
  const shippedCount = files.filter((file) => path.dirname(file) === DETECTORS_DIR).length;

  const runs: Array<[string, () => Promise<DetectionStage[]>]> = [
    ['Sigma rules only (reference)', async () => [await rules()]],
    ...files.map((file): [string, () => Promise<DetectionStage[]>] => [path.relative(REPO_ROOT, file), async () => [await loadOne(file)]]),
    [`detectors/ (${shippedCount} shipped)`, async () => [await shipped()]],
    [`detectors/ and examples/ (${files.length})`, async () => [await detectors()]],
    [`Sigma rules + ${shippedCount} shipped detectors`, async () => [await rules(), await shipped()]],
    [`Sigma rules + all ${files.length} detectors`, async () => [await rules(), await detectors()]],
  ];
  const rows: string[][] = [];
  let reference = 0;
  for (const [name, make] of runs) {
    // One day builds the state of every user; the next two are timed.
    const { ms, events } = feed(await make(), users, 3, 1);
    const rate = (events / ms) * 1000;
    if (reference === 0) reference = rate;
    rows.push([name, `${Math.round(rate).toLocaleString('en-US')}`, `${(rate / reference).toFixed(2)}x rules`, `${events}`]);
    heapUsed();
  }
  printTable([`stages at ${users} users`, 'events/s', 'vs rules only', 'timed events'], rows);
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, index) => Math.max(title.length, ...rows.map((row) => (row[index] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((cell, index) => cell.padEnd(widths[index] as number)).join(' | ')} |`;
  process.stdout.write(`${line(header)}\n|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
  process.stdout.write('\n');
}

async function main(): Promise<void> {
  if (gc === undefined) process.stderr.write('warning: run with node --expose-gc; heap figures include garbage without it\n');
  process.stdout.write(`Node ${process.version}, ${HOURS.length} events per user and day, 3 days\n\n`);
  await measureBytes();
  await measureRates();
}

await main();
