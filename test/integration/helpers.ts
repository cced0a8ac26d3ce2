import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import { promisify } from 'node:util';
import { Client } from '@elastic/elasticsearch';
import kafkajs from 'kafkajs';
import type { Alert } from '../../src/alerts/types.js';
import { assemblePipeline } from '../../src/cli/assemble.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { simulateHospital } from '../../src/sim/index.js';
import { DeadLetterMemory } from '../../src/sinks/dead-letter/writer.js';
import { setupElasticsearch } from '../../src/sinks/elasticsearch/setup.js';
import { createElasticsearchClient } from '../../src/sinks/elasticsearch/client.js';
import type { ConsumedMessage, KafkaClient, OutgoingMessage } from '../../src/sources/kafka/client.js';
import { createKafkajsClient } from '../../src/sources/kafka/kafkajs-client.js';
import { readRecords } from '../../src/sources/file.js';
import { REPO_ROOT, SAMPLES_DIR } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/temp.js';

/**
 * Skip reason for the integration suites outside `npm run test:integration`, which sets
 * HOLTER_INTEGRATION=1: `npm test` compiles and walks dist/test/ too, and must not need the services.
 */
export const INTEGRATION_SKIP: string | false =
  process.env.HOLTER_INTEGRATION === '1' ? false : 'needs Kafka and Elasticsearch: run scripts/services start, then npm run test:integration';

export const KAFKA_BROKER = `127.0.0.1:${process.env.HOLTER_KAFKA_PORT ?? '9092'}`;
export const ELASTICSEARCH_URL = `http://127.0.0.1:${process.env.HOLTER_ES_PORT ?? '9200'}`;
const TOKEN_KEY = 'integration-test-token-key-0123456789';

export const kafka: KafkaClient = createKafkajsClient({ clientId: 'holter-integration', brokers: [KAFKA_BROKER], connectionTimeoutMs: 3000 }, silentLogger);
export const elasticsearch = new Client({ node: ELASTICSEARCH_URL, maxRetries: 0, requestTimeout: 10_000 });

/** Fails with the command to run when Kafka or Elasticsearch is not reachable. */
export async function requireServices(): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`Kafka is not reachable at ${KAFKA_BROKER} (${(error as Error).message}). Start the test services with: scripts/services start`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  try {
    await elasticsearch.info();
  } catch (error) {
    throw new Error(`Elasticsearch is not reachable at ${ELASTICSEARCH_URL} (${(error as Error).message}). Start the test services with: scripts/services start`);
  }
}

/** Returns a name no earlier run used, because the tests never delete Kafka topics or data streams. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Calls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function pollUntil<T>(description: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${description}${lastError === undefined ? '' : ` (last error: ${(lastError as Error).message})`}`);
}

export async function createTopic(name: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics([{ name, partitions }]);
  } finally {
    await admin.disconnect();
  }
}

/** Lists the consumer groups whose id starts with `prefix`, with kafkajs's admin client directly. */
export async function consumerGroups(prefix: string): Promise<string[]> {
  const admin = new kafkajs.Kafka({ clientId: 'holter-integration-groups', brokers: [KAFKA_BROKER], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    return groups.map((group) => group.groupId).filter((groupId) => groupId.startsWith(prefix));
  } finally {
    await admin.disconnect();
  }
}

export async function produce(topic: string, messages: OutgoingMessage[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let start = 0; start < messages.length; start += 200) await producer.send(topic, messages.slice(start, start + 200));
  } finally {
    await producer.disconnect();
  }
}

/** Sum over partitions of records the group has not committed yet; undefined before its first commit. */
export async function groupLag(groupId: string, topic: string): Promise<number | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = new Map((await admin.fetchCommittedOffsets(groupId, topic)).map((entry) => [entry.partition, BigInt(entry.offset)]));
    let lag = 0n;
    let anyCommitted = false;
    for (const end of await admin.fetchEndOffsets(topic)) {
      const offset = committed.get(end.partition) ?? -1n;
      if (offset >= 0n) anyCommitted = true;
      lag += BigInt(end.offset) - (offset >= 0n ? offset : 0n);
    }
    return anyCommitted ? Number(lag) : undefined;
  } finally {
    await admin.disconnect();
  }
}

