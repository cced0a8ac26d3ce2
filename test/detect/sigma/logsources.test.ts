/**
 * The Linux, macOS, Okta and Azure log sources of mappings/sigma.yml, checked with public
 * SigmaHQ rules on events from Holter's real decoders.
 *
 * The shipped samples are benign, so unmodified they match no public rule, and the tests assert
 * that. For each positive case one value of a shipped sample line is changed to what the rule
 * looks for, and the line is decoded as it is. No Okta, macOS or osquery process sample is
 * shipped, so those records are written here in the shape their vendors document.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';

import { decodeRecord } from '../../../src/decoders/index.js';
import type { HolterEvent } from '../../../src/event.js';
import { loadSigmaRules } from '../../../src/detect/sigma/stage.js';
import type { SigmaLoadResult } from '../../../src/detect/sigma/stage.js';
import { SAMPLES_DIR, SHARED_DIR } from '../../helpers/paths.js';
import { MAPPING_FILE } from './helpers.js';

const RULES_DIR = path.join(SHARED_DIR, 'sigma', 'rules');
const DECODE_CONTEXT = { defaultTimeZone: 'UTC', now: new Date('2025-01-01T00:00:00Z') };

function decode(text: string, input = 'test'): HolterEvent[] {
  const result = decodeRecord({ input, text, line: 1 }, DECODE_CONTEXT);
  assert.ok(result.ok, result.ok ? '' : `decoding failed: ${result.message}`);
  return result.events;
}

function sampleLines(file: string): string[] {
  return readFileSync(path.join(SAMPLES_DIR, file), 'utf8').split('\n').filter((line) => line.trim() !== '');
}

async function loadRules(paths: string[]): Promise<SigmaLoadResult> {
  const result = await loadSigmaRules(paths.map((entry) => path.join(RULES_DIR, entry)), { mappingFile: MAPPING_FILE });
  assert.deepEqual(result.errors.map((error) => error.describe()), []);
  assert.equal(result.stats.rules_unmapped_logsource, 0, 'every rule here must have a mapped log source');
  return result;
}

/** Titles of the rules that raise a detection for the events, in order. */
function detectedTitles(rules: SigmaLoadResult, events: HolterEvent[]): string[] {
  return events.flatMap((event) => rules.stage.process(event, Number.NaN)).map((detection) => detection.rule.name);
}

/** Returns the one line of a sample file that contains `marker`. */
function sampleLine(file: string, marker: string): string {
  const line = sampleLines(file).find((candidate) => candidate.includes(marker));
  assert.ok(line, `${file} has no line with ${marker}`);
  return line;
}

describe('linux auditd', () => {
  const SUSPICIOUS_FOLDER = 'Program Executions in Suspicious Folders';
  const DISCOVERY = 'System Information Discovery - Auditd';
  let rules: SigmaLoadResult;
  before(async () => {
    rules = await loadRules(['linux/auditd/syscall/lnx_auditd_susp_exe_folders.yml', 'linux/auditd/lnx_auditd_system_info_discovery.yml']);
  });

  test('SYSCALL exe in /tmp matches', () => {
    const line = sampleLine('endpoint/crowdsec_auditd-logs.log', 'comm="base64"').replace('exe="/usr/bin/base64"', 'exe="/tmp/base64"');
    assert.deepEqual(detectedTitles(rules, decode(line)), [SUSPICIOUS_FOLDER]);
  });

  test('EXECVE of uname matches', () => {
    const line = sampleLine('endpoint/crowdsec_auditd-suid-crash.log', 'type=EXECVE').replace('a0="-bash"', 'a0="uname" a1="-a"');
    assert.deepEqual(detectedTitles(rules, decode(line)), [DISCOVERY]);
  });

  test('PATH of /etc/issue matches', () => {
    const line = sampleLine('endpoint/crowdsec_auditd-suid-crash.log', 'type=PATH').replace('name="/bin/bash"', 'name="/etc/issue"');
    assert.deepEqual(detectedTitles(rules, decode(line)), [DISCOVERY]);
  });

  test('record type must agree', () => {
    // The same file name in an EXECVE record is not a PATH record.
    const line = sampleLine('endpoint/crowdsec_auditd-suid-crash.log', 'type=EXECVE').replace('a0="-bash"', 'a0="cat" name="/etc/issue"');
    assert.deepEqual(detectedTitles(rules, decode(line)), []);
  });
});

