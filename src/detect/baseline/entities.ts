/**
 * Per-entity state with a bound on the number of entities. Entities are kept in the order of
 * their last event. Past the bound, the entity seen least recently is evicted, and it learns
 * again from scratch if it comes back. This bounds memory when a source sends many distinct
 * account names.
 *
 * The order is a doubly linked list beside the key table, so marking an entity as seen moves two
 * links instead of deleting and re-inserting a table entry on every event.
 */
export class EntityMap<State> {
  private readonly keys: EntityKeys;
  /** This map's index in the node lists of `keys`. */
  private readonly slot: number;
  private count = 0;
  /** Least recently seen; `null` when empty. */
  private oldest: EntityNode<State> | null = null;
  /** Most recently seen; `null` when empty. */
  private newest: EntityNode<State> | null = null;
  private readonly maxEntities: number;
  private readonly onEvict: ((key: string, state: State) => void) | undefined;
  evicted = 0;

  /**
   * `keys` is the key table this map shares with the other entity maps of its detector set. A map
   * without one gets a table of its own.
   */
  constructor(maxEntities: number, onEvict?: (key: string, state: State) => void, keys: EntityKeys = new EntityKeys()) {
    this.maxEntities = maxEntities;
    this.onEvict = onEvict;
    this.keys = keys;
    this.slot = keys.addMap();
  }

  get size(): number {
    return this.count;
  }

  get(key: string): State | undefined {
    return this.nodeOf(key)?.state;
  }

  /** Returns the entity's state, creating it, and marks the entity as seen most recently. */
  touch(key: string, create: () => State): State {
    const node = this.nodeOf(key);
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
    const node = this.nodeOf(key);
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
    const node = this.nodeOf(key);
    if (node !== undefined) node.state = state;
    else this.append(key, state);
  }

  clear(): void {
    for (let node = this.oldest; node !== null; node = node.newer) this.keys.detach(node.key, this.slot);
    this.count = 0;
    this.oldest = null;
    this.newest = null;
  }

  /** Entities from the least to the most recently seen. */
  *[Symbol.iterator](): IterableIterator<[string, State]> {
    for (let node = this.oldest; node !== null; node = node.newer) yield [node.key, node.state];
  }

  /** Checked on every touch, because restore's set() can leave more entities than the bound. */
  private evictBeyondBound(): void {
    if (this.count <= this.maxEntities) return;
    const oldest = this.oldest as EntityNode<State>;
    this.unlink(oldest);
    this.keys.detach(oldest.key, this.slot);
    this.count -= 1;
    this.evicted += 1;
    this.onEvict?.(oldest.key, oldest.state);
  }

  private append(key: string, state: State): EntityNode<State> {
    const node: EntityNode<State> = { key, state, older: this.newest, newer: null };
    if (this.newest === null) this.oldest = node;
    else this.newest.newer = node;
    this.newest = node;
    this.keys.attach(key, this.slot, node);
    this.count += 1;
    return node;
  }

  private nodeOf(key: string): EntityNode<State> | undefined {
    return this.keys.find(key)?.[this.slot] as EntityNode<State> | undefined;
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

/** Nodes of one key, indexed by map slot; undefined where that map does not contain the key. */
type NodesBySlot = Array<EntityNode<unknown> | undefined>;

/**
 * The keys of several entity maps in one hash table. The detectors of a set mostly group by the
 * same field (holter.user.id), and with 100,000 users a lookup in a large table misses the CPU
 * caches several times. Shared, the first map to look up an event's key finds every map's node
 * for it, and the next maps get the same list from the last lookup without hashing.
 */
export class EntityKeys {
  private readonly table = new Map<string, NodesBySlot>();
  private slots = 0;
  /** The last key looked up and its nodes, undefined when no map contained it. */
  private lastKey: string | undefined;
  private lastNodes: NodesBySlot | undefined;

  /** Returns the slot of a new map. */
  addMap(): number {
    const slot = this.slots;
    this.slots += 1;
    return slot;
  }

  /** Returns the nodes of `key` by slot, or undefined when no map contains it. */
  find(key: string): NodesBySlot | undefined {
    if (key === this.lastKey) return this.lastNodes;
    const nodes = this.table.get(key);
    this.lastKey = key;
    this.lastNodes = nodes;
    return nodes;
  }

  attach(key: string, slot: number, node: EntityNode<unknown>): void {
    let nodes = this.find(key);
    if (nodes === undefined) {
      // Sized to the maps: a growing empty array took about 130 bytes more per key in Node 20.
      nodes = new Array<EntityNode<unknown> | undefined>(this.slots);
      this.table.set(key, nodes);
      this.lastNodes = nodes;
    }
    nodes[slot] = node;
  }

  /** Removes the node of `slot`, and drops the key once no map contains it. */
  detach(key: string, slot: number): void {
    const nodes = this.find(key);
    if (nodes === undefined) return;
    nodes[slot] = undefined;
    if (nodes.some((node) => node !== undefined)) return;
    this.table.delete(key);
    this.lastKey = undefined;
    this.lastNodes = undefined;
  }
}
