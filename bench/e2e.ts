/**
 * `npm run bench:e2e`: events per second from a Kafka topic to alerts acknowledged by
 * Elasticsearch, with `holter run` as a child process. Two reference consumers read the same topic
 * in the same run: Kafka's own Java consumer performance tool, and kafkajs with no processing.
 * Then it measures the event-to-alert latency at a fixed offered load. It needs the test services
 * (`scripts/services start`), and HOLTER_KAFKA_PORT and HOLTER_ES_PORT select their ports.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { simulateHospital } from '../src/sim/index.js';
import {
  KAFKA_BROKER,
  createTopic,
  elasticsearch,
  emptyFolder,
  groupLag,
  HolterProcess,
  kafka,
  latestAssignment,
  pollUntil,
  produce,
  requireServices,
  setupDataStream,
  sinkCounts,
  uniqueName,
  writeConfig,
  writeStatelessRule,
} from '../test/integration/helpers.js';
import { REPO_ROOT } from '../test/helpers/paths.js';

const RECORDS = positiveInteger('HOLTER_BENCH_E2E_RECORDS', 100_000);
/** Smaller, because every record raises an alert and so waits for its own bulk request. */
const EVERY_EVENT_RECORDS = positiveInteger('HOLTER_BENCH_E2E_ALERT_RECORDS', 20_000);
const OFFERED_EVENTS_PER_SECOND = positiveInteger('HOLTER_BENCH_E2E_RATE', 100);
const OFFERED_SECONDS = positiveInteger('HOLTER_BENCH_E2E_SECONDS', 10);
/**
 * `kafka.checkpoint_interval_ms` of the runs. Offsets are committed only with checkpoints, and the
 * figures below are read from commits, so they include up to one interval of waiting.
 */
const CHECKPOINT_INTERVAL_MS = positiveInteger('HOLTER_BENCH_E2E_CHECKPOINT_MS', 1000);
/** How often the committed offsets are read; the resolution of the throughput and latency figures. */
const LAG_POLL_MS = 20;

const execFileAsync = promisify(execFile);

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`Invalid ${name}=${JSON.stringify(raw)}: expected a whole number above 0.`);
  return value;
}

interface Row {
  consumer: string;
  records: number;
  eventsPerSecond: number;
  alerts?: number;
}

/**
 * Returns the first `count` records of a simulated hospital week, in event-time order. A week of 200
 * staff has about 58,000 records, so larger counts simulate more staff.
 */
function simulatedTexts(count: number): string[] {
  const staff = 200 * Math.ceil(count / 50_000);
  const hospital = simulateHospital({ days: 7, staff, incidents: false, traps: false });
  const texts: string[] = [];
  for (const record of hospital.records()) {
    if (texts.length === count) break;
    texts.push(record.text);
  }
  if (texts.length < count) throw new Error(`The simulation has ${texts.length} records, fewer than the ${count} requested.`);
  return texts;
}

async function topicWith(prefix: string, texts: string[]): Promise<string> {
  const topic = uniqueName(prefix);
  await createTopic(topic, 1);
  await produce(topic, texts.map((text, index) => ({ key: `record-${index}`, value: text })));
  return topic;
}

/**
 * Kafka's ConsumerPerformance over the topic. `fetch.nMsg.sec` excludes the group join, as the
 * other rows do; the tool prints its figures as one CSV line after a header line.
 */
async function javaConsumerRate(topic: string, records: number): Promise<number> {
  const script = path.join(REPO_ROOT, 'scripts', 'services');
  const { stdout } = await execFileAsync(script, ['kafka-consumer-perf', '--bootstrap-server', KAFKA_BROKER, '--topic', topic, '--num-records', String(records)], { timeout: 180_000 });
  const lines = stdout.trim().split('\n');
  const headerIndex = lines.findIndex((line) => line.includes('fetch.nMsg.sec'));
  const header = lines[headerIndex]?.split(',').map((name) => name.trim());
  const values = lines[headerIndex + 1]?.split(',').map((value) => value.trim());
  const column = header?.indexOf('fetch.nMsg.sec') ?? -1;
  if (header === undefined || values === undefined || column < 0) throw new Error(`Unexpected kafka-consumer-perf output:\n${stdout}`);
  return Number(values[column]);
}

/**
 * kafkajs through Holter's client seam, resolving every offset; timed from the first batch. With
 * `parseJson`, each record's value is also read as text and parsed when it is JSON (most records).
 */
