/**
 * The error registry. Every error Holter raises on purpose has a stable code
 * (`HOLTER_<AREA>_<PROBLEM>`), a message that names the value and tells what to do, and
 * a decision, made where it is thrown, about whether retrying can help.
 *
 * docs/errors.md lists every code; test/errors.test.ts keeps the two in step.
 */

export const ERROR_CODES = {
  HOLTER_CONFIG_INVALID: 'The configuration file does not match the schema.',
  HOLTER_CONFIG_NOT_FOUND: 'The configuration file named on the command line does not exist or is a directory.',
  HOLTER_CONFIG_YAML: 'The configuration file is not valid YAML.',
  HOLTER_DECODE_FORMAT_UNKNOWN: 'No decoder recognises the record and no format was set for the input.',
  HOLTER_DECODE_INVALID: 'The record is not valid for its format (bad JSON, XML, syslog or missing required fields).',
  HOLTER_DECODE_TIMESTAMP: 'The record has no usable time stamp.',
  HOLTER_DECODE_TOO_LARGE: 'The record is larger than the configured maximum size.',
  HOLTER_INPUT_ENCODING: 'An input is UTF-16 or UTF-32 text, or compressed; Holter reads plain UTF-8 only.',
  HOLTER_INPUT_NOT_FOUND: 'An input file or state store named on the command line does not exist, or has nothing to read yet.',
  HOLTER_DIRECTORY_INVALID: 'The identity directory file has a row or entry that cannot be used.',
  HOLTER_ROSTER_INVALID: 'The patient roster file has a row or entry that cannot be used.',
  HOLTER_RULE_INVALID: 'A Sigma rule or detector file is invalid.',
  HOLTER_RULE_UNSUPPORTED: 'A Sigma rule uses a feature that Holter does not support yet.',
  HOLTER_SINK_FAILED: 'A sink could not deliver an alert.',
  HOLTER_OUTPUT_INVALID: 'An output file (alerts, dead letters, run summary, JUnit report) cannot be written where it is named.',
  HOLTER_WEBHOOK_REJECTED: 'The webhook receiver answered with a status that retrying cannot fix.',
  HOLTER_KAFKA_CONNECT: 'Holter could not connect to the Kafka brokers or join the consumer group.',
  HOLTER_KAFKA_CONSUME: 'The Kafka consumer stopped on an error while fetching, processing or committing.',
  HOLTER_KAFKA_DEAD_LETTER: 'A record could not be written to the dead-letter topic.',
  HOLTER_ELASTICSEARCH_REJECTED: 'Elasticsearch rejected an alert with an error that retrying cannot fix.',
  HOLTER_ELASTICSEARCH_SETUP: 'A step of `holter setup elasticsearch` failed.',
  HOLTER_ELASTICSEARCH_CONNECT: '`holter run` could not reach Elasticsearch at start, or the cluster is not ready for alerts.',
  HOLTER_STORE_FAILED: 'The embedded alert store or state store could not be opened, read or written.',
  HOLTER_STATE_VERSION: 'A saved state file was written by an incompatible version.',
  HOLTER_STATE_CORRUPT: 'A checkpoint in the changelog topic cannot be read: a chunk is missing or does not match its manifest.',
  HOLTER_STATE_CHANGELOG: 'The changelog topic of detection state could not be created, read or written.',
  HOLTER_STATE_KEY: 'A saved checkpoint was written with another patient token key than the one configured now.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A position in a file. Lines and columns are 1-based. */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
}

export function formatLocation(location: SourceLocation): string {
  let text = location.file;
  if (location.line !== undefined) text += `:${location.line}`;
  if (location.line !== undefined && location.column !== undefined) text += `:${location.column}`;
  return text;
}

export interface HolterErrorOptions {
  cause?: unknown;
  location?: SourceLocation;
  /** Key path inside a configuration or rule document, e.g. `sinks.webhook.url`. */
  path?: string;
  retriable?: boolean;
}

export class HolterError extends Error {
  readonly code: ErrorCode;
  readonly location?: SourceLocation;
  readonly path?: string;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: HolterErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HolterError';
    this.code = code;
    this.location = options.location;
    this.path = options.path;
    this.retriable = options.retriable ?? false;
  }

  /** Returns the message with its location in front, as compilers print it. */
  describe(): string {
    const where = this.location ? `${formatLocation(this.location)}: ` : '';
    return `${where}${this.message} [${this.code}]`;
  }
}

export function isHolterError(error: unknown): error is HolterError {
  return error instanceof HolterError;
}
