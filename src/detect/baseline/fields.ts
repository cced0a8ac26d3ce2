/**
 * Checks of the event fields that a detector file names, beyond their form, which the schema
 * checks: no patient data, no field listed twice, no partition by the entity itself.
 */
import type { HolterError } from '../../errors.js';
import { freeTextFieldOf, isActingPatientIdentifierPath, isPatientIdentifierPath } from '../patient-data.js';
import { located } from './validate.js';
import type { DocumentContext } from './validate.js';

/**
 * Keys whose field values a detector learns or reports: entities, the values judged, partitions,
 * peer groups and influencers. The values are kept in the state checkpoint and shown by
 * `holter baseline show`, the baseline endpoint and alerts.
 */
const FIELD_KEYS: readonly (readonly string[])[] = [['by'], ['field'], ['partition_field']];
const FIELD_LIST_KEYS: readonly (readonly string[])[] = [['over'], ['influencers'], ['learning', 'peer_group']];

interface NamedField {
  field: string;
  segments: string[];
}

/** Rejects each learned field that is a patient identifier or free text that can carry one. */
export function checkPatientData(data: Record<string, unknown>, context: DocumentContext): HolterError[] {
  const errors: HolterError[] = [];
  const stored = 'a detector keeps the values it reads in its baselines, state checkpoint and alerts';
  for (const { field, segments } of learnedFields(data)) {
    const key = segments.join('.');
    if (isPatientIdentifierPath(field) || isActingPatientIdentifierPath(field)) {
      const token = isActingPatientIdentifierPath(field)
        ? "holter.acting_patient.token, the acting patient's keyed token (also their holter.user.id)"
        : "holter.patient.token, the patient's keyed token";
      const message = `${key} names ${field}, a patient identifier; ${stored}, so use ${token}`;
      errors.push(located(context, segments, 'value', message));
      continue;
    }
    const freeText = freeTextFieldOf(field);
    if (freeText !== undefined) {
      const message =
        `${key} names ${field}, free text that can carry a patient's name, date of birth or record number; ${stored}, ` +
        'so remove it or use a coded field such as holter.access.purpose or event.action';
      errors.push(located(context, segments, 'value', message));
    }
  }
  return errors;
}

/**
 * Fields that events carry as lists (ECS categorisation, related values, DICOM study lists). A
 * detector reads one text or number per field, so such a field never has a value for it.
 */
const LIST_FIELDS: ReadonlySet<string> = new Set([
  'event.category',
  'event.type',
  'user.roles',
  'host.ip',
  'related.user',
  'related.ip',
  'related.hosts',
  'related.hash',
  'holter.dicom.study_uids',
  'holter.dicom.accession',
  'holter.dicom.sop_classes',
]);

/** Rejects a learned field that events carry as a list: every event would be skipped for it. */
export function checkListFields(data: Record<string, unknown>, context: DocumentContext): HolterError[] {
  const errors: HolterError[] = [];
  for (const { field, segments } of learnedFields(data)) {
    if (!LIST_FIELDS.has(field)) continue;
    const key = segments.join('.');
    const message =
      `${key} names ${field}, which events carry as a list, and a detector reads one value per field, so no event would have one; ` +
      'use a single-valued field such as event.action, or filter on the list in where';
    errors.push(located(context, segments, 'value', message));
  }
  return errors;
}

/** Rejects a field listed twice in one list, and a partition by the entity field itself. */
export function checkFieldRepeats(data: Record<string, unknown>, context: DocumentContext): HolterError[] {
  const errors: HolterError[] = [];
  for (const keyPath of FIELD_LIST_KEYS) {
    const firstIndex = new Map<string, number>();
    listAt(data, keyPath).forEach((item, index) => {
      if (typeof item !== 'string') return;
      const first = firstIndex.get(item);
      if (first === undefined) {
        firstIndex.set(item, index);
        return;
      }
      const key = keyPath.join('.');
      const message = `${key} lists ${item} twice (items ${first} and ${index}); remove the repeat`;
      errors.push(located(context, [...keyPath, String(index)], 'value', message));
    });
  }

  if (typeof data.partition_field === 'string' && data.partition_field === data.by) {
    const message =
      `partition_field ${data.partition_field} is the by field, so each entity has one partition and the key has no effect; ` +
      'remove it, or partition by another field such as event.action';
    errors.push(located(context, ['partition_field'], 'value', message));
  }
  return errors;
}

function learnedFields(data: Record<string, unknown>): NamedField[] {
  const named: NamedField[] = [];
  for (const keyPath of FIELD_KEYS) {
    const value = valueAt(data, keyPath);
    if (typeof value === 'string') named.push({ field: value, segments: [...keyPath] });
  }
  for (const keyPath of FIELD_LIST_KEYS) {
    listAt(data, keyPath).forEach((item, index) => {
      if (typeof item === 'string') named.push({ field: item, segments: [...keyPath, String(index)] });
    });
  }
  return named;
}

function valueAt(data: Record<string, unknown>, keyPath: readonly string[]): unknown {
  let value: unknown = data;
  for (const key of keyPath) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function listAt(data: Record<string, unknown>, keyPath: readonly string[]): unknown[] {
  const value = valueAt(data, keyPath);
  return Array.isArray(value) ? value : [];
}
