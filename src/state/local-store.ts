import { gunzipSync, gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { HolterError } from '../errors.js';
import { claimDatabase, createOwnerOnly, rejectDirectory, STATE_STORE } from '../sqlite-owner.js';

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
  /**
   * SHA-256 of the up to 4096 bytes before `lastOffset`, so that a file replaced by one with the
   * same beginning is not resumed mid-way. Positions saved before it existed lack it.
   */
  tailFingerprint?: string;
}

/** Detection state with the input positions it reflects. */
export interface LocalCheckpoint {
  positions: InputPosition[];
  /** The task's state as DetectionTask.snapshot returns it. */
  state: unknown;
  /** Processing time of the save, ISO 8601. */
  savedAt: string;
  /**
   * keyFingerprint of the patient token key the state's tokens were made with. Checkpoints saved
   * before it was stored lack it, and so do saves of runs without a configured key.
   */
  tokenKeyFingerprint?: string;
}

/** How long opening the store waits for another process to release it. */
const BUSY_TIMEOUT_MS = 2000;

function isBusy(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'SQLITE_BUSY';
}

function inUse(path: string, cause: unknown): HolterError {
  return new HolterError('HOLTER_STORE_FAILED', `The state store ${path} is in use by another Holter process (a replay or baseline show). Wait for it to finish, or give this run its own --state file.`, { cause });
}

/**
 * Adds the token key fingerprint column to a store created before it existed. Its rows keep a
 * null fingerprint until their next save, so the layout version stays the same.
 */
function addTokenKeyColumn(db: Database.Database): void {
  const columns = db.prepare('PRAGMA table_info(checkpoint)').all() as { name: string }[];
  if (!columns.some((column) => column.name === 'token_key_fingerprint')) db.exec('ALTER TABLE checkpoint ADD COLUMN token_key_fingerprint TEXT');
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

  /**
   * Opens the store. A writer keeps it locked until close and tries a write at once, so a
   * read-only file fails before a replay's work rather than when it saves. `readOnly` is for
   * readers such as `baseline show`: the file is neither created nor written.
   */
  static open(path: string, options: { readOnly?: boolean } = {}): LocalStateStore {
    const readOnly = options.readOnly === true;
    rejectDirectory(path, STATE_STORE);
    let db: Database.Database;
    try {
      if (!readOnly) createOwnerOnly(path);
      db = new Database(path, { timeout: BUSY_TIMEOUT_MS, readonly: readOnly, fileMustExist: readOnly });
    } catch (error) {
      throw new HolterError('HOLTER_STORE_FAILED', `The state store ${path} could not be opened: ${(error as Error).message}. Check that the path is a writable file, or delete a damaged one to start with empty state.`, {
        cause: error,
      });
    }
    try {
      claimDatabase(db, path, STATE_STORE, { readOnly });
    } catch (error) {
      if (isBusy((error as { cause?: unknown }).cause)) throw inUse(path, error);
      throw error;
    }
    if (readOnly) return new LocalStateStore(path, db);
    try {
      db.pragma('journal_mode = WAL');
      db.exec(`CREATE TABLE IF NOT EXISTS checkpoint (
        job TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        saved_at TEXT NOT NULL,
        positions TEXT NOT NULL,
        state BLOB NOT NULL
      )`);
      addTokenKeyColumn(db);
      // Held until close: two replays sharing one store would each overwrite the other's checkpoint.
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE; COMMIT');
      // The write probe: user_version is not otherwise used by the store.
      db.pragma('user_version = 1');
    } catch (error) {
      db.close();
      if (isBusy(error)) throw inUse(path, error);
      if ((error as { code?: unknown }).code === 'SQLITE_READONLY') {
        throw new HolterError('HOLTER_STORE_FAILED', `The state store ${path} is read-only, and replay saves its checkpoint there when it ends. Make the file and its folder writable, or point --state at another file.`, { cause: error });
      }
      throw new HolterError('HOLTER_STORE_FAILED', `The state store ${path} could not be opened: ${(error as Error).message}. Check that the path is a writable file, or delete a damaged one to start with empty state.`, {
        cause: error,
      });
    }
    return new LocalStateStore(path, db);
  }

  /** Returns the job's latest checkpoint, or undefined when the job has none yet. */
  load(job: string): LocalCheckpoint | undefined {
    const row = this.read(() => {
      // A store opened read-only may be an empty file that no replay has written yet.
      if (this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoint'").get() === undefined) return undefined;
      // SELECT * because a store written before the token key column, opened read-only, lacks it.
      return this.db.prepare('SELECT * FROM checkpoint WHERE job = ?').get(job) as
        | { version: number; saved_at: string; positions: string; state: Buffer; token_key_fingerprint?: string | null }
        | undefined;
    });
    if (row === undefined) return undefined;

    if (row.version !== LOCAL_CHECKPOINT_VERSION) {
      throw new HolterError(
        'HOLTER_STATE_VERSION',
        `The state store ${this.path} holds a checkpoint of version ${row.version}, but this Holter reads version ${LOCAL_CHECKPOINT_VERSION}. Use the Holter that wrote it, or delete the file to start with empty state.`,
      );
    }
    try {
      const checkpoint: LocalCheckpoint = {
        positions: JSON.parse(row.positions) as InputPosition[],
        state: JSON.parse(gunzipSync(row.state).toString('utf8')) as unknown,
        savedAt: row.saved_at,
      };
      if (typeof row.token_key_fingerprint === 'string') checkpoint.tokenKeyFingerprint = row.token_key_fingerprint;
      return checkpoint;
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
          `INSERT INTO checkpoint (job, version, saved_at, positions, state, token_key_fingerprint) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (job) DO UPDATE SET version = excluded.version, saved_at = excluded.saved_at, positions = excluded.positions, state = excluded.state,
             token_key_fingerprint = excluded.token_key_fingerprint`,
        )
        .run(job, LOCAL_CHECKPOINT_VERSION, checkpoint.savedAt, JSON.stringify(checkpoint.positions), state, checkpoint.tokenKeyFingerprint ?? null);
    } catch (error) {
      throw new HolterError('HOLTER_STORE_FAILED', `Saving the checkpoint to ${this.path} failed: ${(error as Error).message}. Check free disk space and permissions.`, { cause: error, retriable: true });
    }
  }

  /** Names of the jobs with a checkpoint, for `holter baseline show` to pick from. */
  jobs(): string[] {
    return this.read(() => (this.db.prepare('SELECT job FROM checkpoint ORDER BY job').all() as { job: string }[]).map((row) => row.job));
  }

  /** Runs a query, turning an SQLite error (a damaged page, an I/O error) into HOLTER_STORE_FAILED naming the file. */
  private read<T>(query: () => T): T {
    try {
      return query();
    } catch (error) {
      if ((error as { name?: unknown }).name !== 'SqliteError') throw error;
      throw new HolterError('HOLTER_STORE_FAILED', `The state store ${this.path} could not be read: ${(error as Error).message}. Restore it from a backup, or delete it to start with empty state.`, { cause: error });
    }
  }

  close(): void {
    this.db.close();
  }
}