/** Reads `count` records of a topic from the beginning, in a group of its own. */
export async function consumeRecords(topic: string, count: number): Promise<ConsumedMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), sessionTimeoutMs: 10_000, maxBytesPerPartition: 1_048_576 });
  const received: ConsumedMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe([topic], true);
    await consumer.run(
      async (batch, control) => {
        for (const message of batch.messages) {
          received.push(message);
          control.resolveOffset(message.offset);
        }
      },
      { onCrash: () => undefined },
    );
    await pollUntil(`${count} records in ${topic}`, async () => (received.length >= count ? true : undefined), 30_000);
  } finally {
    await consumer.stop();
    await consumer.disconnect();
  }
  return received;
}

/**
 * The sample whose failed logins (2022) make a burst. Its events are older than the other identity
 * samples, so it goes first: fed after them, its events would be late and never fill the window.
 */
const FAILED_LOGIN_SAMPLE = path.join('identity', 'crowdsec_opnsense-sshd.log');

/** Reads every record of the shared samples, split the way `holter replay` splits files. */
export async function sampleRecords(): Promise<string[]> {
  const files: string[] = [];
  for (const folder of ['identity', 'pacs', 'ehr', 'endpoint']) {
    for (const file of readdirSync(path.join(SAMPLES_DIR, folder)).sort()) files.push(path.join(folder, file));
  }
  files.sort((a, b) => Number(b === FAILED_LOGIN_SAMPLE) - Number(a === FAILED_LOGIN_SAMPLE));

  const texts: string[] = [];
  for (const file of files) {
    for await (const record of readRecords(path.join(SAMPLES_DIR, file))) texts.push(record.text);
  }
  return texts;
}

/** Generates the first `count` records of a small simulated hospital, in event-time order. */
export function simulatedRecords(count: number): string[] {
  const hospital = simulateHospital({ days: 1, staff: 40, incidents: false, traps: false });
  const texts: string[] = [];
  for (const record of hospital.records()) {
    if (texts.length === count) break;
    texts.push(record.text);
  }
  return texts;
}

export interface TestConfig {
  topic: string;
  groupId: string;
  dataStream: string;
  deadLetterTopic: string;
  rules?: string[];
  detectors?: string[];
  maxRecordBytes?: number;
  /** Defaults to 1000 ms, so tests see commits soon after the records are processed. */
  checkpointIntervalMs?: number;
  repartitionBy?: string;
  repartitionPartitions?: number;
}

/**
 * Returns the settings of a test run with a topic, consumer group, data stream and dead-letter
 * topic of its own. `extra` adds the rules, detectors and the rest.
 */
export function testSettings(name: string, extra: Partial<TestConfig> = {}): TestConfig {
  const topic = uniqueName(`it-${name}`);
  return {
    topic,
    groupId: uniqueName('it-group'),
    dataStream: `logs-holter.alerts-${uniqueName(`it${name}`).replaceAll('-', '')}`,
    deadLetterTopic: `${topic}.dead-letter`,
    ...extra,
  };
}

/**
 * A run of the stateless rule over simulated records, split in two halves: tests produce the first
 * half, start `holter run`, and make the second half meet a crash or an outage.
 */
export interface StatelessRun {
  settings: TestConfig;
  configFile: string;
  /** The alerts the in-process reference run raises over every record. */
  expected: Awaited<ReturnType<typeof expectedAlerts>>;
  /** The records not produced yet. */
  secondHalf: OutgoingMessage[];
}

/**
 * Writes the configuration with the stateless rule, computes the expected alerts, creates the
 * topic and the data stream, and produces the first half of the records.
 */
