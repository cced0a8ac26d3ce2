import { Type } from '@sinclair/typebox';
import type { Static, TSchema } from '@sinclair/typebox';
import type { Severity } from '../types.js';

/**
 * JSON Schema of a detector file, one schema per `function`. docs/detectors.md is the reference;
 * test/detect/baseline/schema-docs.test.ts keeps the two in step.
 *
 * Keys shared by every function sit at the top level so that the functions planned next
 * (count, distinct_count, sum, rare, first_seen...) can be added without changing them.
 */

/** Functions implemented now. */
export const SUPPORTED_FUNCTIONS = ['time_of_day', 'high_sum'] as const;
export type DetectorFunction = (typeof SUPPORTED_FUNCTIONS)[number];

/** Functions reserved for later work: naming one gives HOLTER_RULE_UNSUPPORTED, not "unknown". */
export const PLANNED_FUNCTIONS = [
  'count',
  'high_count',
  'low_count',
  'distinct_count',
  'high_distinct_count',
  'sum',
  'low_sum',
  'time_of_week',
  'rare',
  'first_seen',
] as const;

export const SEVERITIES: readonly Severity[] = ['informational', 'low', 'medium', 'high', 'critical'];

/** A duration such as `90s`, `30m`, `1h` or `2d`. */
export const DURATION_PATTERN = '^[1-9][0-9]*(s|m|h|d)$';

const FieldPath = Type.String({ minLength: 1, pattern: '^[A-Za-z@_][A-Za-z0-9@_.-]*$', hint: 'a dotted field path such as holter.user.id' });
const Duration = Type.String({ pattern: DURATION_PATTERN, hint: 'a duration such as 30m, 1h or 2d' });
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
  max_entities: Type.Optional(Type.Integer({ minimum: 1 })),
};

const learningCommon = {
  min_days: Type.Number({ minimum: 0 }),
  min_events: Type.Integer({ minimum: 0 }),
  half_life_days: Type.Number({ exclusiveMinimum: 0 }),
};

export const TimeOfDaySchema = Type.Object(
  {
    ...common,
    function: Type.Literal('time_of_day'),
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
        factor: Type.Number({ minimum: 1 }),
        floor: Type.Number({ minimum: 0 }),
        ceiling: Type.Number({ exclusiveMinimum: 0 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type TimeOfDayConfig = Static<typeof TimeOfDaySchema>;
export type HighSumConfig = Static<typeof HighSumSchema>;
export type DetectorConfig = TimeOfDayConfig | HighSumConfig;
export type WhereClause = NonNullable<DetectorConfig['where']>;

export const SCHEMAS: Record<DetectorFunction, TSchema> = {
  time_of_day: TimeOfDaySchema,
  high_sum: HighSumSchema,
};

/** Defaults for optional keys, applied after validation. */
export const DEFAULTS = {
  evidence_limit: 50,
  max_entities: 100_000,
  time_zone_field: 'holter.user.time_zone',
  bucket_span: '1h',
  smoothing: 0.5,
  window: '1h',
  unit: 'events',
} as const;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Converts a duration that matched DURATION_PATTERN to milliseconds. */
export function durationMs(text: string): number {
  const unit = text.slice(-1);
  return Number(text.slice(0, -1)) * (UNIT_MS[unit] ?? Number.NaN);
}
