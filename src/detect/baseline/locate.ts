import { isMap, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node, Pair } from 'yaml';

/**
 * Maps a key path inside a parsed YAML document to a 1-based line and column, so that schema
 * errors can be reported where the author has to make the change.
 */

export interface Position {
  line: number;
  column: number;
}

/**
 * Returns the position of the value at `segments`, or of its key when `at` is `key`. Where the
 * path leaves the document (a missing key), returns the position of the deepest node found.
 */
export function locatePath(
  document: Document,
  lineCounter: LineCounter,
  segments: readonly string[],
  at: 'value' | 'key' = 'value',
): Position {
  let node: unknown = document.contents;
  let lastFound: Node | undefined = (document.contents as Node | null) ?? undefined;

  for (const [index, segment] of segments.entries()) {
    const isLast = index === segments.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item: Pair) => isScalar(item.key) && String(item.key.value) === segment);
      if (pair === undefined) break;
      if (isLast && at === 'key') return nodePosition(pair.key as Node, lineCounter);
      node = pair.value;
      lastFound = (pair.value as Node | null) ?? (pair.key as Node);
      continue;
    }
    if (isSeq(node)) {
      const item = node.items[Number(segment)];
      if (item === undefined) break;
      node = item;
      lastFound = item as Node;
      continue;
    }
    break;
  }

  return lastFound === undefined ? { line: 1, column: 1 } : nodePosition(lastFound, lineCounter);
}

function nodePosition(node: Node, lineCounter: LineCounter): Position {
  const { line, col } = lineCounter.linePos(node.range?.[0] ?? 0);
  return { line, column: col };
}
