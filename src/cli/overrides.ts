import { isHttpUrl, isValidTimeZone } from '../config/load.js';
import type { HolterConfig } from '../config/schema.js';
import type { Severity } from '../detect/types.js';
import { HolterError } from '../errors.js';
import { resolveUserPath } from '../paths.js';

/** Command-line options that override the configuration file. Paths are read from the current folder. */
export interface CommandLineOverrides {
  out?: string;
  deadLetter?: string;
  rules?: string[];
  detectors?: string[];
  directory?: string;
  roster?: string;
  timeZone?: string;
  store?: string;
  webhook?: string;
  minSeverity?: Severity;
  quiet?: boolean;
  logLevel?: string;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;


export function applyOverrides(config: HolterConfig, options: CommandLineOverrides): HolterConfig {
  const resolve = (file: string): string => resolveUserPath(process.cwd(), file);

  if (options.out !== undefined) config.sinks.ndjson.path = resolve(options.out);
  if (options.deadLetter !== undefined) config.dead_letter.path = resolve(options.deadLetter);
  if (options.rules !== undefined) config.rules.paths = options.rules.map(resolve);
  if (options.detectors !== undefined) config.detectors.paths = options.detectors.map(resolve);
  if (options.directory !== undefined) config.identity.directory = resolve(options.directory);
  if (options.roster !== undefined) config.identity.patient_roster = resolve(options.roster);
  if (options.store !== undefined) config.sinks.store.path = resolve(options.store);
  if (options.minSeverity !== undefined) config.sinks.console.min_severity = options.minSeverity;
  if (options.quiet) config.sinks.console.enabled = false;

  if (options.timeZone !== undefined) {
    if (!isValidTimeZone(options.timeZone)) {
      throw new HolterError('HOLTER_CONFIG_INVALID', `Invalid time zone ${JSON.stringify(options.timeZone)} given to --time-zone. Use an IANA name such as America/New_York.`);
    }
    config.facility.time_zone = options.timeZone;
  }
  if (options.webhook !== undefined) {
    if (!isHttpUrl(options.webhook)) {
      throw new HolterError('HOLTER_CONFIG_INVALID', `Invalid webhook URL ${JSON.stringify(options.webhook)} given to --webhook. Use an http:// or https:// URL.`);
    }
    config.sinks.webhook.url = options.webhook;
  }
  if (options.logLevel !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(options.logLevel)) {
      throw new HolterError('HOLTER_CONFIG_INVALID', `Invalid log level ${JSON.stringify(options.logLevel)} given to --log-level. Use one of ${LOG_LEVELS.join(', ')}.`);
    }
    config.log.level = options.logLevel as HolterConfig['log']['level'];
  }
  return config;
}
