import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { HolterError } from '../errors.js';
import { documentData, locatePath, parseLocated } from '../yaml/locate.js';

/**
 * Roles of the HTTP API, from least to most power. An analyst reads alerts and learned
 * baselines; an operator also changes the running process (reloads rules and detectors).
 */
export const API_ROLES = ['analyst', 'operator'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** One API client: its name for the logs, its role, and the SHA-256 of its bearer token. */
export interface ApiToken {
  name: string;
  role: ApiRole;
  sha256: Buffer;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Reads the API tokens file: YAML with a `tokens` list of `{ name, role, sha256 }`. Only digests
 * are stored, so the file leaks no usable token. Every problem is reported with its line.
 */
export function loadApiTokens(file: string): ApiToken[] {
  if (!existsSync(file)) {
    throw new HolterError('HOLTER_CONFIG_INVALID', `API tokens file ${file} not found (from api.tokens_file). Create it or fix the path.`, { path: 'api.tokens_file' });
  }
  const located = parseLocated(file, readFileSync(file, 'utf8'));
  const fail = (path: (string | number)[], message: string): never => {
    const { line, column } = locatePath(located, path);
    throw new HolterError('HOLTER_CONFIG_INVALID', message, { location: { file, line, column }, path: path.join('.') });
  };

  const document = documentData(located.document, file, 'HOLTER_CONFIG_INVALID') as { tokens?: unknown } | null;
  if (document === null || typeof document !== 'object' || !Array.isArray(document.tokens)) {
    fail([], `${file} has no 'tokens' list. Write 'tokens:' followed by entries with name, role and sha256.`);
  }

  const tokens: ApiToken[] = [];
  const names = new Set<string>();
  for (const [index, entry] of (document!.tokens as unknown[]).entries()) {
    const { name, role, sha256 } = (entry ?? {}) as Record<string, unknown>;
    if (typeof name !== 'string' || name === '') fail(['tokens', index], `Token ${index + 1} has no name. Give each token a name for the logs.`);
    if (names.has(name as string)) fail(['tokens', index, 'name'], `Token name ${JSON.stringify(name)} is used twice. Give each token its own name.`);
    if (!API_ROLES.includes(role as ApiRole)) {
      fail(['tokens', index, 'role'], `Invalid role ${JSON.stringify(role)} for token ${JSON.stringify(name)}. Use one of ${API_ROLES.join(', ')}.`);
    }
    if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) {
      fail(['tokens', index, 'sha256'], `Token ${JSON.stringify(name)} needs sha256: the 64 lowercase hex digits of the token's SHA-256 (e.g. printf %s TOKEN | sha256sum).`);
    }
    names.add(name as string);
    tokens.push({ name: name as string, role: role as ApiRole, sha256: Buffer.from(sha256 as string, 'hex') });
  }
  return tokens;
}

/** Finds the token whose digest matches the presented bearer token, comparing in constant time. */
export function findToken(tokens: readonly ApiToken[], presented: string): ApiToken | undefined {
  const digest = createHash('sha256').update(presented, 'utf8').digest();
  let found: ApiToken | undefined;
  // Every entry is compared, so the time taken does not tell which entry came close.
  for (const token of tokens) {
    if (timingSafeEqual(token.sha256, digest)) found = token;
  }
  return found;
}

/** True when a client with role `granted` may call an endpoint that requires `required`. */
export function roleAllows(granted: ApiRole, required: ApiRole): boolean {
  return API_ROLES.indexOf(granted) >= API_ROLES.indexOf(required);
}
