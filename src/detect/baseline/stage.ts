import { HolterError } from '../../errors.js';
import type { HolterEvent } from '../../event.js';
import { silentLogger } from '../../log.js';
import type { Logger } from '../../log.js';
import type { Detection, DetectionStage } from '../types.js';
import { NO_DETECTIONS } from './detector.js';
import type { BaselineDetector } from './detector.js';

/**
 * Version of the snapshot layout. Version 2 added the active-date counts of `time_of_day`
 * profiles. restore migrates version 1 (the counts start empty) and rejects any other. The
 * `fingerprints` map came later within version 2. It is optional, so a Holter that predates it
 * still restores the detector states and ignores the map.
 */
export const BASELINE_STATE_VERSION = 2;
const MIGRATED_VERSIONS = [1];

export interface BaselineSnapshot {
  version: number;
  /** Detector id -> that detector's state (plain JSON data). */
  detectors: Record<string, unknown>;
  /**
   * Detector id -> fingerprint of the detector that saved the state. Snapshots written before
   * fingerprints were saved lack it. A detector without a fingerprint is left out.
   */
  fingerprints?: Record<string, string>;
}

/** Detector ids by what replaceDetectors did with their state. */
export interface DetectorReplacement {
  /** Same id and fingerprint: state carried over. */
  kept: string[];
  /** Same id, different fingerprint: starts empty. */
  changed: string[];
  added: string[];
  removed: string[];
}

/** Detector ids by what restore did with their saved state. Detectors with no saved state are in none. */
export interface DetectorRestore {
  /** Saved by a detector with the same fingerprint: restored. */
  kept: string[];
  /** Saved by a detector with another fingerprint, or with none: dropped, so the detector starts empty. */
  changed: string[];
  /** Saved before snapshots carried fingerprints: restored unchecked. */
  unchecked: string[];
}

/** Counters summed over detectors in stats(); each is also reported per detector. */
const SUMMED_COUNTERS = ['detections', 'events_late', 'events_matched'];

/**
 * Runs the behavioural detectors. Each event goes to every detector; a detector's `where`
 * decides whether the event counts for it.
 */
export class BaselineStage implements DetectionStage {
  readonly name = 'detectors';
  private detectors: BaselineDetector[];
  /** Log for the warning about each detector whose saved state restore drops. */
  private readonly logger: Logger;
  /** Count of saved detector states that restore dropped because the detector's logic changed. */
  private statesDropped = 0;
  /**
   * True while some detector files failed to load. Restore then keeps the saved state of each
   * detector that is not loaded, and every snapshot saves it again, because its file may only be
   * broken for a while. A reload that loads every file restores that state or drops it.
   */
  keepUnloadedStates = false;
  /** Saved states of detectors not loaded, by detector id, held while `keepUnloadedStates`. */
  private readonly unloaded = new Map<string, { state: unknown; fingerprint: string }>();

  constructor(detectors: BaselineDetector[], logger: Logger = silentLogger) {
    this.detectors = detectors;
    this.logger = logger;
  }

  /** Ids of the loaded detectors. */
  get detectorIds(): string[] {
    return this.detectors.map((detector) => detector.rule.id);
  }

  /** The running detectors, for handing a freshly loaded set to another stage's replaceDetectors. */
  get loadedDetectors(): readonly BaselineDetector[] {
    return this.detectors;
  }

