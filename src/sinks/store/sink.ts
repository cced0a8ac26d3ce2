import Database from 'better-sqlite3';
import type { Alert } from '../../alerts/types.js';
import { HolterError } from '../../errors.js';
import { ALERT_STORE, claimDatabase, createOwnerOnly, rejectDirectory } from '../../sqlite-owner.js';
import type { AlertSink, SinkOutcome } from '../types.js';

const SCHEMA_VERSION = 1;

export interface StoredAlertQuery {
  ruleId?: string;
  userId?: string;
  /** Only alerts whose `@timestamp` is at or after this ISO time. */
  since?: string;
  limit?: number;
}

/**
 * The embedded alert store: a SQLite file holding each alert once per alert id, so a replay of the
 * same events adds nothing. Used when no Elasticsearch is present.
 */
export class AlertStore implements AlertSink {
  readonly name = 'store';
  private readonly db: Database.Database;
  private insertStatement: Database.Statement | undefined;
  /** False for a read-only store that no run has written yet: it lists no alerts. */
  private readonly hasTable: boolean;

  /** `readOnly` is for readers such as `holter alerts`: the file is neither created nor written. */
  constructor(
    readonly filePath: string,
    options: { readOnly?: boolean } = {},
  ) {
    const readOnly = options.readOnly === true;
    rejectDirectory(filePath, ALERT_STORE);
    try {
      if (!readOnly) createOwnerOnly(filePath);
      this.db = new Database(filePath, { readonly: readOnly, fileMustExist: readOnly });
      if (filePath !== ':memory:') claimDatabase(this.db, filePath, ALERT_STORE, { readOnly });
      if (!readOnly) {
        this.db.pragma('journal_mode = WAL');
        this.migrate();
      }
      this.hasTable = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alerts'").get() !== undefined;
    } catch (error) {
      if (error instanceof HolterError) throw error;
      throw new HolterError('HOLTER_STORE_FAILED', `Cannot open the alert store ${filePath}: ${(error as Error).message}. Check the path and its permissions.`, {
        cause: error,
      });
    }
  }

  private get insert(): Database.Statement {
    this.insertStatement ??= this.db.prepare(
      `INSERT OR IGNORE INTO alerts (id, timestamp, rule_id, severity, user_id, document)
       VALUES (@id, @timestamp, @ruleId, @severity, @userId, @document)`,
    );
    return this.insertStatement;
  }

  async write(alert: Alert): Promise<SinkOutcome> {
    const result = this.insert.run({
      id: alert.event.id,
      timestamp: alert['@timestamp'],
      ruleId: alert.rule.id,
      severity: alert.event.severity,
      userId: alert.user?.id ?? null,
      document: JSON.stringify(alert),
    });
    return result.changes === 1 ? 'delivered' : 'duplicate';
  }

  query(filter: StoredAlertQuery = {}): Alert[] {
    if (!this.hasTable) return [];
    const clauses: string[] = [];
    const limit = filter.limit ?? 100;
    // SQLite binds a non-integer number as REAL, which LIMIT rejects with a bare "datatype mismatch",
    // and a negative LIMIT would mean no limit at all.
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new RangeError(`The alert store query limit must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got ${limit}.`);
    }
    const parameters: Record<string, unknown> = { limit };
    if (filter.ruleId !== undefined) {
      clauses.push('rule_id = @ruleId');
      parameters.ruleId = filter.ruleId;
    }
    if (filter.userId !== undefined) {
      clauses.push('user_id = @userId');
      parameters.userId = filter.userId;
    }
    if (filter.since !== undefined) {
      clauses.push('timestamp >= @since');
      parameters.since = filter.since;
    }
    const where = clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
    const rows = this.db
      .prepare(`SELECT document FROM alerts ${where} ORDER BY timestamp DESC LIMIT @limit`)
      .all(parameters) as { document: string }[];
    return rows.map((row) => JSON.parse(row.document) as Alert);
  }

  count(): number {
    if (!this.hasTable) return 0;
    return (this.db.prepare('SELECT count(*) AS n FROM alerts').get() as { n: number }).n;
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new HolterError(
        'HOLTER_STATE_VERSION',
        `The alert store ${this.filePath} has schema version ${version}, newer than this Holter (${SCHEMA_VERSION}). Upgrade Holter or use another store path.`,
      );
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS alerts (
        id TEXT PRIMARY KEY,
        timestamp TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        severity INTEGER NOT NULL,
        user_id TEXT,
        document TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS alerts_timestamp ON alerts (timestamp);
      CREATE INDEX IF NOT EXISTS alerts_rule ON alerts (rule_id, timestamp);
    `);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }
}
