import { Type } from '@sinclair/typebox';
import type { Static, TSchema } from '@sinclair/typebox';
import type { Severity } from '../types.js';
import { SEASONALITIES } from './seasonal.js';

/**
 * JSON Schema of a detector file, one schema per `function`. docs/detectors.md is the reference;
 * test/detect/baseline/schema-docs.test.ts keeps the two in step.
 *
 * Keys shared by every function sit at the top level, so a new function adds only its own keys.
 */

/** The bucket functions, judged by one engine (bucket-detector.ts). */
export const COUNT_FUNCTIONS = ['count', 'high_count', 'low_count', 'distinct_count', 'high_distinct_count', 'sum', 'low_sum'] as const;
export type CountFunction = (typeof COUNT_FUNCTIONS)[number];

/** Functions that find values new or rare for an entity (new-values.ts). */
export const NEW_VALUE_FUNCTIONS = ['first_seen', 'rare'] as const;
export type NewValueFunction = (typeof NEW_VALUE_FUNCTIONS)[number];

/** Functions implemented now. */
export const SUPPORTED_FUNCTIONS = ['time_of_day', 'time_of_week', 'high_sum', ...COUNT_FUNCTIONS, ...NEW_VALUE_FUNCTIONS] as const;
export type DetectorFunction = (typeof SUPPORTED_FUNCTIONS)[number];

/** Functions reserved for later work: naming one gives HOLTER_RULE_UNSUPPORTED, not "unknown". */
export const PLANNED_FUNCTIONS = [] as const;

export const SEVERITIES: readonly Severity[] = ['informational', 'low', 'medium', 'high', 'critical'];

/** A duration such as `90s`, `30m`, `1h` or `2d`. */
export const DURATION_PATTERN = '^[1-9][0-9]*(s|m|h|d)$';

/**
 * Upper bounds of numeric settings. They catch a typo or an overflowed value (`1e308`) at load
 * time, and are not sized for any machine: each is far above any sensible setting.
 */
export const LIMITS = {
  /** Entities with learned state per detector; the default is 100,000. */
  max_entities: 10_000_000,
  /** Multiplier of a high_sum entity's typical window sum. */
  factor: 1000,
  /**
   * Window sums (floor, ceiling, min_actual, min_typical). 10^15 is below 2^53, so sums up to it
   * stay exact integers in a 64-bit float.
   */
  sum: 1e15,
} as const;

const FieldPath = Type.String({ minLength: 1, pattern: '^[A-Za-z@_][A-Za-z0-9@_.-]*$', hint: 'a dotted field path such as holter.user.id' });
const Duration = Type.String({ pattern: DURATION_PATTERN, hint: 'a positive whole number with a unit (s, m, h or d), such as 30m, 1h or 2d' });
const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

const Where = Type.Object(
  { exists: Type.Optional(Type.Array(FieldPath, { minItems: 1 })) },
  { additionalProperties: Type.Union([Scalar, Type.Array(Scalar, { minItems: 1 })]) },
);

const SeveritySchema = Type.Unsafe<Severity>({ type: 'string', enum: [...SEVERITIES] });

const common = {
  id: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*$', hint: "lower-case letters, digits, '.', '_' and '-'" }),
  name: Type.String({ minLength: 1 }),
  description: Type.Optional(Type.String()),
  version: Type.Optional(Type.String()),
  author: Type.Optional(Type.String()),
  references: Type.Optional(Type.Array(Type.String())),
  where: Type.Optional(Where),
  by: FieldPath,
  severity: SeveritySchema,
  risk_score: Type.Integer({ minimum: 0, maximum: 100 }),
  tags: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  evidence_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  max_entities: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.max_entities })),
  // Inline test cases, in the form of a Sigma rule's `holter.tests`. The loader only checks that
  // they form a list: `holter rules test` and `holter rules validate` read each case.
  holter: Type.Optional(Type.Object({ tests: Type.Optional(Type.Array(Type.Unknown())) }, { additionalProperties: false })),
};

const learningCommon = {
  min_days: Type.Number({ minimum: 0 }),
  min_events: Type.Integer({ minimum: 0 }),
  half_life_days: Type.Number({ exclusiveMinimum: 0 }),
};

