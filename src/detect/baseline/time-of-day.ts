import { compileFieldPath } from '../../event.js';
import type { FieldReader, HolterEvent } from '../../event.js';
import { summaries } from '../pager.js';
import type { ShowValue } from '../pager.js';
import type { Detection, RuleInfo } from '../types.js';
import { NO_DETECTIONS, compareCodeUnits, formatPercent, readEntityOrSkip, readTimeOrSkip, roundTo } from './detector.js';
import type { BaselineDetector } from './detector.js';
import { ActiveDays } from './active-days.js';
import { EntityMap } from './entities.js';
import type { EntityKeys } from './entities.js';
import { Evidence } from './evidence.js';
import { HourProfile } from './hour-profile.js';
import type { HourProfileSnapshot, HourShare } from './hour-profile.js';
import { HOUR_MS, LocalClock, formatHour } from './local-time.js';
import { PeerGroupReader } from './peer-group.js';
import type { LocalHour } from './local-time.js';
import { DEFAULTS } from './schema.js';
import type { TimeOfDayConfig } from './schema.js';
import { compileWhere } from './where.js';
import type { EventFilter } from './where.js';

/**
 * `function: time_of_day`: events at a local hour the entity (usually a user) rarely works.
 *
 * Each event is judged before it is learned. The basis is the entity's own hour-of-week profile
 * in its time zone. While the entity is still learning, the basis is its peer group's profile,
 * and with neither learned the event is not judged. On its own basis, an hour is also usual when
 * the entity was active at or next to it on `min_active_days` earlier local dates (decayed), so a
 * rotating worker's occasional nights do not alert. Unusual events are grouped per entity and local clock
 * hour. When the watermark passes the end of the hour, one detection is raised if the hour
 * holds at least `min_distinct` distinct values of `field` (patient records).
 */

/** Distinct values counted per window; more are not counted, so the actual can be capped here. */
const MAX_DISTINCT_PER_WINDOW = 10_000;
const DAY_MS = 86_400_000;

interface Judgement {
  basis: 'own' | 'peer_group';
  share: HourShare;
  historyDays: number;
  historyEvents: number;
  /** Own history when the basis is the peer group, for the explanation. */
  ownDays: number;
  ownEvents: number;
  /** Decayed earlier dates active at or next to the hour; only on the entity's own basis. */
  activeDays: number | undefined;
}

interface PeerView {
  label: string;
  share: HourShare | undefined;
  learned: boolean;
}

interface OpenWindow {
  entity: string;
  startMs: number;
  hour: number;
  zone: string;
  values: Set<string>;
  unusualEvents: number;
  evidence: Evidence;
  trigger: HolterEvent;
  judgement: Judgement;
  peer: PeerView | undefined;
  /** Unusual events already taken back from the entity's profile, before the window closed. */
  discounted: number;
}

interface TimeOfDaySnapshot {
  users: Array<[string, HourProfileSnapshot]>;
  peers: Array<[string, HourProfileSnapshot]>;
  /** `discounted` is absent in snapshots saved before it was kept: nothing was taken back early then. */
  windows: Array<Omit<OpenWindow, 'values' | 'evidence' | 'discounted'> & { values: string[]; evidence: Array<[number, string]>; discounted?: number }>;
  counters: Record<string, number>;
}


/** Weight at which the events of a detected window are learned, against 1 for usual events. */
const DETECTED_LEARNING_WEIGHT = 0;
export class TimeOfDayDetector implements BaselineDetector {
  readonly rule: RuleInfo;
  private readonly config: TimeOfDayConfig;
  private readonly filter: EventFilter;
  private readonly clock: LocalClock;
  private readonly defaultTimeZone: string;
  private readonly halfLifeMs: number;
  private readonly smoothing: number;
  private readonly evidenceLimit: number;
  private readonly readEntity: FieldReader;
  private readonly readValue: FieldReader;
  private readonly readTimeZone: FieldReader;
  private readonly peerGroup: PeerGroupReader;
  private readonly users: EntityMap<HourProfile>;
  private readonly peers: EntityMap<HourProfile>;
  private readonly windows = new Map<string, OpenWindow>();
  /** The share of the event being judged, written in place by judgedBasis on every judged event. */
  private readonly judgedShare: HourShare = { share: 0, seen: false, dayType: 'all days' };
  /** Made once, so touching an entity allocates no closure per event. */
  private readonly newProfile: () => HourProfile;
  private nextCloseMs = Number.POSITIVE_INFINITY;
  private readonly counters = {
    events_matched: 0,
    events_judged: 0,
    events_unusual: 0,
    events_usual_by_active_days: 0,
    events_learning: 0,
    events_late: 0,
    events_missing_entity: 0,
    events_invalid_timestamp: 0,
    events_invalid_time_zone: 0,
    detections: 0,
  };

