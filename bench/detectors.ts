/**
 * Detector benchmark. It measures the heap bytes per entity of each detector file under
 * detectors/ (the shipped ones and the examples) at 10,000 and 100,000 users. It then measures
 * the CPU time per event at 100,000 users with every detector on, beside the Sigma rules alone,
 * over the same events, each row in a process of its own, for two workloads (see Workload): one
 * event per user at a time, and sessions of several events interleaved.
 *
 * Events are made and processed one at a time, as the pipeline decodes and detects one record at
 * a time. The figure is the CPU time of the whole loop, garbage collection included, minus that
 * of the same loop without a stage. What a detector keeps of an event is paid for in collections
 * that can run while later events are made, so timing only the calls into the stage misses it.
 *
 * Run compiled, with garbage collection exposed: `node --expose-gc dist/bench/detectors.js`, with
 * `--rates` for the CPU table alone.
 * HOLTER_BENCH_USERS sets the user counts (default `10000,100000`); the last one is used for the
 * rates. HOLTER_BENCH_OPEN_SESSIONS sets how many users' sessions interleave in the session
 * workload (default 256). The events are synthetic enriched events (record reads, image
 * retrievals, sign-ins), because the simulator's hospital is too small for 100,000 users.
 */
import { spawnSync } from 'node:child_process';
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
const USER_COUNTS = (process.env.HOLTER_BENCH_USERS ?? '10000,100000').split(',').map((text) => wholeNumber('HOLTER_BENCH_USERS', text));
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Monday 2026-10-05 00:00 in New York. */
const START = Date.parse('2026-10-05T04:00:00Z');
/** Local hours of work, 09:00 to 13:00: one event per user in each (4 in the session workload). */
const HOURS = [9, 10, 11, 12];
const ROLES: Array<[string, string]> = [
  ['nurse', 'ccu'],
  ['cardiologist', 'cardiology-ward'],
  ['radiographer', 'radiology'],
  ['billing-clerk', 'billing'],
  ['resident', 'cardiology-ward'],
  ['echo-tech', 'echo-lab'],
];
/**
 * Patients whose records the users read. A prime, so that a user whose events come a fixed
 * number of events apart still reads a new patient each time.
 */
const PATIENTS = 999_983;
/** Filler that makes a token as long as the enricher's (`pt_` and 32 hex digits). */
const TOKEN_FILLER = '5f1e0c3a9b7d2e4f6a8c0b1d';

/** Returns the patient token of the `n`th event: the patient number in 8 hex digits, then filler. */
function patientToken(n: number): string {
  return `pt_${((n * 7919) % PATIENTS).toString(16).padStart(8, '0')}${TOKEN_FILLER}`;
}

