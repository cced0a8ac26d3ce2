// Reads the known differences between Holter and RSigma from the table in
// docs/sigma-differences.md, and matches disagreements to them.
import { readFileSync } from 'node:fs';

/** The columns every row of the table must fill, in order. */
const COLUMNS = ['case', 'Holter', 'RSigma', 'specification', 'right'];

/**
 * Reads the rows of the known-differences table: a Markdown table whose header row starts with
 * `| case |`. The case cell is a backticked key; `*` in it matches any run of characters.
 */
export function readKnownDifferences(file) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const header = lines.findIndex((line) => /^\|\s*case\s*\|/.test(line));
  if (header < 0) throw new Error(`${file} has no known-differences table (a header row starting with '| case |'). Add one with the columns ${COLUMNS.join(', ')}.`);

  const known = [];
  for (let index = header + 2; index < lines.length; index++) {
    const line = lines[index].trim();
    if (!line.startsWith('|')) break;
    const cells = splitRow(line);
    const key = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (key === undefined || cells.length !== COLUMNS.length || cells.some((cell) => cell === '')) {
      throw new Error(`${file}:${index + 1}: a known difference needs ${COLUMNS.length} filled cells (${COLUMNS.join(', ')}) with the case in backticks. Fix the row.`);
    }
    known.push({ key, line: index + 1, pattern: globPattern(key), used: 0 });
  }
  return known;
}

/** Splits a table row on unescaped pipes; `\|` inside a cell stays a pipe. */
function splitRow(line) {
  const cells = line.slice(1, line.endsWith('|') ? -1 : undefined).split(/(?<!\\)\|/);
  return cells.map((cell) => cell.trim().replaceAll('\\|', '|'));
}

function globPattern(key) {
  const escaped = key.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}

/** Returns the known difference that explains a case, counting its use, or undefined. */
export function explain(known, caseKey) {
  const found = known.find((entry) => entry.pattern.test(caseKey));
  if (found !== undefined) found.used++;
  return found;
}
