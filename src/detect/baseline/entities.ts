/**
 * Per-entity state with a bound on the number of entities. Entities are kept in the order of
 * their last event. Past the bound, the entity seen least recently is evicted, and it learns
 * again from scratch if it comes back. This bounds memory when a source sends many distinct
 * account names.
 */
export class EntityMap<State> {
  private readonly entries = new Map<string, State>();
  private readonly maxEntities: number;
  private readonly onEvict: ((key: string, state: State) => void) | undefined;
  evicted = 0;

  constructor(maxEntities: number, onEvict?: (key: string, state: State) => void) {
    this.maxEntities = maxEntities;
    this.onEvict = onEvict;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): State | undefined {
    return this.entries.get(key);
  }

  /** Returns the entity's state, creating it, and marks the entity as seen most recently. */
  touch(key: string, create: () => State): State {
    let state = this.entries.get(key);
    if (state !== undefined) {
      this.entries.delete(key);
    } else {
      state = create();
    }
    this.entries.set(key, state);

    if (this.entries.size > this.maxEntities) {
      const [oldestKey, oldestState] = this.entries.entries().next().value as [string, State];
      this.entries.delete(oldestKey);
      this.evicted += 1;
      this.onEvict?.(oldestKey, oldestState);
    }
    return state;
  }

  set(key: string, state: State): void {
    this.entries.set(key, state);
  }

  clear(): void {
    this.entries.clear();
  }

  [Symbol.iterator](): IterableIterator<[string, State]> {
    return this.entries.entries();
  }
}
