import { Type, type Static, type TUnsafe } from '@sinclair/typebox';

/**
 * The configuration schema: one YAML file, validated at start. Every key has a default, so a run
 * with no file uses the embedded defaults. docs/configuration.md is generated from this schema
 * (`npm run docs:config`) and a test keeps the two in step.
 */

/** A string enum as plain JSON Schema `enum`, so validation errors can list the allowed values. */
function StringEnum<const Values extends readonly string[]>(values: Values, options: Record<string, unknown> = {}): TUnsafe<Values[number]> {
  return Type.Unsafe<Values[number]>({ type: 'string', enum: [...values], ...options });
}

export const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'] as const;

const GenericMapping = Type.Object(
  {
    timestamp: Type.String({ description: 'Path of the time stamp in the source record, e.g. `meta.time`.' }),
    timestamp_format: Type.Optional(
      Type.String({
        description: '`iso` (default), `epoch_seconds`, `epoch_millis`, or a luxon format string read in the facility time zone.',
      }),
    ),
    fields: Type.Record(Type.String(), Type.String(), {
      description: 'Target field (ECS or `holter.*`) -> source path.',
    }),
    constants: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'Target field -> constant value, e.g. `event.dataset`.' }),
    ),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    facility: Type.Object(
      {
        time_zone: Type.String({
          default: 'UTC',
          description: 'IANA time zone of the facility. Used for local time stamps without an offset and for users the directory gives no zone.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    identity: Type.Object(
      {
        directory: Type.Optional(Type.String({ description: 'Identity directory file (CSV or JSON) mapping account names to people. See docs/identity.md.' })),
        patient_roster: Type.Optional(Type.String({ description: 'Patient roster file (CSV or JSON) flagging VIP, employee and deceased patients.' })),
        token_key: Type.Optional(Type.String({ minLength: 16, description: 'Secret key for patient tokens (HMAC-SHA256), at least 16 characters. Prefer `token_key_file`.' })),
        token_key_file: Type.Optional(Type.String({ description: 'File holding the patient token key. Without a key, tokens are random per run.' })),
      },
      { additionalProperties: false, default: {} },
    ),
    decode: Type.Object(
      {
        max_record_bytes: Type.Integer({ minimum: 1024, default: 1048576, description: 'Records larger than this many bytes are dead-lettered as too_large.' }),
        generic: Type.Record(Type.String(), GenericMapping, {
          default: {},
          description: 'Generic JSON mappings by format name; select one with `--format NAME` or an input `format`.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    rules: Type.Object(
      {
        paths: Type.Array(Type.String(), { default: ['rules'], description: 'Files or folders of Sigma rules (YAML), walked recursively.' }),
        mapping: Type.String({ default: 'mappings/sigma.yml', description: 'Mapping of Sigma fields and log sources to the normalised event.' }),
        placeholders: Type.Record(Type.String(), Type.Array(Type.String()), {
          default: {},
          description: 'Values for the Sigma `expand` modifier, by placeholder name.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    detectors: Type.Object(
      {
        paths: Type.Array(Type.String(), { default: ['detectors'], description: 'Files or folders of behavioural detectors (YAML).' }),
      },
      { additionalProperties: false, default: {} },
    ),
    detection: Type.Object(
      {
        allowed_lateness_seconds: Type.Integer({
          minimum: 0,
          default: 300,
          description: 'How far behind the newest event time an event may arrive and still count. Older events are counted as late.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    sinks: Type.Object(
      {
        console: Type.Object(
          {
            enabled: Type.Boolean({ default: true, description: 'Print alerts to standard output.' }),
            min_severity: StringEnum(SEVERITIES, { default: 'low', description: 'Lowest severity printed.' }),
          },
          { additionalProperties: false, default: {} },
        ),
        ndjson: Type.Object(
          {
            path: Type.Optional(Type.String({ description: 'Append alerts to this file, one JSON document a line.' })),
          },
          { additionalProperties: false, default: {} },
        ),
        store: Type.Object(
          {
            path: Type.Optional(Type.String({ description: 'Embedded alert store (SQLite file). Alerts are kept once per alert id.' })),
          },
          { additionalProperties: false, default: {} },
        ),
        webhook: Type.Object(
          {
            url: Type.Optional(Type.String({ pattern: '^https?://', description: 'POST each alert as JSON to this URL (http or https).' })),
            secret: Type.Optional(Type.String({ minLength: 16, description: 'HMAC-SHA256 signing secret. Prefer `secret_file`.' })),
            secret_file: Type.Optional(Type.String({ description: 'File holding the signing secret.' })),
            min_severity: StringEnum(SEVERITIES, { default: 'medium', description: 'Lowest severity sent.' }),
            timeout_ms: Type.Integer({ minimum: 100, default: 5000, description: 'Timeout of one POST, in milliseconds.' }),
            max_attempts: Type.Integer({ minimum: 1, maximum: 20, default: 6, description: 'Attempts per alert before it is counted as failed.' }),
            initial_backoff_ms: Type.Integer({ minimum: 1, default: 500, description: 'Delay before the first retry; doubles each attempt, with jitter.' }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    dead_letter: Type.Object(
      {
        path: Type.String({ default: '.holter/dead-letter.ndjson', description: 'Records that could not be decoded, with reason and source position, one JSON document a line.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    log: Type.Object(
      {
        level: StringEnum(['debug', 'info', 'warn', 'error', 'silent'] as const, {
          default: 'info',
          description: 'Log level of the operational log written to standard error.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type HolterConfig = Static<typeof ConfigSchema>;
export type SeverityName = (typeof SEVERITIES)[number];
