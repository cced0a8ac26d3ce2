import Database from 'better-sqlite3';
import { HolterError } from '../../errors.js';
import { claimDatabase, createOwnerOnly, rejectDirectory, WEBHOOK_OUTBOX } from '../../sqlite-owner.js';

/** One page waiting to be sent. */
export interface PendingPage {
  id: string;
  body: string;
  attempts: number;
}

/**
 * The webhook's durable outbox, an SQLite file: pages wait here until the receiver accepts them,
 * across restarts, so a receiver that is down delays its own pages and nothing else. Delivered
 * ids are remembered, so a replayed alert is not paged twice; pages the receiver rejected, or
 * that ran out of attempts, are kept in `failed` for an operator to inspect. Those that ran out of
 * attempts (the receiver was down or failing, `exhausted` = 1) are queued again at the next start:
 * an outage longer than the retries must not lose a page. Rejected ones (4xx, 3xx) are not, and
 * `enqueue` does not queue their ids again either.
 */
export class WebhookOutbox {
  private readonly db: Database.Database;
  private readonly statements: Record<'insert' | 'retryAll' | 'isDelivered' | 'isRejected' | 'due' | 'firstPending' | 'delivered' | 'deletePending' | 'reschedule' | 'failed' | 'pendingCount' | 'nextDue' | 'requeueExhausted' | 'deleteExhausted' | 'deleteFailed', Database.Statement>;

