import { IANAZone } from 'luxon';
import type { HolterError } from '../errors.js';
import { accountKeys } from './accounts.js';
import { InvalidFileError, cellAt, cellProblem, cellText, readTable } from './table.js';
import type { TableRecord, TableSpec } from './table.js';

/**
 * The identity directory: who is behind each account name, with role, department, facility,
 * time zone and shift. See docs/identity.md for the file format.
 */

export const SHIFTS = ['day', 'night', 'office', 'rotating'] as const;
export type Shift = (typeof SHIFTS)[number];

export interface Account {
  /** System the account lives in, lower-case: `ehr`, `okta`, `ad`, `pacs`, `ssh`... */
  system: string;
  /** The account name as the directory writes it. */
  name: string;
}

/** One person. The loader does not store the display name, so it cannot reach logs or alerts. */
export interface Person {
  userId: string;
  role?: string;
  department?: string;
  facility?: string;
  /** IANA zone, checked at load. */
  timeZone?: string;
  shift?: Shift;
  accounts: Account[];
}

/**
 * The result of resolving an account name. `ambiguous` lists the user ids that share the name;
 * the directory does not guess between them.
 */
export type Resolution =
  | { status: 'known'; person: Person }
  | { status: 'ambiguous'; userIds: string[] }
  | { status: 'unknown' };

const UNKNOWN: Resolution = { status: 'unknown' };

const DIRECTORY_SPEC: TableSpec = {
  code: 'HOLTER_DIRECTORY_INVALID',
  kind: 'identity directory',
  required: ['user_id', 'accounts'],
  optional: ['display_name', 'role', 'department', 'facility', 'time_zone', 'shift'],
};

const SYSTEM_PATTERN = /^[a-z0-9][a-z0-9_.-]*$/;

/**
 * Resolves account names to people.
 *
 * Lookup rule: the seen name is lower-cased and first matched whole against every account name
 * and user id (so `STJUDE\jdoe` and `jdoe@stjude.example.org` match exactly). When nothing
 * matches whole, its bare form (domain removed) is matched against the bare forms of every
 * account. A key that leads to two or more people is ambiguous and is not resolved. The domain
 * is not compared on the bare match, so `OTHER\jdoe` resolves to the only person with a `jdoe`
 * account.
 */
export class Directory {
  private readonly people = new Map<string, Person>();
  private readonly byFullName = new Map<string, Set<string>>();
  private readonly byBareName = new Map<string, Set<string>>();

  constructor(people: Iterable<Person>) {
    for (const person of people) {
      this.people.set(person.userId, person);
      this.index(person.userId, person.userId);
      for (const account of person.accounts) this.index(account.name, person.userId);
    }
  }

  get size(): number {
    return this.people.size;
  }

  person(userId: string): Person | undefined {
    return this.people.get(userId);
  }

  resolve(name: string): Resolution {
    const keys = accountKeys(name);
    if (keys.full === '') return UNKNOWN;

    const exact = this.byFullName.get(keys.full);
    if (exact !== undefined) return this.toResolution(exact);

    const bare = this.byBareName.get(keys.bare);
    if (bare !== undefined) return this.toResolution(bare);

    return UNKNOWN;
  }

  private index(name: string, userId: string): void {
    const keys = accountKeys(name);
    addToIndex(this.byFullName, keys.full, userId);
    addToIndex(this.byBareName, keys.bare, userId);
  }

  private toResolution(userIds: Set<string>): Resolution {
    if (userIds.size > 1) return { status: 'ambiguous', userIds: [...userIds].sort() };
    const [userId] = userIds;
    const person = userId === undefined ? undefined : this.people.get(userId);
    return person ? { status: 'known', person } : UNKNOWN;
  }
}

function addToIndex(index: Map<string, Set<string>>, key: string, userId: string): void {
  const existing = index.get(key);
  if (existing) existing.add(userId);
  else index.set(key, new Set([userId]));
}

/**
 * Loads an identity directory from CSV or JSON. Every bad row is collected, and the load throws
 * one InvalidFileError (`HOLTER_DIRECTORY_INVALID`) that lists each with its file:line:column.
 */
export async function loadDirectory(file: string): Promise<Directory> {
  const { table, problems } = await readTable(file, DIRECTORY_SPEC);
  const people: Person[] = [];
  const firstLineOf = new Map<string, number>();

  for (const record of table.records) {
    const rowProblems: HolterError[] = [];
    const person = parsePerson(file, record, rowProblems);
    if (person !== undefined) {
      const earlier = firstLineOf.get(person.userId);
      if (earlier !== undefined) {
        const message = `user_id '${person.userId}' is already used on line ${earlier}; each person needs one row`;
        rowProblems.push(cellProblem(DIRECTORY_SPEC, file, cellAt(record, 'user_id'), message, 'user_id'));
      } else {
        firstLineOf.set(person.userId, record.line);
      }
    }
    problems.push(...rowProblems);
    if (person !== undefined && rowProblems.length === 0) people.push(person);
  }

  if (problems.length > 0) throw new InvalidFileError(DIRECTORY_SPEC.code, file, DIRECTORY_SPEC.kind, problems);
  return new Directory(people);
}

