import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node } from 'yaml';
import { HolterError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { CsvSyntaxError, parseCsv } from './csv.js';

/**
 * Reads the tabular files of the enrich stage (identity directory, patient roster): CSV with a
 * header row, or a JSON array of objects with the same keys. Every value keeps its position so
 * that each bad row can be reported as file:line:column.
 */

/** One value of a record with its 1-based position in the file. */
export interface TableCell {
  /** A string for CSV; any JSON value for JSON. */
  value: unknown;
  line: number;
  column: number;
}

export interface TableRecord {
  line: number;
  column: number;
  cells: Map<string, TableCell>;
}

export interface TableSpec {
  code: ErrorCode;
  /** Kind of file named in messages: `identity directory`, `patient roster`. */
  kind: string;
  required: readonly string[];
  optional: readonly string[];
}

export interface Table {
  format: 'csv' | 'json';
  records: TableRecord[];
}

/** Every problem found in one file, thrown once after the whole file was checked. */
export class InvalidFileError extends HolterError {
  readonly problems: HolterError[];

  /** Problems are listed in file order. */
  constructor(code: ErrorCode, file: string, kind: string, unordered: HolterError[]) {
    const problems = [...unordered].sort(
      (a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.column ?? 0) - (b.location?.column ?? 0),
    );
    const noun = problems.length === 1 ? 'problem' : 'problems';
    const lines = problems.map((problem) => `  ${problem.describe()}`).join('\n');
    super(code, `${kind} ${file} has ${problems.length} ${noun}; fix them and load the file again:\n${lines}`, {
      location: { file },
    });
    this.problems = problems;
  }

  /** Returns the message alone: it names the file, and each listed problem ends with its own location and code. */
  override describe(): string {
    return this.message;
  }
}

/** Creates a located problem for one value (or one record when column is omitted). */
export function cellProblem(
  spec: TableSpec,
  file: string,
  at: { line: number; column?: number },
  message: string,
  keyPath?: string,
): HolterError {
  return new HolterError(spec.code, message, {
    location: { file, line: at.line, column: at.column },
    path: keyPath,
  });
}

/**
 * Reads and checks the shape of a table file. Returns the records and the problems found in the
 * header or keys; a file that cannot be read or parsed at all throws InvalidFileError.
 */
export async function readTable(file: string, spec: TableSpec): Promise<{ table: Table; problems: HolterError[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'read failed';
    throw new HolterError(spec.code, `cannot read ${spec.kind} ${file} (${reason}); check the path in the configuration or on the command line`, {
      location: { file },
      cause: error,
    });
  }

  if (detectFormat(file, text) === 'json') return readJsonTable(file, text, spec);
  return readCsvTable(file, text, spec);
}

function detectFormat(file: string, text: string): 'csv' | 'json' {
  const extension = path.extname(file).toLowerCase();
  if (extension === '.json') return 'json';
  if (extension === '.csv') return 'csv';
  return text.trimStart().startsWith('[') ? 'json' : 'csv';
}

function readCsvTable(file: string, text: string, spec: TableSpec): { table: Table; problems: HolterError[] } {
  let rows;
  try {
    rows = parseCsv(text);
  } catch (error) {
    if (!(error instanceof CsvSyntaxError)) throw error;
    const problem = cellProblem(spec, file, error, `invalid CSV: ${error.message}`);
    throw new InvalidFileError(spec.code, file, spec.kind, [problem]);
  }

  const header = rows[0];
  if (header === undefined) {
    const problem = cellProblem(spec, file, { line: 1 }, `the file is empty; write a header row (${spec.required.join(',')}) and one row per entry`);
    throw new InvalidFileError(spec.code, file, spec.kind, [problem]);
  }

  const problems: HolterError[] = [];
  const known = new Set([...spec.required, ...spec.optional]);
  const names = header.fields.map((field) => field.value.trim().toLowerCase());
  const missing = spec.required.filter((name) => !names.includes(name));
  if (missing.length > 0) {
    const message =
      `the header row has no ${missing.join(', ')} column; the first line must be a header row ` +
      `naming the columns (required: ${spec.required.join(', ')})`;
    throw new InvalidFileError(spec.code, file, spec.kind, [cellProblem(spec, file, { line: header.line, column: 1 }, message)]);
  }
  header.fields.forEach((field, index) => {
    const name = names[index] as string;
    if (!known.has(name)) {
      const message = `unknown column '${field.value}'; expected one of ${[...known].join(', ')}`;
      problems.push(cellProblem(spec, file, field, message, name));
    } else if (names.indexOf(name) !== index) {
      problems.push(cellProblem(spec, file, field, `column '${name}' appears twice in the header row; keep one`, name));
    }
  });

  const records: TableRecord[] = [];
  for (const row of rows.slice(1)) {
    if (row.fields.length > names.length) {
      const extra = row.fields[names.length] as { line: number; column: number };
      const message = `row has ${row.fields.length} values but the header names ${names.length} columns; quote values that contain commas`;
      problems.push(cellProblem(spec, file, extra, message));
      continue;
    }
    const cells = new Map<string, TableCell>();
    row.fields.forEach((field, index) => {
      const name = names[index] as string;
      if (!cells.has(name)) cells.set(name, { value: field.value, line: field.line, column: field.column });
    });
    records.push({ line: row.line, column: 1, cells });
  }

  return { table: { format: 'csv', records }, problems };
}

function readJsonTable(file: string, text: string, spec: TableSpec): { table: Table; problems: HolterError[] } {
  // The yaml parser reads JSON (YAML 1.2 is a superset) and keeps the offset of every node.
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const position = (node: Node | null | undefined): { line: number; column: number } => {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  const syntaxErrors = document.errors.map((error) => {
    const start = lineCounter.linePos(error.pos[0]);
    return cellProblem(spec, file, { line: start.line, column: start.col }, `invalid JSON: ${firstLine(error.message)}`);
  });
  if (syntaxErrors.length > 0) throw new InvalidFileError(spec.code, file, spec.kind, syntaxErrors);

  const root = document.contents;
  if (!isSeq(root)) {
    const message = 'the JSON file must contain an array of objects, one per entry';
    throw new InvalidFileError(spec.code, file, spec.kind, [cellProblem(spec, file, position(root), message)]);
  }

  const problems: HolterError[] = [];
  const known = new Set([...spec.required, ...spec.optional]);
  const records: TableRecord[] = [];
  root.items.forEach((item, index) => {
    const at = position(item as Node);
    if (!isMap(item)) {
      problems.push(cellProblem(spec, file, at, `entry ${index} is not an object`, `[${index}]`));
      return;
    }
    const cells = new Map<string, TableCell>();
    for (const pair of item.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const keyAt = position(pair.key as Node);
      if (!known.has(key)) {
        const message = `unknown key '${key}'; expected one of ${[...known].join(', ')}`;
        problems.push(cellProblem(spec, file, keyAt, message, `[${index}].${key}`));
        continue;
      }
      const valueNode = pair.value as Node | null;
      const value = valueNode === null ? null : (valueNode as { toJSON(): unknown }).toJSON();
      cells.set(key, { value, ...position(valueNode ?? (pair.key as Node)) });
    }
    records.push({ ...at, cells });
  });

  return { table: { format: 'json', records }, problems };
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/** Returns the cell's value as a trimmed string, or '' when absent, null or not a string. */
export function cellText(record: TableRecord, name: string): string {
  const value = record.cells.get(name)?.value;
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

/** Returns the cell's position, falling back to the record's. */
export function cellAt(record: TableRecord, name: string): { line: number; column: number } {
  const cell = record.cells.get(name);
  return cell ? { line: cell.line, column: cell.column } : { line: record.line, column: record.column };
}
