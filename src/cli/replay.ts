import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { Alert } from '../alerts/types.js';
import { loadConfig } from '../config/load.js';
import { listFormats } from '../decoders/index.js';
import type { DecodeContext } from '../decoders/types.js';
import { HolterError } from '../errors.js';
import { escapeLines } from '../text/escape.js';
import { createLogger } from '../log.js';
import { STANDARD_STREAM } from '../paths.js';
import type { Pipeline } from '../pipeline.js';
import type { HolterConfig } from '../config/schema.js';
import { readRecords } from '../sources/file.js';
import { decodedRecord, mergeByEventTime, type DecodedRecord } from '../sources/merge.js';
import { completeLength, fingerprintFile, renamedPosition, resumeOffset, tailFingerprint } from '../sources/position.js';
import { LocalStateStore, type InputPosition, type LocalCheckpoint } from '../state/local-store.js';
import type { TaskState } from '../state/task.js';
import { assemblePipeline, checkOutputFile, configuredKeyFingerprint } from './assemble.js';
import { runKafkaBacktest } from './backtest.js';
import { applyOverrides, type CommandLineOverrides } from './overrides.js';
import { formatPreview } from './preview.js';
import { formatLoadErrors } from './rules-report.js';
import { countDeliveryFailures, formatSummary } from './summary.js';

export interface ReplayOptions extends CommandLineOverrides {
  config?: string;
  format?: string;
  progress: boolean;
  summaryJson?: string;
  preview?: boolean;
  /** Embedded state store to resume from and save to; overrides `state.path`. */
  state?: string;
  /** Read the Kafka topics of `kafka.topics` instead of files (backtest.ts). */
  kafka?: boolean;
  /** Read these Kafka topics instead of files. */
  kafkaTopic?: string[];
  /** Range of a Kafka backtest in every partition: earliest, latest, an ISO time or an offset. */
  from?: string;
  to?: string;
}

/** Job name under which `holter replay` keeps its checkpoint in the state store. */
export const REPLAY_JOB = 'replay';

/** Inputs smaller than this finish too fast for a progress bar to help. */
const PROGRESS_MIN_BYTES = 4 * 1024 * 1024;

