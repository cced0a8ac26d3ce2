import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { HolterError } from '../errors.js';
import { isDirectory, PACKAGE_ROOT, resolveUserPath } from '../paths.js';
import { hasUrlCredentials, redactUrlCredentials, URL_CREDENTIALS_ADVICE } from '../sinks/webhook/url.js';
import { documentData, locatePath, parseLocated, pointerToPath, type LocatedDocument } from '../yaml/locate.js';
import { ConfigSchema, type HolterConfig } from './schema.js';

/** All configuration problems found in one pass, each located; `message` lists them one a line. */
export class ConfigErrors extends HolterError {
  readonly problems: HolterError[];

  constructor(problems: HolterError[]) {
    super('HOLTER_CONFIG_INVALID', problems.map((problem) => problem.describe()).join('\n'));
    this.problems = problems;
  }

  /** Returns the message as is, because each problem already carries its location and code. */
  override describe(): string {
    return this.message;
  }
}

// verbose: errors carry the schema they failed, so the message for a value that should be a map can list its keys.
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true, verbose: true });
const validate = ajv.compile<HolterConfig>(ConfigSchema);

/** Keys whose values are paths to resources Holter ships (resolved against the package when defaulted). */
const SHIPPED_RESOURCE_KEYS: readonly (readonly string[])[] = [['rules', 'paths'], ['rules', 'mapping'], ['detectors', 'paths'], ['risk', 'file']];

/** Keys whose values are file paths written by the user (resolved against the configuration file's folder). */
const USER_PATH_KEYS: readonly (readonly string[])[] = [
  ...SHIPPED_RESOURCE_KEYS,
  ['identity', 'directory'],
  ['identity', 'patient_roster'],
  ['identity', 'token_key_file'],
  ['sinks', 'ndjson', 'path'],
  ['sinks', 'store', 'path'],
  ['sinks', 'webhook', 'secret_file'],
  ['sinks', 'webhook', 'outbox_path'],
  ['sinks', 'elasticsearch', 'api_key_file'],
  ['sinks', 'elasticsearch', 'password_file'],
  ['sinks', 'elasticsearch', 'ca_file'],
  ['kafka', 'tls', 'ca_file'],
  ['kafka', 'tls', 'cert_file'],
  ['kafka', 'tls', 'key_file'],
  ['kafka', 'sasl', 'password_file'],
  ['dead_letter', 'path'],
  ['state', 'path'],
  ['api', 'tokens_file'],
];

/**
 * Loads and validates the configuration. With no file, the embedded defaults apply. Relative
 * paths written in the file are read from the file's folder; defaulted paths to shipped rules,
 * detectors and mappings point into the installed package.
 */
export function loadConfig(file?: string): HolterConfig {
  if (file === undefined) return validateConfig({}, undefined);

  if (!existsSync(file)) {
    throw new HolterError('HOLTER_CONFIG_NOT_FOUND', `Configuration file ${file} not found. Check the path given to --config.`);
  }
  if (isDirectory(file)) {
    throw new HolterError('HOLTER_CONFIG_NOT_FOUND', `Configuration file ${file} is a directory. Give --config the YAML file inside it.`);
  }
  const located = parseLocated(file, readFileSync(file, 'utf8'));
  if (located.document.errors.length > 0) {
    const problems = located.document.errors.map((error) => {
      const position = located.lineCounter.linePos(error.pos[0]);
      return new HolterError('HOLTER_CONFIG_YAML', `Invalid YAML: ${error.message.split('\n')[0]}`, {
        location: { file, line: position.line, column: position.col },
      });
    });
    throw new ConfigErrors(problems);
  }
  let raw: unknown;
  try {
    raw = documentData(located.document, file, 'HOLTER_CONFIG_YAML') ?? {};
  } catch (error) {
    if (error instanceof HolterError) throw new ConfigErrors([error]);
    throw error;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigErrors([
      new HolterError('HOLTER_CONFIG_INVALID', 'The configuration must be a YAML mapping of sections (facility, identity, rules, sinks...).', {
        location: { file, line: 1, column: 1 },
      }),
    ]);
  }
  return validateConfig(raw as Record<string, unknown>, located);
}

