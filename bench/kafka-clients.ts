/**
 * `npm run bench:kafka-clients`: raw consume rate of the Kafka client libraries Holter could use,
 * beside Kafka's own Java consumer performance tool, on one topic of simulated hospital records.
 * Each consumer reads the whole topic from the earliest offset in a consumer group of its own and
 * does nothing with the records. Its rate is the records over the time from the first record to the
 * last. So the group join is left out, as ConsumerPerformance's `fetch.nMsg.sec` leaves it out.
 * The rounds are interleaved so that a slow moment of the shared machine hits every consumer alike.
 *
 * Only kafkajs is a dependency of Holter. The other clients are looked up in the folder named by
 * HOLTER_KAFKA_CLIENTS_DIR, whose `node_modules` contains them. A client that is not found, or
 * does not load there, gets a skip line instead of a row. To set such a folder up:
 *
 *   mkdir -p /tmp/kclients && cd /tmp/kclients && npm init -y
 *   npm install --engine-strict=false @platformatic/kafka@2.12.1
 *   CKJS_LINKING=dynamic npm install @confluentinc/kafka-javascript@1.10.1
 *
 * Without GitHub access, the confluent install cannot download its prebuilt binary, and its default
 * source build fails as it downloads zlib, OpenSSL, zstd and curl. CKJS_LINKING=dynamic builds
 * librdkafka against the system's OpenSSL and zlib instead (Debian: libssl-dev, zlib1g-dev).
 *
 * @platformatic/kafka 2.12.1 needs Node.js 22 or later: on Node.js 20 every call that returns a
 * promise fails, as Promise.withResolvers does not exist there. HOLTER_BENCH_CLIENTS_SHIM=1 defines
 * it for this process, so that the library can be measured on Node.js 20; its rows then say so.
 *
 * It needs Kafka (`scripts/services start`); HOLTER_KAFKA_PORT selects its port.
 * HOLTER_BENCH_CLIENTS_RECORDS (default 200000) and HOLTER_BENCH_CLIENTS_ROUNDS (default 3) set the
 * size of the run.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { simulateHospital } from '../src/sim/index.js';
import { KAFKA_BROKER, createTopic, kafka, produce, requireServices, uniqueName } from '../test/integration/helpers.js';
import { REPO_ROOT } from '../test/helpers/paths.js';

const RECORDS = positiveInteger('HOLTER_BENCH_CLIENTS_RECORDS', 200_000);
const ROUNDS = positiveInteger('HOLTER_BENCH_CLIENTS_ROUNDS', 3);
const CLIENTS_DIR = process.env.HOLTER_KAFKA_CLIENTS_DIR;
const SHIM = process.env.HOLTER_BENCH_CLIENTS_SHIM === '1';
/** Maximum wait for one consumer to read the whole topic. */
const READ_TIMEOUT_MS = 300_000;

const execFileAsync = promisify(execFile);

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`Invalid ${name}=${JSON.stringify(raw)}: expected a whole number above 0.`);
  return value;
}

/** One consumer under test: reads `records` records of `topic` and returns records per second. */
interface Candidate {
  name: string;
  version: string;
  read(topic: string, records: number): Promise<number>;
}

/**
 * Returns the first `count` records of a simulated hospital week, in event-time order. A week makes
 * about 290 records per staff member, so the staff grows with `count`.
 */
function simulatedTexts(count: number): string[] {
  const hospital = simulateHospital({ days: 7, staff: Math.max(200, Math.ceil(count / 250)), incidents: false, traps: false });
  const texts: string[] = [];
  for (const record of hospital.records()) {
    if (texts.length === count) break;
    texts.push(record.text);
  }
  if (texts.length < count) throw new Error(`The simulation has ${texts.length} records, fewer than the ${count} requested.`);
  return texts;
}