describe('linux syslog', () => {
  const PWNKIT = 'PwnKit Local Privilege Escalation';
  const LOG_ENTRIES = 'Suspicious Log Entries';
  let rules: SigmaLoadResult;
  before(async () => {
    const loaded = await loadSigmaRules(
      [path.join(SHARED_DIR, 'sigma', 'rules-emerging-threats', '2021', 'Exploits', 'CVE-2021-4034'), path.join(RULES_DIR, 'linux', 'builtin', 'lnx_shell_susp_log_entries.yml')],
      { mappingFile: MAPPING_FILE },
    );
    assert.deepEqual(loaded.errors.map((error) => error.describe()), []);
    rules = loaded;
  });

  test('auth service keywords match', () => {
    // The pam sample's header, with the message polkit writes when PwnKit runs.
    const header = sampleLine('identity/crowdsec_pam-logs.log', 'pam_tally2').split(' sudo: ')[0];
    const line = `${header} pkexec[8801]: zbadguy: The value for environment variable XAUTHORITY contains suspicious content [USER=root] [TTY=/dev/pts/0] [CWD=/home/zbadguy] [COMMAND=GCONV_PATH=./pwnkit.so:.]`;
    assert.deepEqual(detectedTitles(rules, decode(line)), [PWNKIT]);
  });

  test('linux keywords match kernel lines', () => {
    const header = sampleLine('identity/crowdsec_sshd-logs.log', 'Invalid user pascal').split(' sshd[')[0];
    assert.deepEqual(detectedTitles(rules, decode(`${header} kernel: [ 812.5] device eth0 entered promiscuous mode`)), [LOG_ENTRIES]);
  });

  test('windows events are not linux', () => {
    const windows = decode(sampleLines('identity/otrf_purplesharp_ad_playbook_I_logon-subset.json')[0] ?? '');
    for (const event of windows) event.message = 'device eth0 entered promiscuous mode';
    assert.deepEqual(detectedTitles(rules, windows), []);
  });
});

describe('linux samples unmodified', () => {
  test('no public linux rule fires', async () => {
    const rules = await loadSigmaRules([path.join(RULES_DIR, 'linux')], { mappingFile: MAPPING_FILE });
    assert.deepEqual(rules.errors.map((error) => error.describe()), []);
    const files = ['endpoint/crowdsec_auditd-logs.log', 'endpoint/crowdsec_auditd-suid-crash.log', 'identity/crowdsec_sshd-logs.log', 'identity/crowdsec_sshd-success-logs.log', 'identity/crowdsec_pam-logs.log', 'identity/crowdsec_opnsense-sshd.log'];
    const events = files.flatMap((file) => sampleLines(file).flatMap((line) => decode(line, file)));
    assert.ok(events.length >= 50);
    assert.deepEqual(detectedTitles(rules, events), []);
    assert.ok((rules.stage.stats().rule_matches ?? 0) === 0);
  });
});

/** Writes an osquery differential result row, as osqueryd logs one per line. */
function osqueryRow(name: string, columns: Record<string, string>): string {
  return JSON.stringify({ name, hostIdentifier: 'host-7.example.org', calendarTime: 'Wed May  1 10:00:00 2024 UTC', unixTime: 1714557600, epoch: 0, counter: 1, columns, action: 'added' });
}

