import { DecodeError } from './decode-error.js';
import { isValidLocal, localToEpochMillis, parseIsoInstant, yearInZone, type LocalDateTime } from './time.js';
import type { DecodeContext } from './types.js';

/**
 * Syslog header parsing: RFC 5424, RFC 3164 (BSD, no year and no zone), and the ISO 8601
 * prefix rsyslog writes with its high-precision template. The message part is returned
 * untouched for the program-specific decoder.
 */

export interface SyslogHeader {
  /** ISO 8601 UTC. */
  timestamp: string;
  hostname?: string;
  /** APP-NAME (RFC 5424) or the TAG before `[pid]:` (RFC 3164). */
  program?: string;
  pid?: number;
  /** PRI value (facility * 8 + severity) when the line has one. */
  priority?: number;
  /** RFC 5424 MSGID when it is not the NILVALUE. */
  messageId?: string;
  /** RFC 5424 STRUCTURED-DATA text when it is not the NILVALUE. */
  structuredData?: string;
  message: string;
  variant: 'rfc5424' | 'rfc3164' | 'iso8601';
}

const MONTHS: Record<string, number> = {
  Jan: 1, Feb: 2, Mar: 3, Apr: 4, May: 5, Jun: 6, Jul: 7, Aug: 8, Sep: 9, Oct: 10, Nov: 11, Dec: 12,
};

/** How far past `now` a year-less time may lie before it is read as last year's (clock skew between hosts). */
const FUTURE_TOLERANCE_MS = 86_400_000;