/** Runs Kafka's ConsumerPerformance, whose `fetch.nMsg.sec` leaves out the group join. */
async function javaRate(topic: string, records: number): Promise<number> {
  const script = path.join(REPO_ROOT, 'scripts', 'services');
  const { stdout } = await execFileAsync(script, ['kafka-consumer-perf', '--bootstrap-server', KAFKA_BROKER, '--topic', topic, '--num-records', String(records), '--group', uniqueName('bench-clients-java')], { timeout: READ_TIMEOUT_MS });
  const lines = stdout.trim().split('\n');
  const headerIndex = lines.findIndex((line) => line.includes('fetch.nMsg.sec'));
  const header = lines[headerIndex]?.split(',').map((name) => name.trim());
  const values = lines[headerIndex + 1]?.split(',').map((value) => value.trim());
  const column = header?.indexOf('fetch.nMsg.sec') ?? -1;
  if (header === undefined || values === undefined || column < 0) throw new Error(`Unexpected kafka-consumer-perf output:\n${stdout}`);
  return Number(values[column]);
}

/**
 * Waits until `done` returns true. Throws the error that `failure` returns as soon as there is one
 * (pollUntil would keep it until its timeout), or a timeout error after READ_TIMEOUT_MS.
 */
async function waitForRecords(description: string, done: () => boolean, failure: () => Error | undefined): Promise<void> {
  const deadline = Date.now() + READ_TIMEOUT_MS;
  while (!done()) {
    const error = failure();
    if (error !== undefined) throw error;
    if (Date.now() > deadline) throw new Error(`Timed out after ${READ_TIMEOUT_MS} ms waiting for ${description}.`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Records over the span from the first record to the last, per second.
 * NOTE: the fetch of the first batch is not timed, so topics of a few thousand records, which
 * arrive in a few batches, give inflated rates. Keep HOLTER_BENCH_CLIENTS_RECORDS large.
 */
function rate(received: number, firstAt: number, lastAt: number): number {
  if (received < 2 || lastAt <= firstAt) throw new Error(`Too few records (${received}) or too short a span to time.`);
  return (received / (lastAt - firstAt)) * 1000;
}

/** kafkajs through Holter's client seam, resolving every offset and nothing else. */
async function kafkajsRate(topic: string, records: number): Promise<number> {
  const consumer = kafka.consumer({ groupId: uniqueName('bench-clients-kafkajs'), sessionTimeoutMs: 10_000, maxBytesPerPartition: 1_048_576 });
  let received = 0;
  let firstAt = 0;
  let lastAt = 0;
  let crash: Error | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe([topic], true);
    await consumer.run(
      async (batch, control) => {
        if (firstAt === 0) firstAt = performance.now();
        for (const message of batch.messages) control.resolveOffset(message.offset);
        received += batch.messages.length;
        lastAt = performance.now();
      },
      { onCrash: (error) => (crash = error) },
    );
    await waitForRecords(`kafkajs to read ${records} records`, () => received >= records, () => crash);
  } finally {
    await consumer.stop();
    await consumer.disconnect();
  }
  return rate(received, firstAt, lastAt);
}

/** Loads a package from HOLTER_KAFKA_CLIENTS_DIR, or returns why it cannot. */
async function loadClient(name: string): Promise<{ module: unknown; version: string } | { skip: string }> {
  if (CLIENTS_DIR === undefined) return { skip: 'HOLTER_KAFKA_CLIENTS_DIR is not set' };
  const require = createRequire(path.join(path.resolve(CLIENTS_DIR), 'package.json'));
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    return { skip: `not installed in ${CLIENTS_DIR}` };
  }
  // Read directly: a package's "exports" may not list its package.json.
  const packageFile = path.join(path.resolve(CLIENTS_DIR), 'node_modules', name, 'package.json');
  const version = (JSON.parse(readFileSync(packageFile, 'utf8')) as { version?: string }).version ?? 'unknown';
  try {
    return { module: await import(pathToFileURL(entry).href), version };
  } catch (error) {
    return { skip: `installed in ${CLIENTS_DIR} but does not load: ${(error as Error).message.split('\n')[0] ?? ''}` };
  }
}

/** The parts of @platformatic/kafka's consumer this benchmark uses. */
interface PlatformaticModule {
  Consumer: new (options: Record<string, unknown>) => {
    consume(options: Record<string, unknown>): Promise<NodeJS.EventEmitter & { close(): Promise<void> }>;
    close(force?: boolean): Promise<void>;
  };
}

function platformaticCandidate(module: PlatformaticModule, version: string, groupProtocol: 'classic' | 'consumer', shimmed: boolean): Candidate {
  return {
    name: `@platformatic/kafka, ${groupProtocol} group protocol${shimmed ? ', Promise.withResolvers shim' : ''}`,
    version,
    read: async (topic, records) => {
      const consumer = new module.Consumer({
        groupId: uniqueName(`bench-clients-platformatic-${groupProtocol}`),
        clientId: 'holter-bench',
        bootstrapBrokers: [KAFKA_BROKER],
        groupProtocol,
        ...(groupProtocol === 'classic' ? { sessionTimeout: 10_000, heartbeatInterval: 1000 } : {}),
        maxBytesPerPartition: 1_048_576,
      });
      let received = 0;
      let firstAt = 0;
      let lastAt = 0;
      let failure: Error | undefined;
      try {
        const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
        stream.on('error', (error: Error) => (failure = error));
        stream.on('data', () => {
          if (firstAt === 0) firstAt = performance.now();
          received++;
          lastAt = performance.now();
        });
        await waitForRecords(`@platformatic/kafka to read ${records} records`, () => received >= records, () => failure);
        await stream.close();
      } finally {
        await consumer.close(true);
      }
      return rate(received, firstAt, lastAt);
    },
  };
}

/** The parts of @confluentinc/kafka-javascript's KafkaJS-compatible API this benchmark uses. */
interface ConfluentModule {
  KafkaJS: {
    Kafka: new (config: Record<string, unknown>) => {
      consumer(config: Record<string, unknown>): {
        connect(): Promise<void>;
        subscribe(options: { topics: string[] }): Promise<void>;
        run(options: { eachBatch: (payload: { batch: { messages: { offset: string }[] }; resolveOffset(offset: string): void }) => Promise<void> }): Promise<void>;
        disconnect(): Promise<void>;
      };
    };
  };
}

/**
 * `maxBatch` is `js.consumer.max.batch.size`: the library's default of 32 records per eachBatch
 * call, or -1 for every record already fetched.
 */
function confluentCandidate(loaded: unknown, version: string, maxBatch: number, groupProtocol: 'classic' | 'consumer'): Candidate {
  // The package is CommonJS, so its exports arrive as the default export.
  const module = ((loaded as { default?: unknown }).default ?? loaded) as ConfluentModule;
  return {
    name: `@confluentinc/kafka-javascript, KafkaJS API, batches of ${maxBatch === -1 ? 'any size' : `at most ${maxBatch}`}, ${groupProtocol} group protocol`,
    version,
    read: async (topic, records) => {
      const client = new module.KafkaJS.Kafka({ kafkaJS: { brokers: [KAFKA_BROKER], clientId: 'holter-bench', logLevel: 1 } });
      const consumer = client.consumer({
        kafkaJS: { groupId: uniqueName('bench-clients-confluent'), fromBeginning: true, autoCommit: false, ...(groupProtocol === 'classic' ? { sessionTimeout: 10_000 } : {}) },
        'js.consumer.max.batch.size': maxBatch,
        'group.protocol': groupProtocol,
      });
      let received = 0;
      let firstAt = 0;
      let lastAt = 0;
      await consumer.connect();
      try {
        await consumer.subscribe({ topics: [topic] });
        await consumer.run({
          eachBatch: async ({ batch, resolveOffset }) => {
            if (firstAt === 0) firstAt = performance.now();
            for (const message of batch.messages) resolveOffset(message.offset);
            received += batch.messages.length;
            lastAt = performance.now();
          },
        });
        await waitForRecords(`@confluentinc/kafka-javascript to read ${records} records`, () => received >= records, () => undefined);
      } finally {
        await consumer.disconnect();
      }
      return rate(received, firstAt, lastAt);
    },
  };
}

/** Defines Promise.withResolvers (ES2024) where it is missing, and returns whether it did. */
function definePromiseWithResolvers(): boolean {
  const promiseConstructor = Promise as unknown as { withResolvers?: unknown };
  if (typeof promiseConstructor.withResolvers === 'function') return false;
  promiseConstructor.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((onResolve, onReject) => {
      resolve = onResolve;
      reject = onReject;
    });
    return { promise, resolve, reject };
  };
  return true;
}

