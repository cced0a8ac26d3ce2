import { HolterError } from '../../errors.js';
import type { HolterEvent } from '../../event.js';
import type { Detection, DetectionStage } from '../types.js';
import type { BaselineDetector } from './detector.js';

/** Version of the snapshot layout; restore rejects any other. */
export const BASELINE_STATE_VERSION = 1;

export interface BaselineSnapshot {
  version: number;
  /** Detector id -> that detector's state (plain JSON data). */
  detectors: Record<string, unknown>;
}

/** Counters summed over detectors in stats(); each is also reported per detector. */
const SUMMED_COUNTERS = ['detections', 'events_late', 'events_matched'];

/**
 * Runs the behavioural detectors. Each event goes to every detector; a detector's `where`
 * decides whether the event counts for it.
 */
export class BaselineStage implements DetectionStage {
  readonly name = 'detectors';
  private readonly detectors: BaselineDetector[];

  constructor(detectors: BaselineDetector[]) {
    this.detectors = detectors;
  }

  /** Ids of the loaded detectors. */
  get detectorIds(): string[] {
    return this.detectors.map((detector) => detector.rule.id);
  }

  process(event: HolterEvent, watermarkMs: number): Detection[] {
    const detections: Detection[] = [];
    for (const detector of this.detectors) detections.push(...detector.process(event, watermarkMs));
    return detections;
  }

  /** Closes windows that the watermark has passed, when no event arrives (e.g. an idle input). */
  advance(watermarkMs: number): Detection[] {
    const detections: Detection[] = [];
    for (const detector of this.detectors) detections.push(...detector.advance(watermarkMs));
    return detections;
  }

  flush(watermarkMs: number): Detection[] {
    const detections: Detection[] = [];
    for (const detector of this.detectors) detections.push(...detector.flush(watermarkMs));
    return detections;
  }

  /**
   * Returns `detectors_loaded`, sums of the main counters, and every counter per detector as
   * `<detector id>.<counter>`.
   */
  stats(): Record<string, number> {
    const stats: Record<string, number> = { detectors_loaded: this.detectors.length };
    for (const name of SUMMED_COUNTERS) stats[name] = 0;
    for (const detector of this.detectors) {
      for (const [name, value] of Object.entries(detector.stats())) {
        stats[`${detector.rule.id}.${name}`] = value;
        if (SUMMED_COUNTERS.includes(name)) stats[name] = (stats[name] ?? 0) + value;
      }
    }
    return stats;
  }

  /** Returns the learned profiles and open windows of every detector as plain JSON data. */
  snapshot(): BaselineSnapshot {
    const detectors: Record<string, unknown> = {};
    for (const detector of this.detectors) detectors[detector.rule.id] = detector.snapshot();
    return { version: BASELINE_STATE_VERSION, detectors };
  }

  /**
   * Restores a snapshot. Detectors missing from the snapshot start empty, and state of
   * detectors no longer loaded is ignored. A detector whose configuration changed keeps its
   * profiles.
   */
  restore(snapshot: BaselineSnapshot): void {
    if (snapshot?.version !== BASELINE_STATE_VERSION) {
      throw new HolterError(
        'HOLTER_STATE_VERSION',
        `detector state has version ${JSON.stringify(snapshot?.version)} but this Holter reads version ${BASELINE_STATE_VERSION}; ` +
          'delete the saved state to relearn the profiles',
      );
    }
    for (const detector of this.detectors) {
      const state = snapshot.detectors[detector.rule.id];
      if (state !== undefined) detector.restore(state);
    }
  }
}
