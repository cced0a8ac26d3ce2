/**
 * A small RFC 4180 CSV reader that keeps the position of every field, so that a bad value in a
 * directory or roster file can be reported as file:line:column.
 *
 * Supported: comma separator, double-quoted fields with `""` escapes and embedded line breaks,
 * LF or CRLF line ends, a UTF-8 byte order mark. Blank lines are skipped.
 */

/** One field with its 1-based position (the position of the opening quote for quoted fields). */
export interface CsvField {
  value: string;
  line: number;
  column: number;
}

export interface CsvRow {
  /** 1-based line on which the row starts. */
  line: number;
  fields: CsvField[];
}

export class CsvSyntaxError extends Error {
  readonly line: number;
  readonly column: number;

  constructor(message: string, line: number, column: number) {
    super(message);
    this.name = 'CsvSyntaxError';
    this.line = line;
    this.column = column;
  }
}

/** Parses CSV text into rows; throws CsvSyntaxError on an unterminated or malformed quoted field. */
export function parseCsv(text: string): CsvRow[] {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const rows: CsvRow[] = [];
  let fields: CsvField[] = [];
  let rowLine = 1;
  let line = 1;
  let lineStart = 0;
  let index = 0;

  const endRow = (): void => {
    const blank = fields.length === 1 && fields[0]?.value === '';
    if (!blank) rows.push({ line: rowLine, fields });
    fields = [];
  };

  while (index <= source.length) {
    const fieldLine = line;
    const fieldColumn = index - lineStart + 1;
    let value = '';

    if (source[index] === '"') {
      index += 1;
      let closed = false;
      while (index < source.length) {
        const char = source[index];
        if (char === '"') {
          if (source[index + 1] === '"') {
            value += '"';
            index += 2;
            continue;
          }
          index += 1;
          closed = true;
          break;
        }
        if (char === '\n') {
          line += 1;
          lineStart = index + 1;
        }
        value += char;
        index += 1;
      }
      if (!closed) {
        throw new CsvSyntaxError('quoted field is not closed; add the closing double quote', fieldLine, fieldColumn);
      }
      const next = source[index];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        throw new CsvSyntaxError(
          'unexpected text after a closing double quote; double the quote ("") to write one inside a quoted field',
          line,
          index - lineStart + 1,
        );
      }
    } else {
      const start = index;
      while (index < source.length && source[index] !== ',' && source[index] !== '\n' && source[index] !== '\r') {
        index += 1;
      }
      value = source.slice(start, index);
    }

    fields.push({ value, line: fieldLine, column: fieldColumn });

    const separator = source[index];
    if (separator === ',') {
      index += 1;
      continue;
    }
    if (separator === '\r' && source[index + 1] === '\n') index += 1;
    endRow();
    index += 1;
    line += 1;
    lineStart = index;
    rowLine = line;
  }

  return rows;
}
