import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CsvSyntaxError, parseCsv } from '../../src/enrich/csv.js';

describe('parseCsv', () => {
  it('keeps field positions', () => {
    const rows = parseCsv('a,b\nx,"y"\n');
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[1]?.fields[1], { value: 'y', line: 2, column: 3 });
  });

  it('reads quotes, commas and line breaks inside fields', () => {
    const rows = parseCsv('a,b\r\n"x, ""quoted""","multi\nline"\r\nlast,row');
    assert.equal(rows[1]?.fields[0]?.value, 'x, "quoted"');
    assert.equal(rows[1]?.fields[1]?.value, 'multi\nline');
    assert.equal(rows[2]?.line, 4);
    assert.equal(rows[2]?.fields[1]?.value, 'row');
  });

  it('skips blank lines and a byte order mark', () => {
    const rows = parseCsv('\ufeffa\n\nb\n');
    assert.deepEqual(rows.map((row) => row.fields[0]?.value), ['a', 'b']);
    assert.equal(rows[1]?.line, 3);
  });

  it('rejects an unclosed quote with its position', () => {
    assert.throws(() => parseCsv('a,b\nx,"open\n'), (error: unknown) => {
      assert.ok(error instanceof CsvSyntaxError);
      assert.equal(error.line, 2);
      assert.equal(error.column, 3);
      return true;
    });
  });

  it('rejects text after a closing quote', () => {
    assert.throws(() => parseCsv('"a"b'), CsvSyntaxError);
  });
});
