import { createHash } from 'node:crypto';
import type { Detection, Severity } from '../detect/types.js';
import { detectionEntities, isGrouped } from './entities.js';
import type { Alert } from './types.js';

/** ECS `event.severity` numbers for Sigma levels (higher is worse). */
const SEVERITY_NUMBER: Record<Severity, number> = {
  informational: 1,
  low: 2,
  medium: 3,
  high: 4,
  critical: 5,
};

export function severityRank(severity: Severity): number {
  return SEVERITY_NUMBER[severity];
}

/**
 * Derives the alert id from rule id, group key and window. Reprocessing the same events yields
 * the same id, so sinks can write idempotently and pagers can deduplicate on it.
 */
export function alertId(detection: Pick<Detection, 'rule' | 'groupKey' | 'window'>): string {
  const groupKey = Object.keys(detection.groupKey)
    .sort()
    .map((field) => `${field}=${detection.groupKey[field]}`)
    .join('\u001f');
  const material = [detection.rule.id, groupKey, detection.window.start, detection.window.end].join('\u001e');
  return createHash('sha256').update(material).digest('hex').slice(0, 32);
}

/** Turns a detection into the alert document every sink receives. `created` is processing time. */
export function buildAlert(detection: Detection, created: Date): Alert {
  const trigger = detection.trigger;
  const tags = detection.tags ?? detection.rule.tags ?? [];

  const alert: Alert = {
    '@timestamp': trigger['@timestamp'],
    event: {
      kind: 'alert',
      id: alertId(detection),
      created: created.toISOString(),
      severity: SEVERITY_NUMBER[detection.severity],
      risk_score: detection.riskScore,
      dataset: 'holter.alerts',
      module: 'holter',
      start: detection.window.start,
      end: detection.window.end,
    },
    rule: {
      id: detection.rule.id,
      name: detection.rule.name,
      ruleset: detection.rule.ruleset,
    },
    message: detection.explanation.summary,
    holter: {
      alert: {
        severity: detection.severity,
        group_key: detection.groupKey,
        explanation: detection.explanation,
        evidence: detection.evidence,
      },
    },
  };

  if (detection.rule.uuid !== undefined) alert.rule.uuid = detection.rule.uuid;
  if (detection.rule.description !== undefined) alert.rule.description = detection.rule.description;
  if (detection.rule.version !== undefined) alert.rule.version = detection.rule.version;
  if (detection.rule.author !== undefined) alert.rule.author = detection.rule.author;
  if (detection.rule.references?.[0] !== undefined) alert.rule.reference = detection.rule.references[0];
  if (trigger.event.category.length > 0) alert.event.category = trigger.event.category;

  addEntityFields(alert, detection);

  if (tags.length > 0) alert.tags = tags;
  const threat = mitreFromTags(tags);
  if (threat !== undefined) alert.threat = threat;
  return alert;
}

/**
 * Copies the user, source, host and patient fields that hold for every event of the detection:
 * all of the trigger event's for a single-event detection, else only those of the entities its
 * group key names (detectionEntities). The other members of a group, such as the victims of a
 * spray grouped by source address, stay in the evidence and are not presented as the alert's user.
 */
function addEntityFields(alert: Alert, detection: Detection): void {
  const trigger = detection.trigger;
  const grouped = isGrouped(detection);
  const entities = detectionEntities(detection);

  // One person can have several accounts, so a group of one user has one account name only when grouped by it.
  const userName = grouped ? detection.groupKey['user.name'] : trigger.user?.name;
  if (entities.user !== undefined || userName !== undefined) {
    alert.user = {};
    if (entities.user !== undefined) alert.user.id = entities.user;
    if (userName !== undefined) alert.user.name = userName;
  }
  if (entities.source !== undefined) alert.source = { ip: entities.source };
  if (entities.host !== undefined) alert.host = { name: entities.host };

  // Directory facts describe the trigger's person, who is the group's person only when the group is about that user.
  const directoryUser = trigger.holter.user;
  const sameUser = !grouped || (directoryUser?.id !== undefined && directoryUser.id === entities.user);
  if (sameUser && (directoryUser?.role !== undefined || directoryUser?.department !== undefined)) {
    alert.holter.user = { role: directoryUser.role, department: directoryUser.department, facility: directoryUser.facility };
  }

  const patient = trigger.holter.patient;
  const samePatient = !grouped || detection.groupKey['holter.patient.token'] === patient?.token;
  if (samePatient && patient?.token !== undefined) {
    alert.holter.patient = { token: patient.token, vip: patient.vip, employee: patient.employee, deceased: patient.deceased };
  }
}

/**
 * Reads MITRE ATT&CK from Sigma tags: `attack.t1110.003` is a technique, `attack.credential_access`
 * a tactic (Sigma's tag appendix).
 */
export function mitreFromTags(tags: readonly string[]): Alert['threat'] | undefined {
  const techniques: string[] = [];
  const tactics: string[] = [];
  for (const tag of tags) {
    const lower = tag.toLowerCase();
    if (!lower.startsWith('attack.')) continue;
    const name = lower.slice('attack.'.length);
    if (/^t\d{4}(\.\d{3})?$/.test(name)) techniques.push(name.toUpperCase());
    else if (!/^[gs]\d{4}$/.test(name)) tactics.push(name.replace(/_/g, '-'));
  }
  if (techniques.length === 0 && tactics.length === 0) return undefined;

  const threat: NonNullable<Alert['threat']> = { framework: 'MITRE ATT&CK' };
  if (tactics.length > 0) threat.tactic = { name: tactics };
  if (techniques.length > 0) threat.technique = { id: techniques };
  return threat;
}
