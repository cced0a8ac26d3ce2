import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { isHolterError } from '../../src/errors.js';
import { simulateHospital, type SimulatedHospital } from '../../src/sim/index.js';
import { insideLabel, observeSmallHospital, type Observed } from './fixture.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

function digest(hospital: SimulatedHospital): string {
  const hash = createHash('sha256');
  for (const record of hospital.records()) hash.update(record.format).update('\n').update(record.text).update('\n');
  hash.update(JSON.stringify(hospital.labels)).update(hospital.directoryCsv()).update(hospital.rosterCsv());
  return hash.digest('hex');
}

describe('simulateHospital determinism', () => {
  const options = { seed: 11, staff: 40, days: 28 };

  it('repeats byte for byte for a seed', () => {
    assert.equal(digest(simulateHospital(options)), digest(simulateHospital(options)));
  });

  it('repeats on a second records() call', () => {
    const hospital = simulateHospital(options);
    const first = [...hospital.records()].slice(0, 500).map((record) => record.text);
    const second = [...hospital.records()].slice(0, 500).map((record) => record.text);
    assert.deepEqual(first, second);
  });

  it('changes with the seed', () => {
    assert.notEqual(digest(simulateHospital(options)), digest(simulateHospital({ ...options, seed: 12 })));
  });
});

describe('simulateHospital defaults', () => {
  const hospital = simulateHospital();

  it('uses the documented facility and range', () => {
    assert.equal(hospital.facility, 'st-jude-heart');
    assert.equal(hospital.timeZone, 'America/New_York');
    assert.equal(hospital.directory.length, 300);
    assert.equal(new Date(hospital.startMs).toISOString(), '2026-10-05T04:00:00.000Z');
    assert.equal(hospital.endMs - hospital.startMs, 35 * DAY_MS + HOUR_MS);
  });

  it('contains the fall-back night', () => {
    const night = Date.parse('2026-11-01T06:00:00Z');
    assert.ok(night > hospital.startMs);
    assert.ok(night < hospital.endMs);
    assert.deepEqual(hospital.clock.fallBackDays().map((day) => hospital.clock.localDate(day)), ['2026-11-01']);
  });

  it('labels every incident once', () => {
    const incidents = hospital.labels.filter((label) => label.kind === 'incident');
    assert.deepEqual(incidents.map((label) => label.name).sort(), [
      'after-hours-record-access', 'break-glass-vip', 'credential-stuffing', 'mass-image-pull', 'password-spray', 'self-lookup', 'slow-exfiltration',
    ]);
    const expected: Record<string, string[]> = {
      'after-hours-record-access': ['after-hours-record-access'],
      'break-glass-vip': ['holter-break-glass-access'],
      'credential-stuffing': ['holter-failed-login-burst', 'holter-failed-login-burst-then-success'],
      'mass-image-pull': ['mass-image-pull'],
      'password-spray': ['holter-password-spray'],
      'self-lookup': ['holter-self-lookup'],
      'slow-exfiltration': ['daily-record-volume'],
    };
    for (const label of incidents) assert.deepEqual(label.expect, expected[label.name], label.name);
  });

  it('labels every trap with nothing expected', () => {
    const traps = hospital.labels.filter((label) => label.kind === 'trap');
    const names = new Set(traps.map((label) => label.name));
    assert.deepEqual([...names].sort(), ['daylight-saving-night', 'heavy-cath-lab-day', 'night-shift-work', 'on-call-nights', 'password-typo']);
    for (const trap of traps) assert.deepEqual(trap.expect, [], trap.name);
  });

  it('puts the daylight-saving trap on the 13-hour night', () => {
    const dst = hospital.labels.filter((label) => label.name === 'daylight-saving-night');
    assert.ok(dst.length >= 1);
    for (const label of dst) {
      assert.equal(new Date(label.startMs).toISOString(), '2026-10-31T23:00:00.000Z');
      assert.equal(label.endMs - label.startMs, 13 * HOUR_MS);
    }
  });

  it('links the self-lookup subject as an employee patient', () => {
    const label = hospital.labels.find((candidate) => candidate.name === 'self-lookup');
    assert.ok(label);
    const row = hospital.roster.find((entry) => entry.employee_user_id === label.userId);
    assert.ok(row, 'the self-lookup user is an employee patient');
    assert.ok(row.flags.includes('employee'));
  });

  it('flags vip, employee and deceased patients', () => {
    const count = (flag: string) => hospital.roster.filter((entry) => entry.flags.includes(flag as never)).length;
    assert.ok(hospital.roster.length >= 2000, `${hospital.roster.length} patients`);
    assert.ok(count('vip') >= 3, `${count('vip')} vip`);
    assert.ok(count('vip') <= 10, `${count('vip')} vip`);
    assert.ok(count('employee') >= 3, `${count('employee')} employees`);
    assert.ok(count('deceased') >= 20, `${count('deceased')} deceased`);
    assert.equal(new Set(hospital.roster.map((entry) => entry.patient_id)).size, hospital.roster.length);
  });
});

