/**
 * Aho-Corasick automaton over UTF-16 code units: reports every pattern that occurs in the
 * lower-cased form of a text in one pass. The prefilter (literal-index.ts) runs one per field
 * over the substrings of many rules, and one over the keyword literals of a rule set.
 *
 * The trie is built with a Map per state, then flattened into typed arrays. Code units are mapped
 * to classes, one per unit that occurs in some pattern and class 0 for all others, which lead
 * back to the root from every state. ASCII units get the lowest classes. Some states get a full
 * row of transitions over the ASCII classes, with the failure links already followed. Every state
 * of a small automaton gets one, so it runs as a plain table. In a larger one, the states near the
 * root get one, because most of a scan is spent there. The other states, and every non-ASCII
 * unit, use the few edges of the trie, sorted for a linear search, and the failure links.
 */

/** Depth up to which states get a full row of transitions, within MAX_ROW_CELLS (the root has depth 0). */
const DENSE_DEPTH = 3;
/** Edges from which a deeper state gets a full row too; below it, a linear search over its edges is as quick. */
const DENSE_EDGES = 4;
/** Row cells of one automaton (4 bytes each) up to which every state gets a row: small automata run as a plain table. */
const FULL_TABLE_CELLS = 1 << 17;
/** Row cells of one automaton at most. Rows are given in breadth-first order, so the states nearest the root keep theirs. */
const MAX_ROW_CELLS = 1 << 20;
const ASCII_CODES = 128;

export class SubstringAutomaton {
  private readonly asciiClasses = new Uint16Array(ASCII_CODES);
  /** `asciiClasses` with each upper-case letter given the class of its lower-case letter. */
  private readonly foldedClasses = new Uint16Array(ASCII_CODES);
  private readonly otherClasses = new Map<number, number>();
  /** Classes 1 to asciiClassCount are ASCII units; rows have asciiClassCount + 1 cells. */
  private readonly asciiClassCount: number;
  /** Per state, the start of its row in `rows`, or -1 for a state searched by its edges. */
  private readonly rowStart: Int32Array;
  private readonly rows: Int32Array;
  /** The edges of state s are at positions edgeStart[s] to edgeStart[s + 1] - 1 of edgeClasses and edgeTargets, sorted by class. */
  private readonly edgeStart: Int32Array;
  private readonly edgeClasses: Uint16Array;
  private readonly edgeTargets: Int32Array;
  private readonly fail: Int32Array;
  /** The values reported at state s are at positions outputStart[s] to outputStart[s + 1] - 1 of outputValues. */
  private readonly outputStart: Int32Array;
  private readonly outputValues: Int32Array;
  /** Row width when every state has a row, in state order; 0 otherwise. */
  private readonly width: number;
  /** Per state, 1 when it reports a value: most steps end in a state that reports none. */
  private readonly reports: Uint8Array;

  /** Takes lower-cased patterns: a pattern with an upper-case letter never occurs in a lower-cased text. */
  constructor(patterns: [string, number][]) {
    this.asciiClassCount = this.assignClasses(patterns);
    const classOf = (code: number): number => (code < ASCII_CODES ? (this.asciiClasses[code] as number) : (this.otherClasses.get(code) as number));

    const next: Map<number, number>[] = [new Map()];
    const outputs: number[][] = [[]];
    for (const [pattern, value] of patterns) {
      let state = 0;
      for (let index = 0; index < pattern.length; index++) {
        const symbol = classOf(pattern.charCodeAt(index));
        let target = next[state]?.get(symbol);
        if (target === undefined) {
          target = next.length;
          next.push(new Map());
          outputs.push([]);
          next[state]?.set(symbol, target);
        }
        state = target;
      }
      const output = outputs[state] as number[];
      if (!output.includes(value)) output.push(value);
    }

    const { fail, order, depth } = link(next, outputs);
    this.fail = fail;
    ({ start: this.edgeStart, classes: this.edgeClasses, targets: this.edgeTargets } = flattenEdges(next));
    ({ start: this.outputStart, values: this.outputValues } = flattenOutputs(outputs));
    this.reports = new Uint8Array(outputs.map((output) => (output.length > 0 ? 1 : 0)));
    ({ rowStart: this.rowStart, rows: this.rows } = denseRows(next, fail, order, depth, this.asciiClassCount + 1));
    this.width = this.rows.length === next.length * (this.asciiClassCount + 1) ? this.asciiClassCount + 1 : 0;
  }

