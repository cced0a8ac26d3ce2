import { existsSync } from 'node:fs';
import { HolterError } from '../errors.js';
import { formatAlert } from '../sinks/console/sink.js';
import { AlertStore } from '../sinks/store/sink.js';

/**
 * Largest `--limit` that `holter alerts` accepts. It is far above what a terminal can show, and it
 * keeps a mistyped value from asking SQLite for a row count it cannot bind.
 */
export const MAX_ALERTS_LIMIT = 1_000_000;

export interface AlertsOptions {
  store: string;
  rule?: string;
  user?: string;
  limit: number;
  json?: boolean;
}

export async function runAlerts(options: AlertsOptions): Promise<number> {
  if (!existsSync(options.store)) {
    throw new HolterError('HOLTER_STORE_FAILED', `Alert store ${options.store} not found. Run \`holter demo\` or pass --store with the file a run wrote.`);
  }
  // A reader that stops early (`holter alerts --json | head`) closes the pipe: stop quietly.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const store = new AlertStore(options.store, { readOnly: true });
  try {
    const alerts = store.query({ ruleId: options.rule, userId: options.user, limit: options.limit });
    for (const alert of alerts) {
      process.stdout.write(options.json ? `${JSON.stringify(alert)}\n` : formatAlert(alert, Boolean(process.stdout.isTTY)));
    }
    if (!options.json) process.stderr.write(`${alerts.length} of ${store.count()} stored alerts shown\n`);
  } finally {
    await store.close();
  }
  return 0;
}
