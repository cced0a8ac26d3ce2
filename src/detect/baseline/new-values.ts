import { compileFieldPath } from '../../event.js';
import type { FieldReader, HolterEvent } from '../../event.js';
import { summaries } from '../pager.js';
import type { ShowValue } from '../pager.js';
import type { Detection, RuleInfo } from '../types.js';
import { NO_DETECTIONS, compareCodeUnits, readEntityOrSkip, readTimeOrSkip, roundTo, scalarText, spanText } from './detector.js';
import type { BaselineDetector } from './detector.js';
import { EntityMap } from './entities.js';
import type { EntityKeys } from './entities.js';
import { Evidence } from './evidence.js';
import { Exclusions } from './exclusions.js';
import { KnownValues } from './known-values.js';
import type { KnownValuesSnapshot } from './known-values.js';
import { PeerGroupReader } from './peer-group.js';
import { DEFAULTS, durationMs } from './schema.js';
import type { NewValueConfig } from './schema.js';
import { scoreOf } from './stats.js';
import { compileWhere } from './where.js';
import type { EventFilter } from './where.js';

/**
 * `function: first_seen` finds values of `field` (a device, source address, workstation,
 * application or PACS node) that the entity has not used within the history window. `rare` also
 * finds values the entity used, but for less than `max_share` of its decayed uses.
 *
 * Each event is judged before it is learned. While the entity is still learning, a value is judged
 * against its peer group's values when `over` is set, and not judged otherwise. Once it has
 * learned, a value unusual for the entity is still usual when its peer group uses it. Unusual values are
 * grouped per entity and bucket. When the watermark passes the bucket's end, one detection is
 * raised if the bucket contains at least `min_values` distinct unusual values. The known values are
 * part of the snapshot, so a restart does not make every value new.
 */

const DAY_MS = 86_400_000;
/** Unusual values kept per window; more are not counted. */
const MAX_VALUES_PER_WINDOW = 100;
/** A peer group keeps this many times an entity's `max_values`. */
const PEER_VALUES_FACTOR = 10;

interface ValueJudgement {
  basis: 'own' | 'peer_group';
  /** The value's share of the basis' uses; 0 for a value not used within the history window. */
  share: number;
  probability: number;
}

interface OpenWindow {
  entity: string;
  startMs: number;
  /** Unusual value -> how it was judged when first seen in the window. */
  values: Map<string, ValueJudgement>;
  events: number;
  evidence: Evidence;
  trigger: HolterEvent;
  peer: string | undefined;
}

interface NewValueSnapshot {
  entities: Array<[string, KnownValuesSnapshot]>;
  peers: Array<[string, KnownValuesSnapshot]>;
  windows: Array<Omit<OpenWindow, 'values' | 'evidence' | 'peer'> & { values: Array<[string, ValueJudgement]>; evidence: Array<[number, string]>; peer: string | null }>;
  counters: Record<string, number>;
}

export class NewValueDetector implements BaselineDetector {
  readonly rule: RuleInfo;
  private readonly config: NewValueConfig;
  private readonly filter: EventFilter;
  private readonly exclusions: Exclusions;
  private readonly spanMs: number;
  private readonly historyMs: number;
  private readonly halfLifeMs: number;
  private readonly maxValues: number;
  private readonly evidenceLimit: number;
  private readonly readEntity: FieldReader;
  private readonly readValue: FieldReader;
  private readonly peerGroup: PeerGroupReader | undefined;
  private readonly entities: EntityMap<KnownValues>;
  private readonly peers: EntityMap<KnownValues>;
  private readonly windows = new Map<string, OpenWindow>();
  private nextCloseMs = Number.POSITIVE_INFINITY;
  private readonly counters = {
    events_matched: 0,
    events_late: 0,
    events_missing_entity: 0,
    events_invalid_timestamp: 0,
    events_invalid_value: 0,
    events_judged: 0,
    events_unusual: 0,
    events_usual_by_peer_group: 0,
    events_learning: 0,
    events_excluded: 0,
    detections: 0,
  };

