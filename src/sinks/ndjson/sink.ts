import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Alert } from '../../alerts/types.js';
import { HolterError } from '../../errors.js';
import type { AlertSink, SinkOutcome } from '../types.js';

/** Appends each alert as one JSON document per line. */
export class NdjsonSink implements AlertSink {
  readonly name = 'ndjson';
  private readonly stream: WriteStream;
  private failure: Error | undefined;

  constructor(readonly filePath: string) {
    try {
      mkdirSync(path.dirname(path.resolve(filePath)), { recursive: true });
    } catch (error) {
      throw this.wrap(error as Error);
    }
    this.stream = createWriteStream(filePath, { flags: 'a' });
    this.stream.on('error', (error) => {
      this.failure = error;
    });
  }

  /** Resolves once the line is written to the file (not only buffered), so a failure is never missed. */
  async write(alert: Alert): Promise<SinkOutcome> {
    if (this.failure) throw this.wrap(this.failure);
    await new Promise<void>((resolve, reject) => {
      this.stream.write(`${JSON.stringify(alert)}\n`, (error) => (error ? reject(this.wrap(error)) : resolve()));
    });
    return 'delivered';
  }

  private wrap(error: Error): HolterError {
    return new HolterError('HOLTER_SINK_FAILED', `Cannot write alerts to ${this.filePath}: ${error.message}. Check the path and free space.`, { cause: error });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.stream.end(resolve));
  }
}
