/**
 * Event ids behind a detection, capped. The oldest events by event time are kept, also when
 * events arrive out of order, so evidence starts where the behaviour started.
 */
export class Evidence {
  private readonly limit: number;
  private items: Array<[number, string]> = [];

  constructor(limit: number, items: Array<[number, string]> = []) {
    this.limit = limit;
    this.items = items.slice(0, limit);
  }

  add(ms: number, id: string): void {
    if (this.items.length < this.limit) {
      this.items.push([ms, id]);
      return;
    }
    let newest = 0;
    for (let index = 1; index < this.items.length; index += 1) {
      if ((this.items[index] as [number, string])[0] > (this.items[newest] as [number, string])[0]) newest = index;
    }
    if (ms < (this.items[newest] as [number, string])[0]) this.items[newest] = [ms, id];
  }

  /** Event ids, oldest first (ties keep arrival order). */
  ids(): string[] {
    return this.items
      .map((item, index) => ({ item, index }))
      .sort((a, b) => a.item[0] - b.item[0] || a.index - b.index)
      .map(({ item }) => item[1]);
  }

  toJSON(): Array<[number, string]> {
    return this.items.map((item) => [item[0], item[1]]);
  }
}