export async function runReplay(files: string[], options: ReplayOptions): Promise<number> {
  if (options.kafka === true || options.kafkaTopic !== undefined) return runKafkaBacktest(files, options);
  if (options.from !== undefined || options.to !== undefined) {
    throw new HolterError('HOLTER_CONFIG_INVALID', '--from and --to select a range of Kafka topics. Add --kafka or --kafka-topic, or drop them to read files.');
  }
  if (files.length === 0) {
    throw new HolterError('HOLTER_CONFIG_INVALID', 'No input given. Name one or more files (- for standard input), or add --kafka to read the configured Kafka topics.');
  }
  if (files.filter((file) => file === '-').length > 1) {
    throw new HolterError('HOLTER_CONFIG_INVALID', 'Standard input (-) is given more than once. It can be read only once: name it once.');
  }
  const named = new Map<string, string>();
  for (const file of files) {
    if (file === '-') continue;
    if (!existsSync(file)) {
      throw new HolterError('HOLTER_INPUT_NOT_FOUND', `Input file ${file} not found. Check the path, or use - for standard input.`);
    }
    // Read twice, every record would count twice in windows and baselines.
    const earlier = named.get(path.resolve(file));
    if (earlier !== undefined) throw new HolterError('HOLTER_CONFIG_INVALID', `Input ${file} is given twice (also as ${earlier}). Name each input once.`);
    named.set(path.resolve(file), file);
  }
  if (options.summaryJson !== undefined) checkOutputFile(options.summaryJson, '--summary-json', files);
  const config = applyOverrides(loadConfig(options.config), options);
  if (options.state !== undefined) checkOutputFile(options.state, '--state', files);
  if (options.format !== undefined) checkFormat(config, options.format);
  const logger = createLogger(config.log.level);
  const raised: Alert[] = [];
  const { pipeline, report } = await assemblePipeline(config, { logger, logLoadErrors: false, inputs: files, onAlert: options.preview ? (alert) => raised.push(alert) : undefined });
  process.stderr.write(formatLoadErrors(report, process.cwd()));

  const statePath = options.state !== undefined ? path.resolve(options.state) : config.state.path;
  const checkpoints = statePath === undefined ? undefined : await openCheckpoints(statePath, files, pipeline, config.state.checkpoint_interval_seconds * 1000, configuredKeyFingerprint(config));
  // Installed before the notes below, so a signal sent once they appear always finds the handlers.
  const interruption = watchInterruption();
  if (checkpoints !== undefined) {
    if (files.includes('-')) process.stderr.write('Note: standard input has no saved position, so records given on it again are counted again.\n');
    if (config.identity.token_key === undefined && config.identity.token_key_file === undefined) {
      process.stderr.write('Note: identity.token_key is not set, so this run tokenises patients with a new random key and the saved state cannot recognise them. Set identity.token_key_file when you use --state.\n');
    }
  }

  const totalBytes = files.reduce((sum, file) => sum + (file === '-' ? 0 : statSync(file).size), 0);
  const bar = options.progress && process.stderr.isTTY && totalBytes >= PROGRESS_MIN_BYTES ? createProgressBar(totalBytes) : undefined;

  // Bytes read so far per input; the bar shows their sum, because the merge reads inputs in turns.
  const readBytes = new Array<number>(files.length).fill(0);
  let shownBytes = 0;
  const decodedInput = async function* (file: string, index: number): AsyncGenerator<DecodedRecord> {
    logger.debug({ input: file }, 'replay input opened');
    const resumeAfter = checkpoints?.resumeOffsets.get(file);
    const completeBytes = checkpoints?.completeLengths.get(file);
    for await (const record of readRecords(file, { format: options.format, maxRecordBytes: config.decode.max_record_bytes })) {
      readBytes[index] = record.offset ?? 0;
      if (resumeAfter !== undefined && (record.offset ?? 0) <= resumeAfter) {
        checkpoints!.skipped++;
        continue;
      }
      if (completeBytes !== undefined && (record.offset ?? 0) >= completeBytes) {
        checkpoints!.heldBack++;
        continue;
      }
      yield decodedRecord(record, pipeline.decode(record));
    }
  };

  const merged = mergeByEventTime(files.map((file, index) => decodedInput(file, index)));
  for (;;) {
    // The race lets a signal stop a replay that waits on a read, such as an idle standard input.
    const pending = merged.next();
    // A read abandoned at a signal may fail later when its input is closed, and that is no error of the run.
    pending.catch(() => undefined);
    const next = await Promise.race([pending, interruption.stopped]);
    if (next === undefined || next.done === true) break;
    const { record, result } = next.value;
    await pipeline.pushDecoded(record, result);
    if (checkpoints !== undefined) await checkpoints.processed(record.input, record.offset);
    if (bar === undefined) continue;
    const done = readBytes.reduce((sum, bytes) => sum + bytes, 0);
    if (done - shownBytes > 65_536) {
      shownBytes = done;
      bar.update(done);
    }
  }
  bar?.update(totalBytes);
  bar?.stop();

  // With a state store the input may grow later, so open windows are saved rather than closed.
  if (checkpoints !== undefined) {
    await checkpoints.save();
    checkpoints.close();
  }
  const summary = await pipeline.finish({ closeWindows: checkpoints === undefined });
  await pipeline.close();
  process.stderr.write(formatSummary(summary, report, { interruptedBy: interruption.signal }));
  // Paths come from the command line and the configuration, so they are escaped for the terminal like the summary.
  if (checkpoints !== undefined) process.stderr.write(escapeLines(checkpoints.describe(Object.values(summary.stageStats).reduce((total, stats) => total + (stats.late_events ?? 0), 0))));
  if (options.preview) (config.sinks.ndjson.path === STANDARD_STREAM ? process.stderr : process.stdout).write(formatPreview(raised, config.facility.time_zone));
  if (summary.deadLettered > 0) process.stderr.write(escapeLines(`Dead-lettered records are in ${config.dead_letter.path}\n`));
  if (options.summaryJson !== undefined) writeFileSync(options.summaryJson, `${JSON.stringify({ ...summary, rulesLoaded: report.rulesLoaded, correlationsLoaded: report.correlationsLoaded, rulesRejected: report.rulesRejected }, null, 2)}\n`);

  if (interruption.signal !== undefined) {
    interruption.release();
    return exitCodeOf(interruption.signal);
  }
  interruption.remove();
  return countDeliveryFailures(summary) > 0 ? 1 : 0;
}

