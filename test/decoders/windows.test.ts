import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HolterEvent } from '../../src/event.js';
import { decodeFile, decodeOk, samplePath } from './helpers.js';

type Winlog = { event_id: number; keywords?: string; channel: string; event_data: Record<string, unknown>; user_data?: Record<string, unknown> };
const winlogOf = (event: HolterEvent | undefined) => event?.winlog as Winlog;

describe('Windows decoder', () => {
  it('reads Event Viewer XML with expander markers', async () => {
    const [event] = await decodeFile(samplePath('identity/crowdsec_windows-logs.log'));
    assert.ok(event);
    const winlog = winlogOf(event);
    assert.equal(winlog.event_id, 4625);
    assert.equal(winlog.event_data.Status, '0xc000006d');
    assert.equal(winlog.event_data.SubStatus, '0xc0000064');
    assert.equal(winlog.event_data.TargetUserName, 'testuser@mydomain.test');
    assert.equal(winlog.keywords, '0x8010000000000000');
    assert.equal(event['@timestamp'], '2022-04-28T16:09:28.944Z');
    assert.equal(event.event.outcome, 'failure');
    assert.equal(event.source?.ip, '192.168.9.212');
    assert.equal(event.source?.port, 1628);
    assert.equal(event.host?.name, 'exchange-1.mydomain.test');
  });

  it('keeps NXLog Keywords digits exactly', async () => {
    const events = await decodeFile(samplePath('identity/otrf_purplesharp_ad_playbook_I_logon-subset.json'));
    const first = events[0];
    assert.equal(winlogOf(first).keywords, '-9214364837600034816');
    assert.equal(first?.['@timestamp'], '2020-10-22T08:29:53.908Z');
    assert.equal(first?.event.outcome, 'success');

    const failures = events.filter((event) => winlogOf(event).event_id === 4625);
    assert.equal(failures.length, 7);
    for (const failure of failures) {
      assert.equal(failure.event.outcome, 'failure');
      assert.equal(winlogOf(failure).event_data.Status, '0xc000006d');
      assert.equal(winlogOf(failure).event_data.SubStatus, '0xc000006a');
    }
    const validations = events.filter((event) => winlogOf(event).event_id === 4776);
    assert.ok(validations.every((event) => event.event.outcome === 'failure'));
  });

  it('keeps trailing spaces and value types', async () => {
    const events = await decodeFile(samplePath('identity/otrf_purplesharp_ad_playbook_I_logon-subset.json'));
    const withAdvapi = events.find((event) => String(winlogOf(event).event_data.LogonProcessName).startsWith('Advapi'));
    assert.equal(winlogOf(withAdvapi).event_data.LogonProcessName, 'Advapi  ');
    assert.equal(typeof winlogOf(events[0]).event_id, 'number');
    assert.equal(winlogOf(events[0]).event_data.LogonType, '3');
    assert.equal(winlogOf(events[0]).event_data.Message, undefined);
  });

  it('resolves NXLog EventTime without @timestamp', () => {
    const record = { EventTime: '2020-10-22 04:29:53', Hostname: 'h1', EventID: 4624, SourceName: 'Microsoft-Windows-Security-Auditing', Channel: 'Security', TargetUserName: 'u' };
    const [event] = decodeOk(JSON.stringify(record));
    assert.equal(event?.['@timestamp'], '2020-10-22T08:29:53.000Z');
  });

  it('maps Sysmon process creation', async () => {
    const events = await decodeFile(samplePath('endpoint/otrf_cmd_dumping_ntds_dit_file_volume_shadow_copy_sysmon-subset.json'));
    const first = events[0];
    assert.equal(first?.process?.executable, 'C:\\Windows\\System32\\svchost.exe');
    assert.equal(first?.process?.command_line, 'C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s wlidsvc');
    assert.equal(first?.process?.pid, 5724);
    assert.deepEqual((first?.process?.parent as { executable: string }).executable, 'C:\\Windows\\System32\\services.exe');
    assert.equal(winlogOf(first).keywords, '0x8000000000000000');
    assert.equal(first?.event.module, 'sysmon');

    const ntds = events.find((event) => String(event.file?.path ?? '').endsWith('ntds.dit'));
    assert.equal(ntds?.file?.path, 'C:\\Windows\\Temp\\ntds.dit');
    assert.deepEqual(ntds?.event.category, ['file']);
  });

  it('maps Security 4688 with hex pids', async () => {
    const events = await decodeFile(samplePath('endpoint/otrf_cmd_discover_iexplorer_version_registry.json'));
    const created = events.find((event) => winlogOf(event).event_id === 4688);
    assert.ok(created?.process?.executable);
    assert.equal(typeof created?.process?.pid, 'number');
    assert.deepEqual(created?.event.category, ['process']);
  });

  it('copies UserData fields into event_data', () => {
    const record = {
      Event: {
        System: {
          Provider: { '#attributes': { Name: 'Microsoft-Windows-WMI-Activity' } },
          EventID: 5858,
          Channel: 'Microsoft-Windows-WMI-Activity/Operational',
          Computer: 'ws1',
          TimeCreated: { '#attributes': { SystemTime: '2026-07-02T02:05:27.438557Z' } },
        },
        UserData: { Operation_ClientFailure: { '#attributes': { xmlns: 'x' }, Operation: 'ExecMethod', ClientProcessId: 25920 } },
      },
    };
    const [event] = decodeOk(JSON.stringify(record));
    assert.deepEqual(winlogOf(event).event_data, { Operation: 'ExecMethod', ClientProcessId: 25920 });
    assert.deepEqual(winlogOf(event).user_data, { Operation: 'ExecMethod', ClientProcessId: 25920 });
  });

  it('reads EventData Data arrays', () => {
    const record = {
      Event: {
        System: {
          Provider: { '#attributes': { Name: 'Microsoft-Windows-Security-Auditing' } },
          EventID: 4688,
          Channel: 'Security',
          TimeCreated: { '#attributes': { SystemTime: '2024-01-01T00:00:00Z' } },
        },
        EventData: { Data: [{ '#attributes': { Name: 'NewProcessName' }, '#text': 'C:\\x.exe' }, { '#attributes': { Name: 'CommandLine' }, '#text': 'x /y' }] },
      },
    };
    const [event] = decodeOk(JSON.stringify(record));
    assert.deepEqual(winlogOf(event).event_data, { NewProcessName: 'C:\\x.exe', CommandLine: 'x /y' });
    assert.equal(event?.process?.command_line, 'x /y');
  });
});
