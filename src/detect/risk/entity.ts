import type { Severity } from '../types.js';
import type { EntityType, RiskWindow } from './schema.js';

/** One detection's risk for one entity. */
export interface Contribution {
  /** Order of arrival within the entity, from 1; pages remember the last one they covered. */
  seq: number;
  /** Event time of the detection's trigger event. */
  timeMs: number;
  /** Risk added at `timeMs`, before decay: risk score x entity weight x scale. */
  score: number;
  ruleId: string;
  /** Id of the alert the detection makes (alertId), so the risk alert can link to it. */
  alertId: string;
  severity: Severity;
  signal: boolean;
  /** Event ids of the detection's evidence, at most MAX_EVIDENCE_PER_CONTRIBUTION. */
  evidence: string[];
  /** The detection's MITRE ATT&CK tags (`attack.*`). */
  attackTags: string[];
}

/** The last page of one entity and window. */
export interface PageRecord {
  /** Start of the page's alert window (epoch ms); the window ends one window length later. */
  startMs: number;
  /** Highest contribution `seq` the page covered. */
  maxSeq: number;
}

export interface WindowState {
  /** False from a page until the risk falls below the re-arm level or the page's window ends. */
  armed: boolean;
  page?: PageRecord;
  /** Reason the window was armed again since its last page. */
  rearmedBy?: RearmReason;
}

/** Reason a window was armed again after a page. */
export type RearmReason = 'fell_below_rearm_level' | 'window_moved_on';

/** Outcome of judging one window after a contribution. */
export type WindowOutcome = 'raise' | 'below_threshold' | 'already_raised' | 'covered_by_shorter_window';

export interface WindowJudgement {
  window: RiskWindow;
  outcome: WindowOutcome;
  rearmed?: RearmReason;
  risk: number;
  /** Event time at which the risk was judged. */
  evaluatedMs: number;
  /** Set when the outcome is `raise`. */
  page?: PageRecord;
}

/** Contributions kept per entity are capped, so the evidence of one detection is capped too. */
export const MAX_EVIDENCE_PER_CONTRIBUTION = 10;

/**
 * The risk of one entity (a user, a source address or a host): its recent contributions, oldest
 * first, and the page state of each window.
 *
 * The risk of a window at time T is the sum over contributions with time in (T - length, T] of
 * score x 2^(-(T - time) / half-life). Between contributions the risk only decays or loses
 * contributions that leave the window, so the risk just before a contribution is the lowest it
 * has been since the previous one. That is where a fall below the re-arm level is detected.
 */
export class EntityRisk {
  contributions: Contribution[] = [];
  readonly windows = new Map<string, WindowState>();
  /** Latest event time judged; a contribution older than this is judged at this time. */
  lastEvaluatedMs = Number.NEGATIVE_INFINITY;
  nextSeq = 1;

  constructor(
    readonly type: EntityType,
    readonly value: string,
  ) {}

  /** Returns the decayed risk of `window` at `atMs`. */
  riskAt(window: RiskWindow, atMs: number): number {
    let risk = 0;
    for (const contribution of this.contributions) {
      if (!isInside(contribution, window, atMs)) continue;
      risk += decayed(contribution, window, atMs);
    }
    return risk;
  }

  /** Returns the contributions inside `window` at `atMs`, oldest first. */
  contributing(window: RiskWindow, atMs: number): Contribution[] {
    return this.contributions.filter((contribution) => isInside(contribution, window, atMs));
  }

  /**
   * Adds a contribution and judges every window at the contribution's time, or at the latest time
   * already judged when the contribution is late. Returns one judgement per window and the number
   * of contributions dropped to keep the entity within `maxContributions`.
   *
   * `windows` must be ordered shortest first: a window that reaches its threshold while a shorter
   * window of the entity has paged and not been armed again records a page without raising
   * (`covered_by_shorter_window`), because the same burst is already paged.
   */
  apply(
    input: Omit<Contribution, 'seq'>,
    windows: readonly RiskWindow[],
    maxContributions: number,
  ): { judgements: WindowJudgement[]; dropped: number } {
    const evaluatedMs = Math.max(input.timeMs, this.lastEvaluatedMs);
    const rearmed = new Map<string, RearmReason>();
    for (const window of windows) {
      const reason = this.rearm(window, evaluatedMs);
      if (reason !== undefined) rearmed.set(window.name, reason);
    }

    const contribution: Contribution = { ...input, seq: this.nextSeq++ };
    this.insert(contribution);
    const dropped = this.prune(windows, evaluatedMs, maxContributions);
    this.lastEvaluatedMs = evaluatedMs;

    const judgements: WindowJudgement[] = [];
    for (const window of windows) {
      const judgement = this.judge(window, evaluatedMs, rearmed.get(window.name));
      const shorterPaged = judgements.some((shorter) => this.windows.get(shorter.window.name)?.armed === false);
      if (judgement.outcome === 'raise' && shorterPaged) judgement.outcome = 'covered_by_shorter_window';
      judgements.push(judgement);
    }
    return { judgements, dropped };
  }