  /**
   * Numbers the code units of the patterns, ASCII first, and returns how many ASCII classes there
   * are. Upper-case letters share the class of their lower-case letter in `foldedClasses`.
   */
  private assignClasses(patterns: [string, number][]): number {
    const others = new Set<number>();
    for (const [pattern] of patterns) {
      for (let index = 0; index < pattern.length; index++) {
        const code = pattern.charCodeAt(index);
        if (code >= ASCII_CODES) others.add(code);
        else this.asciiClasses[code] = 1;
      }
    }
    let classCount = 0;
    for (let code = 0; code < ASCII_CODES; code++) if (this.asciiClasses[code] !== 0) this.asciiClasses[code] = ++classCount;
    const asciiClassCount = classCount;
    for (const code of [...others].sort((a, b) => a - b)) this.otherClasses.set(code, ++classCount);
    for (let code = 0; code < ASCII_CODES; code++) {
      const lower = code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
      this.foldedClasses[code] = this.asciiClasses[lower] as number;
    }
    return asciiClassCount;
  }

  /**
   * Calls `found` with the value of every pattern that occurs in `text.toLowerCase()`, once per
   * occurrence. An ASCII text is read as it is, with upper-case letters folded by class, so no
   * lower-cased copy is built. From the first non-ASCII unit on, the scan reads the lower-cased
   * copy: up to that unit the two agree position by position, because toLowerCase maps each ASCII
   * character to one ASCII character whatever its neighbours.
   */
  scan(text: string, found: (value: number) => void): void {
    if (this.width > 0) {
      this.scanTable(text, found);
      return;
    }
    const { foldedClasses, rowStart, rows, reports } = this;
    let state = 0;
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index);
      if (code >= ASCII_CODES) {
        this.scanFrom(text.toLowerCase(), index, state, found);
        return;
      }
      const symbol = foldedClasses[code] as number;
      if (symbol === 0) {
        state = 0;
        continue;
      }
      const row = rowStart[state] as number;
      state = row >= 0 ? (rows[row + symbol] as number) : this.step(state, symbol);
      if (reports[state] !== 0) this.report(state, found);
    }
  }

  /** `scan` for an automaton whose every state has a row: state s's row starts at s * width, and class 0 leads to the root. */
  private scanTable(text: string, found: (value: number) => void): void {
    const { foldedClasses, rows, width, reports } = this;
    let state = 0;
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index);
      if (code >= ASCII_CODES) {
        this.scanFrom(text.toLowerCase(), index, state, found);
        return;
      }
      state = rows[state * width + (foldedClasses[code] as number)] as number;
      if (reports[state] !== 0) this.report(state, found);
    }
  }

  /** Goes on with a scan of a lower-cased text, which may contain any code unit, from `start` in `state`. */
  private scanFrom(lower: string, start: number, from: number, found: (value: number) => void): void {
    const { asciiClasses, otherClasses } = this;
    let state = from;
    for (let index = start; index < lower.length; index++) {
      const code = lower.charCodeAt(index);
      const symbol = code < ASCII_CODES ? (asciiClasses[code] as number) : (otherClasses.get(code) ?? 0);
      if (symbol === 0) {
        state = 0;
        continue;
      }
      state = this.step(state, symbol);
      if (this.reports[state] !== 0) this.report(state, found);
    }
  }

  /** Calls `found` with the value of every pattern that ends in `state`. */
  private report(state: number, found: (value: number) => void): void {
    const { outputStart, outputValues } = this;
    const outputEnd = outputStart[state + 1] as number;
    for (let position = outputStart[state] as number; position < outputEnd; position++) found(outputValues[position] as number);
  }

  /** Returns the state after `symbol` (not class 0): a row cell for ASCII classes, else the trie's edges and failure links. */
  private step(from: number, symbol: number): number {
    const { rowStart, rows, edgeStart, edgeClasses, edgeTargets, fail } = this;
    const ascii = symbol <= this.asciiClassCount;
    let state = from;
    for (;;) {
      const row = rowStart[state] as number;
      if (ascii && row >= 0) return rows[row + symbol] as number;
      const end = edgeStart[state + 1] as number;
      for (let edge = edgeStart[state] as number; edge < end; edge++) {
        const edgeClass = edgeClasses[edge] as number;
        if (edgeClass < symbol) continue;
        if (edgeClass === symbol) return edgeTargets[edge] as number;
        break;
      }
      if (state === 0) return 0;
      state = fail[state] as number;
    }
  }
}

