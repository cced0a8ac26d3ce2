import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONTEXT, decodeFile, decodeOk, decodeText, samplePath } from './helpers.js';

describe('syslog decoder', () => {
  it('reads the opnsense RFC 5424 time', async () => {
    const [event] = await decodeFile(samplePath('identity/crowdsec_opnsense-sshd.log'));
    assert.ok(event);
    assert.equal(event['@timestamp'], '2022-01-19T14:23:55.000Z');
    assert.equal(event.host?.name, 'OPNsense.localdomain');
    assert.equal(event.process?.pid, 44255);
    assert.equal(event.user?.name, 'tutu');
    assert.equal(event.source?.ip, '1.2.3.4');
    assert.equal(event.source?.port, 33166);
    assert.equal(event.event.outcome, 'failure');
    assert.equal(event.event.action, 'ssh-invalid-user');
  });

  it('maps sshd failures and oddities', async () => {
    const events = await decodeFile(samplePath('identity/crowdsec_sshd-logs.log'));
    assert.equal(events.length, 24);

    const failed = events.find((event) => event.message?.startsWith('Failed password'));
    assert.equal(failed?.user?.name, 'root');
    assert.equal(failed?.source?.ip, '192.168.1.2');
    assert.equal(failed?.source?.port, 51182);
    assert.deepEqual(failed?.event.category, ['authentication']);
    assert.equal(failed?.event.outcome, 'failure');

    const iso = events.find((event) => event.message?.includes('AllowUsers'));
    assert.equal(iso?.['@timestamp'], '2023-11-13T23:20:42.738Z');
    assert.equal(iso?.event.action, 'ssh-user-not-allowed');

    const mapped = events.find((event) => event.message?.includes('_U2FsdGVk'));
    assert.equal(mapped?.source?.ip, '192.168.1.1');

    const pam = events.find((event) => event.message?.includes('user=workshop'));
    assert.equal(pam?.user?.name, 'workshop');
    assert.equal(pam?.source?.ip, '5.33.63.160');

    const session = events.find((event) => event.process?.name === 'sshd-session');
    assert.equal(session?.user?.name, 'pascal5');

    const negotiation = events.find((event) => event.message?.startsWith('Unable to negotiate'));
    assert.deepEqual(negotiation?.event.category, ['network']);
    assert.equal(negotiation?.event.outcome, 'failure');
  });

  it('maps accepted logins', async () => {
    const events = await decodeFile(samplePath('identity/crowdsec_sshd-success-logs.log'));
    assert.equal(events.length, 4);
    assert.ok(events.every((event) => event.event.outcome === 'success'));
    assert.equal(events[3]?.user?.name, 'test');
    assert.equal(events[3]?.event.reason, 'password');
    assert.equal(events[0]?.event.reason, 'publickey');
  });

  it('maps pam_tally2 and sudo pam failures', async () => {
    const [tally, pam] = await decodeFile(samplePath('identity/crowdsec_pam-logs.log'));
    assert.equal(tally?.event.action, 'pam-tally-deny');
    assert.equal(tally?.user?.name, 'zbadguy');
    assert.equal(pam?.event.outcome, 'failure');
    assert.equal(pam?.user?.name, 'zbadguy');
    assert.equal(pam?.source, undefined);
  });

  it('maps sudo commands', () => {
    const [event] = decodeOk('Mar  3 10:00:00 host1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/cat /etc/shadow');
    assert.equal(event?.user?.name, 'alice');
    assert.equal(event?.user?.target?.name, 'root');
    assert.equal(event?.process?.command_line, '/usr/bin/cat /etc/shadow');
  });

  it('keeps other programs as info events', () => {
    const [event] = decodeOk('Mar  3 10:00:00 host1 CRON[123]: (root) CMD (run-parts /etc/cron.hourly)');
    assert.deepEqual(event?.event.type, ['info']);
    assert.equal(event?.process?.name, 'CRON');
  });

  it('places last December in the previous year', () => {
    const context = { ...CONTEXT, now: new Date('2025-01-01T05:30:00Z') };
    const [event] = decodeOk('Dec 31 23:59:00 h sshd[1]: Connection closed by 10.0.0.1 port 22 [preauth]', {}, context);
    assert.equal(event?.['@timestamp'], '2025-01-01T04:59:00.000Z');
    const [older] = decodeOk('Dec 31 22:00:00 h sshd[1]: Connection closed by 10.0.0.1 port 22 [preauth]', {}, { ...context, now: new Date('2025-01-02T12:00:00Z') });
    assert.equal(older?.['@timestamp'], '2025-01-01T03:00:00.000Z');
  });

  it('places early January in the current year', () => {
    const context = { ...CONTEXT, now: new Date('2025-01-01T05:30:00Z') };
    const [event] = decodeOk('Jan  1 00:10:00 h sshd[1]: Connection closed by 10.0.0.1 port 22 [preauth]', {}, context);
    assert.equal(event?.['@timestamp'], '2025-01-01T05:10:00.000Z');
  });

  it('allows a sender clock slightly ahead', () => {
    const context = { ...CONTEXT, now: new Date('2025-01-01T04:50:00Z') };
    const [event] = decodeOk('Jan  1 00:10:00 h sshd[1]: Connection closed by 10.0.0.1 port 22 [preauth]', {}, context);
    assert.equal(event?.['@timestamp'], '2025-01-01T05:10:00.000Z');
  });

  it('finds the last leap year for February 29', () => {
    const [event] = decodeOk('Feb 29 12:00:00 h sshd[1]: Connection closed by 10.0.0.1 port 22 [preauth]', {}, { ...CONTEXT, now: new Date('2027-06-01T00:00:00Z') });
    assert.equal(event?.['@timestamp'], '2024-02-29T17:00:00.000Z');
  });

  it('dead-letters an impossible date', () => {
    const result = decodeText('Feb 31 25:61:00 h sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2');
    assert.equal(result.ok ? '' : result.reason, 'invalid_timestamp');
  });

  it('dead-letters a non-syslog line with the format set', () => {
    const result = decodeText('hello world', { format: 'syslog' });
    assert.equal(result.ok ? '' : result.reason, 'invalid_syslog');
  });

  it('dead-letters malformed RFC 5424 structured data', () => {
    const result = decodeText('<38>1 2022-01-19T14:23:55+00:00 host sshd 1 - [meta sequenceId="1" Invalid user x');
    assert.equal(result.ok ? '' : result.reason, 'invalid_syslog');
  });
});