  constructor(config: TimeOfDayConfig, rule: RuleInfo, options: { defaultTimeZone: string; clock?: LocalClock; entityKeys?: EntityKeys }) {
    this.config = config;
    this.rule = rule;
    this.filter = compileWhere(config.where);
    this.clock = options.clock ?? new LocalClock();
    this.defaultTimeZone = options.defaultTimeZone;
    this.halfLifeMs = config.learning.half_life_days * DAY_MS;
    const halfLifeMs = this.halfLifeMs;
    this.newProfile = () => new HourProfile(halfLifeMs);
    this.smoothing = config.thresholds.smoothing ?? DEFAULTS.smoothing;
    this.evidenceLimit = config.evidence_limit ?? DEFAULTS.evidence_limit;
    this.readEntity = compileFieldPath(config.by);
    this.readValue = compileFieldPath(config.field);
    this.readTimeZone = compileFieldPath(config.time_zone_field ?? DEFAULTS.time_zone_field);
    this.peerGroup = new PeerGroupReader(config.learning.peer_group ?? []);
    const maxEntities = config.max_entities ?? DEFAULTS.max_entities;
    this.users = new EntityMap(maxEntities, undefined, options.entityKeys);
    this.peers = new EntityMap(maxEntities);
  }

  process(event: HolterEvent, watermarkMs: number): Detection[] {
    // Windows the watermark has passed close first, so a detected spree is taken out of the
    // profile before this event is judged against it.
    const detections = this.advance(watermarkMs);
    if (this.filter(event)) this.handle(event, watermarkMs);
    return detections;
  }

  advance(watermarkMs: number): Detection[] {
    if (watermarkMs < this.nextCloseMs) return NO_DETECTIONS;
    return this.close((window) => window.startMs + HOUR_MS <= watermarkMs);
  }

  flush(_watermarkMs: number): Detection[] {
    return this.close(() => true);
  }

  stats(): Record<string, number> {
    return { ...this.counters, entities: this.users.size, entities_evicted: this.users.evicted, open_windows: this.windows.size };
  }

  /**
   * Returns the entity's learned hours as plain data: the share of activity in each local hour of
   * the week (Monday 00:00 first), the decayed active dates per hour of the day, and its peer group.
   */
  describe(entity: string): Record<string, unknown> | undefined {
    const user = this.users.get(entity);
    if (user === undefined) return undefined;
    const { min_days: minDays, min_events: minEvents } = this.config.learning;
    return {
      function: this.config.function,
      learned: user.isLearned(minDays, minEvents),
      history_days: Math.floor(user.historyDays()),
      history_events: user.events,
      hour_of_week_percent: user.hourOfWeekShares().map((share) => roundTo(share * 100, 2)),
      active_days_by_hour: Number.isNaN(user.lastMs) ? [] : Array.from({ length: 24 }, (_, hour) => roundTo(user.activeDaysAtHour(hour, user.lastMs), 2)),
      ...(user.peer === undefined ? {} : { peer_group: user.peer }),
    };
  }

  private handle(event: HolterEvent, watermarkMs: number): void {
    const entity = readEntityOrSkip(event, this.readEntity, this.counters);
    if (entity === undefined) return;
    const ms = readTimeOrSkip(event, this.counters);
    if (Number.isNaN(ms)) return;
    this.counters.events_matched += 1;

    const zone = this.zoneOf(event);
    const hour = this.clock.localHour(ms, zone);
    const user = this.users.touch(entity, this.newProfile);
    const peerLabel = this.peerGroup.labelOf(event);
    const peer = peerLabel === undefined ? undefined : this.peers.touch(peerLabel, this.newProfile);
    if (peerLabel !== undefined) user.peer = peerLabel;
    this.discountDetectedHour(entity, user, hour);
    user.settleBefore(hour);
    peer?.settleBefore(hour);

    if (hour.startMs + HOUR_MS <= watermarkMs) {
      // The window for this hour is closed: learn from the event but do not judge it.
      this.counters.events_late += 1;
    } else {
      this.judgeAndGroup(event, entity, ms, zone, hour, user, peer, peerLabel);
    }

    user.observe(ms, hour);
    peer?.observe(ms, hour);
  }

