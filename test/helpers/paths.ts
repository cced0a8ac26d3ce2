import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: tests run compiled from dist/test/, so walk up to the folder with package.json. */
export const REPO_ROOT = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));

/**
 * Folder of shared test input written by others (samples/, sigma/, sigma-spec/). It sits beside
 * the repository; HOLTER_SHARED_DIR points elsewhere.
 */
export const SHARED_DIR = process.env.HOLTER_SHARED_DIR ?? path.resolve(REPO_ROOT, '..', 'shared');

if (!existsSync(path.join(SHARED_DIR, 'samples'))) {
  throw new Error(`Shared test data not found at ${SHARED_DIR} (expected samples/ and sigma/ there). Put the shared folder beside the repository, or set HOLTER_SHARED_DIR to its path.`);
}

export const SAMPLES_DIR = path.join(SHARED_DIR, 'samples');

function findRepoRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${start}`);
    dir = parent;
  }
  return dir;
}
