import { loadConfig } from '../config/load.js';
import type { HolterConfig } from '../config/schema.js';
import { HolterError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import type { KafkaClient } from '../sources/kafka/client.js';
import { DeadLetterTopic } from '../sources/kafka/dead-letter-topic.js';
import { createKafkajsClient } from '../sources/kafka/kafkajs-client.js';
import { kafkaConnectionSettings } from '../sources/kafka/settings.js';
import { KafkaSource } from '../sources/kafka/source.js';
import { assemblePipeline } from './assemble.js';
import { formatSummary } from './summary.js';

export interface RunOptions {
  config?: string;
  logLevel?: string;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * `holter run`: consumes the configured Kafka topics in a consumer group until SIGTERM or SIGINT.
 * The first signal stops fetching, lets the batch in hand finish and commit, closes the open
 * windows and delivers what they raise, then leaves the group. A second signal exits at once;
 * records after the last commit are then processed again on the next start.
 *
 * NOTE: detection state (open windows, baselines) is not checkpointed or handed over yet. After a
 * crash, or a rebalance that moves a partition to another member, a window that spans the move
 * starts empty on the new owner, so a correlation whose events straddle it can be missed.
 * Single-event rules and windows that closed before the move are not affected.
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

  const logger = createLogger(config.log.level);
  const kafka = createKafkajsClient(kafkaConnectionSettings(config.kafka), logger);
  return consume(config, kafka, logger);
}

async function consume(config: HolterConfig, kafka: KafkaClient, logger: Logger): Promise<number> {
  const producer = kafka.producer();
  try {
    await producer.connect();
  } catch (error) {
    throw new HolterError('HOLTER_KAFKA_CONNECT', `Connecting to the brokers ${config.kafka.brokers.join(', ')} failed: ${(error as Error).message}. Check kafka.brokers, TLS and SASL settings, and that the brokers are up.`, {
      cause: error,
      retriable: true,
    });
  }
  const deadLetter = new DeadLetterTopic(producer, config.kafka.dead_letter_topic, logger);
  const { pipeline, report } = await assemblePipeline(config, { logger, deadLetter });

  const source = new KafkaSource({
    consumer: kafka.consumer({
      groupId: config.kafka.group_id,
      sessionTimeoutMs: config.kafka.session_timeout_ms,
      maxBytesPerPartition: config.kafka.max_bytes_per_partition,
    }),
    groupId: config.kafka.group_id,
    topics: config.kafka.topics,
    fromBeginning: config.kafka.auto_offset_reset === 'earliest',
    maxRecordBytes: config.decode.max_record_bytes,
    push: (record) => pipeline.push(record),
    drain: () => pipeline.drain(),
    remember: (record, original) => deadLetter.originals.set(record, original),
    heartbeatIntervalMs: Math.max(1000, Math.floor(config.kafka.session_timeout_ms / 5)),
    logger,
  });

  const removeHandlers = handleShutdownSignals(() => source.stop(), logger);
  try {
    await source.run();
  } catch (error) {
    await pipeline.close().catch((closeError: unknown) => logger.error({ err: closeError }, 'closing the pipeline after a failure failed'));
    throw error;
  } finally {
    removeHandlers();
  }

  const summary = await pipeline.finish();
  await pipeline.close();
  process.stderr.write(formatSummary(summary, report));
  for (const [sink, outcomes] of Object.entries(summary.deliveryOutcomes)) {
    const failures = summary.deliveryFailures[sink] ?? 0;
    process.stderr.write(`  sink ${sink.padEnd(14)} delivered ${outcomes.delivered}, duplicate ${outcomes.duplicate}, filtered ${outcomes.filtered}, failed ${failures}\n`);
  }
  process.stderr.write(`  kafka records       ${source.stats.recordsFetched} (${source.stats.oversizedRecords} oversized, ${source.stats.tombstonesSkipped} tombstones skipped, ${source.stats.commits} commits, ${source.stats.commitRetries} commit retries)\n`);

  const failed = Object.values(summary.deliveryFailures).reduce((total, count) => total + count, 0);
  return failed > 0 ? 1 : 0;
}

/** First SIGTERM or SIGINT: graceful stop. Second: exit at once without committing the batch in hand. */
function handleShutdownSignals(stop: () => Promise<void>, logger: Logger): () => void {
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
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}
