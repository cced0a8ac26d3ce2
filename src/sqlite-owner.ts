/**
 * Ownership marks for the SQLite files Holter writes: the state store, the alert store and the
 * webhook outbox. Each kind sets its own SQLite `application_id`, so a path that names another
 * program's database, or another kind of Holter file, is rejected before anything is written.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { HolterError } from './errors.js';
import { isDirectory, STANDARD_STREAM } from './paths.js';

export interface SqliteKind {
  /** The kind of file in messages, such as "state store". */
  name: string;
  /** Four ASCII letters read as a 32-bit integer. */
  applicationId: number;
  /** Tables of this kind. A file with only these and no mark was written before marks existed. */
  tables: readonly string[];
  /** The setting or flag that names the path, for the hint, such as "state.path (or --state)". */
  setting: string;
}

export const STATE_STORE: SqliteKind = { name: 'state store', applicationId: 0x484c5354, tables: ['checkpoint'], setting: 'state.path (or --state)' };
export const ALERT_STORE: SqliteKind = { name: 'alert store', applicationId: 0x484c414c, tables: ['alerts'], setting: 'sinks.store.path (or --store)' };
export const WEBHOOK_OUTBOX: SqliteKind = { name: 'webhook outbox', applicationId: 0x484c5742, tables: ['pending', 'delivered', 'failed'], setting: 'sinks.webhook.outbox_path' };

const KINDS = [STATE_STORE, ALERT_STORE, WEBHOOK_OUTBOX];

/**
 * Throws HOLTER_STORE_FAILED when `path` is a directory, which SQLite reports only as "unable to
 * open", or `-`, which names standard output elsewhere and would become a file named `-` here.
 */
export function rejectDirectory(path: string, kind: SqliteKind): void {
  if (path === STANDARD_STREAM) throw new HolterError('HOLTER_STORE_FAILED', `The ${kind.name} cannot be - (standard output): it is an SQLite file. Point ${kind.setting} at a file.`);
  if (path === ':memory:' || !isDirectory(path)) return;
  throw new HolterError('HOLTER_STORE_FAILED', `The ${kind.name} ${path} is a directory. Point ${kind.setting} at a file inside it.`);
}

/**
 * Creates the folders of a database file and, when the file is new, the file itself, readable by
 * their owner only: the files hold user ids, alert bodies and break-glass reasons. SQLite then opens the
 * empty file as a new database and gives its WAL and shared-memory files the same mode. An existing
 * file keeps its mode.
 */
export function createOwnerOnly(path: string): void {
  if (path === ':memory:') return;
  mkdirSync(dirname(resolve(path)), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
}

/**
 * Marks a new or empty database as `kind`, adopts an unmarked one that has only the kind's tables,
 * and otherwise closes it and throws HOLTER_STORE_FAILED naming the path and what it contains.
 */
export function claimDatabase(db: Database.Database, path: string, kind: SqliteKind, options: { readOnly?: boolean } = {}): void {
  let applicationId: number;
  let tables: string[];
  try {
    applicationId = db.pragma('application_id', { simple: true }) as number;
    tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((row) => row.name);
  } catch (error) {
    db.close();
    const code = String((error as { code?: unknown }).code ?? '');
    // SQLite reports a folder it cannot write its journal into as a read-only database, not as damage.
    if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN')) {
      throw new HolterError('HOLTER_STORE_FAILED', `The ${kind.name} ${path} could not be opened for writing: ${(error as Error).message}. Make the file and its folder writable by this user, or point ${kind.setting} at a file in a writable folder.`, { cause: error });
    }
    throw new HolterError('HOLTER_STORE_FAILED', `The ${kind.name} ${path} could not be read as SQLite: ${(error as Error).message}. Point ${kind.setting} at a new file, or delete a damaged one.`, { cause: error });
  }
  if (applicationId === kind.applicationId) return;

  const unmarked = applicationId === 0 && tables.every((table) => kind.tables.includes(table));
  if (!unmarked) {
    db.close();
    const other = KINDS.find((candidate) => candidate.applicationId === applicationId);
    let owner: string;
    if (other !== undefined) owner = `is a Holter ${other.name}`;
    else if (applicationId !== 0) owner = `is marked by another program (application_id ${applicationId})`;
    else owner = `has the tables ${tables.join(', ')}`;
    throw new HolterError('HOLTER_STORE_FAILED', `${path} is not a Holter ${kind.name}: it ${owner}. Point ${kind.setting} at a new file; Holter does not write into another program's database.`);
  }
  // A reader leaves an unmarked file as it is; the next writer marks it.
  if (options.readOnly !== true) db.pragma(`application_id = ${kind.applicationId}`);
}
