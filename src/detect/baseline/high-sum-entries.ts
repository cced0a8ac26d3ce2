import type { HolterEvent } from '../../event.js';

/** One buffered event of a `high_sum` entity, in the layout that snapshots save. */
export interface SavedEntry {
  ms: number;
  value: number;
  also: number[];
  id: string;
  evaluated: boolean;
  event: HolterEvent | null;
}

/** Offsets of an entry's fields within its run of `EntryBuffer.numbers`. */
const MS = 0;
const VALUE = 1;
const EVALUATED = 2;
const ALSO = 3;

/** Offsets of an entry's fields within its pair of `EntryBuffer.refs`. */
const ID = 0;
const EVENT = 1;

/**
 * The buffered events of one `high_sum` entity, sorted by time with ties in arrival order, oldest
 * at index 0.
 *
 * An entry's fields live in two arrays, at one position per entry. `numbers` stores a run of
 * `stride` numbers (time, value, evaluated flag as 1 or 0, then the `also_sum` values), and `refs`
 * a pair of the event id and the event, which is null once the entry is evaluated. The entries are
 * at positions `first` to `first + count - 1`. The arrays never shrink, so an event that arrives
 * in order writes into storage that earlier events allocated. An object per entry would live a
 * whole window and be copied by young collections. Each further array per entity would add about
 * 180 bytes (Node 20 heap snapshot), because V8 gives an array room for 17 elements when it first
 * grows.
 */
export class EntryBuffer {
  /** Number of buffered entries. */
  count = 0;
  /** Position of the oldest entry. */
  private first = 0;
  private readonly alsoCount: number;
  private readonly stride: number;
  private readonly numbers: number[] = [];
  private readonly refs: Array<string | HolterEvent | null> = [];

  constructor(alsoCount: number) {
    this.alsoCount = alsoCount;
    this.stride = ALSO + alsoCount;
  }

  msAt(index: number): number {
    return this.numbers[this.offsetOf(index) + MS] as number;
  }

  valueAt(index: number): number {
    return this.numbers[this.offsetOf(index) + VALUE] as number;
  }

  alsoAt(index: number, field: number): number {
    return this.numbers[this.offsetOf(index) + ALSO + field] as number;
  }

  setAlso(index: number, field: number, value: number): void {
    this.numbers[this.offsetOf(index) + ALSO + field] = value;
  }

  isEvaluated(index: number): boolean {
    return this.numbers[this.offsetOf(index) + EVALUATED] === 1;
  }

  markEvaluated(index: number): void {
    this.numbers[this.offsetOf(index) + EVALUATED] = 1;
  }

  idAt(index: number): string {
    return this.refs[(this.first + index) * 2 + ID] as string;
  }

  eventAt(index: number): HolterEvent | null {
    return this.refs[(this.first + index) * 2 + EVENT] as HolterEvent | null;
  }

  releaseEvent(index: number): void {
    this.refs[(this.first + index) * 2 + EVENT] = null;
  }

  /** Returns the index of the oldest entry not evaluated yet, or -1 when all are evaluated. */
  firstUnevaluated(): number {
    for (let index = 0; index < this.count; index += 1) if (!this.isEvaluated(index)) return index;
    return -1;
  }

  /**
   * Inserts an entry after every entry at or before `ms`, with its `also_sum` values at 0, and
   * returns its index. Set those values with `setAlso`.
   */
  insert(ms: number, value: number, id: string, evaluated: boolean, event: HolterEvent | null): number {
    this.makeRoomAtEnd();
    let index = this.count;
    while (index > 0 && this.msAt(index - 1) > ms) index -= 1;
    // Shifting from the end first writes the position past the last entry, so an array that
    // grows gains its elements in order and stays packed.
    for (let from = this.count - 1; from >= index; from -= 1) this.move(this.first + from, this.first + from + 1);

    const position = this.first + index;
    const offset = position * this.stride;
    this.numbers[offset + MS] = ms;
    this.numbers[offset + VALUE] = value;
    this.numbers[offset + EVALUATED] = evaluated ? 1 : 0;
    for (let field = 0; field < this.alsoCount; field += 1) this.numbers[offset + ALSO + field] = 0;
    this.refs[position * 2 + ID] = id;
    this.refs[position * 2 + EVENT] = event;
    this.count += 1;
    return index;
  }

  /**
   * Merges the oldest entry into the next one, which keeps its time, id, flag and event, and
   * drops the oldest.
   */
  mergeOldest(): void {
    const from = this.offsetOf(0);
    const into = this.offsetOf(1);
    this.numbers[into + VALUE] = (this.numbers[into + VALUE] as number) + (this.numbers[from + VALUE] as number);
    for (let field = 0; field < this.alsoCount; field += 1) {
      this.numbers[into + ALSO + field] = (this.numbers[into + ALSO + field] as number) + (this.numbers[from + ALSO + field] as number);
    }
    this.dropOldest(1);
  }

  /** Drops the `dropped` oldest entries and lets their ids and events go. */
  dropOldest(dropped: number): void {
    for (let position = this.first; position < this.first + dropped; position += 1) this.clear(position);
    this.first += dropped;
    this.count -= dropped;
    if (this.count === 0) this.first = 0;
  }

  /** Copies the entry at `index` in the snapshot layout. */
  saved(index: number): SavedEntry {
    const also: number[] = [];
    for (let field = 0; field < this.alsoCount; field += 1) also.push(this.alsoAt(index, field));
    return { ms: this.msAt(index), value: this.valueAt(index), also, id: this.idAt(index), evaluated: this.isEvaluated(index), event: this.eventAt(index) };
  }

  /**
   * Appends an entry restored from a snapshot. The caller appends them in saved order, which is
   * sorted. `also_sum` values the detector no longer sums are dropped and missing ones are 0, as
   * detections have always read them.
   */
  append(entry: SavedEntry): void {
    const index = this.insert(entry.ms, entry.value, entry.id, entry.evaluated, entry.event);
    for (let field = 0; field < this.alsoCount; field += 1) this.setAlso(index, field, entry.also[field] ?? 0);
  }

  private offsetOf(index: number): number {
    return (this.first + index) * this.stride;
  }

  private move(fromPosition: number, toPosition: number): void {
    const from = fromPosition * this.stride;
    const to = toPosition * this.stride;
    for (let field = 0; field < this.stride; field += 1) this.numbers[to + field] = this.numbers[from + field] as number;
    this.refs[toPosition * 2 + ID] = this.refs[fromPosition * 2 + ID] as string;
    this.refs[toPosition * 2 + EVENT] = this.refs[fromPosition * 2 + EVENT] as HolterEvent | null;
  }

  /** Lets go of the id and event at a position that no entry uses any more. */
  private clear(position: number): void {
    this.refs[position * 2 + ID] = null;
    this.refs[position * 2 + EVENT] = null;
  }

  /**
   * Moves the entries to the start of the arrays when the last position is taken and at least as
   * many positions before the oldest entry are free, so each move of n entries follows at least n
   * drops. Otherwise the next entry grows the arrays.
   */
  private makeRoomAtEnd(): void {
    if (this.first === 0 || (this.first + this.count) * 2 < this.refs.length || this.first < this.count) return;
    for (let index = 0; index < this.count; index += 1) this.move(this.first + index, index);
    for (let position = this.count; position < this.first + this.count; position += 1) this.clear(position);
    this.first = 0;
  }
}