  constructor(readonly filePath: string) {
    rejectDirectory(filePath, WEBHOOK_OUTBOX);
    try {
      createOwnerOnly(filePath);
      this.db = new Database(filePath);
      if (filePath !== ':memory:') claimDatabase(this.db, filePath, WEBHOOK_OUTBOX);
      this.db.pragma('journal_mode = WAL');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY, body TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_ms INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS delivered (id TEXT PRIMARY KEY, delivered_ms INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS failed (id TEXT PRIMARY KEY, body TEXT NOT NULL, attempts INTEGER NOT NULL, reason TEXT NOT NULL, failed_ms INTEGER NOT NULL, exhausted INTEGER NOT NULL DEFAULT 0);
      `);
      // Outboxes written before `exhausted` existed get the column; their failed pages count as rejected, so none is re-sent unasked.
      const columns = (this.db.prepare('PRAGMA table_info(failed)').all() as { name: string }[]).map((column) => column.name);
      if (!columns.includes('exhausted')) this.db.exec('ALTER TABLE failed ADD COLUMN exhausted INTEGER NOT NULL DEFAULT 0');
    } catch (error) {
      if (error instanceof HolterError) throw error;
      throw new HolterError('HOLTER_STORE_FAILED', `Cannot open the webhook outbox ${filePath}: ${(error as Error).message}. Check sinks.webhook.outbox_path and its permissions.`, {
        cause: error,
      });
    }
    this.statements = {
      insert: this.db.prepare('INSERT OR IGNORE INTO pending (id, body, attempts, next_attempt_ms) VALUES (?, ?, 0, ?)'),
      retryAll: this.db.prepare('UPDATE pending SET next_attempt_ms = ? WHERE next_attempt_ms > ?'),
      isDelivered: this.db.prepare('SELECT 1 FROM delivered WHERE id = ?'),
      isRejected: this.db.prepare('SELECT 1 FROM failed WHERE id = ? AND exhausted = 0'),
      due: this.db.prepare('SELECT id, body, attempts FROM pending WHERE next_attempt_ms <= ? ORDER BY next_attempt_ms LIMIT ?'),
      firstPending: this.db.prepare('SELECT id, next_attempt_ms AS at FROM pending ORDER BY next_attempt_ms LIMIT ?'),
      delivered: this.db.prepare('INSERT OR IGNORE INTO delivered (id, delivered_ms) VALUES (?, ?)'),
      deletePending: this.db.prepare('DELETE FROM pending WHERE id = ?'),
      reschedule: this.db.prepare('UPDATE pending SET attempts = ?, next_attempt_ms = ? WHERE id = ?'),
      failed: this.db.prepare('INSERT OR REPLACE INTO failed (id, body, attempts, reason, failed_ms, exhausted) VALUES (?, ?, ?, ?, ?, ?)'),
      requeueExhausted: this.db.prepare('INSERT OR IGNORE INTO pending (id, body, attempts, next_attempt_ms) SELECT id, body, 0, ? FROM failed WHERE exhausted = 1'),
      deleteExhausted: this.db.prepare('DELETE FROM failed WHERE exhausted = 1'),
      deleteFailed: this.db.prepare('DELETE FROM failed WHERE id = ?'),
      pendingCount: this.db.prepare('SELECT count(*) AS n FROM pending'),
      nextDue: this.db.prepare('SELECT min(next_attempt_ms) AS at FROM pending'),
    };
  }

  /**
   * Queues a page. Returns `duplicate` when the id is already queued or was delivered before, and
   * `rejected_before` when the receiver rejected it before: resending the same page would get the
   * same response. An id that only ran out of attempts is queued again.
   */
  enqueue(id: string, body: string, nowMs: number): 'queued' | 'duplicate' | 'rejected_before' {
    if (this.statements.isDelivered.get(id) !== undefined) return 'duplicate';
    if (this.statements.isRejected.get(id) !== undefined) return 'rejected_before';
    return this.statements.insert.run(id, body, nowMs).changes === 1 ? 'queued' : 'duplicate';
  }

  /** Makes every pending page due now: on start, pages left by an earlier run are tried at once. */
  retryAllNow(nowMs: number): void {
    this.statements.retryAll.run(nowMs, nowMs);
  }

  /** Queues again, due now and with a fresh count of attempts, the pages that ran out of attempts; returns how many. */
  requeueExhausted(nowMs: number): number {
    return this.db.transaction(() => {
      const queued = this.statements.requeueExhausted.run(nowMs).changes;
      this.statements.deleteExhausted.run();
      return queued;
    })();
  }

  /** Returns up to `limit` pages due at `nowMs`, oldest due first, leaving out the ids in `skipIds` (pages being sent). */
  due(nowMs: number, limit: number, skipIds: ReadonlySet<string> = new Set()): PendingPage[] {
    const pages = this.statements.due.all(nowMs, limit + skipIds.size) as PendingPage[];
    return pages.filter((page) => !skipIds.has(page.id)).slice(0, limit);
  }

  markDelivered(id: string, nowMs: number): void {
    this.db.transaction(() => {
      this.statements.delivered.run(id, nowMs);
      this.statements.deletePending.run(id);
      // A page that ran out of attempts and was queued again in the same run is no longer failed,
      // so the next start does not queue it a third time.
      this.statements.deleteFailed.run(id);
    })();
  }

  reschedule(id: string, attempts: number, nextAttemptMs: number): void {
    this.statements.reschedule.run(attempts, nextAttemptMs, id);
  }

  /** Moves a page to `failed`. `exhausted` is true when it ran out of attempts rather than being rejected. */
  markFailed(page: PendingPage, attempts: number, reason: string, nowMs: number, exhausted: boolean): void {
    this.db.transaction(() => {
      this.statements.failed.run(page.id, page.body, attempts, reason, nowMs, exhausted ? 1 : 0);
      this.statements.deletePending.run(page.id);
    })();
  }

  pendingCount(): number {
    return (this.statements.pendingCount.get() as { n: number }).n;
  }

  /** Time of the next page due, leaving out the ids in `skipIds`, or undefined when no other page is pending. */
  nextDueMs(skipIds: ReadonlySet<string> = new Set()): number | undefined {
    if (skipIds.size === 0) return (this.statements.nextDue.get() as { at: number | null }).at ?? undefined;
    const rows = this.statements.firstPending.all(skipIds.size + 1) as { id: string; at: number }[];
    return rows.find((row) => !skipIds.has(row.id))?.at;
  }

  close(): void {
    this.db.close();
  }
}
