import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { HolterError, type ErrorCode } from '../errors.js';
import { findExpandingAlias } from './limits.js';

/**
 * A YAML document kept with its line positions, so errors found later (by schema validation or
 * by a compiler) can be reported at file:line:column for a key path.
 */
export interface LocatedDocument {
  file: string;
  document: Document.Parsed;
  lineCounter: LineCounter;
}

export function parseLocated(file: string, text: string): LocatedDocument {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  return { file, document, lineCounter };
}

/**
 * Returns the document as plain data. The yaml library rejects a document whose aliases would
 * expand too far (an alias bomb), so that exception becomes a `code` error with what to do. With
 * the document's line counter, the error is located at the first nested alias, else at the file.
 */
export function documentData(document: Document, file: string, code: ErrorCode, lineCounter?: LineCounter): unknown {
  try {
    return document.toJS();
  } catch (error) {
    if (!(error instanceof ReferenceError) || !/alias/i.test(error.message)) throw error;
    const alias = lineCounter === undefined ? undefined : findExpandingAlias(document);
    const offset = alias?.range?.[0];
    const position = offset === undefined || lineCounter === undefined ? undefined : lineCounter.linePos(offset);
    const location = position === undefined ? { file } : { file, line: position.line, column: position.col };
    const blamed = alias === undefined ? '' : ` at alias *${alias.source}`;
    throw new HolterError(code, `YAML aliases expand too far${blamed} (${error.message}). Write the repeated values out, or use fewer aliases of large nodes.`, {
      location,
      cause: error,
    });
  }
}

/**
 * Finds the line and column of the node at `path` (keys and indexes). When the path goes past
 * what the document has (a missing key), the deepest existing node is used, so a "missing
 * property" error points at the object that lacks it.
 */
export function locatePath(located: LocatedDocument, path: readonly (string | number)[]): { line: number; column: number } {
  let node: unknown = located.document.contents;
  let range: [number, number, number] | null | undefined = (node as { range?: [number, number, number] } | null)?.range;

  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => String((item.key as { value?: unknown } | null)?.value ?? item.key) === String(segment));
      if (!pair) break;
      const keyRange = (pair.key as { range?: [number, number, number] } | null)?.range;
      node = pair.value;
      range = (node as { range?: [number, number, number] } | null)?.range ?? keyRange ?? range;
      continue;
    }
    if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) break;
      node = item;
      range = (node as { range?: [number, number, number] } | null)?.range ?? range;
      continue;
    }
    break;
  }

  const offset = range?.[0] ?? 0;
  const position = located.lineCounter.linePos(offset);
  return { line: position.line, column: position.col };
}

/** Splits an ajv/JSON Pointer instance path (`/sinks/webhook/url`) into segments. */
export function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}
