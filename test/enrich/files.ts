import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeTempDir } from '../helpers/temp.js';

/** Writes `text` to a new file in a fresh temporary folder and returns its path. */
export function writeTempFile(name: string, text: string): string {
  const folder = makeTempDir('holter-enrich-');
  const file = path.join(folder, name);
  writeFileSync(file, text);
  return file;
}