async function kafkajsRate(topic: string, records: number, parseJson = false): Promise<number> {
  const consumer = kafka.consumer({ groupId: uniqueName('bench-kafkajs'), sessionTimeoutMs: 10_000, maxBytesPerPartition: 1_048_576 });
  let received = 0;
  let firstBatchAt = 0;
  let lastBatchAt = 0;
  await consumer.connect();
  try {
    await consumer.subscribe([topic], true);
    await consumer.run(
      async (batch, control) => {
        if (firstBatchAt === 0) firstBatchAt = performance.now();
        for (const message of batch.messages) {
          if (parseJson && message.value !== null && message.value[0] === 0x7b) JSON.parse(message.value.toString('utf8'));
          control.resolveOffset(message.offset);
        }
        received += batch.messages.length;
        lastBatchAt = performance.now();
      },
      { onCrash: (error) => console.error(error) },
    );
    await pollUntil(`kafkajs to read ${records} records`, async () => (received >= records ? true : undefined), 180_000, 10);
  } finally {
    await consumer.stop();
    await consumer.disconnect();
  }
  return (received / (lastBatchAt - firstBatchAt)) * 1000;
}

/**
 * `holter run` over the topic, timed from its first commit to its last: the records in between were
 * decoded, detected, and their alerts acknowledged by Elasticsearch before their offsets were committed.
 */
async function holterRate(label: string, texts: string[], rules?: string[]): Promise<Row> {
  const topic = await topicWith('bench-holter', texts);
  const groupId = uniqueName('bench-group');
  const dataStream = `logs-holter.alerts-${uniqueName('bench').replaceAll('-', '')}`;
  const settings = { topic, groupId, dataStream, deadLetterTopic: `${topic}.dead-letter`, checkpointIntervalMs: CHECKPOINT_INTERVAL_MS, ...(rules === undefined ? {} : { rules, detectors: [emptyFolder()] }) };
  const configFile = writeConfig(settings);
  await setupDataStream(configFile);

  const holter = new HolterProcess(configFile);
  let firstCommit: { at: number; lag: number } | undefined;
  const finishedAt = await pollUntil(
    'holter to commit every record',
    async () => {
      const lag = await groupLag(groupId, topic);
      if (lag === undefined) return undefined;
      firstCommit ??= { at: performance.now(), lag };
      return lag === 0 ? performance.now() : undefined;
    },
    600_000,
    LAG_POLL_MS,
  );
  const exitCode = await holter.stop('SIGTERM');
  if (exitCode !== 0) throw new Error(`holter run exited with ${String(exitCode)}:\n${holter.stderr.slice(-3000)}`);
  if (firstCommit === undefined) throw new Error('No commit was observed.');

  // The summary has no sink line when no alert was raised.
  const alerts = /^ +alerts +(\d+)$/m.exec(holter.stderr);
  if (alerts === null) throw new Error(`No alert count in the summary:\n${holter.stderr.slice(-3000)}`);
  const raised = Number(alerts[1]);
  if (raised > 0 && sinkCounts(holter.stderr, 'elasticsearch').failed > 0) throw new Error(`Some alerts were not delivered:\n${holter.stderr.slice(-3000)}`);
  const timedRecords = firstCommit.lag;
  if (timedRecords === 0) throw new Error(`${label}: every record was committed at the first commit, so none could be timed. Raise the record count.`);
  return { consumer: label, records: timedRecords, eventsPerSecond: (timedRecords / (finishedAt - firstCommit.at)) * 1000, alerts: raised };
}

