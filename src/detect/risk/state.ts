import { HolterError } from '../../errors.js';
import { EntityRisk } from './entity.js';
import type { Contribution, WindowState } from './entity.js';
import { ENTITY_TYPES } from './schema.js';
import type { EntityType, RiskConfig } from './schema.js';
import type { PendingDetection } from './stage.js';

/** Version of the snapshot layout; restore rejects any other. */
export const RISK_STATE_VERSION = 1;

export interface EntitySnapshot {
  type: EntityType;
  value: string;
  /** Null before the entity's first judgement. */
  lastEvaluatedMs: number | null;
  nextSeq: number;
  contributions: Contribution[];
  windows: Record<string, WindowState>;
}

/** Plain JSON data: infinite times are written as null. */
export interface RiskSnapshot {
  version: number;
  arrivals: number;
  lastSweepMs: number | null;
  pending: PendingDetection[];
  entities: EntitySnapshot[];
}

export interface RiskState {
  entities: EntityRisk[];
  pending: PendingDetection[];
  arrivals: number;
  lastSweepMs: number;
}

/** Copies the state into a snapshot that later processing does not change. */
export function writeSnapshot(state: RiskState): RiskSnapshot {
  const entities = state.entities.map((entity) => ({
    type: entity.type,
    value: entity.value,
    lastEvaluatedMs: Number.isFinite(entity.lastEvaluatedMs) ? entity.lastEvaluatedMs : null,
    nextSeq: entity.nextSeq,
    contributions: entity.contributions,
    windows: Object.fromEntries(entity.windows),
  }));
  return structuredClone({
    version: RISK_STATE_VERSION,
    arrivals: state.arrivals,
    lastSweepMs: Number.isFinite(state.lastSweepMs) ? state.lastSweepMs : null,
    pending: state.pending,
    entities,
  });
}

/**
 * Reads a snapshot written by writeSnapshot. Entity types without a weight and windows no longer
 * configured are dropped. Throws HOLTER_STATE_VERSION for another version or a malformed snapshot.
 */
export function readSnapshot(snapshot: RiskSnapshot, config: RiskConfig): RiskState {
  const version = (snapshot as { version?: unknown } | null)?.version;
  if (version !== RISK_STATE_VERSION) {
    throw new HolterError(
      'HOLTER_STATE_VERSION',
      `risk state has version ${JSON.stringify(version)} but this Holter reads version ${RISK_STATE_VERSION}; ` +
        'delete the saved risk state to start with no accumulated risk',
    );
  }
  if (!Array.isArray(snapshot.entities) || !Array.isArray(snapshot.pending)) {
    throw new HolterError(
      'HOLTER_STATE_VERSION',
      'risk state lacks its entities or pending lists; delete the saved risk state to start with no accumulated risk',
    );
  }

  const copy = structuredClone(snapshot);
  const windowNames = new Set(config.windows.map((window) => window.name));
  const entities: EntityRisk[] = [];
  for (const saved of copy.entities) {
    if (!ENTITY_TYPES.includes(saved.type) || config.weights[saved.type] === undefined) continue;
    const entity = new EntityRisk(saved.type, saved.value);
    entity.contributions = saved.contributions;
    entity.lastEvaluatedMs = saved.lastEvaluatedMs ?? Number.NEGATIVE_INFINITY;
    entity.nextSeq = saved.nextSeq;
    for (const [name, state] of Object.entries(saved.windows)) {
      if (windowNames.has(name)) entity.windows.set(name, state);
    }
    entities.push(entity);
  }

  return {
    entities,
    pending: copy.pending,
    arrivals: copy.arrivals,
    lastSweepMs: copy.lastSweepMs ?? Number.NEGATIVE_INFINITY,
  };
}
