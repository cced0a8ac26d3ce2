import { DateTime } from 'luxon';
import { groupKeyEntities } from '../alerts/entities.js';
import type { Alert } from '../alerts/types.js';
import { escapeForTerminal } from '../text/escape.js';

/** How many entities and example summaries the preview shows per rule. */
const TOP_ENTITIES = 5;
const EXAMPLES = 3;

/**
 * Renders what each rule would have raised over a replay, for backtesting a rule before it goes
 * live: alerts per day (by alert time, in the facility's time zone), the entities most alerted
 * on, and a few examples.
 */
export function formatPreview(alerts: readonly Alert[], timeZone = 'UTC'): string {
  if (alerts.length === 0) return 'Rule preview: no rule raised an alert.\n';
  const byRule = new Map<string, Alert[]>();
  for (const alert of alerts) {
    const list = byRule.get(alert.rule.id) ?? [];
    list.push(alert);
    byRule.set(alert.rule.id, list);
  }

  const lines = ['Rule preview'];
  for (const [ruleId, ruleAlerts] of [...byRule].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))) {
    lines.push(`  ${ruleId}: ${ruleAlerts.length} alert${ruleAlerts.length === 1 ? '' : 's'}`);

    const perDay = countBy(ruleAlerts, (alert) => DateTime.fromISO(alert['@timestamp'], { zone: timeZone }).toISODate() ?? alert['@timestamp'].slice(0, 10));
    lines.push(`    per day   (${timeZone}) ${[...perDay].sort((a, b) => a[0].localeCompare(b[0])).map(([day, count]) => `${day} ${count}`).join(', ')}`);

    const entities = countBy(ruleAlerts, entityOf);
    const top = [...entities].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, TOP_ENTITIES);
    lines.push(`    top       ${top.map(([entity, count]) => `${entity} (${count})`).join(', ')}`);

    for (const alert of ruleAlerts.slice(0, EXAMPLES)) lines.push(`    example   ${alert['@timestamp']}  ${alert.message}`);
  }
  // Rule ids, entities and messages come from rule files and events.
  return `${lines.map((line) => escapeForTerminal(line)).join('\n')}\n`;
}

/**
 * Names the entity an alert is about. A grouped alert carries only the entities of its group key,
 * so a group keyed by another field (a client id) is named by its group key, patient fields left out.
 */
function entityOf(alert: Alert): string {
  if (alert.user?.id !== undefined) return `user ${alert.user.id}`;
  if (alert.source?.ip !== undefined) return `source ${alert.source.ip}`;
  if (alert.host?.name !== undefined) return `host ${alert.host.name}`;

  const group = groupKeyEntities(alert.holter.alert.group_key);
  return group.length > 0 ? group.join(' ') : 'no entity';
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}