export async function startStatelessRun(name: string, records: number, partitions: number): Promise<StatelessRun> {
  const settings = testSettings(name, { rules: [writeStatelessRule()], detectors: [emptyFolder()] });
  const topic = settings.topic;
  const configFile = writeConfig(settings);
  const texts = simulatedRecords(records);
  const expected = await expectedAlerts(configFile, texts);
  if (expected.ids.size <= records / 2) throw new Error(`Only ${expected.ids.size} of ${records} records raise an alert; the stateless rule should fire on most.`);

  await createTopic(topic, partitions);
  await setupDataStream(configFile);
  const messages = texts.map((text, index) => ({ key: `record-${index}`, value: text }));
  const half = Math.floor(messages.length / 2);
  await produce(topic, messages.slice(0, half));
  return { settings, configFile, expected, secondHalf: messages.slice(half) };
}

/** Waits until the data stream contains `minimum` alerts and the group has committed once. */
export async function firstAlertsAndCommit(settings: TestConfig, minimum: number): Promise<void> {
  await pollUntil(`${minimum} alerts and a first commit`, async () => {
    const stored = await storedAlerts(settings.dataStream);
    return stored.total >= minimum && (await groupLag(settings.groupId, settings.topic)) !== undefined ? true : undefined;
  });
}

