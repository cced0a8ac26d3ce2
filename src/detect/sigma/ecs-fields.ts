/**
 * ECS fields that Holter's decoders write outside its own `holter.*` and `event.*` namespaces,
 * and the closest-spelling search that lint uses to suggest one of them. The list follows the
 * decoders in src/decoders/ and the `HolterEvent` type in src/event.ts.
 * test/detect/sigma/lint-ecs.test.ts checks that every such field docs/event.md names is listed.
 */

/**
 * ECS namespaces whose fields lint checks against ECS_FIELDS. A namespace that no decoder writes
 * (http, network, server) is listed too, so that every path under it is reported.
 */
export const CHECKED_ECS_NAMESPACES: ReadonlySet<string> = new Set([
  'user', 'source', 'destination', 'host', 'process', 'file', 'url', 'http', 'network', 'client', 'server',
  'related', 'observer', 'service', 'user_agent', 'registry', 'log',
]);

/**
 * Fields under CHECKED_ECS_NAMESPACES that a decoder sets or that the event type declares for
 * generic JSON mappings. The intermediate objects are listed too, for `exists` checks.
 */
export const ECS_FIELDS: ReadonlySet<string> = new Set([
  'user', 'user.id', 'user.name', 'user.domain', 'user.email', 'user.full_name', 'user.roles',
  'user.target', 'user.target.id', 'user.target.name', 'user.target.domain',
  'source', 'source.ip', 'source.address', 'source.port', 'source.domain',
  'destination', 'destination.ip', 'destination.address', 'destination.port', 'destination.domain',
  'host', 'host.name', 'host.hostname', 'host.ip', 'host.id',
  'client', 'client.ip', 'client.address', 'client.user', 'client.user.id', 'client.user.name',
  'observer', 'observer.vendor', 'observer.product', 'observer.type', 'observer.name',
  'service', 'service.name', 'service.type',
  'user_agent', 'user_agent.original',
  'url', 'url.original', 'url.path', 'url.query',
  'related', 'related.user', 'related.ip', 'related.hosts', 'related.hash',
  // Windows (Security 4688, Sysmon), auditd and syslog.
  'process', 'process.pid', 'process.name', 'process.executable', 'process.command_line', 'process.args',
  'process.title', 'process.entity_id', 'process.working_directory', 'process.thread', 'process.thread.id',
  'process.parent', 'process.parent.pid', 'process.parent.name', 'process.parent.executable',
  'process.parent.command_line', 'process.parent.entity_id',
  'file', 'file.path', 'file.name', 'file.directory',
  'registry', 'registry.path',
  'log', 'log.level', 'log.logger', 'log.syslog', 'log.syslog.priority', 'log.syslog.facility', 'log.syslog.facility.code',
  'log.syslog.severity', 'log.syslog.severity.code', 'log.syslog.appname', 'log.syslog.procid', 'log.syslog.msgid',
  'log.syslog.structured_data', 'log.syslog.version',
]);

/**
 * Top-level namespaces an event field can be in: the ECS field sets that can sit at the top of a
 * document, and the namespaces of Holter and of each source's own fields. A dotted path outside
 * them is set by no decoder.
 * NOTE: the ECS names are written down by hand for ECS 8.x, not read from the ECS schema.
 */
export const EVENT_NAMESPACES: ReadonlySet<string> = new Set([
  'agent', 'client', 'cloud', 'container', 'data_stream', 'destination', 'device', 'dll', 'dns', 'ecs', 'email',
  'error', 'event', 'faas', 'file', 'group', 'host', 'http', 'labels', 'log', 'network', 'observer', 'orchestrator',
  'organization', 'package', 'process', 'registry', 'related', 'rule', 'server', 'service', 'source', 'span',
  'threat', 'tls', 'trace', 'transaction', 'url', 'user', 'user_agent', 'vulnerability',
  'holter', 'winlog', 'okta', 'azure', 'keycloak', 'osquery', 'auditd', 'fhir', 'dicom',
]);

/** Largest edit distance at which a known field is offered as the intended one. */
const MAX_SUGGESTION_DISTANCE = 2;

/**
 * Returns the known field closest in spelling to `field`, or undefined when none is within
 * MAX_SUGGESTION_DISTANCE edits. Ties go to the field listed first.
 */
export function closestField(field: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = MAX_SUGGESTION_DISTANCE + 1;
  for (const candidate of known) {
    // The distance is at least the difference in length, so a candidate that cannot beat the best is skipped.
    if (Math.abs(candidate.length - field.length) >= bestDistance) continue;
    const distance = editDistance(field, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * Computes the optimal string alignment distance: insertions, deletions, substitutions and swaps
 * of two neighbouring characters each cost one, so that a swapped pair (`nmae`) is one typo.
 */
export function editDistance(left: string, right: string): number {
  const rows = left.length + 1;
  const columns = right.length + 1;
  const table: number[][] = [];
  for (let row = 0; row < rows; row++) {
    const first = new Array<number>(columns).fill(0);
    first[0] = row;
    table.push(first);
  }
  for (let column = 0; column < columns; column++) (table[0] as number[])[column] = column;

  for (let row = 1; row < rows; row++) {
    for (let column = 1; column < columns; column++) {
      const cost = left[row - 1] === right[column - 1] ? 0 : 1;
      const above = table[row - 1] as number[];
      const current = table[row] as number[];
      let distance = Math.min((above[column] as number) + 1, (current[column - 1] as number) + 1, (above[column - 1] as number) + cost);

      const swapped = row > 1 && column > 1 && left[row - 1] === right[column - 2] && left[row - 2] === right[column - 1];
      if (swapped) distance = Math.min(distance, ((table[row - 2] as number[])[column - 2] as number) + 1);
      current[column] = distance;
    }
  }
  return (table[rows - 1] as number[])[columns - 1] as number;
}
