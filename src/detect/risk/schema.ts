import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { DURATION_PATTERN } from '../baseline/schema.js';
import type { Severity } from '../types.js';

/**
 * JSON Schema of the risk file (`config/risk.yaml`). docs/detectors.md, section "Risk", is the
 * reference for every key.
 */

/** Entity types that collect risk, and the event field that names the entity. */
export const ENTITY_FIELDS = {
  user: 'holter.user.id',
  source: 'source.ip',
  host: 'host.name',
} as const;
export type EntityType = keyof typeof ENTITY_FIELDS;
export const ENTITY_TYPES = Object.keys(ENTITY_FIELDS) as EntityType[];

/** Tag that marks a rule's detections as risk signals, to be kept out of the pager by routing. */
export const SIGNAL_TAG = 'holter.signal';

/** Tag carried by every risk detection. */
export const RISK_TAG = 'holter.risk';

/** Group key field that names the risk window, so the 24h and 7d detections of one entity differ. */
export const WINDOW_KEY = 'holter.risk.window';

const SEVERITIES: readonly Severity[] = ['informational', 'low', 'medium', 'high', 'critical'];

const Duration = Type.String({ pattern: DURATION_PATTERN, hint: 'a positive whole number with a unit (s, m, h or d), such as 12h or 7d' });
const Weight = Type.Number({ minimum: 0, maximum: 10 });
const RearmRatio = Type.Number({ exclusiveMinimum: 0, maximum: 1 });
const SeveritySchema = Type.Unsafe<Severity>({ type: 'string', enum: [...SEVERITIES] });

const WindowSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$', hint: "lower-case letters, digits, '_' and '-', such as 24h" })),
    length: Duration,
    half_life: Type.Optional(Duration),
    threshold: Type.Number({ exclusiveMinimum: 0 }),
    rearm_ratio: Type.Optional(RearmRatio),
    severity: Type.Optional(SeveritySchema),
    risk_score: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  },
  { additionalProperties: false },
);

export const RiskFileSchema = Type.Object(
  {
    half_life: Duration,
    floor: Type.Number({ exclusiveMinimum: 0 }),
    rearm_ratio: Type.Optional(RearmRatio),
    entities: Type.Object(
      { user: Type.Optional(Weight), source: Type.Optional(Weight), host: Type.Optional(Weight) },
      { additionalProperties: false, minProperties: 1 },
    ),
    windows: Type.Array(WindowSchema, { minItems: 1, maxItems: 8 }),
    scale: Type.Optional(
      Type.Object(
        {
          rules: Type.Optional(Type.Object({}, { additionalProperties: Weight })),
          tags: Type.Optional(Type.Object({}, { additionalProperties: Weight })),
        },
        { additionalProperties: false },
      ),
    ),
    signals: Type.Optional(
      Type.Object({ rules: Type.Optional(Type.Array(Type.String({ minLength: 1 }))) }, { additionalProperties: false }),
    ),
    max_entities: Type.Optional(Type.Integer({ minimum: 1 })),
    max_contributions: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    evidence_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

export type RiskFile = Static<typeof RiskFileSchema>;

/** Defaults for optional keys, applied after validation. */
export const RISK_DEFAULTS = {
  severity: 'high' as Severity,
  risk_score: 75,
  rearm_ratio: 0.5,
  max_entities: 100_000,
  max_contributions: 1000,
  evidence_limit: 50,
} as const;

/** One risk window after defaults, with durations in milliseconds. */
export interface RiskWindow {
  name: string;
  lengthMs: number;
  halfLifeMs: number;
  threshold: number;
  /** A paged window is armed again once its risk falls below this (threshold x rearm_ratio). */
  rearmBelow: number;
  severity: Severity;
  riskScore: number;
}

/** The risk file after validation and defaults. */
export interface RiskConfig {
  file: string;
  /** Line of `windows` in the file, copied to the risk detections' rule info. */
  line: number;
  floor: number;
  /** Weight per entity type; types left out or weighted 0 collect no risk. */
  weights: Partial<Record<EntityType, number>>;
  /** Shortest first. */
  windows: RiskWindow[];
  /** Scale factor per rule id. */
  ruleScale: Map<string, number>;
  /** Scale factor per tag, keys lower-cased. */
  tagScale: Map<string, number>;
  /** Rule ids whose detections are signals although the rule lacks the signal tag. */
  signalRules: Set<string>;
  maxEntities: number;
  maxContributions: number;
  evidenceLimit: number;
}