function parsePerson(file: string, record: TableRecord, problems: HolterError[]): Person | undefined {
  const problem = (column: string, message: string, at = cellAt(record, column)): void => {
    problems.push(cellProblem(DIRECTORY_SPEC, file, at, message, column));
  };

  for (const column of ['user_id', 'role', 'department', 'facility', 'time_zone', 'shift', 'display_name']) {
    const value = record.cells.get(column)?.value;
    if (value !== undefined && value !== null && typeof value !== 'string') {
      problem(column, `${column} must be a string, not ${JSON.stringify(value)}`);
    }
  }

  const userId = cellText(record, 'user_id');
  if (userId === '') problem('user_id', 'user_id is empty; every row needs the person\'s canonical id, e.g. u-1042');
  else if (/\s/.test(userId)) problem('user_id', `user_id '${userId}' contains white space; use an id without spaces`);

  const timeZone = cellText(record, 'time_zone');
  if (timeZone !== '' && !IANAZone.isValidZone(timeZone)) {
    problem('time_zone', `time_zone '${timeZone}' is not a known IANA time zone; use an IANA name such as America/New_York`);
  }

  const shift = cellText(record, 'shift').toLowerCase();
  if (shift !== '' && !(SHIFTS as readonly string[]).includes(shift)) {
    problem('shift', `shift '${shift}' is not one of ${SHIFTS.join(', ')}; leave it empty when unknown`);
  }

  const accounts = parseAccounts(record, problem);
  if (userId === '' || problems.length > 0) return undefined;

  return {
    userId,
    role: optional(cellText(record, 'role')),
    department: optional(cellText(record, 'department')),
    facility: optional(cellText(record, 'facility')),
    timeZone: optional(timeZone),
    shift: optional(shift) as Shift | undefined,
    accounts,
  };
}

function optional(text: string): string | undefined {
  return text === '' ? undefined : text;
}

type ReportProblem = (column: string, message: string) => void;

/** Reads `system:name;system:name` text (CSV, or a JSON string) or a JSON array of objects. */
function parseAccounts(record: TableRecord, problem: ReportProblem): Account[] {
  const value = record.cells.get('accounts')?.value;
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return parseAccountText(value, problem);
  if (!Array.isArray(value)) {
    problem('accounts', 'accounts must be an array of { "system": ..., "name": ... } objects or a "system:name;..." string');
    return [];
  }

  const accounts: Account[] = [];
  value.forEach((entry: unknown, index) => {
    const item = entry as Record<string, unknown> | null;
    const system = typeof item?.system === 'string' ? item.system.trim().toLowerCase() : undefined;
    const name = typeof item?.name === 'string' ? item.name.trim() : undefined;
    const extra = item !== null && typeof item === 'object' ? Object.keys(item).filter((key) => key !== 'system' && key !== 'name') : [];
    if (system === undefined || name === undefined || extra.length > 0) {
      problem('accounts', `accounts[${index}] must be an object with exactly the string keys "system" and "name"`);
      return;
    }
    const account = checkAccount(system, name, `accounts[${index}]`, problem);
    if (account) accounts.push(account);
  });
  return accounts;
}

function parseAccountText(text: string, problem: ReportProblem): Account[] {
  const accounts: Account[] = [];
  for (const part of text.split(';')) {
    const pair = part.trim();
    if (pair === '') continue;
    const colon = pair.indexOf(':');
    if (colon < 0) {
      problem('accounts', `account '${pair}' has no system; write it as system:name, e.g. ehr:jdoe`);
      continue;
    }
    const account = checkAccount(pair.slice(0, colon).trim().toLowerCase(), pair.slice(colon + 1).trim(), `account '${pair}'`, problem);
    if (account) accounts.push(account);
  }
  return accounts;
}

function checkAccount(system: string, name: string, label: string, problem: ReportProblem): Account | undefined {
  if (!SYSTEM_PATTERN.test(system)) {
    problem('accounts', `${label} has an invalid system '${system}'; use a short name such as ehr, okta, ad, pacs or ssh`);
    return undefined;
  }
  if (name === '') {
    problem('accounts', `${label} has an empty name; write the account name after the colon`);
    return undefined;
  }
  return { system, name };
}
