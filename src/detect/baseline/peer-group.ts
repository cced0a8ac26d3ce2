import { compileFieldPath } from '../../event.js';
import type { FieldReader, HolterEvent } from '../../event.js';

/** Peer group labels kept for reuse; the cache is cleared when it reaches this size. */
const MAX_CACHED_PEER_LABELS = 10_000;

/**
 * Reads an event's peer group from directory fields set by the enrich stage, e.g.
 * `[holter.user.role, holter.user.department]`. The label is `billing-clerk in billing` for two
 * fields and the values joined by `, ` for other lists. An event that lacks any of the fields has
 * no peer group.
 */
export class PeerGroupReader {
  readonly fields: readonly string[];
  private readonly readers: FieldReader[];
  private readonly pairLabels = new PairLabels();

  constructor(fields: readonly string[]) {
    this.fields = fields;
    this.readers = fields.map((field) => compileFieldPath(field));
  }

  labelOf(event: HolterEvent): string | undefined {
    const readers = this.readers;
    if (readers.length === 0) return undefined;
    if (readers.length === 2) {
      const first = (readers[0] as FieldReader)(event);
      if (typeof first !== 'string' || first === '') return undefined;
      const second = (readers[1] as FieldReader)(event);
      if (typeof second !== 'string' || second === '') return undefined;
      return this.pairLabels.get(first, second);
    }
    const values: string[] = [];
    for (const read of readers) {
      const value = read(event);
      if (typeof value !== 'string' || value === '') return undefined;
      values.push(value);
    }
    return values.join(', ');
  }
}

/** Labels per pair of values, so a label is built once per pair instead of per event. */
class PairLabels {
  private readonly labels = new Map<string, Map<string, string>>();
  private size = 0;

  get(first: string, second: string): string {
    let bySecond = this.labels.get(first);
    const known = bySecond?.get(second);
    if (known !== undefined) return known;

    if (this.size >= MAX_CACHED_PEER_LABELS) {
      this.labels.clear();
      this.size = 0;
      bySecond = undefined;
    }
    if (bySecond === undefined) {
      bySecond = new Map();
      this.labels.set(first, bySecond);
    }
    const label = `${first} in ${second}`;
    bySecond.set(second, label);
    this.size += 1;
    return label;
  }
}