  constructor(config: NewValueConfig, rule: RuleInfo, options: { exclusions?: Exclusions; entityKeys?: EntityKeys } = {}) {
    this.config = config;
    this.rule = rule;
    this.filter = compileWhere(config.where);
    this.exclusions = options.exclusions ?? new Exclusions([]);
    this.spanMs = durationMs(config.bucket_span ?? DEFAULTS.bucket_span);
    this.historyMs = durationMs(config.history ?? DEFAULTS.history);
    this.halfLifeMs = config.learning.half_life_days * DAY_MS;
    this.maxValues = config.max_values ?? DEFAULTS.max_values;
    this.evidenceLimit = config.evidence_limit ?? DEFAULTS.evidence_limit;
    this.readEntity = compileFieldPath(config.by);
    this.readValue = compileFieldPath(config.field);
    this.peerGroup = config.over === undefined ? undefined : new PeerGroupReader(config.over);
    const maxEntities = config.max_entities ?? DEFAULTS.max_entities;
    this.entities = new EntityMap(maxEntities, undefined, options.entityKeys);
    this.peers = new EntityMap(maxEntities);
  }

  process(event: HolterEvent, watermarkMs: number): Detection[] {
    if (this.filter(event)) this.handle(event, watermarkMs);
    return this.advance(watermarkMs);
  }

  advance(watermarkMs: number): Detection[] {
    if (watermarkMs < this.nextCloseMs) return NO_DETECTIONS;
    return this.close((window) => window.startMs + this.spanMs <= watermarkMs);
  }

  flush(_watermarkMs: number): Detection[] {
    return this.close(() => true);
  }

  stats(): Record<string, number> {
    return { ...this.counters, entities: this.entities.size, entities_evicted: this.entities.evicted, peer_groups: this.peers.size, open_windows: this.windows.size };
  }

  private handle(event: HolterEvent, watermarkMs: number): void {
    const entity = readEntityOrSkip(event, this.readEntity, this.counters);
    if (entity === undefined) return;
    const ms = readTimeOrSkip(event, this.counters);
    if (Number.isNaN(ms)) return;
    const value = scalarText(this.readValue(event));
    if (value === undefined) {
      this.counters.events_invalid_value += 1;
      return;
    }
    this.counters.events_matched += 1;

    const own = this.entities.touch(entity, newKnownValues);
    const peerLabel = this.peerGroup?.labelOf(event);
    if (peerLabel !== undefined) own.peer = peerLabel;
    const peer = peerLabel === undefined ? undefined : this.peers.touch(peerLabel, newKnownValues);

    const startMs = Math.floor(ms / this.spanMs) * this.spanMs;
    if (startMs + this.spanMs <= watermarkMs) {
      // The bucket of this event is closed: learn the value but do not judge it.
      this.counters.events_late += 1;
    } else if (!this.exclusions.isEmpty && this.exclusions.overlaps(ms, ms + 1)) {
      this.counters.events_excluded += 1;
    } else {
      this.judgeAndGroup(event, entity, ms, startMs, value, own, peer, peerLabel);
    }

    own.learn(value, ms, this.halfLifeMs, this.historyMs, this.maxValues);
    peer?.learn(value, ms, this.halfLifeMs, this.historyMs, this.maxValues * PEER_VALUES_FACTOR);
  }