/** Parses a positive whole number from an environment variable, or exits with an error naming the variable and value. */
function wholeNumber(name: string, text: string): number {
  const value = Number(text);
  if (/^[1-9][0-9]*$/.test(text) && Number.isSafeInteger(value)) return value;
  process.stderr.write(`invalid ${name} entry "${text}": expected a positive whole number. Unset ${name} for the default.\n`);
  process.exit(2);
}

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
      holter: { source: { input: 'bench', format: 'fhir' }, user: holterUser, patient: { token: patientToken(n), vip: false, employee: false, deceased: false, self_access: false }, record: { type: 'Patient' } },
    };
  }
  if (kind < 9) {
    return {
      ...base,
      event: { id: `e-${n}`, kind: 'event', category: ['file'], type: ['access'], action: 'dicom-instances-transferred', outcome: 'success', dataset: 'dicom.audit', module: 'dicom' },
      holter: { source: { input: 'bench', format: 'dicom-audit' }, user: holterUser, patient: { token: patientToken(n) }, dicom: { study_count: 1 + (n % 3), instance_count: 40, bytes: 20_000_000 } },
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
 * The order in which the events of one hour reach the stages.
 * - `one by one`: one event per user and hour, and no two events in a row from the same user. Every
 *   event finds its user's state cold in the CPU caches and starts a new hour of it (and the first
 *   record read of a day a new day): the worst case for state per user.
 * - `sessions`: each user's hour is a session of SESSION_EVENTS events, and OPEN_SESSIONS sessions
 *   are open at once with their events interleaved, as the audit records of users working at the
 *   same time interleave in an EHR's stream. A user's next event comes about OPEN_SESSIONS events
 *   after their last.
 */
type Workload = 'one by one' | 'sessions';
const WORKLOADS: readonly Workload[] = ['one by one', 'sessions'];
const SESSION_EVENTS = 4;
const OPEN_SESSIONS = wholeNumber('HOLTER_BENCH_OPEN_SESSIONS', process.env.HOLTER_BENCH_OPEN_SESSIONS ?? '256');
/** Days fed per rate row, and the first timed day: the first day builds every user's state. */
const DAYS: Record<Workload, { days: number; timedFromDay: number }> = {
  'one by one': { days: 3, timedFromDay: 1 },
  sessions: { days: 2, timedFromDay: 1 },
};

/**
 * Feeds `days` working days for `users` users through the stages in event-time order, with the
 * event's time as the watermark, so the watermark never goes back. Each event is made and then
 * processed by every stage before the next is made. Returns the process CPU time in microseconds
 * (all threads, so the collector's helper threads count) and the number of events over the days
 * from `timedFromDay`.
 */
function feed(stages: DetectionStage[], users: number, days: number, timedFromDay = 0, workload: Workload = 'one by one'): { cpuUs: number; events: number } {
  const perUser = workload === 'sessions' ? SESSION_EVENTS : 1;
  const openAtOnce = workload === 'sessions' ? OPEN_SESSIONS : 1;
  let n = 0;
  let events = 0;
  let started: NodeJS.CpuUsage | undefined;
  for (let day = 0; day < days; day += 1) {
    if (day === timedFromDay) started = process.cpuUsage();
    for (const [hourIndex, hour] of HOURS.entries()) {
      const hourStart = START + day * DAY + hour * HOUR;
      const slot = day * HOURS.length + hourIndex;
      const hourEvents = users * perUser;
      let index = 0;
      // Sessions open in blocks; each round of a block takes one event from each of its users.
      for (let block = 0; block < users; block += openAtOnce) {
        const blockEnd = Math.min(users, block + openAtOnce);
        for (let round = 0; round < perUser; round += 1) {
          for (let user = block; user < blockEnd; user += 1) {
            const event = eventOf(user, hourStart + Math.floor((index * HOUR) / (hourEvents + 1)), slot, (n += 1));
            index += 1;
            const watermarkMs = Date.parse(event['@timestamp']);
            for (const stage of stages) stage.process(event, watermarkMs);
          }
        }
      }
      if (day >= timedFromDay) events += hourEvents;
    }
  }
  if (started === undefined) return { cpuUs: 0, events: 0 };
  const used = process.cpuUsage(started);
  return { cpuUs: used.user + used.system, events };
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

/** Returns the rows of the rate table, each a name and a function that makes the row's stages. */
function rateRows(): Array<[string, () => Promise<DetectionStage[]>]> {
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
  return [
    [NO_STAGE, async () => []],
    [RULES_ROW, async () => [await rules()]],
    ...files.map((file): [string, () => Promise<DetectionStage[]>] => [path.relative(REPO_ROOT, file), async () => [await loadOne(file)]]),
    [`detectors/ (${shippedCount} shipped)`, async () => [await shipped()]],
    [`detectors/ and examples/ (${files.length})`, async () => [await detectors()]],
    [`Sigma rules + ${shippedCount} shipped detectors`, async () => [await rules(), await shipped()]],
    [`Sigma rules + all ${files.length} detectors`, async () => [await rules(), await detectors()]],
  ];
}

const NO_STAGE = 'making the events, no stage';
const RULES_ROW = 'Sigma rules only (reference)';
const ROW_ARGUMENT = '--rate-row';
const WORKLOAD_ARGUMENT = '--workload';
/** Users below which the target lines give no verdict. */
const MIN_USERS_FOR_VERDICT = 10_000;

/**
 * Measures one row of the rate table in this process and prints its CPU time per event as JSON.
 * The first day builds the state of every user, and the days after it are timed.
 */
async function measureRow(index: number, workload: Workload): Promise<void> {
  const users = USER_COUNTS[USER_COUNTS.length - 1] as number;
  const [, make] = rateRows()[index] as [string, () => Promise<DetectionStage[]>];
  const { days, timedFromDay } = DAYS[workload];
  const { cpuUs, events } = feed(await make(), users, days, timedFromDay, workload);
  process.stdout.write(`${JSON.stringify({ loopUs: cpuUs / events, events })}\n`);
}

/**
 * Measures every row of one workload in a process of its own, so that no row inherits the heap an
 * earlier row left. In one process, the loop without a stage took about a quarter more CPU per
 * event after the rows than before them. The loop without a stage runs first and last, and the
 * mean of the two is subtracted from every row. Returns the shipped detectors' ratio to the rules.
 */
function measureRates(workload: Workload): number {
  const users = USER_COUNTS[USER_COUNTS.length - 1] as number;
  const rows = rateRows();
  const runRow = (index: number): { loopUs: number; events: number } => {
    const args = ['--expose-gc', fileURLToPath(import.meta.url), ROW_ARGUMENT, String(index), WORKLOAD_ARGUMENT, workload];
    const child = spawnSync(process.execPath, args, { encoding: 'utf8', env: process.env, maxBuffer: 1 << 20 });
    if (child.status !== 0) throw new Error(`The rate row "${rows[index]?.[0]}" failed with exit code ${child.status}: ${child.stderr}`);
    return JSON.parse(child.stdout.trim().split('\n').pop() as string) as { loopUs: number; events: number };
  };

  const emptyBefore = runRow(0).loopUs;
  const measured = rows.slice(1).map(([name], offset) => ({ name, ...runRow(offset + 1) }));
  const emptyAfter = runRow(0).loopUs;
  const loopUs = (emptyBefore + emptyAfter) / 2;

  const stageUsOf = (row: { loopUs: number } | undefined): number => (row?.loopUs ?? 0) - loopUs;
  const reference = stageUsOf(measured.find((row) => row.name === RULES_ROW));
  const tableRows = measured.map((row) => {
    const stageUs = stageUsOf(row);
    // A stage cheaper than the noise of the loop without it has no meaningful rate.
    if (stageUs <= 0) return [row.name, stageUs.toFixed(2), 'below the noise', '', `${row.events}`];
    return [row.name, stageUs.toFixed(2), Math.round(1e6 / stageUs).toLocaleString('en-US'), `${(stageUs / reference).toFixed(2)}x rules`, `${row.events}`];
  });
  process.stdout.write(`Workload "${workload}". The loop without a stage took ${emptyBefore.toFixed(2)} µs per event first and ${emptyAfter.toFixed(2)} µs last.\n`);
  printTable([`stages at ${users} users`, 'CPU µs/event', 'events/s per core', 'CPU vs rules only', 'timed events'], tableRows);

  const shipped = measured.find((row) => row.name.startsWith('detectors/ ('));
  return stageUsOf(shipped) / reference;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, index) => Math.max(title.length, ...rows.map((row) => (row[index] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((cell, index) => cell.padEnd(widths[index] as number)).join(' | ')} |`;
  process.stdout.write(`${line(header)}\n|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
  process.stdout.write('\n');
}

async function main(): Promise<void> {
  const rowIndex = process.argv.indexOf(ROW_ARGUMENT);
  if (rowIndex >= 0) {
    const workload = process.argv[process.argv.indexOf(WORKLOAD_ARGUMENT) + 1] as Workload;
    await measureRow(Number(process.argv[rowIndex + 1]), workload);
    return;
  }
  if (gc === undefined) process.stderr.write('warning: run with node --expose-gc; heap figures include garbage without it\n');
  process.stdout.write(`Node ${process.version}, ${HOURS.length} hours per user and day\n\n`);
  if (!process.argv.includes('--rates')) await measureBytes();

  const users = USER_COUNTS[USER_COUNTS.length - 1] as number;
  process.stdout.write(
    "CPU µs/event: process CPU time per timed event of a row's loop, minus the mean of the loop without a stage.\n" +
      'events/s per core: one million divided by that, the rate one core would reach on the stage alone.\n' +
      `Workload "one by one": one event per user and hour, never two in a row from one user (the worst case for per-user state).\n` +
      `Workload "sessions": ${SESSION_EVENTS} events per user and hour, ${Math.min(OPEN_SESSIONS, users)} sessions of different users interleaved at a time.\n\n`,
  );
  const ratios = WORKLOADS.map((workload) => [workload, measureRates(workload)] as const);
  for (const [workload, ratio] of ratios) {
    // With few users the loop is too short for its CPU time to stand out from the noise.
    let verdict = ratio <= 1 ? 'met' : 'NOT met';
    if (users < MIN_USERS_FOR_VERDICT) verdict = `not judged below ${MIN_USERS_FOR_VERDICT} users`;
    process.stdout.write(`target, workload "${workload}": the shipped detectors cost no more CPU per event than the Sigma rules: ${verdict} (${ratio.toFixed(2)}x the rules, one run: compare several)\n`);
  }
  // The worst case cannot make a heavy stream: its rate is bounded by one event per user and hour.
  const perSecond = users / 3600;
  process.stdout.write(`With ${users} ${users === 1 ? 'user' : 'users'}, one event per user and hour is about ${perSecond >= 10 ? Math.round(perSecond) : perSecond.toPrecision(2)} events per second. A stream fast enough for the CPU per event to matter has several events per user and hour, as in "sessions".\n`);
}

await main();
