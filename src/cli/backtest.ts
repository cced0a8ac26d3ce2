import { writeFileSync } from 'node:fs';
import type { Alert } from '../alerts/types.js';
import { loadConfig } from '../config/load.js';
import type { HolterConfig } from '../config/schema.js';
import { HolterError } from '../errors.js';
import { createLogger } from '../log.js';
import { STANDARD_STREAM } from '../paths.js';
import { createKafkajsClient } from '../sources/kafka/kafkajs-client.js';
import { boundText, KafkaRangeReader, parseRangeBound, resolveRanges, type PartitionRange, type RangeBound } from '../sources/kafka/range.js';
import { kafkaConnectError, kafkaConnectionSettings } from '../sources/kafka/settings.js';
import { rawRecordOf } from '../sources/kafka/source.js';
import type { DetectionTask } from '../state/task.js';
import { escapeLines } from '../text/escape.js';
import { assemblePipeline, checkOutputFile } from './assemble.js';
import { applyOverrides } from './overrides.js';
import { formatPreview } from './preview.js';
import { checkFormat, exitCodeOf, watchInterruption, type ReplayOptions } from './replay.js';
import { formatLoadErrors } from './rules-report.js';
import { countDeliveryFailures, formatSummary } from './summary.js';

/** How long a backtest waits for the next record before it ends with the partitions it has not finished. */
const IDLE_TIMEOUT_MS = 30_000;

/**
 * `holter replay --kafka`: runs a range of Kafka topics through the pipeline once, to see what the
 * rules and detectors would have raised. It reads in a consumer group of its own and commits
 * nothing, so the production group is untouched. As in `holter run`, each partition is detected
 * in a task of its own, unless `kafka.repartition_by` re-keys events, when one task detects them all.
 * The configured webhook and Elasticsearch sinks are left out, so a backtest sends no page.
 */
export async function runKafkaBacktest(files: string[], options: ReplayOptions): Promise<number> {
  if (files.length > 0) {
    throw new HolterError('HOLTER_CONFIG_INVALID', `Files (${files.join(', ')}) and --kafka cannot be combined. Run the files and the Kafka backtest separately.`);
  }
  if (options.state !== undefined) {
    throw new HolterError('HOLTER_CONFIG_INVALID', '--state resumes file inputs, and a Kafka backtest reads its whole range every time. Drop --state, or narrow the range with --from and --to.');
  }
  const from = parseRangeBound(options.from ?? 'earliest', '--from');
  const to = parseRangeBound(options.to ?? 'latest', '--to');
  if (options.summaryJson !== undefined) checkOutputFile(options.summaryJson, '--summary-json');

  const loaded = loadConfig(options.config);
  const leftOut = leaveOutPagingSinks(loaded);
  const config = applyOverrides(loaded, options);
  if (options.format !== undefined) checkFormat(config, options.format);
  const topics = options.kafkaTopic ?? config.kafka.topics.map((topic) => topic.name);
  if (topics.length === 0) {
    throw new HolterError('HOLTER_CONFIG_INVALID', 'kafka.topics is empty and no --kafka-topic is given, so the backtest has nothing to read. Name a topic with --kafka-topic, or list topics under kafka.topics.', {
      path: 'kafka.topics',
    });
  }
  const formats = new Map(config.kafka.topics.map((topic) => [topic.name, topic.format]));
  const formatOf = (topic: string): string | undefined => options.format ?? formats.get(topic);

  const logger = createLogger(config.log.level);
  const kafka = createKafkajsClient(kafkaConnectionSettings(config.kafka), logger);
  const ranges = await resolveRangesOnce(kafka.admin(), topics, from, to, config);

  const raised: Alert[] = [];
  const { pipeline, report } = await assemblePipeline(config, { logger, logLoadErrors: false, onAlert: options.preview ? (alert) => raised.push(alert) : undefined });
  process.stderr.write(formatLoadErrors(report, process.cwd()));
  const interruption = watchInterruption('backtest');
  process.stderr.write(escapeLines(describeRange(ranges, from, to, leftOut, config.kafka.repartition_by)));

  // One task per partition, as `holter run` detects without repartitioning.
  const tasks = new Map<string, DetectionTask>();
  const taskOf = async (input: string): Promise<DetectionTask> => {
    if (config.kafka.repartition_by !== undefined) return pipeline.mainTask;
    let task = tasks.get(input);
    if (task === undefined) {
      task = await pipeline.createTask();
      tasks.set(input, task);
    }
    return task;
  };

  let tombstones = 0;
  const reader = new KafkaRangeReader({
    client: kafka,
    groupPrefix: config.kafka.group_id,
    ranges,
    idleTimeoutMs: IDLE_TIMEOUT_MS,
    logger,
    onMessage: async (range, message) => {
      const input = `${range.topic}/${range.partition}`;
      const record = rawRecordOf(message, input, formatOf(range.topic), config.decode.max_record_bytes);
      if (record === undefined) {
        tombstones++;
        return;
      }
      await pipeline.push(record, await taskOf(input));
    },
  });
  void interruption.stopped.then(() => reader.stop());
  const result = await reader.run();

  const summary = await pipeline.finish({ closeWindows: true });
  await pipeline.close();
  process.stderr.write(formatSummary(summary, report, { interruptedBy: interruption.signal }));
  const notes: string[] = [];
  if (tombstones > 0) notes.push(`Skipped ${tombstones} tombstones (records without a value).`);
  if (result.failure !== undefined) notes.push(`The backtest ended early: the Kafka consumer gave up (${result.failure}). Check that the brokers are up, then run it again.`);
  for (const { topic, partition, next, end } of result.unfinished) {
    notes.push(`Partition ${topic}/${partition} stopped at offset ${next} before its end offset ${end}: ${unfinishedReason(result.failure, interruption.signal)}.`);
  }
  process.stderr.write(escapeLines(notes.map((note) => `${note}\n`).join('')));
  if (options.preview) (config.sinks.ndjson.path === STANDARD_STREAM ? process.stderr : process.stdout).write(formatPreview(raised, config.facility.time_zone));
  if (summary.deadLettered > 0) process.stderr.write(escapeLines(`Dead-lettered records are in ${config.dead_letter.path}\n`));
  if (options.summaryJson !== undefined) {
    const json = { ...summary, rulesLoaded: report.rulesLoaded, correlationsLoaded: report.correlationsLoaded, rulesRejected: report.rulesRejected, kafka: { recordsRead: result.recordsRead, tombstones, unfinished: result.unfinished.map((entry) => ({ ...entry, next: String(entry.next), end: String(entry.end) })) } };
    writeFileSync(options.summaryJson, `${JSON.stringify(json, null, 2)}\n`);
  }

  if (interruption.signal !== undefined) {
    interruption.release();
    return exitCodeOf(interruption.signal);
  }
  interruption.remove();
  // A range not read to its end is not the backtest that was asked for.
  return countDeliveryFailures(summary) > 0 || result.unfinished.length > 0 ? 1 : 0;
}

