import { existsSync, statSync, writeFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import type { Alert } from '../alerts/types.js';
import { loadConfig } from '../config/load.js';
import { listFormats } from '../decoders/index.js';
import type { DecodeContext } from '../decoders/types.js';
import { HolterError } from '../errors.js';
import { createLogger } from '../log.js';
import { readRecords } from '../sources/file.js';
import { decodedRecord, mergeByEventTime, type DecodedRecord } from '../sources/merge.js';
import { assemblePipeline } from './assemble.js';
import { applyOverrides, type CommandLineOverrides } from './overrides.js';
import { formatPreview } from './preview.js';
import { countDeliveryFailures, formatSummary } from './summary.js';

export interface ReplayOptions extends CommandLineOverrides {
  config?: string;
  format?: string;
  progress: boolean;
  summaryJson?: string;
  preview?: boolean;
}

/** Inputs smaller than this finish too fast for a progress bar to help. */
const PROGRESS_MIN_BYTES = 4 * 1024 * 1024;

export async function runReplay(files: string[], options: ReplayOptions): Promise<number> {
  if (files.filter((file) => file === '-').length > 1) {
    throw new HolterError('HOLTER_CONFIG_INVALID', 'Standard input (-) is given more than once. It can be read only once: name it once.');
  }
  for (const file of files) {
    if (file !== '-' && !existsSync(file)) {
      throw new HolterError('HOLTER_INPUT_NOT_FOUND', `Input file ${file} not found. Check the path, or use - for standard input.`);
    }
  }
  const config = applyOverrides(loadConfig(options.config), options);
  if (options.format !== undefined) {
    const known = listFormats({ genericMappings: config.decode.generic as DecodeContext['genericMappings'] });
    if (!known.includes(options.format)) {
      throw new HolterError('HOLTER_CONFIG_INVALID', `Unknown format ${JSON.stringify(options.format)} given to --format. Use one of ${known.join(', ')}, or define it under decode.generic.`);
    }
  }
  const logger = createLogger(config.log.level);
  const raised: Alert[] = [];
  const { pipeline, report } = await assemblePipeline(config, { logger, onAlert: options.preview ? (alert) => raised.push(alert) : undefined });

  const totalBytes = files.reduce((sum, file) => sum + (file === '-' ? 0 : statSync(file).size), 0);
  const bar = options.progress && process.stderr.isTTY && totalBytes >= PROGRESS_MIN_BYTES ? createProgressBar(totalBytes) : undefined;

  // Bytes read so far per input; the bar shows their sum, because the merge reads inputs in turns.
  const readBytes = new Array<number>(files.length).fill(0);
  let shownBytes = 0;
  const decodedInput = async function* (file: string, index: number): AsyncGenerator<DecodedRecord> {
    logger.info({ input: file }, 'replay input opened');
    for await (const record of readRecords(file, { format: options.format, maxRecordBytes: config.decode.max_record_bytes })) {
      readBytes[index] = record.offset ?? 0;
      yield decodedRecord(record, pipeline.decode(record));
    }
  };

  for await (const { record, result } of mergeByEventTime(files.map((file, index) => decodedInput(file, index)))) {
    await pipeline.pushDecoded(record, result);
    if (bar === undefined) continue;
    const done = readBytes.reduce((sum, bytes) => sum + bytes, 0);
    if (done - shownBytes > 65_536) {
      shownBytes = done;
      bar.update(done);
    }
  }
  bar?.update(totalBytes);
  bar?.stop();

  const summary = await pipeline.finish();
  await pipeline.close();
  process.stderr.write(formatSummary(summary, report));
  if (options.preview) process.stdout.write(formatPreview(raised));
  if (summary.deadLettered > 0) process.stderr.write(`Dead-lettered records are in ${config.dead_letter.path}\n`);
  if (options.summaryJson !== undefined) writeFileSync(options.summaryJson, `${JSON.stringify({ ...summary, rulesLoaded: report.rulesLoaded, rulesRejected: report.ruleErrors.length }, null, 2)}\n`);

  return countDeliveryFailures(summary) > 0 ? 1 : 0;
}

function createProgressBar(totalBytes: number): cliProgress.SingleBar {
  const bar = new cliProgress.SingleBar(
    { format: 'replay [{bar}] {percentage}% | {value}/{total} bytes | eta {eta_formatted}', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(totalBytes, 0);
  return bar;
}
