/**
 * YAML reading for Sigma files: every node keeps its file, line and column so that
 * validation and compilation can report located errors (file:line:column).
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, Scalar, visit } from 'yaml';
import type { Document, Node, Pair, YAMLMap, YAMLSeq } from 'yaml';

import { HolterError } from '../../errors.js';
import type { ErrorCode, SourceLocation } from '../../errors.js';
import { findTooDeep, isStackOverflowMessage, nestingMessage } from '../../yaml/limits.js';

/** One YAML document of a rule file, with what is needed to locate its nodes. */
export interface SourceDocument {
  file: string;
  /** 1-based position of the document among the file's `---` separated documents. */
  index: number;
  document: Document.Parsed;
  lineCounter: LineCounter;
}

/** A scalar read from a rule: its text as written, and its YAML type. */
export interface RuleScalar {
  kind: 'string' | 'number' | 'boolean' | 'null';
  /** Text of the value. Unquoted numbers keep their source spelling (`0x17`, `1.10`). */
  text: string;
  /** Numeric value, for numbers and for strings that are plain decimal numbers. */
  number?: number;
  boolean?: boolean;
  location: SourceLocation;
}

export interface ParseResult {
  documents: SourceDocument[];
  errors: HolterError[];
}

/** Largest rule file read, in bytes; the biggest public Sigma rule is a few kilobytes. */
export const MAX_RULE_FILE_BYTES = 1024 * 1024;

/** Parses every document of a YAML file, collecting syntax errors with their position. */
export function parseRuleText(text: string, file: string): ParseResult {
  if (Buffer.byteLength(text, 'utf8') > MAX_RULE_FILE_BYTES) {
    return {
      documents: [],
      errors: [
        new HolterError('HOLTER_RULE_INVALID', `The rule file is larger than ${MAX_RULE_FILE_BYTES} bytes. Split it into several files.`, {
          location: { file, line: 1, column: 1 },
        }),
      ],
    };
  }
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, keepSourceTokens: true, prettyErrors: false });
  const documents: SourceDocument[] = [];
  const errors: HolterError[] = [];

  const list = Array.isArray(parsed) ? parsed : [];
  list.forEach((document, position) => {
    if (document.errors.length > 0) {
      // Running out of stack leaves the parser's later errors meaningless, so only the first such error is reported.
      const overflow = document.errors.find((error) => isStackOverflowMessage(error.message));
      for (const error of overflow === undefined ? document.errors : [overflow]) {
        const at = lineCounter.linePos(error.pos[0]);
        const location: SourceLocation = { file, line: at.line, column: at.col };
        if (error === overflow) {
          errors.push(new HolterError('HOLTER_RULE_INVALID', nestingMessage(), { location }));
          continue;
        }
        const firstLine = error.message.split('\n')[0] ?? error.message;
        errors.push(
          new HolterError('HOLTER_RULE_INVALID', `YAML syntax error: ${firstLine}. Fix the YAML so the file parses.`, {
            location,
          }),
        );
      }
      return;
    }
    if (document.contents === null) return;

    // Checked before anything walks the document recursively, which a deep enough one would overflow.
    const tooDeep = findTooDeep(document);
    if (tooDeep !== undefined) {
      errors.push(new HolterError('HOLTER_RULE_INVALID', nestingMessage(), { location: locate({ file, index: position + 1, document, lineCounter }, tooDeep) }));
      return;
    }

    // Aliases (*name) are rejected rather than expanded: expansion can grow a small file
    // exponentially, and no Sigma rule needs them. Inline tests under `holter:` may share an event
    // through one, which their runner resolves one level deep.
    let aliasFound = false;
    visit(document, {
      Alias(_, alias, path) {
        const topLevel = path[2];
        if (isPair(topLevel) && isScalar(topLevel.key) && topLevel.key.value === 'holter') return undefined;
        const at = lineCounter.linePos(alias.range?.[0] ?? 0);
        errors.push(
          new HolterError('HOLTER_RULE_UNSUPPORTED', `YAML alias *${alias.source} is not supported in rule files. Write the values out in place.`, {
            location: { file, line: at.line, column: at.col },
          }),
        );
        aliasFound = true;
        return visit.BREAK;
      },
    });
    if (aliasFound) return;
    documents.push({ file, index: position + 1, document, lineCounter });
  });
  return { documents, errors };
}

/**
 * Returns the error for a rule file that parsed but contains no document: it is empty or has only
 * comments. Such a file is rejected, as the detector loader rejects an empty detector file,
 * because a rule file that loads nothing is most often a mistake. Returns undefined otherwise.
 */
export function emptyFileError(parsed: ParseResult, file: string): HolterError | undefined {
  if (parsed.documents.length > 0 || parsed.errors.length > 0) return undefined;
  const message = 'The file is empty or contains only comments, so it defines no rule or detector. Add one, or delete the file.';
  return new HolterError('HOLTER_RULE_INVALID', message, { location: { file, line: 1, column: 1 } });
}

/** Location of a node, or of the document start when the node has no range. */
export function locate(source: SourceDocument, node: Node | null | undefined): SourceLocation {
  const offset = node?.range?.[0] ?? source.document.range[0];
  const position = source.lineCounter.linePos(offset);
  return { file: source.file, line: position.line, column: position.col };
}

export function ruleError(
  code: ErrorCode,
  message: string,
  location: SourceLocation,
  path?: string,
): HolterError {
  return new HolterError(code, message, { location, path });
}

export function asMap(node: unknown): YAMLMap<unknown, unknown> | undefined {
  return isMap(node) ? node : undefined;
}

export function asSeq(node: unknown): YAMLSeq<unknown> | undefined {
  return isSeq(node) ? node : undefined;
}

/** Lists the map's entries with their keys as plain strings (non-scalar keys are skipped). */
export function mapEntries(map: YAMLMap<unknown, unknown>): { key: string; keyNode: Node; value: Node | null; pair: Pair<unknown, unknown> }[] {
  const entries = [];
  for (const pair of map.items) {
    if (!isScalar(pair.key)) continue;
    entries.push({
      key: String(pair.key.value),
      keyNode: pair.key as Node,
      value: (pair.value ?? null) as Node | null,
      pair,
    });
  }
  return entries;
}

export function getEntry(map: YAMLMap<unknown, unknown>, key: string): { keyNode: Node; value: Node | null } | undefined {
  return mapEntries(map).find((entry) => entry.key === key);
}

const PLAIN_DECIMAL = /^[-+]?(\d+(\.\d*)?|\.\d+)$/;

/** Converts a scalar node to a RuleScalar, or returns undefined for maps and sequences. */
export function readScalar(source: SourceDocument, node: Node | null): RuleScalar | undefined {
  const location = locate(source, node);
  if (node === null) return { kind: 'null', text: '', location };
  if (!isScalar(node)) return undefined;

  const value = node.value;
  if (value === null) return { kind: 'null', text: '', location };
  if (typeof value === 'boolean') return { kind: 'boolean', text: String(value), boolean: value, location };
  if (typeof value === 'number' || typeof value === 'bigint') {
    let spelled = String(value);
    if (node.type === Scalar.PLAIN && node.srcToken && 'source' in node.srcToken) spelled = String(node.srcToken.source);
    return { kind: 'number', text: spelled, number: Number(value), location };
  }

  const text = String(value);
  const scalar: RuleScalar = { kind: 'string', text, location };
  if (PLAIN_DECIMAL.test(text.trim())) scalar.number = Number(text);
  return scalar;
}
