import type { HolterEvent, Outcome } from '../event.js';
import { addRelatedHost, addRelatedUser, createEvent, isPresent, setSourceAddress } from './event-builder.js';
import type { FormatDecoder } from './format-decoder.js';
import { compact } from './json.js';
import { isEventJson, isFlatWindows, readEventJson, readEventXml, readFlat, type WindowsRecord } from './windows-record.js';
import { rootElementName } from './xml.js';

/**
 * Windows event log records (Security, Sysmon, System...) in every shape Holter reads, all
 * normalised to the same `winlog.*` fields Sigma rules match on, plus ECS where obvious.
 */

const FORMAT = 'windows';
const SYSMON_PROVIDER = 'Microsoft-Windows-Sysmon';

/** Keyword bits of the Security log (winmeta.xml): audit failure and audit success. */
const AUDIT_FAILURE_BIT = 0x0010000000000000n;
const AUDIT_SUCCESS_BIT = 0x0020000000000000n;

interface Classification {
  category: string[];
  type: string[];
}

const SECURITY_EVENTS: Record<number, Classification> = {
  1102: { category: ['iam'], type: ['admin', 'deletion'] },
  4624: { category: ['authentication'], type: ['start'] },
  4625: { category: ['authentication'], type: ['start'] },
  4634: { category: ['authentication'], type: ['end'] },
  4647: { category: ['authentication'], type: ['end'] },
  4648: { category: ['authentication'], type: ['start'] },
  4656: { category: ['file'], type: ['access'] },
  4658: { category: ['file'], type: ['access'] },
  4663: { category: ['file'], type: ['access'] },
  4672: { category: ['iam'], type: ['admin'] },
  4688: { category: ['process'], type: ['start'] },
  4689: { category: ['process'], type: ['end'] },
  4690: { category: ['file'], type: ['access'] },
  4720: { category: ['iam'], type: ['user', 'creation'] },
  4722: { category: ['iam'], type: ['user', 'change'] },
  4723: { category: ['iam'], type: ['user', 'change'] },
  4724: { category: ['iam'], type: ['user', 'change'] },
  4725: { category: ['iam'], type: ['user', 'change'] },
  4726: { category: ['iam'], type: ['user', 'deletion'] },
  4738: { category: ['iam'], type: ['user', 'change'] },
  4740: { category: ['iam'], type: ['user', 'change'] },
  4768: { category: ['authentication'], type: ['start'] },
  4769: { category: ['authentication'], type: ['start'] },
  4771: { category: ['authentication'], type: ['start'] },
  4776: { category: ['authentication'], type: ['start'] },
  6416: { category: ['driver'], type: ['info'] },
};

const SYSMON_EVENTS: Record<number, Classification> = {
  1: { category: ['process'], type: ['start'] },
  2: { category: ['file'], type: ['change'] },
  3: { category: ['network'], type: ['connection', 'start'] },
  5: { category: ['process'], type: ['end'] },
  6: { category: ['driver'], type: ['start'] },
  7: { category: ['process'], type: ['change'] },
  8: { category: ['process'], type: ['change'] },
  9: { category: ['file'], type: ['access'] },
  10: { category: ['process'], type: ['access'] },
  11: { category: ['file'], type: ['creation'] },
  12: { category: ['registry'], type: ['change'] },
  13: { category: ['registry'], type: ['change'] },
  14: { category: ['registry'], type: ['change'] },
  15: { category: ['file'], type: ['creation'] },
  17: { category: ['file'], type: ['creation'] },
  18: { category: ['file'], type: ['access'] },
  22: { category: ['network'], type: ['protocol', 'info'] },
  23: { category: ['file'], type: ['deletion'] },
  26: { category: ['file'], type: ['deletion'] },
};

/** Events whose `Status` distinguishes success (0x0) from failure. */
const STATUS_EVENTS = new Set([4625, 4771, 4776]);

export const windowsDecoder: FormatDecoder = {
  format: FORMAT,

  matchesJson(value) {
    return isEventJson(value) || isFlatWindows(value);
  },

  decodeJson(value, record, context) {
    const windows = isEventJson(value) ? readEventJson(value) : readFlat(value, record.text, context.defaultTimeZone);
    return [buildEvent(windows, record)];
  },

  matchesText(text) {
    return rootElementName(text) === 'Event';
  },

  decodeText(text, record) {
    return [buildEvent(readEventXml(text), record)];
  },
};