  /** Arms a paged window again when its risk fell below its re-arm level or its page window ended. */
  private rearm(window: RiskWindow, atMs: number): RearmReason | undefined {
    const state = this.stateOf(window);
    if (state.armed || state.page === undefined) return undefined;

    let reason: RearmReason | undefined;
    if (this.riskAt(window, atMs) < window.rearmBelow) reason = 'fell_below_rearm_level';
    else if (atMs >= state.page.startMs + window.lengthMs) reason = 'window_moved_on';
    if (reason === undefined) return undefined;

    state.armed = true;
    state.rearmedBy = reason;
    return reason;
  }

  private judge(window: RiskWindow, atMs: number, rearmed: RearmReason | undefined): WindowJudgement {
    const state = this.stateOf(window);
    const risk = this.riskAt(window, atMs);
    const judgement: WindowJudgement = { window, outcome: 'below_threshold', risk, evaluatedMs: atMs };
    if (rearmed !== undefined) judgement.rearmed = rearmed;
    if (risk < window.threshold) return judgement;

    if (!state.armed) {
      judgement.outcome = 'already_raised';
      return judgement;
    }

    const page = { startMs: this.pageStartMs(window, atMs, state), maxSeq: this.nextSeq - 1 };
    state.armed = false;
    state.page = page;
    delete state.rearmedBy;
    judgement.outcome = 'raise';
    judgement.page = page;
    return judgement;
  }

  /**
   * Start of a new page's alert window: the time of the oldest contribution inside the window
   * that no earlier page covered, truncated to the whole second (UTC). After a page whose window
   * ended while the risk stayed at or above the re-arm level, the new window starts no earlier than the
   * end of the old one, so a steady high risk pages once per window length. After a fall below
   * the re-arm level, the new window starts at least one second after the old one. Either way a
   * page never reuses the window, and so the alert id, of the page before it.
   */
  private pageStartMs(window: RiskWindow, atMs: number, state: WindowState): number {
    const previous = state.page;
    const inside = this.contributing(window, atMs);
    const fresh = inside.filter((contribution) => contribution.seq > (previous?.maxSeq ?? 0));
    const first = (fresh.length > 0 ? fresh : inside).reduce((oldest, item) => Math.min(oldest, item.timeMs), atMs);
    const startMs = Math.floor(first / 1000) * 1000;
    if (previous === undefined) return startMs;

    const earliestMs = previous.startMs + (state.rearmedBy === 'window_moved_on' ? window.lengthMs : 1000);
    return Math.max(startMs, earliestMs);
  }

  private insert(contribution: Contribution): void {
    let index = this.contributions.length;
    while (index > 0 && (this.contributions[index - 1] as Contribution).timeMs > contribution.timeMs) index -= 1;
    this.contributions.splice(index, 0, contribution);
  }

  /** Drops contributions outside every window, then the oldest past the cap; returns how many past the cap. */
  private prune(windows: readonly RiskWindow[], atMs: number, maxContributions: number): number {
    const longestMs = Math.max(...windows.map((window) => window.lengthMs));
    const keepAfterMs = atMs - longestMs;
    let outside = 0;
    while (outside < this.contributions.length && (this.contributions[outside] as Contribution).timeMs <= keepAfterMs) outside += 1;
    if (outside > 0) this.contributions.splice(0, outside);

    const dropped = Math.max(0, this.contributions.length - maxContributions);
    if (dropped > 0) this.contributions.splice(0, dropped);
    return dropped;
  }

  private stateOf(window: RiskWindow): WindowState {
    let state = this.windows.get(window.name);
    if (state === undefined) {
      state = { armed: true };
      this.windows.set(window.name, state);
    }
    return state;
  }
}

function isInside(contribution: Contribution, window: RiskWindow, atMs: number): boolean {
  return contribution.timeMs <= atMs && contribution.timeMs > atMs - window.lengthMs;
}

/** Returns the contribution's score decayed from its own time to `atMs`. */
export function decayed(contribution: Contribution, window: RiskWindow, atMs: number): number {
  return contribution.score * Math.pow(2, -(atMs - contribution.timeMs) / window.halfLifeMs);
}
