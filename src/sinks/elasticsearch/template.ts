/**
 * Mappings and bodies that `holter setup elasticsearch` installs. The mappings cover every field of
 * the alert document (src/alerts/types.ts) with its ECS type. With `dynamic: false`, a field added
 * later stays in `_source` without a guessed type. test/integration checks the mappings against
 * real alerts.
 */

const keyword = { type: 'keyword', ignore_above: 1024 } as const;
const date = { type: 'date' } as const;

export const ALERT_MAPPINGS = {
  dynamic: false,
  properties: {
    '@timestamp': date,
    message: { type: 'text' },
    tags: keyword,
    event: {
      properties: {
        kind: keyword,
        id: keyword,
        created: date,
        severity: { type: 'long' },
        risk_score: { type: 'float' },
        dataset: keyword,
        module: keyword,
        category: keyword,
        start: date,
        end: date,
      },
    },
    rule: {
      properties: {
        id: keyword,
        uuid: keyword,
        name: keyword,
        description: keyword,
        ruleset: keyword,
        version: keyword,
        author: keyword,
        reference: keyword,
      },
    },
    user: { properties: { id: keyword, name: keyword } },
    // A decoder that copies a host name into source.ip must not make the whole alert fail.
    source: { properties: { ip: { type: 'ip', ignore_malformed: true } } },
    host: { properties: { name: keyword } },
    threat: {
      properties: {
        framework: keyword,
        tactic: { properties: { name: keyword } },
        technique: { properties: { id: keyword } },
      },
    },
    holter: {
      properties: {
        alert: {
          properties: {
            severity: keyword,
            group_key: { type: 'flattened' },
            evidence: keyword,
            explanation: {
              properties: {
                summary: { type: 'text' },
                pagerSummary: { type: 'text' },
                actual: { type: 'float' },
                typical: { type: 'float' },
                threshold: { type: 'float' },
                unit: keyword,
                details: { type: 'flattened' },
              },
            },
          },
        },
        user: { properties: { role: keyword, department: keyword, facility: keyword } },
        patient: {
          properties: {
            token: keyword,
            vip: { type: 'boolean' },
            employee: { type: 'boolean' },
            deceased: { type: 'boolean' },
          },
        },
      },
    },
  },
} as const;

/** Marks what Holter installed, so an operator can tell it apart from their own templates. */
export const MANAGED_META = { managed_by: 'holter', description: 'Holter alerts' } as const;

/**
 * Priority of the index template. Elasticsearch's built-in `logs` template matches `logs-*-*` at
 * priority 100; a higher one wins for the alert data stream.
 */
const TEMPLATE_PRIORITY = 200;

export function indexTemplateBody(dataStream: string, ilmPolicy: string | undefined): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  if (ilmPolicy !== undefined) settings['index.lifecycle.name'] = ilmPolicy;
  return {
    index_patterns: [dataStream],
    data_stream: {},
    priority: TEMPLATE_PRIORITY,
    _meta: MANAGED_META,
    template: { settings, mappings: ALERT_MAPPINGS },
  };
}

export function ilmPolicyBody(rolloverMaxAge: string, deleteAfter: string | undefined): Record<string, unknown> {
  const phases: Record<string, unknown> = {
    hot: { actions: { rollover: { max_age: rolloverMaxAge, max_primary_shard_size: '50gb' } } },
  };
  if (deleteAfter !== undefined) phases.delete = { min_age: deleteAfter, actions: { delete: {} } };
  return { _meta: MANAGED_META, phases };
}