function validateConfig(raw: Record<string, unknown>, located: LocatedDocument | undefined): HolterConfig {
  const written = structuredClone(raw);
  const valid = validate(raw);
  const problems = (validate.errors ?? []).map((error) => describeSchemaError(error, located));
  const config = raw as HolterConfig;
  problems.push(...checkSemantics(config, located));
  if (!valid || problems.length > 0) throw new ConfigErrors(problems);

  const configDir = located ? path.dirname(path.resolve(located.file)) : process.cwd();
  resolvePaths(config, written, configDir);

  // The environment wins over the file, so that the signing secret need not be written into it.
  const webhookSecret = process.env[WEBHOOK_SECRET_ENV];
  if (webhookSecret !== undefined && webhookSecret !== '') {
    config.sinks.webhook.secret = webhookSecret;
    delete config.sinks.webhook.secret_file;
  }
  return config;
}

/** Environment variable holding the webhook signing secret; it replaces sinks.webhook.secret and secret_file. */
export const WEBHOOK_SECRET_ENV = 'HOLTER_WEBHOOK_SECRET';

/** Keys whose values are secrets: their values never appear in error messages. */
const SECRET_KEY = /secret|token_key|api_key|password/;

function describeSchemaError(error: ErrorObject, located: LocatedDocument | undefined): HolterError {
  const segments = pointerToPath(error.instancePath);
  let keyPath = segments.join('.');
  let message: string;

  if (error.keyword === 'additionalProperties') {
    const extra = String((error.params as { additionalProperty: string }).additionalProperty);
    segments.push(extra);
    keyPath = segments.join('.');
    message = `Unknown key ${keyPath}. Check its spelling against docs/configuration.md.`;
  } else if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues.map((value) => JSON.stringify(value)).join(', ');
    message = `Invalid value at ${keyPath}: ${JSON.stringify(valueAt(located, segments))}. Expected one of ${allowed}.`;
  } else {
    // A secret is not echoed back: error messages end up in terminals, CI logs and tickets.
    // The same goes for the password of a URL such as sinks.webhook.url.
    const valueText = SECRET_KEY.test(String(segments.at(-1) ?? '')) ? '(value withheld)' : redactUrlCredentials(JSON.stringify(valueAt(located, segments)) ?? 'undefined');
    message = `Invalid value at ${keyPath || '(top level)'}: ${valueText} ${error.message ?? 'does not match the schema'}.`;
    const keys = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
    if (error.keyword === 'type' && (error.params as { type?: unknown }).type === 'object' && keys.length > 0) {
      message += ` Write it as a map with the keys ${keys.join(', ')} (see docs/configuration.md).`;
    }
  }

  const location = located ? { file: located.file, ...locatePath(located, segments) } : undefined;
  return new HolterError('HOLTER_CONFIG_INVALID', message, { location, path: keyPath });
}

function valueAt(located: LocatedDocument | undefined, segments: (string | number)[]): unknown {
  if (!located) return undefined;
  const value: unknown = located.document.getIn(segments, false);
  return value !== null && typeof value === 'object' && 'toJSON' in value ? (value as { toJSON(): unknown }).toJSON() : value;
}