interface Latency {
  records: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Offers records one at a time at a fixed rate to a one-partition topic that a running `holter run`
 * consumes, and takes each record's latency as the time from the start of its send to the first
 * read of a committed offset past it. The commit follows the Elasticsearch acknowledgement of the
 * record's alerts, so this is event to alert acknowledged, plus the commit, plus up to LAG_POLL_MS.
 */
async function latencyAtFixedLoad(texts: string[], rules: string[]): Promise<Latency> {
  const topic = uniqueName('bench-latency');
  await createTopic(topic, 1);
  const groupId = uniqueName('bench-group');
  const dataStream = `logs-holter.alerts-${uniqueName('benchlat').replaceAll('-', '')}`;
  const configFile = writeConfig({ topic, groupId, dataStream, deadLetterTopic: `${topic}.dead-letter`, rules, detectors: [emptyFolder()], checkpointIntervalMs: CHECKPOINT_INTERVAL_MS });
  await setupDataStream(configFile);
  const holter = new HolterProcess(configFile);
  await pollUntil('holter to join the group', async () => ((latestAssignment(holter.stderr, topic)?.length ?? 0) > 0 ? true : undefined), 60_000);

  const admin = kafka.admin();
  const producer = kafka.producer();
  await admin.connect();
  await producer.connect();
  const count = OFFERED_EVENTS_PER_SECOND * OFFERED_SECONDS;
  const sentAt: number[] = [];
  const latencies: number[] = [];
  let sending = true;

  // One partition and sequential sends: record i has offset i.
  const poller = (async () => {
    while (sending || latencies.length < count) {
      const [entry] = await admin.fetchCommittedOffsets(groupId, topic);
      const committed = Number(entry?.offset ?? -1);
      const now = performance.now();
      while (latencies.length < Math.min(committed, sentAt.length)) latencies.push(now - (sentAt[latencies.length] as number));
      await new Promise((resolve) => setTimeout(resolve, LAG_POLL_MS));
    }
  })();

  const intervalMs = 1000 / OFFERED_EVENTS_PER_SECOND;
  const start = performance.now();
  for (let index = 0; index < count; index++) {
    const due = start + index * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    sentAt.push(performance.now());
    await producer.send(topic, [{ key: `record-${index}`, value: texts[index % texts.length] as string }]);
  }
  sending = false;
  await poller;

  await producer.disconnect();
  await admin.disconnect();
  const exitCode = await holter.stop('SIGTERM');
  if (exitCode !== 0) throw new Error(`holter run exited with ${String(exitCode)}:\n${holter.stderr.slice(-3000)}`);

  const sorted = [...latencies].sort((a, b) => a - b);
  const percentile = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
  return { records: sorted.length, p50Ms: percentile(50), p99Ms: percentile(99), maxMs: sorted[sorted.length - 1] as number };
}

function formatRate(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

async function main(): Promise<void> {
  await requireServices();
  const texts = simulatedTexts(Math.max(RECORDS, EVERY_EVENT_RECORDS));
  const everyEventRule = [writeStatelessRule()];

  const sharedTopic = await topicWith('bench-reference', texts.slice(0, RECORDS));
  const rows: Row[] = [];
  rows.push({ consumer: 'Kafka ConsumerPerformance (Java), no processing', records: RECORDS, eventsPerSecond: await javaConsumerRate(sharedTopic, RECORDS) });
  rows.push({ consumer: 'kafkajs eachBatch, no processing', records: RECORDS, eventsPerSecond: await kafkajsRate(sharedTopic, RECORDS) });
  rows.push({ consumer: 'kafkajs eachBatch, JSON.parse of each JSON record', records: RECORDS, eventsPerSecond: await kafkajsRate(sharedTopic, RECORDS, true) });
  rows.push(await holterRate('holter run, default rules and detectors', texts.slice(0, RECORDS)));
  // Decoding, enrich, checkpoints and commits without detection: the most any rule set can reach.
  rows.push(await holterRate('holter run, no rules or detectors', texts.slice(0, RECORDS), [emptyFolder()]));
  rows.push(await holterRate('holter run, one alert per successful event', texts.slice(0, EVERY_EVENT_RECORDS), everyEventRule));

  const reference = rows[0]?.eventsPerSecond ?? 1;
  console.log(`\nKafka topic to Elasticsearch, one partition, simulated hospital records (${RECORDS} records; ${EVERY_EVENT_RECORDS} for the last row), checkpoint interval ${CHECKPOINT_INTERVAL_MS} ms\n`);
  console.log('| consumer | records timed | events/s | vs Java | alerts raised |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const row of rows) {
    console.log(`| ${row.consumer} | ${row.records} | ${formatRate(row.eventsPerSecond)} | ${(row.eventsPerSecond / reference).toFixed(3)}x | ${row.alerts ?? '-'} |`);
  }

  const latency = await latencyAtFixedLoad(texts, everyEventRule);
  console.log(`\nEvent to alert acknowledged, ${OFFERED_EVENTS_PER_SECOND} events/s offered for ${OFFERED_SECONDS} s, one alert per successful event\n`);
  console.log('| records | p50 | p99 | max |');
  console.log('| ---: | ---: | ---: | ---: |');
  console.log(`| ${latency.records} | ${latency.p50Ms.toFixed(1)} ms | ${latency.p99Ms.toFixed(1)} ms | ${latency.maxMs.toFixed(1)} ms |`);
  await elasticsearch.close();
}

await main();
