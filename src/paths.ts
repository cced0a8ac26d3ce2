import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installed package's root (the folder with package.json), where shipped rules and detectors live. */
export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return start;
    dir = parent;
  }
  return dir;
}

/** The path that names a standard stream: standard input for inputs, standard output for `--out`. */
export const STANDARD_STREAM = '-';

/** Resolves a user's path against `base`, keeping STANDARD_STREAM as it is so it still names the stream. */
export function resolveUserPath(base: string, file: string): string {
  return file === STANDARD_STREAM ? file : path.resolve(base, file);
}

/** Returns true when `filePath` names an existing directory, which a write reports only later, as EISDIR. */
export function isDirectory(filePath: string): boolean {
  try {
    return statSync(filePath).isDirectory();
  } catch {
    return false;
  }
}