async function candidates(): Promise<Candidate[]> {
  const kafkajsVersion = (createRequire(import.meta.url)('kafkajs/package.json') as { version: string }).version;
  const list: Candidate[] = [
    { name: 'Kafka ConsumerPerformance (Java)', version: 'the broker\'s', read: javaRate },
    { name: 'kafkajs eachBatch, through the seam', version: kafkajsVersion, read: kafkajsRate },
  ];
  const platformatic = await loadClient('@platformatic/kafka');
  if ('skip' in platformatic) console.log(`skip @platformatic/kafka: ${platformatic.skip}`);
  else {
    const shimmed = SHIM && definePromiseWithResolvers();
    list.push(platformaticCandidate(platformatic.module as PlatformaticModule, platformatic.version, 'classic', shimmed));
    list.push(platformaticCandidate(platformatic.module as PlatformaticModule, platformatic.version, 'consumer', shimmed));
  }
  const confluent = await loadClient('@confluentinc/kafka-javascript');
  if ('skip' in confluent) console.log(`skip @confluentinc/kafka-javascript: ${confluent.skip}`);
  else {
    list.push(confluentCandidate(confluent.module, confluent.version, 32, 'classic'));
    list.push(confluentCandidate(confluent.module, confluent.version, -1, 'classic'));
    list.push(confluentCandidate(confluent.module, confluent.version, -1, 'consumer'));
  }
  return list;
}