function checkSemantics(config: HolterConfig, located: LocatedDocument | undefined): HolterError[] {
  const problems: HolterError[] = [];
  const problem = (segments: string[], message: string): void => {
    const location = located ? { file: located.file, ...locatePath(located, segments) } : undefined;
    problems.push(new HolterError('HOLTER_CONFIG_INVALID', message, { location, path: segments.join('.') }));
  };

  const zone = config.facility?.time_zone;
  if (typeof zone === 'string' && !isValidTimeZone(zone)) {
    problem(['facility', 'time_zone'], `Invalid time zone ${JSON.stringify(zone)} at facility.time_zone. Use an IANA name such as America/New_York.`);
  }
  if (config.identity?.token_key !== undefined && config.identity?.token_key_file !== undefined) {
    problem(['identity', 'token_key'], 'Both identity.token_key and identity.token_key_file are set. Keep one of them.');
  }
  if (config.sinks?.webhook?.secret !== undefined && config.sinks?.webhook?.secret_file !== undefined) {
    problem(['sinks', 'webhook', 'secret'], 'Both sinks.webhook.secret and sinks.webhook.secret_file are set. Keep one of them.');
  }
  const webhookUrl = config.sinks?.webhook?.url;
  if (typeof webhookUrl === 'string' && /^https?:\/\//.test(webhookUrl)) {
    const shownUrl = JSON.stringify(redactUrlCredentials(webhookUrl));
    if (!isHttpUrl(webhookUrl)) {
      problem(['sinks', 'webhook', 'url'], `Invalid URL ${shownUrl} at sinks.webhook.url. Use a full http:// or https:// URL with a host.`);
    } else if (hasUrlCredentials(webhookUrl)) {
      problem(['sinks', 'webhook', 'url'], `Invalid URL ${shownUrl} at sinks.webhook.url. ${URL_CREDENTIALS_ADVICE}`);
    }
  }
  return problems;
}

/** True for an absolute http or https URL with a host. */
export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function resolvePaths(config: HolterConfig, written: Record<string, unknown>, configDir: string): void {
  for (const keys of USER_PATH_KEYS) {
    const parent = dig(config as unknown as Record<string, unknown>, keys.slice(0, -1));
    const key = keys[keys.length - 1] as string;
    const value = parent?.[key];
    if (value === undefined) continue;

    const wasWritten = dig(written, keys.slice(0, -1))?.[key] !== undefined;
    const shipped = SHIPPED_RESOURCE_KEYS.includes(keys);
    let base = process.cwd();
    if (wasWritten) base = configDir;
    else if (shipped) base = PACKAGE_ROOT;
    parent![key] = Array.isArray(value)
      ? value.map((item: string) => resolveUserPath(base, item))
      : resolveUserPath(base, value as string);
  }
}

function dig(root: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const key of keys) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node !== null && typeof node === 'object' ? (node as Record<string, unknown>) : undefined;
}

/**
 * Reads a secret given either inline or as a file; a file's trailing line breaks are dropped.
 * Throws HOLTER_CONFIG_INVALID when the secret is shorter than `minLength` characters. `key` is
 * the inline setting, and the file's setting is `key` with `_file` appended.
 */
export function readSecret(inline: string | undefined, file: string | undefined, key: string, options: { minLength?: number; envName?: string } = {}): string | undefined {
  const fileKey = `${key}_file`;
  let secret = inline;
  if (secret === undefined && file !== undefined) {
    if (!existsSync(file)) {
      throw new HolterError('HOLTER_CONFIG_INVALID', `Secret file ${file} (from ${fileKey}) not found. Create it or fix the path.`, { path: fileKey });
    }
    if (isDirectory(file)) {
      throw new HolterError('HOLTER_CONFIG_INVALID', `Secret file ${file} (from ${fileKey}) is a directory. Name the file inside it.`, { path: fileKey });
    }
    secret = readFileSync(file, 'utf8').replace(/[\r\n]+$/, '');
  }

  // The schema checks an inline value, but not a file's content or an environment variable.
  const minLength = options.minLength ?? 0;
  if (secret !== undefined && secret.length < minLength) {
    const source = inline === undefined ? `The secret in the file ${file} (from ${fileKey})` : `The secret of ${key}${options.envName === undefined ? '' : ` (or ${options.envName})`}`;
    throw new HolterError('HOLTER_CONFIG_INVALID', `${source} has ${secret.length} characters. Use at least ${minLength}, for example from \`openssl rand -hex 32\`.`, { path: inline === undefined ? fileKey : key });
  }
  return secret;
}