describe('directory and roster files', () => {
  const hospital = simulateHospital({ seed: 3, staff: 60, days: 28 });

  it('writes the directory columns', () => {
    const lines = hospital.directoryCsv().trimEnd().split('\n');
    assert.equal(lines[0], 'user_id,display_name,role,department,facility,time_zone,shift,accounts');
    assert.equal(lines.length, 61);
    for (const line of lines.slice(1)) {
      const fields = line.split(',');
      assert.equal(fields.length, 8, line);
      assert.match(fields[0] as string, /^u-\d+$/);
      assert.ok(['day', 'night', 'office', 'rotating'].includes(fields[6] as string), line);
      assert.match(fields[7] as string, /^ehr:[a-z0-9]+;okta:[a-z0-9]+@st-jude-heart\.example\.org;ad:STJUDE\\[a-z0-9]+(;pacs:[A-Z0-9]+)?(;ssh:[a-z0-9]+)?$/);
    }
  });

  it('keeps every account name unique', () => {
    const names = hospital.directory.flatMap((entry) => entry.accounts.map((account) => `${account.system}:${account.name}`));
    assert.equal(new Set(names).size, names.length);
  });

  it('writes the roster columns', () => {
    const lines = hospital.rosterCsv().trimEnd().split('\n');
    assert.equal(lines[0], 'patient_id,flags,employee_user_id');
    const users = new Set(hospital.directory.map((entry) => entry.user_id));
    for (const line of lines.slice(1)) {
      const [id, flags, employee] = line.split(',');
      assert.match(id as string, /^MRN\d{8}$/);
      for (const flag of (flags as string).split(';').filter(Boolean)) assert.ok(['vip', 'employee', 'deceased'].includes(flag), line);
      if (employee) assert.ok(users.has(employee), line);
      assert.equal((flags as string).includes('employee'), Boolean(employee), line);
    }
  });
});

describe('simulateHospital options', () => {
  const rejects = (options: Parameters<typeof simulateHospital>[0], pattern: RegExp) => {
    assert.throws(() => simulateHospital(options), (error: unknown) => {
      assert.ok(isHolterError(error));
      assert.equal(error.code, 'HOLTER_CONFIG_INVALID');
      assert.match(error.message, pattern);
      return true;
    });
  };

  it('rejects an unknown time zone', () => rejects({ timeZone: 'Europe/Atlantis' }, /Europe\/Atlantis/));
  it('rejects a malformed start date', () => rejects({ start: '05/10/2026' }, /05\/10\/2026/));
  it('rejects too few staff', () => rejects({ staff: 5 }, /staff must be an integer from \d+ to \d+, got 5/));
  it('rejects a fractional seed', () => rejects({ seed: 1.5 }, /seed .* got 1\.5/));
  it('rejects incidents without history', () => rejects({ days: 14 }, /at least 28 .* got 14/));

  it('runs short without incidents or traps', () => {
    const hospital = simulateHospital({ days: 3, staff: 40, incidents: false, traps: false });
    assert.equal(hospital.labels.length, 0);
    let count = 0;
    for (const record of hospital.records()) {
      assert.ok(record.eventTimeMs >= hospital.startMs);
      count++;
    }
    assert.ok(count > 1000, `${count} records`);
  });
});

