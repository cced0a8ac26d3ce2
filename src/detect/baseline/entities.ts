/**
 * Per-entity state with a bound on the number of entities. Entities are kept in the order of
 * their last event. Past the bound, the entity seen least recently is evicted, and it learns
 * again from scratch if it comes back. This bounds memory when a source sends many distinct
 * account names.
 *
 * The order is a doubly linked list beside the map, so marking an entity as seen moves two
 * links instead of deleting and re-inserting its map entry on every event.
 */
export class EntityMap<State> {
  private readonly entries = new Map<string, EntityNode<State>>();
  /** Least recently seen; `null` when empty. */
  private oldest: EntityNode<State> | null = null;
  /** Most recently seen; `null` when empty. */
  private newest: EntityNode<State> | null = null;
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
    return this.entries.get(key)?.state;
  }

  /** Returns the entity's state, creating it, and marks the entity as seen most recently. */
  touch(key: string, create: () => State): State {
    const node = this.entries.get(key);
    if (node === undefined) return this.add(key, create());
    this.moveToNewest(node);
    this.evictBeyondBound();
    return node.state;
  }

  /**
   * Returns the state of a known entity and marks it as seen most recently, or undefined for an
   * unknown one. With add, it spares hot paths a closure per event for touch's `create`.
   */
  touchKnown(key: string): State | undefined {
    const node = this.entries.get(key);
    if (node === undefined) return undefined;
    this.moveToNewest(node);
    this.evictBeyondBound();
    return node.state;
  }

  /** Adds an entity that is not known yet as the most recently seen, and returns its state. */
  add(key: string, state: State): State {
    this.append(key, state);
    this.evictBeyondBound();
    return state;
  }

  /** Sets an entity's state without evicting. A new entity becomes the most recent; a known one keeps its place. */
  set(key: string, state: State): void {
    const node = this.entries.get(key);
    if (node !== undefined) node.state = state;
    else this.append(key, state);
  }

  clear(): void {
    this.entries.clear();
    this.oldest = null;
    this.newest = null;
  }

  /** Entities from the least to the most recently seen. */
  *[Symbol.iterator](): IterableIterator<[string, State]> {
    for (let node = this.oldest; node !== null; node = node.newer) yield [node.key, node.state];
  }

  /** Checked on every touch, because restore's set() can leave more entities than the bound. */
  private evictBeyondBound(): void {
    if (this.entries.size <= this.maxEntities) return;
    const oldest = this.oldest as EntityNode<State>;
    this.unlink(oldest);
    this.entries.delete(oldest.key);
    this.evicted += 1;
    this.onEvict?.(oldest.key, oldest.state);
  }

  private append(key: string, state: State): EntityNode<State> {
    const node: EntityNode<State> = { key, state, older: this.newest, newer: null };
    if (this.newest === null) this.oldest = node;
    else this.newest.newer = node;
    this.newest = node;
    this.entries.set(key, node);
    return node;
  }

  private moveToNewest(node: EntityNode<State>): void {
    if (node === this.newest) return;
    this.unlink(node);
    node.older = this.newest;
    node.newer = null;
    if (this.newest === null) this.oldest = node;
    else this.newest.newer = node;
    this.newest = node;
  }

  private unlink(node: EntityNode<State>): void {
    if (node.older === null) this.oldest = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === null) this.newest = node.older;
    else node.newer.older = node.older;
    node.older = null;
    node.newer = null;
  }
}

interface EntityNode<State> {
  readonly key: string;
  state: State;
  older: EntityNode<State> | null;
  newer: EntityNode<State> | null;
}