  process(event: HolterEvent, watermarkMs: number): Detection[] {
    // Most events raise nothing, so the result array is made only when a detector returns some,
    // and otherwise the shared frozen empty one is returned.
    let detections: Detection[] | undefined;
    for (const detector of this.detectors) {
      const found = detector.process(event, watermarkMs);
      if (found.length > 0) (detections ??= []).push(...found);
    }
    return detections ?? NO_DETECTIONS;
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
   * Returns `detectors_loaded`, `detector_states_dropped` (by restore), `detector_states_held`
   * (saved states of detectors not loaded), sums of the main counters,
   * and every counter per detector as `<detector id>.<counter>`.
   */
  stats(): Record<string, number> {
    const stats: Record<string, number> = { detectors_loaded: this.detectors.length, detector_states_dropped: this.statesDropped, detector_states_held: this.unloaded.size };
    for (const name of SUMMED_COUNTERS) stats[name] = 0;
    for (const detector of this.detectors) {
      for (const [name, value] of Object.entries(detector.stats())) {
        stats[`${detector.rule.id}.${name}`] = value;
        if (SUMMED_COUNTERS.includes(name)) stats[name] = (stats[name] ?? 0) + value;
      }
    }
    return stats;
  }

  /**
   * Swaps in a new detector set, loaded from files without errors, e.g. after the detector files
   * changed. A new detector takes over the state (profiles, open windows, counters) of a running
   * one or a held one with its id and fingerprint. Any other starts empty. Held states of
   * detectors still missing are dropped. Returns the ids by outcome.
   */
  replaceDetectors(next: BaselineDetector[]): DetectorReplacement {
    const running = new Map(this.detectors.map((detector) => [detector.rule.id, detector]));
    const replacement: DetectorReplacement = { kept: [], changed: [], added: [], removed: [] };
    for (const detector of next) {
      const old = running.get(detector.rule.id);
      running.delete(detector.rule.id);
      if (old === undefined) {
        const saved = this.unloaded.get(detector.rule.id);
        if (saved === undefined) {
          replacement.added.push(detector.rule.id);
        } else if (saved.fingerprint === detector.fingerprint) {
          detector.restore(saved.state);
          replacement.kept.push(detector.rule.id);
        } else {
          // The file came back with other logic: the held state is dropped as restore drops it.
          replacement.changed.push(detector.rule.id);
          this.statesDropped += 1;
          this.logger.warn({ ruleId: detector.rule.id }, 'detector changed since its state was saved, so its baseline restarts empty');
        }
        continue;
      }
      if (old.fingerprint === undefined || old.fingerprint !== detector.fingerprint) {
        replacement.changed.push(detector.rule.id);
        continue;
      }
      // A JSON round trip, so the two detectors never share a mutable object.
      detector.restore(JSON.parse(JSON.stringify(old.snapshot())));
      replacement.kept.push(detector.rule.id);
    }
    replacement.removed.push(...running.keys());
    this.detectors = next;
    this.unloaded.clear();
    this.keepUnloadedStates = false;
    return replacement;
  }

  /** Ids of detectors not loaded whose saved state is held, because some detector files failed to load. */
  get heldDetectorIds(): string[] {
    return [...this.unloaded.keys()];
  }

  /** Returns what each detector learned about one entity (usually a user id), by detector id; detectors that know nothing of it are left out. */
  describe(entity: string): Record<string, Record<string, unknown>> {
    const profiles: Record<string, Record<string, unknown>> = {};
    for (const detector of this.detectors) {
      const profile = detector.describe(entity);
      if (profile !== undefined) profiles[detector.rule.id] = profile;
    }
    return profiles;
  }

  /** Returns the learned profiles and open windows of every detector, with each detector's fingerprint, as plain JSON data. */
  snapshot(): BaselineSnapshot {
    const detectors: Record<string, unknown> = {};
    const fingerprints: Record<string, string> = {};
    for (const detector of this.detectors) {
      detectors[detector.rule.id] = detector.snapshot();
      if (detector.fingerprint !== undefined) fingerprints[detector.rule.id] = detector.fingerprint;
    }
    for (const [id, saved] of this.unloaded) {
      detectors[id] = saved.state;
      fingerprints[id] = saved.fingerprint;
    }
    return { version: BASELINE_STATE_VERSION, detectors, fingerprints };
  }

  /**
   * Restores a snapshot, migrating an older version that restore still reads. A detector gets its
   * saved state back only when the snapshot's fingerprint for it equals its own. A detector whose
   * logic changed starts empty, as after a hot reload, and is logged and counted. Detectors missing
   * from the snapshot start empty. State of detectors no longer loaded is held while
   * `keepUnloadedStates`, else ignored. Returns the ids by outcome.
   */
  restore(snapshot: BaselineSnapshot): DetectorRestore {
    const version = snapshot?.version;
    const migrated = typeof version === 'number' && MIGRATED_VERSIONS.includes(version);
    if (version !== BASELINE_STATE_VERSION && !migrated) {
      const readable = [...MIGRATED_VERSIONS, BASELINE_STATE_VERSION].join(' and ');
      throw new HolterError(
        'HOLTER_STATE_VERSION',
        `detector state has version ${JSON.stringify(version)} but this Holter reads versions ${readable}; ` +
          'delete the saved state to relearn the profiles',
      );
    }
    const fingerprints = savedFingerprints(snapshot);

    const outcome: DetectorRestore = { kept: [], changed: [], unchecked: [] };
    for (const detector of this.detectors) {
      const id = detector.rule.id;
      let state = snapshot.detectors[id];
      if (state === undefined) continue;

      // A detector without a fingerprint counts as changed, as in replaceDetectors.
      const sameLogic = detector.fingerprint !== undefined && fingerprints?.[id] === detector.fingerprint;
      if (fingerprints !== undefined && !sameLogic) {
        outcome.changed.push(id);
        continue;
      }
      // A snapshot without fingerprints was written by a Holter that did not save them. Its
      // states are kept because nearly always the same definitions learned them, and dropping
      // them would make every detector relearn for weeks after an upgrade.
      (fingerprints === undefined ? outcome.unchecked : outcome.kept).push(id);

      if (migrated && detector.migrate !== undefined) state = detector.migrate(state, version);
      detector.restore(state);
    }

    this.holdUnloaded(snapshot, fingerprints, migrated);

    this.statesDropped += outcome.changed.length;
    for (const id of outcome.changed) {
      this.logger.warn({ ruleId: id }, 'detector changed since its state was saved, so its baseline restarts empty');
    }
    if (outcome.unchecked.length > 0) {
      this.logger.info({ detectors: outcome.unchecked.length }, 'detector state restored without a check for changed detectors because it was saved without fingerprints');
    }
    return outcome;
  }

  /**
   * Holds the saved states of detectors that are not loaded, while detector files have errors. A
   * state without a fingerprint, or of an older version, is not held: it could not be checked
   * or migrated when its detector loads again.
   */
  private holdUnloaded(snapshot: BaselineSnapshot, fingerprints: Record<string, string> | undefined, migrated: boolean): void {
    this.unloaded.clear();
    if (!this.keepUnloadedStates || migrated || fingerprints === undefined) return;
    const loaded = new Set(this.detectorIds);
    for (const [id, state] of Object.entries(snapshot.detectors)) {
      const fingerprint = fingerprints[id];
      if (loaded.has(id) || fingerprint === undefined) continue;
      this.unloaded.set(id, { state, fingerprint });
      this.logger.warn({ ruleId: id }, 'detector is not loaded, so its saved state is held until its file loads again');
    }
  }
}

/** Reads the optional fingerprint map of a snapshot, rejecting one that is not detector id -> string. */
function savedFingerprints(snapshot: BaselineSnapshot): Record<string, string> | undefined {
  const fingerprints: unknown = snapshot.fingerprints;
  if (fingerprints === undefined) return undefined;
  const valid = typeof fingerprints === 'object' && fingerprints !== null && !Array.isArray(fingerprints) && Object.values(fingerprints).every((value) => typeof value === 'string');
  if (!valid) {
    throw new HolterError('HOLTER_STATE_VERSION', 'detector state is malformed because fingerprints is not a map of detector id to fingerprint. Delete the saved state to relearn the profiles.');
  }
  return fingerprints as Record<string, string>;
}
