import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths never written to the operational log: secrets, and anything that could carry a patient
 * identifier or record content if a caller logs an event by mistake.
 */
export const REDACTED_PATHS = [
  'secret',
  'token_key',
  '*.secret',
  '*.token_key',
  'headers.authorization',
  'headers["x-holter-signature"]',
  'event.holter.patient',
  'holter.patient',
  '*.holter.patient',
  'message',
  'text',
];

/**
 * Creates the operational log: JSON lines on standard error (standard output carries alerts).
 * Keys are camelCase from a short list (ruleId, input, line, sink, alertId, attempt); errors go
 * under `err`.
 */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      name: 'holter',
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    destination as pino.DestinationStream,
  );
}

/** A logger that writes nothing, for library use and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
