import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Alert } from '../../alerts/types.js';
import { HolterError } from '../../errors.js';
import { STANDARD_STREAM } from '../../paths.js';
import type { AlertSink, SinkOutcome } from '../types.js';

/** Appends each alert as one JSON document per line, to a file or to standard output. */
export class NdjsonSink implements AlertSink {
  readonly name = 'ndjson';
  private readonly stream: WriteStream | NodeJS.WriteStream;
  private failure: Error | undefined;
  private readerGone = false;

  constructor(readonly filePath: string) {
    this.stream = filePath === STANDARD_STREAM ? process.stdout : NdjsonSink.openFile(filePath);
    // Without a listener, a closed pipe (EPIPE) on standard output would end the process mid-run.
    this.stream.on('error', (error) => {
      this.failure = error;
    });
  }

  private static openFile(filePath: string): WriteStream {
    try {
      mkdirSync(path.dirname(path.resolve(filePath)), { recursive: true });
    } catch (error) {
      throw writeFailed(filePath, error as Error);
    }
    // Owner-only, as the other outputs: alerts name users and carry break-glass reasons.
    return createWriteStream(filePath, { flags: 'a', mode: 0o600 });
  }

  /** Resolves once the line is written to the file (not only buffered), so a failure is never missed. */
  async write(alert: Alert): Promise<SinkOutcome> {
    if (this.readerGone) return 'filtered';
    if (this.failure) throw this.failed(this.failure);
    return new Promise<SinkOutcome>((resolve, reject) => {
      this.stream.write(`${JSON.stringify(alert)}\n`, (error) => {
        if (!error) return resolve('delivered');
        // Writes already in flight fail too once the reader has gone; the first one reports it.
        if (this.readerGone) return resolve('filtered');
        this.failure ??= error;
        reject(this.failed(error));
      });
    });
  }

  /**
   * Returns the error to report for a failed write. A reader that closed standard output (`| head
   * -1`) wants no more alerts, so that is reported once and later alerts are dropped quietly.
   */
  private failed(error: Error): HolterError {
    if (this.stream === process.stdout && (error as NodeJS.ErrnoException).code === 'EPIPE') {
      this.readerGone = true;
      return new HolterError('HOLTER_SINK_FAILED', 'Standard output was closed by its reader, so no more alerts are written to it (--out -).', { cause: error });
    }
    return writeFailed(this.filePath === STANDARD_STREAM ? 'standard output' : this.filePath, error);
  }

  async close(): Promise<void> {
    // Standard output stays open for the summary and the process's other writers; every line is already flushed by write.
    if (this.stream === process.stdout) return;
    await new Promise<void>((resolve) => (this.stream as WriteStream).end(resolve));
  }
}

function writeFailed(target: string, error: Error): HolterError {
  return new HolterError('HOLTER_SINK_FAILED', `Cannot write alerts to ${target}: ${error.message}. Check the path and free space.`, { cause: error });
}
