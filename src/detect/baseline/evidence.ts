/**
 * Event ids behind a detection, capped. The oldest events by event time are kept, also when
 * events arrive out of order, so evidence starts where the behaviour started.
 *
 * Times and ids are kept in two arrays rather than as a pair per event, so a bucket function can
 * clear and refill one Evidence for each of a series' buckets without allocating per event.
 */
export class Evidence {
  private readonly limit: number;
  /** Event times and ids of the first `count` entries; later slots are left over from a cleared bucket. */
  private readonly times: number[] = [];
  private readonly eventIds: string[] = [];
  private count = 0;

  constructor(limit: number, items: Array<[number, string]> = []) {
    this.limit = limit;
    for (const [ms, id] of items.slice(0, limit)) this.add(ms, id);
  }

  add(ms: number, id: string): void {
    const times = this.times;
    const count = this.count;
    if (count < this.limit) {
      // Slots of a cleared bucket are overwritten, so refilling allocates no new backing store.
      if (count < times.length) {
        times[count] = ms;
        this.eventIds[count] = id;
      } else {
        times.push(ms);
        this.eventIds.push(id);
      }
      this.count = count + 1;
      return;
    }
    let newest = 0;
    for (let index = 1; index < count; index += 1) {
      if ((times[index] as number) > (times[newest] as number)) newest = index;
    }
    if (ms < (times[newest] as number)) {
      times[newest] = ms;
      this.eventIds[newest] = id;
    }
  }

  /** Removes every id but keeps the arrays' storage for the next bucket. */
  clear(): void {
    // Empty strings in place of the ids, so a cleared Evidence does not keep them alive.
    for (let index = 0; index < this.count; index += 1) this.eventIds[index] = '';
    this.count = 0;
  }

  /** Event ids, oldest first (ties keep arrival order). */
  ids(): string[] {
    const order: number[] = [];
    for (let index = 0; index < this.count; index += 1) order.push(index);
    order.sort((a, b) => (this.times[a] as number) - (this.times[b] as number) || a - b);
    return order.map((index) => this.eventIds[index] as string);
  }

  toJSON(): Array<[number, string]> {
    const items: Array<[number, string]> = [];
    for (let index = 0; index < this.count; index += 1) items.push([this.times[index] as number, this.eventIds[index] as string]);
    return items;
  }
}
