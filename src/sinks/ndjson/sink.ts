import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import type { Alert } from '../../alerts/types.js';
import { HolterError } from '../../errors.js';
import type { AlertSink, SinkOutcome } from '../types.js';

/** Appends each alert as one JSON document per line. */
export class NdjsonSink implements AlertSink {
  readonly name = 'ndjson';
  private readonly stream: WriteStream;
  private failure: Error | undefined;

  constructor(readonly filePath: string) {
    mkdirSync(path.dirname(path.resolve(filePath)), { recursive: true });
    this.stream = createWriteStream(filePath, { flags: 'a' });
    this.stream.on('error', (error) => {
      this.failure = error;
    });
  }

  async write(alert: Alert): Promise<SinkOutcome> {
    if (this.failure) {
      throw new HolterError('HOLTER_SINK_FAILED', `Cannot write alerts to ${this.filePath}: ${this.failure.message}. Check the path and free space.`, {
        cause: this.failure,
      });
    }
    if (!this.stream.write(`${JSON.stringify(alert)}\n`)) await once(this.stream, 'drain');
    return 'delivered';
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.stream.end(resolve));
  }
}
