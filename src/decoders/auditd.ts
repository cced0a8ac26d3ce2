import type { HolterEvent, Outcome } from '../event.js';
import { DecodeError } from './decode-error.js';
import { addRelatedUser, createEvent, isPresent } from './event-builder.js';
import type { FormatDecoder } from './format-decoder.js';
import { compact } from './json.js';
import { parseEpochSeconds } from './time.js';

/**
 * Linux audit daemon raw log lines (`type=SYSCALL msg=audit(1589876543.123:456): k=v ...`),
 * one event per line. Records of one kernel event share the serial (`auditd.serial`), which
 * later stages can group by.
 */

const FORMAT = 'auditd';

const HEADER = /^(?:node=(\S+) )?type=(\S+) msg=audit\((\d+(?:\.\d+)?):(\d+)\): ?/;

export const auditdDecoder: FormatDecoder = {
  format: FORMAT,

  matchesText(text) {
    return (text.startsWith('type=') || text.startsWith('node=')) && HEADER.test(text.slice(0, 200));
  },

  decodeText(text, record) {
    const line = text.replace(/\s+$/, '');
    const header = HEADER.exec(line);
    if (!header) {
      throw new DecodeError('invalid_record', 'The line is not an auditd record (type=... msg=audit(time:serial): ...).');
    }
    const [, node, recordType, epoch, serial] = header as unknown as [string, string | undefined, string, string, string];
    const timestamp = parseEpochSeconds(epoch);
    if (timestamp === undefined) throw new DecodeError('invalid_timestamp', 'The auditd record has an unreadable audit(...) time.');

    const fields = parseAuditFields(line.slice(header[0].length));
    if (recordType === 'PROCTITLE' && fields.proctitle !== undefined) fields.proctitle = decodeProctitle(fields.proctitle);

    const classification = classify(recordType, fields);
    const event = createEvent(record, FORMAT, {
      timestamp,
      category: classification.category,
      type: classification.type,
      action: recordType.toLowerCase().replace(/_/g, '-'),
      outcome: decideOutcome(recordType, fields),
      module: 'auditd',
      dataset: 'log',
    });
    if (node !== undefined) event.host = { name: node };
    setEcsFields(event, recordType, fields);
    event.auditd = { record_type: recordType, serial: Number(serial), data: fields };
    return [event];
  },
};

/**
 * Reads auditd `key=value` fields: values bare, double-quoted, or `'...'` (a nested field
 * list, as in USER_* records, whose fields are merged in). Enriched fields that auditd
 * appends in upper case may be glued to the previous value with no separator
 * (`cap_frootid=0OUID="root"`, `key="x"ARCH=x86_64`); both are split.
 */
export function parseAuditFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    while (text[i] === ' ' || text[i] === '\u001d') i++;
    const equals = text.indexOf('=', i);
    if (equals < 0) break;
    const key = text.slice(i, equals);
    i = equals + 1;

    const quote = text[i];
    if (quote === '"' || quote === "'") {
      const close = text.indexOf(quote, i + 1);
      const end = close < 0 ? text.length : close;
      const value = text.slice(i + 1, end);
      if (quote === "'") {
        for (const [innerKey, innerValue] of Object.entries(parseAuditFields(value))) fields[innerKey] ??= innerValue;
      }
      setField(fields, key, value);
      i = end + 1;
      continue;
    }

    let end = i;
    while (end < text.length && text[end] !== ' ' && text[end] !== '\u001d' && text[end] !== '=') end++;
    if (text[end] === '=') {
      // Glued enriched key: the upper-case run just before '=' starts the next field.
      let keyStart = end;
      while (keyStart > i && /[A-Z_]/.test(text[keyStart - 1] as string)) keyStart--;
      if (keyStart > i) {
        setField(fields, key, text.slice(i, keyStart));
        i = keyStart;
        continue;
      }
      while (end < text.length && text[end] !== ' ') end++;
    }
    setField(fields, key, text.slice(i, end));
    i = end;
  }
  return fields;
}

function setField(fields: Record<string, string>, key: string, value: string): void {
  if (key !== '' && !(key in fields)) fields[key] = value;
}

/** Decodes PROCTITLE, which auditd writes in hex when the command line contains spaces or NULs (the argument separator). */
export function decodeProctitle(value: string): string {
  if (value.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(value)) return value;
  return Buffer.from(value, 'hex').toString('utf8').replace(/\u0000+$/, '').replace(/\u0000/g, ' ');
}

function classify(recordType: string, fields: Record<string, string>): { category: string[]; type: string[] } {
  const isExecve = fields.SYSCALL === 'execve' || (fields.syscall === '59' && fields.arch === 'c000003e');
  switch (recordType) {
    case 'SYSCALL':
      return isExecve ? { category: ['process'], type: ['start'] } : { category: ['process'], type: ['info'] };
    case 'EXECVE':
      return { category: ['process'], type: ['start'] };
    case 'PROCTITLE':
      return { category: ['process'], type: ['info'] };
    case 'PATH':
    case 'CWD':
      return { category: ['file'], type: ['info'] };
    case 'ANOM_ABEND':
      return { category: ['process'], type: ['end'] };
    case 'USER_AUTH':
    case 'USER_LOGIN':
    case 'USER_ERR':
      return { category: ['authentication'], type: ['start'] };
    case 'USER_START':
      return { category: ['session'], type: ['start'] };
    case 'USER_END':
      return { category: ['session'], type: ['end'] };
    default:
      return { category: [], type: ['info'] };
  }
}

/** ANOM_ABEND reports a crashed process, so it is a failure whatever its `res` value. */
function decideOutcome(recordType: string, fields: Record<string, string>): Outcome {
  if (recordType === 'ANOM_ABEND') return 'failure';
  if (fields.success === 'yes') return 'success';
  if (fields.success === 'no') return 'failure';
  if (fields.res === 'success' || fields.res === '1') return 'success';
  if (fields.res === 'failed' || fields.res === '0') return 'failure';
  return 'unknown';
}

function setEcsFields(event: HolterEvent, recordType: string, fields: Record<string, string>): void {
  const process: Record<string, unknown> = compact({
    executable: unquoted(fields.exe),
    name: unquoted(fields.comm),
    pid: integer(fields.pid),
    parent: integer(fields.ppid) === undefined ? undefined : { pid: integer(fields.ppid) },
  });
  if (recordType === 'PROCTITLE' && fields.proctitle !== undefined) process.title = fields.proctitle;
  if (recordType === 'EXECVE') {
    const args = Object.keys(fields)
      .filter((key) => /^a\d+$/.test(key))
      .sort((left, right) => Number(left.slice(1)) - Number(right.slice(1)))
      .map((key) => decodeProctitle(fields[key] as string));
    if (args.length > 0) {
      process.args = args;
      process.command_line = args.join(' ');
    }
  }
  if (Object.keys(process).length > 0) event.process = process;

  if (recordType === 'PATH' && isPresent(fields.name)) event.file = { path: fields.name };

  const userName = unquoted(fields.UID) ?? unquoted(fields.acct);
  const userId = fields.uid;
  if (userName !== undefined || userId !== undefined) {
    event.user = compact({ id: userId, name: userName });
    addRelatedUser(event, userName);
  }
}

function unquoted(value: string | undefined): string | undefined {
  return isPresent(value) && value !== '(null)' && value !== '?' ? value : undefined;
}

function integer(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}