/**
 * Returns the failure link and depth of every state and the states in breadth-first order.
 * Links are set breadth first, so a state's failure target is complete before its children,
 * and each state's outputs take in those of its failure target.
 */
function link(next: Map<number, number>[], outputs: number[][]): { fail: Int32Array; order: number[]; depth: Int32Array } {
  const fail = new Int32Array(next.length);
  const depth = new Int32Array(next.length);
  const order: number[] = [...(next[0] as Map<number, number>).values()];
  for (const child of order) depth[child] = 1;
  for (let head = 0; head < order.length; head++) {
    const state = order[head] as number;
    for (const [symbol, child] of next[state] as Map<number, number>) {
      let fallback = fail[state] as number;
      while (fallback !== 0 && !(next[fallback] as Map<number, number>).has(symbol)) fallback = fail[fallback] as number;
      const target = (next[fallback] as Map<number, number>).get(symbol);
      fail[child] = target !== undefined && target !== child ? target : 0;
      depth[child] = (depth[state] as number) + 1;
      const inherited = outputs[fail[child] as number] as number[];
      if (inherited.length > 0) outputs[child] = [...new Set([...(outputs[child] as number[]), ...inherited])];
      order.push(child);
    }
  }
  return { fail, order, depth };
}

function flattenEdges(next: Map<number, number>[]): { start: Int32Array; classes: Uint16Array; targets: Int32Array } {
  let edges = 0;
  for (const children of next) edges += children.size;
  const start = new Int32Array(next.length + 1);
  const classes = new Uint16Array(edges);
  const targets = new Int32Array(edges);
  let position = 0;
  next.forEach((children, state) => {
    start[state] = position;
    for (const symbol of [...children.keys()].sort((a, b) => a - b)) {
      classes[position] = symbol;
      targets[position] = children.get(symbol) as number;
      position++;
    }
  });
  start[next.length] = position;
  return { start, classes, targets };
}

function flattenOutputs(outputs: number[][]): { start: Int32Array; values: Int32Array } {
  const start = new Int32Array(outputs.length + 1);
  const values = new Int32Array(outputs.reduce((sum, output) => sum + output.length, 0));
  let position = 0;
  outputs.forEach((output, state) => {
    start[state] = position;
    values.set(output, position);
    position += output.length;
  });
  start[outputs.length] = position;
  return { start, values };
}

/**
 * Builds rows of `width` cells (class 0 and the ASCII classes) for every state of a small
 * automaton, or else for the root and the states that DENSE_DEPTH, DENSE_EDGES and MAX_ROW_CELLS
 * select in breadth-first order. A missing edge takes the transition of the failure target, and
 * class 0 leads to the root.
 */
function denseRows(next: Map<number, number>[], fail: Int32Array, order: number[], depth: Int32Array, width: number): { rowStart: Int32Array; rows: Int32Array } {
  const rowStart = new Int32Array(next.length).fill(-1);
  const everyState = next.length * width <= FULL_TABLE_CELLS;
  const maxRows = Math.max(1, Math.floor(MAX_ROW_CELLS / width));
  // With every state, rows go in state order, so that a state's row starts at state * width.
  const dense = everyState ? next.map((_, state) => state) : [0];
  for (const state of everyState ? [] : order) {
    if (dense.length >= maxRows) break;
    if ((depth[state] as number) <= DENSE_DEPTH || (next[state] as Map<number, number>).size >= DENSE_EDGES) dense.push(state);
  }
  const rows = new Int32Array(dense.length * width);
  dense.forEach((state, position) => {
    rowStart[state] = position * width;
  });

  const transition = (from: number, symbol: number): number => {
    let state = from;
    for (;;) {
      const row = rowStart[state] as number;
      if (row >= 0 && state !== from) return rows[row + symbol] as number;
      const target = (next[state] as Map<number, number>).get(symbol);
      if (target !== undefined) return target;
      if (state === 0) return 0;
      state = fail[state] as number;
    }
  };
  // Filled in breadth-first order whatever their placement, so failure targets' rows are ready.
  for (const state of [0, ...order]) {
    const row = rowStart[state] as number;
    if (row < 0) continue;
    for (let symbol = 1; symbol < width; symbol++) rows[row + symbol] = transition(state, symbol);
  }
  return { rowStart, rows };
}
