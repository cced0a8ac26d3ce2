import { Type, type Static, type TUnsafe } from '@sinclair/typebox';

/**
 * The configuration schema: one YAML file, validated at start. Every key has a default, so a run
 * with no file uses the embedded defaults. docs/configuration.md is generated from this schema
 * (`npm run docs:config`) and a test keeps the two in step.
 */

/** Builds a string enum as plain JSON Schema `enum`, so validation errors can list the allowed values. */
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

const KafkaTopic = Type.Object(
  {
    name: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._-]+$', description: 'Topic to consume. Kafka allows letters, digits, `.`, `_` and `-`.' }),
    format: Type.Optional(Type.String({ description: 'Decoder for every record of this topic (e.g. `fhir`, `okta`); when absent the format is detected per record.' })),
  },
  { additionalProperties: false },
);

const KafkaSection = Type.Object(
  {
    brokers: Type.Array(Type.String({ pattern: '^[^\\s:]+:[0-9]+$' }), {
      minItems: 1,
      default: ['127.0.0.1:9092'],
      description: 'Bootstrap brokers as `host:port`.',
    }),
    client_id: Type.String({ minLength: 1, default: 'holter', description: 'Kafka client id, shown in broker logs and quotas.' }),
    group_id: Type.String({ minLength: 1, default: 'holter', description: 'Consumer group. Processes with the same group share the partitions of the topics.' }),
    topics: Type.Array(KafkaTopic, { default: [], description: 'Topics `holter run` consumes; at least one is required for `holter run`.' }),
    auto_offset_reset: StringEnum(['earliest', 'latest'] as const, {
      default: 'earliest',
      description: 'Where a consumer group with no committed offset starts: the oldest record kept (`earliest`) or new records only (`latest`).',
    }),
    dead_letter_topic: Type.String({
      minLength: 1,
      pattern: '^[A-Za-z0-9._-]+$',
      default: 'holter.dead-letter',
      description: 'Topic that receives records that cannot be decoded, with headers naming the reason, source topic, partition and offset.',
    }),
    changelog_topic: Type.Optional(
      Type.String({
        minLength: 1,
        pattern: '^[A-Za-z0-9._-]+$',
        description: 'Compacted topic that keeps a checkpoint of the detection state of every partition. Default `<group_id>-state-changelog`; created when missing.',
      }),
    ),
    checkpoint_interval_ms: Type.Integer({
      minimum: 100,
      default: 5000,
      description: 'How often detection state is checkpointed to the changelog topic and the offsets it reflects are committed, in milliseconds. After a crash, records since the last checkpoint are processed again.',
    }),
    lag_interval_ms: Type.Integer({
      minimum: 1000,
      maximum: 3_600_000,
      default: 15_000,
      description: 'How often `holter run` reads the end offsets of its partitions for the `holter_kafka_consumer_lag` metric, in milliseconds. Each refresh asks the brokers for the end offsets (ListOffsets).',
    }),
    repartition_by: Type.Optional(
      Type.String({
        minLength: 1,
        pattern: '^[A-Za-z@_][A-Za-z0-9@_.-]*$',
        description: 'Event field (e.g. `user.name`) to re-key events by, through the repartition topic, before detection. Without it, detection runs on the source partitions, so rules must group by the topic\'s key.',
      }),
    ),
    repartition_topic: Type.Optional(
      Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._-]+$', description: 'Internal topic of re-keyed events when `repartition_by` is set. Default `<group_id>-repartition`; created when missing.' }),
    ),
    repartition_partitions: Type.Integer({ minimum: 1, default: 6, description: 'Partitions of the repartition topic when Holter creates it; the most members that share detection.' }),
    session_timeout_ms: Type.Integer({ minimum: 6000, default: 30000, description: 'Consumer group session timeout, in milliseconds.' }),
    max_bytes_per_partition: Type.Integer({ minimum: 1024, default: 1048576, description: 'Bytes fetched per partition per request. A larger record is still fetched whole.' }),
    connection_timeout_ms: Type.Integer({ minimum: 100, default: 10000, description: 'Timeout of one broker connection attempt, in milliseconds.' }),
    tls: Type.Object(
      {
        enabled: Type.Boolean({ default: false, description: 'Connect to the brokers with TLS.' }),
        ca_file: Type.Optional(Type.String({ description: 'PEM file of the certificate authorities to trust; without it the system store is used.' })),
        cert_file: Type.Optional(Type.String({ description: 'PEM client certificate, for brokers that require mutual TLS.' })),
        key_file: Type.Optional(Type.String({ description: 'PEM private key of the client certificate.' })),
        reject_unauthorized: Type.Boolean({ default: true, description: 'Reject brokers whose certificate is not trusted. Turn off only for tests.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    sasl: Type.Optional(
      Type.Object(
        {
          mechanism: StringEnum(['plain', 'scram-sha-256', 'scram-sha-512'] as const, { description: 'SASL mechanism.' }),
          username: Type.String({ minLength: 1, description: 'SASL user name.' }),
          password: Type.Optional(Type.String({ description: 'SASL password. Prefer `password_file`.' })),
          password_file: Type.Optional(Type.String({ description: 'File holding the SASL password.' })),
        },
        { additionalProperties: false, description: 'SASL authentication; combine with `tls.enabled` (SASL_SSL) outside a test network.' },
      ),
    ),
  },
  { additionalProperties: false, default: {} },
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
        token_key_file: Type.Optional(Type.String({ description: 'File holding the patient token key. Without a key, tokens are random per run; `holter run` requires one.' })),
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
        paths: Type.Array(Type.String(), { default: ['detectors'], description: 'Files or folders of behavioural detectors (YAML). Only the files directly in a folder load, so `detectors/examples/` stays off.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    reload: Type.Object(
      {
        watch: Type.Boolean({
          default: true,
          description: '`holter run` reloads rules and detectors when their files change. SIGHUP and `POST /api/v1/reload` reload them whatever this says.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    state: Type.Object(
      {
        path: Type.Optional(
          Type.String({
            description:
              'Embedded state store (a SQLite file) for `holter replay`: detection state and input positions are restored at start and saved at the end, so a later replay of grown files continues where this one stopped. `holter run` keeps its state in the Kafka changelog instead.',
          }),
        ),
        checkpoint_interval_seconds: Type.Integer({ minimum: 1, default: 30, description: 'How often a long replay saves a checkpoint while it runs, in seconds of processing time.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    api: Type.Object(
      {
        listen: Type.Optional(
          Type.String({ description: 'Address of the HTTP API of `holter run` as host:port, e.g. `127.0.0.1:9464`. Off when absent. See docs/api.md.' }),
        ),
        tokens_file: Type.Optional(
          Type.String({ description: 'YAML file of API clients with their role and the SHA-256 of their bearer token. Without it the /api routes are closed.' }),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    risk: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Add every detection to its entities\' risk and raise a risk alert when enough builds up.' }),
        file: Type.String({ default: 'config/risk.yaml', description: 'Risk settings: entity weights, windows, thresholds, signals. See docs/detectors.md, section Risk.' }),
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
            path: Type.Optional(Type.String({ description: 'Append alerts to this file, one JSON document a line. `-` writes them to standard output, and readable alerts then go to standard error.' })),
          },
          { additionalProperties: false, default: {} },
        ),
        store: Type.Object(
          {
            path: Type.Optional(Type.String({ description: 'Embedded alert store (SQLite file). Alerts are kept once per alert id.' })),
          },
          { additionalProperties: false, default: {} },
        ),
        elasticsearch: Type.Object(
          {
            nodes: Type.Array(Type.String({ pattern: '^https?://' }), {
              default: [],
              description: 'Elasticsearch URLs. The sink is on when at least one is set.',
            }),
            data_stream: Type.String({
              pattern: '^[a-z0-9][a-z0-9._-]*-[a-z0-9._]+-[a-z0-9._]+$',
              default: 'logs-holter.alerts-default',
              description: 'Data stream the alerts are written to, named `TYPE-DATASET-NAMESPACE` in lower case.',
            }),
            index_template: Type.String({ minLength: 1, default: 'holter-alerts', description: 'Name of the index template `holter setup elasticsearch` installs for the data stream.' }),
            ilm_policy: Type.String({ minLength: 1, default: 'holter-alerts', description: 'Name of the ILM policy installed when the cluster has ILM.' }),
            ilm_rollover_max_age: Type.String({ pattern: '^[0-9]+(d|h|m)$', default: '30d', description: 'Roll the data stream over to a new backing index after this age (e.g. `30d`).' }),
            ilm_delete_after: Type.Optional(Type.String({ pattern: '^[0-9]+(d|h)$', description: 'Delete backing indices this long after rollover (e.g. `2190d`); when absent alerts are kept.' })),
            api_key: Type.Optional(Type.String({ description: 'API key (the base64 `encoded` value). Prefer `api_key_file`.' })),
            api_key_file: Type.Optional(Type.String({ description: 'File holding the API key.' })),
            username: Type.Optional(Type.String({ description: 'User for basic authentication.' })),
            password: Type.Optional(Type.String({ description: 'Password for basic authentication. Prefer `password_file`.' })),
            password_file: Type.Optional(Type.String({ description: 'File holding the basic authentication password.' })),
            ca_file: Type.Optional(Type.String({ description: 'PEM file of the certificate authority that signed the cluster certificate.' })),
            request_timeout_ms: Type.Integer({ minimum: 100, default: 30000, description: 'Timeout of one bulk request, in milliseconds.' }),
            max_batch_size: Type.Integer({ minimum: 1, maximum: 10000, default: 500, description: 'Maximum alerts in one bulk request.' }),
            max_concurrent_requests: Type.Integer({ minimum: 1, maximum: 16, default: 2, description: 'Maximum bulk requests in flight at once.' }),
            initial_backoff_ms: Type.Integer({ minimum: 1, default: 500, description: 'Delay before the first retry of a 429, 5xx or connection error; doubles each attempt, with jitter.' }),
            max_backoff_ms: Type.Integer({ minimum: 1, default: 30000, description: 'Longest delay between retries. Retriable failures are retried until they succeed.' }),
            startup_timeout_ms: Type.Integer({
              minimum: 0,
              default: 60000,
              description: 'How long `holter run` retries a cluster that refuses connections or times out at start, in milliseconds, before it exits with status 2 without consuming.',
            }),
            drain_timeout_ms: Type.Integer({
              minimum: 0,
              default: 20000,
              description:
                'After a shutdown signal, how long to wait for alerts not yet indexed, in milliseconds. Holter then exits with status 1 without committing the offsets of their records, which are processed again on the next start.',
            }),
          },
          { additionalProperties: false, default: {} },
        ),
        webhook: Type.Object(
          {
            url: Type.Optional(Type.String({ pattern: '^https?://', description: 'POST each alert as JSON to this URL (http or https, without a user name or password). Redirects are not followed: a 3xx response counts as a rejection.' })),
            secret: Type.Optional(Type.String({ minLength: 16, description: 'HMAC-SHA256 signing secret. Prefer `secret_file`, or the HOLTER_WEBHOOK_SECRET environment variable, which replaces both.' })),
            secret_file: Type.Optional(Type.String({ description: 'File holding the signing secret, at least 16 characters; trailing line breaks are dropped.' })),
            min_severity: StringEnum(SEVERITIES, { default: 'medium', description: 'Lowest severity sent.' }),
            timeout_ms: Type.Integer({ minimum: 100, default: 5000, description: 'Timeout of one POST, in milliseconds.' }),
            max_attempts: Type.Integer({ minimum: 1, maximum: 20, default: 6, description: 'Attempts per alert before it is counted as failed.' }),
            initial_backoff_ms: Type.Integer({ minimum: 1, default: 500, description: 'Delay before the first retry; doubles each attempt, with jitter.' }),
            outbox_path: Type.String({
              default: '.holter/webhook-outbox.db',
              description:
                'Durable outbox (SQLite file): pages wait here until the receiver accepts them, across restarts. Delivered and rejected alert ids are remembered, so a replay does not page twice or resend a rejected page.',
            }),
            drain_timeout_ms: Type.Integer({
              minimum: 0,
              default: 30000,
              description:
                'At the end of a run, how long to wait for pending pages, in milliseconds. Requests still in flight are then aborted, and pages still pending are sent on the next start.',
            }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    kafka: KafkaSection,
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
export type KafkaConfig = Static<typeof KafkaSection>;
export type SeverityName = (typeof SEVERITIES)[number];
