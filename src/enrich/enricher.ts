import { HolterError } from '../errors.js';
import type { HolterEvent, HolterFields, HolterPatientFields } from '../event.js';
import { bareAccountName } from './accounts.js';
import type { Directory, Person } from './directory.js';
import type { Roster } from './roster.js';
import { createPatientTokenizer, keyFingerprint } from './tokens.js';

export interface EnricherOptions {
  directory?: Directory;
  roster?: Roster;
  /** HMAC key for patient tokens; must be the key the roster was loaded with. */
  tokenKey: Buffer | string;
}

/** Counters for the run summary. */
export interface EnricherStats {
  users_known: number;
  users_unknown: number;
  users_ambiguous: number;
  patients_tokenised: number;
}

export type Enricher = ((event: HolterEvent) => HolterEvent) & { stats(): EnricherStats };

type UserFacts = NonNullable<HolterFields['user']>;

interface CachedUser {
  facts: UserFacts;
  outcome: 'known' | 'unknown' | 'ambiguous';
}

const OUTCOME_COUNTERS = { known: 'users_known', unknown: 'users_unknown', ambiguous: 'users_ambiguous' } as const;

/** Resolutions are cached by the names seen; the cache is cleared when it reaches this size. */
const USER_CACHE_MAX_ENTRIES = 50_000;

/**
 * Creates the enrich stage. The returned function mutates the event in place and returns it:
 * - sets `holter.user.*` from the directory (see resolveUser for the id of unknown accounts);
 * - replaces `holter.patient` with a copy that has `token` in place of the clear `id`;
 * - with a roster, sets `vip`, `employee`, `deceased` and `self_access` on every event that names
 *   a patient (false when the patient is not listed).
 *
 * Patient tokens are not cached: a cache would keep clear ids in memory, and one HMAC per event
 * is cheap next to decoding.
 */
export function createEnricher(options: EnricherOptions): Enricher {
  const tokenize = createPatientTokenizer(options.tokenKey);
  const { directory, roster } = options;
  if (roster !== undefined && roster.keyFingerprint !== keyFingerprint(tokenize)) {
    throw new HolterError(
      'HOLTER_CONFIG_INVALID',
      'the patient roster was tokenised with a different key than the enricher uses; load the roster with the configured patient token key',
      { path: 'patient_token.key' },
    );
  }

  const cache = new Map<string, CachedUser>();
  const stats: EnricherStats = { users_known: 0, users_unknown: 0, users_ambiguous: 0, patients_tokenised: 0 };

  const enrich = (event: HolterEvent): HolterEvent => {
    const holter = event.holter ?? (event.holter = { source: { input: 'unknown', format: 'unknown' } });

    const actingPatient = holter.acting_patient?.id;
    const cacheKey = actingPatient === undefined ? userCacheKey(event) : undefined;
    if (actingPatient !== undefined) {
      // A patient's own account: its id is a patient identifier, so the user is known by the token.
      const token = tokenize(actingPatient);
      holter.acting_patient = { token };
      holter.user = { id: token, known: false, role: 'patient' };
      event.user = { id: token, name: token };
      stats.patients_tokenised += 1;
    } else if (cacheKey !== undefined) {
      let cached = cache.get(cacheKey);
      if (cached === undefined) {
        if (cache.size >= USER_CACHE_MAX_ENTRIES) cache.clear();
        cached = resolveUser(directory, seenNames(event));
        cache.set(cacheKey, cached);
      }
      stats[OUTCOME_COUNTERS[cached.outcome]] += 1;
      holter.user = { ...cached.facts };
    } else {
      holter.user = directory === undefined ? {} : { known: false };
    }

    const patient = holter.patient;
    if (patient === undefined || patient.id === undefined) return event;

    const clearId = String(patient.id);
    const tokenised = withoutClearId(patient);
    holter.patient = tokenised;
    if (clearId.trim() === '') return event;
    const token = tokenize(clearId);
    tokenised.token = token;
    stats.patients_tokenised += 1;

    if (roster !== undefined) {
      const entry = roster.get(token);
      tokenised.vip = entry?.vip ?? false;
      tokenised.employee = entry?.employee ?? false;
      tokenised.deceased = entry?.deceased ?? false;
      const userId = holter.user.id;
      tokenised.self_access =
        entry?.employeeUserId !== undefined && userId !== undefined && entry.employeeUserId.toLowerCase() === userId.toLowerCase();
    }
    return event;
  };

  return Object.assign(enrich, { stats: () => ({ ...stats }) });
}

/**
 * Returns a copy of the patient fields without the clear id, keys in their order. Decoders set
 * only `id`, so the copy is usually empty. Copying instead of deleting keeps V8's fast object
 * layout, which later field reads by the detection stages benefit from.
 */
function withoutClearId(patient: HolterPatientFields): HolterPatientFields {
  const copy: Record<string, unknown> = {};
  for (const key in patient) {
    if (key !== 'id' && Object.hasOwn(patient, key)) copy[key] = patient[key as keyof HolterPatientFields];
  }
  return copy as HolterPatientFields;
}

/**
 * Returns the names seenNames would return, joined with NUL, or undefined when there are none.
 * It builds no array, because it runs on every event and the cache usually contains the resolution.
 */
function userCacheKey(event: HolterEvent): string | undefined {
  const user = event.user;
  if (user === undefined) return undefined;
  const name = isUsableName(user.name) ? user.name : undefined;
  const email = isUsableName(user.email) && user.email !== name ? user.email : undefined;
  const id = isUsableName(user.id) && user.id !== name && user.id !== email ? user.id : undefined;

  let key = name;
  if (email !== undefined) key = key === undefined ? email : `${key}\u0000${email}`;
  if (id !== undefined) key = key === undefined ? id : `${key}\u0000${id}`;
  return key;
}

function isUsableName(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

/** Returns the account names the source wrote, most specific first: `user.name`, `user.email`, `user.id`. */
function seenNames(event: HolterEvent): string[] {
  const names: string[] = [];
  for (const value of [event.user?.name, event.user?.email, event.user?.id]) {
    if (typeof value === 'string' && value.trim() !== '' && !names.includes(value)) names.push(value);
  }
  return names;
}

/**
 * Resolves the first name that the directory resolves to one person. When none resolves,
 * `holter.user.id` is the first name as seen, lower-cased and without its domain, and `known` is
 * false. Without a directory `known` is left out, because whether an account is known cannot be decided.
 */
function resolveUser(directory: Directory | undefined, names: string[]): CachedUser {
  let ambiguous = false;
  for (const name of names) {
    const resolution = directory?.resolve(name);
    if (resolution?.status === 'known') return { facts: personFacts(resolution.person), outcome: 'known' };
    if (resolution?.status === 'ambiguous') ambiguous = true;
  }

  const seen = bareAccountName((names[0] as string).trim().toLowerCase());
  const facts: UserFacts = directory === undefined ? { id: seen } : { id: seen, known: false };
  return { facts, outcome: ambiguous ? 'ambiguous' : 'unknown' };
}

function personFacts(person: Person): UserFacts {
  const facts: UserFacts = { id: person.userId, known: true };
  if (person.role !== undefined) facts.role = person.role;
  if (person.department !== undefined) facts.department = person.department;
  if (person.facility !== undefined) facts.facility = person.facility;
  if (person.timeZone !== undefined) facts.time_zone = person.timeZone;
  if (person.shift !== undefined) facts.shift = person.shift;
  return facts;
}