/** Throws unless `format` names a decoder, built in or defined under decode.generic. */
export function checkFormat(config: HolterConfig, format: string): void {
  const known = listFormats({ genericMappings: config.decode.generic as DecodeContext['genericMappings'] });
  if (!known.includes(format)) {
    throw new HolterError('HOLTER_CONFIG_INVALID', `Unknown format ${JSON.stringify(format)} given to --format. Use one of ${known.join(', ')}, or define it under decode.generic.`);
  }
}

/** Returns the exit code of a replay stopped by a signal, as shells report a process the signal ended: 130 for SIGINT, 143 for SIGTERM. */
export function exitCodeOf(signal: NodeJS.Signals): number {
  return signal === 'SIGTERM' ? 143 : 130;
}

/** How long an interrupted replay waits for reads still open on its inputs before it exits anyway. */
const INTERRUPTED_EXIT_GRACE_MS = 2000;

interface Interruption {
  /** The first SIGINT or SIGTERM received, once one was. */
  signal: NodeJS.Signals | undefined;
  /** Resolves to undefined at the first signal. */
  stopped: Promise<undefined>;
  /** Removes the signal handlers. */
  remove(): void;
  /**
   * Ends reads that the replay left waiting, such as standard input, and exits if the process is
   * still alive after a grace period. Call it once the summary and checkpoint are written.
   */
  release(): void;
}

/**
 * Installs SIGINT and SIGTERM handlers for a replay. The first signal stops reading, so the replay
 * saves its checkpoint and prints its summary. A second signal exits at once without saving. A
 * backtest has no checkpoint, so its messages do not promise one.
 */