  private judgeAndGroup(
    event: HolterEvent,
    entity: string,
    ms: number,
    startMs: number,
    value: string,
    own: KnownValues,
    peer: KnownValues | undefined,
    peerLabel: string | undefined,
  ): void {
    const judgement = this.judge(value, ms, own, peer);
    if (judgement === undefined) {
      this.counters.events_learning += 1;
      return;
    }
    this.counters.events_judged += 1;
    if (!this.isUnusual(judgement.share)) return;
    // A value the peer group uses is usual for a member too: a ward's shared workstations.
    if (judgement.basis === 'own' && peer !== undefined && peer.isLearned(this.config.learning.min_days, this.config.learning.min_events)) {
      if (!this.isUnusual(peer.shareOf(peer.lookUp(value, ms, this.historyMs)))) {
        this.counters.events_usual_by_peer_group += 1;
        return;
      }
    }
    this.counters.events_unusual += 1;

    const key = `${entity}\u0000${startMs}`;
    let window = this.windows.get(key);
    if (window === undefined) {
      window = { entity, startMs, values: new Map(), events: 0, evidence: new Evidence(this.evidenceLimit), trigger: event, peer: peerLabel };
      this.windows.set(key, window);
      this.nextCloseMs = Math.min(this.nextCloseMs, startMs + this.spanMs);
    }
    window.events += 1;
    window.trigger = event;
    window.evidence.add(ms, event.event.id);
    if (!window.values.has(value) && window.values.size < MAX_VALUES_PER_WINDOW) window.values.set(value, judgement);
  }

  /** first_seen: a value not used within the history window; rare: one below max_share. */
  private isUnusual(share: number): boolean {
    return this.config.function === 'first_seen' ? share === 0 : share < (this.config.thresholds.max_share ?? 0);
  }

  private judge(value: string, ms: number, own: KnownValues, peer: KnownValues | undefined): ValueJudgement | undefined {
    const { min_days: minDays, min_events: minEvents } = this.config.learning;
    for (const [basis, known] of [['own', own], ['peer_group', peer]] as const) {
      if (known === undefined || !known.isLearned(minDays, minEvents)) continue;
      const entry = known.lookUp(value, ms, this.historyMs);
      const share = known.shareOf(entry);
      const probability = entry === undefined ? known.newValueProbability(ms, this.halfLifeMs) : share;
      return { basis, share, probability };
    }
    return undefined;
  }

  private close(isDue: (window: OpenWindow) => boolean): Detection[] {
    const due: OpenWindow[] = [];
    let nextCloseMs = Number.POSITIVE_INFINITY;
    for (const [key, window] of this.windows) {
      if (isDue(window)) {
        due.push(window);
        this.windows.delete(key);
      } else {
        nextCloseMs = Math.min(nextCloseMs, window.startMs + this.spanMs);
      }
    }
    this.nextCloseMs = nextCloseMs;

    due.sort((a, b) => a.startMs - b.startMs || compareCodeUnits(a.entity, b.entity));
    const minValues = this.config.thresholds.min_values ?? DEFAULTS.min_values;
    const detections = due.filter((window) => window.values.size >= minValues).map((window) => this.toDetection(window));
    this.counters.detections += detections.length;
    return detections;
  }