/** `time_of_day` and `time_of_week` have the same keys and differ in the share they judge. */
function hourSchema<Name extends 'time_of_day' | 'time_of_week'>(name: Name) {
  return Type.Object(
  {
    ...common,
    function: Type.Literal(name),
    field: FieldPath,
    time_zone_field: Type.Optional(FieldPath),
    bucket_span: Type.Optional(Type.Literal('1h')),
    learning: Type.Object(
      { ...learningCommon, peer_group: Type.Optional(Type.Array(FieldPath)) },
      { additionalProperties: false },
    ),
    thresholds: Type.Object(
      {
        min_share: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
        smoothing: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        min_distinct: Type.Integer({ minimum: 1 }),
        min_active_days: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
  );
}

export const TimeOfDaySchema = hourSchema('time_of_day');

export const HighSumSchema = Type.Object(
  {
    ...common,
    function: Type.Literal('high_sum'),
    field: FieldPath,
    also_sum: Type.Optional(Type.Array(FieldPath)),
    unit: Type.Optional(Type.String({ minLength: 1 })),
    window: Type.Optional(Duration),
    learning: Type.Object(learningCommon, { additionalProperties: false }),
    thresholds: Type.Object(
      {
        factor: Type.Number({ minimum: 1, maximum: LIMITS.factor }),
        floor: Type.Number({ minimum: 0, maximum: LIMITS.sum }),
        ceiling: Type.Number({ exclusiveMinimum: 0, maximum: LIMITS.sum }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** A period left out of learning and judging, e.g. a planned system migration. */
const Exclusion = Type.Object(
  {
    start: Type.String({ minLength: 1, hint: 'an ISO 8601 date or date-time such as 2026-12-24 or 2026-12-24T18:00' }),
    end: Type.String({ minLength: 1, hint: 'an ISO 8601 date or date-time such as 2026-12-27' }),
    reason: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** Keys of the bucket functions; `function` is added per function so each has its own schema. */
const countKeys = {
  ...common,
  field: Type.Optional(FieldPath),
  partition_field: Type.Optional(FieldPath),
  over: Type.Optional(Type.Array(FieldPath, { minItems: 1 })),
  bucket_span: Type.Optional(Duration),
  unit: Type.Optional(Type.String({ minLength: 1 })),
  influencers: Type.Optional(Type.Array(FieldPath, { minItems: 1, maxItems: 5 })),
  exclude: Type.Optional(Type.Array(Exclusion)),
  seasonality: Type.Optional(Type.Unsafe<(typeof SEASONALITIES)[number]>({ type: 'string', enum: [...SEASONALITIES] })),
  time_zone_field: Type.Optional(FieldPath),
  learning: Type.Object(learningCommon, { additionalProperties: false }),
  thresholds: Type.Object(
    {
      min_score: Type.Number({ minimum: 0, maximum: 100 }),
      min_actual: Type.Optional(Type.Number({ minimum: 0, maximum: LIMITS.sum })),
      min_typical: Type.Optional(Type.Number({ minimum: 0, maximum: LIMITS.sum })),
    },
    { additionalProperties: false },
  ),
};

function countSchema<Name extends CountFunction>(name: Name) {
  return Type.Object({ ...countKeys, function: Type.Literal(name) }, { additionalProperties: false });
}

/** The schema of one bucket function; all share their keys. */
export const CountSchema = countSchema('count');

const newValueKeys = {
  ...common,
  field: FieldPath,
  over: Type.Optional(Type.Array(FieldPath, { minItems: 1 })),
  bucket_span: Type.Optional(Duration),
  history: Type.Optional(Duration),
  max_values: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  exclude: Type.Optional(Type.Array(Exclusion)),
  learning: Type.Object(learningCommon, { additionalProperties: false }),
  thresholds: Type.Object(
    {
      min_values: Type.Optional(Type.Integer({ minimum: 1 })),
      max_share: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 })),
    },
    { additionalProperties: false },
  ),
};

function newValueSchema<Name extends NewValueFunction>(name: Name) {
  return Type.Object({ ...newValueKeys, function: Type.Literal(name) }, { additionalProperties: false });
}

/** The schema of `first_seen`; `rare` has the same keys. */
export const NewValueSchema = newValueSchema('first_seen');

export type TimeOfDayConfig = Omit<Static<typeof TimeOfDaySchema>, 'function'> & { function: 'time_of_day' | 'time_of_week' };
export type HighSumConfig = Static<typeof HighSumSchema>;
export type CountConfig = Omit<Static<typeof CountSchema>, 'function'> & { function: CountFunction };
export type NewValueConfig = Omit<Static<typeof NewValueSchema>, 'function'> & { function: NewValueFunction };
export type ExclusionConfig = Static<typeof Exclusion>;
export type DetectorConfig = TimeOfDayConfig | HighSumConfig | CountConfig | NewValueConfig;
export type WhereClause = NonNullable<DetectorConfig['where']>;

export const SCHEMAS: Record<DetectorFunction, TSchema> = {
  time_of_day: TimeOfDaySchema,
  time_of_week: hourSchema('time_of_week'),
  high_sum: HighSumSchema,
  ...schemasByName(COUNT_FUNCTIONS, countSchema),
  ...schemasByName(NEW_VALUE_FUNCTIONS, newValueSchema),
};

function schemasByName<Name extends string>(names: readonly Name[], make: (name: Name) => TSchema): Record<Name, TSchema> {
  const schemas = {} as Record<Name, TSchema>;
  for (const name of names) schemas[name] = make(name);
  return schemas;
}

/** Defaults for optional keys, applied after validation. */
export const DEFAULTS = {
  evidence_limit: 50,
  max_entities: 100_000,
  time_zone_field: 'holter.user.time_zone',
  bucket_span: '1h',
  smoothing: 0.5,
  window: '1h',
  /** Of the count functions; see unitOf for the others. */
  unit: 'events',
  history: '30d',
  max_values: 200,
  min_values: 1,
  seasonality: 'auto',
} as const;

/**
 * Unit of a bucket or `high_sum` detector's value in its explanation: `unit` when set, else
 * `events` for the count functions, `distinct <field> values` for the distinct ones, and the
 * field's name for the sums.
 */
export function unitOf(config: CountConfig | HighSumConfig): string {
  if (config.unit !== undefined) return config.unit;
  const { function: fn, field } = config;
  if (field === undefined || fn === 'count' || fn === 'high_count' || fn === 'low_count') return DEFAULTS.unit;
  if (fn === 'distinct_count' || fn === 'high_distinct_count') return `distinct ${field} values`;
  return field;
}

/** Converts a duration that matched DURATION_PATTERN to milliseconds. */
export { durationMs } from '../sigma/duration.js';