  /**
   * Takes a spree back from the entity's held-back hour before a later hour adds that hour to the
   * profile, once the spree has the distinct values to raise its detection (values only grow). The
   * detection waits for the watermark to pass the hour. Until then, the later hour's events would
   * be judged against a profile that learned the spree, so a spree running on past the hour would
   * look usual for the first minutes of the next.
   */
  private discountDetectedHour(entity: string, user: HourProfile, hour: LocalHour): void {
    if (this.windows.size === 0 || !(user.heldStartMs < hour.startMs)) return;
    const window = this.windows.get(`${entity}\u0000${user.heldStartMs}`);
    if (window === undefined || window.values.size < this.config.thresholds.min_distinct || window.discounted >= window.unusualEvents) return;
    user.discount(this.clock.localHour(window.startMs, window.zone), (window.unusualEvents - window.discounted) * (1 - DETECTED_LEARNING_WEIGHT));
    window.discounted = window.unusualEvents;
  }

  private judgeAndGroup(
    event: HolterEvent,
    entity: string,
    ms: number,
    zone: string,
    hour: LocalHour,
    user: HourProfile,
    peer: HourProfile | undefined,
    peerLabel: string | undefined,
  ): void {
    const basis = this.judgedBasis(user, peer, hour);
    if (basis === undefined) {
      this.counters.events_learning += 1;
      return;
    }
    this.counters.events_judged += 1;
    const share = this.judgedShare;
    if (share.share >= this.config.thresholds.min_share) return;
    // Active dates are pooled over all days of the week, which time_of_week keeps apart.
    const activeDays = basis === 'own' && this.config.function === 'time_of_day' ? user.activeDaysAt(hour, ms) : undefined;
    const minActiveDays = this.config.thresholds.min_active_days;
    if (minActiveDays !== undefined && activeDays !== undefined && activeDays >= minActiveDays) {
      this.counters.events_usual_by_active_days += 1;
      return;
    }
    this.counters.events_unusual += 1;

    const key = `${entity}\u0000${hour.startMs}`;
    let window = this.windows.get(key);
    if (window === undefined) {
      const judgement = this.judgementOf(basis, share, user, peer, activeDays);
      const peerView = peer === undefined || peerLabel === undefined ? undefined : this.peerView(peer, peerLabel, hour);
      window = {
        entity,
        startMs: hour.startMs,
        hour: hour.hour,
        zone,
        values: new Set(),
        unusualEvents: 0,
        evidence: new Evidence(this.evidenceLimit),
        trigger: event,
        judgement,
        peer: peerView,
        discounted: 0,
      };
      this.windows.set(key, window);
      this.nextCloseMs = Math.min(this.nextCloseMs, hour.startMs + HOUR_MS);
    }

    window.unusualEvents += 1;
    window.trigger = event;
    window.evidence.add(ms, event.event.id);
    const value = this.readValue(event);
    if ((typeof value === 'string' || typeof value === 'number') && window.values.size < MAX_DISTINCT_PER_WINDOW) {
      window.values.add(String(value));
    }
  }

  /**
   * Returns the basis an event is judged on, with its share written to `judgedShare`, or undefined
   * while neither the entity nor its peer group has learned enough. It builds no object, because
   * nearly every judged event is usual and needs nothing kept.
   */
  private judgedBasis(user: HourProfile, peer: HourProfile | undefined, hour: LocalHour): Judgement['basis'] | undefined {
    const { min_days: minDays, min_events: minEvents } = this.config.learning;
    if (user.isLearned(minDays, minEvents) && this.shareAt(user, hour, this.judgedShare) !== undefined) return 'own';
    // A peer group is active at most hours on most dates, so only its share is judged.
    if (peer !== undefined && peer.isLearned(minDays, minEvents) && this.shareAt(peer, hour, this.judgedShare) !== undefined) return 'peer_group';
    return undefined;
  }

