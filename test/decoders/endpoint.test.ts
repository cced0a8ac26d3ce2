import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeProctitle, parseAuditFields } from '../../src/decoders/auditd.js';
import { decodeFile, decodeOk, samplePath } from './helpers.js';

describe('osquery decoder', () => {
  it('keeps big numbers as strings', async () => {
    const [withHost, withoutHost] = await decodeFile(samplePath('endpoint/elastic-beats_osquery-result_test.log'));
    const osquery = withoutHost?.osquery as { columns: Record<string, unknown>; action: string; name: string };
    assert.equal(osquery.columns.inodes, '9223372036854775807');
    assert.equal(osquery.action, 'removed');
    assert.equal(osquery.name, 'pack_it-compliance_mounts');
    assert.equal(withoutHost?.host, undefined);
    assert.equal(withoutHost?.['@timestamp'], '2017-12-28T14:40:18.000Z');
    assert.equal(withHost?.host?.name, '192-168-0-4.rdsnet.ro');
  });

  it('splits snapshot rows', () => {
    const line = JSON.stringify({ name: 'users', action: 'snapshot', unixTime: 1700000000, snapshot: [{ uid: '0' }, { uid: '1000' }] });
    const events = decodeOk(line);
    assert.equal(events.length, 2);
    assert.notEqual(events[0]?.event.id, events[1]?.event.id);
    assert.equal((events[1]?.osquery as { columns: { uid: string } }).columns.uid, '1000');
  });
});

describe('auditd decoder', () => {
  it('decodes hex PROCTITLE with NULs', async () => {
    const events = await decodeFile(samplePath('endpoint/crowdsec_auditd-suid-crash.log'));
    const titles = events.filter((event) => (event.auditd as { record_type: string }).record_type === 'PROCTITLE');
    assert.deepEqual(titles.map((event) => event.process?.title), ['-bash', '/usr/bin/su --help']);
  });

  it('splits glued enriched fields', async () => {
    const events = await decodeFile(samplePath('endpoint/crowdsec_auditd-suid-crash.log'));
    const syscall = events[0]?.auditd as { serial: number; data: Record<string, string> };
    assert.equal(syscall.serial, 8272);
    assert.equal(syscall.data.key, 'susp_shell');
    assert.equal(syscall.data.ARCH, 'x86_64');
    assert.equal(syscall.data.SYSCALL, 'execve');
    assert.equal(events[0]?.user?.name, 'bui');
    const path = events[2]?.auditd as { data: Record<string, string> };
    assert.equal(path.data.cap_frootid, '0');
    assert.equal(path.data.OUID, 'root');
    const abend = events[12];
    assert.equal((abend?.auditd as { data: Record<string, string> }).data.res, '1');
    assert.equal(abend?.event.outcome, 'failure');
  });

  it('maps execve syscalls', async () => {
    const events = await decodeFile(samplePath('endpoint/crowdsec_auditd-logs.log'));
    assert.equal(events.length, 4);
    assert.equal(events[0]?.process?.executable, '/usr/bin/perl');
    assert.equal(events[0]?.['@timestamp'], '2023-05-17T13:23:37.579Z');
    assert.equal(events[2]?.event.outcome, 'failure');
    assert.deepEqual(events[0]?.event.type, ['start']);
  });

  it('parses quoted nested msg fields', () => {
    const fields = parseAuditFields("pid=1 uid=0 msg='op=PAM:authentication acct=\"bob\" exe=\"/usr/bin/su\" res=failed'");
    assert.equal(fields.acct, 'bob');
    assert.equal(fields.res, 'failed');
    assert.equal(decodeProctitle('6C73002D6C61'), 'ls -la');
    assert.equal(decodeProctitle('-bash'), '-bash');
  });

  it('reads node-prefixed USER_AUTH lines', () => {
    const [event] = decodeOk("node=srv1 type=USER_AUTH msg=audit(1700000000.000:12): pid=5 uid=0 msg='op=PAM:authentication acct=\"bob\" exe=\"/usr/bin/su\" res=failed'");
    assert.equal(event?.host?.name, 'srv1');
    assert.equal(event?.user?.name, 'bob');
    assert.equal(event?.event.outcome, 'failure');
    assert.deepEqual(event?.event.category, ['authentication']);
  });
});
