import type { HolterEvent, Outcome } from '../event.js';
import { addRelatedUser, createEvent, isPresent, normaliseIp, setSourceAddress } from './event-builder.js';
import type { FormatDecoder } from './format-decoder.js';
import { parseSyslogHeader, startsLikeSyslog, type SyslogHeader } from './syslog.js';

/**
 * Syslog lines, with authentication facts read from sshd (and OpenSSH 9.8+ `sshd-session`),
 * PAM modules and sudo. Lines of other programs, and sshd lines that are not about
 * authentication, still decode: as network, session or plain info events.
 */

const FORMAT = 'syslog';

/** Facts one message pattern extracts from a line. */
interface Finding {
  category: string[];
  type: string[];
  action: string;
  outcome: Outcome;
  user?: string;
  ip?: string;
  port?: string;
  reason?: string;
  targetUser?: string;
  commandLine?: string;
}

type Matcher = (message: string) => Finding | undefined;

const AUTH = ['authentication'];
const NETWORK = ['network'];
const SESSION = ['session'];

const SSHD_MATCHERS: Matcher[] = [
  on(/^Failed (\S+) for (invalid user )?(.*?) from (\S+) port (\d+)/, (m) => ({
    category: AUTH, type: ['start'], action: 'ssh-login', outcome: 'failure',
    user: m[3], ip: m[4], port: m[5], reason: m[2] ? `invalid user, ${m[1]}` : m[1],
  })),
  on(/^Accepted (\S+) for (.*?) from (\S+) port (\d+)/, (m) => ({
    category: AUTH, type: ['start'], action: 'ssh-login', outcome: 'success', user: m[2], ip: m[3], port: m[4], reason: m[1],
  })),
  on(/^Invalid user (.*?) from (\S+)(?: port (\d+))?/, (m) => ({
    category: AUTH, type: ['info'], action: 'ssh-invalid-user', outcome: 'failure', user: m[1], ip: m[2], port: m[3],
    reason: 'invalid user',
  })),
  on(/^User (.*?) from (\S+) not allowed because (.+?)\s*$/, (m) => ({
    category: AUTH, type: ['info'], action: 'ssh-user-not-allowed', outcome: 'failure', user: m[1], ip: m[2],
    reason: `not allowed because ${m[3]}`,
  })),
  on(/^(?:Connection closed by|Connection reset by|Disconnected from) (?:(?:invalid|authenticating) user (\S*) |user (\S+) )?(\S+) port (\d+)/, (m) => ({
    category: NETWORK, type: ['end'], action: 'ssh-disconnect', outcome: 'unknown', user: m[1] ?? m[2], ip: m[3], port: m[4],
  })),
  on(/^Received disconnect from (\S+) port (\d+)/, (m) => ({
    category: NETWORK, type: ['end'], action: 'ssh-disconnect', outcome: 'unknown', ip: m[1], port: m[2],
  })),
  on(/^Unable to negotiate with (\S+) port (\d+): (.+?)(?:\.? Their offer: .*)?$/, (m) => ({
    category: NETWORK, type: ['connection', 'denied'], action: 'ssh-negotiation-failed', outcome: 'failure',
    ip: m[1], port: m[2], reason: m[3],
  })),
  on(/^refused connect from (\S+) \(([^)]+)\)/, (m) => ({
    category: NETWORK, type: ['connection', 'denied'], action: 'ssh-connection-refused', outcome: 'failure', ip: m[2],
  })),
  on(/^fatal: Timeout before authentication for (\S+) port (\d+)/, (m) => ({
    category: NETWORK, type: ['connection'], action: 'ssh-timeout', outcome: 'failure', ip: m[1], port: m[2],
    reason: 'timeout before authentication',
  })),
  on(/^Connection from (\S+) port (\d+)/, (m) => ({
    category: NETWORK, type: ['connection', 'start'], action: 'ssh-connection', outcome: 'unknown', ip: m[1], port: m[2],
  })),
];

const PAM_MATCHERS: Matcher[] = [
  on(/^pam_unix\(([^:)]+):auth\): authentication failure;(.*)$/, (m) => {
    const fields = parsePamFields(m[2] ?? '');
    return {
      category: AUTH, type: ['start'], action: 'pam-authentication-failure', outcome: 'failure',
      user: fields.user ?? fields.ruser, ip: fields.rhost, reason: `pam_unix ${m[1]} authentication failure`,
    };
  }),
  on(/^pam_(?:tally2?|faillock)\(([^)]+)\): user (\S+) \((\d+)\) tally (\d+), deny (\d+)/, (m) => ({
    category: AUTH, type: ['info'], action: 'pam-tally-deny', outcome: 'failure', user: m[2],
    reason: `failure tally ${m[4]} exceeds deny limit ${m[5]}`,
  })),
  on(/^pam_unix\(([^:)]+):session\): session (opened|closed) for user ([^\s(]+)/, (m) => ({
    category: SESSION, type: [m[2] === 'opened' ? 'start' : 'end'], action: `session-${m[2]}`, outcome: 'success', user: m[3],
  })),
];