  /** Builds the judgement an unusual event's window keeps, with a copy of the judged share. */
  private judgementOf(basis: Judgement['basis'], judged: HourShare, user: HourProfile, peer: HourProfile | undefined, activeDays: number | undefined): Judgement {
    const share: HourShare = { share: judged.share, seen: judged.seen, dayType: judged.dayType };
    const ownDays = user.historyDays();
    if (basis === 'peer_group' && peer !== undefined) {
      return { basis, share, historyDays: peer.historyDays(), historyEvents: peer.events, ownDays, ownEvents: user.events, activeDays };
    }
    return { basis, share, historyDays: ownDays, historyEvents: user.events, ownDays, ownEvents: user.events, activeDays };
  }

  /** Returns the share `time_of_day` judges (hour of the day, weekdays and weekends apart), or the hour-of-week share for `time_of_week`. */
  private shareAt(profile: HourProfile, hour: LocalHour, into?: HourShare): HourShare | undefined {
    return this.config.function === 'time_of_week' ? profile.weekShareOf(hour, this.smoothing, into) : profile.shareOf(hour, this.smoothing, into);
  }

  private peerView(peer: HourProfile, label: string, hour: LocalHour): PeerView {
    const learned = peer.isLearned(this.config.learning.min_days, this.config.learning.min_events);
    return { label, learned, share: learned ? this.shareAt(peer, hour) : undefined };
  }

  private zoneOf(event: HolterEvent): string {
    const zone = this.readTimeZone(event);
    if (typeof zone !== 'string' || zone === '') return this.defaultTimeZone;
    if (this.clock.isValidZone(zone)) return zone;
    this.counters.events_invalid_time_zone += 1;
    return this.defaultTimeZone;
  }

  private close(isDue: (window: OpenWindow) => boolean): Detection[] {
    const due: OpenWindow[] = [];
    let nextCloseMs = Number.POSITIVE_INFINITY;
    for (const [key, window] of this.windows) {
      if (isDue(window)) {
        due.push(window);
        this.windows.delete(key);
      } else {
        nextCloseMs = Math.min(nextCloseMs, window.startMs + HOUR_MS);
      }
    }
    this.nextCloseMs = nextCloseMs;

    due.sort((a, b) => a.startMs - b.startMs || compareCodeUnits(a.entity, b.entity));
    const detections: Detection[] = [];
    for (const window of due) {
      if (window.values.size < this.config.thresholds.min_distinct) continue;
      detections.push(this.toDetection(window));
      // A detected spree does not teach the hour's share, so one flagged night does not make the
      // hour usual for the next spree. A pattern that repeats still becomes usual through
      // min_active_days, because the spree's date is counted as active.
      const hour = this.clock.localHour(window.startMs, window.zone);
      this.users.get(window.entity)?.discount(hour, (window.unusualEvents - window.discounted) * (1 - DETECTED_LEARNING_WEIGHT));
    }
    this.counters.detections += detections.length;
    return detections;
  }

  private toDetection(window: OpenWindow): Detection {
    const { judgement, entity } = window;
    const hours = `${formatHour(window.hour)} and ${formatHour(window.hour + 1)}`;
    const records = window.values.size;
    // The share is of a day's activity for time_of_day and of a week's for time_of_week.
    const eventsPerDay = judgement.historyEvents / Math.max(1, judgement.historyDays);
    const eventsPerPeriod = this.config.function === 'time_of_week' ? eventsPerDay * 7 : eventsPerDay;
    const render = (show: ShowValue): string =>
      `${show(this.config.by, entity)} opened ${records} distinct patient records between ${hours} (${window.zone}); ` +
      `${this.describeBasis(window, show)}${this.describePeer(window)}`;

    return {
      rule: this.rule,
      severity: this.config.severity,
      riskScore: this.config.risk_score,
      groupKey: { [this.config.by]: entity },
      window: { start: new Date(window.startMs).toISOString(), end: new Date(window.startMs + HOUR_MS).toISOString() },
      explanation: {
        ...summaries(render),
        actual: records,
        typical: roundTo(judgement.share.share * eventsPerPeriod, 1),
        threshold: this.config.thresholds.min_distinct,
        unit: 'distinct patient records',
        details: {
          time_zone: window.zone,
          local_hour: `${formatHour(window.hour)}-${formatHour(window.hour + 1)}`,
          basis: judgement.basis,
          day_type: judgement.share.dayType,
          share_percent: roundTo(judgement.share.share * 100, 2),
          min_share_percent: roundTo(this.config.thresholds.min_share * 100, 2),
          history_days: Math.floor(judgement.historyDays),
          history_events: judgement.historyEvents,
          unusual_events: window.unusualEvents,
          ...(judgement.activeDays === undefined ? {} : { active_days: roundTo(judgement.activeDays, 2) }),
          ...(this.config.thresholds.min_active_days === undefined ? {} : { min_active_days: this.config.thresholds.min_active_days }),
          ...(window.peer === undefined ? {} : { peer_group: window.peer.label }),
          ...(window.peer?.share === undefined ? {} : { peer_share_percent: roundTo(window.peer.share.share * 100, 2) }),
        },
      },
      evidence: window.evidence.ids(),
      trigger: window.trigger,
      tags: this.config.tags,
    };
  }

