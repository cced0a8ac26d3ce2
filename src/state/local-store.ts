import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { HolterError } from '../errors.js';

/**
 * Layout of a stored checkpoint row. Each stage versions its own snapshot inside `state`; this
 * number covers the envelope (position and state together). load rejects any other.
 */
export const LOCAL_CHECKPOINT_VERSION = 1;

/** Position of one input when the checkpoint was taken. */
export interface InputPosition {
  /** The input as named on the command line. */
  input: string;
  /** SHA-256 of the input's first `fingerprintBytes` bytes, to tell a file that grew from one that was replaced. */
  fingerprint: string;
  fingerprintBytes: number;
  /** Byte offset of the last record processed from it. */
  lastOffset: number;
}

/** Detection state with the input positions it reflects. */
export interface LocalCheckpoint {
  positions: InputPosition[];
  /** The task's state as DetectionTask.snapshot returns it. */
  state: unknown;
  /** Processing time of the save, ISO 8601. */
  savedAt: string;
}

/** SQLite `application_id` of a Holter state store: "HLTR" in ASCII. */
const APPLICATION_ID = 0x484c5452;

/**
 * Marks a new or empty database as a Holter state store, and rejects one that belongs to another
 * program, so that a mistyped `state.path` (the alert store, say) is not written into. A store
 * written before the mark, with only the checkpoint table, is adopted.
 */
function claimDatabase(db: Database.Database, path: string): void {
  let applicationId: number;
  let tables: string[];
  try {
    applicationId = db.pragma('application_id', { simple: true }) as number;
    tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((row) => row.name);
  } catch (error) {
    db.close();
    throw new HolterError('HOLTER_STORE_FAILED', `The state store ${path} could not be read as SQLite: ${(error as Error).message}. Point state.path (or --state) at a new file, or delete a damaged one to start with empty state.`, { cause: error });
  }
  if (applicationId === APPLICATION_ID) return;

  const unmarkedStore = applicationId === 0 && tables.every((table) => table === 'checkpoint');
  if (!unmarkedStore) {
    db.close();
    const owner = applicationId === 0 ? `has the tables ${tables.join(', ')}` : `is marked by another program (application_id ${applicationId})`;
    throw new HolterError('HOLTER_STORE_FAILED', `${path} is not a Holter state store: it ${owner}. Point state.path (or --state) at a new file; Holter does not write into another program's database.`);
  }
  db.pragma(`application_id = ${APPLICATION_ID}`);
}

/**
 * The embedded state store: one SQLite file holding the latest checkpoint of each job (keyed, for
 * example, by the set of inputs). A save replaces the previous checkpoint in one transaction, so a
 * crash leaves either the old checkpoint or the new one, never a mix.
 */
export class LocalStateStore {
  private readonly db: Database.Database;

  private constructor(
    private readonly path: string,
    db: Database.Database,
  ) {
    this.db = db;
  }

  static open(path: string): LocalStateStore {
    let db: Database.Database;
    try {
      mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
    } catch (error) {
      throw new HolterError('HOLTER_STORE_FAILED', `The state store ${path} could not be opened: ${(error as Error).message}. Check that the path is a writable file, or delete a damaged one to start with empty state.`, {
        cause: error,
      });
    }
    claimDatabase(db, path);
    try {
      db.pragma('journal_mode = WAL');
      db.exec(`CREATE TABLE IF NOT EXISTS checkpoint (
        job TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        saved_at TEXT NOT NULL,
        positions TEXT NOT NULL,
        state BLOB NOT NULL
      )`);
    } catch (error) {
      throw new HolterError('HOLTER_STORE_FAILED', `The state store ${path} could not be opened: ${(error as Error).message}. Check that the path is a writable file, or delete a damaged one to start with empty state.`, {
        cause: error,
      });
    }
    return new LocalStateStore(path, db);
  }

  /** Returns the job's latest checkpoint, or undefined when the job has none yet. */
  load(job: string): LocalCheckpoint | undefined {
    const row = this.db.prepare('SELECT version, saved_at, positions, state FROM checkpoint WHERE job = ?').get(job) as
      | { version: number; saved_at: string; positions: string; state: Buffer }
      | undefined;
    if (row === undefined) return undefined;

    if (row.version !== LOCAL_CHECKPOINT_VERSION) {
      throw new HolterError(
        'HOLTER_STATE_VERSION',
        `The state store ${this.path} holds a checkpoint of version ${row.version}, but this Holter reads version ${LOCAL_CHECKPOINT_VERSION}. Use the Holter that wrote it, or delete the file to start with empty state.`,
      );
    }
    try {
      return {
        positions: JSON.parse(row.positions) as InputPosition[],
        state: JSON.parse(gunzipSync(row.state).toString('utf8')) as unknown,
        savedAt: row.saved_at,
      };
    } catch (error) {
      throw new HolterError('HOLTER_STORE_FAILED', `The checkpoint in ${this.path} is damaged: ${(error as Error).message}. Delete the file to start with empty state.`, { cause: error });
    }
  }

  /** Replaces the job's checkpoint. */
  save(job: string, checkpoint: LocalCheckpoint): void {
    const state = gzipSync(JSON.stringify(checkpoint.state), { level: 1 });
    try {
      this.db
        .prepare(
          `INSERT INTO checkpoint (job, version, saved_at, positions, state) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (job) DO UPDATE SET version = excluded.version, saved_at = excluded.saved_at, positions = excluded.positions, state = excluded.state`,
        )
        .run(job, LOCAL_CHECKPOINT_VERSION, checkpoint.savedAt, JSON.stringify(checkpoint.positions), state);
    } catch (error) {
      throw new HolterError('HOLTER_STORE_FAILED', `Saving the checkpoint to ${this.path} failed: ${(error as Error).message}. Check free disk space and permissions.`, { cause: error, retriable: true });
    }
  }

  /** Names of the jobs with a checkpoint, for `holter baseline show` to pick from. */
  jobs(): string[] {
    return (this.db.prepare('SELECT job FROM checkpoint ORDER BY job').all() as { job: string }[]).map((row) => row.job);
  }

  close(): void {
    this.db.close();
  }
}