describe('simulated activity', () => {
  let observed: Observed;
  before(() => {
    observed = observeSmallHospital();
  });

  it('delivers a few records late by seconds', () => {
    assert.ok(observed.lateCount > 0, 'some records arrive out of order');
    assert.ok(observed.lateCount < observed.records.length / 200, `${observed.lateCount} late of ${observed.records.length}`);
    assert.ok(observed.maxLatenessMs <= 20_000, `${observed.maxLatenessMs} ms late`);
  });

  it('maps every account to a directory user', () => {
    for (const record of observed.records) assert.ok(observed.userOfAccount.has(record.account), `${record.format} account ${record.account}`);
  });

  it('names only rostered patients', () => {
    const patients = new Set(observed.hospital.roster.map((entry) => entry.patient_id));
    for (const record of observed.records) if (record.patientId) assert.ok(patients.has(record.patientId), record.patientId);
  });

  it('gives every labelled user three weeks of history', () => {
    const firstSeen = new Map<string, number>();
    for (const record of observed.records) {
      const user = observed.userOfAccount.get(record.account) as string;
      if (!firstSeen.has(user)) firstSeen.set(user, record.timeMs);
    }
    for (const label of observed.hospital.labels.filter((candidate) => candidate.kind === 'incident')) {
      for (const user of label.targetUserIds ?? [label.userId]) {
        assert.ok(observed.people.has(user), `${label.name}: ${user} is in the directory`);
        const first = firstSeen.get(user);
        assert.ok(first !== undefined, `${label.name}: ${user} has activity`);
        assert.ok(label.startMs - first >= 21 * DAY_MS, `${label.name}: ${user} first seen ${(label.startMs - first) / DAY_MS} days before`);
      }
    }
  });

  it('fills every incident window with records', () => {
    for (const label of observed.hospital.labels) {
      const inside = observed.records.filter((record) => observed.userOfAccount.get(record.account) === label.userId && record.timeMs >= label.startMs && record.timeMs < label.endMs);
      assert.ok(inside.length > 0, `${label.name} has records`);
    }
  });

  it('keeps night nurses on nights', () => {
    let charts = 0;
    let atNight = 0;
    for (const record of observed.records) {
      if (record.kind !== 'chart') continue;
      const person = observed.people.get(observed.userOfAccount.get(record.account) as string);
      if (person?.role !== 'nurse' || person.shift !== 'night') continue;
      charts++;
      const hour = observed.hospital.clock.localHour(record.timeMs);
      if (hour >= 19 || hour < 7) atNight++;
    }
    assert.ok(charts > 1000, `${charts} night charts`);
    assert.ok(atNight / charts > 0.97, `${atNight} of ${charts} at night`);
  });

  it('works through the repeated hour', () => {
    const labels = observed.hospital.labels.filter((candidate) => candidate.name === 'daylight-saving-night');
    assert.ok(labels.length > 0);
    const night = observed.records.filter((record) => labels.some((label) => observed.userOfAccount.get(record.account) === label.userId && record.timeMs >= label.startMs && record.timeMs < label.endMs));
    const firstPass = night.filter((record) => record.timeText.startsWith('2026-11-01T01:') && record.timeText.endsWith('-04:00'));
    const secondPass = night.filter((record) => record.timeText.startsWith('2026-11-01T01:') && record.timeText.endsWith('-05:00'));
    assert.ok(firstPass.length > 0, 'records at 01:xx daylight time');
    assert.ok(secondPass.length > 0, 'records at 01:xx standard time');
    for (const record of night) {
      const hour = observed.hospital.clock.localHour(record.timeMs);
      assert.ok(hour >= 18 || hour < 8, `${record.timeText} is during the night shift`);
    }
  });

  it('keeps billing clerks to office hours', () => {
    for (const record of observed.records) {
      const user = observed.userOfAccount.get(record.account) as string;
      if (observed.people.get(user)?.role !== 'billing-clerk') continue;
      assert.notEqual(record.kind, 'image', 'billing opens no images');
      if (insideLabel(observed, record, user)) continue;
      const hour = observed.hospital.clock.localHour(record.timeMs);
      assert.ok(hour >= 7, `${user} at ${record.timeText}`);
      assert.ok(hour < 18, `${user} at ${record.timeText}`);
    }
  });

  it('sizes image volumes by role', () => {
    const perUserDay = new Map<string, number>();
    for (const record of observed.records) {
      if (record.kind !== 'image') continue;
      const user = observed.userOfAccount.get(record.account) as string;
      if (insideLabel(observed, record, user)) continue;
      const key = `${user}|${Math.floor((record.timeMs - observed.hospital.startMs) / DAY_MS)}`;
      perUserDay.set(key, (perUserDay.get(key) ?? 0) + 1);
    }
    const byRole = new Map<string, number[]>();
    for (const [key, count] of perUserDay) {
      const role = observed.people.get(key.split('|')[0] as string)?.role as string;
      byRole.set(role, [...(byRole.get(role) ?? []), count]);
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
    const cathLab = byRole.get('interventional-cardiologist') ?? [];
    assert.ok(median(cathLab) >= 8, `cath lab median ${median(cathLab)}`);
    assert.ok(median(cathLab) <= 30, `cath lab median ${median(cathLab)}`);
    assert.ok(Math.max(...cathLab) < 80, `cath lab max ${Math.max(...cathLab)}`);
    assert.ok(median(byRole.get('radiographer') ?? []) >= 10, 'radiographers read more than ten a day');
    assert.equal(byRole.get('billing-clerk'), undefined);
  });

  it('makes the heavy day heavy but spread', () => {
    const label = observed.hospital.labels.find((candidate) => candidate.name === 'heavy-cath-lab-day');
    assert.ok(label);
    const images = observed.records.filter((record) => record.kind === 'image' && observed.userOfAccount.get(record.account) === label.userId && record.timeMs >= label.startMs && record.timeMs < label.endMs);
    assert.ok(images.length >= 30, `${images.length} studies`);
    assert.ok(images.length <= 80, `${images.length} studies`);
    const maxPerHour = Math.max(...images.map((image) => images.filter((other) => other.timeMs >= image.timeMs && other.timeMs < image.timeMs + HOUR_MS).length));
    assert.ok(maxPerHour < 25, `${maxPerHour} studies in one hour`);
  });

  it('pulls hundreds of studies in the incident hour', () => {
    const label = observed.hospital.labels.find((candidate) => candidate.name === 'mass-image-pull');
    assert.ok(label);
    const images = observed.records.filter((record) => record.kind === 'image' && observed.userOfAccount.get(record.account) === label.userId && record.timeMs >= label.startMs && record.timeMs < label.endMs);
    assert.ok(images.length >= 300, `${images.length} studies`);
  });

  it('opens after-hours charts between two and three', () => {
    const label = observed.hospital.labels.find((candidate) => candidate.name === 'after-hours-record-access');
    assert.ok(label);
    const charts = observed.records.filter((record) => record.kind === 'chart' && observed.userOfAccount.get(record.account) === label.userId && record.timeMs >= label.startMs && record.timeMs < label.endMs);
    const patients = new Set(charts.map((record) => record.patientId));
    assert.ok(patients.size >= 24, `${patients.size} patients`);
    for (const record of charts) assert.equal(observed.hospital.clock.localHour(record.timeMs), 2, record.timeText);
    assert.equal(observed.hospital.clock.localHour(label.startMs), 1, 'the label starts with the 01:58 sign-in');
  });
});

describe('no unlabelled detections', () => {
  let observed: Observed;
  before(() => {
    observed = observeSmallHospital();
  });

  it('breaks the glass only in its incident', () => {
    const label = observed.hospital.labels.find((candidate) => candidate.name === 'break-glass-vip');
    assert.ok(label);
    const breaks = observed.records.filter((record) => record.kind === 'break-glass');
    assert.equal(breaks.length, 1);
    const only = breaks[0];
    assert.ok(only);
    assert.ok(only.timeMs >= label.startMs);
    assert.ok(only.timeMs < label.endMs);
    const vip = new Set(observed.hospital.roster.filter((entry) => entry.flags.includes('vip')).map((entry) => entry.patient_id));
    assert.ok(vip.has(only.patientId as string), 'the override is on a VIP patient');
  });

  it('opens own charts only in the self-lookup', () => {
    const employeeOf = new Map(observed.hospital.roster.filter((entry) => entry.employee_user_id).map((entry) => [entry.patient_id, entry.employee_user_id]));
    const label = observed.hospital.labels.find((candidate) => candidate.name === 'self-lookup');
    assert.ok(label);
    let selfAccess = 0;
    for (const record of observed.records) {
      if (!record.patientId || employeeOf.get(record.patientId) !== observed.userOfAccount.get(record.account)) continue;
      selfAccess++;
      assert.ok(record.timeMs >= label.startMs, `self access at ${record.timeText}`);
      assert.ok(record.timeMs < label.endMs, `self access at ${record.timeText}`);
    }
    assert.ok(selfAccess >= 2, `${selfAccess} self-access records`);
  });

  it('never bursts failed logins outside labels', () => {
    const failures = new Map<string, number[]>();
    for (const record of observed.records) {
      if (record.kind !== 'login-failure') continue;
      const user = observed.userOfAccount.get(record.account) as string;
      if (insideLabel(observed, record, user)) continue;
      failures.set(user, [...(failures.get(user) ?? []), record.timeMs]);
    }
    assert.ok(failures.size > 5, 'ordinary typos happen');
    for (const [user, times] of failures) {
      for (const time of times) {
        const burst = times.filter((other) => other >= time && other < time + 10 * 60_000).length;
        assert.ok(burst <= 2, `${user} has ${burst} failures in ten minutes`);
      }
    }
  });

  it('never sprays from one address outside labels', () => {
    const byAddress = new Map<string, Array<{ time: number; user: string }>>();
    for (const record of observed.records) {
      if (record.kind !== 'login-failure') continue;
      const user = observed.userOfAccount.get(record.account) as string;
      if (insideLabel(observed, record, user)) continue;
      byAddress.set(record.ip, [...(byAddress.get(record.ip) ?? []), { time: record.timeMs, user }]);
    }
    for (const [address, failures] of byAddress) {
      for (const failure of failures) {
        const users = new Set(failures.filter((other) => other.time >= failure.time && other.time < failure.time + 10 * 60_000).map((other) => other.user));
        assert.ok(users.size < 4, `${address} fails for ${users.size} users in ten minutes`);
      }
    }
  });

  it('sprays twelve accounts from one address', () => {
    const label = observed.hospital.labels.find((candidate) => candidate.name === 'password-spray');
    assert.ok(label?.targetUserIds);
    const sprayed = observed.records.filter((record) => record.kind === 'login-failure' && record.ip === label.sourceIp);
    assert.equal(new Set(sprayed.map((record) => observed.userOfAccount.get(record.account))).size, 12);
    assert.ok(label.endMs - label.startMs <= 10 * 60_000);
    assert.equal(observed.records.filter((record) => record.ip === label.sourceIp && record.kind === 'login-success').length, 0);
  });

  it('stuffs credentials then succeeds', () => {
    const label = observed.hospital.labels.find((candidate) => candidate.name === 'credential-stuffing');
    assert.ok(label);
    const attempts = observed.records.filter((record) => record.ip === label.sourceIp && record.kind.startsWith('login'));
    const failures = attempts.filter((record) => record.kind === 'login-failure');
    assert.ok(failures.length >= 15, `${failures.length} failures`);
    assert.equal(attempts.at(-1)?.kind, 'login-success');
    assert.ok((attempts.at(-1)?.timeMs ?? 0) - (failures[0]?.timeMs ?? 0) <= 5 * 60_000);
  });

  it('types the trap password wrong once', () => {
    const label = observed.hospital.labels.find((candidate) => candidate.name === 'password-typo');
    assert.ok(label);
    const logins = observed.records.filter((record) => record.kind.startsWith('login') && observed.userOfAccount.get(record.account) === label.userId && record.timeMs >= label.startMs && record.timeMs < label.endMs);
    assert.deepEqual(logins.map((record) => record.kind), ['login-failure', 'login-success']);
    assert.equal(logins[0]?.ip, logins[1]?.ip);
  });
});

describe('other hospitals', () => {
  const roleOf = (hospital: SimulatedHospital, userId: string) => hospital.directory.find((entry) => entry.user_id === userId);
  const required: Record<string, (entry: { role: string; shift: string }) => boolean> = {
    'credential-stuffing': (entry) => entry.role === 'cardiologist',
    'break-glass-vip': (entry) => entry.role === 'cardiologist',
    'mass-image-pull': (entry) => entry.role === 'radiographer' && entry.shift === 'day',
    'after-hours-record-access': (entry) => entry.role === 'billing-clerk',
    'self-lookup': (entry) => entry.role === 'nurse' && entry.shift === 'day',
    'night-shift-work': (entry) => entry.role === 'nurse' && entry.shift === 'night',
    'heavy-cath-lab-day': (entry) => entry.role === 'interventional-cardiologist',
    'daylight-saving-night': (entry) => entry.shift === 'night',
    'slow-exfiltration': (entry) => entry.role === 'billing-clerk',
    'on-call-nights': (entry) => entry.role === 'interventional-cardiologist',
  };

  for (const options of [{ seed: 1, staff: 30 }, { seed: 99, staff: 31 }, { seed: 5, staff: 120 }]) {
    it(`casts labels right with ${options.staff} staff`, () => {
      const hospital = simulateHospital(options);
      const labelled = new Set<string>();
      const onCall = new Set<string>();
      for (const label of hospital.labels) {
        const entry = roleOf(hospital, label.userId);
        assert.ok(entry, `${label.name}: ${label.userId} is in the directory`);
        const check = required[label.name];
        if (check) assert.ok(check(entry), `${label.name}: ${entry.role} on ${entry.shift}`);
        if (label.name === 'daylight-saving-night') continue;
        // One person's call nights are labelled one by one.
        if (label.name === 'on-call-nights' && onCall.has(label.userId)) continue;
        if (label.name === 'on-call-nights') onCall.add(label.userId);
        for (const user of label.targetUserIds ?? [label.userId]) {
          assert.ok(!labelled.has(user), `${user} is in two labels`);
          labelled.add(user);
        }
      }
      assert.equal(new Set(hospital.labels.map((label) => label.name)).size, 12);
    });
  }

  it('skips the daylight-saving trap without a change', () => {
    const hospital = simulateHospital({ timeZone: 'Asia/Kolkata', staff: 30 });
    assert.deepEqual(hospital.clock.fallBackDays(), []);
    assert.equal(hospital.labels.filter((label) => label.name === 'daylight-saving-night').length, 0);
  });

  it('finds a southern fall-back night', () => {
    const hospital = simulateHospital({ timeZone: 'Australia/Sydney', start: '2026-03-20', days: 28, staff: 30 });
    const dst = hospital.labels.filter((label) => label.name === 'daylight-saving-night');
    assert.ok(dst.length >= 1);
    for (const label of dst) assert.equal(label.endMs - label.startMs, 13 * HOUR_MS);
  });
});