  private describeBasis(window: OpenWindow, show: ShowValue): string {
    const { judgement } = window;
    const entity = show(this.config.by, window.entity);
    const when = judgement.share.dayType === 'all days' ? 'at that hour' : `at that hour on ${judgement.share.dayType}`;
    const share = formatPercent(judgement.share.share);
    if (judgement.basis === 'peer_group') {
      const days = Math.floor(judgement.ownDays);
      return (
        `${entity} has too little history to judge by (${days} days, ${judgement.ownEvents} events), ` +
        `so the hour was judged against ${window.peer?.label ?? 'the peer group'}, whose share ${when} is ${share}`
      );
    }
    const days = Math.floor(judgement.historyDays);
    if (!judgement.share.seen) {
      // The share is smoothed with the neighbouring hours, so it can be above 0 for an hour never worked.
      const neighbours = judgement.share.share > 0 ? ' with the hours before and after it' : '';
      return `${entity} has never worked ${when} in ${days} days of history (share ${share}${neighbours})`;
    }
    return `${entity} rarely works ${when}: share ${share} in ${days} days of history${this.describeActiveDays(judgement)}`;
  }

  private describeActiveDays(judgement: Judgement): string {
    const needed = this.config.thresholds.min_active_days;
    if (needed === undefined || judgement.activeDays === undefined) return '';
    return `, active at or next to that hour on ${judgement.activeDays.toFixed(1)} earlier days (decayed; ${needed} needed)`;
  }

  private describePeer(window: OpenWindow): string {
    const peer = window.peer;
    if (peer === undefined || window.judgement.basis === 'peer_group') return '';
    if (!peer.learned || peer.share === undefined) return `; typical for ${peer.label}: not enough history`;
    const typical = peer.share.seen ? `share ${formatPercent(peer.share.share)}` : 'none';
    return `; typical for ${peer.label}: ${typical}`;
  }

  snapshot(): TimeOfDaySnapshot {
    return {
      users: [...this.users].map(([key, profile]) => [key, profile.snapshot()]),
      peers: [...this.peers].map(([key, profile]) => [key, profile.snapshot()]),
      windows: [...this.windows.values()].map((window) => ({
        ...window,
        values: [...window.values],
        evidence: window.evidence.toJSON(),
      })),
      counters: { ...this.counters },
    };
  }

  /** Version 1 profiles had no active-date counts: they start empty, and held-back hours count no date. */
  migrate(state: unknown, fromVersion: number): unknown {
    if (fromVersion !== 1) return state;
    const old = state as TimeOfDaySnapshot;
    const upgrade = ([key, profile]: [string, HourProfileSnapshot]): [string, HourProfileSnapshot] => [
      key,
      {
        ...profile,
        pending: profile.pending === null ? null : { ...profile.pending, day: null },
        activeDays: ActiveDays.emptySnapshot(),
      },
    ];
    return { ...old, users: old.users.map(upgrade), peers: old.peers.map(upgrade) };
  }

  restore(snapshot: unknown): void {
    const state = snapshot as TimeOfDaySnapshot;
    this.users.clear();
    this.peers.clear();
    this.windows.clear();
    for (const [key, profile] of state.users) this.users.set(key, HourProfile.restore(profile, this.halfLifeMs));
    for (const [key, profile] of state.peers) this.peers.set(key, HourProfile.restore(profile, this.halfLifeMs));
    this.nextCloseMs = Number.POSITIVE_INFINITY;
    for (const window of state.windows) {
      const restored: OpenWindow = { ...window, values: new Set(window.values), evidence: new Evidence(this.evidenceLimit, window.evidence), discounted: window.discounted ?? 0 };
      this.windows.set(`${window.entity}\u0000${window.startMs}`, restored);
      this.nextCloseMs = Math.min(this.nextCloseMs, window.startMs + HOUR_MS);
    }
    Object.assign(this.counters, state.counters);
  }
}