function buildEvent(windows: WindowsRecord, record: Parameters<typeof createEvent>[0]): HolterEvent {
  const isSysmon = windows.providerName === SYSMON_PROVIDER;
  const classification = (isSysmon ? SYSMON_EVENTS : SECURITY_EVENTS)[windows.eventId] ?? { category: [], type: ['info'] };
  const data = windows.eventData;

  const event = createEvent(record, FORMAT, {
    timestamp: windows.timestamp,
    category: classification.category,
    type: classification.type,
    action: String(windows.eventId),
    outcome: decideOutcome(windows),
    module: isSysmon ? 'sysmon' : 'windows',
    dataset: isSysmon ? 'sysmon_operational' : datasetOf(windows.channel),
    code: String(windows.eventId),
    ...(windows.providerName === undefined ? {} : { provider: windows.providerName }),
  });
  if (event.event.outcome === 'failure' && isPresent(data.Status)) event.event.reason = `status ${String(data.Status)}`;

  if (windows.computerName !== undefined) {
    event.host = { name: windows.computerName };
    addRelatedHost(event, windows.computerName);
  }
  event.winlog = compact({
    event_id: windows.eventId,
    channel: windows.channel,
    provider_name: windows.providerName,
    provider_guid: windows.providerGuid,
    computer_name: windows.computerName,
    record_id: windows.recordId,
    task: windows.task,
    opcode: windows.opcode,
    keywords: windows.keywords,
    version: windows.version,
    level: windows.level,
    process: windows.processId === undefined ? undefined : compact({ pid: windows.processId, thread: windows.threadId === undefined ? undefined : { id: windows.threadId } }),
    user: windows.userSid === undefined ? undefined : { identifier: windows.userSid },
    event_data: data,
    user_data: windows.userData,
  });

  setUser(event, data);
  setNetwork(event, data, windows.eventId, isSysmon);
  setProcess(event, data, windows.eventId, isSysmon);
  setFile(event, data, windows.eventId, isSysmon);
  return event;
}

function datasetOf(channel: string | undefined): string {
  const lower = channel?.toLowerCase();
  if (lower === 'security') return 'security';
  if (lower === 'system') return 'system';
  return 'event';
}

/**
 * Outcome: for logon failures and credential checks, a nonzero `Status`; 4624 is always a
 * success; otherwise the audit bits of Keywords, or NXLog's EventType.
 */
function decideOutcome(windows: WindowsRecord): Outcome {
  const status = windows.eventData.Status;
  if (STATUS_EVENTS.has(windows.eventId) && status !== undefined) {
    return isZeroStatus(status) ? 'success' : 'failure';
  }
  if (windows.eventId === 4624 && windows.providerName !== SYSMON_PROVIDER) return 'success';

  const bits = parseKeywords(windows.keywords);
  if (bits !== undefined && (bits & AUDIT_FAILURE_BIT) !== 0n) return 'failure';
  if (bits !== undefined && (bits & AUDIT_SUCCESS_BIT) !== 0n) return 'success';
  if (windows.auditResult === 'AUDIT_FAILURE') return 'failure';
  if (windows.auditResult === 'AUDIT_SUCCESS') return 'success';
  return 'unknown';
}

function isZeroStatus(status: unknown): boolean {
  if (typeof status === 'number') return status === 0;
  const text = String(status).trim().toLowerCase();
  return text === '0' || text === '0x0' || /^0x0+$/.test(text);
}

/** Keywords as an unsigned 64-bit value, from hex or NXLog's signed decimal. */
function parseKeywords(keywords: string | undefined): bigint | undefined {
  if (keywords === undefined || !/^(0x[0-9a-f]+|-?\d+)$/i.test(keywords)) return undefined;
  return BigInt.asUintN(64, BigInt(keywords));
}

/** user.* from the logon target (logons) or the subject, or Sysmon's `DOMAIN\name` User field. */
function setUser(event: HolterEvent, data: Record<string, unknown>): void {
  const target = stringField(data, 'TargetUserName');
  const subject = stringField(data, 'SubjectUserName');
  const sysmonUser = stringField(data, 'User');

  if (target !== undefined) {
    event.user = compact({ name: target, domain: stringField(data, 'TargetDomainName'), id: stringField(data, 'TargetUserSid') });
  } else if (subject !== undefined) {
    event.user = compact({ name: subject, domain: stringField(data, 'SubjectDomainName'), id: stringField(data, 'SubjectUserSid') });
  } else if (sysmonUser !== undefined) {
    const slash = sysmonUser.indexOf('\\');
    event.user = slash < 0 ? { name: sysmonUser } : { domain: sysmonUser.slice(0, slash), name: sysmonUser.slice(slash + 1) };
  }
  addRelatedUser(event, target);
  addRelatedUser(event, subject);
  addRelatedUser(event, event.user?.name);
}