  private toDetection(window: OpenWindow): Detection {
    const values = [...window.values];
    const lowest = Math.min(...values.map(([, judgement]) => judgement.probability));
    const basis = (values[0] as [string, ValueJudgement])[1].basis;
    const own = this.entities.get(window.entity);
    const start = new Date(window.startMs).toISOString();
    const kind = this.config.function === 'first_seen' ? 'new' : 'rare';
    const more = values.length > 5 ? ` and ${values.length - 5} more` : '';
    const history = durationText(this.config.history ?? DEFAULTS.history);
    const them = values.length === 1 ? 'it' : 'them';
    const { by, field } = this.config;

    const render = (show: ShowValue): string => {
      const entity = show(by, window.entity);
      const listed = show(field, `${values.slice(0, 5).map(([value]) => value).join(', ')}${more}`);
      let context: string;
      if (basis === 'peer_group') {
        const days = Math.floor(own?.historyDays() ?? 0);
        context =
          `${entity} is still learning (${days} days, ${own?.events ?? 0} events of history), ` +
          `so ${them} ${values.length === 1 ? 'was' : 'were'} judged against its peer group ${window.peer ?? ''}, whose members ${kind === 'new' ? `had not used ${them} in the last ${history}` : `rarely use ${them}`}`;
      } else {
        const usual = own?.top(1)[0];
        context =
          kind === 'new'
            ? `${entity} had not used ${them} in the last ${history}`
            : `${entity} used ${them} for less than ${roundTo((this.config.thresholds.max_share ?? 0) * 100, 2)}% of its events`;
        if (usual !== undefined) context += ` and mostly uses ${show(field, usual.value)} (${Math.round(usual.share * 100)}%)`;
      }
      return `${entity} used ${values.length} ${kind} ${field} value${values.length === 1 ? '' : 's'} (${listed}) in the ${spanText(this.spanMs)} from ${start}; ${context}`;
    };

    return {
      rule: this.rule,
      severity: this.config.severity,
      riskScore: this.config.risk_score,
      groupKey: { [this.config.by]: window.entity },
      window: { start, end: new Date(window.startMs + this.spanMs).toISOString() },
      explanation: {
        ...summaries(render),
        actual: values.length,
        typical: 0,
        threshold: this.config.thresholds.min_values ?? DEFAULTS.min_values,
        unit: `${kind} values`,
        details: {
          function: this.config.function,
          field: this.config.field,
          values: values.map(([value, judgement]) => ({ value, share_percent: roundTo(judgement.share * 100, 2), probability: Number(judgement.probability.toPrecision(3)) })),
          score: scoreOf(Math.log(Math.max(lowest, Number.MIN_VALUE))),
          probability: Number(lowest.toPrecision(3)),
          basis,
          events: window.events,
          history_days: Math.floor(own?.historyDays() ?? 0),
          history_events: own?.events ?? 0,
          known_values: own?.size ?? 0,
          ...(window.peer === undefined ? {} : { peer_group: window.peer }),
        },
      },
      evidence: window.evidence.ids(),
      trigger: window.trigger,
      tags: this.config.tags,
    };
  }

  /** Returns the entity's known values (most used first) and its peer group as plain data. */
  describe(entity: string): Record<string, unknown> | undefined {
    const own = this.entities.get(entity);
    if (own === undefined) return undefined;
    return {
      function: this.config.function,
      field: this.config.field,
      learned: own.isLearned(this.config.learning.min_days, this.config.learning.min_events),
      history_days: Math.floor(own.historyDays()),
      history_events: own.events,
      known_values: own.top(own.size).map(({ value, share, lastMs }) => ({ value, share_percent: roundTo(share * 100, 2), last_seen: new Date(lastMs).toISOString() })),
      ...(own.peer === undefined ? {} : { peer_group: own.peer }),
    };
  }

  snapshot(): NewValueSnapshot {
    return {
      entities: [...this.entities].map(([key, known]) => [key, known.snapshot()]),
      peers: [...this.peers].map(([key, known]) => [key, known.snapshot()]),
      windows: [...this.windows.values()].map((window) => ({
        ...window,
        values: [...window.values],
        evidence: window.evidence.toJSON(),
        peer: window.peer ?? null,
      })),
      counters: { ...this.counters },
    };
  }

  restore(snapshot: unknown): void {
    const state = snapshot as NewValueSnapshot;
    this.entities.clear();
    this.peers.clear();
    this.windows.clear();
    for (const [key, known] of state.entities) this.entities.set(key, KnownValues.restore(known));
    for (const [key, known] of state.peers) this.peers.set(key, KnownValues.restore(known));
    this.nextCloseMs = Number.POSITIVE_INFINITY;
    for (const window of state.windows) {
      const restored: OpenWindow = { ...window, values: new Map(window.values), evidence: new Evidence(this.evidenceLimit, window.evidence), peer: window.peer ?? undefined };
      this.windows.set(`${window.entity}\u0000${window.startMs}`, restored);
      this.nextCloseMs = Math.min(this.nextCloseMs, window.startMs + this.spanMs);
    }
    Object.assign(this.counters, state.counters);
  }
}

/** `30d` -> `30 days`, `12h` -> `12 hours`. */
function durationText(text: string): string {
  const count = Number(text.slice(0, -1));
  const unit = { s: 'second', m: 'minute', h: 'hour', d: 'day' }[text.slice(-1)] ?? text.slice(-1);
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

function newKnownValues(): KnownValues {
  return new KnownValues();
}