const SUDO_MATCHERS: Matcher[] = [
  on(/^\s*(\S+) : (\d+) incorrect password attempts? ; .*?USER=(\S+) ; (?:.*?; )?COMMAND=(.*)$/, (m) => ({
    category: AUTH, type: ['start'], action: 'sudo-authentication-failure', outcome: 'failure',
    user: m[1], targetUser: m[3], commandLine: m[4], reason: `${m[2]} incorrect password attempts`,
  })),
  on(/^\s*(\S+) : .*?USER=(\S+) ; (?:.*?; )?COMMAND=(.*)$/, (m) => ({
    category: ['process'], type: ['start'], action: 'sudo-command', outcome: 'success',
    user: m[1], targetUser: m[2], commandLine: m[3],
  })),
];

/** Any `<ip> port <n>` in an sshd line not matched above: a network event about that peer. */
const PEER = /(?:^|\s)([0-9A-Fa-f:.]+) port (\d+)/;

export const syslogDecoder: FormatDecoder = {
  format: FORMAT,

  matchesText(text) {
    return startsLikeSyslog(text);
  },

  decodeText(text, record, context) {
    const line = text.replace(/\s+$/, '');
    const header = parseSyslogHeader(line, context);
    const finding = classify(header);

    const event = createEvent(record, FORMAT, {
      timestamp: header.timestamp,
      category: finding.category,
      type: finding.type,
      action: finding.action,
      outcome: finding.outcome,
      module: moduleOf(header.program),
      dataset: 'auth',
      ...(finding.reason === undefined ? {} : { reason: finding.reason }),
    });
    event.message = header.message;
    setHeaderFields(event, header);
    setFindingFields(event, finding);
    return [event];
  },
};

function classify(header: SyslogHeader): Finding {
  const program = header.program ?? '';
  const message = header.message;
  const pamFinding = firstMatch(PAM_MATCHERS, message);
  if (pamFinding) return pamFinding;

  if (program === 'sshd' || program === 'sshd-session') {
    return firstMatch(SSHD_MATCHERS, message) ?? peerFinding(message);
  }
  if (program === 'sudo') {
    return firstMatch(SUDO_MATCHERS, message) ?? { category: ['process'], type: ['info'], action: 'sudo', outcome: 'unknown' };
  }
  return { category: [], type: ['info'], action: 'syslog', outcome: 'unknown' };
}

function peerFinding(message: string): Finding {
  const peer = PEER.exec(message);
  const finding: Finding = { category: NETWORK, type: ['info'], action: 'ssh-message', outcome: 'unknown' };
  if (peer && normaliseIp(peer[1]) !== undefined) {
    finding.ip = peer[1];
    finding.port = peer[2];
  }
  return finding;
}

function setHeaderFields(event: HolterEvent, header: SyslogHeader): void {
  if (header.hostname !== undefined) event.host = { name: header.hostname, hostname: header.hostname };
  if (header.program !== undefined) {
    event.process = { name: header.program };
    if (header.pid !== undefined) event.process.pid = header.pid;
  }

  const syslog: Record<string, unknown> = {};
  if (header.priority !== undefined) {
    syslog.priority = header.priority;
    syslog.facility = { code: Math.floor(header.priority / 8) };
    syslog.severity = { code: header.priority % 8 };
  }
  if (header.program !== undefined) syslog.appname = header.program;
  if (header.pid !== undefined) syslog.procid = String(header.pid);
  if (header.messageId !== undefined) syslog.msgid = header.messageId;
  if (header.structuredData !== undefined) syslog.structured_data = header.structuredData;
  if (header.variant === 'rfc5424') syslog.version = '1';
  event.log = { syslog };
}

function setFindingFields(event: HolterEvent, finding: Finding): void {
  if (isPresent(finding.user)) {
    event.user = { name: finding.user };
    addRelatedUser(event, finding.user);
  }
  if (isPresent(finding.targetUser)) {
    event.user ??= {};
    event.user.target = { name: finding.targetUser };
    addRelatedUser(event, finding.targetUser);
  }
  setSourceAddress(event, finding.ip);
  const port = finding.port === undefined ? Number.NaN : Number(finding.port);
  if (event.source?.ip !== undefined && Number.isInteger(port)) event.source.port = port;
  if (finding.commandLine !== undefined) {
    event.process = { ...(event.process ?? {}), command_line: finding.commandLine };
  }
}

function moduleOf(program: string | undefined): string {
  if (program === 'sshd' || program === 'sshd-session') return 'sshd';
  if (program === 'sudo') return 'sudo';
  return 'syslog';
}

/** Reads PAM's `key=value` list, where a value may be empty (`rhost= user=x`). */
function parsePamFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of text.matchAll(/(\w+)=(\S*)/g)) {
    const key = match[1] as string;
    const value = match[2] as string;
    if (value !== '') fields[key] = value;
  }
  return fields;
}

function on(pattern: RegExp, build: (match: RegExpExecArray) => Finding): Matcher {
  return (message) => {
    const match = pattern.exec(message);
    return match ? build(match) : undefined;
  };
}

function firstMatch(matchers: Matcher[], message: string): Finding | undefined {
  for (const matcher of matchers) {
    const finding = matcher(message);
    if (finding) return finding;
  }
  return undefined;
}
