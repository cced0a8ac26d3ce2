import type { RiskStage } from '../detect/risk/index.js';
import type { DetectionStage } from '../detect/types.js';

/** The detection stages of one task: compiled rules may be shared between tasks, their state never is. */
export interface TaskStages {
  stages: DetectionStage[];
  risk?: RiskStage;
}

type StatefulStage = Pick<DetectionStage, 'name' | 'snapshot' | 'restore' | 'stats'>;

/** A task's own state: its watermark and each stage's snapshot, as plain JSON data. */
export interface TaskState {
  /** Newest event time the task has seen, in epoch ms; null before its first event. */
  maxEventTimeMs: number | null;
  /** Watermark at which the risk stage last applied its waiting detections; null before the first time. */
  riskAdvancedMs: number | null;
  /** Stage name -> that stage's snapshot. Stages without snapshot() are left out and restart empty. */
  stages: Record<string, unknown>;
}

/**
 * One detection task: its own detection stages and its own watermark, like a Kafka Streams task.
 * `holter replay` and `holter demo` run one task; `holter run` runs one per assigned partition.
 */
export class DetectionTask {
  readonly stages: DetectionStage[];
  readonly risk: RiskStage | undefined;
  maxEventTimeMs = Number.NEGATIVE_INFINITY;
  /** Watermark at which the risk stage last applied its waiting detections. */
  riskAdvancedMs = Number.NEGATIVE_INFINITY;

  constructor(
    stages: TaskStages,
    private readonly allowedLatenessMs: number,
  ) {
    this.stages = stages.stages;
    this.risk = stages.risk;
  }

  /** Newest event time seen minus the allowed lateness. */
  get watermarkMs(): number {
    return this.maxEventTimeMs - this.allowedLatenessMs;
  }

  /** Time that closes every window still open: just past the allowed lateness of the newest event. */
  get endOfInputMs(): number {
    return Number.isFinite(this.maxEventTimeMs) ? this.maxEventTimeMs + this.allowedLatenessMs + 1 : Number.POSITIVE_INFINITY;
  }

  observeEventTime(eventTimeMs: number): void {
    if (eventTimeMs > this.maxEventTimeMs) this.maxEventTimeMs = eventTimeMs;
  }

  /** Returns the task's state, taken synchronously so that it reflects exactly the events pushed so far. */
  snapshot(): TaskState {
    const stages: Record<string, unknown> = {};
    for (const stage of this.allStages()) {
      if (stage.snapshot !== undefined) stages[stage.name] = stage.snapshot();
    }
    return {
      maxEventTimeMs: Number.isFinite(this.maxEventTimeMs) ? this.maxEventTimeMs : null,
      riskAdvancedMs: Number.isFinite(this.riskAdvancedMs) ? this.riskAdvancedMs : null,
      stages,
    };
  }

  /**
   * Replaces the state with one taken by `snapshot`. A stage missing from the state starts empty;
   * state of a stage no longer running is ignored. A stage rejects a snapshot version it cannot
   * read with HOLTER_STATE_VERSION.
   */
  restore(state: TaskState): void {
    this.maxEventTimeMs = state.maxEventTimeMs ?? Number.NEGATIVE_INFINITY;
    this.riskAdvancedMs = state.riskAdvancedMs ?? Number.NEGATIVE_INFINITY;
    for (const stage of this.allStages()) {
      const saved = state.stages[stage.name];
      if (saved !== undefined && stage.restore !== undefined) stage.restore(saved);
    }
  }

  /** Counters of every stage, by stage name. */
  stats(): Record<string, Record<string, number>> {
    const stats: Record<string, Record<string, number>> = {};
    for (const stage of this.allStages()) stats[stage.name] = stage.stats();
    return stats;
  }

  private allStages(): StatefulStage[] {
    const stages: StatefulStage[] = [...this.stages];
    if (this.risk !== undefined) stages.push(this.risk);
    return stages;
  }
}

/**
 * Stage statistics that every task has the same of, because they describe the loaded rule set:
 * a total takes the largest, not the sum. A per-detector statistic `<detector id>.<name>` is
 * matched on `<name>`.
 */
const RULE_SET_VALUES = new Set(['rules_loaded', 'correlations_loaded', 'rules_unmapped_logsource', 'filters_applied', 'detectors_loaded']);

/** Stage statistics that measure a task's state as it is now: a total adds the live tasks' values. */
const STATE_VALUES = new Set(['correlation_groups', 'entities', 'peer_groups', 'open_windows', 'pending', 'detector_states_held']);

function baseName(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

/** True for a statistic that is a current value (a gauge), false for a running count. */
export function isStageGauge(name: string): boolean {
  const base = baseName(name);
  return RULE_SET_VALUES.has(base) || STATE_VALUES.has(base);
}

/**
 * Adds one task's statistics into a run total. Running counts add up across tasks; rule set
 * values take the largest; state values add up. With `countsOnly`, for a retired task whose state
 * now lives elsewhere, only its running counts are added.
 */
export function addStageStats(total: Record<string, Record<string, number>>, stats: Record<string, Record<string, number>>, options: { countsOnly?: boolean } = {}): void {
  for (const [stage, counters] of Object.entries(stats)) {
    const into = (total[stage] ??= {});
    for (const [name, value] of Object.entries(counters)) {
      const base = baseName(name);
      if (RULE_SET_VALUES.has(base)) {
        if (options.countsOnly !== true) into[name] = Math.max(into[name] ?? 0, value);
      } else if (STATE_VALUES.has(base)) {
        if (options.countsOnly !== true) into[name] = (into[name] ?? 0) + value;
      } else {
        into[name] = (into[name] ?? 0) + value;
      }
    }
  }
}