const PRI = /^<(\d{1,3})>/;
const RFC3164_STAMP = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)? /;
const ISO_STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) /;
const TAG = /^([^\s[:]+)(?:\[(\d+)\])?: ?/;

/** True when a text starts like a syslog line of one of the supported variants. Cheap. */
export function startsLikeSyslog(text: string): boolean {
  if (text.charCodeAt(0) === 60) return PRI.test(text); // '<'
  const month = MONTHS[text.slice(0, 3)];
  if (month !== undefined) return text.charCodeAt(3) === 32 && RFC3164_STAMP.test(text.slice(0, 40));
  return text.charCodeAt(10) === 84 && ISO_STAMP.test(text.slice(0, 40)); // 'T'
}

/**
 * Parses the header of a syslog line. Throws DecodeError `invalid_syslog` when no variant
 * matches and `invalid_timestamp` when the time stamp has the right shape but an
 * impossible value (February 30, hour 25).
 */
export function parseSyslogHeader(line: string, context: DecodeContext): SyslogHeader {
  let rest = line;
  let priority: number | undefined;
  const pri = PRI.exec(rest);
  if (pri) {
    priority = Number(pri[1]);
    rest = rest.slice(pri[0].length);
    if (rest.startsWith('1 ')) return parseRfc5424(rest.slice(2), priority);
  }

  const bsd = RFC3164_STAMP.exec(rest);
  if (bsd) {
    const timestamp = resolveBsdTimestamp(bsd, context);
    return { ...parseHostAndTag(rest.slice(bsd[0].length)), timestamp, priority, variant: 'rfc3164' };
  }

  const iso = ISO_STAMP.exec(rest);
  if (iso) {
    const timestamp = parseIsoInstant(iso[1]);
    if (timestamp === undefined) {
      throw new DecodeError('invalid_timestamp', 'The syslog line has an ISO 8601 time stamp with an impossible value.');
    }
    return { ...parseHostAndTag(rest.slice(iso[0].length)), timestamp, priority, variant: 'iso8601' };
  }

  throw new DecodeError(
    'invalid_syslog',
    'The line does not start with an RFC 5424, RFC 3164 or ISO 8601 syslog header; set the input\'s format with --format if it is not syslog.',
  );
}

function parseHostAndTag(afterStamp: string): Pick<SyslogHeader, 'hostname' | 'program' | 'pid' | 'message'> {
  const space = afterStamp.indexOf(' ');
  if (space < 0) return { message: afterStamp };
  const hostname = afterStamp.slice(0, space);
  const body = afterStamp.slice(space + 1);

  const tag = TAG.exec(body);
  if (!tag) return { hostname, message: body };
  const header: Pick<SyslogHeader, 'hostname' | 'program' | 'pid' | 'message'> = {
    hostname,
    program: tag[1],
    message: body.slice(tag[0].length),
  };
  if (tag[2] !== undefined) header.pid = Number(tag[2]);
  return header;
}

/**
 * RFC 5424 section 6: `VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
 * STRUCTURED-DATA [SP MSG]`, `-` being the NILVALUE.
 */
function parseRfc5424(afterVersion: string, priority: number): SyslogHeader {
  const fields: string[] = [];
  let position = 0;
  for (let i = 0; i < 5; i++) {
    const space = afterVersion.indexOf(' ', position);
    if (space < 0) throw invalid5424('the header has fewer than the six required fields');
    fields.push(afterVersion.slice(position, space));
    position = space + 1;
  }
  const [stamp, hostname, appName, procId, msgId] = fields as [string, string, string, string, string];

  const structuredEnd = findStructuredDataEnd(afterVersion, position);
  const structuredData = afterVersion.slice(position, structuredEnd);
  const message = afterVersion.slice(structuredEnd).replace(/^ /, '');

  if (stamp === '-') throw new DecodeError('invalid_timestamp', 'The RFC 5424 syslog line has no time stamp (NILVALUE).');
  const timestamp = parseIsoInstant(stamp);
  if (timestamp === undefined) {
    throw new DecodeError('invalid_timestamp', 'The RFC 5424 syslog line has a time stamp that is not an ISO 8601 instant with a zone.');
  }

  const header: SyslogHeader = { timestamp, priority, message, variant: 'rfc5424' };
  if (hostname !== '-') header.hostname = hostname;
  if (appName !== '-') header.program = appName;
  if (procId !== '-' && /^\d+$/.test(procId)) header.pid = Number(procId);
  if (msgId !== '-') header.messageId = msgId;
  if (structuredData !== '-') header.structuredData = structuredData;
  return header;
}

/** Returns the index just past STRUCTURED-DATA: `-`, or `[...]` elements with `\]` escapes in quoted values. */
function findStructuredDataEnd(text: string, start: number): number {
  if (text[start] === '-') return start + 1;
  if (text[start] !== '[') throw invalid5424('STRUCTURED-DATA is neither "-" nor "[...]"');

  let i = start;
  while (text[i] === '[') {
    let inQuotes = false;
    i++;
    for (; i < text.length; i++) {
      const char = text[i];
      if (char === '\\') {
        i++;
        continue;
      }
      if (char === '"') inQuotes = !inQuotes;
      else if (char === ']' && !inQuotes) break;
    }
    if (i >= text.length) throw invalid5424('a STRUCTURED-DATA element is not closed');
    i++;
  }
  return i;
}

function invalid5424(problem: string): DecodeError {
  return new DecodeError('invalid_syslog', `The RFC 5424 syslog line is malformed: ${problem}.`);
}

/**
 * RFC 3164 time stamps have no year and no zone. The zone is `defaultTimeZone`; the year is
 * the latest one that puts the time no later than `now` plus a day. So December lines read
 * in January land in the previous year, a January line read minutes before New Year (a
 * sender whose clock is ahead) lands in the coming year, and February 29 lands in the last
 * leap year.
 */
function resolveBsdTimestamp(match: RegExpExecArray, context: DecodeContext): string {
  const month = MONTHS[match[1] as string];
  const base = {
    month: month ?? Number.NaN,
    day: Number(match[2]),
    hour: Number(match[3]),
    minute: Number(match[4]),
    second: Number(match[5]),
    millisecond: 0,
  };
  if (!isValidLocal({ ...base, year: 2000 })) {
    throw new DecodeError('invalid_timestamp', 'The syslog line has an RFC 3164 time stamp with an impossible date or time.');
  }

  const limit = context.now.getTime() + FUTURE_TOLERANCE_MS;
  const currentYear = yearInZone(context.now, context.defaultTimeZone);
  for (let year = currentYear + 1; year > currentYear - 8; year--) {
    const parts: LocalDateTime = { ...base, year };
    if (!isValidLocal(parts)) continue;
    const instant = localToEpochMillis(parts, context.defaultTimeZone);
    if (instant <= limit) return new Date(instant).toISOString();
  }
  throw new DecodeError('invalid_timestamp', 'The syslog line has an RFC 3164 date that fits no recent year.');
}