function unfinishedReason(failure: string | undefined, signal: NodeJS.Signals | undefined): string {
  if (signal !== undefined) return `${signal} stopped the read`;
  if (failure !== undefined) return 'the consumer gave up';
  return `no record came for ${IDLE_TIMEOUT_MS / 1000} s. The brokers may be unreachable, or a compacted or transactional topic ends the range with offsets that hold no record`;
}

/** Clears the configured webhook and Elasticsearch sinks, and names those it cleared. `--webhook` still applies afterwards. */
function leaveOutPagingSinks(config: HolterConfig): string[] {
  const leftOut: string[] = [];
  if (config.sinks.webhook.url !== undefined) {
    leftOut.push('webhook');
    config.sinks.webhook.url = undefined;
  }
  if (config.sinks.elasticsearch.nodes.length > 0) {
    leftOut.push('Elasticsearch');
    config.sinks.elasticsearch.nodes = [];
  }
  return leftOut;
}

async function resolveRangesOnce(admin: ReturnType<ReturnType<typeof createKafkajsClient>['admin']>, topics: string[], from: RangeBound, to: RangeBound, config: HolterConfig): Promise<PartitionRange[]> {
  try {
    await admin.connect();
  } catch (error) {
    throw kafkaConnectError(`Connecting to the brokers ${config.kafka.brokers.join(', ')}`, error);
  }
  try {
    return await resolveRanges(admin, topics, from, to);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Describes what a backtest reads and which sinks it leaves out, for the note that opens it. */
function describeRange(ranges: PartitionRange[], from: RangeBound, to: RangeBound, leftOut: string[], repartitionBy: string | undefined): string {
  const records = ranges.reduce((sum, range) => sum + (range.end - range.start), 0n);
  const partitions = ranges.filter((range) => range.end > range.start).length;
  const topics = [...new Set(ranges.map((range) => range.topic))].join(', ');
  const lines = [`Backtest of ${topics}, from ${boundText(from)} to ${boundText(to)}: ${records} offsets in ${partitions} of ${ranges.length} partitions.`];
  if (leftOut.length > 0) lines.push(`The configured ${leftOut.join(' and ')} sink${leftOut.length > 1 ? 's are' : ' is'} left out, so the backtest pages nobody; alerts go to the terminal, --out and --store.`);
  if (repartitionBy !== undefined) lines.push(`kafka.repartition_by is set (${repartitionBy}), so every partition is detected in one task, as if re-keyed.`);
  return lines.map((line) => `${line}\n`).join('');
}