function setNetwork(event: HolterEvent, data: Record<string, unknown>, eventId: number, isSysmon: boolean): void {
  if (isSysmon && eventId === 3) {
    setSourceAddress(event, stringField(data, 'SourceIp'));
    setPort(event, 'source', data.SourcePort);
    const destination = stringField(data, 'DestinationIp');
    if (destination !== undefined) {
      event.destination = { ip: destination };
      setPort(event, 'destination', data.DestinationPort);
    }
    return;
  }
  setSourceAddress(event, stringField(data, 'IpAddress'));
  setPort(event, 'source', data.IpPort);
  const workstation = stringField(data, 'WorkstationName') ?? stringField(data, 'Workstation');
  if (workstation !== undefined && event.source?.ip === undefined) {
    event.source = { ...(event.source ?? {}), domain: workstation };
  }
}

function setPort(event: HolterEvent, side: 'source' | 'destination', value: unknown): void {
  const port = Number(value);
  const target = event[side];
  if (target === undefined || target.ip === undefined || !Number.isInteger(port) || port <= 0 || port > 65535) return;
  target.port = port;
}

function setProcess(event: HolterEvent, data: Record<string, unknown>, eventId: number, isSysmon: boolean): void {
  if (!isSysmon && eventId === 4688) {
    event.process = compact({
      executable: stringField(data, 'NewProcessName'),
      name: baseName(stringField(data, 'NewProcessName')),
      command_line: stringField(data, 'CommandLine'),
      pid: parsePid(data.NewProcessId),
      parent: compact({ executable: stringField(data, 'ParentProcessName'), name: baseName(stringField(data, 'ParentProcessName')), pid: parsePid(data.ProcessId) }),
    });
    return;
  }
  if (!isSysmon) return;

  const image = stringField(data, 'Image');
  if (image === undefined) return;
  const process: Record<string, unknown> = compact({
    executable: image,
    name: baseName(image),
    pid: parsePid(data.ProcessId),
    entity_id: stringField(data, 'ProcessGuid'),
    command_line: stringField(data, 'CommandLine'),
    working_directory: stringField(data, 'CurrentDirectory'),
  });
  if (eventId === 1) {
    process.parent = compact({
      executable: stringField(data, 'ParentImage'),
      name: baseName(stringField(data, 'ParentImage')),
      command_line: stringField(data, 'ParentCommandLine'),
      pid: parsePid(data.ParentProcessId),
      entity_id: stringField(data, 'ParentProcessGuid'),
    });
  }
  event.process = process;
}

function setFile(event: HolterEvent, data: Record<string, unknown>, eventId: number, isSysmon: boolean): void {
  let path: string | undefined;
  if (isSysmon && [2, 11, 15, 23, 26].includes(eventId)) path = stringField(data, 'TargetFilename');
  if (!isSysmon && (eventId === 4656 || eventId === 4663) && data.ObjectType === 'File') path = stringField(data, 'ObjectName');
  if (isSysmon && [12, 13, 14].includes(eventId)) {
    const key = stringField(data, 'TargetObject');
    if (key !== undefined) event.registry = { path: key };
  }
  if (path === undefined) return;

  const slash = path.lastIndexOf('\\');
  event.file = compact({ path, name: slash < 0 ? path : path.slice(slash + 1), directory: slash < 0 ? undefined : path.slice(0, slash) });
}

function stringField(data: Record<string, unknown>, name: string): string | undefined {
  const value = data[name];
  return isPresent(value) ? value.trim() : undefined;
}

/** Process ids appear as decimal (Sysmon) or hex (`0x14a0`, Security log). */
function parsePid(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^0x[0-9a-f]+$/i.test(text)) return Number.parseInt(text.slice(2), 16);
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

function baseName(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const slash = path.lastIndexOf('\\');
  return slash < 0 ? path : path.slice(slash + 1);
}