function formatRate(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function main(): Promise<void> {
  await requireServices();
  const list = await candidates();
  const texts = simulatedTexts(RECORDS);
  const topic = uniqueName('bench-clients');
  await createTopic(topic, 1);
  await produce(topic, texts.map((text, index) => ({ key: `record-${index}`, value: text })));
  console.log(`topic ${topic}: ${RECORDS} simulated hospital records, one partition`);

  const rates = new Map<Candidate, number[]>(list.map((candidate) => [candidate, []]));
  const failures = new Map<Candidate, string>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const candidate of list) {
      if (failures.has(candidate)) continue;
      try {
        const value = await candidate.read(topic, RECORDS);
        rates.get(candidate)?.push(value);
        console.log(`round ${round}: ${candidate.name}: ${formatRate(value)} records/s`);
      } catch (error) {
        failures.set(candidate, (error as Error).message.split('\n')[0] ?? String(error));
        console.log(`round ${round}: ${candidate.name}: failed: ${failures.get(candidate) ?? ''}`);
      }
    }
  }

  const reference = median(rates.get(list[0] as Candidate) ?? []);
  console.log(`\nRaw consume rate, ${RECORDS} records, one partition, ${ROUNDS} interleaved rounds (median, then every round)\n`);
  console.log('| consumer | version | records/s (median) | vs Java | rounds |');
  console.log('| --- | --- | ---: | ---: | --- |');
  for (const candidate of list) {
    const values = rates.get(candidate) ?? [];
    const failure = failures.get(candidate);
    if (values.length === 0) {
      console.log(`| ${candidate.name} | ${candidate.version} | failed | - | ${failure ?? ''} |`);
      continue;
    }
    const middle = median(values);
    const ratio = Number.isFinite(reference) && reference > 0 ? `${(middle / reference).toFixed(2)}x` : '-';
    console.log(`| ${candidate.name} | ${candidate.version} | ${formatRate(middle)} | ${ratio} | ${values.map(formatRate).join(', ')}${failure === undefined ? '' : `; then failed: ${failure}`} |`);
  }
}

await main();
