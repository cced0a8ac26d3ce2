/**
 * Aho-Corasick automaton over UTF-16 code units: reports every pattern that occurs in a text in
 * one pass. The prefilter (literal-index.ts) runs one per field over the substrings of many rules.
 *
 * The trie is built with a Map per state, then flattened into typed arrays. Code units are mapped
 * to classes, one per unit that occurs in some pattern and class 0 for all others, which lead
 * back to the root from every state. States with DENSE_EDGES edges or more (the root and the
 * states near it, where most of a scan is spent) get a full row of transitions with the failure
 * links already followed. The others keep their few edges sorted for a linear search.
 */

/** Edges from which a state gets a full row of transitions; below it, a linear search over its edges is as quick. */
const DENSE_EDGES = 4;
const ASCII_CODES = 128;

export class SubstringAutomaton {
  private readonly asciiClasses = new Uint16Array(ASCII_CODES);
  private readonly otherClasses = new Map<number, number>();
  private readonly classCount: number;
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

  constructor(patterns: [string, number][]) {
    let classCount = 1;
    const classOf = (code: number): number => {
      let found = code < ASCII_CODES ? (this.asciiClasses[code] as number) : (this.otherClasses.get(code) ?? 0);
      if (found !== 0) return found;
      found = classCount++;
      if (code < ASCII_CODES) this.asciiClasses[code] = found;
      else this.otherClasses.set(code, found);
      return found;
    };

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
    this.classCount = classCount;

    const { fail, order } = link(next, outputs);
    this.fail = fail;
    ({ start: this.edgeStart, classes: this.edgeClasses, targets: this.edgeTargets } = flattenEdges(next));
    ({ start: this.outputStart, values: this.outputValues } = flattenOutputs(outputs));
    ({ rowStart: this.rowStart, rows: this.rows } = denseRows(next, fail, order, classCount));
  }

  /** Calls `found` with the value of every pattern that occurs in `text`, once per occurrence. */
  scan(text: string, found: (value: number) => void): void {
    const { asciiClasses, otherClasses, rowStart, rows, edgeStart, edgeClasses, edgeTargets, fail, outputStart, outputValues } = this;
    let state = 0;
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index);
      const symbol = code < ASCII_CODES ? (asciiClasses[code] as number) : (otherClasses.get(code) ?? 0);
      if (symbol === 0) {
        state = 0;
        continue;
      }
      for (;;) {
        const row = rowStart[state] as number;
        if (row >= 0) {
          state = rows[row + symbol] as number;
          break;
        }
        let target = -1;
        const end = edgeStart[state + 1] as number;
        for (let edge = edgeStart[state] as number; edge < end; edge++) {
          const edgeClass = edgeClasses[edge] as number;
          if (edgeClass < symbol) continue;
          if (edgeClass === symbol) target = edgeTargets[edge] as number;
          break;
        }
        if (target >= 0) {
          state = target;
          break;
        }
        // The root always has a row, so the failure links end there.
        state = fail[state] as number;
      }
      const outputEnd = outputStart[state + 1] as number;
      for (let position = outputStart[state] as number; position < outputEnd; position++) found(outputValues[position] as number);
    }
  }
}

/**
 * Returns the failure link of every state and the states in breadth-first order. Links are set
 * breadth first, so a state's failure target is complete before its children, and each state's
 * outputs take in those of its failure target.
 */
function link(next: Map<number, number>[], outputs: number[][]): { fail: Int32Array; order: number[] } {
  const fail = new Int32Array(next.length);
  const order: number[] = [...(next[0] as Map<number, number>).values()];
  for (let head = 0; head < order.length; head++) {
    const state = order[head] as number;
    for (const [symbol, child] of next[state] as Map<number, number>) {
      let fallback = fail[state] as number;
      while (fallback !== 0 && !(next[fallback] as Map<number, number>).has(symbol)) fallback = fail[fallback] as number;
      const target = (next[fallback] as Map<number, number>).get(symbol);
      fail[child] = target !== undefined && target !== child ? target : 0;
      const inherited = outputs[fail[child] as number] as number[];
      if (inherited.length > 0) outputs[child] = [...new Set([...(outputs[child] as number[]), ...inherited])];
      order.push(child);
    }
  }
  return { fail, order };
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
 * Builds full transition rows for the root and every state with DENSE_EDGES edges or more. A
 * missing edge takes the transition of the failure target, which `transition` finds. Failure
 * targets are nearer the root, so in breadth-first order their rows are complete first.
 */
function denseRows(next: Map<number, number>[], fail: Int32Array, order: number[], classCount: number): { rowStart: Int32Array; rows: Int32Array } {
  const rowStart = new Int32Array(next.length).fill(-1);
  const dense = [0, ...order].filter((state) => state === 0 || (next[state] as Map<number, number>).size >= DENSE_EDGES);
  const rows = new Int32Array(dense.length * classCount);
  dense.forEach((state, position) => {
    rowStart[state] = position * classCount;
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
  for (const state of dense) {
    const row = rowStart[state] as number;
    for (let symbol = 1; symbol < classCount; symbol++) rows[row + symbol] = transition(state, symbol);
  }
  return { rowStart, rows };
}