/** Writes a configuration file for `holter run` (JSON is YAML) and returns its path. */
export function writeConfig(settings: TestConfig): string {
  const directory = makeTempDir('holter-it-');
  const config: Record<string, unknown> = {
    identity: { token_key: TOKEN_KEY },
    decode: { max_record_bytes: settings.maxRecordBytes ?? 1_048_576 },
    kafka: {
      brokers: [KAFKA_BROKER],
      client_id: 'holter-integration',
      group_id: settings.groupId,
      topics: [{ name: settings.topic }],
      dead_letter_topic: settings.deadLetterTopic,
      session_timeout_ms: 10_000,
      checkpoint_interval_ms: settings.checkpointIntervalMs ?? 1000,
      ...(settings.repartitionBy === undefined ? {} : { repartition_by: settings.repartitionBy, repartition_partitions: settings.repartitionPartitions ?? 4 }),
    },
    sinks: {
      console: { enabled: false },
      elasticsearch: { nodes: [ELASTICSEARCH_URL], data_stream: settings.dataStream, index_template: `${settings.dataStream}-template`, initial_backoff_ms: 100, max_backoff_ms: 2000 },
    },
    dead_letter: { path: path.join(directory, 'dead-letter.ndjson') },
    log: { level: process.env.HOLTER_IT_LOG_LEVEL ?? 'info' },
    // Risk is checkpointed too, but an entity's risk is kept per partition: a source address seen
    // in two partitions adds up apart, unlike in the single-task reference run. The exact-set
    // comparisons of these tests therefore run without it.
    risk: { enabled: false },
  };
  if (settings.rules !== undefined) config.rules = { paths: settings.rules };
  if (settings.detectors !== undefined) config.detectors = { paths: settings.detectors };
  const file = path.join(directory, 'holter.yml');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Installs the index template for the configured data stream, as `holter setup elasticsearch` does. */
export async function setupDataStream(configFile: string): Promise<void> {
  const settings = loadConfig(configFile).sinks.elasticsearch;
  const client = createElasticsearchClient(settings);
  try {
    await setupElasticsearch(client, settings);
  } finally {
    await client.close();
  }
}

/**
 * Runs the records through the embedded pipeline in the same order, with the same configuration,
 * and ends as a graceful stop does, by closing open windows. The alerts it raises are the
 * reference for what the Kafka and Elasticsearch path must deliver.
 */
export async function expectedAlerts(configFile: string, texts: string[]): Promise<{ alerts: Alert[]; ids: Set<string>; ruleIds: Set<string>; deadLettered: number }> {
  const config = loadConfig(configFile);
  config.sinks.elasticsearch.nodes = [];
  const deadLetter = new DeadLetterMemory();
  const alerts: Alert[] = [];
  const { pipeline } = await assemblePipeline(config, { logger: silentLogger, deadLetter, onAlert: (alert) => alerts.push(alert) });
  for (const [index, text] of texts.entries()) await pipeline.push({ input: 'expected/0', offset: index, text });
  await pipeline.finish();
  await pipeline.close();
  return { alerts, ids: new Set(alerts.map((alert) => alert.event.id)), ruleIds: new Set(alerts.map((alert) => alert.rule.id)), deadLettered: deadLetter.entries.length };
}

export interface StoredAlerts {
  total: number;
  ids: string[];
  /** `rule.id` of each stored alert, in the order of `ids`. */
  ruleIds: string[];
}

/** Fetches the alert documents of a data stream after a refresh. Empty when the data stream does not exist yet. */
export async function storedAlerts(dataStream: string): Promise<StoredAlerts> {
  try {
    await elasticsearch.indices.refresh({ index: dataStream });
    const response = await elasticsearch.search<Alert>({ index: dataStream, size: 10_000, track_total_hits: true, _source: ['event.id', 'rule.id'], query: { match_all: {} } });
    const total = typeof response.hits.total === 'number' ? response.hits.total : (response.hits.total?.value ?? 0);
    return { total, ids: response.hits.hits.map((hit) => hit._id as string), ruleIds: response.hits.hits.map((hit) => hit._source?.rule.id ?? '') };
  } catch (error) {
    if ((error as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return { total: 0, ids: [], ruleIds: [] };
    throw error;
  }
}

/** `holter run` as a child process, with its standard error kept for failure messages. */
export class HolterProcess {
  private readonly child: ChildProcess;
  private output = '';
  readonly exited: Promise<number | null>;

  constructor(configFile: string) {
    // HOLTER_IT_NODE_ARGS passes flags such as --cpu-prof to the child, which NODE_OPTIONS does not allow.
    const nodeArgs = (process.env.HOLTER_IT_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
    this.child = spawn(process.execPath, [...nodeArgs, path.join(REPO_ROOT, 'bin', 'holter.js'), 'run', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    // HOLTER_IT_LOG_DIR keeps each process's whole log, for a failure the last 200,000 characters do not explain.
    const logFile = process.env.HOLTER_IT_LOG_DIR === undefined ? undefined : path.join(process.env.HOLTER_IT_LOG_DIR, `holter-${this.child.pid ?? 'unstarted'}.log`);
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      this.output = (this.output + chunk).slice(-200_000);
      if (logFile !== undefined) appendFileSync(logFile, chunk);
    });
    this.exited = once(this.child, 'exit').then(([code]) => code as number | null);
  }

  get stderr(): string {
    return this.output;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends a signal without waiting, e.g. SIGHUP to reload rules. */
  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Sends the signal and waits for the exit code (null when the signal killed it). */
  async stop(signal: NodeJS.Signals): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }
}

/**
 * Returns the list of a suite's `holter run` processes, and kills any still running after the
 * suite, also when a test failed midway. Call it inside `describe`.
 */
export function processesKilledAfterSuite(): HolterProcess[] {
  const processes: HolterProcess[] = [];
  after(async () => {
    for (const holter of processes) await holter.stop('SIGKILL');
  });
  return processes;
}

/** Creates a folder with one stateless Sigma rule that fires on every successful event. */
export function writeStatelessRule(): string {
  const directory = makeTempDir('holter-it-rules-');
  writeFileSync(
    path.join(directory, 'successful-event.yml'),
    [
      'title: Any successful event',
      'id: 5c0f4a51-4a9e-4d53-9c1e-2b8f1c7e9a10',
      'name: integration_successful_event',
      'status: test',
      'description: Fires on every successful event, so each record raises its own alert.',
      'logsource:',
      '    product: holter',
      'detection:',
      '    selection:',
      '        event.outcome: success',
      '    condition: selection',
      'level: low',
      '',
    ].join('\n'),
  );
  return directory;
}

/**
 * Creates a folder with a correlation: eight or more failed logins of one user (`user.name`)
 * within ten minutes of event time. Its base rule raises nothing on its own.
 */
export function writeFailedLoginCorrelation(): string {
  const directory = makeTempDir('holter-it-rules-');
  writeFileSync(
    path.join(directory, 'failed-login-burst.yml'),
    [
      'title: Failed login burst of one user',
      'id: 3f1d7f0e-7f7a-4c55-9d55-8a3c36f0a001',
      'name: integration_failed_login_burst',
      'status: test',
      'correlation:',
      '    type: event_count',
      '    rules:',
      '        - integration_failed_login',
      '    group-by:',
      '        - user.name',
      '    timespan: 10m',
      '    condition:',
      '        gte: 8',
      'level: medium',
      '---',
      'title: Failed login',
      'id: 3f1d7f0e-7f7a-4c55-9d55-8a3c36f0a002',
      'name: integration_failed_login',
      'status: test',
      'logsource:',
      '    product: holter',
      '    category: authentication',
      'detection:',
      '    selection:',
      '        event.category: authentication',
      '        event.outcome: failure',
      '    condition: selection',
      'level: informational',
      '',
    ].join('\n'),
  );
  return directory;
}

/** Returns an Okta System Log failed sign-in of `login` at `time`; `n` makes its uuid unique. */
export function oktaFailure(login: string, time: Date, n: number): string {
  return JSON.stringify({
    uuid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    published: time.toISOString(),
    eventType: 'user.session.start',
    severity: 'WARN',
    displayMessage: 'User login to Okta',
    actor: { id: `00u-${login}`, type: 'User', alternateId: login, displayName: 'Test User' },
    client: { ipAddress: '198.51.100.7' },
    outcome: { result: 'FAILURE', reason: 'INVALID_CREDENTIALS' },
  });
}

/**
 * Failed logins of `users` users, `perUser` each, round robin in event time 20 s apart per round,
 * keyed by user: each user's correlation window lives in one partition.
 */
export function failedLoginBursts(users: number, perUser: number, start = Date.UTC(2026, 10, 3, 9, 0, 0)): { key: string; value: string; round: number }[] {
  const records: { key: string; value: string; round: number }[] = [];
  for (let round = 0; round < perUser; round++) {
    for (let user = 0; user < users; user++) {
      const login = `user${user}@example.org`;
      const n = round * users + user;
      records.push({ key: login, value: oktaFailure(login, new Date(start + n * (20_000 / users)), n), round });
    }
  }
  return records;
}

export function emptyFolder(): string {
  return makeTempDir('holter-it-empty-');
}

const execFileAsync = promisify(execFile);

/**
 * Runs `scripts/services stop|start NAME`, which waits until the service is down or healthy. The
 * script reads HOLTER_KAFKA_PORT and HOLTER_ES_PORT itself, so it acts on the servers the suite uses.
 */
export async function services(action: 'start' | 'stop', service: 'kafka' | 'elasticsearch'): Promise<void> {
  try {
    await execFileAsync(path.join(REPO_ROOT, 'scripts', 'services'), [action, service], { timeout: 240_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`scripts/services ${action} ${service} failed: ${(error as Error).message}\n${stderr}`);
  }
}

/** Resident set size of a running process, from /proc (Linux). */
export function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`VmRSS not found in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Reads the JSON log lines of a `holter run` standard error that carry message `msg`. */
export function logEntries(stderr: string, msg: string): Record<string, unknown>[] {
  const entries: Record<string, unknown>[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{') || !line.endsWith('}')) continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // The first kept line can be the tail of a longer one, cut where the buffer starts.
      continue;
    }
    if (entry.msg === msg) entries.push(entry);
  }
  return entries;
}

/** Partitions of `topic` in the latest `kafka partitions assigned` log entry; undefined before the first. */
export function latestAssignment(stderr: string, topic: string): number[] | undefined {
  const entries = logEntries(stderr, 'kafka partitions assigned');
  const last = entries[entries.length - 1];
  if (last === undefined) return undefined;
  const assignment = last.assignment as Record<string, number[]>;
  return [...(assignment[topic] ?? [])].sort((a, b) => a - b);
}

export interface SinkCounts {
  delivered: number;
  duplicate: number;
  failed: number;
}

/** Reads the `sink NAME delivered ...` line of the end-of-run summary. */
export function sinkCounts(stderr: string, sink: string): SinkCounts {
  const match = new RegExp(`sink ${sink} +delivered (\\d+), duplicate (\\d+), filtered \\d+, failed (\\d+)`).exec(stderr);
  if (match === null) throw new Error(`No summary line for sink ${sink} in:\n${stderr.slice(-2000)}`);
  return { delivered: Number(match[1]), duplicate: Number(match[2]), failed: Number(match[3]) };
}