describe('osquery process starts', () => {
  const DEV_SHM = 'Process Execution From Shared Memory Directory';
  const BASE64 = 'Decode Base64 Encoded Text -MacOs';
  let rules: SigmaLoadResult;
  before(async () => {
    rules = await loadRules(['linux/process_creation/proc_creation_lnx_susp_exec_from_dev_shm.yml', 'macos/process_creation/proc_creation_macos_base64_decode.yml']);
  });

  // Columns of osquery's Linux process_events (audit based).
  const linuxRow = (processPath: string, cmdline: string) =>
    osqueryRow('pack_process_events', { pid: '4242', path: processPath, cmdline, cwd: '/tmp', auid: '1000', uid: '1000', parent: '4100', syscall: 'execve', time: '1714557600' });
  // Columns of osquery's macOS es_process_events (EndpointSecurity).
  const macRow = (processPath: string, cmdline: string) =>
    osqueryRow('pack_es_process_events', { pid: '811', path: processPath, cmdline, cwd: '/Users/nurse', username: 'nurse', parent: '700', event_type: 'exec', signing_id: 'com.apple.base64', team_id: '', cdhash: '5b1f9a0c0d6e', platform_binary: '1', time: '1714557600' });

  test('linux row matches linux rule', () => {
    assert.deepEqual(detectedTitles(rules, decode(linuxRow('/dev/shm/.x/miner', '/dev/shm/.x/miner -o pool'))), [DEV_SHM]);
  });

  test('macos row matches macos rule', () => {
    assert.deepEqual(detectedTitles(rules, decode(macRow('/usr/bin/base64', 'base64 -d /tmp/payload.b64'))), [BASE64]);
  });

  test('platforms do not cross', () => {
    assert.deepEqual(detectedTitles(rules, decode(macRow('/dev/shm/miner', 'miner'))), []);
    assert.deepEqual(detectedTitles(rules, decode(linuxRow('/usr/bin/base64', 'base64 -d /tmp/payload.b64'))), []);
  });

  test('other osquery tables are not processes', () => {
    const mounts = sampleLines('endpoint/elastic-beats_osquery-result_test.log').flatMap((line) => decode(line));
    assert.ok(mounts.length > 0);
    assert.deepEqual(detectedTitles(rules, mounts), []);
  });
});

/** Writes an Okta System Log LogEvent with the fields the okta decoder reads. */
function oktaEvent(eventType: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    uuid: `okta-${eventType}`,
    published: '2024-05-01T10:00:00.000Z',
    eventType,
    version: '0',
    severity: 'INFO',
    displayMessage: 'Okta event',
    actor: { id: '00u1', type: 'User', alternateId: 'admin@example.org', displayName: 'Admin' },
    client: { ipAddress: '198.51.100.7', zone: 'null', device: 'Computer', userAgent: { rawUserAgent: 'Mozilla/5.0' } },
    outcome: { result: 'SUCCESS' },
    target: [{ id: '00u2', type: 'User', alternateId: 'nurse@example.org', displayName: 'Nurse' }],
    ...extra,
  });
}

describe('okta', () => {
  const ADMIN_ROLE = 'Okta Admin Role Assigned to an User or Group';
  const PROXY = 'Okta User Session Start Via An Anonymising Proxy Service';
  let rules: SigmaLoadResult;
  before(async () => {
    rules = await loadRules(['identity/okta']);
  });

  test('admin role grant matches', () => {
    assert.deepEqual(detectedTitles(rules, decode(oktaEvent('user.account.privilege.grant'))), [ADMIN_ROLE]);
  });

  test('session through proxy matches', () => {
    const proxied = oktaEvent('user.session.start', { securityContext: { isProxy: true, asNumber: 64500, asOrg: 'anon vpn' } });
    assert.deepEqual(detectedTitles(rules, decode(proxied)), [PROXY]);
    const direct = oktaEvent('user.session.start', { securityContext: { isProxy: false } });
    assert.deepEqual(detectedTitles(rules, decode(direct)), []);
  });
});

describe('azure sign-in logs', () => {
  const DISABLED = 'Login to Disabled Account';
  const MFA = 'Multifactor Authentication Interrupted';
  const SAMPLE = 'identity/msdocs_entra-signin-log-schema_sample.json';
  let rules: SigmaLoadResult;
  before(async () => {
    rules = await loadRules(['cloud/azure/signin_logs']);
  });

  /** Returns the shipped sign-in record with its result code and description replaced. */
  const signIn = (resultType: string, description: string): string => {
    const record = JSON.parse(readFileSync(path.join(SAMPLES_DIR, SAMPLE), 'utf8')) as Record<string, unknown>;
    record.resultType = resultType;
    record.resultDescription = description;
    return JSON.stringify(record);
  };

  test('shipped sample matches nothing', () => {
    // Its result is 50140 ('Keep me signed in' interrupt) and its user agent a placeholder.
    assert.deepEqual(detectedTitles(rules, decode(readFileSync(path.join(SAMPLES_DIR, SAMPLE), 'utf8'))), []);
  });

  test('disabled account matches', () => {
    const text = signIn('50057', 'User account is disabled. The account has been disabled by an administrator.');
    assert.deepEqual(detectedTitles(rules, decode(text)), [DISABLED]);
  });

  test('interrupted MFA matches', () => {
    const text = signIn('500121', 'Authentication failed during strong authentication request.');
    assert.deepEqual(detectedTitles(rules, decode(text)), [MFA]);
  });
});