export function watchInterruption(run: 'replay' | 'backtest' = 'replay'): Interruption {
  let resolveStopped: (value: undefined) => void = () => undefined;
  const interruption: Interruption = {
    signal: undefined,
    stopped: new Promise<undefined>((resolve) => {
      resolveStopped = resolve;
    }),
    remove: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
    release: () => {
      process.stdin.destroy();
      const timer = setTimeout(() => process.exit(exitCodeOf(interruption.signal ?? 'SIGINT')), INTERRUPTED_EXIT_GRACE_MS);
      timer.unref();
    },
  };
  function onSignal(signal: NodeJS.Signals): void {
    if (interruption.signal !== undefined) {
      process.stderr.write(run === 'replay' ? `holter replay: second ${signal}; exiting without saving the checkpoint.\n` : `holter replay: second ${signal}; exiting without a summary.\n`);
      process.exit(exitCodeOf(signal));
    }
    interruption.signal = signal;
    const then = run === 'replay' ? 'saving the checkpoint and printing the summary' : 'printing the summary';
    process.stderr.write(`holter replay: ${signal} received; stopping reading, then ${then}. Send it again to exit at once.\n`);
    resolveStopped(undefined);
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return interruption;
}

function createProgressBar(totalBytes: number): cliProgress.SingleBar {
  const bar = new cliProgress.SingleBar(
    { format: 'replay [{bar}] {percentage}% | {value}/{total} bytes | eta {eta_formatted}', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(totalBytes, 0);
  return bar;
}

interface Checkpoints {
  /** Files with a saved position to continue after: input name -> offset of the last record processed. */
  resumeOffsets: Map<string, number>;
  /** Records skipped because an earlier replay processed them. */
  skipped: number;
  /** Files that do not end with a newline: input name -> length up to the last newline. */
  completeLengths: Map<string, number>;
  /** Records after a file's last newline, left for the next replay because a writer may be mid-line. */
  heldBack: number;
  /** Records the position of a processed record, and saves a checkpoint when the interval has passed. */
  processed(input: string, offset: number | undefined): Promise<void>;
  /** Waits for every alert to reach the sinks, then saves state and positions together. */
  save(): Promise<void>;
  /** The summary lines about the state; `lateEvents` warns when the saved watermark made input late. */
  describe(lateEvents: number): string;
  close(): void;
}

/**
 * Restores the replay's detection state from the store and finds where each input resumes. A file
 * that only grew continues after its last processed record. A file whose start changed is read
 * again from the beginning. Standard input has no position.
 */
async function openCheckpoints(statePath: string, files: string[], pipeline: Pipeline, intervalMs: number, tokenKeyFingerprint: string | undefined): Promise<Checkpoints> {
  const store = LocalStateStore.open(statePath);
  let saved: LocalCheckpoint | undefined;
  try {
    saved = store.load(REPLAY_JOB);
    checkTokenKey(statePath, saved, tokenKeyFingerprint);
  } catch (error) {
    store.close();
    throw error;
  }
  if (saved !== undefined) pipeline.mainTask.restore(saved.state as TaskState);
  // A state saved before fingerprints were stored, or by a run without a configured key, takes this run's.
  const savedFingerprint = tokenKeyFingerprint ?? saved?.tokenKeyFingerprint;

  // Positions are kept by absolute path, so a later replay from another folder finds them.
  const positions = new Map<string, InputPosition>((saved?.positions ?? []).map((position) => [position.input, position]));
  const resumeOffsets = new Map<string, number>();
  const completeLengths = new Map<string, number>();
  for (const file of files) {
    if (file === '-') continue;
    let offset = await resumeOffset(file, positions.get(path.resolve(file)));
    if (offset === undefined) {
      const earlier = await renamedPosition(path.resolve(file), positions.values());
      if (earlier !== undefined) {
        offset = earlier.lastOffset;
        process.stderr.write(`Note: ${file} begins as ${earlier.input} did when it was read, so it is taken as that file renamed or rotated and resumes after its saved position.\n`);
      }
    }
    if (offset !== undefined) resumeOffsets.set(file, offset);
    const complete = await completeLength(file);
    if (complete < statSync(file).size) completeLengths.set(file, complete);
  }

  const lastOffsets = new Map<string, number>();
  let lastSaveMs = Date.now();
  const checkpoints: Checkpoints = {
    resumeOffsets,
    skipped: 0,
    completeLengths,
    heldBack: 0,
    async processed(input, offset) {
      if (input !== 'stdin' && offset !== undefined) lastOffsets.set(input, offset);
      if (Date.now() - lastSaveMs >= intervalMs) await checkpoints.save();
    },
    async save() {
      await pipeline.drain();
      for (const [input, lastOffset] of lastOffsets) {
        positions.set(path.resolve(input), { input: path.resolve(input), ...(await fingerprintFile(input)), lastOffset, tailFingerprint: await tailFingerprint(input, lastOffset) });
      }
      const checkpoint: LocalCheckpoint = { positions: [...positions.values()], state: pipeline.mainTask.snapshot(), savedAt: new Date().toISOString() };
      if (savedFingerprint !== undefined) checkpoint.tokenKeyFingerprint = savedFingerprint;
      store.save(REPLAY_JOB, checkpoint);
      lastSaveMs = Date.now();
    },
    describe(lateEvents) {
      const resumed = saved === undefined ? 'no earlier checkpoint' : `resumed from the checkpoint of ${saved.savedAt}, skipping ${checkpoints.skipped} records already processed`;
      let text = `  state               ${statePath}: ${resumed}; open windows saved for the next replay\n`;
      if (saved !== undefined && lateEvents > 0) {
        text += `  late after restore  ${lateEvents} events were older than the saved state's watermark, so they changed no window already judged (docs/detectors.md says which detectors still learn from them). Replay older data without --state, or all inputs together.\n`;
      }
      if (checkpoints.heldBack > 0) text += `  held back           ${checkpoints.heldBack} record(s) after the last newline of a file, read once the line is complete\n`;
      return text;
    },
    close() {
      store.close();
    },
  };
  return checkpoints;
}

/**
 * Returns the fingerprint of the configured patient token key, or undefined without one: a run
 * without a key tokenises with a random key, which the replay already warns about.
 */
/**
 * Rejects a checkpoint saved with another patient token key. Resuming it would key new events
 * under other tokens than the saved windows and baselines, so one patient would count as two.
 */
function checkTokenKey(statePath: string, saved: LocalCheckpoint | undefined, tokenKeyFingerprint: string | undefined): void {
  if (saved?.tokenKeyFingerprint === undefined || saved.tokenKeyFingerprint === tokenKeyFingerprint) return;
  // A run without a configured key tokenises with a random one, which is another key too.
  const now = tokenKeyFingerprint === undefined ? 'no patient token key is configured now, so this run would use a random one' : 'this run is configured with another patient token key';
  throw new HolterError(
    'HOLTER_CONFIG_INVALID',
    `The state store ${statePath} was saved with a patient token key, but ${now}, so its patient tokens would not match the saved ones. ` +
      `Replay with the key the state was saved with (identity.token_key or identity.token_key_file), or delete ${statePath} to start with empty state.`,
    { path: 'identity.token_key' },
  );
}
