import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Folders made by this test process, removed when it exits. */
const folders: string[] = [];

/**
 * Makes a fresh folder under the system's temporary folder, named with `prefix`, and removes it
 * when the test process exits: the test runner starts one process per test file. Without this a
 * full run left some 2,000 folders behind.
 */
export function makeTempDir(prefix: string): string {
  if (folders.length === 0) process.on('exit', removeFolders);
  const folder = mkdtempSync(path.join(tmpdir(), prefix));
  folders.push(folder);
  return folder;
}

function removeFolders(): void {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
}
