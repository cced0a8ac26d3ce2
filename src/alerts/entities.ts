import { ENTITY_FIELDS, ENTITY_TYPES } from '../detect/risk/schema.js';
import type { EntityType } from '../detect/risk/schema.js';
import type { Detection } from '../detect/types.js';
import { getField } from '../event.js';
import type { HolterEvent } from '../event.js';

/** The user, source address and host a detection is about, by entity type; types it is not about are absent. */
export type DetectionEntities = Partial<Record<EntityType, string>>;

/**
 * Group key fields that name an entity type besides the type's own field. An account name
 * resolves to one directory user, so a group of one account is about that user.
 */
const ACCOUNT_FIELDS: Record<EntityType, readonly string[]> = {
  user: ['user.name', 'user.id'],
  source: [],
  host: [],
};

/**
 * Finds the entities a detection is about. A single-event detection (empty group key) is about
 * every entity its event names. A grouped detection (a correlation's group-by, a detector's `by`
 * and `partition_field`) is about only the entity types its group key names. Its trigger event is
 * one arbitrary member of the group, so a password spray grouped by `source.ip` is about the
 * source address and not about whichever victim failed last.
 *
 * A group key names an entity type when it contains the type's field (`holter.user.id`,
 * `source.ip`, `host.name`) or one of its account fields, or when one of its values equals the
 * trigger event's value of the type's field. The last case covers group-by names that reach the
 * field through a Sigma alias or a log source mapping (`IPAddress` for `source.ip`).
 */
export function detectionEntities(detection: Pick<Detection, 'groupKey' | 'trigger'>): DetectionEntities {
  const grouped = isGrouped(detection);
  const entities: DetectionEntities = {};
  for (const type of ENTITY_TYPES) {
    const value = grouped ? groupEntity(detection, type) : triggerEntity(detection.trigger, type);
    if (value !== undefined) entities[type] = value;
  }
  return entities;
}

/** Returns true when the detection has a group key, so that only the group's fields are true for all its events. */
export function isGrouped(detection: Pick<Detection, 'groupKey'>): boolean {
  return Object.keys(detection.groupKey).length > 0;
}

function groupEntity(detection: Pick<Detection, 'groupKey' | 'trigger'>, type: EntityType): string | undefined {
  const keyed = detection.groupKey[ENTITY_FIELDS[type]];
  if (keyed !== undefined && keyed !== '') return keyed;

  // The group key can name the entity without holding its field. The value is then the
  // trigger's, which every event of the group shares.
  const fromTrigger = triggerEntity(detection.trigger, type);
  if (fromTrigger === undefined) return undefined;
  const named = Object.entries(detection.groupKey).some(
    ([field, value]) => ACCOUNT_FIELDS[type].includes(field) || value === fromTrigger,
  );
  return named ? fromTrigger : undefined;
}

/** Reads an entity from an event. Only a non-empty string names an entity. */
function triggerEntity(trigger: HolterEvent, type: EntityType): string | undefined {
  const value = getField(trigger, ENTITY_FIELDS[type]);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Lists a group key's fields and values as `field value` texts, without patient fields. Alert
 * headers name a group keyed by a field other than an entity (a client id) this way.
 */
export function groupKeyEntities(groupKey: Record<string, string>): string[] {
  return Object.entries(groupKey)
    .filter(([field]) => !field.startsWith('holter.patient.'))
    .map(([field, value]) => `${field} ${value}`);
}
