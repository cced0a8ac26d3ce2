import { parseListen, startApiServer, type ApiHandlers, type ApiServer } from '../api/server.js';
import { loadApiTokens, type ApiToken } from '../api/tokens.js';
import { loadConfig } from '../config/load.js';
import { BaselineStage } from '../detect/baseline/index.js';
import { DetectionReloader } from '../detect/reload.js';
import type { DetectionStage } from '../detect/types.js';
import type { HolterConfig } from '../config/schema.js';
import { HolterError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import type { RawRecord } from '../decoders/types.js';
import { emptyRunSummary } from '../pipeline.js';
import type { Pipeline, RunSummary } from '../pipeline.js';
import type { KafkaClient, KafkaProducerClient } from '../sources/kafka/client.js';
import { FORWARDED_EVENT_FORMAT, readForwardedEvent, Repartitioner } from '../sources/kafka/repartition.js';
import type { DetectionTask } from '../state/task.js';
import { DeadLetterTopic } from '../sources/kafka/dead-letter-topic.js';
import { createKafkajsClient } from '../sources/kafka/kafkajs-client.js';
import { kafkaConnectError, kafkaConnectionSettings } from '../sources/kafka/settings.js';
import { ConsumerLagMonitor } from '../sources/kafka/lag.js';
import { KafkaSource } from '../sources/kafka/source.js';
import { PartitionTasks } from '../sources/kafka/tasks.js';
import { KafkaChangelog } from '../state/changelog.js';
import { checkElasticsearchForRun } from '../sinks/elasticsearch/preflight.js';
import { assemblePipeline, configuredKeyFingerprint } from './assemble.js';
import { formatSummary } from './summary.js';

export interface RunOptions {
  config?: string;
  logLevel?: string;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * `holter run`: consumes the configured Kafka topics in a consumer group until SIGTERM or SIGINT.
 * Each assigned partition (of the repartition topic, with `kafka.repartition_by`) gets its own
 * detection task. Task state is checkpointed to the changelog topic, offsets are committed only
 * after a checkpoint that reflects them, and a partition's task is restored from its latest
 * checkpoint when the partition is assigned (docs/kafka.md). The first signal stops fetching, lets
 * the batch in hand finish, checkpoints and commits, then leaves the group without closing open
 * windows: the next owner of each partition continues them. A second signal exits at once; the
 * records since the last checkpoint are then processed again on the next start.
 */
export async function runStream(options: RunOptions): Promise<number> {
  const config = loadConfig(options.config);
  if (options.logLevel !== undefined) {
    if (!LOG_LEVELS.includes(options.logLevel)) {
      throw new HolterError('HOLTER_CONFIG_INVALID', `Invalid log level ${JSON.stringify(options.logLevel)} given to --log-level. Use one of ${LOG_LEVELS.join(', ')}.`);
    }
    config.log.level = options.logLevel as HolterConfig['log']['level'];
  }
  if (config.kafka.topics.length === 0) {
    throw new HolterError('HOLTER_CONFIG_INVALID', 'kafka.topics is empty, so holter run has nothing to consume. List at least one topic under kafka.topics.', { path: 'kafka.topics' });
  }

  // Checkpoints outlive the process, and tokens from a random key would not match the saved ones.
  const tokenKeyFingerprint = configuredKeyFingerprint(config);
  if (tokenKeyFingerprint === undefined) {
    throw new HolterError(
      'HOLTER_CONFIG_INVALID',
      'holter run keeps detection state across restarts, so it needs a fixed patient token key, and none is configured. Set identity.token_key_file to a file with a secret of at least 16 characters, for example from `openssl rand -hex 32`.',
      { path: 'identity.token_key_file' },
    );
  }

  // The API's settings are checked before anything touches Kafka, so a typo fails at once.
  const apiTokens = readApiSettings(config);
  const logger = createLogger(config.log.level);
  const kafka = createKafkajsClient(kafkaConnectionSettings(config.kafka), logger);

  // The API starts before the first connection attempt, so /healthz responds while kafkajs retries
  // unreachable brokers, and /readyz reports 503 until the consumer has joined its group.
  const live: LiveRun = {};
  const api = await startApi(config, apiTokens, logger, liveHandlers(live));
  try {
    // A misconfigured Elasticsearch stops the run here, before a record is consumed.
    await checkElasticsearchForRun(config.sinks.elasticsearch, logger);
    return await consume(config, kafka, logger, live, tokenKeyFingerprint);
  } finally {
    await api?.close();
  }
}

/** The parts of a run that the API reads, set once they exist. */
interface LiveRun {
  current?: { pipeline: Pipeline; source: KafkaSource; tasks: PartitionTasks; reloader: DetectionReloader; lag: ConsumerLagMonitor };
}

/** API handlers that read the run once it is assembled, and report a run still starting before that. */
function liveHandlers(live: LiveRun): ApiHandlers {
  return {
    readiness: () => {
      if (live.current === undefined) return { ready: false, status: 'starting', reason: 'holter run is starting: it has not connected to Kafka and loaded its rules yet.' };
      const membership = live.current.source.membership;
      return membership.member ? { ready: true } : { ready: false, status: membership.status, reason: membership.reason };
    },
    metrics: () => {
      if (live.current === undefined) return { summary: emptyRunSummary(), stageStats: {}, reloads: { succeeded: 0, rejected: 0, fileErrors: 0 } };
      const { pipeline, source, tasks, reloader, lag } = live.current;
      const summary = pipeline.currentSummary();
      return {
        summary,
        stageStats: summary.stageStats,
        sourceStats: { ...source.stats, ...tasks.stats },
        reloads: { ...reloader.counts, fileErrors: reloader.fileErrors },
        kafka: { member: source.joined, lag: lag.lag, lagRefreshedAtMs: lag.refreshedAtMs },
        pendingDeliveries: pipeline.pendingDeliveryCount,
        sinkStats: pipeline.currentSinkStats(),
      };
    },
    reload: async () => {
      if (live.current !== undefined) return live.current.reloader.reload('api');
      return {
        outcome: 'rejected',
        rulesLoaded: 0,
        detectorsLoaded: 0,
        errors: ['holter run is still connecting to Kafka and has not loaded rules yet. It reads the current rule and detector files when it starts, so no reload is needed.'],
      };
    },
    baseline: (user) => (live.current === undefined ? undefined : describeUser(live.current.pipeline.taskStages(), user)),
    baselineHeld: () => (live.current === undefined ? [] : heldDetectorIds(live.current.pipeline.taskStages())),
    baselineUnavailable: () => {
      // Only before the first join: after it, tasks stay in memory through rebalances and restarts.
      const current = live.current;
      const membership = current?.source.membership;
      if (current === undefined || membership === undefined || (!membership.member && membership.status === 'starting')) {
        return 'holter run has not joined its consumer group yet, so no partition state is restored. Try again in a few seconds.';
      }
      const restoring = current.tasks.partitionsRestoring;
      if (restoring.length === 0) return undefined;
      return `The detection state of partitions ${restoring.join(', ')} is still being restored from the changelog, and this user may be in it. Try again in a few seconds.`;
    },
  };
}


async function consume(config: HolterConfig, kafka: KafkaClient, logger: Logger, live: LiveRun, tokenKeyFingerprint: string): Promise<number> {
  const producer = kafka.producer();
  try {
    await producer.connect();
  } catch (error) {
    throw kafkaConnectError(`Connecting to the brokers ${config.kafka.brokers.join(', ')}`, error);
  }
  const deadLetter = new DeadLetterTopic(producer, config.kafka.dead_letter_topic, logger);
  const { pipeline, report, elasticsearch } = await assemblePipeline(config, { logger, deadLetter });

  const repartitioner = await createRepartitioner(config, kafka, producer, pipeline);
  const topics = [...config.kafka.topics];
  if (repartitioner !== undefined) topics.push({ name: repartitioner.topic, format: FORWARDED_EVENT_FORMAT });

  const changelog = new KafkaChangelog({
    client: kafka,
    producer,
    topic: changelogTopic(config),
    groupId: config.kafka.group_id,
    partitions: await maxPartitionCount(kafka, topics.map((topic) => topic.name)),
    sessionTimeoutMs: config.kafka.session_timeout_ms,
    tokenKeyFingerprint,
    logger,
  });
  try {
    await changelog.start();
  } catch (error) {
    await changelog.stop();
    await pipeline.close().catch((closeError: unknown) => logger.error({ err: closeError }, 'closing the pipeline after a failure failed'));
    throw error;
  }
  const tasks = new PartitionTasks(
    {
      createTask: () => pipeline.createTask(),
      retireTask: (task) => pipeline.retireTask(task),
      push: (record, task) => (record.format === FORWARDED_EVENT_FORMAT ? detectForwarded(pipeline, record, task) : pipeline.push(record, task)),
      deliveredSoFar: () => pipeline.deliveredSoFar(),
    },
    changelog,
    logger,
  );

  const source = new KafkaSource({
    consumer: kafka.consumer({
      groupId: config.kafka.group_id,
      sessionTimeoutMs: config.kafka.session_timeout_ms,
      maxBytesPerPartition: config.kafka.max_bytes_per_partition,
    }),
    groupId: config.kafka.group_id,
    topics,
    fromBeginning: config.kafka.auto_offset_reset === 'earliest',
    maxRecordBytes: config.decode.max_record_bytes,
    tasks,
    checkpointIntervalMs: config.kafka.checkpoint_interval_ms,
    repartitioner,
    remember: (record, original) => deadLetter.originals.set(record, original),
    heartbeatIntervalMs: Math.max(1000, Math.floor(config.kafka.session_timeout_ms / 5)),
    logger,
  });

  const startErrors = [...report.ruleErrors, ...report.detectorErrors];
  const reloader = new DetectionReloader({
    config,
    stages: () => pipeline.taskStages(),
    raise: (detection) => pipeline.raiseDetection(detection),
    logger,
    startErrors: startErrors.length,
    onReloaded: () => tasks.markChanged(),
  });
  await reloader.reportStartErrors(startErrors);
  const stopWatching = config.reload.watch ? reloader.watchFiles() : () => undefined;
  const lag = new ConsumerLagMonitor({ admin: kafka.admin(), groupId: config.kafka.group_id, ownedPartitions: () => source.ownedPartitions, intervalMs: config.kafka.lag_interval_ms, logger });
  lag.start();
  live.current = { pipeline, source, tasks, reloader, lag };

  const stop = (): Promise<void> => {
    elasticsearch?.watchDrain((pending) => exitAtDrainTimeout(pending, logger));
    return source.stop();
  };
  const removeHandlers = handleShutdownSignals(stop, () => reloader.reload('signal'), logger);
  try {
    await source.run();
  } catch (error) {
    await pipeline.close().catch((closeError: unknown) => logger.error({ err: closeError }, 'closing the pipeline after a failure failed'));
    await changelog.stop();
    throw error;
  } finally {
    removeHandlers();
    stopWatching();
    await lag.stop();
  }

  // Open windows are not closed here: their state is in the checkpoints, and the next owner of
  // each partition closes them when its watermark passes them.
  const summary = await pipeline.finish({ closeWindows: false });
  await pipeline.close();
  await changelog.stop();
  process.stderr.write(formatSummary(summary, report));
  for (const [sink, outcomes] of Object.entries(summary.deliveryOutcomes)) {
    const failures = summary.deliveryFailures[sink] ?? 0;
    process.stderr.write(`  sink ${sink.padEnd(14)} delivered ${outcomes.delivered}, duplicate ${outcomes.duplicate}, filtered ${outcomes.filtered}, failed ${failures}\n`);
  }
  process.stderr.write(`  kafka records       ${source.stats.recordsFetched} (${source.stats.oversizedRecords} oversized, ${source.stats.tombstonesSkipped} tombstones skipped, ${source.stats.commits} commits, ${source.stats.commitRetries} commit retries)\n`);
  if (repartitioner !== undefined) {
    process.stderr.write(`  repartition         ${repartitioner.eventsForwarded} events forwarded to ${repartitioner.topic} (${repartitioner.eventsWithoutKey} without ${repartitioner.field}), ${tasks.stats.forwardedDuplicates} repeats dropped\n`);
  }
  process.stderr.write(`  checkpoints         ${tasks.stats.checkpoints} written, ${tasks.stats.restores} restored, ${tasks.stats.restoredEmpty} partitions started empty, ${source.stats.seeks} seeks, ${source.stats.checkpointRetries} write retries\n`);

  const failed = Object.values(summary.deliveryFailures).reduce((total, count) => total + count, 0);
  return failed > 0 ? 1 : 0;
}

/**
 * With `kafka.repartition_by`, creates the repartition topic when missing and returns the first
 * step that forwards events to it. Without it, detection runs on the source partitions.
 */
async function createRepartitioner(config: HolterConfig, kafka: KafkaClient, producer: KafkaProducerClient, pipeline: Pipeline): Promise<Repartitioner | undefined> {
  const field = config.kafka.repartition_by;
  if (field === undefined) return undefined;
  const topic = config.kafka.repartition_topic ?? `${config.kafka.group_id}-repartition`;
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.createTopics([{ name: topic, partitions: config.kafka.repartition_partitions }]);
  } catch (error) {
    throw new HolterError('HOLTER_KAFKA_CONNECT', `Creating the repartition topic ${topic} failed: ${(error as Error).message}. Create it yourself with kafka.repartition_partitions partitions, or let Holter create topics.`, { cause: error, retriable: true });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  return new Repartitioner(producer, topic, field, {
    decode: (record) => pipeline.decode(record),
    enrich: (event) => pipeline.enrich(event),
    reject: (record, reason, message) => pipeline.reject(record, reason, message),
    countForwarded: (events) => pipeline.countForwarded(events),
  });
}

/** Detects an event read from the repartition topic; a record that is not one is dead-lettered. */
async function detectForwarded(pipeline: Pipeline, record: RawRecord, task: DetectionTask): Promise<void> {
  let event;
  try {
    event = readForwardedEvent(record);
  } catch (error) {
    await pipeline.reject(record, 'invalid_record', (error as Error).message);
    return;
  }
  await pipeline.detect(event, task);
}

/** Returns the changelog topic: `kafka.changelog_topic`, else `<group_id>-state-changelog`. */
export function changelogTopic(config: HolterConfig): string {
  return config.kafka.changelog_topic ?? `${config.kafka.group_id}-state-changelog`;
}

/** Returns the maximum partition count of the topics, or 1 when none can be read yet; the changelog gets as many. */
async function maxPartitionCount(kafka: KafkaClient, topics: string[]): Promise<number> {
  const admin = kafka.admin();
  let max = 1;
  try {
    await admin.connect();
    for (const topic of topics) {
      const offsets = await admin.fetchEndOffsets(topic).catch(() => []);
      max = Math.max(max, offsets.length);
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  return max;
}

/**
 * Exits with status 1 when alerts are still waiting for Elasticsearch at the drain timeout of a
 * shutdown. Their deliveries never settled, so no checkpoint or commit covers their records, and
 * the next start processes those records again.
 */
function exitAtDrainTimeout(pending: number, logger: Logger): void {
  logger.error(
    { sink: 'elasticsearch', pendingAlerts: pending },
    'elasticsearch did not index every alert within sinks.elasticsearch.drain_timeout_ms; exiting without committing their records, which are processed again on the next start',
  );
  process.exit(1);
}

/** How long a stopped `holter run` waits for the event loop to empty before it exits anyway. */
const EXIT_GRACE_MS = 5000;

/**
 * Exits with `code` if the process is still alive `EXIT_GRACE_MS` after a graceful stop. Every
 * client is disconnected by then, but after a broker restart kafkajs 2.2.4 was seen to keep a
 * connection open, which kept the process alive for good.
 */
export function exitWhenStuck(code: number): void {
  const timer = setTimeout(() => {
    process.stderr.write(`holter run stopped, but ${process.getActiveResourcesInfo().join(', ')} stayed open for ${EXIT_GRACE_MS} ms; exiting.\n`);
    process.exit(code);
  }, EXIT_GRACE_MS);
  timer.unref();
}

/** Checks `api.listen` and reads `api.tokens_file`; throws HOLTER_CONFIG_INVALID naming the setting. */
function readApiSettings(config: HolterConfig): ApiToken[] {
  if (config.api.listen === undefined) return [];
  parseListen(config.api.listen);
  return config.api.tokens_file === undefined ? [] : loadApiTokens(config.api.tokens_file);
}

/** Starts the HTTP API when `api.listen` is set. */
async function startApi(config: HolterConfig, tokens: ApiToken[], logger: Logger, handlers: ApiHandlers): Promise<ApiServer | undefined> {
  if (config.api.listen === undefined) return undefined;
  if (tokens.length === 0) logger.warn('no api.tokens_file configured; the /api routes reject every call');
  return startApiServer({ listen: config.api.listen, tokens, handlers, logger });
}

/**
 * Collects a user's learned profile from every task's detectors. With input keyed by user (or
 * re-keyed through the repartition topic), one task has the user. Otherwise `detectors` is a list
 * with one entry per task that saw the user.
 */
function describeUser(taskStages: DetectionStage[][], user: string): Record<string, unknown> | undefined {
  const found: Record<string, unknown>[] = [];
  for (const stages of taskStages) {
    for (const stage of stages) {
      if (!(stage instanceof BaselineStage)) continue;
      const profiles = stage.describe(user);
      if (Object.keys(profiles).length > 0) found.push(profiles);
    }
  }
  if (found.length === 0) return undefined;
  return { user, detectors: found.length === 1 ? found[0] : found };
}

/** Returns the sorted ids of detectors whose saved state a task keeps while their files fail to load. */
function heldDetectorIds(taskStages: DetectionStage[][]): string[] {
  const heldIds = new Set<string>();
  for (const stages of taskStages) {
    for (const stage of stages) {
      if (stage instanceof BaselineStage) for (const id of stage.heldDetectorIds) heldIds.add(id);
    }
  }
  return [...heldIds].sort();
}

/**
 * SIGHUP reloads rules and detectors. First SIGTERM or SIGINT: graceful stop. Second: exit at once
 * without committing the batch in hand.
 */
function handleShutdownSignals(stop: () => Promise<void>, reload: () => Promise<unknown>, logger: Logger): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received++;
    if (received === 1) {
      logger.info({ signal }, 'shutdown requested; finishing the batch in hand');
      stop().catch((error: unknown) => logger.error({ err: error }, 'graceful shutdown failed'));
      return;
    }
    logger.warn({ signal }, 'second shutdown signal; exiting without committing the batch in hand');
    process.exit(130);
  };
  const onHangup = (): void => {
    logger.info({ signal: 'SIGHUP' }, 'rules reload requested');
    reload().catch((error: unknown) => logger.error({ err: error }, 'rules reload failed'));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onHangup);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHangup);
  };
}
